//! The worker thread behind a [`StoreHandle`](crate::StoreHandle): it owns
//! the store and runs the queued operations in order, a turn at a time.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use metrics::{counter, gauge, histogram};
use std::sync::{Arc, mpsc};

use futures::channel::oneshot;
use relay_core::connector::{Backlog, BacklogEntry, BacklogKey, BufferedFrame};

use crate::{StoreError, StoreOptions, StoreStats};

type Done<T> = oneshot::Sender<Result<T, StoreError>>;

/// One queued operation and where its answer goes.
pub(crate) enum Op {
    Append {
        key: BacklogKey,
        frame: BufferedFrame,
        done: Done<String>,
    },
    Read {
        key: BacklogKey,
        after: Option<String>,
        limit: usize,
        done: Done<Vec<BacklogEntry>>,
    },
    Remove {
        key: BacklogKey,
        buffer_ids: Vec<String>,
        done: Done<usize>,
    },
    Count {
        key: BacklogKey,
        done: Done<usize>,
    },
    /// Answered once everything enqueued before it is done.
    Flush {
        done: Done<()>,
    },
}

impl Op {
    /// The operation's name, as the metrics label it.
    fn name(&self) -> &'static str {
        match self {
            Self::Append { .. } => "append",
            Self::Read { .. } => "read",
            Self::Remove { .. } => "remove",
            Self::Count { .. } => "count",
            Self::Flush { .. } => "flush",
        }
    }
}

/// The counts behind [`StoreStats`], shared with every handle.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// Operations enqueued and not yet taken by the worker.
    queued: AtomicUsize,
    /// Whether the last operation failed.
    failing: AtomicBool,
    appended: AtomicU64,
    append_failures: AtomicU64,
    commits: AtomicU64,
    reads: AtomicU64,
    removes: AtomicU64,
    errors: AtomicU64,
}

impl Counters {
    /// Counts one more waiting operation, unless `limit` already wait.
    pub(crate) fn take_slot(&self, limit: usize) -> bool {
        self.queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < limit).then_some(n + 1))
            .is_ok()
    }

    /// Whether the store's last operation succeeded (true before the first).
    pub(crate) fn is_healthy(&self) -> bool {
        !self.failing.load(Ordering::Relaxed)
    }

    /// `n` waiting operations were taken (or never made it into the queue).
    pub(crate) fn taken(&self, n: usize) {
        self.queued.fetch_sub(n, Ordering::AcqRel);
    }

    pub(crate) fn snapshot(&self) -> StoreStats {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        StoreStats {
            appended: get(&self.appended),
            append_failures: get(&self.append_failures),
            commits: get(&self.commits),
            reads: get(&self.reads),
            removes: get(&self.removes),
            errors: get(&self.errors),
        }
    }
}

fn add(counter: &AtomicU64, n: usize) {
    counter.fetch_add(n as u64, Ordering::Relaxed);
}

pub(crate) struct Worker<B> {
    store: B,
    options: StoreOptions,
    ops: mpsc::Receiver<Op>,
    counters: Arc<Counters>,
}

impl<B: Backlog> Worker<B> {
    pub(crate) fn new(
        store: B,
        options: StoreOptions,
        ops: mpsc::Receiver<Op>,
        counters: Arc<Counters>,
    ) -> Self {
        Self { store, options, ops, counters }
    }

    /// Runs until every handle is gone and the queue is empty, or the store
    /// panics. Returning drops the queue, so what is still in it, and
    /// anything enqueued later, resolves to `Stopped`.
    pub(crate) fn run(mut self) {
        while let Ok(first) = self.ops.recv() {
            let extra = self.options.max_batch.saturating_sub(1);
            let turn: Vec<Op> = std::iter::once(first).chain(self.ops.try_iter().take(extra)).collect();
            self.counters.taken(turn.len());
            // The turn's unanswered operations are dropped with it, so a
            // panic resolves them to `Stopped` instead of hanging them.
            if catch_unwind(AssertUnwindSafe(|| self.run_turn(turn))).is_err() {
                tracing::error!("the backlog store panicked; it is stopped and its operations fail");
                return;
            }
        }
    }

    fn run_turn(&mut self, turn: Vec<Op>) {
        let mut ops = turn.into_iter().peekable();
        while let Some(op) = ops.next() {
            let (started, errors_before) = (Instant::now(), self.counters.errors.load(Ordering::Relaxed));
            let name = op.name();
            match op {
                Op::Append { key, frame, done } => {
                    let mut run = vec![(key, frame, done)];
                    while let Some(Op::Append { key, frame, done }) =
                        ops.next_if(|op| matches!(op, Op::Append { .. }))
                    {
                        run.push((key, frame, done));
                    }
                    self.append_run(run);
                }
                Op::Remove { key, buffer_ids, done } => {
                    let mut run = vec![(buffer_ids, done)];
                    while let Some(Op::Remove { buffer_ids, done, .. }) =
                        ops.next_if(|op| matches!(op, Op::Remove { key: next, .. } if *next == key))
                    {
                        run.push((buffer_ids, done));
                    }
                    self.remove_run(&key, run);
                }
                Op::Read { key, after, limit, done } => {
                    add(&self.counters.reads, 1);
                    let entries = self.store.entries_after(&key, after.as_deref(), limit);
                    let _ = done.send(self.answer(entries));
                }
                Op::Count { key, done } => {
                    let count = self.store.count(&key);
                    let _ = done.send(self.answer(count));
                }
                Op::Flush { done } => {
                    let _ = done.send(Ok(()));
                }
            }
            let failed = self.counters.errors.load(Ordering::Relaxed) > errors_before;
            self.counters.failing.store(failed, Ordering::Relaxed);
            histogram!("relay_store_operation_duration_seconds", "op" => name)
                .record(started.elapsed().as_secs_f64());
            if failed {
                counter!("relay_store_errors_total", "op" => name).increment(1);
            }
        }
    }

    /// Appends a run of consecutive appends as one batch, leaving out those
    /// whose key is at its bound.
    fn append_run(&mut self, run: Vec<(BacklogKey, BufferedFrame, Done<String>)>) {
        let limit = self.options.max_entries_per_gateway;
        // Entries per key as they will be once this batch is in.
        let mut held = BTreeMap::<BacklogKey, usize>::new();
        let (mut batch, mut waiting) = (Vec::with_capacity(run.len()), Vec::with_capacity(run.len()));
        for (key, frame, done) in run {
            let now = match held.get(&key) {
                Some(&n) => n,
                None => match self.store.count(&key) {
                    Ok(n) => n,
                    Err(e) => {
                        add(&self.counters.errors, 1);
                        self.fail_appends(vec![done], &StoreError::Failed(e.to_string()));
                        continue;
                    }
                },
            };
            if now >= limit {
                held.insert(key.clone(), now);
                self.fail_appends(vec![done], &StoreError::Full { key, limit });
                continue;
            }
            held.insert(key.clone(), now + 1);
            batch.push((key, frame));
            waiting.push(done);
        }
        if batch.is_empty() {
            return;
        }
        add(&self.counters.commits, 1);
        let expected = batch.len();
        match self.store.append_batch(batch) {
            Ok(ids) if ids.len() == expected => {
                add(&self.counters.appended, expected);
                gauge!("relay_backlog_entries").increment(expected as f64);
                for (id, done) in ids.into_iter().zip(waiting) {
                    let _ = done.send(Ok(id));
                }
            }
            Ok(ids) => {
                let e = format!("the store returned {} ids for {expected} appends", ids.len());
                add(&self.counters.errors, 1);
                self.fail_appends(waiting, &StoreError::Failed(e));
            }
            Err(e) => {
                add(&self.counters.errors, 1);
                self.fail_appends(waiting, &StoreError::Failed(e.to_string()));
            }
        }
    }

    fn fail_appends(&self, waiting: Vec<Done<String>>, error: &StoreError) {
        add(&self.counters.append_failures, waiting.len());
        for done in waiting {
            let _ = done.send(Err(error.clone()));
        }
    }

    /// Removes the ids of a run of removals of one key in one call.
    fn remove_run(&mut self, key: &BacklogKey, run: Vec<(Vec<String>, Done<usize>)>) {
        add(&self.counters.removes, run.len());
        let (lists, waiting): (Vec<_>, Vec<_>) = run.into_iter().unzip();
        let lens: Vec<usize> = lists.iter().map(Vec::len).collect();
        let ids: Vec<String> = lists.into_iter().flatten().collect();
        match self.store.remove_batch(key, &ids) {
            Ok(removed) => {
                // The store reports one total: ids it did not find are
                // charged to every removal of the run (see `StoreHandle::remove`).
                gauge!("relay_backlog_entries").decrement(removed as f64);
                let shortfall = ids.len().saturating_sub(removed);
                for (len, done) in lens.into_iter().zip(waiting) {
                    let _ = done.send(Ok(len.saturating_sub(shortfall)));
                }
            }
            Err(e) => {
                add(&self.counters.errors, 1);
                let error = StoreError::Failed(e.to_string());
                for done in waiting {
                    let _ = done.send(Err(error.clone()));
                }
            }
        }
    }

    fn answer<T>(&self, result: Result<T, B::Error>) -> Result<T, StoreError> {
        result.map_err(|e| {
            add(&self.counters.errors, 1);
            StoreError::Failed(e.to_string())
        })
    }
}
