//! [`StoreHandle`]: a [`Backlog`] on its own thread, with async completions.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::mpsc;
use std::task::{Context, Poll};

use futures::channel::oneshot;
use relay_core::connector::{Backlog, BacklogEntry, BacklogKey, BufferedFrame, MemoryBacklog};

use crate::StoreError;
use crate::worker::{Counters, Op, Worker};

/// Bounds of a [`StoreHandle`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreOptions {
    /// An append to a key that already holds this many entries fails with
    /// [`StoreError::Full`] (default 10 000), so one gateway that never
    /// comes back cannot fill the disk.
    pub max_entries_per_gateway: usize,
    /// The most operations the worker takes off the queue in one turn
    /// (default 1024); the appends among them share one commit.
    pub max_batch: usize,
    /// The most operations waiting for the worker (default 65 536). Past
    /// it an operation fails at once with [`StoreError::Overloaded`]
    /// instead of queueing without bound behind a store that stalls (a
    /// network store that stopped answering, say).
    pub max_queued: usize,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self { max_entries_per_gateway: 10_000, max_batch: 1024, max_queued: 65_536 }
    }
}

/// What a [`StoreHandle`]'s worker has done so far (cumulative counts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct StoreStats {
    /// Appends reported done.
    pub appended: u64,
    /// Appends reported failed (a full backlog or a store error).
    pub append_failures: u64,
    /// `append_batch` calls: commits, and syncs for a durable store.
    pub commits: u64,
    /// Read operations run.
    pub reads: u64,
    /// Remove operations run.
    pub removes: u64,
    /// Store calls that returned an error.
    pub errors: u64,
}

/// A [`Backlog`] owned by a worker thread; clones share it.
///
/// Every method enqueues its operation at once, in call order, and returns
/// a future of its completion; the future need not be polled for the
/// operation to run. **Operations run one at a time in enqueue order,
/// across all keys**: a read enqueued after an append sees that append,
/// and a count enqueued after a remove does not count what it removed.
///
/// The worker takes whatever is queued (up to
/// [`max_batch`](StoreOptions::max_batch)) in one turn and hands each run of
/// consecutive appends to [`Backlog::append_batch`] as one batch, and each
/// run of consecutive removals of one key to [`Backlog::remove_batch`]: a
/// durable store then makes appends that arrive together durable with one
/// sync (group commit).
///
/// If the store panics, the worker ends: that operation and every later one
/// resolve to [`StoreError::Stopped`]. Dropping the last handle lets the
/// worker finish what is queued, then drop the store.
#[derive(Clone)]
pub struct StoreHandle {
    queue: mpsc::Sender<Op>,
    counters: Arc<Counters>,
    max_queued: usize,
}

impl StoreHandle {
    /// Starts a worker thread that owns `store`.
    pub fn spawn<B>(store: B, options: StoreOptions) -> Self
    where
        B: Backlog + Send + 'static,
        B::Error: Send + 'static,
    {
        let (queue, ops) = mpsc::channel();
        let counters = Arc::new(Counters::default());
        let worker = Worker::new(store, options, ops, Arc::clone(&counters));
        // Should the thread not start, the worker (and with it the queue's
        // receiver) is dropped, so every operation resolves to `Stopped`.
        if let Err(e) = std::thread::Builder::new().name("relay-store".into()).spawn(move || worker.run()) {
            tracing::error!("cannot start the store thread: {e}");
        }
        Self { queue, counters, max_queued: options.max_queued.max(1) }
    }

    /// A handle on a fresh [`MemoryBacklog`] with default options.
    pub fn memory() -> Self {
        Self::spawn(MemoryBacklog::new(), StoreOptions::default())
    }

    /// Appends `frame` to `key`'s backlog; resolves to its buffer id once the
    /// store holds it (durably, for a durable store).
    pub fn append(&self, key: BacklogKey, frame: BufferedFrame) -> StoreFuture<String> {
        self.enqueue(|done| Op::Append { key, frame, done })
    }

    /// Up to `limit` entries of `key`'s backlog after the entry `after`
    /// (from the start when `None`), in order.
    pub fn read(
        &self,
        key: BacklogKey,
        after: Option<String>,
        limit: usize,
    ) -> StoreFuture<Vec<BacklogEntry>> {
        self.enqueue(|done| Op::Read { key, after, limit, done })
    }

    /// Removes these entries of `key`; resolves to how many were there.
    ///
    /// Removals of one key that are queued together share one commit. When
    /// some of their ids were already gone, the store reports only the
    /// shared total, so that shortfall is subtracted from each of them: the
    /// count is then a lower bound.
    pub fn remove(&self, key: BacklogKey, buffer_ids: Vec<String>) -> StoreFuture<usize> {
        self.enqueue(|done| Op::Remove { key, buffer_ids, done })
    }

    /// How many entries wait for `key`.
    pub fn count(&self, key: BacklogKey) -> StoreFuture<usize> {
        self.enqueue(|done| Op::Count { key, done })
    }

    /// Resolves once every operation enqueued before it is done: before a
    /// process exits, so that removals it queued are made durable.
    pub fn flush(&self) -> StoreFuture<()> {
        self.enqueue(|done| Op::Flush { done })
    }

    /// What the worker has done so far.
    pub fn stats(&self) -> StoreStats {
        self.counters.snapshot()
    }

    /// Whether the store's last operation succeeded (true before the
    /// first): false while a network store is unreachable, say.
    pub fn is_healthy(&self) -> bool {
        self.counters.is_healthy()
    }

    fn enqueue<T>(&self, op: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> Op) -> StoreFuture<T> {
        let (done, completion) = oneshot::channel();
        if !self.counters.take_slot(self.max_queued) {
            let _ = done.send(Err(StoreError::Overloaded { limit: self.max_queued }));
            return StoreFuture { completion };
        }
        // A stopped worker has dropped the receiver: the operation comes
        // back and is dropped with its sender, which resolves it to `Stopped`.
        if self.queue.send(op(done)).is_err() {
            self.counters.taken(1);
        }
        StoreFuture { completion }
    }
}

impl fmt::Debug for StoreHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreHandle").field("stats", &self.stats()).finish_non_exhaustive()
    }
}

/// The completion of one [`StoreHandle`] operation; works on any executor.
#[must_use = "the operation runs anyway; the future only reports how it went"]
pub struct StoreFuture<T> {
    completion: oneshot::Receiver<Result<T, StoreError>>,
}

impl<T> Future for StoreFuture<T> {
    type Output = Result<T, StoreError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // A dropped sender means the worker ended before answering.
        Pin::new(&mut self.completion).poll(cx).map(|answer| answer.unwrap_or(Err(StoreError::Stopped)))
    }
}

impl<T> fmt::Debug for StoreFuture<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreFuture").finish_non_exhaustive()
    }
}
