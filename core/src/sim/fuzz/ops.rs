//! The `gateway_ops` target (quinn's `streams` shape plus firezone's
//! reference model): structured operations, built with `arbitrary`, applied
//! to the gateway machine and to [`Model`]; both must agree after every step.

use std::time::Duration;

use arbitrary::{Arbitrary, Unstructured};

use super::driver::{GatewayDriver, action, identities, identity};
use super::model::{Expected, Limits, Model, Settled};
use super::peer_frames::PeerFrame;
use crate::gateway::{Action, CloseFrame, Event, GatewayConfig, OutboundRequest};

/// Operations one input may hold before the rest is ignored.
const MAX_OPS: usize = 4_096;

/// The connection's settings, fuzzed within small ranges.
#[derive(Debug, Arbitrary)]
struct Setup {
    /// Request timeout in tenths of a second, 0.1 s to 10 s.
    request_timeout: u8,
    /// Pending bound, 1 to 8.
    max_pending: u8,
    /// Held-frame bound, 0 to 5.
    max_held: u8,
    seed: u64,
}

impl Setup {
    fn build(&self) -> (GatewayConfig, Limits) {
        let limits = Limits {
            identities: identities().len(),
            request_timeout: Duration::from_millis(100 * (1 + u64::from(self.request_timeout % 100))),
            handshake_timeout: Duration::from_secs(10),
            ping_interval: Duration::from_secs(7),
            dead_link_timeout: Duration::from_secs(20),
            going_idle_timeout: Duration::from_secs(1),
            max_pending: 1 + usize::from(self.max_pending % 8),
            max_held_frames: usize::from(self.max_held % 6),
            max_line: 512,
        };
        let config = GatewayConfig {
            identities: identities(),
            handshake_timeout: limits.handshake_timeout,
            request_timeout: limits.request_timeout,
            max_pending: limits.max_pending,
            max_held_frames: limits.max_held_frames,
            max_line: limits.max_line,
            ping_interval: limits.ping_interval,
            dead_link_timeout: limits.dead_link_timeout,
            going_idle_timeout: limits.going_idle_timeout,
            seed: self.seed,
            ..GatewayConfig::default()
        };
        (config, limits)
    }
}

/// One thing that happens to the connection.
#[derive(Debug, Arbitrary)]
enum Op {
    /// The connector sends a line, maybe Python-style, maybe split in two messages.
    Peer {
        frame: PeerFrame,
        python: bool,
        split: u8,
    },
    /// The application submits a request (op kind, identity selector, text).
    Request {
        kind: u8,
        identity: u8,
        text: String,
    },
    Interrupt(String),
    Ack(String),
    GoIdle,
    Shutdown {
        go_idle: bool,
        grace_ms: u16,
    },
    Close,
    /// Time passes (a quarter of the value, in ms); deadlines fire on time.
    Advance(u16),
    /// Time passes (the value in ms) and the driver wakes once, late.
    Late(u16),
    Keepalive,
    TransportClosed(Option<(u16, String)>),
    WriteFailed(String),
}

/// Applies the operations `data` describes to a fresh gateway (before its
/// handshake) and to the reference model. After every step they must agree
/// on what was settled and how (resolved with which result, or failed with
/// which kind and ambiguity), on `Ready`, on deliveries, on `Closed` and its
/// reason, on pending counts and on the next deadline. The driving contract
/// is checked throughout, and at the end every request must be settled.
pub fn gateway_ops(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(setup) = Setup::arbitrary(&mut u) else { return };
    let (config, limits) = setup.build();
    let mut d = GatewayDriver::new(config);
    let mut model = Model::new(limits);
    for _ in 0..MAX_OPS {
        if u.is_empty() {
            break;
        }
        let Ok(op) = Op::arbitrary(&mut u) else { break };
        let context = format!("{op:?}");
        let actions = apply(&mut d, &mut model, op);
        agree(&d, &mut model, &actions, &context);
    }
    let now = d.now();
    model.transport_closed(now, None);
    let actions = d.command(|m, at| m.handle_transport_closed(at, None)).1;
    agree(&d, &mut model, &actions, "final transport close");
    d.finish();
}

fn apply(d: &mut GatewayDriver, model: &mut Model, op: Op) -> Vec<Action> {
    let now = d.now();
    match op {
        Op::Peer { frame, python, split } => {
            let line = frame.line(&d.issued, python);
            model.input(now, &line);
            let cut = usize::from(split) % line.len().max(1);
            let mut actions = d.input(&line[..cut], None);
            actions.extend(d.input(&line[cut..], None));
            actions
        }
        Op::Request { kind, identity: selector, text } => {
            let mut request = OutboundRequest::from(action(kind, &text));
            request.identity = identity(selector);
            let expected = model.request(now, &request);
            let (result, actions) = d.request(request.clone());
            assert_eq!(
                result.as_ref().map(|_| ()).map_err(Clone::clone),
                expected,
                "request() returned {result:?}"
            );
            if let Ok(id) = result {
                model.issued(id, request);
            }
            actions
        }
        Op::Interrupt(key) => command(d, model.command(now), |m, at| m.interrupt(at, &key, None)),
        Op::Ack(buffer_id) => command(d, model.command(now), |m, at| m.ack(at, &buffer_id)),
        Op::GoIdle => command(d, model.go_idle(now), |m, at| m.go_idle(at)),
        Op::Shutdown { go_idle, grace_ms } => {
            let grace = Duration::from_millis(u64::from(grace_ms));
            let expected = model.shutdown(now, go_idle, now + grace);
            command(d, expected, |m, at| m.shutdown(at, go_idle, at + grace))
        }
        Op::Close => command(d, model.close(now), |m, at| m.close(at)),
        Op::Advance(ms) => {
            let target = now + Duration::from_millis(u64::from(ms) / 4);
            let mut actions = Vec::new();
            while let Some(t) = d.deadline().filter(|t| *t <= target) {
                assert_eq!(Some(t), model.deadline(), "deadlines disagree while time passes");
                model.timeout(t);
                actions.extend(d.timeout_at(t));
            }
            d.set_now(target);
            actions
        }
        Op::Late(ms) => {
            let t = now + Duration::from_millis(u64::from(ms));
            model.timeout(t);
            d.timeout_at(t)
        }
        Op::Keepalive => {
            model.keepalive(now);
            d.command(|m, at| m.handle_keepalive(at)).1
        }
        Op::TransportClosed(close) => {
            let close = close.map(|(code, reason)| CloseFrame::new(code, reason));
            model.transport_closed(now, close.clone());
            d.command(|m, at| m.handle_transport_closed(at, close)).1
        }
        Op::WriteFailed(detail) => {
            model.write_failed(now, &detail);
            d.command(|m, at| m.handle_write_failed(at, &detail)).1
        }
    }
}

/// Runs a command on the machine and checks its return value against the model's.
fn command<E: PartialEq + std::fmt::Debug>(
    d: &mut GatewayDriver,
    expected: Result<(), E>,
    f: impl FnOnce(&mut crate::gateway::RelayMachine, std::time::Instant) -> Result<(), E>,
) -> Vec<Action> {
    let (result, actions) = d.command(f);
    assert_eq!(result, expected, "a command's result disagrees with the model");
    actions
}

/// What the machine's actions of one step amount to, in the model's terms.
fn observed(actions: &[Action]) -> Expected {
    let mut seen = Expected::default();
    for action in actions {
        match action {
            Action::Resolve { id, result } => seen.settled.push((*id, Settled::Resolved(result.clone()))),
            Action::Fail { id, error } => seen.settled.push((*id, Settled::Failed(error.clone()))),
            Action::Deliver(Event::Ready { .. }) => seen.ready = true,
            Action::Deliver(Event::Inbound { .. } | Event::Passthrough { .. } | Event::Interrupt { .. }) => {
                seen.deliveries += 1
            }
            Action::Closed(reason) => seen.closed = Some(reason.clone()),
            _ => {}
        }
    }
    seen
}

fn agree(d: &GatewayDriver, model: &mut Model, actions: &[Action], context: &str) {
    let expected = model.take();
    assert_eq!(observed(actions), expected, "machine and model disagree after {context}");
    let m = &d.machine;
    assert_eq!(m.is_closed(), model.is_closed(), "closed state disagrees after {context}");
    assert_eq!(m.is_ready(), model.is_ready(), "ready state disagrees after {context}");
    assert_eq!(m.pending_requests(), model.pending(), "pending count disagrees after {context}");
    assert_eq!(d.deadline(), model.deadline(), "next deadline disagrees after {context}");
}
