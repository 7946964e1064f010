//! Applying one batch's changes to one index, and committing it.
//!
//! Changes are staged in the index's writer in batch order; each is compared first with
//! the index's copy of its row: the newest live document (row or tombstone) with its id in
//! the last commit, or an earlier change of this batch. An upsert with unchanged TOASTed
//! columns takes their values from that copy. A change not older than the newest position
//! the index holds ([`IndexState::newest`](super::IndexState)) cannot lose to a stored
//! copy, so it is not looked up unless it has unchanged columns: streamed changes and a
//! first snapshot skip the per-document search, replays do it. The commit then makes the
//! staged documents, the truncate floor and the job's offsets durable together.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::Arc;

use serde_json::{Map, Value as Json};
use tantivy::query::RangeQuery;
use tantivy::schema::IndexRecordOption;
use tantivy::schema::Value as _;
use tantivy::{DocAddress, DocSet, Searcher, TERMINATED, TantivyDocument, Term};
use tributary_core::{LeftOut, Lsn, Position, RowSchema, TableRef};

use super::fields::{CHANGE, COMMIT, Fields};
use super::{EmbeddedIndex, IndexError, IndexState};

/// A record reduced to what the index needs, owned so it can move to a blocking thread.
pub(crate) struct Change {
    pub index: String,
    pub table: Arc<TableRef>,
    pub id: String,
    pub pos: Position,
    pub op: Op,
}

pub(crate) enum Op {
    Upsert {
        doc: Map<String, Json>,
        schema: Arc<RowSchema>,
        /// Unchanged TOASTed columns, kept from the index's copy of the row.
        unchanged: Vec<String>,
    },
    Delete,
    Truncate,
}

/// Opens the writer of an index this sink instance holds.
pub(crate) fn ensure_writer(
    token: u64,
    writer_memory: usize,
    index: &EmbeddedIndex,
    state: &mut IndexState,
) -> Result<(), IndexError> {
    if state.owner.as_ref().is_none_or(|(_, t)| *t != token) {
        return Err(IndexError::Claimed {
            index: index.name.clone(),
            owner: state.owner.as_ref().map_or_else(
                || "nobody".into(),
                |(job, _)| format!("{job} (another instance)"),
            ),
        });
    }
    if state.writer.is_none() {
        state.writer = Some(index.open_writer(writer_memory)?);
    }
    Ok(())
}

/// Where the index's copy of a row is.
#[derive(Clone, Copy)]
enum Copy {
    /// An earlier change of this batch (its index in the batch).
    Pending(Position, usize),
    /// The last commit.
    Stored(Position, DocAddress),
}

impl Copy {
    fn pos(self) -> Position {
        match self {
            Copy::Pending(p, _) | Copy::Stored(p, _) => p,
        }
    }
}

/// Stages one index's changes in its writer, in order, skipping what is older than the
/// index's copy. Raises the floor in `state.committed`'s successor (see [`commit`]).
/// Unchanged values the index has no copy of are left out and recorded in `left_out`.
pub(crate) fn apply(
    index: &EmbeddedIndex,
    state: &mut IndexState,
    changes: &[Change],
    job: &str,
    left_out: &mut LeftOut,
) -> Result<(), IndexError> {
    let err = |e| IndexError::tantivy(&index.name, e);
    let fields = &index.fields;
    let searcher = index.reader.searcher();
    let mut floor = state.staged_floor.or(state.committed.floor());
    let mut pending: HashMap<&str, Copy> = HashMap::new();
    // Documents completed from the index's copy, by batch index, for later changes of the
    // same row in this batch.
    let mut merged: HashMap<usize, Map<String, Json>> = HashMap::new();
    let Some(writer) = state.writer.as_mut() else {
        return Ok(());
    };
    for (at, c) in changes.iter().enumerate() {
        if let Op::Truncate = c.op {
            if floor.is_some_and(|f| c.pos <= f) {
                continue;
            }
            let below = Term::from_field_text(fields.pos, &c.pos.to_hex());
            writer
                .delete_query(Box::new(RangeQuery::new(
                    Bound::Unbounded,
                    Bound::Excluded(below),
                )))
                .map_err(err)?;
            floor = Some(c.pos);
            continue;
        }
        if floor.is_some_and(|f| c.pos < f) {
            continue;
        }
        let unchanged = matches!(&c.op, Op::Upsert { unchanged, .. } if !unchanged.is_empty());
        let current = match pending.get(c.id.as_str()) {
            Some(&copy) => Some(copy),
            // Nothing stored is newer: only unchanged columns need the stored copy.
            None if !unchanged && state.newest.is_none_or(|n| n <= c.pos) => None,
            None => stored_copy(&searcher, fields, &c.id).map_err(err)?,
        };
        if current.is_some_and(|copy| c.pos < copy.pos()) {
            continue;
        }
        let doc = match &c.op {
            Op::Upsert { doc, unchanged, .. } if unchanged.is_empty() => {
                fields.document(&c.id, c.pos, doc)
            }
            Op::Upsert { doc, unchanged, .. } => {
                let earlier = match current {
                    Some(Copy::Pending(_, i)) => match (merged.get(&i), &changes[i].op) {
                        (Some(doc), _) | (None, Op::Upsert { doc, .. }) => Some(doc.clone()),
                        _ => None,
                    },
                    Some(Copy::Stored(_, address)) => {
                        stored_row(&searcher, fields, address).map_err(err)?
                    }
                    None => None,
                };
                let mut full = doc.clone();
                let missing = tributary_core::unavailable::keep(&mut full, unchanged, earlier);
                left_out.record(job, &c.table, &missing);
                let document = fields.document(&c.id, c.pos, &full);
                merged.insert(at, full);
                document
            }
            _ => fields.tombstone(&c.id, c.pos),
        };
        writer.delete_term(Term::from_field_text(fields.id, &c.id));
        writer.add_document(doc).map_err(err)?;
        pending.insert(&c.id, Copy::Pending(c.pos, at));
        // Raised as soon as staged: a discarded batch leaves it higher than needed, which
        // only costs lookups.
        if state.newest.is_none_or(|n| n < c.pos) {
            state.newest = Some(c.pos);
        }
    }
    if floor != state.committed.floor() {
        state.staged_floor = floor;
    }
    Ok(())
}

/// Commits the staged changes with the floor and the job's offsets, then reloads the
/// reader so searches see the commit.
pub(crate) fn commit(
    index: &EmbeddedIndex,
    state: &mut IndexState,
    job: &str,
    offsets: &BTreeMap<(String, i32), i64>,
) -> Result<(), IndexError> {
    let err = |e| IndexError::tantivy(&index.name, e);
    let mut next = state.committed.clone();
    if let Some(floor) = state.staged_floor {
        next.set_floor(floor);
    }
    next.advance(job, offsets);
    let Some(writer) = state.writer.as_mut() else {
        return Ok(());
    };
    let mut prepared = writer.prepare_commit().map_err(err)?;
    prepared.set_payload(&next.to_json());
    prepared.commit().map_err(err)?;
    state.committed = next;
    state.staged_floor = None;
    index.reader.reload().map_err(err)?;
    Ok(())
}

/// The row a stored document holds (`None` for a tombstone).
fn stored_row(
    searcher: &Searcher,
    fields: &Fields,
    address: DocAddress,
) -> tantivy::Result<Option<Map<String, Json>>> {
    let doc: TantivyDocument = searcher.doc(address)?;
    Ok(doc
        .get_first(fields.doc)
        .and_then(|v| v.as_str())
        .and_then(|text| serde_json::from_str(text).ok()))
}

/// The newest position of any document in `searcher`'s segments (deleted ones too, so
/// possibly newer than what is live); `None` when there are no documents. One pass over
/// two fast-field columns, done when the index opens.
pub(crate) fn newest_stored(searcher: &Searcher) -> tantivy::Result<Option<Position>> {
    let mut newest: Option<Position> = None;
    for segment in searcher.segment_readers() {
        let commit = segment.fast_fields().u64(COMMIT)?;
        let change = segment.fast_fields().u64(CHANGE)?;
        let top = commit.max_value();
        for doc in 0..segment.max_doc() {
            if let (Some(c), Some(x)) = (commit.first(doc), change.first(doc))
                && c == top
            {
                let pos = Position::new(Lsn(c), Lsn(x));
                if newest.is_none_or(|n| n < pos) {
                    newest = Some(pos);
                }
            }
        }
    }
    Ok(newest)
}

/// The position and address of the newest live document (row or tombstone) with this id.
fn stored_copy(searcher: &Searcher, fields: &Fields, id: &str) -> tantivy::Result<Option<Copy>> {
    let term = Term::from_field_text(fields.id, id);
    let mut newest: Option<(Position, DocAddress)> = None;
    for (ord, segment) in searcher.segment_readers().iter().enumerate() {
        let Some(mut postings) = segment
            .inverted_index(fields.id)?
            .read_postings(&term, IndexRecordOption::Basic)?
        else {
            continue;
        };
        let commit = segment.fast_fields().u64(COMMIT)?;
        let change = segment.fast_fields().u64(CHANGE)?;
        let alive = segment.alive_bitset();
        let mut doc = postings.doc();
        while doc != TERMINATED {
            if alive.is_none_or(|a| a.is_alive(doc))
                && let (Some(c), Some(x)) = (commit.first(doc), change.first(doc))
            {
                let pos = Position::new(Lsn(c), Lsn(x));
                if newest.is_none_or(|(n, _)| n < pos) {
                    newest = Some((pos, DocAddress::new(ord as u32, doc)));
                }
            }
            doc = postings.advance();
        }
    }
    Ok(newest.map(|(pos, address)| Copy::Stored(pos, address)))
}
