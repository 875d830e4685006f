//! The gateway side of a socket loop: a `RelayMachine` and the callers
//! waiting on it.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::time::Instant;

use futures::channel::oneshot;
use relay_core::gateway::{
    Action, CloseReason, Event, RelayMachine, RequestError, RequestErrorKind, RequestId,
};
use relay_core::wire::ActionResult;

use crate::client::{Command, IdleOutcome, Shared};
use crate::metrics::{self, RequestMetrics, Side};
use crate::socket::{Endpoint, Outbox};
use crate::{ClientEvent, ConnectionEvent};

type Reply = oneshot::Sender<Result<ActionResult, RequestError>>;

/// The hash of a request id: its own bits. Every id the machine makes is a
/// UUIDv4 whose low 32 bits count up and whose other bits are random, and
/// only those are stored here: the XOR of its two halves is random in every
/// bit, already a good hash; SipHash over them was a measurable share of a
/// round trip.
#[derive(Default)]
struct IdBits(u64);

impl Hasher for IdBits {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Not reached (a `RequestId` hashes as one `u128`); kept correct anyway.
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn write_u128(&mut self, id: u128) {
        // Both halves: each has a few fixed UUID bits, their XOR has none.
        self.0 = (id as u64) ^ ((id >> 64) as u64);
    }
}

/// A caller waiting for its request: the op and when it was asked (for
/// the metrics), and the request's span.
struct Waiter {
    reply: Reply,
    op: &'static str,
    asked: Instant,
    span: tracing::Span,
}

pub(crate) struct GatewaySide {
    machine: RelayMachine,
    shared: Shared,
    /// Callers by request id, with the op and when it was asked (for the
    /// metrics): looked up once per result, never iterated.
    waiters: HashMap<RequestId, Waiter, BuildHasherDefault<IdBits>>,
    idle_waiters: Vec<oneshot::Sender<IdleOutcome>>,
    pub(crate) close_waiters: Vec<oneshot::Sender<()>>,
    on_ready: Option<oneshot::Sender<()>>,
    /// Announce `Reconnected` when this connection becomes ready.
    is_reconnect: bool,
    /// When the handshake completed, if it did.
    pub(crate) ready_at: Option<Instant>,
    /// The connector acknowledged `going_idle` on this connection.
    pub(crate) went_idle: bool,
    /// Why the machine closed, once it did.
    pub(crate) reason: Option<CloseReason>,
    requests: RequestMetrics,
}

impl GatewaySide {
    pub(crate) fn new(
        machine: RelayMachine,
        shared: Shared,
        on_ready: oneshot::Sender<()>,
        is_reconnect: bool,
    ) -> Self {
        Self {
            machine,
            shared,
            waiters: HashMap::default(),
            idle_waiters: Vec::new(),
            close_waiters: Vec::new(),
            on_ready: Some(on_ready),
            is_reconnect,
            ready_at: None,
            went_idle: false,
            reason: None,
            requests: RequestMetrics::default(),
        }
    }

    fn settle(&mut self, now: Instant, id: RequestId, outcome: Result<ActionResult, RequestError>) {
        if let Some(Waiter { reply, op, asked, span }) = self.waiters.remove(&id) {
            let outcome_label = outcome_name(&outcome);
            self.requests.settled(op, outcome_label, now.saturating_duration_since(asked));
            span.in_scope(|| tracing::debug!(outcome = outcome_label, "settled"));
            let _ = reply.send(outcome);
        }
    }

    fn on_event(&mut self, now: Instant, event: Event, events: &mut std::collections::VecDeque<ClientEvent>) {
        let event = match event {
            Event::Ready { identity, descriptor } => {
                metrics::handshake(Side::Gateway);
                self.ready_at = Some(now);
                self.shared.set_descriptor(&identity, &descriptor, true);
                if let Some(ready) = self.on_ready.take() {
                    let _ = ready.send(());
                }
                events.push_back(ClientEvent::Descriptor { identity, descriptor });
                if self.is_reconnect {
                    events.push_back(ClientEvent::Connection(ConnectionEvent::Reconnected));
                }
                return;
            }
            Event::Descriptor { identity, descriptor } => {
                self.shared.set_descriptor(&identity, &descriptor, false);
                ClientEvent::Descriptor { identity, descriptor }
            }
            Event::Inbound { event, buffer_id } => ClientEvent::Inbound { event, buffer_id },
            Event::Passthrough { forward, buffer_id } => ClientEvent::Passthrough { forward, buffer_id },
            Event::Interrupt { session_key, chat_id } => ClientEvent::Interrupt { session_key, chat_id },
            Event::Diagnostic(d) => {
                metrics::diagnostic(Side::Gateway, d.kind);
                tracing::debug!(kind = d.kind.as_str(), line = d.line, detail = %d.detail, "skipped a line");
                ClientEvent::Diagnostic(d)
            }
            Event::IdleAcknowledged => return self.idle_done(IdleOutcome::Acknowledged),
            Event::IdleTimedOut => return self.idle_done(IdleOutcome::TimedOut),
            _ => return,
        };
        events.push_back(event);
    }

    fn idle_done(&mut self, outcome: IdleOutcome) {
        self.went_idle |= outcome == IdleOutcome::Acknowledged;
        for reply in self.idle_waiters.drain(..) {
            let _ = reply.send(outcome);
        }
    }
}

impl Endpoint for GatewaySide {
    const SIDE: Side = Side::Gateway;
    type Command = Command;
    type Event = ClientEvent;
    type Machine = RelayMachine;

    fn machine(&mut self) -> &mut RelayMachine {
        &mut self.machine
    }

    fn apply(&mut self, now: Instant, command: Command) {
        match command {
            Command::Request { request, reply } => {
                let op = metrics::op_label(request.action.op());
                match self.machine.request(now, *request) {
                    Ok(id) => {
                        let span =
                            tracing::debug_span!("relay.request", side = "gateway", request_id = %id, op);
                        self.waiters.insert(id, Waiter { reply, op, asked: now, span });
                    }
                    Err(error) => {
                        self.requests.settled(op, "failed", std::time::Duration::ZERO);
                        let _ = reply.send(Err(error));
                    }
                }
            }
            Command::Interrupt { session_key, reason, reply } => {
                let _ = reply.send(self.machine.interrupt(now, &session_key, reason.as_deref()));
            }
            Command::Ack { buffer_id, reply } => {
                let _ = reply.send(self.machine.ack(now, &buffer_id));
            }
            Command::GoIdle { reply } => match self.machine.go_idle(now) {
                Ok(()) => self.idle_waiters.push(reply),
                Err(_) => {
                    let _ = reply.send(IdleOutcome::NotConnected);
                }
            },
            Command::Close { go_idle, budget, reply } => {
                self.close_waiters.push(reply);
                let _ = self.machine.shutdown(now, go_idle, now + budget);
            }
        }
    }

    fn may_wait(command: &Command) -> bool {
        // Requests and going idle carry their own timeouts; close must get through.
        matches!(command, Command::Interrupt { .. } | Command::Ack { .. })
    }

    fn commands_ended(&mut self, now: Instant) {
        let _ = self.machine.close(now);
    }

    fn drain(&mut self, now: Instant, out: &mut Outbox<ClientEvent>) {
        while let Some(action) = self.machine.poll_action() {
            match action {
                Action::SendFrame(line) => out.send_line(line),
                Action::SendPing => out.send_ping(),
                Action::Resolve { id, result } => self.settle(now, id, Ok(result)),
                Action::Fail { id, error } => self.settle(now, id, Err(error)),
                Action::Deliver(event) => self.on_event(now, event, &mut out.events),
                Action::Closed(reason) => {
                    tracing::debug!(%reason, "connection closed");
                    self.idle_done(IdleOutcome::NotConnected);
                    out.closed = Some(reason.close_to_send());
                    self.reason = Some(reason);
                }
                _ => {}
            }
        }
    }
}

/// A settled request's outcome as its metric label.
fn outcome_name(outcome: &Result<ActionResult, RequestError>) -> &'static str {
    match outcome {
        Ok(result) if result.success => "ok",
        Ok(_) => "failed",
        Err(error) if error.kind == RequestErrorKind::TimedOut => "timed_out",
        Err(error) if error.ambiguous => "ambiguous",
        Err(_) => "failed",
    }
}
