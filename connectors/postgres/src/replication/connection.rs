//! A replication session and the commands it runs before streaming.
//!
//! Replication commands (`IDENTIFY_SYSTEM`, `CREATE_REPLICATION_SLOT`, ...) go through the
//! simple query protocol and answer with ordinary row sets, so one reader serves them all;
//! `START_REPLICATION` switches the session to COPY BOTH and hands it to
//! [`ReplicationStream`].

use postgres_protocol::message::frontend;
use tributary_core::Lsn;

use super::startup::{encode_error, startup, unexpected, version_num};
use super::stream::ReplicationStream;
use super::wire::{Wire, data_row, log_notice};
use super::{CreatedSlot, IdentifySystem, ReplicationError, StatusConfig};
use crate::conn::transport::{connect_transport, with_connect_timeout};
use crate::conn::{ConnectParams, initial_statement_hint, reassert_settings};

/// An open `replication=database` session.
pub struct ReplicationConnection {
    pub(super) wire: Wire,
    server_version: String,
    server_version_num: u32,
    backend_pid: i32,
}

impl std::fmt::Debug for ReplicationConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplicationConnection")
            .field("server_version", &self.server_version)
            .field("backend_pid", &self.backend_pid)
            .field("tls", &self.wire.is_tls())
            .finish()
    }
}

impl ReplicationConnection {
    /// Connects, negotiates TLS per `params.sslmode` and authenticates, all within
    /// `params.connect_timeout`.
    pub async fn connect(params: &ConnectParams) -> Result<Self, ReplicationError> {
        Self::open(params, true).await
    }

    /// Opens an ordinary (non-replication) session on the same wire code, for
    /// [`ReplicationConnection::copy_out`]: tokio-postgres hands COPY data over one channel
    /// message per row, which costs more than the row itself in a bulk snapshot read.
    pub async fn connect_sql(params: &ConnectParams) -> Result<Self, ReplicationError> {
        let mut connection = Self::open(params, false).await?;
        if !params.initial_statements.is_empty() {
            for statement in &params.initial_statements {
                connection
                    .query_with_hint(statement, |_, _| Some(initial_statement_hint(statement)))
                    .await?;
            }
            connection.simple_query(&reassert_settings()).await?;
        }
        Ok(connection)
    }

    async fn open(params: &ConnectParams, replication: bool) -> Result<Self, ReplicationError> {
        with_connect_timeout(params, async {
            let mut wire = Wire::new(connect_transport(params).await?);
            let info = startup(&mut wire, params, replication).await?;
            let server_version_num = version_num(&info.server_version).unwrap_or_else(|| {
                tracing::warn!(server_version = %info.server_version, "cannot parse server version");
                0
            });
            tracing::debug!(
                addr = %params.addr(),
                server_version = %info.server_version,
                backend_pid = info.backend_pid,
                tls = wire.is_tls(),
                "replication connection established"
            );
            Ok(ReplicationConnection {
                wire,
                server_version: info.server_version,
                server_version_num,
                backend_pid: info.backend_pid,
            })
        })
        .await
    }

    /// The server version as a number, e.g. `150004` for 15.4 (0 if unparseable).
    pub fn server_version_num(&self) -> u32 {
        self.server_version_num
    }

    /// The server's `server_version` parameter as reported, e.g. `15.4 (Debian 15.4-1)`.
    pub fn server_version(&self) -> &str {
        &self.server_version
    }

    /// The walsender's process id (as in `pg_stat_replication.pid`).
    pub fn backend_pid(&self) -> i32 {
        self.backend_pid
    }

    /// Whether the session runs over TLS.
    pub fn is_tls(&self) -> bool {
        self.wire.is_tls()
    }

    /// `IDENTIFY_SYSTEM`: system id, timeline, current WAL position, database.
    pub async fn identify_system(&mut self) -> Result<IdentifySystem, ReplicationError> {
        let rows = self.simple_query("IDENTIFY_SYSTEM").await?;
        let row = single_row(&rows, 4, "IDENTIFY_SYSTEM")?;
        Ok(IdentifySystem {
            systemid: required(&row[0], "IDENTIFY_SYSTEM systemid")?.to_string(),
            timeline: parse(&row[1], "IDENTIFY_SYSTEM timeline")?,
            xlogpos: parse(&row[2], "IDENTIFY_SYSTEM xlogpos")?,
            dbname: row[3].clone(),
        })
    }

    /// Creates a logical slot with the `pgoutput` plugin.
    ///
    /// With `export_snapshot`, the answer names a snapshot that sees exactly the data
    /// before the slot's consistent point: import it elsewhere with
    /// `SET TRANSACTION SNAPSHOT '...'` inside a `REPEATABLE READ` transaction. **The
    /// snapshot stays valid only until this connection runs its next command** (or
    /// closes), so import it on every snapshot connection first, then go on here.
    pub async fn create_logical_slot(
        &mut self,
        name: &str,
        temporary: bool,
        export_snapshot: bool,
    ) -> Result<CreatedSlot, ReplicationError> {
        let command =
            create_slot_command(name, temporary, export_snapshot, self.server_version_num);
        let rows = self
            .query_with_hint(&command, |code, message| {
                replication_hint(code, message, name)
            })
            .await?;
        let row = single_row(&rows, 4, "CREATE_REPLICATION_SLOT")?;
        Ok(CreatedSlot {
            slot_name: required(&row[0], "slot_name")?.to_string(),
            consistent_point: parse(&row[1], "consistent_point")?,
            snapshot_name: row[2].clone(),
            output_plugin: row[3].clone().unwrap_or_default(),
        })
    }

    /// Runs a command (a replication command such as `DROP_REPLICATION_SLOT "s"` or
    /// `SHOW wal_level`, or SQL) and returns all rows as text; `None` is NULL.
    pub async fn simple_query(
        &mut self,
        sql: &str,
    ) -> Result<Vec<Vec<Option<String>>>, ReplicationError> {
        self.query_with_hint(sql, |_, _| None).await
    }

    /// `START_REPLICATION SLOT "slot" LOGICAL start (options)` and switches to streaming.
    /// Option values are sent as SQL literals, e.g.
    /// `[("proto_version", "1".into()), ("publication_names", "\"p\"".into())]`.
    pub async fn start_replication(
        mut self,
        slot: &str,
        start: Lsn,
        options: &[(&str, String)],
        status: StatusConfig,
    ) -> Result<ReplicationStream, ReplicationError> {
        let command = start_replication_command(slot, start, options);
        frontend::query(&command, self.wire.out()).map_err(encode_error)?;
        self.wire.flush().await?;
        loop {
            let frame = self.wire.read_frame().await?;
            match frame.tag {
                b'W' => {
                    tracing::debug!(%slot, %start, "replication started");
                    return Ok(ReplicationStream::new(self, slot, status));
                }
                b'E' => {
                    let err = ReplicationError::from_error_fields(&frame.body)
                        .or_hint(|code, message| replication_hint(code, message, slot));
                    self.drain_until_ready().await;
                    return Err(err);
                }
                b'N' => log_notice(&frame.body),
                b'S' => {}
                other => return Err(unexpected(other, "in answer to START_REPLICATION")),
            }
        }
    }

    /// Runs `COPY … TO STDOUT` and returns a reader of its data messages.
    pub async fn copy_out(&mut self, sql: &str) -> Result<CopyOut<'_>, ReplicationError> {
        frontend::query(sql, self.wire.out()).map_err(encode_error)?;
        self.wire.flush().await?;
        loop {
            let frame = self.wire.read_frame().await?;
            match frame.tag {
                b'H' => {
                    return Ok(CopyOut {
                        conn: self,
                        done: false,
                    });
                }
                b'E' => {
                    let err = ReplicationError::from_error_fields(&frame.body);
                    self.drain_until_ready().await;
                    return Err(err);
                }
                b'N' => log_notice(&frame.body),
                b'S' => {}
                other => return Err(unexpected(other, "in answer to COPY TO STDOUT")),
            }
        }
    }

    /// Says goodbye to the server and closes the socket.
    pub async fn close(mut self) -> Result<(), ReplicationError> {
        frontend::terminate(self.wire.out());
        self.wire.flush().await
    }

    async fn query_with_hint(
        &mut self,
        sql: &str,
        hint: impl Fn(&str, &str) -> Option<String>,
    ) -> Result<Vec<Vec<Option<String>>>, ReplicationError> {
        frontend::query(sql, self.wire.out()).map_err(encode_error)?;
        self.wire.flush().await?;
        let mut rows = Vec::new();
        let mut error = None;
        loop {
            let frame = self.wire.read_frame().await?;
            match frame.tag {
                b'D' => rows.push(data_row(&frame.body)?),
                b'T' | b'C' | b'I' | b'S' | b'd' | b'c' => {}
                b'N' => log_notice(&frame.body),
                b'E' => {
                    let err = ReplicationError::from_error_fields(&frame.body).or_hint(&hint);
                    error.get_or_insert(err);
                }
                // COPY cannot be driven from here: refuse it and let the server finish
                b'G' => {
                    frontend::copy_fail("COPY FROM STDIN is not supported here", self.wire.out())
                        .map_err(encode_error)?;
                    self.wire.flush().await?;
                }
                b'H' | b'W' => {
                    if frame.tag == b'W' {
                        frontend::copy_done(self.wire.out());
                        self.wire.flush().await?;
                    }
                    error.get_or_insert(ReplicationError::protocol(
                        "simple_query cannot run COPY or START_REPLICATION; use start_replication",
                    ));
                }
                b'Z' => break,
                other => return Err(unexpected(other, "in a query result")),
            }
        }
        match error {
            Some(err) => Err(err),
            None => Ok(rows),
        }
    }

    /// After an error, reads up to `ReadyForQuery` so the session can go on.
    pub(super) async fn drain_until_ready(&mut self) {
        while let Ok(frame) = self.wire.read_frame().await {
            if frame.tag == b'Z' {
                break;
            }
        }
    }
}

/// The data of a running `COPY … TO STDOUT`, read straight from the connection's buffer.
pub struct CopyOut<'a> {
    conn: &'a mut ReplicationConnection,
    done: bool,
}

impl CopyOut<'_> {
    /// The next CopyData payload (for text COPY, one row with its newline), or `None`
    /// once the command completed and the session is ready again.
    pub async fn next(&mut self) -> Result<Option<bytes::Bytes>, ReplicationError> {
        if self.done {
            return Ok(None);
        }
        let mut error = None;
        loop {
            let frame = self.conn.wire.read_frame().await?;
            match frame.tag {
                b'd' => return Ok(Some(frame.body)),
                b'c' | b'C' | b'N' | b'S' => {}
                b'E' => {
                    error.get_or_insert(ReplicationError::from_error_fields(&frame.body));
                }
                b'Z' => {
                    self.done = true;
                    return match error {
                        Some(e) => Err(e),
                        None => Ok(None),
                    };
                }
                other => return Err(unexpected(other, "in COPY data")),
            }
        }
    }
}

/// Our hints for errors of slot and streaming commands, when the server gives none.
pub(super) fn replication_hint(code: &str, message: &str, slot: &str) -> Option<String> {
    let hint = match code {
        "55006" => format!(
            "another connection is using replication slot \"{slot}\" (see \
             pg_replication_slots.active_pid); stop it, or wait until the server drops it \
             after wal_sender_timeout"
        ),
        "42704" if message.contains("publication") => {
            "create the publication, or check publication.name".to_string()
        }
        "42704" => format!("create replication slot \"{slot}\" first, or check slot.name"),
        "42710" => format!(
            "replication slot \"{slot}\" already exists; reuse it, or drop it if it is stale"
        ),
        "53400" => "all replication slots are in use; raise max_replication_slots or drop \
                    unused slots"
            .to_string(),
        "55000" if message.contains("wal_level") => {
            "set wal_level = logical in postgresql.conf and restart the server".to_string()
        }
        "42501" => {
            "the user needs the REPLICATION attribute (ALTER ROLE ... REPLICATION)".to_string()
        }
        _ => return None,
    };
    Some(hint)
}

fn create_slot_command(name: &str, temporary: bool, export_snapshot: bool, version: u32) -> String {
    let temporary = if temporary { " TEMPORARY" } else { "" };
    let name = quote_ident(name);
    if version >= 150000 {
        let snapshot = if export_snapshot { "export" } else { "nothing" };
        format!(
            "CREATE_REPLICATION_SLOT {name}{temporary} LOGICAL pgoutput (SNAPSHOT '{snapshot}')"
        )
    } else {
        let snapshot = if export_snapshot {
            "EXPORT_SNAPSHOT"
        } else {
            "NOEXPORT_SNAPSHOT"
        };
        format!("CREATE_REPLICATION_SLOT {name}{temporary} LOGICAL pgoutput {snapshot}")
    }
}

fn start_replication_command(slot: &str, start: Lsn, options: &[(&str, String)]) -> String {
    let mut command = format!(
        "START_REPLICATION SLOT {} LOGICAL {start}",
        quote_ident(slot)
    );
    if !options.is_empty() {
        let options: Vec<String> = options
            .iter()
            .map(|(name, value)| format!("{} {}", quote_ident(name), quote_literal(value)))
            .collect();
        command.push_str(" (");
        command.push_str(&options.join(", "));
        command.push(')');
    }
    command
}

/// `"name"`, with inner double quotes doubled.
pub(crate) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `'value'`, with inner single quotes doubled (the replication grammar, like SQL with
/// `standard_conforming_strings`, takes backslashes literally).
pub(crate) fn quote_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

fn single_row<'a>(
    rows: &'a [Vec<Option<String>>],
    columns: usize,
    what: &str,
) -> Result<&'a [Option<String>], ReplicationError> {
    match rows {
        [row] if row.len() >= columns => Ok(row),
        _ => Err(ReplicationError::protocol(format!(
            "{what} answered with {} rows of {:?} columns, expected one row of {columns}",
            rows.len(),
            rows.first().map(Vec::len)
        ))),
    }
}

fn required<'a>(value: &'a Option<String>, what: &str) -> Result<&'a str, ReplicationError> {
    value
        .as_deref()
        .ok_or_else(|| ReplicationError::protocol(format!("{what} is NULL")))
}

fn parse<T: std::str::FromStr>(value: &Option<String>, what: &str) -> Result<T, ReplicationError> {
    let text = required(value, what)?;
    text.parse()
        .map_err(|_| ReplicationError::protocol(format!("{what} {text:?} cannot be parsed")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_creation_uses_the_syntax_of_the_server_version() {
        assert_eq!(
            create_slot_command("s1", true, true, 150004),
            "CREATE_REPLICATION_SLOT \"s1\" TEMPORARY LOGICAL pgoutput (SNAPSHOT 'export')"
        );
        assert_eq!(
            create_slot_command("s1", false, false, 160000),
            "CREATE_REPLICATION_SLOT \"s1\" LOGICAL pgoutput (SNAPSHOT 'nothing')"
        );
        assert_eq!(
            create_slot_command("s1", false, true, 140010),
            "CREATE_REPLICATION_SLOT \"s1\" LOGICAL pgoutput EXPORT_SNAPSHOT"
        );
    }

    #[test]
    fn start_replication_quotes_names_and_values() {
        let options = [
            ("proto_version", "1".to_string()),
            ("publication_names", "\"p\",\"it's\"".to_string()),
        ];
        assert_eq!(
            start_replication_command("slot", Lsn(0x16_B374_D848), &options),
            "START_REPLICATION SLOT \"slot\" LOGICAL 16/B374D848 (\"proto_version\" '1', \
             \"publication_names\" '\"p\",\"it''s\"')"
        );
        assert_eq!(
            start_replication_command("we\"ird", Lsn::ZERO, &[]),
            "START_REPLICATION SLOT \"we\"\"ird\" LOGICAL 0/0"
        );
    }

    #[test]
    fn slot_errors_get_hints_naming_the_slot() {
        let hint = replication_hint("55006", "replication slot \"s\" is active", "s").unwrap();
        assert!(
            hint.contains("\"s\"") && hint.contains("active_pid"),
            "{hint}"
        );
        let hint = replication_hint("42704", "publication \"p\" does not exist", "s").unwrap();
        assert!(hint.contains("publication.name"), "{hint}");
        assert!(replication_hint("55000", "something else", "s").is_none());
    }

    #[test]
    fn malformed_answers_are_protocol_violations() {
        let rows = vec![vec![Some("1".to_string())]];
        assert!(single_row(&rows, 4, "IDENTIFY_SYSTEM").is_err());
        assert!(parse::<Lsn>(&Some("zz".into()), "xlogpos").is_err());
        assert!(required(&None, "systemid").is_err());
    }
}
