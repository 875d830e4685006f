//! `RedisFabric`: claims and announcements between instances on one Redis.

mod common;

use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use common::{gateway, identity, listener};
use futures::executor::block_on;
use relay_core::connector::BacklogKey;
use relay_driver::{Fabric, Holder};
use relay_redis::test_server::RedisServer;
use relay_redis::{FabricOptions, RedisFabric};

/// Long enough that no sweep comes in the middle of a test.
const NO_SWEEP: Duration = Duration::from_secs(60);

fn fabric(server: &RedisServer, instance: &str, options: FabricOptions) -> RedisFabric {
    RedisFabric::connect(&server.url(), instance, options).unwrap()
}

fn default_fabric(server: &RedisServer, instance: &str) -> RedisFabric {
    fabric(server, instance, FabricOptions { sweep: NO_SWEEP, ..FabricOptions::default() })
}

fn holder(fabric: &RedisFabric, key: &BacklogKey) -> Option<(String, bool)> {
    block_on(fabric.holder(key)).unwrap().map(|Holder { instance, live }| (instance, live))
}

/// Waits until the instance's queued commands ran: its own read of the
/// claim runs after them.
fn settle(fabric: &RedisFabric, key: &BacklogKey) {
    holder(fabric, key);
}

fn held_by(instance: &str, live: bool) -> Option<(String, bool)> {
    Some((instance.to_owned(), live))
}

fn next(heard: &Receiver<BacklogKey>, within: Duration) -> Option<BacklogKey> {
    heard.recv_timeout(within).ok()
}

#[test]
fn a_hold_is_seen_by_another_instance_until_it_is_released() {
    let server = RedisServer::start();
    let (a, b) = (default_fabric(&server, "a"), default_fabric(&server, "b"));
    let key = identity("slack", "B1");
    assert_eq!(holder(&b, &key), None);

    a.hold(&key, true);
    settle(&a, &key);
    assert_eq!(holder(&b, &key), held_by("a", true));
    a.hold(&key, false);
    settle(&a, &key);
    assert_eq!(holder(&b, &key), held_by("a", false));

    a.release(&key);
    settle(&a, &key);
    assert_eq!(holder(&b, &key), None);
}

#[test]
fn a_release_leaves_the_claim_another_instance_took_since() {
    let server = RedisServer::start();
    let (a, b) = (default_fabric(&server, "a"), default_fabric(&server, "b"));
    let key = gateway("gw");
    a.hold(&key, true);
    settle(&a, &key);
    b.hold(&key, true);
    settle(&b, &key);

    a.release(&key);
    settle(&a, &key);
    assert_eq!(holder(&a, &key), held_by("b", true));
}

#[test]
fn an_update_changes_only_this_instances_claim() {
    let server = RedisServer::start();
    let (a, b) = (default_fabric(&server, "a"), default_fabric(&server, "b"));
    let key = gateway("gw");
    a.hold(&key, false);
    a.update(&key, true);
    settle(&a, &key);
    assert_eq!(holder(&b, &key), held_by("a", true));
    // The gateway moved to B; A's old connection, which has not noticed,
    // goes idle and live again: the claim stays B's.
    b.hold(&key, true);
    settle(&b, &key);
    a.update(&key, false);
    a.update(&key, true);
    settle(&a, &key);
    assert_eq!(holder(&a, &key), held_by("b", true));
    b.update(&key, false);
    settle(&b, &key);
    assert_eq!(holder(&a, &key), held_by("b", false));
}

#[test]
fn claims_outlive_their_lease_while_refreshed_and_lapse_once_their_instance_is_gone() {
    let server = RedisServer::start();
    let lease = Duration::from_millis(500);
    let a = fabric(&server, "a", FabricOptions { lease, sweep: NO_SWEEP, ..FabricOptions::default() });
    let b = default_fabric(&server, "b");
    let key = gateway("gw");
    a.hold(&key, true);
    settle(&a, &key);

    std::thread::sleep(lease * 3);
    assert_eq!(holder(&b, &key), held_by("a", true), "refreshed");

    // Gone without releasing, as if its process died.
    drop(a);
    let gone = Instant::now();
    while holder(&b, &key).is_some() {
        assert!(gone.elapsed() < lease * 2, "the claim outlived its lease");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn announcements_reach_only_the_instance_holding_the_gateway() {
    let server = RedisServer::start();
    let (a, b) = (default_fabric(&server, "a"), default_fabric(&server, "b"));
    let (held, other) = (gateway("held-by-a"), gateway("held-by-nobody"));
    a.hold(&held, true);
    let (listen, heard, _) = listener();
    a.subscribe(listen);
    // Once subscribed, A reads every gateway it holds.
    assert_eq!(next(&heard, Duration::from_secs(5)), Some(held.clone()));

    b.announce_append(&other);
    b.announce_append(&held);
    assert_eq!(next(&heard, Duration::from_secs(5)), Some(held.clone()));
    assert_eq!(next(&heard, Duration::from_millis(300)), None);

    a.release(&held);
    settle(&a, &held);
    b.announce_append(&held);
    assert_eq!(next(&heard, Duration::from_millis(300)), None, "released");
}

#[test]
fn a_session_noted_on_one_instance_names_its_gateway_on_another() {
    let server = RedisServer::start();
    let (a, b) = (default_fabric(&server, "a"), default_fabric(&server, "b"));
    let (gw1, gw2) = (gateway("gw-1"), identity("slack", "B 1"));
    a.note_session("agent:main:telegram:dm:111", &gw1);
    settle(&a, &gw1);
    assert_eq!(block_on(b.session_owner("agent:main:telegram:dm:111")), Ok(Some(gw1)));
    // The newest owner wins, whoever noted it.
    b.note_session("agent:main:telegram:dm:111", &gw2);
    settle(&b, &gw2);
    assert_eq!(block_on(a.session_owner("agent:main:telegram:dm:111")), Ok(Some(gw2)));
    assert_eq!(block_on(a.session_owner("agent:main:never")), Ok(None));
}

#[test]
fn an_interrupt_reaches_only_the_instance_holding_the_gateway() {
    let server = RedisServer::start();
    let (a, b, c) =
        (default_fabric(&server, "a"), default_fabric(&server, "b"), default_fabric(&server, "c"));
    let key = gateway("gw");
    a.hold(&key, true);
    let (listen_a, _, interrupts_a) = listener();
    let (listen_c, _, interrupts_c) = listener();
    a.subscribe(listen_a);
    c.subscribe(listen_c);
    // Each subscriber sweeps once it is subscribed; an interrupt sent
    // before that would be lost, as news on pub/sub is.
    std::thread::sleep(Duration::from_millis(300));
    b.send_interrupt(&key, "agent:main:telegram:dm:1", "chat 1");
    let heard = interrupts_a.recv_timeout(Duration::from_secs(5)).expect("A hears it");
    let expected = relay_driver::News::Interrupt {
        to: key,
        session_key: "agent:main:telegram:dm:1".into(),
        chat_id: "chat 1".into(),
    };
    assert_eq!(heard, expected);
    assert!(interrupts_c.recv_timeout(Duration::from_millis(300)).is_err(), "C holds nothing");
}

#[test]
fn a_burst_of_appends_to_one_gateway_announces_it_at_least_once() {
    let server = RedisServer::start();
    let (a, b) = (default_fabric(&server, "a"), default_fabric(&server, "b"));
    let key = gateway("gw");
    a.hold(&key, true);
    let (listen, heard, _) = listener();
    a.subscribe(listen);
    assert_eq!(next(&heard, Duration::from_secs(5)), Some(key.clone()), "the first sweep");
    for _ in 0..1000 {
        b.announce_append(&key);
    }
    assert_eq!(next(&heard, Duration::from_secs(5)), Some(key.clone()));
    let mut more = 0;
    while next(&heard, Duration::from_millis(300)).is_some() {
        more += 1;
    }
    assert!(more < 999, "queued announcements of one key are coalesced ({} heard)", more + 1);
    // One more append after the burst was sent is announced again.
    b.announce_append(&key);
    assert_eq!(next(&heard, Duration::from_secs(5)), Some(key));
}

#[test]
fn the_listener_hears_of_every_held_gateway_at_each_sweep() {
    let server = RedisServer::start();
    let sweep = Duration::from_millis(300);
    let a = fabric(&server, "a", FabricOptions { sweep, ..FabricOptions::default() });
    let (one, two) = (gateway("one"), gateway("two"));
    a.hold(&one, true);
    a.hold(&two, false);
    let (listen, heard, _) = listener();
    a.subscribe(listen);

    let start = Instant::now();
    let calls: Vec<BacklogKey> = (0..6).map_while(|_| next(&heard, Duration::from_secs(2))).collect();
    assert_eq!(calls, [&one, &two, &one, &two, &one, &two].map(Clone::clone));
    assert!(start.elapsed() >= sweep * 2, "three rounds take two sweeps: {:?}", start.elapsed());
}

#[test]
fn the_subscription_resumes_after_redis_restarts() {
    let mut server = RedisServer::start();
    let (a, b) = (default_fabric(&server, "a"), default_fabric(&server, "b"));
    let key = gateway("gw");
    a.hold(&key, true);
    let (listen, heard, _) = listener();
    a.subscribe(listen);
    assert_eq!(next(&heard, Duration::from_secs(5)), Some(key.clone()));

    server.restart();
    // Subscribed again: announcements made meanwhile may be lost, so A
    // reads what it holds.
    assert_eq!(next(&heard, Duration::from_secs(5)), Some(key.clone()));
    b.announce_append(&key);
    assert_eq!(next(&heard, Duration::from_secs(5)), Some(key.clone()));
}

#[test]
fn holder_fails_with_a_sentence_while_redis_is_stopped_and_works_once_it_is_back() {
    let mut server = RedisServer::start();
    let a = default_fabric(&server, "a");
    let key = gateway("gw");
    a.hold(&key, true);
    settle(&a, &key);

    server.stop();
    let error = block_on(a.holder(&key)).unwrap_err();
    assert_eq!(
        error,
        format!("cannot read who holds gateway gw from Redis at {}: connection refused", server.url())
    );

    server.restart();
    // The claim was persisted; the refresh keeps it.
    assert_eq!(holder(&a, &key), held_by("a", true));
}

#[test]
fn connecting_where_nothing_answers_names_the_address() {
    let mut server = RedisServer::start();
    let url = server.url();
    server.stop();
    let error = RedisFabric::connect(&url, "a", FabricOptions::default()).unwrap_err();
    assert_eq!(error.to_string(), format!("cannot reach Redis at {url}: connection refused"));
}

#[test]
fn random_instance_ids_are_twelve_hex_digits_and_differ() {
    let (one, two) = (RedisFabric::random_instance_id(), RedisFabric::random_instance_id());
    assert!(one.len() == 12 && one.bytes().all(|b| b.is_ascii_hexdigit()), "{one}");
    assert_ne!(one, two);
}
