//! Throughput and memory of the file store, measured and printed (nothing
//! is asserted).
//!
//! ```sh
//! cargo bench -p relay-store --bench store            # pushes and replay
//! cargo bench -p relay-store --bench store -- memory  # 1,000,000 entries, peak RSS
//! ```
//!
//! Frames are the seeded inbound corpus of `relay_core::bench`; files go in
//! a temporary directory (set `TMPDIR` to measure another disk).

use std::collections::VecDeque;
use std::time::Instant;

use futures::executor::block_on;
use relay_core::bench::Generator;
use relay_core::connector::{Backlog, BacklogKey, BufferedFrame};
use relay_core::wire::Frame;
use relay_store::{FileStore, StoreFuture, StoreHandle, StoreOptions};

/// Distinct frames; longer runs cycle through them.
const CORPUS: usize = 4096;

fn main() {
    let corpus = corpus();
    if std::env::args().any(|arg| arg == "memory") {
        memory(&corpus);
    } else {
        pushes(&corpus);
        replay(&corpus);
    }
}

fn corpus() -> Vec<BufferedFrame> {
    Generator::new(42)
        .inbound_corpus(CORPUS)
        .iter()
        .filter_map(|line| match Frame::decode(line.trim_end().as_bytes(), None) {
            Ok(Frame::Inbound(inbound)) => Some(BufferedFrame::Inbound(inbound.event)),
            _ => None,
        })
        .collect()
}

fn key(n: usize) -> BacklogKey {
    BacklogKey::Gateway(format!("gateway-{n}"))
}

fn unbounded() -> StoreOptions {
    StoreOptions { max_entries_per_gateway: usize::MAX, ..StoreOptions::default() }
}

/// Buffered pushes through a handle: 256 appends in flight at all times
/// (enqueue, await the oldest, enqueue the next), spread over 8 gateways.
fn pushes(corpus: &[BufferedFrame]) {
    const FRAMES: usize = 100_000;
    const IN_FLIGHT: usize = 256;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = FileStore::open(dir.path().join("pushes.redb")).expect("a new store");
    let store = StoreHandle::spawn(store, unbounded());
    let start = Instant::now();
    let mut in_flight: VecDeque<StoreFuture<String>> = VecDeque::with_capacity(IN_FLIGHT);
    for i in 0..FRAMES {
        if in_flight.len() == IN_FLIGHT {
            block_on(in_flight.pop_front().expect("a pending append")).expect("an append");
        }
        in_flight.push_back(store.append(key(i % 8), corpus[i % corpus.len()].clone()));
    }
    for append in in_flight {
        block_on(append).expect("an append");
    }
    let elapsed = start.elapsed().as_secs_f64();
    let stats = store.stats();
    println!(
        "pushes: {FRAMES} frames, {IN_FLIGHT} in flight: {:.0} frames/s, {:.4} syncs per frame ({} commits)",
        FRAMES as f64 / elapsed,
        stats.commits as f64 / stats.appended as f64,
        stats.commits,
    );
}

/// Ack-gated replay of one gateway's 100,000 entries: read 64 after the
/// cursor, remove those 64, repeat.
fn replay(corpus: &[BufferedFrame]) {
    const ENTRIES: usize = 100_000;
    const WINDOW: usize = 64;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("replay.redb");
    let gateway = key(0);
    let mut store = FileStore::open(&path).expect("a new store");
    fill(&mut store, &gateway, corpus, ENTRIES);
    let store = StoreHandle::spawn(store, unbounded());

    let start = Instant::now();
    let (mut cursor, mut replayed) = (None, 0);
    loop {
        let entries = block_on(store.read(gateway.clone(), cursor.take(), WINDOW)).expect("a read");
        let Some(last) = entries.last() else { break };
        cursor = Some(last.buffer_id.clone());
        replayed += entries.len();
        // Like the connector, the removal is not awaited: the next read,
        // enqueued after it, runs after it.
        let acked = store.remove(gateway.clone(), entries.into_iter().map(|e| e.buffer_id).collect());
        drop(acked);
    }
    let elapsed = start.elapsed().as_secs_f64();
    let left = block_on(store.count(gateway)).expect("a count");
    println!(
        "replay: {replayed} entries, window {WINDOW}: {:.0} entries/s ({left} left)",
        replayed as f64 / elapsed
    );
}

/// Appends `n` entries to `key` in batches of 1000, outside any timing.
fn fill(store: &mut FileStore, key: &BacklogKey, corpus: &[BufferedFrame], n: usize) {
    for start in (0..n).step_by(1000) {
        let batch =
            (start..n.min(start + 1000)).map(|i| (key.clone(), corpus[i % corpus.len()].clone())).collect();
        store.append_batch(batch).expect("a batch");
    }
}

/// A million entries in, then read through once; prints the peak RSS.
fn memory(corpus: &[BufferedFrame]) {
    const ENTRIES: usize = 1_000_000;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("memory.redb");
    let gateway = key(0);
    let rss_start = peak_rss();
    let mut store = FileStore::open(&path).expect("a new store");
    let start = Instant::now();
    fill(&mut store, &gateway, corpus, ENTRIES);
    let filled = start.elapsed().as_secs_f64();
    let after_fill = peak_rss();

    let start = Instant::now();
    let (mut cursor, mut read) = (None::<String>, 0);
    loop {
        let entries = store.entries_after(&gateway, cursor.as_deref(), 1000).expect("a read");
        let Some(last) = entries.last() else { break };
        cursor = Some(last.buffer_id.clone());
        read += entries.len();
    }
    let read_secs = start.elapsed().as_secs_f64();
    drop(store);
    let file_mib = std::fs::metadata(&path).map_or(0, |m| m.len()) >> 20;

    let start = Instant::now();
    let store = FileStore::open(&path).expect("the store again");
    let reopened = start.elapsed().as_secs_f64();
    let count = store.count(&gateway).expect("a count");
    println!(
        "memory: {ENTRIES} appended in {filled:.1} s, {read} read in {read_secs:.1} s, file {file_mib} MiB, \
         reopened (verifying every page) in {reopened:.1} s with {count} entries"
    );
    println!(
        "memory: peak RSS {} MiB (corpus loaded: {} MiB, after appending: {} MiB)",
        peak_rss() >> 10,
        rss_start >> 10,
        after_fill >> 10,
    );
}

/// The process's peak resident set (VmHWM), in KiB.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}
