//! The sink that keeps embedded tantivy indexes equal to the source tables.
//!
//! Replays are harmless because every write is ordered on [`Position`]:
//! - an upsert or delete applies only if it is at least as new as the index's copy of the
//!   row (looked up by id in the last commit, or among this batch's earlier changes);
//! - a delete leaves a tombstone (`__deleted`, with the delete's position), so an older
//!   insert replayed later finds a newer copy and changes nothing;
//! - a truncate raises the index's truncate floor and removes every document older than
//!   it; anything older than the floor is refused from then on.
//!
//! Each write commits every index it touched, with the job's offsets and the floor in the
//! commit payload (see `payload`), and returns after the commit, when searches see it.
//! The job's stored offsets are, per partition, the minimum over its indexes, so a crash
//! between two indexes' commits replays what the lagging index misses (and re-applies what
//! the others hold, which their positions make a no-op). For that, an index joins the job
//! with a commit of the job's previous offsets before any index commits the batch that
//! first writes to it. Indexes a write does not touch are committed at most once per
//! [`PAYLOAD_REFRESH`] to move their offsets along, so an idle table does not hold the
//! job's restart point back for long.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tributary_core::sink::{BoxFuture, expand_template};
use tributary_core::{LeftOut, PartitionOffset, Sink, SinkError, SinkOp, SinkRecord};

use super::apply::{Change, Op, apply, commit, ensure_writer};
use super::payload::{min_offsets, to_list};
use super::{EmbeddedIndex, IndexError, IndexRegistry};
use crate::SearchSinkConfig;

/// How often an index no write touches is committed to advance its offsets.
pub const PAYLOAD_REFRESH: Duration = Duration::from_secs(1);

/// Tells apart two sink instances of the same job (a restart taking over from a sink that
/// is still being dropped).
static NEXT_TOKEN: AtomicU64 = AtomicU64::new(1);

/// A search job writing embedded tantivy indexes.
pub struct TantivySink {
    template: String,
    core: Arc<Mutex<Core>>,
}

struct Core {
    job: String,
    token: u64,
    writer_memory: usize,
    registry: Arc<IndexRegistry>,
    /// The offsets as of the last write.
    offsets: BTreeMap<(String, i32), i64>,
    /// The indexes this sink writes.
    claimed: BTreeMap<String, Claimed>,
    /// How often an untouched index is committed to advance its offsets.
    refresh: Duration,
    /// Unchanged TOASTed values no index held a copy of.
    left_out: LeftOut,
    /// Tests: stop a write (as a crash would) before committing its n-th index.
    #[cfg(test)]
    crash_before_commit: Option<usize>,
}

struct Claimed {
    index: Arc<EmbeddedIndex>,
    last_commit: Instant,
}

impl TantivySink {
    /// A sink for the job `config.name`, writing the indexes of `registry` (which must be
    /// the registry of the job's resolved `index.dir`). It takes over the indexes that hold
    /// offsets of this job, so [`Sink::stored_offsets`] is right at once, also after a crash.
    pub fn open(
        config: &SearchSinkConfig,
        registry: Arc<IndexRegistry>,
    ) -> Result<Self, SinkError> {
        let mut core = Core {
            job: config.name.clone(),
            token: NEXT_TOKEN.fetch_add(1, Ordering::Relaxed),
            writer_memory: config.writer_memory_bytes,
            registry,
            offsets: BTreeMap::new(),
            claimed: BTreeMap::new(),
            refresh: PAYLOAD_REFRESH,
            left_out: LeftOut::default(),
            #[cfg(test)]
            crash_before_commit: None,
        };
        for index in core.registry.all() {
            if index.lock().committed.jobs.contains_key(&core.job) {
                core.claim(index)?;
            }
        }
        core.offsets = core.stored();
        Ok(TantivySink {
            template: config.index_name.clone(),
            core: Arc::new(Mutex::new(core)),
        })
    }

    fn core(&self) -> std::sync::MutexGuard<'_, Core> {
        self.core.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn prepare(&self, batch: &[SinkRecord]) -> Result<Vec<Change>, SinkError> {
        batch
            .iter()
            .map(|r| {
                let index = expand_template(&self.template, &r.table, None);
                let (id, op) = match &r.op {
                    SinkOp::Upsert {
                        key,
                        doc,
                        schema,
                        unchanged,
                    } => (
                        crate::doc_id(r, key)?,
                        Op::Upsert {
                            doc: doc.clone(),
                            schema: schema.clone(),
                            unchanged: unchanged.clone(),
                        },
                    ),
                    SinkOp::Delete { key } => (crate::doc_id(r, key)?, Op::Delete),
                    SinkOp::Truncate => (String::new(), Op::Truncate),
                };
                Ok(Change {
                    index,
                    table: r.table.clone(),
                    id,
                    pos: r.pos,
                    op,
                })
            })
            .collect()
    }

    #[cfg(test)]
    pub(crate) fn set_payload_refresh(&self, every: Duration) {
        self.core().refresh = every;
    }

    #[cfg(test)]
    pub(crate) fn crash_before_commit(&self, n: usize) {
        self.core().crash_before_commit = Some(n);
    }

    /// Applies a batch without committing, as a crash before the commit leaves it.
    #[cfg(test)]
    pub(crate) fn stage_without_commit(&self, batch: &[SinkRecord]) -> Result<(), SinkError> {
        let changes = self.prepare(batch)?;
        let mut guard = self.core();
        let core = &mut *guard;
        for (name, changes) in group(changes) {
            let index = core.claim_named(&name, &changes)?;
            let mut state = index.lock();
            ensure_writer(core.token, core.writer_memory, &index, &mut state)?;
            apply(&index, &mut state, &changes, &core.job, &mut core.left_out)?;
        }
        Ok(())
    }
}

impl Sink for TantivySink {
    fn values_left_out(&self) -> u64 {
        self.core().left_out.total()
    }

    fn stored_offsets(&self) -> Option<Vec<PartitionOffset>> {
        let core = self.core();
        core.claimed
            .values()
            .any(|c| c.index.lock().committed.jobs.contains_key(&core.job))
            .then(|| to_list(&core.stored()))
    }

    fn write<'a>(
        &'a mut self,
        batch: &'a [SinkRecord],
        offsets: &'a [PartitionOffset],
    ) -> BoxFuture<'a, Result<(), SinkError>> {
        Box::pin(async move {
            let changes = self.prepare(batch)?;
            let offsets = offsets.to_vec();
            let core = self.core.clone();
            tokio::task::spawn_blocking(move || {
                core.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .write(changes, &offsets)
            })
            .await
            .map_err(|e| SinkError::Definite(format!("the index write task failed: {e}")))?
        })
    }
}

impl Drop for TantivySink {
    /// Releases the indexes; uncommitted changes (there are none between writes) go.
    fn drop(&mut self) {
        let core = self.core();
        for c in core.claimed.values() {
            let mut state = c.index.lock();
            if state.owner.as_ref().is_some_and(|(_, t)| *t == core.token) {
                state.owner = None;
                state.discard();
            }
        }
    }
}

/// Changes grouped by index, indexes in order of first appearance, changes in batch order.
fn group(changes: Vec<Change>) -> Vec<(String, Vec<Change>)> {
    let mut groups: Vec<(String, Vec<Change>)> = Vec::new();
    let mut at: HashMap<String, usize> = HashMap::new();
    for c in changes {
        match at.get(&c.index) {
            Some(&i) => groups[i].1.push(c),
            None => {
                at.insert(c.index.clone(), groups.len());
                groups.push((c.index.clone(), vec![c]));
            }
        }
    }
    groups
}

impl Core {
    /// Per partition, the minimum over the claimed indexes' committed offsets (0 where an
    /// index lacks the partition; see [`min_offsets`]).
    fn stored(&self) -> BTreeMap<(String, i32), i64> {
        let all: Vec<_> = self
            .claimed
            .values()
            .filter_map(|c| c.index.lock().committed.offsets(&self.job))
            .collect();
        min_offsets(&all)
    }

    fn claim(&mut self, index: Arc<EmbeddedIndex>) -> Result<Arc<EmbeddedIndex>, IndexError> {
        {
            let mut state = index.lock();
            match &state.owner {
                Some((job, _)) if *job != self.job => {
                    return Err(IndexError::Claimed {
                        index: index.name.clone(),
                        owner: job.clone(),
                    });
                }
                _ => {
                    // Free, or held by an older instance of this job: take it over.
                    state.owner = Some((self.job.clone(), self.token));
                    state.discard();
                }
            }
        }
        self.claimed.insert(
            index.name.clone(),
            Claimed {
                index: index.clone(),
                last_commit: Instant::now(),
            },
        );
        Ok(index)
    }

    /// The index `name`, claimed; created from the first upsert's schema if it is new.
    ///
    /// An index that holds no offsets of this job yet is committed at once with the job's
    /// offsets as of the previous write, before any index commits this batch: from then on
    /// it counts in [`Core::stored`], so a crash between this batch's commits cannot leave
    /// its records behind offsets another index already moved past.
    fn claim_named(
        &mut self,
        name: &str,
        changes: &[Change],
    ) -> Result<Arc<EmbeddedIndex>, IndexError> {
        if let Some(c) = self.claimed.get(name) {
            return Ok(c.index.clone());
        }
        let schema = changes.iter().find_map(|c| match &c.op {
            Op::Upsert { schema, .. } => Some(schema.clone()),
            _ => None,
        });
        let index = self.registry.get_or_create(name, schema.as_deref())?;
        let index = self.claim(index)?;
        let mut state = index.lock();
        if !state.committed.jobs.contains_key(&self.job) {
            let result = ensure_writer(self.token, self.writer_memory, &index, &mut state)
                .and_then(|()| commit(&index, &mut state, &self.job, &self.offsets));
            if let Err(e) = result {
                state.discard();
                return Err(e);
            }
        }
        drop(state);
        Ok(index)
    }

    /// Where tests stop a write, as a crash would: before committing the `n`-th index.
    fn crash_point(&self, _n: usize) -> Result<(), SinkError> {
        #[cfg(test)]
        if self.crash_before_commit == Some(_n) {
            return Err(SinkError::Transient("simulated crash".into()));
        }
        Ok(())
    }

    fn write(
        &mut self,
        changes: Vec<Change>,
        offsets: &[PartitionOffset],
    ) -> Result<(), SinkError> {
        let started = Instant::now();
        let count = changes.len();
        let groups = group(changes);
        let mut indexes = Vec::with_capacity(groups.len());
        for (name, changes) in &groups {
            indexes.push(self.claim_named(name, changes)?);
        }
        let mut current = self.offsets.clone();
        for o in offsets {
            current.insert((o.topic.clone(), o.partition), o.next);
        }
        for (n, ((_, changes), index)) in groups.iter().zip(&indexes).enumerate() {
            self.crash_point(n)?;
            let mut state = index.lock();
            let result =
                ensure_writer(self.token, self.writer_memory, index, &mut state).and_then(|()| {
                    apply(index, &mut state, changes, &self.job, &mut self.left_out)?;
                    commit(index, &mut state, &self.job, &current)
                });
            if let Err(e) = result {
                state.discard();
                return Err(e.into());
            }
        }
        self.offsets = current;
        let now = Instant::now();
        for (name, claimed) in &mut self.claimed {
            if groups.iter().any(|(touched, _)| touched == name) {
                claimed.last_commit = now;
                continue;
            }
            if now.duration_since(claimed.last_commit) < self.refresh {
                continue;
            }
            let index = claimed.index.clone();
            let mut state = index.lock();
            let mut next = state.committed.clone();
            next.advance(&self.job, &self.offsets);
            if next == state.committed {
                continue;
            }
            let result = ensure_writer(self.token, self.writer_memory, &index, &mut state)
                .and_then(|()| commit(&index, &mut state, &self.job, &self.offsets));
            if let Err(e) = result {
                state.discard();
                return Err(e.into());
            }
            claimed.last_commit = now;
        }
        tracing::debug!(
            job = %self.job,
            changes = count,
            indexes = groups.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "committed index batch"
        );
        Ok(())
    }
}
