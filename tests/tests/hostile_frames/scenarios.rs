//! Hostile inputs that need more than one line or a special setup: floods,
//! over-long lines, huge bodies, stray results, bad handshakes.

use std::time::{Duration, Instant};

use base64::Engine as _;
use relay_core::gateway::{
    Action, CloseReason, Event, GatewayConfig, RelayMachine, RequestError, RequestErrorKind, RequestId,
};
use relay_core::wire::{DiagnosticKind, OutboundAction, SendMessage};

use super::{GATEWAY_PROBE, Seen, descriptor_line, feed_gateway, ready_gateway, start};

fn drain(m: &mut RelayMachine) -> Vec<Action> {
    std::iter::from_fn(|| m.poll_action()).collect()
}

fn diagnostics(seen: &[Seen<Event, CloseReason>]) -> Vec<DiagnosticKind> {
    seen.iter()
        .filter_map(|s| match s {
            Seen::Diagnostic(k) => Some(*k),
            _ => None,
        })
        .collect()
}

fn is_probe(seen: &[Seen<Event, CloseReason>]) -> bool {
    matches!(seen, [Seen::Event(Event::Inbound { event, .. })] if event.text == "probe")
}

fn send(m: &mut RelayMachine, now: Instant) -> RequestId {
    let id = m.request(now, OutboundAction::Send(SendMessage::new("c", "x"))).unwrap();
    assert!(drain(m).iter().any(|a| matches!(a, Action::SendFrame(l) if l.contains(&id.to_string()))));
    id
}

fn result_for(id: &str) -> Vec<u8> {
    format!("{{\"type\":\"outbound_result\",\"requestId\":\"{id}\",\"result\":{{\"success\":true}}}}\n")
        .into_bytes()
}

/// Pseudo-random bytes, every value included.
fn noise(len: usize) -> Vec<u8> {
    let mut state = 0x2545_F491_4F6C_DD1D_u64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

#[test]
fn a_hundred_thousand_empty_lines_are_skipped_silently() {
    let started = Instant::now();
    let blank = "\n".repeat(100_000);
    for chunk in [blank.len(), 65_536, 997] {
        let mut m = ready_gateway(GatewayConfig::default());
        let chunks: Vec<&[u8]> = blank.as_bytes().chunks(chunk).collect();
        assert!(feed_gateway(&mut m, &chunks).is_empty(), "blank lines produce nothing");
        // Line numbers keep counting: the descriptor was line 1, so the
        // next bad line is number 100,002.
        m.handle_input(start(), b"not json\n");
        let actions = drain(&mut m);
        assert!(
            matches!(&actions[..], [Action::Deliver(Event::Diagnostic(d))] if d.line == 100_002 && d.kind == DiagnosticKind::InvalidJson),
            "{actions:?}"
        );
        assert!(is_probe(&feed_gateway(&mut m, &[GATEWAY_PROBE])));
    }
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
}

#[test]
fn a_line_over_the_maximum_is_discarded_as_it_streams_under_any_chunking() {
    let long = vec![b'x'; 20 << 20];
    for chunk in [65_536, 65_537, (1 << 20) + 3, long.len()] {
        let mut m = ready_gateway(GatewayConfig::default());
        let chunks: Vec<&[u8]> = long.chunks(chunk).collect();
        assert!(feed_gateway(&mut m, &chunks).is_empty(), "nothing until its newline");
        let seen = feed_gateway(&mut m, &[b"\n", GATEWAY_PROBE]);
        assert_eq!(diagnostics(&seen), [DiagnosticKind::LineTooLong], "chunks of {chunk}");
        assert!(is_probe(&seen[1..]), "the next frame decodes (chunks of {chunk})");
    }
}

#[test]
fn the_line_maximum_is_exact() {
    let config = GatewayConfig { max_line: 1024, ..GatewayConfig::default() };
    let frame = "{\"type\":\"inbound\",\"event\":{\"text\":\"edge\"}}";
    let at_max = format!("{frame}{}\n", " ".repeat(1024 - frame.len()));
    let over = format!("{frame}{}\n", " ".repeat(1025 - frame.len()));
    let mut m = ready_gateway(config);
    let seen = feed_gateway(&mut m, &[at_max.as_bytes(), over.as_bytes(), GATEWAY_PROBE]);
    assert!(matches!(&seen[0], Seen::Event(Event::Inbound { event, .. }) if event.text == "edge"));
    assert_eq!(diagnostics(&seen), [DiagnosticKind::LineTooLong]);
    assert!(is_probe(&seen[2..]));
}

#[test]
fn results_for_unknown_duplicate_and_timed_out_requests_are_ignored_and_counted() {
    let config = GatewayConfig { request_timeout: Duration::from_secs(1), ..GatewayConfig::default() };
    let mut m = ready_gateway(config);
    let (answered, expiring) = (send(&mut m, start()), send(&mut m, start()));
    m.handle_input(start(), &result_for(&answered.to_string()));
    assert!(matches!(&drain(&mut m)[..], [Action::Resolve { id, .. }] if *id == answered));
    m.handle_input(start(), &result_for(&answered.to_string()));
    assert!(drain(&mut m).is_empty(), "a duplicate result is ignored");

    m.handle_timeout(start() + Duration::from_secs(1));
    let timed_out = RequestError { kind: RequestErrorKind::TimedOut, ambiguous: true };
    assert_eq!(drain(&mut m), [Action::Fail { id: expiring, error: timed_out }]);
    m.handle_input(start() + Duration::from_secs(2), &result_for(&expiring.to_string()));
    assert!(drain(&mut m).is_empty(), "a result after the timeout is ignored");

    let later = start() + Duration::from_secs(2);
    let pending = send(&mut m, later);
    m.handle_input(later, &result_for(&pending.to_string().to_uppercase()));
    m.handle_input(later, &result_for("ffffffffffffffffffffffffffffffff"));
    assert!(drain(&mut m).is_empty(), "unknown ids are ignored");
    m.handle_input(later, &result_for(&pending.to_string()));
    assert!(matches!(&drain(&mut m)[..], [Action::Resolve { id, .. }] if *id == pending));
    assert_eq!(m.stats().unknown_results, 4);
    assert_eq!((m.stats().resolved, m.stats().failed), (2, 1), "each request settled exactly once");
    assert_eq!(m.pending_requests(), 0);
}

#[test]
fn a_result_after_the_gateway_closed_is_ignored() {
    for how in ["local close", "transport lost"] {
        let mut m = ready_gateway(GatewayConfig::default());
        let id = send(&mut m, start());
        match how {
            "local close" => m.close(start()).unwrap(),
            _ => m.handle_transport_closed(start(), None),
        }
        let actions = drain(&mut m);
        assert!(
            matches!(&actions[..], [Action::Fail { id: f, error }, Action::Closed(_)] if *f == id && error.ambiguous)
        );
        m.handle_input(start(), &result_for(&id.to_string()));
        m.handle_input(start(), GATEWAY_PROBE);
        assert!(drain(&mut m).is_empty(), "{how}: nothing after Closed");
        assert_eq!(m.poll_timeout(), None);
    }
}

#[test]
fn a_bad_first_descriptor_fails_the_handshake_with_its_detail() {
    let good = r#""contract_version":1,"platform":"x","label":"x","max_message_length":10,"supports_draft_streaming":false,"supports_edit":false,"supports_threads":false,"markdown_dialect":"plain","len_unit":"chars""#;
    let with = |field: &str, value: &str| {
        let mut fields: Vec<String> = good.split(',').map(str::to_owned).collect();
        let at = fields.iter().position(|f| f.starts_with(&format!("\"{field}\""))).unwrap();
        fields[at] = format!("\"{field}\":{value}");
        format!("{{\"type\":\"descriptor\",\"descriptor\":{{{}}}}}\n", fields.join(","))
    };
    let cases = [
        ("{\"type\":\"descriptor\"}\n".to_owned(), "descriptor"),
        ("{\"type\":\"descriptor\",\"descriptor\":\"x\"}\n".to_owned(), "descriptor"),
        ("{\"type\":\"descriptor\",\"descriptor\":[]}\n".to_owned(), "descriptor"),
        (with("contract_version", "\"1\""), "contract_version"),
        (with("platform", "5"), "platform"),
        (with("label", "null"), "label"),
        (with("max_message_length", "1.5"), "max_message_length"),
        (with("max_message_length", "99999999999999999999"), "max_message_length"),
        (with("supports_edit", "\"true\""), "supports_edit"),
        (with("len_unit", "3"), "len_unit"),
        (with("markdown_dialect", "[]"), "markdown_dialect"),
    ];
    for (line, field) in cases {
        let mut m = RelayMachine::new(GatewayConfig::default(), start());
        drain(&mut m);
        let held = m.request(start(), OutboundAction::Send(SendMessage::new("c", "x"))).unwrap();
        m.handle_input(start(), line.as_bytes());
        let actions = drain(&mut m);
        let [Action::Fail { id, error }, Action::Closed(reason)] = &actions[..] else {
            panic!("{line}: {actions:?}")
        };
        assert_eq!((*id, error), (held, &RequestError::definite(RequestErrorKind::NotConnected)));
        let text = reason.to_string();
        assert!(text.starts_with("relay bad descriptor: ") && text.contains(field), "{line}: {text}");
        assert_eq!(reason.close_to_send().map(|c| c.code), Some(1002));
        assert!(reason.is_handshake_failure());
    }
    // A line that is not even JSON names no frame: it is only a diagnostic.
    let mut m = RelayMachine::new(GatewayConfig::default(), start());
    drain(&mut m);
    m.handle_input(start(), b"{\"type\":\"descriptor\",\n");
    assert!(
        matches!(&drain(&mut m)[..], [Action::Deliver(Event::Diagnostic(d))] if d.kind == DiagnosticKind::InvalidJson)
    );
    assert!(!m.is_closed());
}

#[test]
fn ten_thousand_descriptors_complete_the_handshake_once_and_the_rest_are_skipped() {
    let started = Instant::now();
    let flood = descriptor_line("relay").repeat(10_000);
    let mut m = RelayMachine::new(GatewayConfig::default(), start());
    drain(&mut m);
    let seen = feed_gateway(&mut m, &flood.as_bytes().chunks(65_536).collect::<Vec<_>>());
    assert!(matches!(seen[0], Seen::Event(Event::Ready { .. })));
    assert_eq!(seen.len(), 10_000);
    assert!(diagnostics(&seen).iter().all(|k| *k == DiagnosticKind::Unexpected));
    assert_eq!(m.descriptor().unwrap().platform, "relay");
    assert!(is_probe(&feed_gateway(&mut m, &[GATEWAY_PROBE])));
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
}

#[test]
fn frames_before_the_descriptor_are_held_up_to_the_bound() {
    let early = "{\"type\":\"inbound\",\"event\":{\"text\":\"early\"}}\n";
    // At the bound: every held frame is delivered after the descriptor, in order.
    let mut m = RelayMachine::new(GatewayConfig::default(), start());
    drain(&mut m);
    let seen = feed_gateway(&mut m, &[early.repeat(1024).as_bytes(), descriptor_line("relay").as_bytes()]);
    assert_eq!(seen.len(), 1025);
    assert!(matches!(seen[0], Seen::Event(Event::Ready { .. })));
    // One over: the connection fails, the held request definitely.
    let mut m = RelayMachine::new(GatewayConfig::default(), start());
    drain(&mut m);
    let held = m.request(start(), OutboundAction::Send(SendMessage::new("c", "x"))).unwrap();
    m.handle_input(start(), early.repeat(1025).as_bytes());
    let actions = drain(&mut m);
    assert_eq!(
        actions,
        [
            Action::Fail { id: held, error: RequestError::definite(RequestErrorKind::NotConnected) },
            Action::Closed(CloseReason::TooManyHeldFrames)
        ]
    );
}

#[test]
fn a_fifty_megabyte_passthrough_body_arrives_exactly() {
    let started = Instant::now();
    let body = noise(50_000_000);
    let b64 = base64::engine::general_purpose::STANDARD.encode(&body);
    let line = format!(
        "{{\"type\":\"passthrough_forward\",\"forward\":{{\"platform\":\"discord\",\"method\":\"POST\",\"path\":\"/i\",\"headers\":[],\"bodyB64\":\"{b64}\"}}}}\n"
    );
    drop(b64);
    let config = GatewayConfig { max_line: 80 << 20, ..GatewayConfig::default() };
    let mut m = ready_gateway(config);
    let seen = feed_gateway(&mut m, &line.as_bytes().chunks(65_536).collect::<Vec<_>>());
    let [Seen::Event(Event::Passthrough { forward, .. })] = &seen[..] else { panic!("{}", seen.len()) };
    assert_eq!(forward.body.len(), body.len());
    assert!(forward.body == body, "the body differs");
    let took = started.elapsed();
    eprintln!("50 MB passthrough body: {took:?}");
    assert!(took < Duration::from_secs(20), "took {took:?}");
}

#[test]
fn a_million_headers_are_read_in_bounded_time_and_malformed_ones_dropped() {
    let mut headers = String::with_capacity(14 << 20);
    for i in 0..1_000_000 {
        headers.push_str(if i % 2 == 0 { "[\"h\",\"v\"]," } else { "[\"h\"]," });
    }
    headers.pop();
    let line = format!("{{\"type\":\"passthrough_forward\",\"forward\":{{\"headers\":[{headers}]}}}}\n");
    assert!(line.len() < 16 << 20, "fits the default maximum line");
    let started = Instant::now();
    let mut m = ready_gateway(GatewayConfig::default());
    let seen = feed_gateway(&mut m, &[line.as_bytes()]);
    let took = started.elapsed();
    let [Seen::Event(Event::Passthrough { forward, .. })] = &seen[..] else { panic!("{}", seen.len()) };
    assert_eq!(forward.headers.len(), 500_000);
    eprintln!("a million headers: {took:?}");
    assert!(took < Duration::from_secs(20), "took {took:?}");
}
