//! Hostile frame content against the sans-IO machines (PROTOCOL §1): every
//! entry is fed to a machine that completed its handshake, under several
//! chunkings, and must end in its documented outcome — skipped with a
//! diagnostic, kept (repaired where the table says so), or a clean close —
//! never a panic, and the same actions whatever the chunking (nothing lost
//! or duplicated). A probe frame after each entry proves that the
//! connection stayed up and parsing resumed.
//!
//! Socket-level hostility (WebSocket framing, upgrades, resets) is in
//! `hostile_sockets.rs`.

#[path = "hostile_frames/connector.rs"]
mod connector;
#[path = "hostile_frames/gateway_table.rs"]
mod gateway_table;
#[path = "hostile_frames/scenarios.rs"]
mod scenarios;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use relay_core::connector::descriptor_for;
use relay_core::gateway::{Action, CloseReason, Event, GatewayConfig, RelayMachine};
use relay_core::wire::{DescriptorFrame, DiagnosticKind, Frame};

/// What a hostile entry must lead to.
#[derive(Clone, Copy)]
pub(crate) enum Expect<E: 'static, R: 'static> {
    /// Exactly one diagnostic of this kind, nothing else.
    Skipped(DiagnosticKind),
    /// Exactly one event, which passes the check (the frame was kept).
    Kept(fn(&E) -> bool),
    /// No action at all (blank lines, ignored results).
    Ignored,
    /// The machine answers the peer itself with exactly this one frame.
    Answers(fn(&str) -> bool),
    /// Several things happen; the check says whether they are right.
    Custom(fn(&[Seen<E, R>]) -> bool),
}

/// One entry of a catalogue: a name, the bytes a hostile peer sends, the outcome.
pub(crate) struct Case<E: 'static, R: 'static> {
    pub(crate) name: &'static str,
    pub(crate) input: Vec<u8>,
    pub(crate) expect: Expect<E, R>,
}

/// A line (a `\n` is appended) and its expected outcome.
pub(crate) fn line<E, R>(name: &'static str, line: impl AsRef<[u8]>, expect: Expect<E, R>) -> Case<E, R> {
    let mut input = line.as_ref().to_vec();
    input.push(b'\n');
    Case { name, input, expect }
}

/// What a machine did with some input, in a comparable form.
pub(crate) enum Seen<E, R> {
    Event(E),
    Diagnostic(DiagnosticKind),
    Sent(String),
    Closed(R),
}

/// Splits `input` the ways a peer might: whole, a byte at a time (small
/// inputs), odd fixed sizes, and seeded random cuts.
pub(crate) fn chunkings(input: &[u8]) -> Vec<(String, Vec<&[u8]>)> {
    let mut ways = vec![("whole".to_owned(), vec![input])];
    if input.len() <= 64 * 1024 {
        ways.push(("bytewise".to_owned(), input.chunks(1).collect()));
    }
    for size in [7, 4093] {
        ways.push((format!("chunks of {size}"), input.chunks(size).collect()));
    }
    let mut state = 0x9E37_79B9_7F4A_7C15_u64 ^ input.len() as u64;
    let mut cuts = Vec::new();
    let mut at = 0;
    while at < input.len() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let next = (at + 1 + (state % 997) as usize).min(input.len());
        cuts.push(&input[at..next]);
        at = next;
    }
    ways.push(("random cuts".to_owned(), cuts));
    ways
}

/// Checks what a machine did with one entry against its expectation, then
/// that the probe went through (or that nothing follows a close).
pub(crate) fn judge<E: std::fmt::Debug, R: std::fmt::Debug>(
    name: &str,
    expect: &Expect<E, R>,
    seen: &[Seen<E, R>],
    probe: &[Seen<E, R>],
    probe_ok: fn(&E) -> bool,
) -> Result<(), String> {
    let show = |s: &[Seen<E, R>]| {
        s.iter()
            .map(|x| match x {
                Seen::Event(e) => format!("event {e:?}"),
                Seen::Diagnostic(k) => format!("diagnostic {k}"),
                Seen::Sent(l) => format!("sent {}", l.chars().take(200).collect::<String>()),
                Seen::Closed(r) => format!("closed {r:?}"),
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    let fail = |why: &str| Err(format!("{name}: {why}: [{}]", show(seen)));
    let closed = match (expect, seen) {
        (Expect::Skipped(kind), [Seen::Diagnostic(k)]) if k == kind => false,
        (Expect::Skipped(kind), _) => return fail(&format!("expected one diagnostic {kind}")),
        (Expect::Kept(check), [Seen::Event(e)]) if check(e) => false,
        (Expect::Kept(_), _) => return fail("expected one event that passes the check"),
        (Expect::Ignored, []) => false,
        (Expect::Ignored, _) => return fail("expected nothing"),
        (Expect::Answers(check), [Seen::Sent(l)]) if check(l) => false,
        (Expect::Answers(_), _) => return fail("expected the machine to answer by itself"),
        (Expect::Custom(check), _) if check(seen) => matches!(seen.last(), Some(Seen::Closed(_))),
        (Expect::Custom(_), _) => return fail("the custom check failed"),
    };
    match (closed, probe) {
        (true, []) => Ok(()),
        (false, [Seen::Event(e)]) if probe_ok(e) => Ok(()),
        _ => Err(format!("{name}: the probe after it was not handled normally: [{}]", show(probe))),
    }
}

/// Runs every case through `run_case` (which returns what happened under
/// each chunking), catching panics, and fails once with every problem.
pub(crate) fn run_catalogue<E, R>(
    cases: Vec<Case<E, R>>,
    run_case: impl Fn(&Case<E, R>) -> Result<(), String>,
) -> usize {
    let mut problems = Vec::new();
    let count = cases.len();
    for case in &cases {
        let started = Instant::now();
        match catch_unwind(AssertUnwindSafe(|| run_case(case))) {
            Ok(Ok(())) => {}
            Ok(Err(problem)) => problems.push(problem),
            Err(_) => problems.push(format!("{}: PANICKED", case.name)),
        }
        let took = started.elapsed();
        if took > Duration::from_secs(5) {
            problems.push(format!("{}: took {took:?}", case.name));
        }
    }
    assert!(problems.is_empty(), "{} of {count} entries failed:\n{}", problems.len(), problems.join("\n"));
    count
}

// ---- the gateway side ----

/// A fixed start for simulated time.
pub(crate) fn start() -> Instant {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *START.get_or_init(Instant::now)
}

pub(crate) fn descriptor_line(platform: &str) -> String {
    Frame::Descriptor(DescriptorFrame { descriptor: descriptor_for(platform), extra: Default::default() })
        .encode_line()
}

/// A gateway machine past its handshake, its actions so far drained.
pub(crate) fn ready_gateway(config: GatewayConfig) -> RelayMachine {
    let mut m = RelayMachine::new(config, start());
    m.handle_input(start(), descriptor_line("relay").as_bytes());
    let actions: Vec<Action> = std::iter::from_fn(|| m.poll_action()).collect();
    assert!(matches!(actions.last(), Some(Action::Deliver(Event::Ready { .. }))), "{actions:?}");
    m
}

/// Feeds chunks; collects what the machine did.
pub(crate) fn feed_gateway(m: &mut RelayMachine, chunks: &[&[u8]]) -> Vec<Seen<Event, CloseReason>> {
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

pub(crate) const GATEWAY_PROBE: &[u8] = b"{\"type\":\"inbound\",\"event\":{\"text\":\"probe\"}}\n";

fn is_gateway_probe(e: &Event) -> bool {
    matches!(e, Event::Inbound { event, .. } if event.text == "probe")
}

/// Actions compared across chunkings: Debug text is enough and keeps E, R free of PartialEq.
pub(crate) fn fingerprint<E: std::fmt::Debug, R: std::fmt::Debug>(seen: &[Seen<E, R>]) -> Vec<String> {
    seen.iter()
        .map(|s| match s {
            Seen::Event(e) => format!("{e:?}"),
            Seen::Diagnostic(k) => k.to_string(),
            Seen::Sent(l) => l.clone(),
            Seen::Closed(r) => format!("{r:?}"),
        })
        .collect()
}

pub(crate) fn run_gateway_case(case: &Case<Event, CloseReason>) -> Result<(), String> {
    let mut reference: Option<(String, Vec<String>)> = None;
    for (how, chunks) in chunkings(&case.input) {
        let mut m = ready_gateway(GatewayConfig::default());
        let seen = feed_gateway(&mut m, &chunks);
        let probe = feed_gateway(&mut m, &[GATEWAY_PROBE]);
        judge(&format!("{} ({how})", case.name), &case.expect, &seen, &probe, is_gateway_probe)?;
        let print = fingerprint(&seen);
        match &reference {
            None => reference = Some((how, print)),
            Some((first, expected)) if *expected != print => {
                return Err(format!("{}: {how} differs from {first}: {print:?} vs {expected:?}", case.name));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

#[test]
fn gateway_catalogue() {
    let count = run_catalogue(gateway_table::cases(), run_gateway_case);
    assert!(count >= 60, "the gateway catalogue shrank to {count}");
}

#[test]
fn connector_catalogue() {
    let count = run_catalogue(connector::cases(), connector::run_case);
    assert!(count >= 20, "the connector catalogue shrank to {count}");
}
