//! Outbound requests, results, and interrupts both ways (PROTOCOL §5, §6, §8).

use super::*;
use crate::connector::{ConnectorError, PushOutcome};
use crate::wire::{ActionResult, OutboundAction, SendMessage, Typing};

/// Ready with `telegram:t1` (default) and `discord:d1` announced and answered.
fn two_identities() -> Rig {
    let mut rig = Rig::new();
    rig.input(&[hello("telegram", "t1"), hello("discord", "d1")].concat());
    rig.m.answer_hello(rig.now, descriptor("telegram")).unwrap();
    rig.m.answer_hello(rig.now, descriptor("discord")).unwrap();
    rig.sync();
    rig.drain();
    rig
}

fn request(request_id: &str, identity: Identity, action: OutboundAction) -> Action {
    deliver(Event::Request { request_id: request_id.into(), identity, action: Box::new(action) })
}

fn typing() -> OutboundAction {
    OutboundAction::Typing(Typing { chat_id: "c1".into(), ..Typing::default() })
}

#[test]
fn a_request_is_answered_with_outbound_result() {
    let (mut rig, _) = Rig::ready();
    rig.input(&outbound("r1"));
    let action = OutboundAction::Send(SendMessage::new("c1", "hi"));
    assert_eq!(rig.drain(), [request("r1", Identity::new("telegram", "b1"), action)]);
    assert_eq!(rig.m.pending_requests(), 1);

    let mut result = ActionResult::ok();
    result.message_id = Some("m9".into());
    rig.m.respond(rig.now, "r1", result).unwrap();
    assert_eq!(
        rig.drain(),
        [send(r#"{"type":"outbound_result","requestId":"r1","result":{"success":true,"message_id":"m9"}}"#)]
    );
    assert_eq!(rig.m.pending_requests(), 0);
}

#[test]
fn answering_an_unknown_or_answered_request_is_a_caller_error() {
    let (mut rig, _) = Rig::ready();
    rig.input(&outbound("r1"));
    rig.drain();
    assert_eq!(
        rig.m.respond(rig.now, "nope", ActionResult::ok()),
        Err(ConnectorError::UnknownRequest("nope".into()))
    );
    rig.m.respond(rig.now, "r1", ActionResult::ok()).unwrap();
    assert_eq!(
        rig.m.respond(rig.now, "r1", ActionResult::ok()),
        Err(ConnectorError::UnknownRequest("r1".into()))
    );
    assert_eq!(rig.drain().len(), 1, "only the first answer went out");
}

#[test]
fn tagged_and_untagged_outbounds_name_their_identity() {
    let mut rig = two_identities();
    rig.input(&outbound_for("r1", "discord", "d1"));
    rig.input(&outbound_for("r2", "telegram", "t1"));
    rig.input(&outbound("r3"));
    let action = OutboundAction::Send(SendMessage::new("c1", "hi"));
    assert_eq!(
        rig.drain(),
        [
            request("r1", Identity::new("discord", "d1"), typing()),
            request("r2", Identity::new("telegram", "t1"), typing()),
            request("r3", Identity::new("telegram", "t1"), action),
        ]
    );
}

#[test]
fn an_outbound_for_an_unannounced_identity_is_answered_by_the_machine() {
    let mut rig = two_identities();
    rig.input(&outbound_for("r1", "slack", "s1"));
    rig.input(&outbound_for("r2", "discord", "other-bot"));
    // Half-tagged: the missing part reads as "", which was not announced either.
    rig.input("{\"type\":\"outbound\",\"requestId\":\"r3\",\"action\":{\"op\":\"typing\",\"chat_id\":\"c\"},\"platform\":\"discord\"}\n");
    assert_eq!(
        rig.drain(),
        [
            send(
                r#"{"type":"outbound_result","requestId":"r1","result":{"success":false,"error":"identity not announced: slack:s1","code":"unknown_identity"}}"#
            ),
            send(
                r#"{"type":"outbound_result","requestId":"r2","result":{"success":false,"error":"identity not announced: discord:other-bot","code":"unknown_identity"}}"#
            ),
            send(
                r#"{"type":"outbound_result","requestId":"r3","result":{"success":false,"error":"identity not announced: discord:","code":"unknown_identity"}}"#
            ),
        ]
    );
    assert_eq!(rig.m.pending_requests(), 0);
    assert_eq!(rig.m.stats().answered_by_machine, 3);
    assert_eq!(
        rig.m.respond(rig.now, "r1", ActionResult::ok()),
        Err(ConnectorError::UnknownRequest("r1".into()))
    );
}

#[test]
fn a_duplicate_pending_request_id_is_skipped_with_a_diagnostic() {
    let (mut rig, _) = Rig::ready();
    rig.input(&outbound("r1"));
    rig.input(&outbound("r1"));
    let actions = rig.drain();
    assert_eq!(actions.len(), 2);
    assert!(matches!(&actions[1], Action::Deliver(Event::Diagnostic(d))
        if d.kind == crate::wire::DiagnosticKind::Unexpected && d.line == 3));
    assert_eq!(rig.m.pending_requests(), 1);
}

#[test]
fn beyond_the_pending_bound_the_machine_answers_itself() {
    let config = ConnectorConfig { max_pending_requests: 1, ..ConnectorConfig::default() };
    let mut rig = Rig::with_config(config, None);
    rig.input(&hello("relay", ""));
    rig.m.answer_hello(rig.now, descriptor("relay")).unwrap();
    rig.drain();
    rig.input(&[outbound("r1"), outbound("r2")].concat());
    let actions = rig.drain();
    assert!(matches!(&actions[0], Action::Deliver(Event::Request { request_id, .. }) if request_id == "r1"));
    assert_eq!(
        actions[1],
        send(
            r#"{"type":"outbound_result","requestId":"r2","result":{"success":false,"error":"relay too many requests in flight","code":"too_many_requests"}}"#
        )
    );
}

#[test]
fn unanswered_requests_are_dropped_at_close() {
    let (mut rig, _) = Rig::ready();
    rig.input(&outbound("r1"));
    rig.m.handle_transport_closed(rig.now, None);
    rig.drain();
    assert_eq!(rig.m.pending_requests(), 0);
    assert_eq!(rig.m.respond(rig.now, "r1", ActionResult::ok()), Err(ConnectorError::Closed));
}

#[test]
fn a_gateway_interrupt_becomes_an_event() {
    let (mut rig, _) = Rig::ready();
    rig.input(
        "{\"type\":\"interrupt\",\"session_key\":\"agent:main:telegram:dm:1\",\"reason\":\"user stop\"}\n",
    );
    rig.input("{\"type\":\"interrupt\",\"session_key\":\"k2\",\"reason\":null}\n");
    assert_eq!(
        rig.drain(),
        [
            deliver(Event::Interrupt {
                session_key: "agent:main:telegram:dm:1".into(),
                reason: Some("user stop".into())
            }),
            deliver(Event::Interrupt { session_key: "k2".into(), reason: None }),
        ]
    );
}

#[test]
fn an_interrupt_is_pushed_to_the_gateway() {
    let (mut rig, _) = Rig::ready();
    assert_eq!(rig.m.push_interrupt(rig.now, "agent:main:telegram:dm:1", "1"), Ok(PushOutcome::Sent));
    assert_eq!(
        rig.drain(),
        [send(r#"{"type":"interrupt_inbound","session_key":"agent:main:telegram:dm:1","chat_id":"1"}"#)]
    );
}

#[test]
fn pushes_need_a_completed_handshake() {
    let mut rig = Rig::new();
    rig.input(&hello("telegram", "b1"));
    assert_eq!(rig.m.push_inbound(rig.now, event("1", "x"), None), Err(ConnectorError::HandshakeIncomplete));
    assert_eq!(rig.m.push_interrupt(rig.now, "k", "1"), Err(ConnectorError::HandshakeIncomplete));
    assert_eq!(rig.drain(), [hello_event("telegram", "b1")]);
}

#[test]
fn a_live_push_carries_a_buffer_id_only_when_given() {
    let (mut rig, _) = Rig::ready();
    assert_eq!(rig.m.push_inbound(rig.now, event("1", "live"), None), Ok(PushOutcome::Sent));
    assert_eq!(rig.m.push_inbound(rig.now, event("1", "own"), Some("app-7".into())), Ok(PushOutcome::Sent));
    let actions = rig.drain();
    assert_eq!(inbound_texts(&actions), [("live".into(), None), ("own".into(), Some("app-7".into()))]);
    // The app's own buffer id is acked to the app: the machine did not replay it.
    rig.input(&ack("app-7"));
    assert_eq!(rig.drain(), [deliver(Event::InboundAck { buffer_id: "app-7".into(), replayed: false })]);
}

#[test]
fn a_forward_is_pushed_live() {
    let (mut rig, _) = Rig::ready();
    let forward =
        crate::wire::Forward { platform: "slack".into(), body: b"{}".to_vec(), ..Default::default() };
    assert_eq!(rig.m.push_forward(rig.now, forward, None), Ok(PushOutcome::Sent));
    let actions = rig.drain();
    assert!(matches!(&actions[..], [Action::SendFrame(line)]
        if line.starts_with(r#"{"type":"passthrough_forward","forward":{"platform":"slack""#)));
}

#[test]
fn the_seed_of_the_pending_table_changes_no_output() {
    let run = |seed| {
        let config = ConnectorConfig { max_pending_requests: 3, seed, ..ConnectorConfig::default() };
        let mut rig = Rig::with_config(config, None);
        rig.input(&hello("relay", ""));
        rig.m.answer_hello(rig.now, descriptor("relay")).unwrap();
        let mut actions = rig.drain();
        // Fresh ids, a duplicate, one over the bound, answers known and unknown.
        rig.input(&[outbound("r1"), outbound("r2"), outbound("r1"), outbound("r3"), outbound("r4")].concat());
        actions.extend(rig.drain());
        let answers =
            ["r2", "nope", "r1", "r2"].map(|id| rig.m.respond(rig.now, id, ActionResult::ok()).is_ok());
        actions.extend(rig.drain());
        (actions, answers, rig.m.pending_requests())
    };
    let first = run(1);
    assert_eq!(first.1, [true, false, true, false]);
    assert_eq!(first.2, 1, "r3 is still waiting");
    for seed in [0, 2, u64::MAX] {
        assert_eq!(run(seed), first, "seed {seed}");
    }
}
