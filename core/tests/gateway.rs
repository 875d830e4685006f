//! Scenario tests of the gateway machine on simulated time. Every scenario
//! runs under three chunkings of the connector's bytes and must produce the
//! same transcript under each.
#![cfg(feature = "sim")]

use std::time::Duration;

use relay_core::gateway::{
    Action, CloseFrame, CloseReason, Event, GatewayConfig, Identity, OutboundRequest, RequestError,
    RequestErrorKind, RequestId,
};
use relay_core::sim::{Chunking, Pair, ReplyMode, ScriptedConnector, TranscriptEntry, descriptor_for};
use relay_core::wire::{ActionResult, DiagnosticKind, Frame, FrameType, OutboundAction, SendMessage};

const SECOND: Duration = Duration::from_secs(1);

/// Runs `scenario` under every chunking; asserts identical transcripts and returns one.
fn under_every_chunking(scenario: impl Fn(Chunking) -> Vec<TranscriptEntry>) -> Vec<TranscriptEntry> {
    let mut transcripts = Chunking::all().map(|c| (c.name(), scenario(c)));
    let (_, first) = transcripts[0].clone();
    for (name, t) in &mut transcripts[1..] {
        assert_eq!(*t, first, "transcript differs under {name} chunking");
    }
    first
}

fn actions(transcript: &[TranscriptEntry]) -> Vec<&Action> {
    transcript.iter().map(|e| &e.action).collect()
}

fn send(text: &str) -> OutboundAction {
    OutboundAction::Send(SendMessage::new("c1", text))
}

fn sent_frames(t: &[TranscriptEntry], frame_type: FrameType) -> Vec<Frame> {
    t.iter()
        .filter_map(|e| match &e.action {
            Action::SendFrame(line) => Frame::decode(line.trim_end().as_bytes(), None).ok(),
            _ => None,
        })
        .filter(|f| f.frame_type() == frame_type)
        .collect()
}

fn descriptor_line(platform: &str) -> String {
    let frame = Frame::Descriptor(relay_core::wire::DescriptorFrame {
        descriptor: descriptor_for(platform),
        extra: Default::default(),
    });
    String::from_utf8(frame.encode()).unwrap()
}

fn failures(t: &[TranscriptEntry]) -> Vec<(RequestId, RequestError)> {
    t.iter()
        .filter_map(|e| match &e.action {
            Action::Fail { id, error } => Some((*id, error.clone())),
            _ => None,
        })
        .collect()
}

fn closed_reason(t: &[TranscriptEntry]) -> CloseReason {
    match &t.last().expect("empty transcript").action {
        Action::Closed(reason) => reason.clone(),
        other => panic!("last action is not Closed: {other:?}"),
    }
}

fn diagnostics(t: &[TranscriptEntry]) -> Vec<(DiagnosticKind, u64)> {
    t.iter()
        .filter_map(|e| match &e.action {
            Action::Deliver(Event::Diagnostic(d)) => Some((d.kind, d.line)),
            _ => None,
        })
        .collect()
}

// ---- handshake ----

#[test]
fn handshake_sends_default_hello_and_becomes_ready() {
    let t = under_every_chunking(|c| {
        let mut p = Pair::new(GatewayConfig::default(), ScriptedConnector::new(), c);
        p.settle();
        p.take_transcript()
    });
    let a = actions(&t);
    assert_eq!(a.len(), 2, "{a:?}");
    assert_eq!(
        *a[0],
        Action::SendFrame("{\"type\":\"hello\",\"platform\":\"relay\",\"botId\":\"\"}\n".into())
    );
    let Action::Deliver(Event::Ready { identity, descriptor }) = a[1] else { panic!("{:?}", a[1]) };
    assert_eq!((identity, descriptor.platform.as_str()), (&Identity::default_relay(), "relay"));
    assert_eq!(t[1].at, 2 * Duration::from_millis(10), "one round trip");
}

#[test]
fn handshake_times_out_after_30_seconds() {
    let t = under_every_chunking(|c| {
        let mut p = Pair::new(GatewayConfig::default(), ScriptedConnector::new().manual_handshake(), c);
        let id = p.request(send("held")).unwrap();
        p.advance(29 * SECOND);
        assert!(!p.gateway.is_closed());
        p.advance(SECOND);
        assert!(p.gateway.is_closed());
        let t = p.take_transcript();
        assert_eq!(failures(&t), [(id, RequestError::definite(RequestErrorKind::NotConnected))]);
        t
    });
    assert_eq!(closed_reason(&t), CloseReason::HandshakeTimedOut);
    assert_eq!(closed_reason(&t).to_string(), "relay handshake timed out");
    assert_eq!(t.last().unwrap().at, 30 * SECOND);
}

#[test]
fn bad_first_descriptor_fails_the_handshake() {
    let t = under_every_chunking(|c| {
        let mut p = Pair::new(GatewayConfig::default(), ScriptedConnector::new().manual_handshake(), c);
        p.peer.push_raw(&b"{\"type\":\"descriptor\",\"descriptor\":{\"platform\":\"relay\"}}\n"[..]);
        p.flush_peer();
        p.settle();
        p.take_transcript()
    });
    let reason = closed_reason(&t);
    assert!(matches!(&reason, CloseReason::BadDescriptor(d) if d.contains("descriptor.")), "{reason:?}");
    assert!(reason.to_string().starts_with("relay bad descriptor: "));
    assert_eq!(reason.close_to_send().map(|c| c.code), Some(1002));
}

#[test]
fn several_identities_pair_descriptors_by_hello_order() {
    let identities =
        vec![Identity::new("discord", "d1"), Identity::new("telegram", "t1"), Identity::new("slack", "s1")];
    let config = GatewayConfig { identities: identities.clone(), ..GatewayConfig::default() };
    let t = under_every_chunking(|c| {
        let mut p = Pair::new(config.clone(), ScriptedConnector::new().manual_handshake(), c);
        let joined: String = ["discord", "telegram", "slack", "extra"].map(descriptor_line).concat();
        p.peer.push_raw(joined.into_bytes());
        p.flush_peer();
        p.settle();
        assert_eq!(p.gateway.descriptor().unwrap().platform, "discord", "the first stays the default");
        assert_eq!(p.gateway.descriptor_for(&identities[1]).unwrap().platform, "telegram");
        p.take_transcript()
    });
    let hellos = sent_frames(&t, FrameType::Hello);
    let announced: Vec<_> = hellos
        .iter()
        .map(|f| match f {
            Frame::Hello(h) => Identity::new(h.platform.clone(), h.bot_id.clone()),
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(announced, identities);
    let events: Vec<_> = t
        .iter()
        .filter_map(|e| match &e.action {
            Action::Deliver(Event::Ready { identity, .. }) => Some(("ready", identity.clone())),
            Action::Deliver(Event::Descriptor { identity, .. }) => Some(("descriptor", identity.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        events,
        [
            ("ready", identities[0].clone()),
            ("descriptor", identities[1].clone()),
            ("descriptor", identities[2].clone())
        ]
    );
    assert_eq!(diagnostics(&t), [(DiagnosticKind::Unexpected, 4)], "the descriptor beyond the hellos");
}

#[test]
fn frames_before_the_descriptor_are_held_and_processed_after_it() {
    let t = under_every_chunking(|c| {
        let mut p = Pair::new(GatewayConfig::default(), ScriptedConnector::new().manual_handshake(), c);
        let early = "{\"type\":\"inbound\",\"event\":{\"text\":\"early\"}}\n";
        p.peer.push_raw(format!("{early}{}", descriptor_line("relay")).into_bytes());
        p.flush_peer();
        p.settle();
        p.take_transcript()
    });
    let kinds: Vec<&str> = t
        .iter()
        .filter_map(|e| match &e.action {
            Action::Deliver(Event::Ready { .. }) => Some("ready"),
            Action::Deliver(Event::Inbound { event, .. }) => {
                Some(if event.text == "early" { "early" } else { "?" })
            }
            _ => None,
        })
        .collect();
    assert_eq!(kinds, ["ready", "early"]);
}

#[test]
fn too_many_frames_before_the_descriptor_fail_the_connection() {
    let config = GatewayConfig { max_held_frames: 3, ..GatewayConfig::default() };
    let t = under_every_chunking(|c| {
        let mut p = Pair::new(config.clone(), ScriptedConnector::new().manual_handshake(), c);
        p.peer.push_raw("{\"type\":\"inbound\",\"event\":{}}\n".repeat(4).into_bytes());
        p.flush_peer();
        p.settle();
        p.take_transcript()
    });
    assert_eq!(closed_reason(&t), CloseReason::TooManyHeldFrames);
}

// ---- requests ----

#[test]
fn held_requests_go_out_after_ready_with_their_timeout_from_submission() {
    let t = under_every_chunking(|c| {
        let mut p = Pair::new(GatewayConfig::default(), ScriptedConnector::new().manual_handshake(), c);
        p.peer.set_reply(ReplyMode::Silent);
        let first = p.request(send("one")).unwrap();
        let second = p.request(send("two")).unwrap();
        p.advance(20 * SECOND);
        assert_eq!(sent_frames(&p.take_transcript(), FrameType::Outbound).len(), 0, "held while handshaking");
        p.peer.push_raw(descriptor_line("relay").into_bytes());
        p.flush_peer();
        p.settle();
        let t = p.take_transcript();
        let ids: Vec<String> = sent_frames(&t, FrameType::Outbound)
            .into_iter()
            .map(|f| match f {
                Frame::Outbound(o) => o.request_id,
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(ids, [first.to_string(), second.to_string()], "sent in submission order");
        p.advance(10 * SECOND);
        let t = p.take_transcript();
        let ambiguous_timeout = RequestError { kind: RequestErrorKind::TimedOut, ambiguous: true };
        assert_eq!(failures(&t), [(first, ambiguous_timeout.clone()), (second, ambiguous_timeout)]);
        let fail_times: Vec<Duration> =
            t.iter().filter(|e| matches!(e.action, Action::Fail { .. })).map(|e| e.at).collect();
        assert_eq!(fail_times, [30 * SECOND, 30 * SECOND], "timeout counted from submission");
        t
    });
    assert_eq!(failures(&t).len(), 2);
}

#[test]
fn thousand_interleaved_requests_answered_in_shuffled_order() {
    let t = under_every_chunking(|c| {
        let mut p = Pair::connected(GatewayConfig { seed: 42, ..GatewayConfig::default() }, c);
        p.take_transcript();
        p.peer.set_reply(ReplyMode::Hold);
        let ids: Vec<RequestId> = (0..1000).map(|i| p.request(send(&format!("m{i}"))).unwrap()).collect();
        p.settle();
        assert_eq!(p.peer.held().len(), 1000);
        let mut order: Vec<usize> = (0..1000).collect();
        // A fixed permutation: multiplication by a unit modulo 1000.
        order.iter_mut().for_each(|i| *i = (*i * 337 + 11) % 1000);
        p.peer.answer_held_in_order(&order);
        p.flush_peer();
        p.settle();
        let t = p.take_transcript();
        let resolved: Vec<RequestId> = t
            .iter()
            .filter_map(|e| match &e.action {
                Action::Resolve { id, result } if result.success => Some(*id),
                _ => None,
            })
            .collect();
        let expected: Vec<RequestId> = order.iter().map(|&i| ids[i]).collect();
        assert_eq!(resolved, expected, "each result resolves its own request");
        assert_eq!(p.gateway.pending_requests(), 0);
        t
    });
    assert_eq!(t.iter().filter(|e| matches!(e.action, Action::SendFrame(_))).count(), 1000);
}

#[test]
fn timeout_then_late_result_is_ignored_and_counted() {
    under_every_chunking(|c| {
        let mut p = Pair::connected(GatewayConfig::default(), c);
        p.take_transcript();
        p.peer.set_reply(ReplyMode::Hold);
        let id = p.request(send("slow")).unwrap();
        p.advance(30 * SECOND);
        let t = p.take_transcript();
        assert_eq!(failures(&t), [(id, RequestError { kind: RequestErrorKind::TimedOut, ambiguous: true })]);
        assert_eq!(failures(&t)[0].1.to_string(), "relay outbound timed out");
        p.peer.answer_held_in_order(&[0]);
        p.flush_peer();
        p.settle();
        let late = p.take_transcript();
        assert!(late.is_empty(), "{late:?}");
        assert_eq!(p.gateway.stats().unknown_results, 1);
        assert!(!p.gateway.is_closed());
        [t, late].concat()
    });
}

#[test]
fn connection_lost_fails_pending_as_ambiguous() {
    let t = under_every_chunking(|c| {
        let mut p = Pair::connected(GatewayConfig::default(), c);
        p.take_transcript();
        p.peer.set_reply(ReplyMode::Hold);
        let a = p.request(send("a")).unwrap();
        let b = p.request(send("b")).unwrap();
        p.settle();
        p.drop_connection(Some(CloseFrame::new(1011, "boom")));
        let t = p.take_transcript();
        let lost = RequestError { kind: RequestErrorKind::ConnectionLost, ambiguous: true };
        assert_eq!(failures(&t), [(a, lost.clone()), (b, lost)]);
        assert_eq!(failures(&t)[0].1.to_string(), "relay transport connection lost");
        t
    });
    assert_eq!(closed_reason(&t), CloseReason::TransportClosed(Some(CloseFrame::new(1011, "boom"))));
}

#[test]
fn local_close_fails_sent_requests_ambiguously_and_held_ones_definitely() {
    under_every_chunking(|c| {
        let mut p = Pair::new(GatewayConfig::default(), ScriptedConnector::new().manual_handshake(), c);
        let held = p.request(send("held")).unwrap();
        p.command(|m, now| m.close(now)).unwrap();
        let t = p.take_transcript();
        let definite = RequestError::definite(RequestErrorKind::Closed);
        assert_eq!(failures(&t), [(held, definite)]);
        assert_eq!(closed_reason(&t), CloseReason::Local);

        let mut p = Pair::connected(GatewayConfig::default(), Chunking::Whole);
        p.peer.set_reply(ReplyMode::Hold);
        let sent = p.request(send("sent")).unwrap();
        p.command(|m, now| m.close(now)).unwrap();
        let t2 = p.take_transcript();
        let f = failures(&t2);
        assert_eq!(f, [(sent, RequestError { kind: RequestErrorKind::Closed, ambiguous: true })]);
        assert_eq!(f[0].1.to_string(), "relay transport closed");
        assert_eq!(
            p.command(|m, now| m.request(now, send("after"))).unwrap_err().to_string(),
            "relay transport not connected"
        );
        [t, t2].concat()
    });
}

#[test]
fn unknown_and_duplicate_results_are_ignored_and_counted() {
    under_every_chunking(|c| {
        let mut p = Pair::connected(GatewayConfig::default(), c);
        p.peer.set_reply(ReplyMode::Hold);
        let id = p.request(send("x")).unwrap();
        p.settle();
        p.take_transcript();
        p.peer.answer(&id.to_string(), ActionResult::ok());
        p.peer.answer(&id.to_string(), ActionResult::failed("dup"));
        p.peer.answer("ffffffffffffffffffffffffffffffff", ActionResult::ok());
        p.peer.answer("not-an-id", ActionResult::ok());
        p.flush_peer();
        p.settle();
        let t = p.take_transcript();
        assert_eq!(actions(&t), [&Action::Resolve { id, result: ActionResult::ok() }]);
        assert_eq!(p.gateway.stats().unknown_results, 3);
        t
    });
}

#[test]
fn failed_result_is_a_result_not_an_error() {
    under_every_chunking(|c| {
        let mut p = Pair::connected(GatewayConfig::default(), c);
        p.peer.set_reply(ReplyMode::Hold);
        let id = p.request(send("x")).unwrap();
        p.settle();
        p.take_transcript();
        let mut refused = ActionResult::failed("nope");
        refused.code = Some("egress_declined".into());
        p.peer.answer(&id.to_string(), refused.clone());
        p.flush_peer();
        p.settle();
        let t = p.take_transcript();
        assert_eq!(actions(&t), [&Action::Resolve { id, result: refused.clone() }]);
        t
    });
}

#[test]
fn unsupported_op_is_refused_definitely() {
    under_every_chunking(|c| {
        let react = || {
            OutboundAction::from_object(
                serde_json::json!({"op": "react", "chat_id": "c", "message_id": "m", "emoji": "👍"})
                    .as_object()
                    .unwrap()
                    .clone(),
            )
            .unwrap()
        };
        // Held before the handshake: refused once the descriptor is known.
        let mut p = Pair::new(GatewayConfig::default(), ScriptedConnector::new(), c);
        let held = p.request(react()).unwrap();
        p.settle();
        let t = p.take_transcript();
        let refusal = RequestError::definite(RequestErrorKind::OpNotSupported("react".into()));
        assert_eq!(failures(&t), [(held, refusal.clone())]);
        assert_eq!(refusal.to_string(), "relay op not supported by connector: react");
        // After it: refused at once.
        assert_eq!(p.request(react()).unwrap_err(), refusal);
        // A Discord identity lists react, so a request tagged for it goes out.
        let config =
            GatewayConfig { identities: vec![Identity::new("discord", "d")], ..GatewayConfig::default() };
        let mut d = Pair::connected(config, Chunking::Whole);
        let tagged = OutboundRequest::from(react()).for_identity(Identity::new("discord", "d"));
        assert!(d.request(tagged).is_ok());
        t
    });
}

#[test]
fn pending_bound_refuses_further_requests() {
    under_every_chunking(|c| {
        let mut p = Pair::connected(GatewayConfig { max_pending: 3, ..GatewayConfig::default() }, c);
        p.peer.set_reply(ReplyMode::Hold);
        for i in 0..3 {
            p.request(send(&i.to_string())).unwrap();
        }
        let err = p.request(send("4")).unwrap_err();
        assert_eq!(err, RequestError::definite(RequestErrorKind::TooManyInFlight));
        assert_eq!(err.to_string(), "relay too many requests in flight");
        p.settle();
        p.peer.answer_held_in_order(&[0]);
        p.flush_peer();
        p.settle();
        assert!(p.request(send("5")).is_ok(), "a settled request frees a slot");
        p.take_transcript()
    });
}

// ---- inbound, passthrough, interrupts ----

#[test]
fn inbound_with_and_without_buffer_id_and_ack() {
    let t = under_every_chunking(|c| {
        let mut p = Pair::connected(GatewayConfig::default(), c);
        p.take_transcript();
        p.peer.push_raw(&b"{\"type\":\"inbound\",\"event\":{\"text\":\"live\",\"source\":{\"platform\":\"telegram\",\"chat_id\":\"1\"}}}\n"[..]);
        p.peer.push_raw(
            &b"{\"type\":\"inbound\",\"event\":{\"text\":\"buffered\"},\"bufferId\":\"b-7\"}\n"[..],
        );
        p.flush_peer();
        p.settle();
        p.command(|m, now| m.ack(now, "b-7")).unwrap();
        p.settle();
        p.take_transcript()
    });
    let delivered: Vec<(String, Option<String>)> = t
        .iter()
        .filter_map(|e| match &e.action {
            Action::Deliver(Event::Inbound { event, buffer_id }) => {
                Some((event.text.clone(), buffer_id.clone()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(delivered, [("live".into(), None), ("buffered".into(), Some("b-7".into()))]);
    let acks = sent_frames(&t, FrameType::InboundAck);
    assert!(matches!(&acks[..], [Frame::InboundAck(a)] if a.buffer_id == "b-7"), "{acks:?}");
}

#[test]
fn nothing_is_acked_automatically() {
    let t = under_every_chunking(|c| {
        let mut p = Pair::connected(GatewayConfig::default(), c);
        p.peer.push_raw(&b"{\"type\":\"inbound\",\"event\":{},\"bufferId\":\"b\"}\n"[..]);
        p.flush_peer();
        p.settle();
        p.advance(5 * SECOND);
        p.take_transcript()
    });
    assert!(sent_frames(&t, FrameType::InboundAck).is_empty());
}

#[test]
fn passthrough_delivers_exact_bytes() {
    let body: Vec<u8> = (0..=255u8).rev().collect();
    let t = under_every_chunking(|c| {
        let mut p = Pair::connected(GatewayConfig::default(), c);
        let frame = Frame::PassthroughForward(relay_core::wire::PassthroughForward {
            forward: relay_core::wire::Forward {
                platform: "discord".into(),
                method: "POST".into(),
                path: "/interactions".into(),
                headers: vec![("X-A".into(), "1".into()), ("x-a".into(), "2".into())],
                body: body.clone(),
                ..Default::default()
            },
            buffer_id: Some("p-1".into()),
            extra: Default::default(),
        });
        p.peer.push_frame(&frame);
        p.flush_peer();
        p.settle();
        p.take_transcript()
    });
    let forwards: Vec<_> = t
        .iter()
        .filter_map(|e| match &e.action {
            Action::Deliver(Event::Passthrough { forward, buffer_id }) => {
                Some((forward.clone(), buffer_id.clone()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(forwards.len(), 1);
    assert_eq!(forwards[0].0.body, body);
    assert_eq!(forwards[0].0.headers, [("X-A".to_string(), "1".to_string()), ("x-a".into(), "2".into())]);
    assert_eq!(forwards[0].1.as_deref(), Some("p-1"));
}

#[test]
fn interrupts_travel_both_ways() {
    let t = under_every_chunking(|c| {
        let mut p = Pair::connected(GatewayConfig::default(), c);
        p.peer.push_raw(&b"{\"type\":\"interrupt_inbound\",\"session_key\":\"agent:main:telegram:dm:1\",\"chat_id\":\"1\"}\n"[..]);
        p.flush_peer();
        p.settle();
        p.command(|m, now| m.interrupt(now, "agent:main:telegram:dm:1", None)).unwrap();
        p.command(|m, now| m.interrupt(now, "k2", Some("user asked"))).unwrap();
        p.settle();
        p.take_transcript()
    });
    assert!(t.iter().any(|e| e.action
        == Action::Deliver(Event::Interrupt {
            session_key: "agent:main:telegram:dm:1".into(),
            chat_id: "1".into()
        })));
    let sent: Vec<String> = t
        .iter()
        .filter_map(|e| match &e.action {
            Action::SendFrame(line) if line.contains("\"interrupt\"") => Some(line.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        sent,
        [
            "{\"type\":\"interrupt\",\"session_key\":\"agent:main:telegram:dm:1\",\"reason\":null}\n",
            "{\"type\":\"interrupt\",\"session_key\":\"k2\",\"reason\":\"user asked\"}\n"
        ]
    );
}

#[test]
fn commands_after_close_fail_definitely_with_not_connected() {
    let mut p = Pair::connected(GatewayConfig::default(), Chunking::Whole);
    p.drop_connection(None);
    let not_connected = RequestError::definite(RequestErrorKind::NotConnected);
    assert_eq!(p.command(|m, now| m.interrupt(now, "k", None)), Err(not_connected.clone()));
    assert_eq!(p.command(|m, now| m.ack(now, "b")), Err(not_connected.clone()));
    assert_eq!(p.command(|m, now| m.go_idle(now)), Err(not_connected.clone()));
    assert_eq!(p.command(|m, now| m.close(now)), Err(not_connected));
    assert_eq!(p.gateway.poll_timeout(), None);
}

// ---- going idle, keepalive ----

#[test]
fn going_idle_is_acknowledged() {
    let t = under_every_chunking(|c| {
        let mut p = Pair::connected(GatewayConfig::default(), c);
        p.take_transcript();
        p.command(|m, now| m.go_idle(now)).unwrap();
        p.peer.push_raw(&b"{\"type\":\"going_idle_ack\"}\n"[..]);
        p.settle();
        p.flush_peer();
        p.settle();
        p.advance(5 * SECOND);
        p.take_transcript()
    });
    let a = actions(&t);
    assert_eq!(*a[0], Action::SendFrame("{\"type\":\"going_idle\"}\n".into()));
    assert!(a.contains(&&Action::Deliver(Event::IdleAcknowledged)));
    assert!(!a.contains(&&Action::Deliver(Event::IdleTimedOut)));
}

#[test]
fn going_idle_without_ack_times_out_after_two_seconds() {
    let t = under_every_chunking(|c| {
        let mut p = Pair::connected(GatewayConfig::default(), c);
        let start = p.elapsed();
        p.take_transcript();
        p.command(|m, now| m.go_idle(now)).unwrap();
        p.advance(3 * SECOND);
        let t = p.take_transcript();
        let timed_out = t.iter().find(|e| e.action == Action::Deliver(Event::IdleTimedOut)).unwrap();
        assert_eq!(timed_out.at - start, 2 * SECOND);
        t
    });
    assert!(!t.iter().any(|e| e.action == Action::Deliver(Event::IdleAcknowledged)));
}

#[test]
fn pongs_keep_the_link_alive() {
    let t = under_every_chunking(|c| {
        let mut p = Pair::connected(GatewayConfig::default(), c);
        p.advance(300 * SECOND);
        assert!(!p.gateway.is_closed());
        p.take_transcript()
    });
    assert_eq!(t.iter().filter(|e| e.action == Action::SendPing).count(), 10, "a ping every 30 s");
}

#[test]
fn silence_for_sixty_seconds_kills_the_link() {
    let t = under_every_chunking(|c| {
        let mut p = Pair::connected(GatewayConfig::default(), c);
        p.peer.set_reply(ReplyMode::Hold);
        let id = p.request(send("x")).unwrap();
        // A link that drops everything: no pongs, no data.
        p.latency = Duration::from_secs(3600);
        p.advance(120 * SECOND);
        let t = p.take_transcript();
        assert_eq!(failures(&t), [(id, RequestError { kind: RequestErrorKind::TimedOut, ambiguous: true })]);
        t
    });
    assert_eq!(closed_reason(&t), CloseReason::DeadLink);
    let last_heard = Duration::from_millis(20);
    assert_eq!(t.last().unwrap().at, last_heard + 60 * SECOND);
}

// ---- diagnostics ----

#[test]
fn every_diagnostic_kind_mid_stream_keeps_the_connection() {
    let config = GatewayConfig { max_line: 1024, ..GatewayConfig::default() };
    let t = under_every_chunking(|c| {
        let mut p = Pair::connected(config.clone(), c);
        p.take_transcript();
        let mut stream = Vec::new();
        stream.extend_from_slice(b"{\"type\":\"inbound\",\"event\":{\"text\":\"\xff\"}}\n"); // 2 invalid_utf8
        stream.extend_from_slice(b"garbage\n"); // 3 invalid_json
        stream.extend_from_slice(b"[1,2]\n"); // 4 not_an_object
        stream.extend_from_slice(b"{\"no\":\"type\"}\n"); // 5 missing_type
        stream.extend_from_slice(b"{\"type\":\"teleport\"}\n"); // 6 unknown_type
        stream.extend_from_slice(b"{\"type\":\"hello\",\"platform\":\"x\",\"botId\":\"\"}\n"); // 7 wrong_direction
        stream.extend_from_slice(b"{\"type\":\"inbound\",\"event\":5}\n"); // 8 bad_field
        stream.extend_from_slice(&[b'x'; 2000]); // 9 line_too_long
        stream.extend_from_slice(b"\n\n"); // ends line 9; line 10 is blank
        stream.extend_from_slice(b"{\"type\":\"inbound\",\"event\":{\"text\":\"still here\"}}\n"); // 11
        p.peer.push_raw(stream);
        p.flush_peer();
        p.settle();
        p.take_transcript()
    });
    use DiagnosticKind::*;
    assert_eq!(
        diagnostics(&t),
        [
            // Line 1 of the connection was the descriptor.
            (InvalidUtf8, 2),
            (InvalidJson, 3),
            (NotAnObject, 4),
            (MissingType, 5),
            (UnknownType, 6),
            (WrongDirection, 7),
            (BadField, 8),
            (LineTooLong, 9)
        ]
    );
    assert!(
        matches!(&t.last().unwrap().action, Action::Deliver(Event::Inbound { event, .. }) if event.text == "still here")
    );
}

// ---- shutdown ----

#[test]
fn shutdown_lets_in_flight_requests_finish_then_closes() {
    let t = under_every_chunking(|c| {
        let mut p = Pair::connected(GatewayConfig::default(), c);
        p.peer.set_reply(ReplyMode::Hold);
        let id = p.request(send("last words")).unwrap();
        p.settle();
        p.take_transcript();
        p.command(|m, now| m.shutdown(now, false, now + 5 * SECOND)).unwrap();
        let refused = p.request(send("too late")).unwrap_err();
        assert_eq!(refused, RequestError::definite(RequestErrorKind::Closed));
        assert!(!p.gateway.is_closed(), "waits for the request in flight");
        p.peer.answer_held_in_order(&[0]);
        p.flush_peer();
        p.settle();
        let t = p.take_transcript();
        assert!(matches!(t[0].action, Action::Resolve { id: done, .. } if done == id));
        t
    });
    assert_eq!(closed_reason(&t), CloseReason::Local);
    assert_eq!(t.len(), 2);
}

#[test]
fn shutdown_with_going_idle_waits_for_the_ack() {
    let t = under_every_chunking(|c| {
        let mut p = Pair::connected(GatewayConfig::default(), c);
        p.take_transcript();
        p.command(|m, now| m.shutdown(now, true, now + 5 * SECOND)).unwrap();
        p.settle();
        assert!(!p.gateway.is_closed());
        p.peer.push_raw(&b"{\"type\":\"going_idle_ack\"}\n"[..]);
        p.flush_peer();
        p.settle();
        p.take_transcript()
    });
    let a = actions(&t);
    assert_eq!(*a[0], Action::SendFrame("{\"type\":\"going_idle\"}\n".into()));
    assert_eq!(*a[1], Action::Deliver(Event::IdleAcknowledged));
    assert_eq!(closed_reason(&t), CloseReason::Local);
}

#[test]
fn shutdown_deadline_bounds_everything() {
    let t = under_every_chunking(|c| {
        let mut p = Pair::connected(GatewayConfig::default(), c);
        p.peer.set_reply(ReplyMode::Silent);
        let id = p.request(send("never answered")).unwrap();
        p.settle();
        let start = p.elapsed();
        p.take_transcript();
        p.command(|m, now| m.shutdown(now, true, now + 5 * SECOND)).unwrap();
        p.advance(10 * SECOND);
        let t = p.take_transcript();
        assert_eq!(failures(&t), [(id, RequestError { kind: RequestErrorKind::Closed, ambiguous: true })]);
        assert_eq!(t.last().unwrap().at - start, 5 * SECOND);
        t
    });
    assert!(actions(&t).contains(&&Action::Deliver(Event::IdleTimedOut)));
    assert_eq!(closed_reason(&t), CloseReason::Local);
}
