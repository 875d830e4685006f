//! Going idle: after `going_idle_ack` nothing is live (PROTOCOL §8).

use super::*;
use crate::connector::{Backlog, BacklogKey, BufferedFrame, PushOutcome};
use crate::wire::{ActionResult, Forward};

const GOING_IDLE: &str = "{\"type\":\"going_idle\"}\n";
const IDLE_ACK: &str = r#"{"type":"going_idle_ack"}"#;

#[test]
fn going_idle_is_acknowledged_and_pushes_go_to_the_backlog() {
    let (mut rig, _) = Rig::ready();
    rig.input(GOING_IDLE);
    assert_eq!(rig.drain(), [send(IDLE_ACK), deliver(Event::GoingIdle)]);
    assert!(rig.m.is_idle());
    assert!(!rig.m.is_live());

    let pushed = rig.m.push_inbound(rig.now, event("1", "later"), None);
    assert_eq!(
        pushed,
        Ok(PushOutcome::AppendToBacklog(BufferedFrame::Inbound(Box::new(event("1", "later")))))
    );
    let forward = Forward { path: "/hook".into(), ..Forward::default() };
    let pushed = rig.m.push_forward(rig.now, forward.clone(), None);
    assert_eq!(pushed, Ok(PushOutcome::AppendToBacklog(BufferedFrame::Forward(Box::new(forward)))));
    assert_eq!(rig.m.push_interrupt(rig.now, "k", "1"), Ok(PushOutcome::Dropped));
    assert_eq!(rig.drain(), [], "nothing live after the ack");
}

#[test]
fn requests_are_still_answered_after_going_idle() {
    let (mut rig, _) = Rig::ready();
    rig.input(&outbound("r1"));
    rig.input(GOING_IDLE);
    rig.drain();
    rig.m.respond(rig.now, "r1", ActionResult::ok()).unwrap();
    assert_eq!(
        rig.drain(),
        [send(r#"{"type":"outbound_result","requestId":"r1","result":{"success":true}}"#)]
    );
}

#[test]
fn a_repeated_going_idle_is_acknowledged_again_without_a_second_event() {
    let (mut rig, _) = Rig::ready();
    rig.input(&[GOING_IDLE, GOING_IDLE].concat());
    assert_eq!(rig.drain(), [send(IDLE_ACK), deliver(Event::GoingIdle), send(IDLE_ACK)]);
}

#[test]
fn going_idle_before_the_handshake_waits_for_it() {
    let mut rig = Rig::new();
    rig.input(&[hello("telegram", "b1"), GOING_IDLE.to_owned()].concat());
    assert_eq!(rig.drain(), [hello_event("telegram", "b1")]);
    rig.m.answer_hello(rig.now, descriptor("telegram")).unwrap();
    assert_eq!(rig.drain(), [descriptor_sent("telegram"), send(IDLE_ACK), deliver(Event::GoingIdle)]);
    rig.sync();
    assert_eq!(rig.drain(), [], "an idle gateway gets no replay");
    assert!(matches!(
        rig.m.push_inbound(rig.now, event("1", "x"), None),
        Ok(PushOutcome::AppendToBacklog(_))
    ));
}

#[test]
fn what_an_idle_gateway_missed_is_replayed_on_its_next_connection() {
    let (mut rig, _) = Rig::ready();
    rig.input(GOING_IDLE);
    let key = rig.m.backlog_key().cloned().unwrap();
    assert_eq!(key, BacklogKey::Identity(Identity::new("telegram", "b1")));
    for text in ["a", "b"] {
        if let Ok(PushOutcome::AppendToBacklog(frame)) = rig.m.push_inbound(rig.now, event("1", text), None) {
            rig.backlog.append(&key, frame).unwrap();
        }
    }
    rig.m.handle_transport_closed(rig.now, None);

    let mut next = Rig::with_backlog(ConnectorConfig::default(), None, rig.backlog);
    next.input(&hello("telegram", "b1"));
    next.m.answer_hello(next.now, descriptor("telegram")).unwrap();
    next.sync();
    let actions = next.drain();
    assert_eq!(inbound_texts(&actions), [("a".into(), Some("1".into())), ("b".into(), Some("2".into()))]);
}
