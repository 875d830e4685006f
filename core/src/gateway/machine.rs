//! `RelayMachine`: one gateway-side connection as a deterministic state machine.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::handshake::Handshake;
use super::ids::IdGenerator;
use super::pending::PendingTable;
use super::timers::{Timer, Timers};
use super::{
    Action, CloseFrame, CloseReason, Event, GatewayConfig, Identity, OutboundRequest, RequestError,
    RequestErrorKind, RequestId, Stats,
};
use crate::wire::{
    Descriptor, Diagnostic, DiagnosticKind, Direction, Frame, FrameType, Hello, InboundAck, Interrupt,
    LineCodec, LineEvent, Outbound, OutboundResult,
};

/// One gateway-side connection: bytes, ticks and commands in; [`Action`]s out.
///
/// See the [module documentation](super) for the driving contract.
#[derive(Debug)]
pub struct RelayMachine {
    config: GatewayConfig,
    now: Instant,
    closed: bool,
    handshake: Handshake,
    codec: LineCodec,
    pending: PendingTable,
    ids: IdGenerator,
    timers: Timers,
    /// `going_idle` was sent at least once on this connection.
    idle_requested: bool,
    /// An orderly shutdown is under way.
    shutting_down: bool,
    actions: VecDeque<Action>,
    stats: Stats,
}

impl RelayMachine {
    /// A machine for a socket that just opened at `now`; it queues one `hello`
    /// per identity, so the first actions are those frames.
    #[must_use]
    pub fn new(config: GatewayConfig, now: Instant) -> Self {
        let identities = config.announced_identities();
        let mut machine = Self {
            codec: LineCodec::new(config.max_line),
            ids: IdGenerator::new(config.seed),
            handshake: Handshake::new(identities.clone(), config.max_held_frames),
            now,
            closed: false,
            pending: PendingTable::default(),
            timers: Timers::default(),
            idle_requested: false,
            shutting_down: false,
            actions: VecDeque::new(),
            stats: Stats::default(),
            config,
        };
        for identity in identities {
            let manifest = (identity.platform == "discord").then(|| machine.config.command_manifest.clone());
            machine.send(&Frame::Hello(Hello {
                platform: identity.platform,
                bot_id: identity.bot_id,
                command_manifest: manifest.flatten(),
                extra: Default::default(),
            }));
        }
        machine.timers.arm(Timer::Handshake, now + machine.config.handshake_timeout);
        machine.timers.arm(Timer::Ping, now + machine.ping_interval());
        machine.timers.arm(Timer::DeadLink, now + machine.config.dead_link_timeout);
        machine
    }

    // ---- getters ----

    /// Whether the first descriptor arrived.
    pub fn is_ready(&self) -> bool {
        !self.closed && self.handshake.is_complete()
    }

    /// Whether the machine ended (`Closed` was queued).
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// The default descriptor (the first one), once the handshake completed.
    pub fn descriptor(&self) -> Option<&Descriptor> {
        self.handshake.default_descriptor()
    }

    /// The descriptor received for `identity`, if any.
    pub fn descriptor_for(&self, identity: &Identity) -> Option<&Descriptor> {
        self.handshake.descriptor_for(identity)
    }

    /// The identities announced, in hello order.
    pub fn identities(&self) -> &[Identity] {
        self.handshake.identities()
    }

    /// Requests not yet settled (in flight plus held).
    pub fn pending_requests(&self) -> usize {
        self.pending.len()
    }

    /// Counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    // ---- inputs ----

    /// Bytes of a received WebSocket message (text or binary; boundaries mean nothing).
    pub fn handle_input(&mut self, now: Instant, bytes: &[u8]) {
        if self.closed {
            return;
        }
        self.advance(now);
        self.heard_from_peer();
        self.stats.bytes_received += bytes.len() as u64;
        // The codec is taken out for the feed so that each line is handled
        // as it is split, borrowed from the message: no list of decoded
        // frames is built (a burst of them was a measurable copy).
        let mut codec = std::mem::take(&mut self.codec);
        codec.feed(bytes, |event| {
            if self.closed {
                return;
            }
            match decode(event) {
                Ok(frame) => {
                    self.stats.frames_received += 1;
                    self.on_frame(frame);
                }
                Err(problem) => self.on_bad_line(problem),
            }
            // Per line, not per message, so the close does not depend on chunking.
            self.finish_shutdown_when_drained();
        });
        self.codec = codec;
    }

    /// A WebSocket ping or pong arrived: the link is alive.
    pub fn handle_keepalive(&mut self, now: Instant) {
        if !self.closed {
            self.advance(now);
            self.heard_from_peer();
        }
    }

    /// The transport ended, with its close frame when there was one.
    pub fn handle_transport_closed(&mut self, now: Instant, close: Option<CloseFrame>) {
        if !self.closed {
            self.advance(now);
            self.finish(CloseReason::TransportClosed(close), RequestErrorKind::ConnectionLost);
        }
    }

    /// Writing to the socket failed; the connection is unusable.
    pub fn handle_write_failed(&mut self, now: Instant, detail: &str) {
        if !self.closed {
            self.advance(now);
            let reason = CloseReason::WriteFailed(detail.to_owned());
            self.finish(reason, RequestErrorKind::SendFailed(detail.to_owned()));
        }
    }

    /// The clock reached [`poll_timeout`](Self::poll_timeout) (early or repeated calls are harmless).
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.closed {
            return;
        }
        self.advance(now);
        let now = self.now;
        if self.timers.fire(Timer::DeadLink, now) {
            return self.finish(CloseReason::DeadLink, RequestErrorKind::ConnectionLost);
        }
        if self.timers.fire(Timer::Handshake, now) {
            return self.finish(CloseReason::HandshakeTimedOut, RequestErrorKind::NotConnected);
        }
        for (id, sent) in self.pending.expire(now) {
            self.fail(id, RequestError::new(RequestErrorKind::TimedOut, sent));
        }
        if self.timers.fire(Timer::Ping, now) {
            self.actions.push_back(Action::SendPing);
            self.timers.arm(Timer::Ping, now + self.ping_interval());
        }
        if self.timers.fire(Timer::GoingIdle, now) {
            self.deliver(Event::IdleTimedOut);
        }
        if self.timers.fire(Timer::Shutdown, now) {
            return self.finish(CloseReason::Local, RequestErrorKind::Closed);
        }
        self.finish_shutdown_when_drained();
    }

    // ---- commands ----

    /// Submits a request. Before the handshake completes it is held (its
    /// timeout already running) and sent once ready.
    ///
    /// Fails at once, definitely, when the machine is closed, the pending
    /// bound is reached, or the descriptor does not allow the op.
    pub fn request(
        &mut self,
        now: Instant,
        request: impl Into<OutboundRequest>,
    ) -> Result<RequestId, RequestError> {
        let request = request.into();
        if self.closed {
            return Err(RequestError::definite(RequestErrorKind::NotConnected));
        }
        self.advance(now);
        if self.shutting_down {
            return Err(RequestError::definite(RequestErrorKind::Closed));
        }
        if self.pending.len() >= self.config.max_pending {
            return Err(RequestError::definite(RequestErrorKind::TooManyInFlight));
        }
        let id = self.ids.next_id();
        let deadline = self.now + self.config.request_timeout;
        if !self.handshake.is_complete() {
            self.pending.insert_held(id, request, deadline);
            return Ok(id);
        }
        self.check_op(&request)?;
        self.pending.insert_sent(id, deadline);
        self.send_outbound(id, request);
        Ok(id)
    }

    /// Sends `interrupt` for a session (fire-and-forget).
    pub fn interrupt(
        &mut self,
        now: Instant,
        session_key: &str,
        reason: Option<&str>,
    ) -> Result<(), RequestError> {
        self.command(now)?;
        self.send(&Frame::Interrupt(Interrupt {
            session_key: session_key.to_owned(),
            reason: reason.map(str::to_owned),
            extra: Default::default(),
        }));
        Ok(())
    }

    /// Acknowledges a buffered frame: call it once the application has custody.
    pub fn ack(&mut self, now: Instant, buffer_id: &str) -> Result<(), RequestError> {
        self.command(now)?;
        self.send(&Frame::InboundAck(InboundAck {
            buffer_id: buffer_id.to_owned(),
            extra: Default::default(),
        }));
        Ok(())
    }

    /// Sends `going_idle`; [`Event::IdleAcknowledged`] or [`Event::IdleTimedOut`] follows.
    pub fn go_idle(&mut self, now: Instant) -> Result<(), RequestError> {
        self.command(now)?;
        if !self.timers.is_armed(Timer::GoingIdle) {
            self.idle_requested = true;
            self.send(&Frame::GoingIdle(Default::default()));
            self.timers.arm(Timer::GoingIdle, self.now + self.config.going_idle_timeout);
        }
        Ok(())
    }

    /// Starts an orderly close (PROTOCOL §8 "Shutdown"): new requests are
    /// refused with `relay transport closed`; with `go_idle`, `going_idle` is
    /// sent and its ack (or timeout) awaited; requests in flight may finish
    /// until `deadline`. Then `Closed(Local)` follows, failing whatever is
    /// still pending. Every step is bounded by `deadline`.
    pub fn shutdown(&mut self, now: Instant, go_idle: bool, deadline: Instant) -> Result<(), RequestError> {
        if go_idle {
            self.go_idle(now)?;
        } else {
            self.command(now)?;
        }
        self.shutting_down = true;
        self.timers.arm(Timer::Shutdown, deadline.max(self.now));
        self.finish_shutdown_when_drained();
        Ok(())
    }

    /// Closes the connection now: pending requests fail with `relay transport
    /// closed` (ambiguous when sent) and `Closed(Local)` follows.
    pub fn close(&mut self, now: Instant) -> Result<(), RequestError> {
        self.command(now)?;
        self.finish(CloseReason::Local, RequestErrorKind::Closed);
        Ok(())
    }

    // ---- outputs ----

    /// The next action, in causal order; drain until `None` after every input or command.
    #[must_use]
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// When to call [`handle_timeout`](Self::handle_timeout) next; `None` once closed.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.closed {
            return None;
        }
        [self.timers.earliest(), self.pending.earliest_deadline()].into_iter().flatten().min()
    }

    // ---- internals ----

    fn advance(&mut self, now: Instant) {
        self.now = self.now.max(now);
    }

    fn ping_interval(&self) -> Duration {
        self.config.ping_interval.max(Duration::from_millis(1))
    }

    fn heard_from_peer(&mut self) {
        self.timers.arm(Timer::DeadLink, self.now + self.config.dead_link_timeout);
    }

    fn command(&mut self, now: Instant) -> Result<(), RequestError> {
        if self.closed {
            return Err(RequestError::definite(RequestErrorKind::NotConnected));
        }
        self.advance(now);
        Ok(())
    }

    fn send(&mut self, frame: &Frame) {
        self.stats.frames_sent += 1;
        self.actions.push_back(Action::SendFrame(frame.encode_line()));
    }

    fn deliver(&mut self, event: Event) {
        self.actions.push_back(Action::Deliver(event));
    }

    fn fail(&mut self, id: RequestId, error: RequestError) {
        self.stats.failed += 1;
        self.actions.push_back(Action::Fail { id, error });
    }

    fn diagnose(&mut self, kind: DiagnosticKind, line: u64, detail: String) {
        *self.stats.diagnostics.entry(kind).or_default() += 1;
        self.deliver(Event::Diagnostic(Diagnostic { kind, line, detail }));
    }

    fn check_op(&self, request: &OutboundRequest) -> Result<(), RequestError> {
        let descriptor = request
            .identity
            .as_ref()
            .and_then(|identity| self.handshake.descriptor_for(identity))
            .or(self.handshake.default_descriptor());
        let op = request.action.op();
        match descriptor {
            Some(d) if !d.allows_op(op) => {
                Err(RequestError::definite(RequestErrorKind::OpNotSupported(op.to_owned())))
            }
            _ => Ok(()),
        }
    }

    fn send_outbound(&mut self, id: RequestId, request: OutboundRequest) {
        let (platform, bot_id) = match request.identity {
            Some(identity) => (Some(identity.platform), Some(identity.bot_id)),
            None => (None, None),
        };
        self.send(&Frame::Outbound(Outbound {
            request_id: id.to_hex(),
            action: request.action,
            platform,
            bot_id,
            extra: Default::default(),
        }));
    }

    fn on_bad_line(&mut self, problem: LineProblem) {
        let LineProblem { line, kind, frame_type, detail } = problem;
        let bad_first_descriptor = kind == DiagnosticKind::BadField
            && frame_type == Some(FrameType::Descriptor)
            && !self.handshake.is_complete();
        if bad_first_descriptor {
            return self.finish(CloseReason::BadDescriptor(detail), RequestErrorKind::NotConnected);
        }
        if frame_type == Some(FrameType::Descriptor) {
            // A malformed later descriptor still answers its hello.
            self.handshake.skip_descriptor();
        }
        self.diagnose(kind, line, detail);
    }

    fn on_frame(&mut self, (line, frame): (u64, Frame)) {
        if let Frame::Descriptor(d) = frame {
            return self.on_descriptor(line, d.descriptor);
        }
        if !self.handshake.is_complete() {
            if !self.handshake.hold(line, frame) {
                self.finish(CloseReason::TooManyHeldFrames, RequestErrorKind::NotConnected);
            }
            return;
        }
        match frame {
            Frame::Inbound(f) => self.deliver(Event::Inbound { event: f.event, buffer_id: f.buffer_id }),
            Frame::PassthroughForward(f) => {
                self.deliver(Event::Passthrough { forward: Box::new(f.forward), buffer_id: f.buffer_id })
            }
            Frame::InterruptInbound(f) => {
                self.deliver(Event::Interrupt { session_key: f.session_key, chat_id: f.chat_id })
            }
            Frame::OutboundResult(f) => self.on_result(f),
            Frame::GoingIdleAck(_) => self.on_idle_ack(line),
            other => {
                // Only frames travelling to the connector remain, and decoding
                // already refused those as wrong_direction.
                let detail = format!("`{}` is not expected here", other.frame_type().as_str());
                self.diagnose(DiagnosticKind::Unexpected, line, detail);
            }
        }
    }

    fn on_descriptor(&mut self, line: u64, descriptor: Descriptor) {
        if descriptor.contract_version > crate::wire::CONTRACT_VERSION {
            let detail =
                format!("descriptor contract_version {} is newer than 1", descriptor.contract_version);
            self.diagnose(DiagnosticKind::NewerContract, line, detail);
        }
        let was_complete = self.handshake.is_complete();
        let Some(identity) = self.handshake.accept_descriptor(descriptor.clone()) else {
            let detail = format!("descriptor beyond the {} hello(s) sent", self.identities().len());
            return self.diagnose(DiagnosticKind::Unexpected, line, detail);
        };
        if was_complete {
            return self.deliver(Event::Descriptor { identity, descriptor: Box::new(descriptor) });
        }
        self.timers.disarm(Timer::Handshake);
        self.deliver(Event::Ready { identity, descriptor: Box::new(descriptor) });
        self.release_held_requests();
        for (line, frame) in self.handshake.take_held_frames() {
            if self.closed {
                break;
            }
            self.on_frame((line, frame));
        }
    }

    fn release_held_requests(&mut self) {
        for (id, request) in self.pending.take_held() {
            match self.check_op(&request) {
                Ok(()) => {
                    self.pending.mark_sent(id);
                    self.send_outbound(id, request);
                }
                Err(error) => {
                    self.pending.remove(id);
                    self.fail(id, error);
                }
            }
        }
    }

    fn on_result(&mut self, frame: OutboundResult) {
        // One lookup: the id must be pending and sent (a held request has no result yet).
        let id = RequestId::parse(&frame.request_id).filter(|id| self.pending.remove_sent(*id));
        match id {
            Some(id) => {
                self.stats.resolved += 1;
                self.actions.push_back(Action::Resolve { id, result: frame.result });
            }
            None => self.stats.unknown_results += 1,
        }
    }

    fn on_idle_ack(&mut self, line: u64) {
        if self.idle_requested {
            self.timers.disarm(Timer::GoingIdle);
            self.deliver(Event::IdleAcknowledged);
        } else {
            self.diagnose(DiagnosticKind::Unexpected, line, "going_idle_ack without going_idle".to_owned());
        }
    }

    fn finish_shutdown_when_drained(&mut self) {
        let idle_pending = self.timers.is_armed(Timer::GoingIdle);
        if self.shutting_down && !self.closed && !idle_pending && self.pending.is_empty() {
            self.finish(CloseReason::Local, RequestErrorKind::Closed);
        }
    }

    /// Settles every pending request, then queues `Closed` as the last action.
    fn finish(&mut self, reason: CloseReason, kind: RequestErrorKind) {
        for (id, sent) in self.pending.drain() {
            // Held requests never left: their failure is definite, and
            // "connection lost" reads better than "send failed" for them.
            let kind = match (&kind, sent) {
                (RequestErrorKind::SendFailed(_), false) => RequestErrorKind::ConnectionLost,
                _ => kind.clone(),
            };
            self.fail(id, RequestError::new(kind, sent));
        }
        self.closed = true;
        self.timers.disarm_all();
        self.actions.push_back(Action::Closed(reason));
    }
}

/// A line that did not become a frame.
struct LineProblem {
    line: u64,
    kind: DiagnosticKind,
    frame_type: Option<FrameType>,
    detail: String,
}

fn decode(event: LineEvent<'_>) -> Result<(u64, Frame), LineProblem> {
    match event {
        LineEvent::Line { number, bytes } => {
            Frame::decode(bytes, Some(Direction::ToGateway)).map(|frame| (number, frame)).map_err(|e| {
                LineProblem { line: number, kind: e.kind, frame_type: e.frame_type, detail: e.detail }
            })
        }
        LineEvent::TooLong { number, len } => Err(LineProblem {
            line: number,
            kind: DiagnosticKind::LineTooLong,
            frame_type: None,
            detail: format!("line of {len} bytes exceeds the maximum"),
        }),
    }
}

#[cfg(test)]
#[path = "machine_tests.rs"]
mod tests;
