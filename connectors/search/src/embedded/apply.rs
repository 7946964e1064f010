//! Applying one batch's changes to one index, and committing it.
//!
//! Changes are staged in the index's writer in batch order; each is compared first with
//! the index's copy of its row: the newest live document (row or tombstone) with its id in
//! the last commit, or an earlier change of this batch. The commit then makes the staged
//! documents, the truncate floor and the job's offsets durable together.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::Arc;

use serde_json::{Map, Value as Json};
use tantivy::query::RangeQuery;
use tantivy::schema::IndexRecordOption;
use tantivy::{DocSet, Searcher, TERMINATED, Term};
use tributary_core::{Lsn, Position, RowSchema};

use super::fields::{CHANGE, COMMIT, Fields};
use super::{EmbeddedIndex, IndexError, IndexState};

/// A record reduced to what the index needs, owned so it can move to a blocking thread.
pub(crate) struct Change {
    pub index: String,
    pub id: String,
    pub pos: Position,
    pub op: Op,
}

pub(crate) enum Op {
    Upsert {
        doc: Map<String, Json>,
        schema: Arc<RowSchema>,
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

/// Stages one index's changes in its writer, in order, skipping what is older than the
/// index's copy. Raises the floor in `state.committed`'s successor (see [`commit`]).
pub(crate) fn apply(
    index: &EmbeddedIndex,
    state: &mut IndexState,
    changes: &[Change],
) -> Result<(), IndexError> {
    let err = |e| IndexError::tantivy(&index.name, e);
    let fields = &index.fields;
    let searcher = index.reader.searcher();
    let mut floor = state.staged_floor.or(state.committed.floor());
    let mut pending: HashMap<&str, Position> = HashMap::new();
    let Some(writer) = state.writer.as_mut() else {
        return Ok(());
    };
    for c in changes {
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
        let current = match pending.get(c.id.as_str()) {
            Some(&p) => Some(p),
            None => stored_position(&searcher, fields, &c.id).map_err(err)?,
        };
        if current.is_some_and(|p| c.pos < p) {
            continue;
        }
        let doc = match &c.op {
            Op::Upsert { doc, .. } => fields.document(&c.id, c.pos, doc),
            _ => fields.tombstone(&c.id, c.pos),
        };
        writer.delete_term(Term::from_field_text(fields.id, &c.id));
        writer.add_document(doc).map_err(err)?;
        pending.insert(&c.id, c.pos);
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

/// The position of the newest live document (row or tombstone) with this id.
fn stored_position(
    searcher: &Searcher,
    fields: &Fields,
    id: &str,
) -> tantivy::Result<Option<Position>> {
    let term = Term::from_field_text(fields.id, id);
    let mut newest: Option<Position> = None;
    for segment in searcher.segment_readers() {
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
                newest = Some(newest.map_or(pos, |n| n.max(pos)));
            }
            doc = postings.advance();
        }
    }
    Ok(newest)
}
