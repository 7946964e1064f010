//! The Avro binary encoder: change events, keys, transaction metadata and heartbeats
//! written straight into a `Vec<u8>`, in the layout of the schemas [`crate::schema`]
//! derives.
//!
//! Per-event schema resolution is the known cost of Avro encoding (see DESIGN.md), so there
//! is none: the writer walks the Connect schema next to the value (a struct is positional,
//! so a row is one pass over two slices), the envelope and `source` are written by hand
//! in their fixed layout, and nothing is allocated per event apart from what `out` grows
//! by. An update of a 10-column row (both images, transaction block, framing) takes about
//! 0.3 µs in a release build on a busy 2-core machine; the ignored test `encode_speed`
//! shows it.
//!
//! Binary layout, in short: `int`/`long` are zigzag varints; `string`/`bytes` a length
//! then the bytes; `float`/`double` little-endian; a union its branch index then the
//! value (`["null", T]`: 0 for null, 1 for a value); arrays and maps one block (count,
//! items) then a 0 terminator; records their fields in order, nothing else.
//!
//! # Nulls in required fields
//! With the default replica identity, Postgres sends only the key columns of a deleted or
//! re-keyed row, so the `before` image holds NULL in NOT NULL columns; an unchanged TOAST
//! value without a placeholder and a numeric `NaN` in precise mode are NULL too. Debezium
//! keeps these fields required in its schemas and writes a fallback value instead (its
//! `JdbcValueConverters.convertValue`: the column's default when it knows one, else `0`,
//! `""`, epoch, a zero decimal…). We do the same — the schema stays Debezium's, so
//! registries and readers see exactly its subjects — except that we do not know column
//! defaults and always write the type's fallback. [`write_row`] (and so
//! [`write_envelope`]) does this; [`write_value`], used for keys, refuses such a null.
//!
//! (One case differs: Debezium stops the connector on a numeric `NaN` it cannot write as a
//! `Decimal`; the Postgres mapper hands us NULL for it and a NOT NULL column then gets 0.)

mod value;
mod wire;

#[cfg(test)]
mod tests;

use std::fmt;

use tributary_core::{ChangeEvent, Lsn, MessageEvent, Schema, SourceInfo, Value};

use value::Nulls;
use wire::{BRANCH_0, BRANCH_1};

/// Confluent's wire format: magic byte 0, then the schema id, big-endian.
pub fn write_confluent_header(out: &mut Vec<u8>, schema_id: u32) {
    out.push(0);
    out.extend_from_slice(&schema_id.to_be_bytes());
}

/// A value that does not fit its schema. Names the field path (`after.balance`,
/// `tags[2]`) so the offending column can be found.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodeError {
    /// Path segments, innermost first (they are collected while unwinding).
    path: Vec<String>,
    problem: Problem,
}

#[derive(Debug, Clone, PartialEq)]
enum Problem {
    Null {
        expected: String,
    },
    Mismatch {
        expected: String,
        got: &'static str,
    },
    OutOfRange {
        expected: String,
        value: i64,
    },
    Arity {
        expected: usize,
        got: usize,
    },
    Status {
        got: String,
    },
    /// Another converter's refusal, as it words it.
    Other(String),
}

impl EncodeError {
    fn new(problem: Problem) -> Self {
        EncodeError {
            path: Vec::new(),
            problem,
        }
    }

    /// A converter other than Avro could not write the value.
    pub fn other(message: impl Into<String>) -> Self {
        EncodeError::new(Problem::Other(message.into()))
    }

    fn within(mut self, segment: impl Into<String>) -> Self {
        self.path.push(segment.into());
        self
    }

    /// The path of the offending value, outermost first (`after.tags[2]`); empty for the
    /// value itself.
    pub fn path(&self) -> String {
        let mut p = String::new();
        for segment in self.path.iter().rev() {
            if !p.is_empty() && !segment.starts_with('[') {
                p.push('.');
            }
            p.push_str(segment);
        }
        p
    }
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path();
        let at = if path.is_empty() { "value" } else { &path };
        match &self.problem {
            Problem::Null { expected } => {
                write!(f, "cannot encode {at}: null for required {expected}")?
            }
            Problem::Mismatch { expected, got } => {
                write!(f, "cannot encode {at}: expected {expected}, got {got}")?
            }
            Problem::OutOfRange { expected, value } => {
                write!(f, "cannot encode {at}: {value} does not fit {expected}")?
            }
            Problem::Arity { expected, got } => write!(
                f,
                "cannot encode {at}: the struct has {expected} fields but the value has {got}"
            )?,
            Problem::Other(message) => return write!(f, "cannot convert {at}: {message}"),
            Problem::Status { got } => {
                return write!(
                    f,
                    "cannot encode transaction metadata: status {got:?} is neither BEGIN nor END"
                );
            }
        }
        write!(
            f,
            "\nHINT: the value does not match its schema; this is a bug in the type mapping, please report it"
        )
    }
}

impl std::error::Error for EncodeError {}

/// Writes a value that conforms to `schema` (null only where optional), e.g. a key.
pub fn write_value(out: &mut Vec<u8>, schema: &Schema, value: &Value) -> Result<(), EncodeError> {
    value::write(out, schema, value, Nulls::Reject)
}

/// Writes a row image (`before`/`after`): like [`write_value`], but a null in a required
/// field becomes the type's fallback value, as Debezium writes it (see the module docs).
pub fn write_row(out: &mut Vec<u8>, schema: &Schema, value: &Value) -> Result<(), EncodeError> {
    value::write(out, schema, value, Nulls::Fallback)
}

/// The `transaction` block of an event (present when `provide.transaction.metadata` is on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxBlock<'a> {
    /// Debezium's Postgres transaction id: `<xid>:<commit LSN>`.
    pub id: &'a str,
    /// Position of the event in its transaction, from 1.
    pub total_order: i64,
    /// Position of the event among its table's events in the transaction, from 1.
    pub data_collection_order: i64,
}

/// Writes the value of a change event: `<topic>.Envelope`, in the layout of
/// `tributary_core::envelope::envelope_schema` and with the values `json.rs` writes.
pub fn write_envelope(
    out: &mut Vec<u8>,
    event: &ChangeEvent,
    tx: Option<&TxBlock<'_>>,
) -> Result<(), EncodeError> {
    let row = &event.schemas.value;
    for (name, image) in [("before", &event.before), ("after", &event.after)] {
        match image {
            Some(v) if !v.is_null() => {
                out.push(BRANCH_1);
                write_row(out, row, v).map_err(|e| e.within(name))?;
            }
            _ => out.push(BRANCH_0),
        }
    }
    write_source(out, &event.source);
    write_tx_block(out, tx);
    wire::string(out, event.op.code());
    wire::opt_long(out, Some(event.ts_us.div_euclid(1000)));
    wire::opt_long(out, Some(event.ts_us));
    wire::opt_long(out, Some(event.ts_us.saturating_mul(1000)));
    Ok(())
}

/// Writes the value of a logical decoding message: `MessageValue`, in the layout of
/// `crate::schema::message_value_schema`.
pub fn write_message(
    out: &mut Vec<u8>,
    message: &MessageEvent,
    tx: Option<&TxBlock<'_>>,
) -> Result<(), EncodeError> {
    wire::string(out, "m");
    wire::opt_long(out, Some(message.ts_us.div_euclid(1000)));
    write_source(out, &message.source);
    write_tx_block(out, tx);
    // The `message` block (a required struct): its optional prefix, then its optional
    // content (bytes, or a string).
    out.push(BRANCH_1);
    wire::string(out, &message.prefix);
    match &message.content {
        Value::Bytes(b) => {
            out.push(BRANCH_1);
            wire::bytes(out, b);
        }
        Value::String(s) => {
            out.push(BRANCH_1);
            wire::string(out, s);
        }
        Value::Null => out.push(BRANCH_0),
        _ => {
            return Err(EncodeError::new(Problem::Mismatch {
                expected: "bytes or string".into(),
                got: "another value",
            })
            .within("content")
            .within("message"));
        }
    }
    Ok(())
}

fn write_tx_block(out: &mut Vec<u8>, tx: Option<&TxBlock<'_>>) {
    match tx {
        Some(tx) => {
            out.push(BRANCH_1);
            wire::string(out, tx.id);
            wire::long(out, tx.total_order);
            wire::long(out, tx.data_collection_order);
        }
        None => out.push(BRANCH_0),
    }
}

/// `io.debezium.connector.postgresql.Source`, field by field as
/// `tributary_core::envelope::source_schema` orders them.
fn write_source(out: &mut Vec<u8>, s: &SourceInfo) {
    wire::string(out, tributary_core::VERSION);
    wire::string(out, "postgresql");
    wire::string(out, &s.name);
    wire::long(out, s.ts_us.div_euclid(1000));
    // `snapshot` has a default, so its union is ["string", "null"]: the value is branch 0.
    out.push(BRANCH_0);
    wire::string(out, s.snapshot.as_str());
    wire::string(out, &s.db);
    write_sequence(out, s.sequence);
    wire::opt_long(out, Some(s.ts_us));
    wire::opt_long(out, Some(s.ts_us.saturating_mul(1000)));
    wire::string(out, &s.schema);
    wire::string(out, &s.table);
    wire::opt_long(out, s.tx_id);
    wire::opt_long(out, s.lsn.map(|l| l.0 as i64));
    wire::opt_long(out, s.xmin);
    // `origin` and `origin_lsn` (Debezium 3.5+): transactions replicated into this server
    // through a replication origin; not read.
    out.push(BRANCH_0);
    out.push(BRANCH_0);
}

/// `SourceInfo::sequence_string`, formatted on the stack.
fn write_sequence(out: &mut Vec<u8>, sequence: Option<(Option<Lsn>, Option<Lsn>)>) {
    let Some((last, this)) = sequence else {
        out.push(BRANCH_0);
        return;
    };
    out.push(BRANCH_1);
    // At most `["18446744073709551615","18446744073709551615"]`: 47 bytes.
    let mut buf = [0u8; 48];
    let mut len = 0;
    let mut put = |bytes: &[u8]| {
        buf[len..len + bytes.len()].copy_from_slice(bytes);
        len += bytes.len();
    };
    put(b"[");
    put_lsn(&mut put, last);
    put(b",");
    put_lsn(&mut put, this);
    put(b"]");
    wire::bytes(out, &buf[..len]);
}

/// `"<decimal>"` or `null`, without going through `fmt`.
fn put_lsn(put: &mut impl FnMut(&[u8]), lsn: Option<Lsn>) {
    let Some(Lsn(mut n)) = lsn else {
        put(b"null");
        return;
    };
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    put(b"\"");
    put(&digits[i..]);
    put(b"\"");
}

/// Writes a BEGIN or END record of the transaction metadata topic: the key
/// (`TransactionMetadataKey`) into `key` and the value (`TransactionMetadataValue`) into
/// `value`. `event_count` and `data_collections` (`(schema.table, events)`) are given on
/// END only, as Debezium does.
pub fn write_tx_metadata(
    key: &mut Vec<u8>,
    value: &mut Vec<u8>,
    status: &str,
    id: &str,
    event_count: Option<i64>,
    data_collections: Option<&[(&str, i64)]>,
    ts_ms: i64,
) -> Result<(), EncodeError> {
    if status != "BEGIN" && status != "END" {
        return Err(EncodeError::new(Problem::Status {
            got: status.to_string(),
        }));
    }
    wire::string(key, id);
    wire::string(value, status);
    wire::string(value, id);
    wire::opt_long(value, event_count);
    match data_collections {
        Some(collections) => {
            value.push(BRANCH_1);
            if !collections.is_empty() {
                wire::long(value, collections.len() as i64);
                for (name, count) in collections {
                    // Each entry is an optional `event.collection` struct.
                    value.push(BRANCH_1);
                    wire::string(value, name);
                    wire::long(value, *count);
                }
            }
            value.push(0);
        }
        None => value.push(BRANCH_0),
    }
    wire::long(value, ts_ms);
    Ok(())
}

/// Writes a heartbeat record: key `ServerNameKey {serverName}` (the `topic.prefix`) and
/// value `Heartbeat {ts_ms}`.
pub fn write_heartbeat(key: &mut Vec<u8>, value: &mut Vec<u8>, server_name: &str, ts_ms: i64) {
    wire::string(key, server_name);
    wire::long(value, ts_ms);
}
