//! A reference model of one gateway connection for `gateway_ops`: which
//! requests are pending (held or sent) with their deadlines, the handshake,
//! the machine's timers, and what each step must settle and how.
//!
//! It is written from PROTOCOL §3, §5 and §8 and the driving contract, not
//! from the machine's code, and shares only the wire layer (line splitting
//! and frame decoding, fuzzed on their own by `codec` and `frame_decode`).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::gateway::{CloseFrame, CloseReason, OutboundRequest, RequestError, RequestErrorKind, RequestId};
use crate::wire::{
    ActionResult, Descriptor, DiagnosticKind, Direction, Frame, FrameType, LineCodec, LineEvent,
};

/// The settings the model needs (mirroring the machine's config).
#[derive(Debug, Clone)]
pub(super) struct Limits {
    pub(super) identities: usize,
    pub(super) request_timeout: Duration,
    pub(super) handshake_timeout: Duration,
    pub(super) ping_interval: Duration,
    pub(super) dead_link_timeout: Duration,
    pub(super) going_idle_timeout: Duration,
    pub(super) max_pending: usize,
    pub(super) max_held_frames: usize,
    pub(super) max_line: usize,
}

/// How a request ended.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Settled {
    /// Its result arrived.
    Resolved(ActionResult),
    /// It failed.
    Failed(RequestError),
}

/// What one step must produce.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Expected {
    pub(super) settled: Vec<(RequestId, Settled)>,
    pub(super) ready: bool,
    pub(super) deliveries: usize,
    pub(super) closed: Option<CloseReason>,
}

#[derive(Debug)]
struct Pending {
    seq: u64,
    deadline: Duration,
    sent: bool,
    request: OutboundRequest,
}

/// The reference model.
#[derive(Debug)]
pub(super) struct Model {
    limits: Limits,
    now: Duration,
    closed: bool,
    codec: LineCodec,
    /// Descriptors received, by identity position; the first one is the default.
    descriptors: Vec<Option<Descriptor>>,
    default: Option<Descriptor>,
    answered: usize,
    held_frames: Vec<Frame>,
    pending: BTreeMap<RequestId, Pending>,
    next_seq: u64,
    handshake_at: Option<Duration>,
    ping_at: Option<Duration>,
    dead_at: Option<Duration>,
    idle_at: Option<Duration>,
    shutdown_at: Option<Duration>,
    idle_requested: bool,
    shutting_down: bool,
    out: Expected,
}

impl Model {
    /// A connection whose socket opened at time zero.
    pub(super) fn new(limits: Limits) -> Self {
        Self {
            codec: LineCodec::new(limits.max_line),
            descriptors: vec![None; limits.identities],
            default: None,
            answered: 0,
            held_frames: Vec::new(),
            pending: BTreeMap::new(),
            next_seq: 0,
            handshake_at: Some(limits.handshake_timeout),
            ping_at: Some(limits.ping_interval),
            dead_at: Some(limits.dead_link_timeout),
            idle_at: None,
            shutdown_at: None,
            idle_requested: false,
            shutting_down: false,
            now: Duration::ZERO,
            closed: false,
            out: Expected::default(),
            limits,
        }
    }

    /// What the steps since the last call must have produced.
    pub(super) fn take(&mut self) -> Expected {
        std::mem::take(&mut self.out)
    }

    pub(super) fn is_closed(&self) -> bool {
        self.closed
    }

    pub(super) fn is_ready(&self) -> bool {
        !self.closed && self.default.is_some()
    }

    pub(super) fn pending(&self) -> usize {
        self.pending.len()
    }

    /// The next deadline: the earliest timer or request deadline.
    pub(super) fn deadline(&self) -> Option<Duration> {
        if self.closed {
            return None;
        }
        let timers = [self.handshake_at, self.ping_at, self.dead_at, self.idle_at, self.shutdown_at];
        let requests = self.pending.values().map(|p| p.deadline);
        timers.into_iter().flatten().chain(requests).min()
    }

    fn advance(&mut self, now: Duration) {
        self.now = self.now.max(now);
    }

    // ---- inputs ----

    pub(super) fn input(&mut self, now: Duration, bytes: &[u8]) {
        if self.closed {
            return;
        }
        self.advance(now);
        self.dead_at = Some(self.now + self.limits.dead_link_timeout);
        let mut lines = Vec::new();
        self.codec.feed(bytes, |event| {
            lines.push(match event {
                LineEvent::Line { bytes, .. } => {
                    Frame::decode(bytes, Some(Direction::ToGateway)).map_err(Some)
                }
                LineEvent::TooLong { .. } => Err(None),
            })
        });
        for line in lines {
            if self.closed {
                break;
            }
            match line {
                Ok(frame) => self.frame(frame),
                Err(Some(e)) if e.frame_type == Some(FrameType::Descriptor) => {
                    if e.kind == DiagnosticKind::BadField && self.default.is_none() {
                        self.finish(CloseReason::BadDescriptor(e.detail), RequestErrorKind::NotConnected);
                    } else {
                        // A broken later descriptor still answers its hello.
                        self.answered += 1;
                    }
                }
                Err(_) => {}
            }
            self.shutdown_if_drained();
        }
    }

    fn frame(&mut self, frame: Frame) {
        if let Frame::Descriptor(d) = frame {
            return self.descriptor(d.descriptor);
        }
        if self.default.is_none() {
            if self.held_frames.len() >= self.limits.max_held_frames {
                return self.finish(CloseReason::TooManyHeldFrames, RequestErrorKind::NotConnected);
            }
            return self.held_frames.push(frame);
        }
        match frame {
            Frame::Inbound(_) | Frame::PassthroughForward(_) | Frame::InterruptInbound(_) => {
                self.out.deliveries += 1
            }
            Frame::OutboundResult(f) => {
                let id =
                    RequestId::parse(&f.request_id).filter(|id| self.pending.get(id).is_some_and(|p| p.sent));
                if let Some(id) = id {
                    self.pending.remove(&id);
                    self.out.settled.push((id, Settled::Resolved(f.result)));
                }
            }
            Frame::GoingIdleAck(_) if self.idle_requested => self.idle_at = None,
            _ => {}
        }
    }

    fn descriptor(&mut self, descriptor: Descriptor) {
        let Some(slot) = self.descriptors.get_mut(self.answered) else { return };
        *slot = Some(descriptor.clone());
        self.answered += 1;
        if self.default.is_some() {
            return;
        }
        self.default = Some(descriptor);
        self.handshake_at = None;
        self.out.ready = true;
        let mut held: Vec<_> =
            self.pending.iter().filter(|(_, p)| !p.sent).map(|(id, p)| (p.seq, *id)).collect();
        held.sort_unstable();
        for (_, id) in held {
            let verdict = self.pending.get(&id).map(|p| self.check_op(&p.request));
            match verdict {
                Some(Ok(())) => {
                    if let Some(p) = self.pending.get_mut(&id) {
                        p.sent = true;
                    }
                }
                Some(Err(error)) => {
                    self.pending.remove(&id);
                    self.out.settled.push((id, Settled::Failed(error)));
                }
                None => {}
            }
        }
        for frame in std::mem::take(&mut self.held_frames) {
            if self.closed {
                break;
            }
            self.frame(frame);
        }
    }

    pub(super) fn timeout(&mut self, now: Duration) {
        if self.closed {
            return;
        }
        self.advance(now);
        let now = self.now;
        let due = |at: &mut Option<Duration>| at.take_if(|t| *t <= now).is_some();
        if due(&mut self.dead_at) {
            return self.finish(CloseReason::DeadLink, RequestErrorKind::ConnectionLost);
        }
        if due(&mut self.handshake_at) {
            return self.finish(CloseReason::HandshakeTimedOut, RequestErrorKind::NotConnected);
        }
        let mut expired: Vec<_> = self
            .pending
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(id, p)| (p.deadline, p.seq, *id))
            .collect();
        expired.sort_unstable();
        for (_, _, id) in expired {
            if let Some(p) = self.pending.remove(&id) {
                let error = RequestError { kind: RequestErrorKind::TimedOut, ambiguous: p.sent };
                self.out.settled.push((id, Settled::Failed(error)));
            }
        }
        if due(&mut self.ping_at) {
            self.ping_at = Some(now + self.limits.ping_interval.max(Duration::from_millis(1)));
        }
        due(&mut self.idle_at);
        if due(&mut self.shutdown_at) {
            return self.finish(CloseReason::Local, RequestErrorKind::Closed);
        }
        self.shutdown_if_drained();
    }

    pub(super) fn keepalive(&mut self, now: Duration) {
        if !self.closed {
            self.advance(now);
            self.dead_at = Some(self.now + self.limits.dead_link_timeout);
        }
    }

    pub(super) fn transport_closed(&mut self, now: Duration, close: Option<CloseFrame>) {
        if !self.closed {
            self.advance(now);
            self.finish(CloseReason::TransportClosed(close), RequestErrorKind::ConnectionLost);
        }
    }

    pub(super) fn write_failed(&mut self, now: Duration, detail: &str) {
        if !self.closed {
            self.advance(now);
            self.finish(
                CloseReason::WriteFailed(detail.to_owned()),
                RequestErrorKind::SendFailed(detail.to_owned()),
            );
        }
    }

    // ---- commands ----

    /// What `request` must return; on `Ok` the caller reports the id with [`Self::issued`].
    pub(super) fn request(&mut self, now: Duration, request: &OutboundRequest) -> Result<(), RequestError> {
        let refuse = |kind| Err(RequestError { kind, ambiguous: false });
        if self.closed {
            return refuse(RequestErrorKind::NotConnected);
        }
        self.advance(now);
        if self.shutting_down {
            return refuse(RequestErrorKind::Closed);
        }
        if self.pending.len() >= self.limits.max_pending {
            return refuse(RequestErrorKind::TooManyInFlight);
        }
        if self.default.is_some() { self.check_op(request) } else { Ok(()) }
    }

    /// A request the machine accepted: held before the handshake, else sent.
    pub(super) fn issued(&mut self, id: RequestId, request: OutboundRequest) {
        let pending = Pending {
            seq: self.next_seq,
            deadline: self.now + self.limits.request_timeout,
            sent: self.default.is_some(),
            request,
        };
        self.next_seq += 1;
        self.pending.insert(id, pending);
    }

    /// `interrupt` and `ack`: refused once closed, else fire-and-forget.
    pub(super) fn command(&mut self, now: Duration) -> Result<(), RequestError> {
        if self.closed {
            return Err(RequestError { kind: RequestErrorKind::NotConnected, ambiguous: false });
        }
        self.advance(now);
        Ok(())
    }

    pub(super) fn go_idle(&mut self, now: Duration) -> Result<(), RequestError> {
        self.command(now)?;
        if self.idle_at.is_none() {
            self.idle_requested = true;
            self.idle_at = Some(self.now + self.limits.going_idle_timeout);
        }
        Ok(())
    }

    pub(super) fn shutdown(
        &mut self,
        now: Duration,
        go_idle: bool,
        deadline: Duration,
    ) -> Result<(), RequestError> {
        if go_idle {
            self.go_idle(now)?
        } else {
            self.command(now)?
        }
        self.shutting_down = true;
        self.shutdown_at = Some(deadline.max(self.now));
        self.shutdown_if_drained();
        Ok(())
    }

    pub(super) fn close(&mut self, now: Duration) -> Result<(), RequestError> {
        self.command(now)?;
        self.finish(CloseReason::Local, RequestErrorKind::Closed);
        Ok(())
    }

    // ---- rules ----

    /// PROTOCOL §3: the op must be allowed by the descriptor of the request's
    /// identity, or the default one when that identity has none.
    fn check_op(&self, request: &OutboundRequest) -> Result<(), RequestError> {
        let position =
            request.identity.as_ref().and_then(|i| super::driver::identities().iter().position(|x| x == i));
        let descriptor = position.and_then(|p| self.descriptors[p].as_ref()).or(self.default.as_ref());
        let op = request.action.op();
        match descriptor {
            Some(d) if !d.allows_op(op) => {
                Err(RequestError { kind: RequestErrorKind::OpNotSupported(op.to_owned()), ambiguous: false })
            }
            _ => Ok(()),
        }
    }

    fn shutdown_if_drained(&mut self) {
        if self.shutting_down && !self.closed && self.idle_at.is_none() && self.pending.is_empty() {
            self.finish(CloseReason::Local, RequestErrorKind::Closed);
        }
    }

    /// Fails everything pending in submission order (ambiguous when sent;
    /// a failed write reads as a lost connection for held requests).
    fn finish(&mut self, reason: CloseReason, kind: RequestErrorKind) {
        let mut all: Vec<_> = std::mem::take(&mut self.pending).into_iter().collect();
        all.sort_by_key(|(_, p)| p.seq);
        for (id, p) in all {
            let kind = match &kind {
                RequestErrorKind::SendFailed(_) if !p.sent => RequestErrorKind::ConnectionLost,
                other => other.clone(),
            };
            self.out.settled.push((id, Settled::Failed(RequestError { kind, ambiguous: p.sent })));
        }
        self.closed = true;
        self.out.closed = Some(reason);
    }
}
