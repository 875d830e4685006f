//! A gateway machine driven the way the contract asks, with every action
//! checked as it is polled. Shared by `gateway_bytes` and `gateway_ops`.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::json;

use super::MAX_ACTIONS_PER_STEP;
use crate::gateway::{
    Action, GatewayConfig, Identity, OutboundRequest, RelayMachine, RequestError, RequestId,
};
use crate::sim::{Invariants, descriptor_for, epoch};
use crate::wire::{Direction, Frame, OutboundAction, SendMessage};

/// The identities fuzzed gateways announce; the first is answered by the harness.
pub(super) fn identities() -> Vec<Identity> {
    vec![Identity::new("telegram", "b1"), Identity::new("discord", "b2")]
}

/// An identity a request may be tagged with: none, an announced one, or one never announced.
pub(super) fn identity(selector: u8) -> Option<Identity> {
    match selector % 4 {
        0 => None,
        1 => Some(Identity::new("telegram", "b1")),
        2 => Some(Identity::new("discord", "b2")),
        _ => Some(Identity::new("slack", "b3")),
    }
}

/// One of the ops of PROTOCOL §5 (always allowed, extension, or unknown named `text`).
pub(super) fn action(kind: u8, text: &str) -> OutboundAction {
    let value = match kind % 11 {
        0 => json!({"op": "send", "chat_id": "c1", "content": text}),
        1 => json!({"op": "edit", "chat_id": "c1", "message_id": "m1", "content": text}),
        2 => json!({"op": "typing", "chat_id": "c1"}),
        3 => json!({"op": "follow_up", "session_key": text, "kind": "nudge", "content": "x"}),
        4 => json!({"op": "get_chat_info", "chat_id": text}),
        5 => json!({"op": "react", "chat_id": "c1", "message_id": "m1", "emoji": "+1"}),
        6 => json!({"op": "draft", "chat_id": "c1", "draft_id": 1, "content": text, "final": false}),
        7 => json!({"op": "send_media", "chat_id": "c1", "media_kind": "image", "source_url": text}),
        8 => json!({"op": "thread_create", "chat_id": "c1", "thread_name": text}),
        9 => json!({"op": "prompt", "chat_id": "c1", "prompt_kind": "choice", "prompt_id": "p",
                    "content": text, "options": [{"id": "a", "label": "A"}]}),
        _ => json!({"op": text, "chat_id": "c1"}),
    };
    serde_json::from_value(value).unwrap_or_else(|_| OutboundAction::Send(SendMessage::new("c1", text)))
}

/// A machine, its clock and the contract checks.
#[derive(Debug)]
pub(super) struct GatewayDriver {
    /// The machine under test.
    pub(super) machine: RelayMachine,
    epoch: Instant,
    now: Duration,
    invariants: Invariants,
    /// Request ids whose `outbound` frame was polled: failing them is ambiguous from then on.
    left: BTreeSet<String>,
    /// Every request id handed out, in order.
    pub(super) issued: Vec<RequestId>,
    transcript: Vec<Action>,
}

impl GatewayDriver {
    /// A machine whose socket opened at the epoch; its hellos are drained.
    pub(super) fn new(config: GatewayConfig) -> Self {
        let epoch = epoch();
        let mut driver = Self {
            machine: RelayMachine::new(config, epoch),
            epoch,
            now: Duration::ZERO,
            invariants: Invariants::default(),
            left: BTreeSet::new(),
            issued: Vec::new(),
            transcript: Vec::new(),
        };
        driver.drain();
        driver
    }

    /// A machine whose first hello was answered with a valid descriptor.
    pub(super) fn ready(config: GatewayConfig) -> Self {
        let mut driver = Self::new(config);
        let descriptor = descriptor_for("telegram");
        let line = Frame::Descriptor(crate::wire::DescriptorFrame { descriptor, extra: Default::default() });
        driver.input(line.encode_line().as_bytes(), None);
        assert!(driver.machine.is_ready(), "the harness handshake did not complete");
        driver
    }

    /// Simulated time since the socket opened.
    pub(super) fn now(&self) -> Duration {
        self.now
    }

    fn at(&self, t: Duration) -> Instant {
        self.epoch + t
    }

    /// The machine's next deadline, as time since the epoch.
    pub(super) fn deadline(&self) -> Option<Duration> {
        self.machine.poll_timeout().map(|t| t.saturating_duration_since(self.epoch))
    }

    /// Every action polled so far.
    pub(super) fn transcript(&self) -> &[Action] {
        &self.transcript
    }

    /// Feeds received bytes now: as one message, or in messages of `chunk` bytes.
    pub(super) fn input(&mut self, bytes: &[u8], chunk: Option<usize>) -> Vec<Action> {
        self.input_at(self.now, bytes, chunk)
    }

    /// Feeds received bytes stamped `t` (which may lie in the past: the machine clamps it).
    pub(super) fn input_at(&mut self, t: Duration, bytes: &[u8], chunk: Option<usize>) -> Vec<Action> {
        let at = self.at(t);
        match chunk {
            // An empty message is still a message (it proves the link alive).
            Some(size) if !bytes.is_empty() => {
                bytes.chunks(size.max(1)).for_each(|c| self.machine.handle_input(at, c))
            }
            _ => self.machine.handle_input(at, bytes),
        }
        self.drain()
    }

    /// Submits a request now.
    pub(super) fn request(
        &mut self,
        request: OutboundRequest,
    ) -> (Result<RequestId, RequestError>, Vec<Action>) {
        let result = self.machine.request(self.at(self.now), request);
        if let Ok(id) = result {
            self.invariants.issued(id);
            self.issued.push(id);
        }
        (result, self.drain())
    }

    /// Runs a command at the current time and drains.
    pub(super) fn command<T>(&mut self, f: impl FnOnce(&mut RelayMachine, Instant) -> T) -> (T, Vec<Action>) {
        let at = self.at(self.now);
        let out = f(&mut self.machine, at);
        (out, self.drain())
    }

    /// Moves the clock to `t` (never backwards) and calls `handle_timeout` there.
    pub(super) fn timeout_at(&mut self, t: Duration) -> Vec<Action> {
        self.now = self.now.max(t);
        let at = self.at(self.now);
        self.machine.handle_timeout(at);
        self.invariants.after_timeout(&self.machine, at);
        self.drain()
    }

    /// Moves the clock to `t` without calling the machine.
    pub(super) fn set_now(&mut self, t: Duration) {
        self.now = self.now.max(t);
    }

    /// Polls every action, checking each, then the state they leave behind.
    pub(super) fn drain(&mut self) -> Vec<Action> {
        let mut actions = Vec::new();
        while let Some(action) = self.machine.poll_action() {
            assert!(
                actions.len() < MAX_ACTIONS_PER_STEP,
                "one step produced over {MAX_ACTIONS_PER_STEP} actions"
            );
            self.check(&action);
            actions.push(action);
        }
        let closed = self.machine.is_closed();
        assert_eq!(closed, self.invariants.is_closed(), "is_closed disagrees with the Closed action");
        if closed {
            assert_eq!(self.machine.poll_timeout(), None, "a closed machine still has a deadline");
        } else {
            assert_eq!(
                self.machine.pending_requests(),
                self.invariants.unsettled(),
                "pending_requests disagrees with the requests handed out and not settled"
            );
        }
        self.transcript.extend(actions.iter().cloned());
        actions
    }

    fn check(&mut self, action: &Action) {
        self.invariants.observe(action);
        match action {
            Action::SendFrame(line) => {
                let body = line.strip_suffix('\n').unwrap_or_else(|| panic!("a frame without its newline"));
                let frame = Frame::decode(body.as_bytes(), Some(Direction::ToConnector))
                    .unwrap_or_else(|e| panic!("the gateway sent a frame a connector refuses: {e}"));
                if let Frame::Outbound(outbound) = frame {
                    let id = RequestId::parse(&outbound.request_id);
                    assert!(
                        id.is_some_and(|id| self.issued.contains(&id)),
                        "outbound for an id never handed out"
                    );
                    assert!(self.left.insert(outbound.request_id), "the same request was sent twice");
                }
            }
            Action::Fail { id, error } => assert_eq!(
                error.ambiguous,
                self.left.contains(&id.to_string()),
                "request {id} failed ({error}) with the wrong ambiguity"
            ),
            _ => {}
        }
    }

    /// Ends the connection if it is still open; every request must be settled.
    pub(super) fn finish(&mut self) {
        if !self.machine.is_closed() {
            self.machine.handle_transport_closed(self.at(self.now), None);
            self.drain();
        }
        assert!(self.invariants.is_closed(), "the machine never reported Closed");
        assert_eq!(self.invariants.unsettled(), 0, "requests left unsettled after Closed");
    }
}
