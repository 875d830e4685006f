//! The connector side of a socket loop: a `ConnectorMachine`, the shared
//! backlog and the session router.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use futures::channel::oneshot;
use relay_core::connector::{
    Action, BufferedFrame, CloseReason, ConnectorError, ConnectorMachine, Event, PushOutcome,
};
use relay_core::wire::{ActionResult, Descriptor};

use crate::server::{Delivery, ServerState};
use crate::server_events::{ConnId, ServerEvent};
use crate::socket::{Endpoint, Outbox};

/// What a server handle asks one connection to do.
pub(crate) enum ConnCommand {
    AnswerHello(Descriptor, oneshot::Sender<Result<(), ConnectorError>>),
    RefuseHello(String, oneshot::Sender<Result<(), ConnectorError>>),
    Respond(String, ActionResult, oneshot::Sender<Result<(), ConnectorError>>),
    Push(BufferedFrame, oneshot::Sender<Result<Delivery, ConnectorError>>),
    Interrupt(String, String, oneshot::Sender<Result<Delivery, ConnectorError>>),
    Close,
}

pub(crate) struct ConnectorSide {
    conn: ConnId,
    machine: ConnectorMachine,
    state: Arc<Mutex<ServerState>>,
    pub(crate) reason: Option<CloseReason>,
}

impl ConnectorSide {
    pub(crate) fn new(conn: ConnId, machine: ConnectorMachine, state: Arc<Mutex<ServerState>>) -> Self {
        Self { conn, machine, state, reason: None }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, ServerState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn push(&mut self, now: Instant, frame: BufferedFrame) -> Result<Delivery, ConnectorError> {
        let outcome = match frame {
            BufferedFrame::Inbound(event) => {
                self.state().router.note_inbound(self.conn, &event);
                self.machine.push_inbound(now, *event, None)?
            }
            BufferedFrame::Forward(forward) => self.machine.push_forward(now, *forward, None)?,
        };
        self.settle_push(outcome)
    }

    fn settle_push(&mut self, outcome: PushOutcome) -> Result<Delivery, ConnectorError> {
        match outcome {
            PushOutcome::Sent => Ok(Delivery::Sent),
            PushOutcome::Dropped => Ok(Delivery::Dropped),
            PushOutcome::AppendToBacklog(frame) => {
                let key = self.machine.backlog_key().cloned().ok_or(ConnectorError::HandshakeIncomplete)?;
                let buffer_id = self.state().append(&key, frame);
                Ok(Delivery::Buffered { buffer_id })
            }
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
            _ => return None,
        })
    }
}

impl Endpoint for ConnectorSide {
    type Command = ConnCommand;
    type Event = ServerEvent;
    type Machine = ConnectorMachine;

    fn machine(&mut self) -> &mut ConnectorMachine {
        &mut self.machine
    }

    fn apply(&mut self, now: Instant, command: ConnCommand) {
        match command {
            ConnCommand::AnswerHello(descriptor, reply) => {
                let _ = reply.send(self.machine.answer_hello(now, descriptor).map(drop));
            }
            ConnCommand::RefuseHello(reason, reply) => {
                let _ = reply.send(self.machine.refuse_hello(now, &reason).map(drop));
            }
            ConnCommand::Respond(request_id, result, reply) => {
                let _ = reply.send(self.machine.respond(now, &request_id, result));
            }
            ConnCommand::Push(frame, reply) => {
                let _ = reply.send(self.push(now, frame));
            }
            ConnCommand::Interrupt(session_key, chat_id, reply) => {
                let outcome = self.machine.push_interrupt(now, &session_key, &chat_id);
                let _ = reply.send(outcome.and_then(|o| self.settle_push(o)));
            }
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

    fn drain(&mut self, now: Instant, out: &mut Outbox<ServerEvent>) {
        loop {
            if self.machine.wants_backlog() {
                let state = Arc::clone(&self.state);
                let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
                let _ = self.machine.sync_backlog(now, &mut state.backlog);
            }
            let Some(action) = self.machine.poll_action() else { break };
            match action {
                Action::SendFrame(line) => out.send_line(line),
                Action::Deliver(event) => {
                    self.state().router.observe(self.conn, &event);
                    if let Some(event) = self.server_event(event) {
                        out.events.push_back(event);
                    }
                }
                Action::Closed(reason) => {
                    out.closed = Some(reason.close_to_send());
                    out.events.push_back(ServerEvent::Closed { conn: self.conn, reason: reason.clone() });
                    self.reason = Some(reason);
                }
                _ => {}
            }
        }
    }
}
