//! `FileStore` as a `Backlog`: what it keeps, across reopening the file.

mod common;

use std::path::PathBuf;

use common::{gateway, identity, label, realistic, text, webhook};
use relay_core::connector::{Backlog, BacklogEntry};
use relay_store::{FileStore, FileStoreOptions};

fn store_path() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("backlog.redb");
    (dir, path)
}

fn ids(entries: &[BacklogEntry]) -> Vec<&str> {
    entries.iter().map(|e| e.buffer_id.as_str()).collect()
}

#[test]
fn inbound_and_forward_frames_come_back_exactly_after_reopening() {
    let (_dir, path) = store_path();
    let key = gateway("gw-1");
    let mut frames = realistic(11, 50);
    frames.insert(3, webhook("/hooks/slack"));
    frames.push(webhook("/hooks/last"));

    let mut store = FileStore::open(&path).unwrap();
    let batch = frames.iter().map(|f| (key.clone(), f.clone())).collect();
    let appended = store.append_batch(batch).unwrap();
    drop(store);

    let store = FileStore::open(&path).unwrap();
    let entries = store.entries_after(&key, None, 1000).unwrap();
    assert_eq!(ids(&entries), appended.iter().map(String::as_str).collect::<Vec<_>>());
    let read: Vec<_> = entries.into_iter().map(|e| e.frame.decoded().unwrap()).collect();
    assert_eq!(read, frames);
}

#[test]
fn ids_grow_and_never_repeat_even_after_the_log_empties_and_the_file_is_reopened() {
    let (_dir, path) = store_path();
    let key = gateway("gw");
    let mut store = FileStore::open(&path).unwrap();
    let first: Vec<String> = ["one", "two", "three"].map(|t| store.append(&key, text(t)).unwrap()).into();
    assert_eq!(first, ["1", "2", "3"]);
    assert_eq!(store.remove_batch(&key, &first).unwrap(), 3);
    assert_eq!(store.count(&key).unwrap(), 0);
    drop(store);

    let mut store = FileStore::open(&path).unwrap();
    assert_eq!(store.append(&key, text("four")).unwrap(), "4");
    assert_eq!(store.append(&gateway("other"), text("x")).unwrap(), "1", "ids are per key");
}

#[test]
fn reading_after_a_removed_id_resumes_in_order() {
    let (_dir, path) = store_path();
    let key = identity("slack", "B1");
    let mut store = FileStore::open(&path).unwrap();
    for t in ["one", "two", "three", "four"] {
        store.append(&key, text(t)).unwrap();
    }
    assert!(store.remove(&key, "2").unwrap());
    assert!(!store.remove(&key, "2").unwrap(), "a repeated ack is not an error");
    assert!(!store.remove(&key, "not-a-number").unwrap());

    let after = store.entries_after(&key, Some("2"), 10).unwrap();
    assert_eq!(after.iter().map(|e| label(&e.frame)).collect::<Vec<_>>(), ["three", "four"]);
    assert_eq!(ids(&store.entries_after(&key, Some("1"), 1).unwrap()), ["3"]);
    assert_eq!(ids(&store.entries_after(&key, None, 10).unwrap()), ["1", "3", "4"]);
    assert!(store.entries_after(&key, Some("4"), 10).unwrap().is_empty());
    assert!(store.entries_after(&key, None, 0).unwrap().is_empty());
}

#[test]
fn count_is_per_key_and_survives_reopening() {
    let (_dir, path) = store_path();
    // Keys whose parts run together differently must not share a log.
    let (a, b, c) = (identity("ab", "c"), identity("a", "bc"), gateway("abc"));
    let mut store = FileStore::open(&path).unwrap();
    let batch = vec![
        (a.clone(), text("a1")),
        (b.clone(), text("b1")),
        (a.clone(), text("a2")),
        (c.clone(), text("c1")),
    ];
    assert_eq!(store.append_batch(batch).unwrap(), ["1", "1", "2", "1"]);
    assert_eq!(store.remove_batch(&a, &["1".into(), "9".into()]).unwrap(), 1);
    drop(store);

    let store = FileStore::open(&path).unwrap();
    let counts: Vec<usize> = [&a, &b, &c, &gateway("none")].map(|k| store.count(k).unwrap()).into();
    assert_eq!(counts, [1, 1, 1, 0]);
    assert_eq!(
        store.entries_after(&a, None, 10).unwrap().iter().map(|e| label(&e.frame)).collect::<Vec<_>>(),
        ["a2"]
    );
}

#[test]
fn a_batch_is_one_commit_that_a_reopened_file_sees_whole() {
    let (_dir, path) = store_path();
    let key = gateway("gw");
    let mut store = FileStore::open(&path).unwrap();
    let batch: Vec<_> = (0..300).map(|i| (key.clone(), text(&i.to_string()))).collect();
    let appended = store.append_batch(batch).unwrap();
    assert_eq!(appended.first().map(String::as_str), Some("1"));
    assert_eq!(appended.last().map(String::as_str), Some("300"));
    drop(store);
    assert_eq!(FileStore::open(&path).unwrap().count(&key).unwrap(), 300);
}

#[test]
fn removals_waiting_for_a_sync_are_kept_by_a_clean_close() {
    let (_dir, path) = store_path();
    let key = gateway("gw");
    let options = FileStoreOptions { removals_per_sync: 1000, ..FileStoreOptions::default() };
    let mut store = FileStore::open_with(&path, options).unwrap();
    for t in ["one", "two", "three"] {
        store.append(&key, text(t)).unwrap();
    }
    assert!(store.remove(&key, "1").unwrap());
    assert_eq!(store.remove_batch(&key, &["3".into(), "3".into(), "7".into()]).unwrap(), 1);
    drop(store);

    let store = FileStore::open(&path).unwrap();
    assert_eq!(ids(&store.entries_after(&key, None, 10).unwrap()), ["2"]);
    assert_eq!(store.count(&key).unwrap(), 1);
}

#[test]
fn scattered_and_repeated_ids_are_removed_exactly() {
    let (_dir, path) = store_path();
    let key = gateway("gw");
    let mut store = FileStore::open(&path).unwrap();
    let batch = (0..100).map(|i| (key.clone(), text(&i.to_string()))).collect();
    store.append_batch(batch).unwrap();
    let acks: Vec<String> = ["5", "99", "5", "x", "50", "100", "101", "0"].map(str::to_owned).into();
    assert_eq!(store.remove_batch(&key, &acks).unwrap(), 4);
    let window: Vec<String> = (10..=20).map(|i: u32| i.to_string()).collect();
    assert_eq!(store.remove_batch(&key, &window).unwrap(), 11);
    assert_eq!(store.count(&key).unwrap(), 85);
    let left = store.entries_after(&key, Some("8"), 4).unwrap();
    assert_eq!(ids(&left), ["9", "21", "22", "23"]);
}
