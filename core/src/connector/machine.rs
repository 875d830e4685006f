//! `ConnectorMachine`: one connector-side connection as a deterministic state
//! machine — its state, getters, inputs and outputs. Application commands
//! are in `commands.rs`.

use std::collections::VecDeque;
use std::time::Instant;

use super::delivery::Delivery;
use super::hellos::Hellos;
use super::pending_ids::PendingIds;
use super::store::within_limit;
use super::timers::{Timer, Timers};
use super::{
    Action, BacklogEntry, BacklogKey, CloseReason, ConnectorConfig, Event, Stats, StoreFailure, StoreRequest,
};
use crate::gateway::{CloseFrame, Identity};
use crate::policy::TokenRejection;
use crate::wire::{
    ActionResult, Diagnostic, DiagnosticKind, Direction, Frame, LineCodec, LineEvent, Outbound,
    OutboundResult,
};

/// One connector-side connection: bytes, ticks and commands in; [`Action`]s out.
///
/// See the [module documentation](super) for the driving contract.
#[derive(Debug)]
pub struct ConnectorMachine {
    pub(super) config: ConnectorConfig,
    pub(super) now: Instant,
    pub(super) closed: bool,
    /// The verified gateway id, when upgrade auth is on.
    pub(super) gateway_id: Option<String>,
    pub(super) backlog_key: Option<BacklogKey>,
    pub(super) hellos: Hellos,
    pub(super) delivery: Delivery,
    /// Request ids handed to the application and not yet answered.
    pub(super) pending: PendingIds,
    pub(super) codec: LineCodec,
    pub(super) timers: Timers,
    pub(super) actions: VecDeque<Action>,
    pub(super) stats: Stats,
}

impl ConnectorMachine {
    /// A machine for a WebSocket upgrade accepted at `now`.
    ///
    /// `authorization` is the upgrade's `Authorization` header value, if any;
    /// `now_unix` is the wall time in unix seconds, for token expiry. When
    /// the config's verifier has secrets the token is checked (PROTOCOL §8):
    /// a missing or refused one makes `Closed` (close 4401, reason `expired`
    /// or `unauthorized`) the machine's first and only action.
    #[must_use]
    pub fn new(config: ConnectorConfig, authorization: Option<&str>, now: Instant, now_unix: u64) -> Self {
        let mut machine = Self {
            codec: LineCodec::new(config.max_line),
            hellos: Hellos::new(config.max_hellos, config.max_held_frames),
            delivery: Delivery::new(config.replay_window),
            now,
            closed: false,
            gateway_id: None,
            backlog_key: None,
            pending: PendingIds::new(config.seed),
            timers: Timers::default(),
            actions: VecDeque::new(),
            stats: Stats::default(),
            config,
        };
        if machine.config.verifier.is_enabled() {
            let verdict = authorization.map_or(Err(TokenRejection::Unauthorized), |header| {
                machine.config.verifier.verify(header, now_unix)
            });
            match verdict {
                Ok(token) => {
                    machine.backlog_key = Some(BacklogKey::Gateway(token.gateway_id.clone()));
                    machine.gateway_id = Some(token.gateway_id);
                }
                Err(rejection) => {
                    machine.finish(CloseReason::Rejected(rejection));
                    return machine;
                }
            }
        }
        machine.timers.arm(Timer::Handshake, now + machine.config.handshake_timeout);
        machine.timers.arm(Timer::DeadLink, now + machine.config.dead_link_timeout);
        machine
    }

    // ---- getters ----

    /// Whether the first descriptor was sent (and the machine is not closed).
    pub fn is_ready(&self) -> bool {
        !self.closed && self.hellos.is_complete()
    }

    /// Whether the machine ended (`Closed` was queued).
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Whether pushes are delivered live (handshake done, backlog replayed, not idle).
    pub fn is_live(&self) -> bool {
        !self.closed && self.delivery.is_live()
    }

    /// Whether the gateway went idle (`going_idle_ack` sent).
    pub fn is_idle(&self) -> bool {
        self.delivery.is_idle()
    }

    /// Whether the backlog is being replayed.
    pub fn is_replaying(&self) -> bool {
        !self.closed && self.delivery.is_replaying()
    }

    /// The gateway id the upgrade token vouched for, when auth is on.
    pub fn gateway_id(&self) -> Option<&str> {
        self.gateway_id.as_deref()
    }

    /// Whose backlog this gateway's buffered frames go to: its gateway id
    /// when auth is on, else its first hello's identity (`None` before that).
    pub fn backlog_key(&self) -> Option<&BacklogKey> {
        self.backlog_key.as_ref()
    }

    /// The distinct identities announced so far, in hello order.
    pub fn identities(&self) -> &[Identity] {
        self.hellos.announced()
    }

    /// The default identity (the first hello's), for untagged outbounds.
    pub fn default_identity(&self) -> Option<&Identity> {
        self.hellos.default_identity()
    }

    /// The identity the next [`answer_hello`](Self::answer_hello) answers.
    pub fn next_hello(&self) -> Option<&Identity> {
        self.hellos.oldest_unanswered()
    }

    /// Requests handed to the application and not yet answered.
    pub fn pending_requests(&self) -> usize {
        self.pending.len()
    }

    /// Replayed frames waiting for their `inbound_ack`.
    pub fn replay_in_flight(&self) -> usize {
        self.delivery.in_flight()
    }

    /// Whether a [`StoreRequest::Read`] is out, waiting for
    /// [`handle_backlog_read`](Self::handle_backlog_read).
    pub fn is_reading_backlog(&self) -> bool {
        !self.closed && self.delivery.is_reading()
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
                Ok((number, frame)) => {
                    self.stats.frames_received += 1;
                    self.on_frame(number, frame);
                }
                Err(diagnostic) => self.diagnose(diagnostic),
            }
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
            self.finish(CloseReason::TransportClosed(close));
        }
    }

    /// Writing to the socket failed; the connection is unusable.
    pub fn handle_write_failed(&mut self, now: Instant, detail: &str) {
        if !self.closed {
            self.advance(now);
            self.finish(CloseReason::WriteFailed(detail.to_owned()));
        }
    }

    /// The clock reached [`poll_timeout`](Self::poll_timeout) (early or repeated calls are harmless).
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.closed {
            return;
        }
        self.advance(now);
        if self.timers.fire(Timer::DeadLink, self.now) {
            self.finish(CloseReason::DeadLink);
        } else if self.timers.fire(Timer::Handshake, self.now) {
            self.finish(CloseReason::HandshakeTimedOut);
        }
        if !self.closed && self.timers.fire(Timer::StoreRetry, self.now) {
            self.request_backlog();
        }
    }

    /// Entries were appended to this gateway's backlog by someone else: with
    /// several connector instances on one store, a push made on an instance
    /// that does not hold the gateway goes to the store, and the holder hears
    /// of it. A live delivery then replays the new entries first (local
    /// pushes queue behind them, [`Event::Live`] follows once they are out);
    /// a replay lists again. An idle gateway, or one still handshaking,
    /// changes nothing.
    pub fn handle_backlog_appended(&mut self, now: Instant) {
        if self.closed {
            return;
        }
        self.advance(now);
        self.delivery.appended_elsewhere();
        self.request_backlog();
    }

    /// The answer to the outstanding [`StoreRequest::Read`]: the entries are
    /// replayed in order, each with its `bufferId`; a short listing with
    /// nothing in flight ends the replay ([`Event::Live`]). A failure is
    /// reported ([`Event::StoreFailed`]) and the read is asked again after
    /// [`ConnectorConfig::store_retry`]. An answer with no read outstanding
    /// (or after `Closed`, or after the gateway went idle) sends nothing.
    pub fn handle_backlog_read(&mut self, now: Instant, entries: Result<Vec<BacklogEntry>, StoreFailure>) {
        if self.closed || !self.delivery.is_reading() {
            return;
        }
        self.advance(now);
        match entries {
            Ok(entries) => {
                let entries = within_limit(entries, self.delivery.asked());
                let got = entries.len();
                if self.delivery.may_replay() {
                    for entry in entries {
                        self.delivery.sent(&entry.buffer_id);
                        self.stats.replayed += 1;
                        self.send_line(entry.frame.into_line(Some(entry.buffer_id)));
                    }
                }
                if self.delivery.listed(got) {
                    self.deliver(Event::Live);
                }
                self.request_backlog();
            }
            Err(failure) => {
                self.delivery.read_failed();
                self.stats.store_failures += 1;
                self.deliver(Event::StoreFailed(failure));
                self.timers.arm(Timer::StoreRetry, self.now + self.config.store_retry);
            }
        }
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
        if self.closed { None } else { self.timers.earliest() }
    }

    // ---- internals ----

    pub(super) fn advance(&mut self, now: Instant) {
        self.now = self.now.max(now);
    }

    fn heard_from_peer(&mut self) {
        self.timers.arm(Timer::DeadLink, self.now + self.config.dead_link_timeout);
    }

    pub(super) fn send(&mut self, frame: &Frame) {
        self.send_line(frame.encode_line());
    }

    pub(super) fn send_line(&mut self, line: String) {
        self.stats.frames_sent += 1;
        self.actions.push_back(Action::SendFrame(line));
    }

    pub(super) fn deliver(&mut self, event: Event) {
        self.actions.push_back(Action::Deliver(event));
    }

    fn diagnose(&mut self, diagnostic: Diagnostic) {
        *self.stats.diagnostics.entry(diagnostic.kind).or_default() += 1;
        self.deliver(Event::Diagnostic(diagnostic));
    }

    pub(super) fn on_frame(&mut self, line: u64, frame: Frame) {
        if let Frame::Hello(hello) = frame {
            let identity = Identity::new(hello.platform, hello.bot_id);
            if !self.hellos.on_hello(identity.clone()) {
                return self.finish(CloseReason::TooManyHellos);
            }
            if self.backlog_key.is_none() {
                self.backlog_key = Some(BacklogKey::Identity(identity.clone()));
            }
            return self.deliver(Event::Hello { identity, command_manifest: hello.command_manifest });
        }
        if !self.hellos.is_complete() {
            // Nothing but hellos makes sense before the application answered
            // one; the rest waits, in order, like the gateway's held frames.
            if !self.hellos.hold(line, frame) {
                self.finish(CloseReason::TooManyHeldFrames);
            }
            return;
        }
        match frame {
            Frame::Outbound(outbound) => self.on_outbound(line, outbound),
            Frame::Interrupt(f) => {
                self.deliver(Event::Interrupt { session_key: f.session_key, reason: f.reason })
            }
            Frame::GoingIdle(_) => {
                let first = !self.delivery.is_idle();
                self.delivery.go_idle();
                self.send(&Frame::GoingIdleAck(Default::default()));
                if first {
                    self.deliver(Event::GoingIdle);
                }
            }
            Frame::InboundAck(ack) => {
                let replayed = self.delivery.on_ack(&ack.buffer_id);
                self.stats.acked += u64::from(replayed);
                self.deliver(Event::InboundAck { buffer_id: ack.buffer_id.clone(), replayed });
                if let (true, Some(key)) = (replayed, self.backlog_key.clone()) {
                    let buffer_ids = vec![ack.buffer_id];
                    self.actions.push_back(Action::Store(StoreRequest::Remove { key, buffer_ids }));
                    self.request_backlog();
                }
            }
            other => {
                // Only connector → gateway frames remain, and decoding
                // already refused those as wrong_direction.
                let detail = format!("`{}` is not expected here", other.frame_type().as_str());
                self.diagnose(Diagnostic { kind: DiagnosticKind::Unexpected, line, detail });
            }
        }
    }

    fn on_outbound(&mut self, line: u64, outbound: Outbound) {
        let identity = match (outbound.platform, outbound.bot_id) {
            (None, None) => self.hellos.default_identity().cloned().unwrap_or_else(Identity::default_relay),
            // A half-tagged outbound names the identity with the missing part empty.
            (platform, bot_id) => Identity::new(platform.unwrap_or_default(), bot_id.unwrap_or_default()),
        };
        if !self.hellos.is_announced(&identity) {
            let mut result = ActionResult::failed(format!("identity not announced: {identity}"));
            result.code = Some("unknown_identity".to_owned());
            return self.answer_itself(outbound.request_id, result);
        }
        // One lookup for the usual case: inserted first, taken back out
        // when over the limit.
        if !self.pending.insert(outbound.request_id.clone()) {
            let detail = format!("requestId {:?} is already waiting for an answer", outbound.request_id);
            return self.diagnose(Diagnostic { kind: DiagnosticKind::Unexpected, line, detail });
        }
        if self.pending.len() > self.config.max_pending_requests {
            self.pending.remove(&outbound.request_id);
            let mut result = ActionResult::failed("relay too many requests in flight");
            result.code = Some("too_many_requests".to_owned());
            return self.answer_itself(outbound.request_id, result);
        }
        self.stats.requests += 1;
        self.deliver(Event::Request {
            request_id: outbound.request_id,
            identity,
            action: Box::new(outbound.action),
        });
    }

    /// Asks the store for the next entries to replay, when the replay has
    /// room and no read is out (and no failed read waits for its retry).
    pub(super) fn request_backlog(&mut self) {
        if self.closed || self.timers.is_armed(Timer::StoreRetry) {
            return;
        }
        let Some(key) = self.backlog_key.clone() else { return };
        if let Some((after, limit)) = self.delivery.start_read() {
            self.actions.push_back(Action::Store(StoreRequest::Read { key, after, limit }));
        }
    }

    fn answer_itself(&mut self, request_id: String, result: ActionResult) {
        self.stats.answered_by_machine += 1;
        self.send(&Frame::OutboundResult(OutboundResult { request_id, result, extra: Default::default() }));
    }

    /// Queues `Closed` as the last action; unanswered requests are dropped
    /// (the gateway fails them as lost).
    pub(super) fn finish(&mut self, reason: CloseReason) {
        self.closed = true;
        self.pending.clear();
        self.timers.disarm_all();
        self.actions.push_back(Action::Closed(reason));
    }

    /// The first descriptor went out: stop the handshake clock, start the
    /// replay, and process what the gateway sent meanwhile.
    pub(super) fn complete_handshake(&mut self) {
        self.timers.disarm(Timer::Handshake);
        self.delivery.start();
        self.request_backlog();
        for (line, frame) in self.hellos.take_held() {
            if self.closed {
                break;
            }
            self.on_frame(line, frame);
        }
    }
}

fn decode(event: LineEvent<'_>) -> Result<(u64, Frame), Diagnostic> {
    match event {
        LineEvent::Line { number, bytes } => Frame::decode(bytes, Some(Direction::ToConnector))
            .map(|frame| (number, frame))
            .map_err(|e| Diagnostic { kind: e.kind, line: number, detail: e.detail }),
        LineEvent::TooLong { number, len } => Err(Diagnostic {
            kind: DiagnosticKind::LineTooLong,
            line: number,
            detail: format!("line of {len} bytes exceeds the maximum"),
        }),
    }
}
