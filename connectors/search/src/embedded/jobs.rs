//! A job's offsets in the embedded indexes, seen from outside the job: for the REST API's
//! `GET|PATCH|DELETE …/offsets` of a stopped sink job.

use tributary_core::PartitionOffset;

use super::payload::{Payload, min_offsets, to_list};
use super::{IndexError, IndexRegistry};

/// The smallest writer memory budget tantivy accepts.
const MIN_WRITER_MEMORY: usize = 15_000_000;

impl IndexRegistry {
    /// The offsets job `job` committed with its indexes (what its sink's
    /// [`stored_offsets`](tributary_core::Sink::stored_offsets) returns); `None` if no
    /// index holds any.
    pub fn job_offsets(&self, job: &str) -> Option<Vec<PartitionOffset>> {
        let all: Vec<_> = self
            .all()
            .iter()
            .filter_map(|i| i.lock().committed.offsets(job))
            .collect();
        (!all.is_empty()).then(|| to_list(&min_offsets(&all)))
    }

    /// Removes job `job`'s offsets from every index (its offsets are reset, or the job is
    /// deleted), so it starts again from the consumer group's offsets; the documents stay.
    /// Returns how many indexes held some. Fails while a sink of the job runs.
    pub fn forget_job(&self, job: &str) -> Result<usize, IndexError> {
        self.rewrite(job, |p| {
            p.jobs.remove(job);
        })
    }

    /// Sets the next offset of the given partitions in every index holding offsets of job
    /// `job` (other partitions keep theirs), so the job resumes there. Returns how many
    /// indexes hold the job's offsets (0: the job keeps none here, nothing to change).
    /// Fails while a sink of the job runs.
    pub fn set_job_offsets(
        &self,
        job: &str,
        offsets: &[PartitionOffset],
    ) -> Result<usize, IndexError> {
        self.rewrite(job, |p| {
            let mut current = p.offsets(job).unwrap_or_default();
            for o in offsets {
                current.insert((o.topic.clone(), o.partition), o.next);
            }
            p.jobs.insert(job.to_string(), to_list(&current));
        })
    }

    /// Commits `change` to the payload of every index holding offsets of `job`.
    fn rewrite(&self, job: &str, change: impl Fn(&mut Payload)) -> Result<usize, IndexError> {
        let mut rewritten = 0;
        for index in self.all() {
            let mut state = index.lock();
            if !state.committed.jobs.contains_key(job) {
                continue;
            }
            if let Some((owner, _)) = &state.owner {
                return Err(IndexError::Busy {
                    index: index.name.clone(),
                    owner: owner.clone(),
                });
            }
            let mut next = state.committed.clone();
            change(&mut next);
            let err = |e| IndexError::tantivy(&index.name, e);
            let mut writer = index.open_writer(MIN_WRITER_MEMORY)?;
            let mut prepared = writer.prepare_commit().map_err(err)?;
            prepared.set_payload(&next.to_json());
            prepared.commit().map_err(err)?;
            state.committed = next;
            rewritten += 1;
        }
        Ok(rewritten)
    }
}
