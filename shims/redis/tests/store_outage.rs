//! `RedisStore` when Redis stops, stalls, crashes and comes back.

mod common;

use std::time::{Duration, Instant};

use common::{gateway, labels, raw, text};
use relay_core::connector::Backlog;
use relay_redis::test_server::RedisServer;
use relay_redis::{RedisStore, RedisStoreOptions};

/// `call`'s result and how long it took.
fn timed<T>(call: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let result = call();
    (result, start.elapsed())
}

#[test]
fn calls_fail_while_redis_is_stopped_and_work_again_once_it_is_back() {
    let mut server = RedisServer::start();
    let key = gateway("gw");
    let mut store = RedisStore::connect(&server.url()).unwrap();
    let first = store.append(&key, text("one")).unwrap();

    server.stop();
    let refused = format!("in Redis at {}: connection refused", server.url());
    // The kept connection finds the server gone (an append never retries:
    // its reply may have been lost after Redis applied it).
    let (appended, took) = timed(|| store.append(&key, text("lost")));
    let error = appended.unwrap_err().to_string();
    assert!(
        error.starts_with(&format!(
            "cannot append to the backlog of gateway gw in Redis at {}: ",
            server.url()
        ))
    );
    assert!(took < Duration::from_secs(2), "{took:?}");
    let (appended, _) = timed(|| store.append(&key, text("lost")));
    assert_eq!(
        appended.unwrap_err().to_string(),
        format!("cannot append to the backlog of gateway gw {refused}")
    );
    let read = store.entries_after(&key, None, 10).unwrap_err().to_string();
    assert_eq!(read, format!("cannot read the backlog of gateway gw {refused}"));
    assert_eq!(
        store.count(&key).unwrap_err().to_string(),
        format!("cannot count the backlog of gateway gw {refused}")
    );
    let removed = store.remove(&key, &first).unwrap_err().to_string();
    assert_eq!(removed, format!("cannot remove from the backlog of gateway gw {refused}"));
    let batch = store.append_batch(vec![(key.clone(), text("lost"))]).unwrap_err().to_string();
    assert_eq!(batch, format!("cannot append 1 frame to the backlog of gateway gw {refused}"));

    // The same store, with nothing done to it.
    server.restart();
    store.append(&key, text("two")).unwrap();
    assert_eq!(labels(&store.entries_after(&key, None, 10).unwrap()), ["one", "two"]);
}

#[test]
fn the_first_read_after_redis_restarted_reconnects_by_itself() {
    let mut server = RedisServer::start();
    let key = gateway("gw");
    let mut store = RedisStore::connect(&server.url()).unwrap();
    store.append(&key, text("one")).unwrap();
    server.restart();
    // Its connection broke while it was idle; the read finds out and retries.
    assert_eq!(store.count(&key).unwrap(), 1);
    assert_eq!(labels(&store.entries_after(&key, None, 10).unwrap()), ["one"]);
}

#[test]
fn a_redis_that_stops_answering_fails_calls_within_the_timeout() {
    let server = RedisServer::start();
    let key = gateway("gw");
    let options = RedisStoreOptions { timeout: Duration::from_millis(300) };
    let mut store = RedisStore::connect_with(&server.url(), options).unwrap();
    store.append(&key, text("one")).unwrap();

    let mut admin = raw(&server);
    let paused = Instant::now();
    redis::cmd("CLIENT").arg("PAUSE").arg(1500).arg("ALL").query::<()>(&mut admin).unwrap();
    let (count, took) = timed(|| store.count(&key));
    let error = count.unwrap_err().to_string();
    assert_eq!(
        error,
        format!(
            "cannot count the backlog of gateway gw in Redis at {}: no answer within 300ms",
            server.url()
        )
    );
    assert!(took < Duration::from_millis(1000), "{took:?}");
    let (read, took) = timed(|| store.entries_after(&key, None, 10));
    assert!(read.is_err() && took < Duration::from_millis(1000), "{read:?} after {took:?}");

    // Once Redis answers again, no late reply is taken for a new call's.
    std::thread::sleep(Duration::from_millis(1600).saturating_sub(paused.elapsed()));
    store.append(&key, text("two")).unwrap();
    assert_eq!(store.count(&key).unwrap(), 2);
    assert_eq!(labels(&store.entries_after(&key, None, 10).unwrap()), ["one", "two"]);
}

#[test]
fn every_acknowledged_append_survives_a_redis_crash() {
    let mut server = RedisServer::start();
    let (a, b) = (gateway("a"), gateway("b"));
    let mut store = RedisStore::connect(&server.url()).unwrap();
    let mut acknowledged = Vec::new();
    for round in 0..20 {
        acknowledged.push(store.append(&a, text(&format!("single {round}"))).unwrap());
        let batch =
            (0..10).map(|i| (if i % 2 == 0 { a.clone() } else { b.clone() }, text(&format!("{round}.{i}"))));
        acknowledged.extend(store.append_batch(batch.collect()).unwrap());
    }
    let before: Vec<_> = [&a, &b].map(|key| store.entries_after(key, None, 1000).unwrap()).into();

    // SIGKILL: Redis writes nothing more. It replied to each append only
    // after writing it to the append-only file.
    server.kill();
    server.restart();
    let after: Vec<_> = [&a, &b].map(|key| store.entries_after(key, None, 1000).unwrap()).into();
    assert_eq!(after, before);
    assert_eq!(after.iter().map(Vec::len).sum::<usize>(), acknowledged.len());
    let last = store.append(&a, text("after the crash")).unwrap();
    assert_eq!(
        store.entries_after(&a, Some(&before[0].last().unwrap().buffer_id), 10).unwrap()[0].buffer_id,
        last
    );
}
