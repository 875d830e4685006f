//! The `gateway_bytes` target (str0m's `receive` shape): a ready gateway fed
//! fuzz bytes, interleaved with time steps and application commands.

use std::time::Duration;

use super::driver::{GatewayDriver, action, identities, identity};
use super::script::{self, Step, byte, number, text};
use crate::gateway::{CloseFrame, GatewayConfig, OutboundRequest};
use crate::wire::{ActionResult, Frame, OutboundResult};

/// The control letters of a `gateway_bytes` script (see [`script`]); any
/// other control byte picks one of these by its value.
///
/// - `i` payload received as one message; `o` the same, stamped up to
///   payload[0]·100 ms in the past
/// - `t` advance the clock by `number` ms, calling `handle_timeout` at each
///   deadline on the way; `l` advance and call it once, late
/// - `k` keepalive (a pong arrived)
/// - `r` request: payload[0] picks the op, payload[1] the identity, the rest is text
/// - `a` the connector answers the request payload[0] picks (pending,
///   settled or never sent), success from payload[1]; the rest of the
///   payload follows the result in the same message
/// - `x` interrupt, `c` inbound ack, `g` go idle, `h` shutdown (payload[0]
///   odd: with go idle; grace `number` of the rest in ms), `q` close
/// - `d` transport closed (with a close frame when there is a payload),
///   `w` write failed
const CONTROLS: &[u8] = b"iotlkraxcghqdw";

/// Longest line the fuzzed gateway takes, small so `line_too_long` is reachable.
const MAX_LINE: usize = 1024;

/// Longest single clock step, in ms.
const MAX_STEP_MS: u64 = 120_000;

fn config() -> GatewayConfig {
    GatewayConfig {
        identities: identities(),
        request_timeout: Duration::from_secs(5),
        max_pending: 8,
        max_held_frames: 4,
        max_line: MAX_LINE,
        seed: 7,
        ..GatewayConfig::default()
    }
}

/// Runs the script in `data` (format: the `script` module, letters: `CONTROLS`)
/// against a gateway that completed its handshake, once with every message
/// whole and once byte by byte. Each run checks the driving contract after
/// every action (`sim::Invariants`, ambiguity, frame validity, bounded
/// drains, deadlines after `handle_timeout`), and ends the connection to
/// check that every request settled; the two runs must produce the same actions.
pub fn gateway_bytes(data: &[u8]) {
    let whole = run(data, None);
    let bytewise = run(data, Some(1));
    assert!(whole == bytewise, "the gateway's actions depend on how its input was chunked");
}

fn run(data: &[u8], chunk: Option<usize>) -> Vec<crate::gateway::Action> {
    let mut d = GatewayDriver::ready(config());
    for step in script::steps(data) {
        match step {
            Step::Bytes(bytes) => {
                d.input(bytes, chunk);
            }
            Step::Control(control, payload) => apply(&mut d, control, payload, chunk),
        }
    }
    d.finish();
    d.transcript().to_vec()
}

fn apply(d: &mut GatewayDriver, control: u8, payload: &[u8], chunk: Option<usize>) {
    let control =
        if CONTROLS.contains(&control) { control } else { CONTROLS[usize::from(control) % CONTROLS.len()] };
    match control {
        b'i' => {
            d.input(payload, chunk);
        }
        b'o' => {
            let back = Duration::from_millis(u64::from(byte(payload, 0)) * 100);
            d.input_at(d.now().saturating_sub(back), payload, chunk);
        }
        b't' => tick(d, Duration::from_millis(number(payload, MAX_STEP_MS))),
        b'l' => {
            d.timeout_at(d.now() + Duration::from_millis(number(payload, MAX_STEP_MS)));
        }
        b'k' => {
            d.command(|m, now| m.handle_keepalive(now));
        }
        b'r' => {
            let rest = text(payload.get(2..).unwrap_or_default());
            let mut request = OutboundRequest::from(action(byte(payload, 0), &rest));
            request.identity = identity(byte(payload, 1));
            let _ = d.request(request);
        }
        b'a' => answer(d, payload, chunk),
        b'x' => {
            let reason = (byte(payload, 0) % 2 == 1).then_some("fuzz");
            let _ = d.command(|m, now| m.interrupt(now, &text(payload), reason));
        }
        b'c' => {
            let _ = d.command(|m, now| m.ack(now, &text(payload)));
        }
        b'g' => {
            let _ = d.command(|m, now| m.go_idle(now));
        }
        b'h' => {
            let grace = Duration::from_millis(number(payload.get(1..).unwrap_or_default(), MAX_STEP_MS));
            let _ = d.command(|m, now| m.shutdown(now, byte(payload, 0) % 2 == 1, now + grace));
        }
        b'q' => {
            let _ = d.command(|m, now| m.close(now));
        }
        b'd' => {
            let close = (!payload.is_empty())
                .then(|| CloseFrame::new(number(payload, u64::from(u16::MAX)) as u16, text(payload)));
            d.command(|m, now| m.handle_transport_closed(now, close));
        }
        _ => {
            d.command(|m, now| m.handle_write_failed(now, &text(payload)));
        }
    }
}

/// Advances by `step`, calling `handle_timeout` at every deadline on the way, as a driver does.
fn tick(d: &mut GatewayDriver, step: Duration) {
    let target = d.now() + step;
    // Each call moves the deadline past its `now`, so this ends; the bound
    // turns a machine that re-arms in place into a clear failure.
    for _ in 0..MAX_STEP_MS {
        match d.deadline() {
            Some(t) if t <= target => {
                d.timeout_at(t);
            }
            _ => return d.set_now(target),
        }
    }
    panic!("the deadlines within one clock step never ran out");
}

/// The connector answers a request the gateway handed out (pending, settled, or never sent).
fn answer(d: &mut GatewayDriver, payload: &[u8], chunk: Option<usize>) {
    if d.issued.is_empty() {
        return;
    }
    let id = d.issued[usize::from(byte(payload, 0)) % d.issued.len()];
    let result = ActionResult { success: byte(payload, 1) % 2 == 1, ..ActionResult::default() };
    let frame = Frame::OutboundResult(OutboundResult {
        request_id: id.to_string(),
        result,
        extra: Default::default(),
    });
    let mut message = frame.encode_line().into_bytes();
    message.extend_from_slice(payload.get(2..).unwrap_or_default());
    d.input(&message, chunk);
}
