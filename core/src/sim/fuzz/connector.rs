//! The `connector_bytes` target: a connector machine behind a fuzzed
//! upgrade, fed fuzz bytes, time steps and application commands.

use std::time::Duration;

use super::connector_driver::ConnectorDriver;
use super::script::{self, SEPARATOR, Step, byte, number, text};
use super::upgrade::{Verdict, upgrade};
use crate::connector::{Action, BacklogKey, CloseReason, ConnectorConfig, ConnectorError, PushOutcome};
use crate::sim::descriptor_for;
use crate::wire::{ActionResult, Forward, MessageEvent, Platform, SessionSource};

/// The control letters of a `connector_bytes` script (see [`script`]); any
/// other control byte picks one of these by its value.
///
/// - `i` payload received as one message; `o` the same, stamped up to
///   payload[0]·100 ms in the past
/// - `t` advance the clock by `number` ms, calling `handle_timeout` at each
///   deadline on the way; `l` advance and call it once, late; `k` keepalive
/// - `h` answer the oldest hello (payload[0] picks the descriptor); `f` refuse it
/// - `r` respond to the delivered request payload[0] picks (success from
///   payload[1]); `u` respond to the request id given as text
/// - `p` push an inbound event, `e` a forward (payload[0] odd: with a
///   buffer id), `x` an interrupt
/// - `b` the backlog store: by payload[0] % 4 it performs its next
///   operation (0) or fails it (1), stalls or resumes (2; a resumed store
///   performs what waits, and what waits is performed after every step
///   unless the store is stalled), or fails its next payload[1] % 4 + 1
///   operations (3)
/// - `q` close, `d` transport closed, `w` write failed
/// - `n` the gateway reconnects: a new machine, same upgrade, same backlog store
const CONTROLS: &[u8] = b"iotlkhfrupexbqdwn";

/// Longest clock step, in ms.
const MAX_STEP_MS: u64 = 120_000;

fn config(verifier: crate::policy::TokenVerifier) -> ConnectorConfig {
    ConnectorConfig {
        verifier,
        handshake_timeout: Duration::from_secs(10),
        dead_link_timeout: Duration::from_secs(20),
        max_line: 1024,
        max_held_frames: 4,
        max_hellos: 3,
        max_pending_requests: 4,
        replay_window: 2,
        store_retry: Duration::from_millis(500),
        seed: 7,
    }
}

/// Input: an upgrade segment (see `upgrade`: mode `n`, `v`, `m` or `h` and
/// its parameters), `0xFF`, then a script (format: the `script` module, letters:
/// `CONTROLS`). The machine is created with the fuzzed `Authorization`
/// header and wall time; a refused token must make `Closed` (4401, the right
/// reason) its first and only action, an accepted one must vouch for its
/// gateway id. Then the script runs, the store performing what the machine
/// asks (in order, appends included) after every step unless the script
/// stalls it, checking the contract after every action (`Closed` once and
/// last, valid frames, request bookkeeping, the backlog contract — see
/// `connector_replay` — bounded drains, deadlines after `handle_timeout`),
/// once with messages whole and once byte by byte; both runs must produce
/// the same actions.
pub fn connector_bytes(data: &[u8]) {
    let split = data.iter().position(|&b| b == SEPARATOR).unwrap_or(data.len());
    let (head, rest) = data.split_at(split);
    let rest = rest.get(1..).unwrap_or_default();
    let whole = run(head, rest, None);
    let bytewise = run(head, rest, Some(1));
    assert!(whole == bytewise, "the connector's actions depend on how its input was chunked");
}

fn run(head: &[u8], rest: &[u8], chunk: Option<usize>) -> Vec<Action> {
    let up = upgrade(head);
    let verdict = match &up.expected {
        Verdict::VerifierDecides => match up.verifier.verify(up.header.as_deref().unwrap_or(""), up.now_unix)
        {
            Ok(token) => Verdict::Accepted(Some(token.gateway_id)),
            Err(rejection) => Verdict::Rejected(rejection),
        },
        known => known.clone(),
    };
    let mut d = ConnectorDriver::new(config(up.verifier), up.header.as_deref(), up.now_unix, chunk);
    match verdict {
        Verdict::Rejected(rejection) => {
            assert_eq!(
                d.transcript(),
                [Action::Closed(CloseReason::Rejected(rejection))],
                "a refused upgrade must close at once, and only that"
            );
        }
        Verdict::Accepted(gateway_id) => {
            assert!(!d.machine.is_closed(), "an accepted upgrade closed the machine");
            assert_eq!(d.machine.gateway_id(), gateway_id.as_deref(), "the verified gateway id");
            let key = gateway_id.map(BacklogKey::Gateway);
            assert_eq!(d.machine.backlog_key(), key.as_ref(), "the backlog key of an authenticated gateway");
        }
        Verdict::VerifierDecides => {}
    }
    for step in script::steps(rest) {
        match step {
            Step::Bytes(bytes) => d.input(d.now(), bytes),
            Step::Control(control, payload) => apply(&mut d, control, payload),
        }
        d.serve_store();
    }
    d.finish();
    d.transcript().to_vec()
}

fn apply(d: &mut ConnectorDriver, control: u8, payload: &[u8]) {
    let control =
        if CONTROLS.contains(&control) { control } else { CONTROLS[usize::from(control) % CONTROLS.len()] };
    let closed = d.machine.is_closed();
    match control {
        b'i' => d.input(d.now(), payload),
        b'o' => {
            d.input(d.now().saturating_sub(Duration::from_millis(u64::from(byte(payload, 0)) * 100)), payload)
        }
        b't' => d.tick(Duration::from_millis(number(payload, MAX_STEP_MS))),
        b'l' => d.timeout_at(d.now() + Duration::from_millis(number(payload, MAX_STEP_MS))),
        b'k' => d.command(|m, now| m.handle_keepalive(now)),
        b'h' => {
            let platform = ["telegram", "discord", "slack", "relay"][usize::from(byte(payload, 0) % 4)];
            let waiting = d.unanswered_hellos();
            let result = d.command(|m, now| m.answer_hello(now, descriptor_for(platform)));
            expect_hello_answer(result.map(|_| ()), closed, waiting);
            if !closed && waiting > 0 {
                d.hello_answered();
            }
        }
        b'f' => {
            let waiting = d.unanswered_hellos();
            let result = d.command(|m, now| m.refuse_hello(now, &text(payload)));
            expect_hello_answer(result.map(|_| ()), closed, waiting);
        }
        b'r' | b'u' => {
            let id =
                if control == b'r' { d.delivered_request(byte(payload, 0)) } else { Some(text(payload)) };
            let Some(id) = id else { return };
            let waiting = d.is_waiting(&id);
            let result = ActionResult { success: byte(payload, 1) % 2 == 1, ..ActionResult::default() };
            let outcome = d.respond(&id, result);
            let expected = if closed {
                Err(ConnectorError::Closed)
            } else if waiting {
                Ok(())
            } else {
                Err(ConnectorError::UnknownRequest(id.clone()))
            };
            assert_eq!(outcome, expected, "respond() for {id:?}");
        }
        b'p' | b'e' => {
            let buffer_id = (byte(payload, 0) % 2 == 1).then(|| text(payload));
            if control == b'p' {
                let source = SessionSource::new(Platform::Telegram, "c1", "dm");
                let event = MessageEvent::text(source, text(payload));
                d.push(|m, now| m.push_inbound(now, event, buffer_id));
            } else {
                let forward = Forward { path: text(payload), body: payload.to_vec(), ..Forward::default() };
                d.push(|m, now| m.push_forward(now, forward, buffer_id));
            }
        }
        b'x' => {
            let idle = d.machine.is_idle();
            let outcome = d.command(|m, now| m.push_interrupt(now, &text(payload), "c1"));
            if let Ok(outcome) = &outcome {
                assert_eq!(
                    *outcome == PushOutcome::Dropped,
                    idle,
                    "interrupts are dropped exactly when idle"
                );
            }
        }
        b'b' => d.store_control(byte(payload, 0), byte(payload, 1)),
        b'n' => d.reconnect(),
        b'q' => {
            let result = d.command(|m, now| m.close(now));
            assert_eq!(result.is_err(), closed, "close() fails exactly when already closed");
        }
        b'd' => {
            let close = (!payload.is_empty()).then(|| {
                crate::gateway::CloseFrame::new(number(payload, u64::from(u16::MAX)) as u16, text(payload))
            });
            d.command(|m, now| m.handle_transport_closed(now, close));
        }
        _ => d.command(|m, now| m.handle_write_failed(now, &text(payload))),
    }
}

/// `answer_hello` / `refuse_hello` succeed exactly when a hello waits.
fn expect_hello_answer(result: Result<(), ConnectorError>, closed: bool, waiting: usize) {
    let expected = match (closed, waiting) {
        (true, _) => Err(ConnectorError::Closed),
        (false, 0) => Err(ConnectorError::NoHelloToAnswer),
        _ => Ok(()),
    };
    assert_eq!(result, expected, "answering a hello with {waiting} waiting");
}

#[cfg(test)]
mod tests {
    use super::*;

    const HELLO: &str = "{\"type\":\"hello\",\"platform\":\"telegram\",\"botId\":\"b1\"}\n";

    fn ack(buffer_id: u32) -> Vec<u8> {
        format!("i{{\"type\":\"inbound_ack\",\"bufferId\":\"{buffer_id}\"}}\n").into_bytes()
    }

    /// The script after the upgrade: `HELLO` received, then these steps.
    fn script(steps: &[&[u8]]) -> Vec<u8> {
        let mut script = HELLO.as_bytes().to_vec();
        for step in steps {
            script.push(SEPARATOR);
            script.extend_from_slice(step);
        }
        script
    }

    /// Three frames wait in the backlog of a window of 2; with the store
    /// stalled, a push during the replay hands back a frame and asks for a
    /// read, and the last replayed frame is acknowledged before the store
    /// resumes: the append must be performed before that read, so the read
    /// lists it and delivery does not go live with it still waiting (the
    /// harness's went-live check fails if the driver submits it late).
    #[test]
    fn a_frame_handed_back_during_a_stalled_read_is_appended_before_it() {
        let reconnect_hello = format!("i{HELLO}");
        let steps = script(&[
            b"h\x00",
            b"i{\"type\":\"going_idle\"}\n",
            b"p\x00one",
            b"p\x00two",
            b"p\x00three",
            b"n",
            reconnect_hello.as_bytes(),
            b"h\x00",
            &ack(1),
            &ack(2),
            b"b\x02",
            b"p\x00four",
            &ack(3),
            b"b\x02",
        ]);
        let actions = run(b"n", &steps, None);
        let replayed: Vec<String> = actions
            .iter()
            .filter_map(|a| match a {
                Action::SendFrame(line) if line.contains("\"bufferId\"") => Some(line.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(replayed.len(), 4, "all four entries replayed on the second connection: {replayed:#?}");
        assert!(replayed[3].contains("four"), "{}", replayed[3]);
        connector_bytes(&[b"n".as_slice(), &[SEPARATOR], &steps].concat());
    }
}
