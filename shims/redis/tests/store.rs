//! `RedisStore` as a `Backlog`, against a real redis-server.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::{gateway, identity, ids, label, labels, raw, realistic, text, webhook};
use relay_core::connector::Backlog;
use relay_redis::RedisStore;
use relay_redis::test_server::RedisServer;

fn store(server: &RedisServer) -> RedisStore {
    RedisStore::connect(&server.url()).unwrap()
}

/// Redis stream ids as (ms, seq), to compare their order.
fn order(id: &str) -> (u64, u64) {
    let (ms, seq) = id.split_once('-').unwrap_or_else(|| panic!("{id} is not a stream id"));
    (ms.parse().unwrap(), seq.parse().unwrap())
}

#[test]
fn inbound_and_forward_frames_come_back_exactly() {
    let server = RedisServer::start();
    let mut store = store(&server);
    let key = identity("slack", "B1:x y");
    let mut frames = realistic(11, 40);
    frames.insert(3, webhook("/hooks/slack"));
    frames.push(webhook("/hooks/last"));

    let appended = store.append_batch(frames.iter().map(|f| (key.clone(), f.clone())).collect()).unwrap();
    let entries = store.entries_after(&key, None, 1000).unwrap();
    assert_eq!(ids(&entries), appended.iter().map(String::as_str).collect::<Vec<_>>());
    let read: Vec<_> = entries.into_iter().map(|e| e.frame.decoded().unwrap()).collect();
    // Compared one by one: a whole corpus in a failure message is unreadable.
    assert_eq!(read.len(), frames.len());
    for (i, (read, pushed)) in read.iter().zip(&frames).enumerate() {
        assert!(read == pushed, "frame {i} differs: {}", label(pushed));
    }
}

#[test]
fn entries_list_in_append_order_per_key_with_growing_ids() {
    let server = RedisServer::start();
    let mut store = store(&server);
    let (a, b) = (gateway("a"), gateway("b"));
    let mut appended = Vec::new();
    for t in ["one", "two", "three", "four"] {
        appended.push(store.append(&a, text(t)).unwrap());
        store.append(&b, text(&format!("b-{t}"))).unwrap();
    }
    assert!(appended.windows(2).all(|w| order(&w[0]) < order(&w[1])), "{appended:?}");

    assert_eq!(labels(&store.entries_after(&a, None, 10).unwrap()), ["one", "two", "three", "four"]);
    assert_eq!(labels(&store.entries_after(&a, None, 2).unwrap()), ["one", "two"]);
    assert_eq!(labels(&store.entries_after(&a, Some(&appended[1]), 10).unwrap()), ["three", "four"]);
    assert!(store.entries_after(&a, Some(&appended[3]), 10).unwrap().is_empty());
    assert!(store.entries_after(&a, None, 0).unwrap().is_empty());
    assert_eq!(store.entries_after(&b, None, 10).unwrap().len(), 4);
    assert!(store.entries_after(&gateway("none"), None, 10).unwrap().is_empty());
    assert_eq!((store.count(&a).unwrap(), store.count(&gateway("none")).unwrap()), (4, 0));
}

#[test]
fn reading_after_a_removed_id_resumes_in_order() {
    let server = RedisServer::start();
    let mut store = store(&server);
    let key = gateway("gw");
    let appended: Vec<String> =
        ["one", "two", "three", "four"].map(|t| store.append(&key, text(t)).unwrap()).into();

    assert!(store.remove(&key, &appended[1]).unwrap());
    assert!(!store.remove(&key, &appended[1]).unwrap(), "a repeated ack is no error");
    assert!(!store.remove(&key, "not-an-id").unwrap());
    assert!(!store.remove(&gateway("other"), &appended[0]).unwrap());
    assert_eq!(labels(&store.entries_after(&key, Some(&appended[1]), 10).unwrap()), ["three", "four"]);
    assert_eq!(store.count(&key).unwrap(), 3);

    let batch = [appended[0].clone(), appended[1].clone(), "junk".to_owned(), appended[3].clone()];
    assert_eq!(store.remove_batch(&key, &batch).unwrap(), 2);
    assert_eq!(labels(&store.entries_after(&key, None, 10).unwrap()), ["three"]);
    assert_eq!(store.count(&key).unwrap(), 1);
}

#[test]
fn an_after_that_is_no_stream_id_reads_from_the_start() {
    let server = RedisServer::start();
    let mut store = store(&server);
    let key = gateway("gw");
    for t in ["one", "two"] {
        store.append(&key, text(t)).unwrap();
    }
    for after in ["7", "junk", "", "+", "(0-1"] {
        assert_eq!(labels(&store.entries_after(&key, Some(after), 10).unwrap()), ["one", "two"], "{after:?}");
    }
}

#[test]
fn ids_keep_growing_across_connections_and_after_the_stream_empties() {
    let server = RedisServer::start();
    let key = gateway("gw");
    let mut first = store(&server);
    let appended: Vec<String> = ["one", "two"].map(|t| first.append(&key, text(t)).unwrap()).into();
    assert_eq!(first.remove_batch(&key, &appended).unwrap(), 2);
    assert_eq!(first.count(&key).unwrap(), 0);
    drop(first);

    let mut second = store(&server);
    let next = second.append(&key, text("three")).unwrap();
    assert!(order(&next) > order(&appended[1]), "{next} after {appended:?}");
    // Reading after a removed id of the earlier connection still finds it.
    assert_eq!(labels(&second.entries_after(&key, Some(&appended[0]), 10).unwrap()), ["three"]);
}

#[test]
fn a_batch_appends_to_several_keys_in_order() {
    let server = RedisServer::start();
    let mut store = store(&server);
    let (a, b) = (gateway("a"), identity("telegram", ""));
    let batch = vec![(a.clone(), text("a1")), (b.clone(), text("b1")), (a.clone(), webhook("/a2"))];
    let appended = store.append_batch(batch).unwrap();
    assert_eq!(appended.len(), 3);
    assert_eq!(ids(&store.entries_after(&a, None, 10).unwrap()), [&appended[0], &appended[2]]);
    assert_eq!(labels(&store.entries_after(&a, None, 10).unwrap()), ["a1", "/a2"]);
    assert_eq!(ids(&store.entries_after(&b, None, 10).unwrap()), [&appended[1]]);
    assert!(store.append_batch(Vec::new()).unwrap().is_empty());
}

#[test]
fn a_batch_redis_refuses_appends_nothing() {
    let server = RedisServer::start();
    let mut store = store(&server);
    let key = gateway("gw");
    store.append(&key, text("before")).unwrap();
    // Out of memory: Redis refuses every write, so the transaction aborts.
    let mut admin = raw(&server);
    redis::cmd("CONFIG").arg("SET").arg("maxmemory").arg(1).query::<()>(&mut admin).unwrap();

    let batch =
        vec![(key.clone(), text("one")), (gateway("other"), text("two")), (key.clone(), text("three"))];
    let error = store.append_batch(batch.clone()).unwrap_err().to_string();
    let expected = format!("cannot append 3 frames to several backlogs in Redis at {}: ", server.url());
    assert!(error.starts_with(&expected) && error.contains("OOM"), "{error}");
    assert_eq!((store.count(&key).unwrap(), store.count(&gateway("other")).unwrap()), (1, 0));

    redis::cmd("CONFIG").arg("SET").arg("maxmemory").arg(0).query::<()>(&mut admin).unwrap();
    assert_eq!(store.append_batch(batch).unwrap().len(), 3);
    assert_eq!(labels(&store.entries_after(&key, None, 10).unwrap()), ["before", "one", "three"]);
}

#[test]
fn other_clients_never_see_part_of_a_batch() {
    const BATCH: usize = 64;
    let server = RedisServer::start();
    let key = gateway("gw");
    // Large enough that a batch takes Redis several reads of its socket.
    let frames = realistic(5, BATCH);
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (done, key, reader) = (Arc::clone(&done), key.clone(), store(&server));
        std::thread::spawn(move || {
            let mut seen = Vec::new();
            while !done.load(Ordering::Relaxed) {
                seen.push(reader.count(&key).unwrap());
            }
            seen
        })
    };
    let mut writer = store(&server);
    for _ in 0..20 {
        writer.append_batch(frames.iter().map(|f| (key.clone(), f.clone())).collect()).unwrap();
    }
    done.store(true, Ordering::Relaxed);
    let seen = reader.join().unwrap();
    assert!(seen.iter().all(|count| count % BATCH == 0), "a reader saw part of a batch: {seen:?}");
    assert_eq!(writer.count(&key).unwrap(), 20 * BATCH);
}

#[test]
fn an_entry_that_no_longer_decodes_is_skipped_without_shortening_the_read() {
    let server = RedisServer::start();
    let mut store = store(&server);
    let key = gateway("gw");
    store.append(&key, text("one")).unwrap();
    // Entries relay did not write, between its own.
    let mut other = raw(&server);
    for (field, value) in
        [("line", "{not json"), ("line", r#"{"type":"inbound_ack","bufferId":"1"}"#), ("x", "y")]
    {
        redis::cmd("XADD")
            .arg("relay:backlog:g:gw")
            .arg("*")
            .arg(field)
            .arg(value)
            .query::<String>(&mut other)
            .unwrap();
    }
    for t in ["two", "three"] {
        store.append(&key, text(t)).unwrap();
    }

    let entries = store.entries_after(&key, None, 2).unwrap();
    assert_eq!(labels(&entries), ["one", "two"]);
    assert_eq!(
        labels(&store.entries_after(&key, Some(&entries[0].buffer_id), 10).unwrap()),
        ["two", "three"]
    );
}

#[test]
fn connecting_where_nothing_answers_names_the_address() {
    let mut server = RedisServer::start();
    let url = server.url();
    server.stop();
    let error = RedisStore::connect(&url).unwrap_err();
    assert_eq!(error.to_string(), format!("cannot reach Redis at {url}: connection refused"));
}
