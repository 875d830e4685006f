//! The backlog store of the `connector_bytes` harness: a `MemoryBacklog`
//! behind a queue of operations performed in the order they were asked
//! (appends included), after every step or only when the script says, and
//! failing when the script says.

use std::collections::VecDeque;

use crate::connector::{
    Backlog as _, BacklogEntry, BacklogKey, BufferedFrame, MemoryBacklog, StoreFailure, StoreRequest,
};

/// One operation waiting for the store.
#[derive(Debug)]
pub(super) enum Queued {
    /// A frame a push handed back.
    Append(BacklogKey, BufferedFrame),
    /// A machine's request.
    Request(StoreRequest),
}

/// An operation the store performed.
#[derive(Debug)]
pub(super) enum Performed {
    /// An append, written or (failed) not: nobody waits for its answer.
    Append,
    Read(Result<Vec<BacklogEntry>, StoreFailure>),
    Removed {
        key: BacklogKey,
        buffer_ids: Vec<String>,
        failed: bool,
    },
}

/// The store: contents that outlive machines, and the queue.
#[derive(Debug, Default)]
pub(super) struct FuzzStore {
    pub(super) contents: MemoryBacklog,
    queue: VecDeque<Queued>,
    /// Operations wait for the script instead of being performed after every step.
    pub(super) stalled: bool,
    /// So many of the next operations fail.
    pub(super) failures: u32,
}

impl FuzzStore {
    pub(super) fn submit(&mut self, op: Queued) {
        self.queue.push_back(op);
    }

    pub(super) fn is_idle(&self) -> bool {
        self.queue.is_empty()
    }

    /// Whether a frame handed back still waits to be appended.
    pub(super) fn has_append_waiting(&self) -> bool {
        self.queue.iter().any(|op| matches!(op, Queued::Append(..)))
    }

    /// Performs the oldest operation, failing it when `fail` (or when a
    /// failure is due).
    pub(super) fn perform_next(&mut self, fail: bool) -> Option<Performed> {
        let op = self.queue.pop_front()?;
        let fails = fail || self.failures > 0;
        self.failures = self.failures.saturating_sub(1);
        let failure = || StoreFailure("the fuzzed store failed".to_owned());
        Some(match op {
            Queued::Append(key, frame) => {
                if !fails {
                    let Ok(_) = self.contents.append(&key, frame);
                }
                Performed::Append
            }
            Queued::Request(StoreRequest::Read { .. }) if fails => Performed::Read(Err(failure())),
            Queued::Request(StoreRequest::Read { key, after, limit }) => {
                let Ok(entries) = self.contents.entries_after(&key, after.as_deref(), limit);
                Performed::Read(Ok(entries))
            }
            Queued::Request(StoreRequest::Remove { key, buffer_ids }) => {
                if !fails {
                    let Ok(_) = self.contents.remove_batch(&key, &buffer_ids);
                }
                Performed::Removed { key, buffer_ids, failed: fails }
            }
        })
    }
}
