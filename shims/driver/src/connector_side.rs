//! The connector side of a socket loop: a `ConnectorMachine`, the shared
//! backlog store and the session router.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use futures::FutureExt as _;
use futures::channel::oneshot;
use relay_core::connector::{
    Action, BacklogEntry, BacklogKey, BufferedFrame, CloseReason, ConnectorError, ConnectorMachine, Event,
    PushOutcome, StoreFailure, StoreRequest, named_session,
};
use relay_core::policy::{SessionKeyOptions, session_key};
use relay_core::wire::{ActionResult, Descriptor};
use relay_store::StoreFuture;

use crate::metrics::{self, Side};
use crate::server::{ServerState, lock};
use crate::server_events::{ConnId, ServerEvent};
use crate::server_fabric::note_session;
use crate::socket::{Endpoint, Outbox};
use crate::store_timeout::Deadline;

/// What became of a push inside a connection: settled, or an append the
/// caller waits for (the frame is durable once it completes).
#[derive(Debug)]
pub(crate) enum PushReply {
    Sent,
    Dropped,
    /// The append; `idle` names the gateway when it went idle (a wake
    /// candidate), not when a replay is under way.
    Appending {
        append: StoreFuture<String>,
        idle: Option<BacklogKey>,
    },
}

/// What a server handle asks one connection to do.
pub(crate) enum ConnCommand {
    /// Boxed: a descriptor is several times the size of the other
    /// commands, and every command moves through the channel at its size.
    AnswerHello(Box<Descriptor>, oneshot::Sender<Result<(), ConnectorError>>),
    RefuseHello(String, oneshot::Sender<Result<(), ConnectorError>>),
    /// An answer; without a reply channel nobody waits for the machine's verdict.
    Respond(String, ActionResult, Option<oneshot::Sender<Result<(), ConnectorError>>>),
    Push(BufferedFrame, oneshot::Sender<Result<PushReply, ConnectorError>>),
    Interrupt(String, String, oneshot::Sender<Result<PushReply, ConnectorError>>),
    /// Another instance appended to this gateway's backlog.
    BacklogAppended,
    Close,
}

/// The outstanding backlog read, bounded by the store deadline.
struct Reading {
    entries: StoreFuture<Vec<BacklogEntry>>,
    deadline: Deadline,
}

pub(crate) struct ConnectorSide {
    conn: ConnId,
    machine: ConnectorMachine,
    state: Arc<Mutex<ServerState>>,
    reading: Option<Reading>,
    /// Listed in the server's gateway table (pushes by gateway come here).
    registered: bool,
    /// Entries the machine had replayed when the metrics last counted them.
    replayed: u64,
    /// A span per request waiting for the application's answer.
    requests: BTreeMap<String, tracing::Span>,
    pub(crate) reason: Option<CloseReason>,
}

impl ConnectorSide {
    pub(crate) fn new(conn: ConnId, machine: ConnectorMachine, state: Arc<Mutex<ServerState>>) -> Self {
        Self {
            conn,
            machine,
            state,
            reading: None,
            registered: false,
            replayed: 0,
            requests: BTreeMap::new(),
            reason: None,
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, ServerState> {
        lock(&self.state)
    }

    fn push(&mut self, now: Instant, frame: BufferedFrame) -> Result<PushReply, ConnectorError> {
        let outcome = match frame {
            BufferedFrame::Inbound(event) => {
                let session = session_key(&event.source, SessionKeyOptions::default(), None);
                self.state().router.note_session(self.conn, &session);
                self.share_session(&session);
                self.machine.push_inbound(now, *event, None)?
            }
            other => self.machine.push_frame(now, other, None)?,
        };
        self.settle_push(outcome)
    }

    /// An append is enqueued here, before any store request the machine
    /// made after the push is performed (the store runs them in order).
    fn settle_push(&mut self, outcome: PushOutcome) -> Result<PushReply, ConnectorError> {
        match outcome {
            PushOutcome::Sent => Ok(PushReply::Sent),
            PushOutcome::Dropped => Ok(PushReply::Dropped),
            PushOutcome::AppendToBacklog(frame) => {
                let key = self.machine.backlog_key().cloned().ok_or(ConnectorError::HandshakeIncomplete)?;
                let idle = self.machine.is_idle().then(|| key.clone());
                Ok(PushReply::Appending { append: self.state().store.append(key, frame), idle })
            }
        }
    }

    /// Lists the connection under its gateway once pushes can go through
    /// it, and claims the gateway for this instance.
    fn register_when_ready(&mut self) {
        if self.registered || !self.machine.is_ready() {
            return;
        }
        if let Some(key) = self.machine.backlog_key().cloned() {
            let live = self.machine.is_live();
            let mut state = lock(&self.state);
            if let Some(fabric) = &state.fabric {
                fabric.hold(&key, live);
            }
            state.gateways.entry(key).or_default().push(self.conn);
            drop(state);
            self.registered = true;
            metrics::handshake(Side::Connector);
        }
    }

    /// Tells the other instances that this connection's gateway owns `session`.
    fn share_session(&self, session: &str) {
        if let Some(key) = self.machine.backlog_key() {
            note_session(self.state().fabric.as_ref(), session, key);
        }
    }

    /// Tells the other instances whether this gateway is delivered live here.
    fn claim(&self, live: bool) {
        if let (true, Some(key)) = (self.registered, self.machine.backlog_key()) {
            if let Some(fabric) = &self.state().fabric {
                fabric.update(key, live);
            }
        }
    }

    fn unregister(&mut self) {
        if std::mem::take(&mut self.registered) {
            let key = self.machine.backlog_key().cloned();
            let conn = self.conn;
            let mut state = self.state();
            if let Some(key) = key {
                if let Some(conns) = state.gateways.get_mut(&key) {
                    conns.retain(|c| *c != conn);
                    if conns.is_empty() {
                        state.gateways.remove(&key);
                        if let Some(fabric) = &state.fabric {
                            fabric.release(&key);
                        }
                    }
                }
            }
        }
    }

    fn perform(&mut self, now: Instant, request: StoreRequest) {
        let state = Arc::clone(&self.state);
        let state = lock(&state);
        match request {
            StoreRequest::Read { key, after, limit } => {
                let entries = state.store.read(key, after, limit);
                self.reading = Some(Reading { entries, deadline: state.deadline(now) });
            }
            StoreRequest::Remove { key, buffer_ids } => {
                // Nothing waits for a removal: one that fails leaves the
                // entry for a later replay (at-least-once).
                drop(state.store.remove(key, buffer_ids));
            }
            other => tracing::warn!(conn = self.conn, ?other, "store request not understood"),
        }
    }

    fn server_event(&self, event: Event) -> Option<ServerEvent> {
        let conn = self.conn;
        Some(match event {
            Event::Hello { identity, command_manifest } => {
                ServerEvent::Hello { conn, identity, command_manifest }
            }
            Event::Request { request_id, identity, action } => {
                ServerEvent::Request { conn, request_id, identity, action }
            }
            Event::Interrupt { session_key, reason } => ServerEvent::Interrupt { conn, session_key, reason },
            Event::InboundAck { buffer_id, .. } => ServerEvent::InboundAck { conn, buffer_id },
            Event::GoingIdle => ServerEvent::GoingIdle { conn },
            Event::Live => ServerEvent::Live { conn },
            Event::Diagnostic(diagnostic) => ServerEvent::Diagnostic { conn, diagnostic },
            Event::StoreFailed(failure) => ServerEvent::StoreFailed { conn, error: failure.0 },
            _ => return None,
        })
    }
}

impl Endpoint for ConnectorSide {
    const SIDE: Side = Side::Connector;
    type Command = ConnCommand;
    type Event = ServerEvent;
    type Machine = ConnectorMachine;

    fn machine(&mut self) -> &mut ConnectorMachine {
        &mut self.machine
    }

    fn apply(&mut self, now: Instant, command: ConnCommand) {
        match command {
            ConnCommand::AnswerHello(descriptor, reply) => {
                let answered = self.machine.answer_hello(now, *descriptor).map(drop);
                self.register_when_ready();
                let _ = reply.send(answered);
            }
            ConnCommand::RefuseHello(reason, reply) => {
                let _ = reply.send(self.machine.refuse_hello(now, &reason).map(drop));
            }
            ConnCommand::Respond(request_id, result, reply) => {
                if let Some(span) = self.requests.remove(&request_id) {
                    span.in_scope(|| tracing::debug!(success = result.success, "answered"));
                }
                let answered = self.machine.respond(now, &request_id, result);
                match reply {
                    Some(reply) => {
                        let _ = reply.send(answered);
                    }
                    None => {
                        if let Err(error) = answered {
                            tracing::debug!(%error, "an answer nobody waited for was refused");
                        }
                    }
                }
            }
            ConnCommand::Push(frame, reply) => {
                let _ = reply.send(self.push(now, frame));
            }
            ConnCommand::Interrupt(session_key, chat_id, reply) => {
                let outcome = self.machine.push_interrupt(now, &session_key, &chat_id);
                let _ = reply.send(outcome.and_then(|o| self.settle_push(o)));
            }
            ConnCommand::BacklogAppended => self.machine.handle_backlog_appended(now),
            ConnCommand::Close => {
                let _ = self.machine.close(now);
            }
        }
    }

    fn may_wait(command: &ConnCommand) -> bool {
        // Frames the application pushes wait for room; the handshake and close get through.
        matches!(command, ConnCommand::Push(..) | ConnCommand::Interrupt(..) | ConnCommand::Respond(..))
    }

    fn commands_ended(&mut self, now: Instant) {
        let _ = self.machine.close(now);
    }

    fn poll_work(&mut self, now: Instant, cx: &mut Context<'_>) -> bool {
        let Some(reading) = &mut self.reading else { return false };
        let answer = match reading.entries.poll_unpin(cx) {
            Poll::Ready(answer) => answer.map_err(|e| StoreFailure::of(&e)),
            Poll::Pending => match reading.deadline.poll_expired(cx) {
                Some(error) => Err(StoreFailure::of(&error)),
                None => return false,
            },
        };
        self.reading = None;
        self.machine.handle_backlog_read(now, answer);
        true
    }

    fn drain(&mut self, now: Instant, out: &mut Outbox<ServerEvent>) {
        while let Some(action) = self.machine.poll_action() {
            match action {
                Action::SendFrame(line) => out.send_line(line),
                Action::Store(request) => self.perform(now, request),
                Action::Deliver(event) => {
                    match &event {
                        Event::Live => self.claim(true),
                        Event::GoingIdle => self.claim(false),
                        Event::InboundAck { .. } => metrics::acked(),
                        Event::Request { request_id, action, .. } => {
                            let span = tracing::debug_span!("relay.request", side = "connector", request_id = %request_id, op = action.op());
                            // Without a subscriber that wants it there is nothing to keep.
                            if !span.is_disabled() {
                                self.requests.insert(request_id.clone(), span);
                            }
                        }
                        Event::Hello { identity, .. } => {
                            tracing::Span::current().record("identities", tracing::field::display(identity));
                        }
                        Event::Diagnostic(diagnostic) => {
                            metrics::diagnostic(Side::Connector, diagnostic.kind)
                        }
                        _ => {}
                    }
                    // Only these events name a session; the others need no lock.
                    if let Some(session) = named_session(&event) {
                        self.state().router.note_session(self.conn, session);
                        self.share_session(session);
                    }
                    if let Some(event) = self.server_event(event) {
                        out.events.push_back(event);
                    }
                }
                Action::Closed(reason) => {
                    // Requests never answered end with the connection.
                    self.requests.clear();
                    if let CloseReason::Rejected(rejection) = &reason {
                        metrics::rejected(rejection.as_str());
                    }
                    metrics::connection_closed(Side::Connector, reason.name());
                    self.unregister();
                    self.reading = None;
                    out.closed = Some(reason.close_to_send());
                    out.events.push_back(ServerEvent::Closed { conn: self.conn, reason: reason.clone() });
                    self.reason = Some(reason);
                }
                _ => {}
            }
        }
        let replayed = self.machine.stats().replayed;
        if replayed > self.replayed {
            metrics::replayed(replayed - self.replayed);
            self.replayed = replayed;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_stays_small_to_move() {
        // The answer (request id, result, reply) is the largest that remains.
        assert!(std::mem::size_of::<ConnCommand>() <= 144, "{}", std::mem::size_of::<ConnCommand>());
    }
}
