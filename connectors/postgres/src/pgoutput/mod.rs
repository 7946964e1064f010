//! Decoder for pgoutput, the logical replication protocol Postgres speaks to subscribers.
//!
//! This module owns the bytes-to-message step and nothing else: [`decode`] is a pure
//! function from one message (the payload of a CopyData `XLogData`, or a row of
//! `pg_logical_slot_peek_binary_changes`) to a [`Message`]. It knows nothing about the
//! replication connection that frames those bytes, nor about the stream that turns messages
//! into change events. Column values and logical-message contents are zero-copy slices of
//! the input, so holding a decoded message keeps the input buffer alive.
//!
//! Protocol points the caller must know:
//! - Between Stream Start and Stream Stop (protocol v2 streaming of in-progress
//!   transactions), Relation, Type, Insert, Update, Delete, Truncate and transactional
//!   Message carry a leading xid. The bytes do not say so; the caller tracks the stream
//!   and passes `in_stream`.
//! - Timestamps on the wire count microseconds from 2000-01-01; every `*_ts_us` field here
//!   counts from the UNIX epoch.
//! - Names arrive in the database encoding. Only UTF-8 is accepted, so a database in
//!   another encoding fails with [`DecodeError::InvalidUtf8`].
//! - Trailing bytes after a complete message are an error ([`DecodeError::TrailingBytes`]):
//!   a message we only partly understood is a misparse, not something to skip. The one
//!   exception is Stream Abort, whose abort LSN and timestamp (protocol v4) are skipped.
//! - Two-phase messages (protocol v3: Begin Prepare, Prepare, Commit Prepared, Rollback
//!   Prepared, Stream Prepare) are not requested by Tributary and decode as
//!   [`DecodeError::UnknownMessage`].

mod reader;
mod tuple;

#[cfg(test)]
mod malformed_tests;
#[cfg(test)]
mod tests;

use std::fmt;

use bytes::Bytes;
use tributary_core::{ErrorKind, Lsn, Retry};

use reader::Reader;
use tuple::Marker;

/// Microseconds from 1970-01-01 (UNIX epoch) to 2000-01-01 (Postgres epoch).
pub const PG_EPOCH_OFFSET_US: i64 = 946_684_800_000_000;

/// One pgoutput message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Begin(Begin),
    Commit(Commit),
    Origin(Origin),
    Relation(Relation),
    Type(TypeMessage),
    Insert(Insert),
    Update(Update),
    Delete(Delete),
    Truncate(Truncate),
    LogicalMessage(LogicalMessage),
    StreamStart(StreamStart),
    StreamStop,
    StreamCommit(StreamCommit),
    StreamAbort(StreamAbort),
}

/// 'B': a transaction starts; its changes follow, then a [`Commit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Begin {
    /// The LSN of the commit record, the same as [`Commit::commit_lsn`].
    pub final_lsn: Lsn,
    pub commit_ts_us: i64,
    pub xid: u32,
}

/// 'C': the transaction opened by the last [`Begin`] committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    pub flags: u8,
    pub commit_lsn: Lsn,
    /// The end of the commit record: where to resume after this transaction.
    pub end_lsn: Lsn,
    pub commit_ts_us: i64,
}

/// 'O': the current transaction was replicated into this server from the named origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The commit LSN on the origin server.
    pub commit_lsn: Lsn,
    pub name: String,
}

/// 'R': the shape of a table, sent before its first change and again after it changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    pub xid: Option<u32>,
    pub rel_id: u32,
    pub namespace: String,
    pub name: String,
    pub replica_identity: ReplicaIdentity,
    pub columns: Vec<RelationColumn>,
}

/// Which old values Update and Delete carry (`ALTER TABLE … REPLICA IDENTITY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicaIdentity {
    /// 'd': the primary key columns.
    Default,
    /// 'n': nothing.
    Nothing,
    /// 'f': the whole old row.
    Full,
    /// 'i': the columns of a chosen unique index.
    Index,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelationColumn {
    /// Part of the replica identity (flag bit 1 on the wire).
    pub is_key: bool,
    pub name: String,
    pub type_oid: u32,
    /// `atttypmod`, -1 when the type has none.
    pub type_modifier: i32,
}

/// 'Y': a non-built-in type used by a following Relation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeMessage {
    pub xid: Option<u32>,
    pub type_oid: u32,
    pub namespace: String,
    pub name: String,
}

/// 'I': a new row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Insert {
    pub xid: Option<u32>,
    pub rel_id: u32,
    pub new: TupleData,
}

/// 'U': a changed row. `old` is present only when the key changed (key columns) or the
/// table has REPLICA IDENTITY FULL (whole row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update {
    pub xid: Option<u32>,
    pub rel_id: u32,
    pub old: Option<OldTuple>,
    pub new: TupleData,
}

/// 'D': a deleted row, identified by its key or, with REPLICA IDENTITY FULL, all of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delete {
    pub xid: Option<u32>,
    pub rel_id: u32,
    pub old: OldTuple,
}

/// 'T': one TRUNCATE statement over one or more tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Truncate {
    pub xid: Option<u32>,
    /// Bit set of [`Truncate::CASCADE`] and [`Truncate::RESTART_IDENTITY`].
    pub options: u8,
    pub rel_ids: Vec<u32>,
}

impl Truncate {
    pub const CASCADE: u8 = 1;
    pub const RESTART_IDENTITY: u8 = 2;
}

/// 'M': a message from `pg_logical_emit_message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogicalMessage {
    pub xid: Option<u32>,
    /// Sent inside its transaction; otherwise sent on its own, at once, even if the
    /// emitting transaction later aborts.
    pub transactional: bool,
    pub lsn: Lsn,
    pub prefix: String,
    pub content: Bytes,
}

/// 'S': a segment of an in-progress transaction starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamStart {
    pub xid: u32,
    pub first_segment: bool,
}

/// 'c': a streamed transaction committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamCommit {
    pub xid: u32,
    pub flags: u8,
    pub commit_lsn: Lsn,
    pub end_lsn: Lsn,
    pub commit_ts_us: i64,
}

/// 'A': a streamed transaction (`subxid == xid`) or one of its subtransactions aborted;
/// discard what was streamed for `subxid`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamAbort {
    pub xid: u32,
    pub subxid: u32,
}

/// The old row image of an Update or Delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OldTuple {
    /// 'K': replica identity columns only; the others are [`TupleValue::Null`].
    Key(TupleData),
    /// 'O': the whole old row (REPLICA IDENTITY FULL).
    Full(TupleData),
}

/// One row image, a value per column in [`Relation::columns`] order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TupleData(pub Vec<TupleValue>);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TupleValue {
    /// 'n'
    Null,
    /// 'u': a TOASTed value the update did not touch. Its value is not sent; it is not NULL.
    UnchangedToast,
    /// 't': the type's text output.
    Text(Bytes),
    /// 'b': the type's binary send format (`binary 'true'`).
    Binary(Bytes),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("pgoutput message truncated while reading {what}")]
    Truncated { what: &'static str },
    #[error("unknown pgoutput message type {}", ByteName(*.0))]
    UnknownMessage(u8),
    #[error("unknown tuple value kind {}; expected 'n', 'u', 't' or 'b'", ByteName(*.0))]
    UnknownTupleKind(u8),
    #[error("unknown tuple marker {}; expected 'N', 'K' or 'O'", ByteName(*.0))]
    UnknownTupleMarker(u8),
    #[error("expected the new tuple ('N') but found an old one ('K' or 'O')")]
    ExpectedNewTuple,
    #[error("expected the old tuple ('K' or 'O') but found a new one ('N')")]
    ExpectedOldTuple,
    #[error("unknown replica identity {}; expected 'd', 'n', 'f' or 'i'", ByteName(*.0))]
    UnknownReplicaIdentity(u8),
    #[error("invalid UTF-8 in {what}; the database encoding must be UTF8")]
    InvalidUtf8 { what: &'static str },
    #[error("negative length {len} for {what}")]
    NegativeLength { what: &'static str, len: i32 },
    #[error("{what} {value} is out of range")]
    TimestampOutOfRange { what: &'static str, value: i64 },
    #[error("pgoutput {message} message has {count} unexpected trailing bytes")]
    TrailingBytes { message: &'static str, count: usize },
}

impl Retry for DecodeError {
    /// The same bytes decode the same way every time.
    fn kind(&self) -> ErrorKind {
        ErrorKind::Definite
    }
}

/// Shows a protocol byte as `'N' (0x4e)` when printable, else as `0x00`.
struct ByteName(u8);

impl fmt::Display for ByteName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            b if b.is_ascii_graphic() => write!(f, "'{}' (0x{b:02x})", char::from(b)),
            b => write!(f, "0x{b:02x}"),
        }
    }
}

/// Decodes one pgoutput message. `in_stream` is true between Stream Start and Stream Stop.
pub fn decode(buf: &Bytes, in_stream: bool) -> Result<Message, DecodeError> {
    let mut r = Reader::new(buf);
    let xid = |r: &mut Reader<'_>| in_stream.then(|| r.u32("xid")).transpose();
    let (message, name) = match r.u8("message type")? {
        b'B' => (
            Message::Begin(Begin {
                final_lsn: r.lsn("begin final lsn")?,
                commit_ts_us: r.timestamp("begin commit timestamp")?,
                xid: r.u32("begin xid")?,
            }),
            "begin",
        ),
        b'C' => (
            Message::Commit(Commit {
                flags: r.u8("commit flags")?,
                commit_lsn: r.lsn("commit lsn")?,
                end_lsn: r.lsn("commit end lsn")?,
                commit_ts_us: r.timestamp("commit timestamp")?,
            }),
            "commit",
        ),
        b'O' => (
            Message::Origin(Origin {
                commit_lsn: r.lsn("origin commit lsn")?,
                name: r.cstr("origin name")?,
            }),
            "origin",
        ),
        b'R' => {
            let xid = xid(&mut r)?;
            (Message::Relation(relation(&mut r, xid)?), "relation")
        }
        b'Y' => (
            Message::Type(TypeMessage {
                xid: xid(&mut r)?,
                type_oid: r.u32("type oid")?,
                namespace: r.cstr("type namespace")?,
                name: r.cstr("type name")?,
            }),
            "type",
        ),
        b'I' => (
            Message::Insert(Insert {
                xid: xid(&mut r)?,
                rel_id: r.u32("insert relation id")?,
                new: tuple::new_tuple(&mut r)?,
            }),
            "insert",
        ),
        b'U' => {
            let xid = xid(&mut r)?;
            let rel_id = r.u32("update relation id")?;
            let (old, new) = match tuple::marker(&mut r)? {
                Marker::New => (None, tuple::tuple(&mut r)?),
                Marker::Key => (
                    Some(OldTuple::Key(tuple::tuple(&mut r)?)),
                    tuple::new_tuple(&mut r)?,
                ),
                Marker::Full => (
                    Some(OldTuple::Full(tuple::tuple(&mut r)?)),
                    tuple::new_tuple(&mut r)?,
                ),
            };
            (
                Message::Update(Update {
                    xid,
                    rel_id,
                    old,
                    new,
                }),
                "update",
            )
        }
        b'D' => (
            Message::Delete(Delete {
                xid: xid(&mut r)?,
                rel_id: r.u32("delete relation id")?,
                old: tuple::old_tuple(&mut r)?,
            }),
            "delete",
        ),
        b'T' => {
            let xid = xid(&mut r)?;
            let count = r.u32("truncate relation count")?;
            let options = r.u8("truncate options")?;
            let count = usize::try_from(count).unwrap_or(usize::MAX);
            let mut rel_ids = Vec::with_capacity(r.capacity_for(count, 4));
            for _ in 0..count {
                rel_ids.push(r.u32("truncate relation id")?);
            }
            (
                Message::Truncate(Truncate {
                    xid,
                    options,
                    rel_ids,
                }),
                "truncate",
            )
        }
        b'M' => {
            let xid = xid(&mut r)?;
            let transactional = r.u8("message flags")? & 1 != 0;
            let lsn = r.lsn("message lsn")?;
            let prefix = r.cstr("message prefix")?;
            let len = r.i32("message content length")?;
            let len = usize::try_from(len).map_err(|_| DecodeError::NegativeLength {
                what: "message content",
                len,
            })?;
            let content = r.bytes(len, "message content")?;
            let message = LogicalMessage {
                xid,
                transactional,
                lsn,
                prefix,
                content,
            };
            (Message::LogicalMessage(message), "logical decoding message")
        }
        b'S' => (
            Message::StreamStart(StreamStart {
                xid: r.u32("stream start xid")?,
                first_segment: r.u8("stream start first segment flag")? == 1,
            }),
            "stream start",
        ),
        b'E' => (Message::StreamStop, "stream stop"),
        b'c' => (
            Message::StreamCommit(StreamCommit {
                xid: r.u32("stream commit xid")?,
                flags: r.u8("stream commit flags")?,
                commit_lsn: r.lsn("stream commit lsn")?,
                end_lsn: r.lsn("stream commit end lsn")?,
                commit_ts_us: r.timestamp("stream commit timestamp")?,
            }),
            "stream commit",
        ),
        b'A' => {
            let abort = StreamAbort {
                xid: r.u32("stream abort xid")?,
                subxid: r.u32("stream abort subxid")?,
            };
            // Protocol v4 with parallel streaming appends abort_lsn and abort_ts; we have
            // no use for them, but a v4 peer must not make us fail.
            if r.remaining() > 0 {
                r.bytes(16, "stream abort lsn and timestamp")?;
            }
            (Message::StreamAbort(abort), "stream abort")
        }
        other => return Err(DecodeError::UnknownMessage(other)),
    };
    r.finish(name)?;
    Ok(message)
}

fn relation(r: &mut Reader<'_>, xid: Option<u32>) -> Result<Relation, DecodeError> {
    let rel_id = r.u32("relation id")?;
    let namespace = r.cstr("relation namespace")?;
    let name = r.cstr("relation name")?;
    let replica_identity = match r.u8("replica identity")? {
        b'd' => ReplicaIdentity::Default,
        b'n' => ReplicaIdentity::Nothing,
        b'f' => ReplicaIdentity::Full,
        b'i' => ReplicaIdentity::Index,
        other => return Err(DecodeError::UnknownReplicaIdentity(other)),
    };
    let count = usize::from(r.u16("relation column count")?);
    // flags (1) + name (at least its NUL) + type oid (4) + type modifier (4)
    let mut columns = Vec::with_capacity(r.capacity_for(count, 10));
    for _ in 0..count {
        columns.push(RelationColumn {
            is_key: r.u8("column flags")? & 1 != 0,
            name: r.cstr("column name")?,
            type_oid: r.u32("column type oid")?,
            type_modifier: r.i32("column type modifier")?,
        });
    }
    Ok(Relation {
        xid,
        rel_id,
        namespace,
        name,
        replica_identity,
        columns,
    })
}
