//! Hellos, descriptors and refusals (PROTOCOL §3).

use super::*;
use crate::connector::{BacklogKey, CloseReason, ConnectorError};
use crate::gateway::CloseFrame;

#[test]
fn a_hello_answered_completes_the_handshake() {
    let mut rig = Rig::new();
    rig.input(&hello("telegram", "b1"));
    assert_eq!(rig.drain(), [hello_event("telegram", "b1")]);
    assert!(!rig.m.is_ready());
    assert_eq!(rig.m.next_hello(), Some(&Identity::new("telegram", "b1")));

    let answered = rig.m.answer_hello(rig.now, descriptor("telegram"));
    assert_eq!(answered, Ok(Identity::new("telegram", "b1")));
    let key = BacklogKey::Identity(Identity::new("telegram", "b1"));
    let read = StoreRequest::Read { key, after: None, limit: 64 };
    let actions: Vec<Action> = std::iter::from_fn(|| rig.m.poll_action()).collect();
    assert_eq!(actions, [descriptor_sent("telegram"), Action::Store(read)]);
    assert!(rig.m.is_ready());
    assert!(!rig.m.is_live(), "the backlog comes first");
    assert!(rig.m.is_reading_backlog());

    rig.m.handle_backlog_read(rig.now, Ok(Vec::new()));
    assert_eq!(rig.drain(), [deliver(Event::Live)]);
    assert!(rig.m.is_live());
    assert!(!rig.m.is_reading_backlog());
    assert_eq!(rig.m.poll_timeout(), Some(rig.start + Duration::from_secs(60)), "only the dead link is left");
}

#[test]
fn a_refused_hello_closes_with_1008_naming_the_identity() {
    let mut rig = Rig::new();
    rig.input(&hello("discord", "D1"));
    rig.drain();
    assert_eq!(rig.m.refuse_hello(rig.now, "not provisioned"), Ok(Identity::new("discord", "D1")));
    let reason = CloseReason::RefusedIdentity {
        identity: Identity::new("discord", "D1"),
        reason: "not provisioned".into(),
    };
    assert_eq!(rig.drain(), [Action::Closed(reason.clone())]);
    assert_eq!(
        reason.close_to_send(),
        Some(CloseFrame::new(1008, "identity refused: discord:D1: not provisioned"))
    );
    assert_eq!(rig.m.answer_hello(rig.now, descriptor("discord")), Err(ConnectorError::Closed));
}

#[test]
fn several_identities_are_answered_in_hello_order() {
    let mut rig = Rig::new();
    rig.input(&[hello("telegram", "t1"), hello("discord", "d1"), hello("slack", "s1")].concat());
    assert_eq!(
        rig.drain(),
        [hello_event("telegram", "t1"), hello_event("discord", "d1"), hello_event("slack", "s1")]
    );
    for platform in ["telegram", "discord", "slack"] {
        let identity = rig.m.answer_hello(rig.now, descriptor(platform)).unwrap();
        assert_eq!(identity.platform, platform);
    }
    let actions = rig.drain();
    let descriptors = [descriptor_sent("telegram"), descriptor_sent("discord"), descriptor_sent("slack")];
    assert_eq!(actions, [&descriptors[..], &[deliver(Event::Live)]].concat(), "the empty backlog read last");
    assert_eq!(
        rig.m.identities(),
        [Identity::new("telegram", "t1"), Identity::new("discord", "d1"), Identity::new("slack", "s1")]
    );
    assert_eq!(rig.m.default_identity(), Some(&Identity::new("telegram", "t1")));
    assert_eq!(rig.m.answer_hello(rig.now, descriptor("x")), Err(ConnectorError::NoHelloToAnswer));
}

#[test]
fn a_later_identity_can_be_refused_after_the_first_was_answered() {
    let mut rig = Rig::new();
    rig.input(&[hello("telegram", "t1"), hello("discord", "d1")].concat());
    rig.m.answer_hello(rig.now, descriptor("telegram")).unwrap();
    rig.drain();
    assert_eq!(rig.m.refuse_hello(rig.now, ""), Ok(Identity::new("discord", "d1")));
    let reason =
        CloseReason::RefusedIdentity { identity: Identity::new("discord", "d1"), reason: String::new() };
    assert_eq!(rig.drain(), [Action::Closed(reason)]);
}

#[test]
fn a_repeated_hello_needs_its_own_answer_but_announces_nothing_new() {
    let mut rig = Rig::new();
    rig.input(&[hello("relay", ""), hello("relay", "")].concat());
    rig.m.answer_hello(rig.now, descriptor("relay")).unwrap();
    rig.m.answer_hello(rig.now, descriptor("relay")).unwrap();
    assert_eq!(rig.m.identities(), [Identity::default_relay()]);
}

#[test]
fn the_command_manifest_reaches_the_application() {
    let mut rig = Rig::new();
    rig.input("{\"type\":\"hello\",\"platform\":\"discord\",\"botId\":\"d\",\"command_manifest\":[{\"name\":\"ask\"}]}\n");
    let manifest = Some(vec![serde_json::json!({"name": "ask"})]);
    let identity = Identity::new("discord", "d");
    assert_eq!(rig.drain(), [deliver(Event::Hello { identity, command_manifest: manifest })]);
}

#[test]
fn frames_before_the_first_descriptor_wait_and_follow_it_in_order() {
    let mut rig = Rig::new();
    rig.input(&hello("telegram", "b1"));
    rig.input(&outbound("r1"));
    rig.input("{\"type\":\"interrupt\",\"session_key\":\"k\",\"reason\":null}\n");
    assert_eq!(rig.drain(), [hello_event("telegram", "b1")]);

    rig.m.answer_hello(rig.now, descriptor("telegram")).unwrap();
    let actions = rig.drain();
    assert_eq!(actions.len(), 4, "{actions:?}");
    assert_eq!(actions[3], deliver(Event::Live), "the empty backlog, read once the held frames are out");
    assert_eq!(actions[0], descriptor_sent("telegram"));
    assert!(matches!(&actions[1], Action::Deliver(Event::Request { request_id, identity, .. })
        if request_id == "r1" && *identity == Identity::new("telegram", "b1")));
    assert_eq!(actions[2], deliver(Event::Interrupt { session_key: "k".into(), reason: None }));
}

#[test]
fn too_many_frames_before_the_handshake_close_the_connection() {
    let config = ConnectorConfig { max_held_frames: 2, ..ConnectorConfig::default() };
    let mut rig = Rig::with_config(config, None);
    rig.input(&[hello("relay", ""), outbound("a"), outbound("b"), outbound("c"), outbound("d")].concat());
    assert_eq!(rig.drain(), [hello_event("relay", ""), Action::Closed(CloseReason::TooManyHeldFrames)]);
}

#[test]
fn too_many_hellos_close_the_connection() {
    let config = ConnectorConfig { max_hellos: 2, ..ConnectorConfig::default() };
    let mut rig = Rig::with_config(config, None);
    rig.input(&[hello("a", "1"), hello("b", "2"), hello("c", "3"), hello("d", "4")].concat());
    assert_eq!(
        rig.drain(),
        [hello_event("a", "1"), hello_event("b", "2"), Action::Closed(CloseReason::TooManyHellos)]
    );
}

#[test]
fn no_descriptor_within_the_handshake_timeout_closes() {
    let mut rig = Rig::new();
    assert_eq!(rig.m.poll_timeout(), Some(rig.start + Duration::from_secs(30)));
    rig.m.handle_timeout(rig.start + Duration::from_secs(29));
    assert_eq!(rig.drain(), []);
    rig.m.handle_timeout(rig.start + Duration::from_secs(30));
    let actions = rig.drain();
    assert_eq!(actions, [Action::Closed(CloseReason::HandshakeTimedOut)]);
    let Action::Closed(reason) = &actions[0] else { unreachable!() };
    assert_eq!(reason.close_to_send(), Some(CloseFrame::new(1002, "handshake timed out")));
}

#[test]
fn answering_without_a_hello_is_a_caller_error() {
    let mut rig = Rig::new();
    assert_eq!(rig.m.answer_hello(rig.now, descriptor("x")), Err(ConnectorError::NoHelloToAnswer));
    assert_eq!(rig.m.refuse_hello(rig.now, "no"), Err(ConnectorError::NoHelloToAnswer));
    assert_eq!(rig.drain(), []);
    assert!(!rig.m.is_closed());
}
