//! Ack-gated backlog replay on the next handshake (PROTOCOL §8).

use rand::{Rng as _, SeedableRng as _};
use rand_chacha::ChaCha8Rng;

use super::*;
use crate::connector::{Backlog, BacklogKey, BufferedFrame, PushOutcome};

fn key() -> BacklogKey {
    BacklogKey::Identity(Identity::new("telegram", "b1"))
}

/// A store holding `count` events named `e1`, `e2`, … for [`key`].
fn backlog_of(count: usize) -> MemoryBacklog {
    let mut backlog = MemoryBacklog::new();
    for i in 1..=count {
        backlog.append(&key(), BufferedFrame::Inbound(Box::new(event("1", &format!("e{i}"))))).unwrap();
    }
    backlog
}

/// A new connection of `telegram:b1` finding `backlog`; returns what the handshake and first sync sent.
fn reconnect(config: ConnectorConfig, backlog: MemoryBacklog) -> (Rig, Vec<Action>) {
    let mut rig = Rig::with_backlog(config, None, backlog);
    rig.input(&hello("telegram", "b1"));
    rig.m.answer_hello(rig.now, descriptor("telegram")).unwrap();
    rig.sync();
    let actions = rig.drain();
    (rig, actions)
}

fn window(size: usize) -> ConnectorConfig {
    ConnectorConfig { replay_window: size, ..ConnectorConfig::default() }
}

/// Buffer ids of the replayed `inbound` frames.
fn ids(actions: &[Action]) -> Vec<String> {
    inbound_texts(actions).into_iter().filter_map(|(_, id)| id).collect()
}

fn strings(range: impl IntoIterator<Item = usize>) -> Vec<String> {
    range.into_iter().map(|i| i.to_string()).collect()
}

/// Acks `buffer_id`, syncs, and returns what followed.
fn ack_and_sync(rig: &mut Rig, buffer_id: &str) -> Vec<Action> {
    rig.input(&ack(buffer_id));
    rig.sync();
    rig.drain()
}

#[test]
fn two_hundred_entries_replay_in_order_through_a_window_of_64_with_acks_in_any_order() {
    let (mut rig, actions) = reconnect(ConnectorConfig::default(), backlog_of(200));
    assert_eq!(actions[..2], [hello_event("telegram", "b1"), descriptor_sent("telegram")]);
    assert_eq!(ids(&actions), strings(1..=64), "the first window");
    assert_eq!(inbound_texts(&actions)[0].0, "e1");
    assert_eq!(rig.m.replay_in_flight(), 64);

    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut in_flight: Vec<String> = strings(1..=64);
    let mut replayed = strings(1..=64);
    let mut live_events = 0;
    while !in_flight.is_empty() {
        let acked = in_flight.swap_remove(rng.random_range(0..in_flight.len()));
        let actions = ack_and_sync(&mut rig, &acked);
        assert_eq!(actions[0], deliver(Event::InboundAck { buffer_id: acked, replayed: true }));
        let more = ids(&actions);
        assert!(more.len() <= 1, "one ack frees one slot: {more:?}");
        in_flight.extend(more.iter().cloned());
        replayed.extend(more);
        assert!(rig.m.replay_in_flight() <= 64);
        assert_eq!(rig.m.replay_in_flight(), in_flight.len());
        live_events += actions.iter().filter(|a| **a == deliver(Event::Live)).count();
    }
    assert_eq!(replayed, strings(1..=200), "every entry exactly once, in order");
    assert_eq!(live_events, 1);
    assert!(rig.m.is_live());
    assert!(rig.backlog.is_empty(&key()));
    assert_eq!(rig.m.stats().replayed, 200);
    assert_eq!(rig.m.stats().acked, 200);
}

#[test]
fn a_gateway_that_dies_mid_replay_gets_every_unacked_entry_again_in_order() {
    let (mut rig, actions) = reconnect(window(4), backlog_of(10));
    assert_eq!(ids(&actions), strings(1..=4));
    assert_eq!(ids(&ack_and_sync(&mut rig, "2")), ["5"]);
    assert_eq!(ids(&ack_and_sync(&mut rig, "4")), ["6"]);
    // An ack arrives, and the socket dies before the store performed its
    // removal: the removal was asked for before `Closed`, so it still happens.
    rig.input(&ack("3"));
    rig.m.handle_transport_closed(rig.now, None);
    let actions = rig.drain();
    assert_eq!(ids(&actions), Vec::<String>::new(), "nothing is sent after the end");
    assert!(matches!(actions.last(), Some(Action::Closed(_))));
    assert!(!rig.m.is_reading_backlog());
    assert_eq!(rig.backlog.buffer_ids(&key()), ["1", "5", "6", "7", "8", "9", "10"]);

    let (mut next, actions) = reconnect(window(4), rig.backlog);
    assert_eq!(ids(&actions), ["1", "5", "6", "7"]);
    let mut replayed = ids(&actions);
    for id in ["7", "1", "6", "5", "8", "9", "10"] {
        replayed.extend(ids(&ack_and_sync(&mut next, id)));
    }
    assert_eq!(replayed, ["1", "5", "6", "7", "8", "9", "10"]);
    assert!(next.m.is_live());
    assert!(next.backlog.is_empty(&key()));
}

#[test]
fn live_pushes_during_a_replay_queue_behind_it() {
    let (mut rig, actions) = reconnect(window(2), backlog_of(3));
    assert_eq!(ids(&actions), ["1", "2"]);
    let push = |rig: &mut Rig, text: &str| match rig.m.push_inbound(rig.now, event("1", text), None) {
        Ok(PushOutcome::AppendToBacklog(frame)) => rig.backlog.append(&key(), frame).unwrap(),
        other => panic!("expected AppendToBacklog, got {other:?}"),
    };
    push(&mut rig, "live-a");
    assert_eq!(inbound_texts(&ack_and_sync(&mut rig, "1")), [("e3".into(), Some("3".into()))]);
    assert_eq!(inbound_texts(&ack_and_sync(&mut rig, "2")), [("live-a".into(), Some("4".into()))]);
    push(&mut rig, "live-b");
    assert!(!rig.m.is_reading_backlog(), "3 and 4 fill the window");
    assert_eq!(inbound_texts(&ack_and_sync(&mut rig, "3")), [("live-b".into(), Some("5".into()))]);
    assert_eq!(
        ack_and_sync(&mut rig, "5").last(),
        Some(&deliver(Event::InboundAck { buffer_id: "5".into(), replayed: true })),
        "4 is still out"
    );
    let actions = ack_and_sync(&mut rig, "4");
    assert_eq!(actions.last(), Some(&deliver(Event::Live)));

    assert_eq!(rig.m.push_inbound(rig.now, event("1", "live-c"), None), Ok(PushOutcome::Sent));
    assert_eq!(inbound_texts(&rig.drain()), [("live-c".into(), None)], "live frames carry no bufferId");
}

#[test]
fn going_idle_mid_replay_stops_sending_but_keeps_taking_acks() {
    let (mut rig, _) = reconnect(window(2), backlog_of(5));
    rig.input("{\"type\":\"going_idle\"}\n");
    rig.drain();
    let actions = ack_and_sync(&mut rig, "1");
    assert_eq!(actions, [deliver(Event::InboundAck { buffer_id: "1".into(), replayed: true })]);
    assert_eq!(rig.backlog.buffer_ids(&key()), ["2", "3", "4", "5"]);
}

#[test]
fn a_repeated_ack_is_not_a_replayed_frame() {
    let (mut rig, _) = reconnect(window(2), backlog_of(3));
    ack_and_sync(&mut rig, "1");
    let actions = ack_and_sync(&mut rig, "1");
    assert_eq!(actions, [deliver(Event::InboundAck { buffer_id: "1".into(), replayed: false })]);
    assert_eq!(rig.m.replay_in_flight(), 2, "2 and 3");
}

#[test]
fn a_failed_read_is_reported_and_asked_again_after_the_retry_wait() {
    let mut rig = Rig::with_backlog(window(2), None, backlog_of(3));
    rig.input(&hello("telegram", "b1"));
    rig.m.answer_hello(rig.now, descriptor("telegram")).unwrap();
    let read = StoreRequest::Read { key: key(), after: None, limit: 2 };
    let actions: Vec<Action> = std::iter::from_fn(|| rig.m.poll_action()).collect();
    assert_eq!(actions.last(), Some(&Action::Store(read.clone())));
    let failure = crate::connector::StoreFailure("disk unreadable".into());
    rig.m.handle_backlog_read(rig.now, Err(failure.clone()));
    assert_eq!(rig.drain(), [deliver(Event::StoreFailed(failure))]);
    assert_eq!(rig.m.stats().store_failures, 1);
    assert_eq!(rig.m.poll_timeout(), Some(rig.start + Duration::from_secs(1)), "the retry comes first");
    rig.m.handle_backlog_read(rig.now, Ok(Vec::new()));
    assert_eq!(rig.drain(), [], "an answer with no read out is ignored");

    rig.advance(Duration::from_secs(1));
    rig.m.handle_timeout(rig.now);
    assert_eq!(ids(&rig.drain()), ["1", "2"], "the same read again");
    assert_eq!(rig.store_log.last(), Some(&read));
}

#[test]
fn an_entry_whose_removal_failed_is_replayed_on_the_next_connection() {
    let (mut rig, _) = reconnect(window(4), backlog_of(2));
    rig.input(&ack("1"));
    rig.input(&ack("2"));
    // The store lost the first removal; the second went through.
    let mut removals = Vec::new();
    while let Some(action) = rig.m.poll_action() {
        if let Action::Store(StoreRequest::Remove { buffer_ids, .. }) = action {
            removals.extend(buffer_ids);
        } else if let Action::Store(request) = action {
            serve_request(&mut rig.m, rig.now, request, &mut rig.backlog).unwrap();
        }
    }
    assert_eq!(removals, ["1", "2"]);
    rig.backlog.remove(&key(), "2").unwrap();
    assert!(rig.m.is_live());

    let (_, actions) = reconnect(window(4), rig.backlog);
    assert_eq!(ids(&actions), ["1"], "delivered again: at-least-once");
}

#[test]
fn entries_another_instance_appended_are_replayed_before_live_pushes_resume() {
    let (mut rig, _) = reconnect(window(4), MemoryBacklog::new());
    assert!(rig.m.is_live());
    // Another connector instance appended two entries to the shared store.
    for text in ["far-1", "far-2"] {
        rig.backlog.append(&key(), BufferedFrame::Inbound(Box::new(event("1", text)))).unwrap();
    }
    rig.m.handle_backlog_appended(rig.now);
    assert!(rig.m.is_replaying());
    let near = match rig.m.push_inbound(rig.now, event("1", "near"), None) {
        Ok(PushOutcome::AppendToBacklog(frame)) => frame,
        other => panic!("a local push queues behind the new entries: {other:?}"),
    };
    rig.backlog.append(&key(), near).unwrap();
    let actions = rig.drain();
    assert_eq!(
        inbound_texts(&actions),
        [
            ("far-1".into(), Some("1".into())),
            ("far-2".into(), Some("2".into())),
            ("near".into(), Some("3".into()))
        ]
    );
    for id in ["1", "2"] {
        ack_and_sync(&mut rig, id);
    }
    assert_eq!(ack_and_sync(&mut rig, "3").last(), Some(&deliver(Event::Live)));
    assert_eq!(rig.m.push_inbound(rig.now, event("1", "live"), None), Ok(PushOutcome::Sent));
}
