//! The application's commands to a [`ConnectorMachine`]: answering hellos
//! and requests, pushing frames, replaying the backlog, closing.

use std::time::Instant;

use super::delivery::Route;
use super::{BufferedFrame, CloseReason, ConnectorError, ConnectorMachine, PushOutcome};
use crate::gateway::Identity;
use crate::wire::{
    ActionResult, Descriptor, DescriptorFrame, Forward, Frame, InterruptInbound, MessageEvent, OutboundResult,
};

impl ConnectorMachine {
    /// Answers the oldest unanswered hello with `descriptor` and returns its
    /// identity. Hellos are answered strictly in arrival order, so the n-th
    /// descriptor always belongs to the n-th hello. The first answer
    /// completes the handshake: frames the gateway sent meanwhile are
    /// processed, and the backlog replay starts (a
    /// [`StoreRequest::Read`](super::StoreRequest::Read) follows).
    ///
    /// # Errors
    ///
    /// [`ConnectorError::Closed`], or [`ConnectorError::NoHelloToAnswer`].
    pub fn answer_hello(&mut self, now: Instant, descriptor: Descriptor) -> Result<Identity, ConnectorError> {
        self.command(now)?;
        let first = !self.hellos.is_complete();
        let identity = self.hellos.answer().ok_or(ConnectorError::NoHelloToAnswer)?;
        self.send(&Frame::Descriptor(DescriptorFrame { descriptor, extra: Default::default() }));
        if first {
            self.complete_handshake();
        }
        Ok(identity)
    }

    /// Refuses the oldest unanswered hello: the connection closes with code
    /// 1008 and a reason naming the identity. Returns that identity.
    ///
    /// # Errors
    ///
    /// [`ConnectorError::Closed`], or [`ConnectorError::NoHelloToAnswer`].
    pub fn refuse_hello(&mut self, now: Instant, reason: &str) -> Result<Identity, ConnectorError> {
        self.command(now)?;
        let identity = self.hellos.oldest_unanswered().cloned().ok_or(ConnectorError::NoHelloToAnswer)?;
        self.finish(CloseReason::RefusedIdentity { identity: identity.clone(), reason: reason.to_owned() });
        Ok(identity)
    }

    /// Answers request `request_id` (from [`Event::Request`](super::Event::Request)) with `result`.
    ///
    /// # Errors
    ///
    /// [`ConnectorError::Closed`], or [`ConnectorError::UnknownRequest`] when
    /// no request with that id waits for an answer (unknown, or already answered).
    pub fn respond(
        &mut self,
        now: Instant,
        request_id: &str,
        result: ActionResult,
    ) -> Result<(), ConnectorError> {
        self.command(now)?;
        if !self.pending.remove(request_id) {
            return Err(ConnectorError::UnknownRequest(request_id.to_owned()));
        }
        self.send(&Frame::OutboundResult(OutboundResult {
            request_id: request_id.to_owned(),
            result,
            extra: Default::default(),
        }));
        Ok(())
    }

    /// Pushes an `inbound` event, carrying `buffer_id` when given. Sent when
    /// delivery is live; otherwise handed back to be appended to the backlog.
    ///
    /// # Errors
    ///
    /// [`ConnectorError::Closed`], or [`ConnectorError::HandshakeIncomplete`].
    pub fn push_inbound(
        &mut self,
        now: Instant,
        event: MessageEvent,
        buffer_id: Option<String>,
    ) -> Result<PushOutcome, ConnectorError> {
        self.push_frame(now, BufferedFrame::Inbound(Box::new(event)), buffer_id)
    }

    /// Pushes a `passthrough_forward`, like [`push_inbound`](Self::push_inbound).
    ///
    /// # Errors
    ///
    /// [`ConnectorError::Closed`], or [`ConnectorError::HandshakeIncomplete`].
    pub fn push_forward(
        &mut self,
        now: Instant,
        forward: Forward,
        buffer_id: Option<String>,
    ) -> Result<PushOutcome, ConnectorError> {
        self.push_frame(now, BufferedFrame::Forward(Box::new(forward)), buffer_id)
    }

    /// Pushes `interrupt_inbound` for a session. Interrupts skip the backlog
    /// queue (they target a turn running now); for an idle gateway there is
    /// no such turn and the outcome is [`PushOutcome::Dropped`].
    ///
    /// # Errors
    ///
    /// [`ConnectorError::Closed`], or [`ConnectorError::HandshakeIncomplete`].
    pub fn push_interrupt(
        &mut self,
        now: Instant,
        session_key: &str,
        chat_id: &str,
    ) -> Result<PushOutcome, ConnectorError> {
        self.command(now)?;
        if !self.hellos.is_complete() {
            return Err(ConnectorError::HandshakeIncomplete);
        }
        if self.delivery.is_idle() {
            return Ok(PushOutcome::Dropped);
        }
        self.send(&Frame::InterruptInbound(InterruptInbound {
            session_key: session_key.to_owned(),
            chat_id: chat_id.to_owned(),
            extra: Default::default(),
        }));
        Ok(PushOutcome::Sent)
    }

    /// Closes the connection now; `Closed(Local)` follows.
    ///
    /// # Errors
    ///
    /// [`ConnectorError::Closed`] when it already ended.
    pub fn close(&mut self, now: Instant) -> Result<(), ConnectorError> {
        self.command(now)?;
        self.finish(CloseReason::Local);
        Ok(())
    }

    fn command(&mut self, now: Instant) -> Result<(), ConnectorError> {
        if self.closed {
            return Err(ConnectorError::Closed);
        }
        self.advance(now);
        Ok(())
    }

    /// Pushes a bufferable frame of either kind, typed or as a store keeps
    /// it, like [`push_inbound`](Self::push_inbound).
    ///
    /// # Errors
    ///
    /// [`ConnectorError::Closed`], or [`ConnectorError::HandshakeIncomplete`].
    pub fn push_frame(
        &mut self,
        now: Instant,
        frame: BufferedFrame,
        buffer_id: Option<String>,
    ) -> Result<PushOutcome, ConnectorError> {
        self.command(now)?;
        match self.delivery.route_push() {
            Route::NotReady => Err(ConnectorError::HandshakeIncomplete),
            Route::Live => {
                self.send_line(frame.into_line(buffer_id));
                Ok(PushOutcome::Sent)
            }
            Route::Backlog => {
                // During a replay the appended frame must be listed before
                // delivery goes live; the read goes out after the append.
                self.request_backlog();
                Ok(PushOutcome::AppendToBacklog(frame))
            }
        }
    }
}
