//! The connector's catalogue: lines a hostile gateway sends, and what a
//! connector machine past its handshake must do with each.

use std::collections::VecDeque;

use relay_core::connector::{
    Action, CloseReason, ConnectorConfig, ConnectorMachine, Event, MemoryBacklog, descriptor_for,
    serve_request,
};
use relay_core::wire::DiagnosticKind::*;
use relay_core::wire::OutboundAction;

use super::{Case, Expect, Seen, chunkings, fingerprint, judge, line, start};

type E = Expect<Event, CloseReason>;

fn skipped(kind: relay_core::wire::DiagnosticKind) -> E {
    Expect::Skipped(kind)
}

fn request(e: &Event) -> Option<(&str, &OutboundAction)> {
    match e {
        Event::Request { request_id, action, .. } => Some((request_id, action)),
        _ => None,
    }
}

fn outbound(action: &str) -> String {
    format!("{{\"type\":\"outbound\",\"requestId\":\"r1\",\"action\":{action}}}")
}

pub(crate) fn cases() -> Vec<Case<Event, CloseReason>> {
    let hellos: String =
        (0..256).map(|i| format!("{{\"type\":\"hello\",\"platform\":\"p{i}\",\"botId\":\"\"}}\n")).collect();
    vec![
        line(
            "invalid UTF-8 from a gateway",
            b"{\"type\":\"interrupt\",\"session_key\":\"\xfe\"}",
            skipped(InvalidUtf8),
        ),
        line("not JSON from a gateway", "interrupt please", skipped(InvalidJson)),
        line("NaN from a gateway", "{\"type\":\"going_idle\",\"n\":NaN}", skipped(InvalidJson)),
        line(
            "nesting 10,000 deep from a gateway",
            format!("{{\"type\":\"going_idle\",\"x\":{}{}}}", "[".repeat(10_000), "]".repeat(10_000)),
            skipped(InvalidJson),
        ),
        line("a list from a gateway", "[{\"type\":\"going_idle\"}]", skipped(NotAnObject)),
        line("type is a number, from a gateway", "{\"type\":1}", skipped(MissingType)),
        line("unknown type from a gateway", "{\"type\":\"hello2\"}", skipped(UnknownType)),
        line(
            "descriptor arriving at a connector",
            super::descriptor_line("x").trim_end(),
            skipped(WrongDirection),
        ),
        line(
            "inbound arriving at a connector",
            "{\"type\":\"inbound\",\"event\":{}}",
            skipped(WrongDirection),
        ),
        line(
            "outbound_result arriving at a connector",
            "{\"type\":\"outbound_result\",\"requestId\":\"r\",\"result\":{}}",
            skipped(WrongDirection),
        ),
        line(
            "going_idle_ack arriving at a connector",
            "{\"type\":\"going_idle_ack\"}",
            skipped(WrongDirection),
        ),
        line(
            "passthrough_forward arriving at a connector",
            "{\"type\":\"passthrough_forward\",\"forward\":{}}",
            skipped(WrongDirection),
        ),
        line(
            "interrupt_inbound arriving at a connector",
            "{\"type\":\"interrupt_inbound\",\"session_key\":\"k\",\"chat_id\":\"c\"}",
            skipped(WrongDirection),
        ),
        line("outbound without action", "{\"type\":\"outbound\",\"requestId\":\"r1\"}", skipped(BadField)),
        line(
            "outbound without requestId",
            "{\"type\":\"outbound\",\"action\":{\"op\":\"typing\",\"chat_id\":\"c\"}}",
            skipped(BadField),
        ),
        line("action without op", outbound("{\"chat_id\":\"c\"}"), skipped(BadField)),
        line("op is not a string", outbound("{\"op\":7}"), skipped(BadField)),
        line(
            "send content is a number",
            outbound("{\"op\":\"send\",\"chat_id\":\"c\",\"content\":5}"),
            skipped(BadField),
        ),
        line(
            "draft_id beyond i64",
            outbound(
                "{\"op\":\"draft\",\"chat_id\":\"c\",\"draft_id\":99999999999999999999,\"content\":\"\",\"final\":false}",
            ),
            skipped(BadField),
        ),
        line(
            "draft_id is a float",
            outbound(
                "{\"op\":\"draft\",\"chat_id\":\"c\",\"draft_id\":1.5,\"content\":\"\",\"final\":false}",
            ),
            skipped(BadField),
        ),
        line(
            "hello with a numeric botId",
            "{\"type\":\"hello\",\"platform\":\"x\",\"botId\":5}",
            skipped(BadField),
        ),
        line("inbound_ack without bufferId", "{\"type\":\"inbound_ack\"}", skipped(BadField)),
        line(
            "interrupt reason is a number",
            "{\"type\":\"interrupt\",\"session_key\":\"k\",\"reason\":5}",
            skipped(BadField),
        ),
        line(
            "interrupt without its reason key",
            "{\"type\":\"interrupt\",\"session_key\":\"k\"}",
            Expect::Kept(|e| matches!(e, Event::Interrupt { reason: None, .. })),
        ),
        line(
            "lone surrogate in a session key is repaired",
            "{\"type\":\"interrupt\",\"session_key\":\"k\\udc00\",\"reason\":null}",
            Expect::Kept(|e| matches!(e, Event::Interrupt { session_key, .. } if session_key == "k\u{FFFD}")),
        ),
        line(
            "unknown op is carried raw",
            outbound("{\"op\":\"teleport\",\"to\":[1,2]}"),
            Expect::Kept(|e| {
                request(e).is_some_and(|(_, a)| matches!(a, OutboundAction::Other(raw) if raw.op == "teleport" && raw.fields.contains_key("to")))
            }),
        ),
        line(
            "an empty requestId is an opaque id",
            "{\"type\":\"outbound\",\"requestId\":\"\",\"action\":{\"op\":\"typing\",\"chat_id\":\"c\"}}",
            Expect::Kept(|e| request(e).is_some_and(|(id, _)| id.is_empty())),
        ),
        line(
            "inbound_ack for an unknown buffer id",
            "{\"type\":\"inbound_ack\",\"bufferId\":\"never-sent\"}",
            Expect::Kept(|e| matches!(e, Event::InboundAck { replayed: false, .. })),
        ),
        line(
            "outbound for an identity that never said hello",
            "{\"type\":\"outbound\",\"requestId\":\"r9\",\"platform\":\"discord\",\"botId\":\"b\",\"action\":{\"op\":\"typing\",\"chat_id\":\"c\"}}",
            Expect::Answers(|l| {
                l.contains("\"requestId\":\"r9\"")
                    && l.contains("\"code\":\"unknown_identity\"")
                    && l.contains("\"success\":false")
            }),
        ),
        line(
            "half-tagged outbound for an unknown identity",
            "{\"type\":\"outbound\",\"requestId\":\"r8\",\"platform\":\"discord\",\"action\":{\"op\":\"typing\",\"chat_id\":\"c\"}}",
            Expect::Answers(|l| l.contains("identity not announced: discord:")),
        ),
        Case {
            name: "the same requestId twice while it is pending",
            input: format!(
                "{}\n{}\n",
                outbound("{\"op\":\"typing\",\"chat_id\":\"c\"}"),
                outbound("{\"op\":\"typing\",\"chat_id\":\"d\"}")
            )
            .into_bytes(),
            expect: Expect::Custom(
                |s| matches!(s, [Seen::Event(e), Seen::Diagnostic(Unexpected)] if request(e).is_some_and(|(id, _)| id == "r1")),
            ),
        },
        Case {
            name: "going_idle sent twice is acknowledged twice, announced once",
            input: b"{\"type\":\"going_idle\"}\n{\"type\":\"going_idle\"}\n".to_vec(),
            expect: Expect::Custom(
                |s| matches!(s, [Seen::Sent(a), Seen::Event(Event::GoingIdle), Seen::Sent(b)] if a.contains("going_idle_ack") && b.contains("going_idle_ack")),
            ),
        },
        Case {
            name: "more hellos than allowed close the connection",
            input: hellos.into_bytes(),
            expect: Expect::Custom(|s| {
                s.len() == 256
                    && s[..255].iter().all(|x| matches!(x, Seen::Event(Event::Hello { .. })))
                    && matches!(s[255], Seen::Closed(CloseReason::TooManyHellos))
            }),
        },
        Case { name: "blank lines from a gateway", input: b"\n\r\n \t\n".to_vec(), expect: Expect::Ignored },
    ]
}

/// A connector machine whose gateway said hello and got its descriptor; live.
fn ready() -> ConnectorMachine {
    let mut m = ConnectorMachine::new(ConnectorConfig::default(), None, start(), 1_700_000_000);
    m.handle_input(start(), b"{\"type\":\"hello\",\"platform\":\"relay\",\"botId\":\"\"}\n");
    m.answer_hello(start(), descriptor_for("relay")).unwrap();
    let mut actions = VecDeque::new();
    while let Some(action) = m.poll_action() {
        match action {
            Action::Store(request) => {
                serve_request(&mut m, start(), request, &mut MemoryBacklog::new()).unwrap()
            }
            other => actions.push_back(other),
        }
    }
    assert!(matches!(actions.back(), Some(Action::Deliver(Event::Live))), "{actions:?}");
    m
}

fn feed(m: &mut ConnectorMachine, chunks: &[&[u8]]) -> Vec<Seen<Event, CloseReason>> {
    let mut seen = Vec::new();
    for chunk in chunks {
        m.handle_input(start(), chunk);
        while let Some(action) = m.poll_action() {
            seen.push(match action {
                Action::Deliver(Event::Diagnostic(d)) => Seen::Diagnostic(d.kind),
                Action::Deliver(event) => Seen::Event(event),
                Action::SendFrame(line) => Seen::Sent(line),
                Action::Closed(reason) => Seen::Closed(reason),
                other => panic!("unexpected action {other:?}"),
            });
        }
    }
    seen
}

const PROBE: &[u8] = b"{\"type\":\"interrupt\",\"session_key\":\"probe\",\"reason\":null}\n";

fn is_probe(e: &Event) -> bool {
    matches!(e, Event::Interrupt { session_key, .. } if session_key == "probe")
}

pub(crate) fn run_case(case: &Case<Event, CloseReason>) -> Result<(), String> {
    let mut first: Option<Vec<String>> = None;
    for (how, chunks) in chunkings(&case.input) {
        let mut m = ready();
        let seen = feed(&mut m, &chunks);
        let probe = feed(&mut m, &[PROBE]);
        judge(&format!("{} ({how})", case.name), &case.expect, &seen, &probe, is_probe)?;
        let print = fingerprint(&seen);
        match &first {
            None => first = Some(print),
            Some(expected) if *expected != print => return Err(format!("{}: {how} differs", case.name)),
            Some(_) => {}
        }
    }
    Ok(())
}
