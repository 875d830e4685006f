//! `StoreHandle`: order, group commit, the per-gateway bound, and what
//! callers see when the store fails or panics.

mod common;

use std::sync::mpsc;

use common::{gateway, label, text};
use futures::executor::block_on;
use futures::future::join_all;
use relay_core::connector::{Backlog, BacklogEntry, BacklogKey, BufferedFrame, MemoryBacklog};
use relay_store::{FileStore, StoreError, StoreHandle, StoreOptions};

fn labels(entries: &[BacklogEntry]) -> Vec<String> {
    entries.iter().map(|e| label(&e.frame)).collect()
}

#[test]
fn a_read_enqueued_after_appends_sees_them_in_order() {
    let store = StoreHandle::memory();
    let key = gateway("gw");
    let appends: Vec<_> =
        ["one", "two", "three"].iter().map(|t| store.append(key.clone(), text(t))).collect();
    let read = store.read(key.clone(), None, 10);
    let removed = store.remove(key.clone(), vec!["1".into()]);
    let after = store.read(key.clone(), None, 10);
    let count = store.count(key);

    // Awaited last, resolved in enqueue order all the same.
    assert_eq!(labels(&block_on(after).unwrap()), ["two", "three"]);
    assert_eq!(labels(&block_on(read).unwrap()), ["one", "two", "three"]);
    assert_eq!(block_on(removed), Ok(1));
    assert_eq!(block_on(count), Ok(2));
    let ids: Vec<String> = block_on(join_all(appends)).into_iter().map(Result::unwrap).collect();
    assert_eq!(ids, ["1", "2", "3"]);
}

#[test]
fn appends_enqueued_together_share_commits() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::open(dir.path().join("backlog.redb")).unwrap();
    let store = StoreHandle::spawn(store, StoreOptions::default());
    let appends: Vec<_> =
        (0..500).map(|i| store.append(gateway(&format!("gw-{}", i % 5)), text(&i.to_string()))).collect();
    let ids = block_on(join_all(appends));
    assert!(ids.iter().all(Result::is_ok));

    let stats = store.stats();
    assert_eq!((stats.appended, stats.append_failures, stats.errors), (500, 0, 0));
    // Each commit syncs; the worker takes what queued up while it synced.
    assert!(stats.commits <= 25, "{} commits for 500 appends", stats.commits);
}

#[test]
fn an_append_past_the_bound_fails_full_until_an_entry_is_removed() {
    let options = StoreOptions { max_entries_per_gateway: 3, ..StoreOptions::default() };
    let store = StoreHandle::spawn(MemoryBacklog::new(), options);
    let (key, other) = (gateway("gw"), gateway("other"));
    let appends: Vec<_> = (1..=4).map(|i| store.append(key.clone(), text(&i.to_string()))).collect();
    let elsewhere = store.append(other.clone(), text("elsewhere"));

    let results = block_on(join_all(appends));
    assert_eq!(results[..3], [Ok("1".to_owned()), Ok("2".to_owned()), Ok("3".to_owned())]);
    let full = StoreError::Full { key: key.clone(), limit: 3 };
    assert_eq!(results[3], Err(full.clone()));
    assert_eq!(full.to_string(), "the backlog of gateway gw is full (3 entries)");
    assert_eq!(block_on(elsewhere), Ok("1".to_owned()), "the bound is per gateway");

    assert_eq!(block_on(store.remove(key.clone(), vec!["2".into()])), Ok(1));
    assert_eq!(
        block_on(store.append(key.clone(), text("fits"))),
        Ok("4".to_owned()),
        "a refused append took no id"
    );
    assert_eq!(block_on(store.append(key.clone(), text("not"))), Err(full));
    assert_eq!(labels(&block_on(store.read(key, None, 10)).unwrap()), ["1", "3", "fits"]);
    assert_eq!(store.stats().append_failures, 2);
}

#[test]
fn removals_queued_together_each_learn_their_count() {
    let store = StoreHandle::memory();
    let key = gateway("gw");
    let appends: Vec<_> = (0..5).map(|i| store.append(key.clone(), text(&i.to_string()))).collect();
    assert!(block_on(join_all(appends)).iter().all(Result::is_ok));
    let first = store.remove(key.clone(), vec!["1".into(), "2".into()]);
    let second = store.remove(key.clone(), vec!["3".into()]);
    let elsewhere = store.remove(gateway("other"), vec!["4".into()]);
    assert_eq!(block_on(first), Ok(2));
    assert_eq!(block_on(second), Ok(1));
    assert_eq!(block_on(elsewhere), Ok(0));
    assert_eq!(block_on(store.count(key)), Ok(2));
}

/// A store whose every write fails, as a full or broken disk would.
struct Broken;

#[derive(Debug, thiserror::Error)]
#[error("the disk is gone")]
struct Gone;

impl Backlog for Broken {
    type Error = Gone;
    fn append(&mut self, _: &BacklogKey, _: BufferedFrame) -> Result<String, Gone> {
        Err(Gone)
    }
    fn entries_after(&self, _: &BacklogKey, _: Option<&str>, _: usize) -> Result<Vec<BacklogEntry>, Gone> {
        Ok(Vec::new())
    }
    fn remove(&mut self, _: &BacklogKey, _: &str) -> Result<bool, Gone> {
        Err(Gone)
    }
    fn count(&self, _: &BacklogKey) -> Result<usize, Gone> {
        Ok(0)
    }
}

#[test]
fn when_the_store_fails_no_append_is_reported_done() {
    let store = StoreHandle::spawn(Broken, StoreOptions::default());
    let appends: Vec<_> = (0..100).map(|i| store.append(gateway("gw"), text(&i.to_string()))).collect();
    let results = block_on(join_all(appends));
    let failed = StoreError::Failed("the disk is gone".into());
    assert!(results.iter().all(|r| *r == Err(failed.clone())), "{results:?}");
    assert_eq!(failed.to_string(), "store error: the disk is gone");
    assert_eq!(block_on(store.remove(gateway("gw"), vec!["1".into()])), Err(failed));

    let stats = store.stats();
    assert_eq!((stats.appended, stats.append_failures, stats.removes), (0, 100, 1));
    assert_eq!(stats.errors, stats.commits + 1, "every batch and the removal failed");
}

/// A store that panics on its first read.
struct Panicky(MemoryBacklog);

impl Backlog for Panicky {
    type Error = std::convert::Infallible;
    fn append(&mut self, key: &BacklogKey, frame: BufferedFrame) -> Result<String, Self::Error> {
        self.0.append(key, frame)
    }
    fn entries_after(
        &self,
        _: &BacklogKey,
        _: Option<&str>,
        _: usize,
    ) -> Result<Vec<BacklogEntry>, Self::Error> {
        panic!("the store broke")
    }
    fn remove(&mut self, key: &BacklogKey, id: &str) -> Result<bool, Self::Error> {
        self.0.remove(key, id)
    }
    fn count(&self, key: &BacklogKey) -> Result<usize, Self::Error> {
        self.0.count(key)
    }
}

#[test]
fn a_panicking_store_stops_and_every_caller_hears_so() {
    let store = StoreHandle::spawn(Panicky(MemoryBacklog::new()), StoreOptions::default());
    let key = gateway("gw");
    let before = store.append(key.clone(), text("before"));
    let read = store.read(key.clone(), None, 10);
    let queued_behind = store.append(key.clone(), text("behind"));

    assert_eq!(block_on(before), Ok("1".to_owned()));
    assert_eq!(block_on(read), Err(StoreError::Stopped));
    assert_eq!(block_on(queued_behind), Err(StoreError::Stopped));
    assert_eq!(block_on(store.count(key)), Err(StoreError::Stopped), "enqueued after the stop");
    assert_eq!(StoreError::Stopped.to_string(), "the store stopped");
}

/// A memory store that says when it is dropped.
struct Watched(MemoryBacklog, mpsc::Sender<()>);

impl Drop for Watched {
    fn drop(&mut self) {
        let _ = self.1.send(());
    }
}

impl Backlog for Watched {
    type Error = std::convert::Infallible;
    fn append(&mut self, key: &BacklogKey, frame: BufferedFrame) -> Result<String, Self::Error> {
        self.0.append(key, frame)
    }
    fn entries_after(
        &self,
        key: &BacklogKey,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<BacklogEntry>, Self::Error> {
        self.0.entries_after(key, after, limit)
    }
    fn remove(&mut self, key: &BacklogKey, id: &str) -> Result<bool, Self::Error> {
        self.0.remove(key, id)
    }
    fn count(&self, key: &BacklogKey) -> Result<usize, Self::Error> {
        self.0.count(key)
    }
}

#[test]
fn dropping_the_last_handle_finishes_queued_work_then_drops_the_store() {
    let (dropped, on_drop) = mpsc::channel();
    let store = StoreHandle::spawn(Watched(MemoryBacklog::new(), dropped), StoreOptions::default());
    let copy = store.clone();
    let appends: Vec<_> = (0..50).map(|i| store.append(gateway("gw"), text(&i.to_string()))).collect();
    drop(store);
    let read = copy.read(gateway("gw"), Some("49".into()), 10);
    drop(copy);

    assert!(block_on(join_all(appends)).iter().all(Result::is_ok));
    assert_eq!(block_on(read).map(|entries| labels(&entries).concat()), Ok("49".to_owned()));
    on_drop.recv().unwrap();
}

#[test]
fn handles_and_futures_cross_threads_and_any_executor() {
    fn shareable<T: Clone + Send + Sync + std::fmt::Debug>() {}
    fn awaitable<T: std::future::Future + Send + Unpin + std::fmt::Debug>() {}
    shareable::<StoreHandle>();
    awaitable::<relay_store::StoreFuture<Vec<BacklogEntry>>>();

    let store = StoreHandle::memory();
    let elsewhere = store.clone();
    let id = std::thread::spawn(move || block_on(elsewhere.append(gateway("gw"), text("from a thread"))));
    assert_eq!(id.join().unwrap(), Ok("1".to_owned()));
    assert_eq!(block_on(store.count(gateway("gw"))), Ok(1));
}

/// A memory store whose counts (the first step of every append) wait for
/// the test's go, and say when they start waiting.
struct Stalled {
    inner: MemoryBacklog,
    waiting: mpsc::Sender<()>,
    go: mpsc::Receiver<()>,
}

impl Backlog for Stalled {
    type Error = std::convert::Infallible;
    fn append(&mut self, key: &BacklogKey, frame: BufferedFrame) -> Result<String, Self::Error> {
        self.inner.append(key, frame)
    }
    fn entries_after(
        &self,
        key: &BacklogKey,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<BacklogEntry>, Self::Error> {
        self.inner.entries_after(key, after, limit)
    }
    fn remove(&mut self, key: &BacklogKey, id: &str) -> Result<bool, Self::Error> {
        self.inner.remove(key, id)
    }
    fn count(&self, key: &BacklogKey) -> Result<usize, Self::Error> {
        let _ = self.waiting.send(());
        let _ = self.go.recv();
        self.inner.count(key)
    }
}

#[test]
fn operations_past_the_queue_bound_fail_at_once_and_the_rest_complete() {
    let (waiting, stalls) = mpsc::channel();
    let (go, gate) = mpsc::channel();
    let store = Stalled { inner: MemoryBacklog::new(), waiting, go: gate };
    let store = StoreHandle::spawn(store, StoreOptions { max_queued: 4, ..StoreOptions::default() });
    let first = store.append(gateway("gw"), text("first"));
    stalls.recv().unwrap(); // the worker took it and waits
    let queued: Vec<_> = (0..4).map(|i| store.append(gateway("gw"), text(&format!("queued {i}")))).collect();
    let refused = store.append(gateway("gw"), text("refused"));
    assert_eq!(block_on(refused), Err(StoreError::Overloaded { limit: 4 }));
    assert_eq!(
        StoreError::Overloaded { limit: 4 }.to_string(),
        "the store is overloaded (4 operations waiting)"
    );
    for _ in 0..8 {
        go.send(()).unwrap();
    }
    assert_eq!(block_on(first), Ok("1".to_owned()));
    assert!(block_on(join_all(queued)).iter().all(Result::is_ok), "the queued ones complete");
    // Room again once the worker took them.
    let read = block_on(store.read(gateway("gw"), None, 10)).unwrap();
    assert_eq!(labels(&read), ["first", "queued 0", "queued 1", "queued 2", "queued 3"]);
}

#[test]
fn a_flush_resolves_once_everything_before_it_is_done() {
    use futures::FutureExt as _;
    let store = StoreHandle::memory();
    let appends: Vec<_> = (0..50).map(|i| store.append(gateway("gw"), text(&i.to_string()))).collect();
    let removal = store.remove(gateway("gw"), vec!["1".into()]);
    assert_eq!(block_on(store.flush()), Ok(()));
    for append in appends {
        assert!(append.now_or_never().is_some_and(|r| r.is_ok()), "done before the flush");
    }
    assert_eq!(removal.now_or_never(), Some(Ok(1)));
}
