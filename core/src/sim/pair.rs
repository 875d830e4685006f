//! `Pair`: a gateway machine and a scripted connector joined by an in-memory
//! link with latency, driven on simulated time.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::{Chunking, Invariants, ScriptedConnector};
use crate::gateway::{
    Action, CloseFrame, GatewayConfig, OutboundRequest, RelayMachine, RequestError, RequestId,
};

/// One action of the gateway, with the simulated time it was polled at.
#[derive(Debug, Clone, PartialEq)]
pub struct TranscriptEntry {
    /// Time since the pair started.
    pub at: Duration,
    /// The action.
    pub action: Action,
}

#[derive(Debug)]
enum ToGateway {
    Data(Vec<u8>),
    Pong,
    Close(Option<CloseFrame>),
}

/// Both ends of one connection on simulated time.
#[derive(Debug)]
pub struct Pair {
    /// The machine under test.
    pub gateway: RelayMachine,
    /// Its peer.
    pub peer: ScriptedConnector,
    /// Simulated now.
    pub now: Instant,
    epoch: Instant,
    /// One-way latency of the link.
    pub latency: Duration,
    chunking: Chunking,
    to_peer: VecDeque<(Instant, Vec<u8>)>,
    to_gateway: VecDeque<(Instant, ToGateway)>,
    transcript: Vec<TranscriptEntry>,
    invariants: Invariants,
}

/// Steps after which a pair that still has work is declared livelocked.
const STEP_LIMIT: usize = 1_000_000;

impl Pair {
    /// A pair whose socket opens now; nothing is delivered until the pair is driven.
    pub fn new(config: GatewayConfig, peer: ScriptedConnector, chunking: Chunking) -> Self {
        let epoch = super::epoch();
        let mut pair = Self {
            gateway: RelayMachine::new(config, epoch),
            peer,
            now: epoch,
            epoch,
            latency: Duration::from_millis(10),
            chunking,
            to_peer: VecDeque::new(),
            to_gateway: VecDeque::new(),
            transcript: Vec::new(),
            invariants: Invariants::default(),
        };
        pair.flush();
        pair
    }

    /// A pair with the default scripted connector, driven until the handshake completed.
    pub fn connected(config: GatewayConfig, chunking: Chunking) -> Self {
        let mut pair = Self::new(config, ScriptedConnector::new(), chunking);
        pair.settle();
        assert!(pair.gateway.is_ready(), "handshake did not complete");
        pair
    }

    /// Time since the pair started.
    pub fn elapsed(&self) -> Duration {
        self.now - self.epoch
    }

    /// Submits a request now.
    pub fn request(&mut self, request: impl Into<OutboundRequest>) -> Result<RequestId, RequestError> {
        let result = self.gateway.request(self.now, request);
        if let Ok(id) = result {
            self.invariants.issued(id);
        }
        self.flush();
        result
    }

    /// Runs a command on the machine at the current time, then collects its actions.
    pub fn command<T>(&mut self, f: impl FnOnce(&mut RelayMachine, Instant) -> T) -> T {
        let out = f(&mut self.gateway, self.now);
        self.flush();
        out
    }

    /// Sends what the peer queued.
    pub fn flush_peer(&mut self) {
        self.flush();
    }

    /// The transport drops now; the gateway hears of it at once, and nothing in flight arrives.
    pub fn drop_connection(&mut self, close: Option<CloseFrame>) {
        self.to_peer.clear();
        self.to_gateway.clear();
        schedule(&mut self.to_gateway, self.now, ToGateway::Close(close));
        self.settle();
    }

    /// Delivers everything in flight (moving time to each arrival, firing
    /// deadlines that fall before it), until both directions are empty.
    pub fn settle(&mut self) {
        for _ in 0..STEP_LIMIT {
            self.flush();
            if self.to_peer.is_empty() && self.to_gateway.is_empty() {
                return;
            }
            self.step();
        }
        panic!("pair never settled (livelock?) at +{:?}", self.elapsed());
    }

    /// Runs everything due within `d` (messages and deadlines), then moves the clock to now + `d`.
    pub fn advance(&mut self, d: Duration) {
        let limit = self.now + d;
        for _ in 0..STEP_LIMIT {
            self.flush();
            match self.next_event() {
                Some(at) if at <= limit => self.step(),
                _ => {
                    self.now = limit;
                    return;
                }
            }
        }
        panic!("pair never went idle (livelock?) at +{:?}", self.elapsed());
    }

    /// Takes the gateway's transcript so far.
    pub fn take_transcript(&mut self) -> Vec<TranscriptEntry> {
        std::mem::take(&mut self.transcript)
    }

    /// Takes the gateway's actions so far, without times.
    pub fn take_actions(&mut self) -> Vec<Action> {
        self.take_transcript().into_iter().map(|e| e.action).collect()
    }

    /// The contract checker (to ask what it saw).
    pub fn invariants(&self) -> &Invariants {
        &self.invariants
    }

    fn next_event(&self) -> Option<Instant> {
        [self.to_peer.front().map(|m| m.0), self.to_gateway.front().map(|m| m.0), self.gateway.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
    }

    fn step(&mut self) {
        let Some(at) = self.next_event() else { return };
        self.now = self.now.max(at);
        while self.to_peer.front().is_some_and(|m| m.0 <= self.now) {
            let (_, bytes) = self.to_peer.pop_front().expect("checked non-empty");
            self.peer.handle_input(&bytes);
        }
        self.deliver_to_gateway();
        if self.gateway.poll_timeout().is_some_and(|t| t <= self.now) {
            self.gateway.handle_timeout(self.now);
            self.invariants.after_timeout(&self.gateway, self.now);
        }
        self.flush();
    }

    /// Feeds every message due now; consecutive data messages are re-chunked together.
    fn deliver_to_gateway(&mut self) {
        let mut data = Vec::new();
        while self.to_gateway.front().is_some_and(|m| m.0 <= self.now) {
            let (_, message) = self.to_gateway.pop_front().expect("checked non-empty");
            match message {
                ToGateway::Data(bytes) => data.push(bytes),
                other => {
                    self.feed(std::mem::take(&mut data));
                    match other {
                        ToGateway::Pong => self.gateway.handle_keepalive(self.now),
                        ToGateway::Close(close) => self.gateway.handle_transport_closed(self.now, close),
                        ToGateway::Data(_) => unreachable!("handled above"),
                    }
                    self.flush();
                }
            }
        }
        self.feed(data);
    }

    fn feed(&mut self, messages: Vec<Vec<u8>>) {
        if messages.is_empty() {
            return;
        }
        for chunk in self.chunking.apply(messages) {
            self.gateway.handle_input(self.now, &chunk);
            self.flush();
        }
    }

    /// Drains the machine into the transcript and the links, checking the contract.
    fn flush(&mut self) {
        while let Some(action) = self.gateway.poll_action() {
            self.invariants.observe(&action);
            match &action {
                Action::SendFrame(line) => {
                    schedule(&mut self.to_peer, self.now + self.latency, line.clone().into_bytes())
                }
                Action::SendPing => {
                    schedule(&mut self.to_gateway, self.now + 2 * self.latency, ToGateway::Pong)
                }
                _ => {}
            }
            self.transcript.push(TranscriptEntry { at: self.now - self.epoch, action });
        }
        for message in self.peer.take_outbox() {
            schedule(&mut self.to_gateway, self.now + self.latency, ToGateway::Data(message));
        }
    }
}

/// Queues `message` for `at`, behind everything due at or before then (links keep order).
fn schedule<T>(queue: &mut VecDeque<(Instant, T)>, at: Instant, message: T) {
    let position = queue.partition_point(|(due, _)| *due <= at);
    queue.insert(position, (at, message));
}
