//! The backlog store as an I/O boundary of its own: durable contents (a
//! `MemoryBacklog` that outlives connections and process crashes), shared
//! by every instance of the fleet, each through a queue of its own with one
//! server (a client connection, pipelined). An instance's operations are
//! performed one at a time in the order it submitted them, each after its
//! own seeded latency (or, for an inline store, as soon as the driver has
//! drained the machine that asked); the queues of different instances
//! interleave as their latencies fall. Each operation may fail (seeded): a
//! failed append writes nothing, a failed read lists nothing, a failed
//! removal removes nothing.
//!
//! A queue belongs to its instance's process: when that dies, the
//! operations still in it are gone, but the store may already have applied
//! some of them. Which ones is seeded, and always a prefix of the queue,
//! since the store works through it in order.

use std::collections::VecDeque;
use std::time::Duration;

use rand::{Rng as _, SeedableRng as _};
use rand_chacha::ChaCha8Rng;

use super::Life;
use crate::connector::{Backlog as _, BacklogEntry, BacklogKey, BufferedFrame, MemoryBacklog, StoreFailure};
use crate::sim::world::Ctx;
use crate::sim::world::agenda::Task;
use crate::sim::world::faults::{StoreLatency, StorePlan};
use crate::sim::world::network::ConnId;

/// Salt of the store's generator (latencies, failures, crash outcomes).
const STORE_STREAM: u64 = 0x7374_6f72_6500_0001;

/// One operation the connector asks of its store.
#[derive(Debug)]
pub(super) enum Op {
    /// Append the frame of the push the ledger knows as `key`; `via` is the
    /// connection whose machine handed it back (none for a direct append).
    Append { key: String, frame: BufferedFrame, via: Option<ConnId> },
    /// A machine's `StoreRequest::Read`, answered to `conn`.
    Read { conn: ConnId, after: Option<String>, limit: usize },
    /// A machine's `StoreRequest::Remove`.
    Remove { conn: ConnId, buffer_ids: Vec<String> },
}

/// An operation the store performed, and how it went.
#[derive(Debug)]
pub(super) enum Done {
    Appended { key: String, via: Option<ConnId>, result: Result<String, StoreFailure> },
    Read { conn: ConnId, result: Result<Vec<BacklogEntry>, StoreFailure> },
    Removed { conn: ConnId, buffer_ids: Vec<String>, result: Result<(), StoreFailure> },
}

/// What became of the queue when the process died.
#[derive(Debug)]
pub(super) struct Crashed {
    /// Applied before the end, in order.
    pub(super) applied: Vec<Done>,
    /// Never applied.
    pub(super) lost: Vec<Op>,
}

/// One instance's operations, in the order it submitted them.
#[derive(Debug, Default)]
struct Queue {
    ops: VecDeque<Op>,
    /// The head is being performed (its completion is scheduled).
    busy: bool,
}

/// The store: its durable contents, each instance's queue, and its character.
#[derive(Debug)]
pub(super) struct Store {
    contents: MemoryBacklog,
    key: BacklogKey,
    queues: Vec<Queue>,
    plan: StorePlan,
    rng: ChaCha8Rng,
    /// [`Sabotage::SkipOneReplay`](crate::sim::world::Sabotage): one listing
    /// of two entries or more still has to hide its first.
    hide_one: bool,
    /// [`Sabotage::ReportBufferedBeforeDurable`](crate::sim::world::Sabotage):
    /// the first append still has to fail.
    fail_first_append: bool,
}

impl Store {
    pub(super) fn new(
        plan: StorePlan,
        seed: u64,
        key: BacklogKey,
        instances: usize,
        hide_one: bool,
        fail_first_append: bool,
    ) -> Self {
        Self {
            contents: MemoryBacklog::new(),
            key,
            queues: (0..instances).map(|_| Queue::default()).collect(),
            plan,
            rng: ChaCha8Rng::seed_from_u64(seed ^ STORE_STREAM),
            hide_one,
            fail_first_append,
        }
    }

    /// The entries waiting, in order.
    pub(super) fn buffer_ids(&self) -> Vec<String> {
        self.contents.buffer_ids(&self.key)
    }

    pub(super) fn len(&self) -> usize {
        self.contents.len(&self.key)
    }

    /// Nothing submitted is waiting to be performed.
    pub(super) fn is_idle(&self) -> bool {
        self.queues.iter().all(|q| q.ops.is_empty())
    }

    pub(super) fn queued(&self) -> usize {
        self.queues.iter().map(|q| q.ops.len()).sum()
    }

    pub(super) fn queued_on(&self, instance: usize) -> usize {
        self.queues[instance].ops.len()
    }

    /// Appends of frames `conn`'s machine handed back, still waiting.
    pub(super) fn appends_pending_via(&self, conn: ConnId) -> usize {
        let ops = self.queues.iter().flat_map(|q| &q.ops);
        ops.filter(|op| matches!(op, Op::Append { via: Some(via), .. } if *via == conn)).count()
    }

    /// Queues `op` of `life`'s instance behind everything it submitted before.
    pub(super) fn submit(&mut self, cx: &mut Ctx<'_>, op: Op, life: Life) {
        self.queues[life.instance].ops.push_back(op);
        self.start_next(cx, life);
    }

    /// Starts the head operation of `life`'s queue when its server is free:
    /// its completion comes after its latency (an inline store waits for
    /// the driver instead).
    fn start_next(&mut self, cx: &mut Ctx<'_>, life: Life) {
        let StoreLatency::UpTo(max) = self.plan.latency else { return };
        let queue = &mut self.queues[life.instance];
        if queue.busy || queue.ops.is_empty() {
            return;
        }
        queue.busy = true;
        let max = u64::try_from(max.as_micros()).unwrap_or(u64::MAX);
        let latency = Duration::from_micros(self.rng.random_range(0..=max));
        cx.agenda.at(cx.now + latency, Task::StoreDone { life });
    }

    /// The head operation of `life`'s queue is performed now (its latency passed).
    pub(super) fn complete(&mut self, cx: &mut Ctx<'_>, life: Life) -> Option<Done> {
        let queue = &mut self.queues[life.instance];
        queue.busy = false;
        let op = queue.ops.pop_front()?;
        let fails = self.draw_failure();
        let done = self.perform(op, fails);
        self.start_next(cx, life);
        Some(done)
    }

    /// An inline store performs its next operation when the driver asks
    /// (the lowest instance's first), and says whose it was.
    pub(super) fn next_inline(&mut self) -> Option<(usize, Done)> {
        if self.plan.latency != StoreLatency::Inline {
            return None;
        }
        let instance = self.queues.iter().position(|q| !q.ops.is_empty())?;
        let op = self.queues[instance].ops.pop_front()?;
        let fails = self.draw_failure();
        Some((instance, self.perform(op, fails)))
    }

    /// `instance` died: its queue is gone, after the store applied a seeded
    /// prefix of it (an operation being performed may have finished).
    pub(super) fn crash(&mut self, instance: usize) -> Crashed {
        let queue = &mut self.queues[instance];
        queue.busy = false;
        let mut lost: Vec<Op> = std::mem::take(&mut queue.ops).into();
        let applied_count = self.rng.random_range(0..=lost.len());
        let applied = lost.drain(..applied_count).map(|op| self.perform(op, false)).collect();
        Crashed { applied, lost }
    }

    fn draw_failure(&mut self) -> bool {
        self.rng.random_ratio(self.plan.fail_per_mille, 1_000)
    }

    fn perform(&mut self, op: Op, fails: bool) -> Done {
        let failure = |what: &str| StoreFailure(format!("simulated store failure: {what}"));
        match op {
            Op::Append { key, frame, via } => {
                let fails = fails || std::mem::take(&mut self.fail_first_append);
                let result = if fails {
                    Err(failure("append"))
                } else {
                    let Ok(buffer_id) = self.contents.append(&self.key, frame);
                    Ok(buffer_id)
                };
                Done::Appended { key, via, result }
            }
            Op::Read { conn, after, limit } => {
                let result = if fails {
                    Err(failure("read"))
                } else {
                    let Ok(mut entries) = self.contents.entries_after(&self.key, after.as_deref(), limit);
                    if entries.len() >= 2 && std::mem::take(&mut self.hide_one) {
                        entries.remove(0);
                    }
                    Ok(entries)
                };
                Done::Read { conn, result }
            }
            Op::Remove { conn, buffer_ids } => {
                let result = if fails {
                    Err(failure("remove"))
                } else {
                    let Ok(_) = self.contents.remove_batch(&self.key, &buffer_ids);
                    Ok(())
                };
                Done::Removed { conn, buffer_ids, result }
            }
        }
    }
}
