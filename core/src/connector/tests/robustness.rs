//! Bad input, chunking, keepalive and the close contract (PROTOCOL §1, §8).

use rand::{Rng as _, SeedableRng as _};
use rand_chacha::ChaCha8Rng;

use super::*;
use crate::connector::{CloseReason, ConnectorError};
use crate::gateway::CloseFrame;
use crate::wire::{ActionResult, DiagnosticKind};

fn kinds(actions: &[Action]) -> Vec<(DiagnosticKind, u64)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Deliver(Event::Diagnostic(d)) => Some((d.kind, d.line)),
            _ => None,
        })
        .collect()
}

#[test]
fn every_diagnostic_kind_the_connector_can_see_and_the_connection_stays_up() {
    use DiagnosticKind::*;
    let config = ConnectorConfig { max_line: 200, ..ConnectorConfig::default() };
    let mut rig = Rig::with_config(config, None);
    rig.input(&hello("relay", ""));
    rig.m.answer_hello(rig.now, descriptor("relay")).unwrap();
    rig.sync();
    rig.drain();

    // Line 1 was the hello.
    rig.m.handle_input(rig.now, b"{\"type\":\"going_idle\",\"x\":\"\xff\"}\n");
    let lines = [
        "not json".to_owned(),
        "[1,2]".to_owned(),
        "{\"no_type\":1}".to_owned(),
        "{\"type\":7}".to_owned(),
        "{\"type\":\"teleport\"}".to_owned(),
        "{\"type\":\"descriptor\",\"descriptor\":{}}".to_owned(),
        "{\"type\":\"inbound\",\"event\":{}}".to_owned(),
        "{\"type\":\"outbound_result\",\"requestId\":\"r\",\"result\":{}}".to_owned(),
        "{\"type\":\"interrupt_inbound\",\"session_key\":\"k\",\"chat_id\":\"c\"}".to_owned(),
        "{\"type\":\"passthrough_forward\",\"forward\":{}}".to_owned(),
        "{\"type\":\"going_idle_ack\"}".to_owned(),
        "{\"type\":\"outbound\",\"action\":{\"op\":\"send\"}}".to_owned(),
        "{\"type\":\"hello\",\"botId\":\"\"}".to_owned(),
        "{\"type\":\"inbound_ack\"}".to_owned(),
        format!("{{\"type\":\"hello\",\"platform\":\"{}\",\"botId\":\"\"}}", "x".repeat(300)),
        "NaN".to_owned(),
    ];
    rig.input(&(lines.join("\n") + "\n"));
    rig.input(&[outbound("dup"), outbound("dup")].concat());
    let expected = [
        (InvalidUtf8, 2),
        (InvalidJson, 3),
        (NotAnObject, 4),
        (MissingType, 5),
        (MissingType, 6),
        (UnknownType, 7),
        (WrongDirection, 8),
        (WrongDirection, 9),
        (WrongDirection, 10),
        (WrongDirection, 11),
        (WrongDirection, 12),
        (WrongDirection, 13),
        (BadField, 14),
        (BadField, 15),
        (BadField, 16),
        (LineTooLong, 17),
        (InvalidJson, 18),
        (Unexpected, 20),
    ];
    let actions = rig.drain();
    assert_eq!(kinds(&actions), expected);
    assert_eq!(actions.len(), expected.len() + 1, "plus the one request: {actions:?}");
    assert!(!rig.m.is_closed());
    assert!(rig.m.is_live(), "the undecodable going_idle did nothing");
    assert_eq!(rig.m.stats().diagnostics.values().sum::<u64>(), expected.len() as u64);
    // `newer_contract` is about received descriptors, which a connector never accepts.
}

/// The stream a gateway sends before and after the handshake, for chunking tests.
fn script() -> (String, String) {
    let before = [
        hello("telegram", "t1"),
        "garbage\n".to_owned(),
        hello("discord", "d1"),
        outbound("r0"),
        "{\"type\":\"interrupt\",\"session_key\":\"k0\",\"reason\":null}\r\n".to_owned(),
    ]
    .concat();
    let after = [
        outbound("r1"),
        "\n   \n".to_owned(),
        outbound_for("r2", "discord", "d1"),
        outbound_for("r3", "slack", "s1"),
        format!("{{\"type\":\"hello\",\"platform\":\"{}\",\"botId\":\"\"}}\n", "é".repeat(400)),
        "{\"type\": \"interrupt\", \"session_key\": \"k1\", \"reason\": \"stop\"}\n".to_owned(),
        "{\"type\":\"descriptor\"}\n".to_owned(),
        ack("x"),
        "{\"type\":\"going_idle\"}\n".to_owned(),
        "{\"type\":\"outbound\",\"requestId\":\"r4\"".to_owned(),
    ]
    .concat();
    (before, after)
}

fn run(chunk: impl Fn(&[u8]) -> Vec<&[u8]>) -> Vec<Action> {
    let (before, after) = script();
    let config = ConnectorConfig { max_line: 512, ..ConnectorConfig::default() };
    let mut rig = Rig::with_config(config, None);
    for piece in chunk(before.as_bytes()) {
        rig.m.handle_input(rig.now, piece);
    }
    rig.m.answer_hello(rig.now, descriptor("telegram")).unwrap();
    rig.m.answer_hello(rig.now, descriptor("discord")).unwrap();
    rig.sync();
    for piece in chunk(after.as_bytes()) {
        rig.m.handle_input(rig.now, piece);
    }
    rig.m.handle_input(rig.now, b",\"action\":{\"op\":\"typing\",\"chat_id\":\"c\"}}\n");
    rig.drain()
}

#[test]
fn actions_do_not_depend_on_chunking() {
    let whole = run(|bytes| vec![bytes]);
    assert!(whole.len() > 10, "{whole:?}");
    assert_eq!(run(|bytes| bytes.chunks(1).collect()), whole, "byte at a time");
    for seed in 0..20 {
        let chunked = run(|bytes| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut pieces = Vec::new();
            let mut rest = bytes;
            while !rest.is_empty() {
                let (piece, tail) = rest.split_at(rng.random_range(1..=rest.len().min(40)));
                pieces.push(piece);
                rest = tail;
            }
            pieces
        });
        assert_eq!(chunked, whole, "seed {seed}");
    }
}

#[test]
fn silence_for_the_dead_link_timeout_closes() {
    let (mut rig, _) = Rig::ready();
    rig.advance(Duration::from_secs(50));
    rig.m.handle_keepalive(rig.now);
    assert_eq!(rig.m.poll_timeout(), Some(rig.now + Duration::from_secs(60)));
    rig.advance(Duration::from_secs(50));
    rig.input("\n");
    let deadline = rig.now + Duration::from_secs(60);
    assert_eq!(rig.m.poll_timeout(), Some(deadline));
    rig.m.handle_timeout(deadline - Duration::from_millis(1));
    assert_eq!(rig.drain(), []);
    rig.m.handle_timeout(deadline);
    let actions = rig.drain();
    assert_eq!(actions, [Action::Closed(CloseReason::DeadLink)]);
    let Action::Closed(reason) = &actions[0] else { unreachable!() };
    assert_eq!(reason.close_to_send(), Some(CloseFrame::new(1001, "no traffic")));
}

#[test]
fn closed_comes_once_and_last_and_nothing_follows_it() {
    let (mut rig, _) = Rig::ready();
    rig.input(&outbound("r1"));
    rig.m.handle_write_failed(rig.now, "broken pipe");
    rig.m.handle_transport_closed(rig.now, Some(CloseFrame::new(1000, "")));
    rig.m.handle_timeout(rig.now + Duration::from_secs(3600));
    rig.input(&outbound("r2"));
    rig.m.handle_keepalive(rig.now);
    let actions = rig.drain();
    assert!(matches!(&actions[0], Action::Deliver(Event::Request { .. })));
    assert_eq!(actions[1..], [Action::Closed(CloseReason::WriteFailed("broken pipe".into()))]);
    assert_eq!(CloseReason::WriteFailed("x".into()).close_to_send(), None);
    assert_eq!(rig.m.poll_timeout(), None);
    assert_eq!(rig.m.close(rig.now), Err(ConnectorError::Closed));
    assert_eq!(rig.m.respond(rig.now, "r1", ActionResult::ok()), Err(ConnectorError::Closed));
    assert_eq!(rig.m.push_inbound(rig.now, event("1", "x"), None), Err(ConnectorError::Closed));
    assert_eq!(rig.m.push_interrupt(rig.now, "k", "1"), Err(ConnectorError::Closed));
    assert_eq!(rig.drain(), []);
}

#[test]
fn a_local_close_sends_1000() {
    let (mut rig, _) = Rig::ready();
    rig.m.close(rig.now).unwrap();
    assert_eq!(rig.drain(), [Action::Closed(CloseReason::Local)]);
    assert_eq!(CloseReason::Local.close_to_send(), Some(CloseFrame::new(1000, "")));
}

#[test]
fn time_never_goes_backwards() {
    let (mut rig, _) = Rig::ready();
    rig.advance(Duration::from_secs(10));
    rig.input("\n");
    let deadline = rig.m.poll_timeout();
    // An earlier `now` is clamped: the deadline does not move back.
    rig.m.handle_keepalive(rig.start);
    assert_eq!(rig.m.poll_timeout(), deadline);
    rig.m.handle_timeout(rig.start);
    assert_eq!(rig.drain(), []);
}

#[test]
fn arbitrary_bytes_never_panic_and_closed_is_last_at_most_once() {
    fn prop(chunks: Vec<Vec<u8>>, answer: bool) -> bool {
        let config =
            ConnectorConfig { max_line: 64, max_held_frames: 4, max_hellos: 4, ..Default::default() };
        let mut rig = Rig::with_config(config, None);
        let mut actions = Vec::new();
        for chunk in &chunks {
            rig.m.handle_input(rig.now, chunk);
            if answer && rig.m.next_hello().is_some() {
                let _ = rig.m.answer_hello(rig.now, descriptor("x"));
            }
            rig.sync();
            actions.extend(rig.drain());
        }
        let closes = actions.iter().filter(|a| matches!(a, Action::Closed(_))).count();
        closes == 0 || (closes == 1 && matches!(actions.last(), Some(Action::Closed(_))))
    }
    quickcheck::quickcheck(prop as fn(Vec<Vec<u8>>, bool) -> bool);
}
