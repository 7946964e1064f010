//! The COPY BOTH sub-protocol of a started replication: WAL data in, status updates out.
//!
//! The server sends `XLogData` (`w`: start, end, send time, payload) and primary keepalives
//! (`k`: end of WAL, send time, reply-requested flag). We answer with standby status
//! updates (`r`) whose write, flush and apply positions are all [`DurableLsn::get`]: the
//! server may recycle WAL and advances the slot's `confirmed_flush_lsn` up to what we
//! report, so reporting a merely *received* position would lose changes on a crash
//! between receiving and committing downstream. That is why the acknowledgement lags.
//!
//! A keepalive's `wal_end` is the server's current end of WAL; it can be trusted as "no
//! change of interest before this point" only after every earlier `XLogData` has been
//! processed, which is why keepalives are handed to the caller in order, not swallowed.
//!
//! [`ReplicationStream::next`] is the hot path: whole messages come out of a large read
//! buffer as zero-copy slices, and the clock and timer are consulted only when the buffer
//! runs dry. It is cancel-safe (see `wire`), so callers may `select!` on it.
//!
//! [`DurableLsn::get`]: tributary_core::DurableLsn::get

use std::pin::Pin;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{BufMut, Bytes};
use futures_util::FutureExt;
use postgres_protocol::message::frontend;
use tokio::time::{Instant, Sleep};
use tributary_core::Lsn;

use super::connection::{ReplicationConnection, replication_hint};
use super::startup::unexpected;
use super::wire::{Frame, be_u64, log_notice};
use super::{ReplicationError, StatusConfig};

/// What the server sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplicationEvent {
    /// A chunk of output plugin data (one pgoutput message) for WAL `wal_start..`.
    /// `wal_end` is the server's end of WAL when it sent this, not the end of the chunk.
    XLogData {
        wal_start: Lsn,
        wal_end: Lsn,
        data: Bytes,
    },
    /// A primary keepalive. Replies the server asked for have already been sent.
    Keepalive { wal_end: Lsn },
}

/// Microseconds between the Unix epoch and the Postgres epoch (2000-01-01 UTC).
const PG_EPOCH_OFFSET_MICROS: i64 = 946_684_800_000_000;
/// Periodic status updates "off": a deadline that never comes in practice.
const NEVER: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// A running logical replication stream (see the module docs).
pub struct ReplicationStream {
    conn: ReplicationConnection,
    slot: String,
    status: StatusConfig,
    timer: Pin<Box<Sleep>>,
    /// The server ended COPY (`CopyDone`): `next` answers `None` from then on.
    server_done: bool,
}

impl std::fmt::Debug for ReplicationStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplicationStream")
            .field("conn", &self.conn)
            .field("slot", &self.slot)
            .field("durable", &self.status.durable.get())
            .finish()
    }
}

/// What one backend message means to the stream.
enum Step {
    Event(ReplicationEvent),
    End,
    Nothing,
}

impl ReplicationStream {
    pub(super) fn new(conn: ReplicationConnection, slot: &str, status: StatusConfig) -> Self {
        let timer = Box::pin(tokio::time::sleep_until(next_deadline(&status)));
        ReplicationStream {
            conn,
            slot: slot.to_string(),
            status,
            timer,
            server_done: false,
        }
    }

    /// The next event; `None` once the server has ended the COPY. Answers keepalives that
    /// request a reply and sends a status update whenever `status.interval` has passed
    /// since the last one. Cancel-safe.
    pub async fn next(&mut self) -> Result<Option<ReplicationEvent>, ReplicationError> {
        if self.server_done {
            return Ok(None);
        }
        loop {
            if self.conn.wire.has_pending_writes() {
                self.conn.wire.flush().await?;
            }
            if let Some(frame) = self.conn.wire.try_frame()? {
                match self.step(frame)? {
                    Step::Event(event) => {
                        // A keepalive may have queued a reply. Send it now if the socket
                        // takes it at once; never wait here, or a cancelled call would
                        // lose the event it already took out of the buffer. Whatever is
                        // left goes out at the start of the next call.
                        if self.conn.wire.has_pending_writes()
                            && let Some(Err(e)) = self.conn.wire.flush().now_or_never()
                        {
                            return Err(e);
                        }
                        return Ok(Some(event));
                    }
                    Step::End => return Ok(None),
                    Step::Nothing => continue,
                }
            }
            // The buffer is dry: a good moment to look at the clock. Checking here (and
            // not only in the select below) keeps updates flowing while data streams in
            // faster than we read it.
            if Instant::now() >= self.timer.deadline() {
                self.send_status(false).await?;
                continue;
            }
            let timer = &mut self.timer;
            let wire = &mut self.conn.wire;
            let due = tokio::select! {
                filled = wire.fill() => {
                    filled?;
                    false
                }
                () = timer.as_mut() => true,
            };
            if due {
                self.send_status(false).await?;
            }
        }
    }

    /// Sends a standby status update reporting `durable.get()` as written, flushed and
    /// applied, and restarts the interval timer.
    pub async fn send_status(&mut self, reply_requested: bool) -> Result<(), ReplicationError> {
        self.queue_status(reply_requested);
        self.conn.wire.flush().await
    }

    /// Ends the stream: `CopyDone`, then reads (and discards) what the server still sends
    /// up to `ReadyForQuery`, and closes the session.
    pub async fn stop(self) -> Result<(), ReplicationError> {
        self.finish().await?.close().await
    }

    /// Like [`ReplicationStream::stop`] but keeps the session open for more commands (for
    /// instance `DROP_REPLICATION_SLOT`).
    pub async fn finish(mut self) -> Result<ReplicationConnection, ReplicationError> {
        frontend::copy_done(self.conn.wire.out());
        self.conn.wire.flush().await?;
        let mut error = None;
        loop {
            let frame = self.conn.wire.read_frame().await?;
            match frame.tag {
                b'Z' => break,
                b'E' => {
                    error.get_or_insert(ReplicationError::from_error_fields(&frame.body));
                }
                b'N' => log_notice(&frame.body),
                _ => {}
            }
        }
        match error {
            Some(err) => Err(err),
            None => Ok(self.conn),
        }
    }

    /// The configuration this stream reports progress with.
    pub fn status_config(&self) -> &StatusConfig {
        &self.status
    }

    fn queue_status(&mut self, reply_requested: bool) {
        let durable = self.status.durable.get().as_u64();
        encode_status_update(
            self.conn.wire.out(),
            durable,
            now_pg_micros(),
            reply_requested,
        );
        let deadline = next_deadline(&self.status);
        self.timer.as_mut().reset(deadline);
    }

    #[inline]
    fn step(&mut self, frame: Frame) -> Result<Step, ReplicationError> {
        match frame.tag {
            b'd' => match frame.body.first() {
                Some(b'w') => {
                    if frame.body.len() < 25 {
                        return Err(ReplicationError::protocol(
                            "XLogData shorter than its header",
                        ));
                    }
                    let wal_start = Lsn(be_u64(&frame.body, 1)?);
                    let wal_end = Lsn(be_u64(&frame.body, 9)?);
                    let data = frame.body.slice(25..);
                    Ok(Step::Event(ReplicationEvent::XLogData {
                        wal_start,
                        wal_end,
                        data,
                    }))
                }
                Some(b'k') => {
                    let wal_end = Lsn(be_u64(&frame.body, 1)?);
                    let reply = *frame
                        .body
                        .get(17)
                        .ok_or_else(|| ReplicationError::protocol("keepalive too short"))?;
                    if reply != 0 {
                        self.queue_status(false);
                    }
                    Ok(Step::Event(ReplicationEvent::Keepalive { wal_end }))
                }
                other => Err(ReplicationError::protocol(format!(
                    "unknown replication message {:?}",
                    other.map(|&b| char::from(b))
                ))),
            },
            b'c' => {
                tracing::debug!(slot = %self.slot, "server ended replication");
                self.server_done = true;
                Ok(Step::End)
            }
            b'E' => Err(ReplicationError::from_error_fields(&frame.body)
                .or_hint(|code, message| replication_hint(code, message, &self.slot))),
            b'N' => {
                log_notice(&frame.body);
                Ok(Step::Nothing)
            }
            b'S' => Ok(Step::Nothing),
            other => Err(unexpected(other, "during replication")),
        }
    }
}

fn next_deadline(status: &StatusConfig) -> Instant {
    let interval = if status.interval.is_zero() {
        NEVER
    } else {
        status.interval
    };
    Instant::now() + interval
}

/// A standby status update in a CopyData message: `r`, write, flush, apply, client time,
/// reply-requested.
fn encode_status_update(out: &mut bytes::BytesMut, lsn: u64, now: i64, reply_requested: bool) {
    out.reserve(1 + 4 + 34);
    out.put_u8(b'd');
    out.put_i32(4 + 34);
    out.put_u8(b'r');
    out.put_u64(lsn); // written
    out.put_u64(lsn); // flushed
    out.put_u64(lsn); // applied
    out.put_i64(now);
    out.put_u8(u8::from(reply_requested));
}

/// Now, in microseconds since 2000-01-01 UTC.
fn now_pg_micros() -> i64 {
    let unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    unix - PG_EPOCH_OFFSET_MICROS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_updates_report_one_position_three_times() {
        let mut out = bytes::BytesMut::new();
        encode_status_update(&mut out, 0x16_B374_D848, 42, true);
        assert_eq!(out.len(), 39);
        assert_eq!(out[0], b'd');
        assert_eq!(u32::from_be_bytes([out[1], out[2], out[3], out[4]]), 38);
        assert_eq!(out[5], b'r');
        for at in [6, 14, 22] {
            assert_eq!(be_u64(&out, at).unwrap(), 0x16_B374_D848);
        }
        assert_eq!(be_u64(&out, 30).unwrap(), 42);
        assert_eq!(out[38], 1);
    }

    #[test]
    fn client_clock_counts_from_the_postgres_epoch() {
        let now = now_pg_micros();
        // after 2024-01-01 and before 2100 in Postgres-epoch microseconds
        assert!(now > 24 * 365 * 24 * 3600 * 1_000_000, "{now}");
        assert!(now < 100 * 366 * 24 * 3600 * 1_000_000, "{now}");
    }
}
