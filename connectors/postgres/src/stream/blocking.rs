//! The stream's side of a blocking snapshot: it stops at a transaction boundary once one
//! is requested, and, once the snapshot for it is exported, streams on up to that
//! snapshot's consistent point and no further. The snapshot then holds exactly what the
//! stream has not emitted, and streaming resumes at that point (`source::blocking`).

use tokio_postgres::Client;
use tributary_core::Lsn;

use super::ChangeStream;
use crate::offset::PgOffset;
use crate::types::TypeRegistry;

/// Where the stream stops for a blocking snapshot.
#[derive(Debug, Default)]
pub(super) struct Reach {
    /// The consistent point of the snapshot exported for it.
    until: Option<Lsn>,
    /// Every transaction committing before `until` was emitted, and none after.
    reached: bool,
}

impl ChangeStream {
    /// A blocking snapshot is requested and the stream is between transactions: stop
    /// reading the stream and export a snapshot for it.
    pub fn blocking_pending(&self) -> bool {
        self.offset.blocking_pending() && self.reach.until.is_none() && self.tx.is_none()
    }

    /// Streams on up to `point` (the exported snapshot's consistent point) and stops.
    pub fn reach(&mut self, point: Lsn) {
        tracing::info!(%point, "blocking snapshot: streaming up to the snapshot's consistent point");
        self.reach.until = Some(point);
    }

    /// Whether a reach was set: the stream asks the server for keepalives meanwhile, so
    /// an idle stream learns it has passed the point.
    pub fn reaching(&self) -> bool {
        self.reach.until.is_some()
    }

    pub fn reached(&self) -> bool {
        self.reach.reached
    }

    /// A transaction committing at `final_lsn` is about to be delivered: at or past the
    /// point, the snapshot does not hold it, so the stream stops before it (it is streamed
    /// again after the snapshot).
    pub(super) fn stops_before(&mut self, final_lsn: Lsn) -> bool {
        if self.reach.until.is_some_and(|p| final_lsn >= p) {
            self.reach.reached = true;
        }
        self.reach.reached
    }

    /// A keepalive says the server has sent everything before `wal_end`; with no
    /// transaction open, every transaction committing before the point was delivered.
    pub(super) fn keepalive_reaches(&mut self, wal_end: Lsn) -> bool {
        if self.tx.is_none()
            && self.in_stream.is_none()
            && self.reach.until.is_some_and(|p| wal_end >= p)
        {
            self.reach.reached = true;
        }
        self.reach.reached
    }

    /// Ends the stream: its catalog connection, types and offset, for the snapshot.
    pub fn into_parts(self) -> (Client, TypeRegistry, PgOffset) {
        (self.client, self.registry, self.offset)
    }
}
