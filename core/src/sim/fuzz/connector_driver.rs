//! A connector machine driven the way its contract asks, with every action
//! checked as it is polled, plus the application's side: hellos waiting for
//! an answer, requests waiting for a response, and the backlog store with
//! what the machine asked of it (`connector_replay.rs` keeps the replay's books).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use super::MAX_ACTIONS_PER_STEP;
use super::connector_replay::Replay;
use super::connector_store::{FuzzStore, Performed, Queued};
use crate::connector::{Action, ConnectorConfig, ConnectorError, ConnectorMachine, Event, PushOutcome};
use crate::sim::epoch;
use crate::wire::{ActionResult, Direction, Frame};

/// Store operations in one step after which the traffic counts as endless.
const MAX_STORE_OPS: usize = 10_000;

/// A connector machine, its clock, its application state and the checks.
#[derive(Debug)]
pub(super) struct ConnectorDriver {
    /// The machine under test.
    pub(super) machine: ConnectorMachine,
    config: ConnectorConfig,
    header: Option<String>,
    now_unix: u64,
    epoch: Instant,
    now: Duration,
    chunk: Option<usize>,
    store: FuzzStore,
    replay: Replay,
    closed: bool,
    unanswered_hellos: usize,
    handshake_done: bool,
    /// Request ids delivered, in order, and those still waiting for a response.
    delivered: Vec<String>,
    waiting: BTreeSet<String>,
    transcript: Vec<Action>,
}

impl ConnectorDriver {
    /// A machine for an upgrade accepted at the epoch; inputs are fed whole,
    /// or in messages of `chunk` bytes.
    pub(super) fn new(
        config: ConnectorConfig,
        header: Option<&str>,
        now_unix: u64,
        chunk: Option<usize>,
    ) -> Self {
        let epoch = epoch();
        let replay = Replay::new(config.replay_window);
        let mut driver = Self {
            machine: ConnectorMachine::new(config.clone(), header, epoch, now_unix),
            config,
            header: header.map(str::to_owned),
            now_unix,
            epoch,
            now: Duration::ZERO,
            chunk,
            store: FuzzStore::default(),
            replay,
            closed: false,
            unanswered_hellos: 0,
            handshake_done: false,
            delivered: Vec::new(),
            waiting: BTreeSet::new(),
            transcript: Vec::new(),
        };
        driver.drain();
        driver
    }

    /// The gateway reconnects: the old connection ends, a new machine
    /// starts now with the same upgrade, and the backlog store carries over.
    pub(super) fn reconnect(&mut self) {
        self.finish();
        let at = self.epoch + self.now;
        self.machine = ConnectorMachine::new(self.config.clone(), self.header.as_deref(), at, self.now_unix);
        self.replay = Replay::new(self.config.replay_window);
        self.closed = false;
        self.unanswered_hellos = 0;
        self.handshake_done = false;
        self.delivered.clear();
        self.waiting.clear();
        self.drain();
    }

    /// Simulated time since the upgrade.
    pub(super) fn now(&self) -> Duration {
        self.now
    }

    /// Every action polled so far.
    pub(super) fn transcript(&self) -> &[Action] {
        &self.transcript
    }

    pub(super) fn unanswered_hellos(&self) -> usize {
        self.unanswered_hellos
    }

    /// The application answered the oldest hello: the handshake is complete.
    pub(super) fn hello_answered(&mut self) {
        self.unanswered_hellos -= 1;
        self.handshake_done = true;
    }

    /// A request id delivered earlier (waiting or already answered), by position.
    pub(super) fn delivered_request(&self, index: u8) -> Option<String> {
        (!self.delivered.is_empty())
            .then(|| self.delivered[usize::from(index) % self.delivered.len()].clone())
    }

    pub(super) fn is_waiting(&self, request_id: &str) -> bool {
        self.waiting.contains(request_id)
    }

    /// The application responds to `request_id`.
    pub(super) fn respond(&mut self, request_id: &str, result: ActionResult) -> Result<(), ConnectorError> {
        let outcome = self.machine.respond(self.epoch + self.now, request_id, result);
        if outcome.is_ok() {
            self.waiting.remove(request_id);
        }
        self.drain();
        outcome
    }

    /// Bytes received, stamped `t` (the machine clamps a past `t`).
    pub(super) fn input(&mut self, t: Duration, bytes: &[u8]) {
        let at = self.epoch + t;
        match self.chunk {
            // An empty message is still a message (it proves the link alive).
            Some(size) if !bytes.is_empty() => {
                bytes.chunks(size.max(1)).for_each(|c| self.machine.handle_input(at, c))
            }
            _ => self.machine.handle_input(at, bytes),
        }
        self.drain();
    }

    /// Runs a command now and drains.
    pub(super) fn command<T>(&mut self, f: impl FnOnce(&mut ConnectorMachine, Instant) -> T) -> T {
        let out = f(&mut self.machine, self.epoch + self.now);
        self.drain();
        out
    }

    /// Calls `handle_timeout` at `t`; the next deadline must lie after it.
    pub(super) fn timeout_at(&mut self, t: Duration) {
        self.now = self.now.max(t);
        let at = self.epoch + self.now;
        self.machine.handle_timeout(at);
        if let Some(next) = self.machine.poll_timeout() {
            assert!(next > at, "deadline {next:?} not after handle_timeout({at:?})");
        }
        self.drain();
    }

    /// Advances by `step`, calling `handle_timeout` at every deadline on the way.
    pub(super) fn tick(&mut self, step: Duration) {
        let target = self.now + step;
        while let Some(t) = self.machine.poll_timeout().map(|t| t - self.epoch).filter(|t| *t <= target) {
            self.timeout_at(t);
        }
        self.now = target;
    }

    /// Runs a push command now and checks its outcome; a frame handed back
    /// goes to the store before the machine is drained, so the append comes
    /// ahead of any store request the push made it ask.
    pub(super) fn push(
        &mut self,
        f: impl FnOnce(&mut ConnectorMachine, Instant) -> Result<PushOutcome, ConnectorError>,
    ) {
        let (closed, live) = (self.machine.is_closed(), self.machine.is_live());
        match f(&mut self.machine, self.epoch + self.now) {
            Err(e) => {
                let expected =
                    if closed { ConnectorError::Closed } else { ConnectorError::HandshakeIncomplete };
                assert!(closed || !self.handshake_done, "a push failed after the handshake: {e}");
                assert_eq!(e, expected, "why a push failed");
            }
            Ok(outcome) => {
                assert!(!closed && self.handshake_done, "a push succeeded without a handshake: {outcome:?}");
                match outcome {
                    PushOutcome::Sent => assert!(live, "a push went out while delivery was not live"),
                    PushOutcome::AppendToBacklog(frame) => {
                        assert!(!live, "a push went to the backlog while delivery was live");
                        let key = self.machine.backlog_key().cloned();
                        let key = key.unwrap_or_else(|| panic!("a frame handed back with no backlog key"));
                        self.store.submit(Queued::Append(key, frame));
                    }
                    PushOutcome::Dropped => panic!("an inbound or forward push was dropped"),
                }
            }
        }
        self.drain();
    }

    /// The script's `b`: by `mode % 4`, the store performs its next
    /// operation (0), fails it (1), stalls or resumes (2: resuming performs
    /// everything waiting), or fails the next `count % 4 + 1` operations (3).
    pub(super) fn store_control(&mut self, mode: u8, count: u8) {
        match mode % 4 {
            0 | 1 => self.perform_next(mode % 4 == 1),
            2 => self.store.stalled = !self.store.stalled,
            _ => self.store.failures += u32::from(count % 4) + 1,
        }
        self.serve_store();
    }

    /// Unless the store is stalled, performs everything waiting, and what
    /// the answers make the machine ask (driving contract 4).
    pub(super) fn serve_store(&mut self) {
        if !self.store.stalled {
            self.serve_all();
        }
    }

    fn serve_all(&mut self) {
        for _ in 0..MAX_STORE_OPS {
            if self.store.is_idle() {
                return;
            }
            self.perform_next(false);
        }
        panic!("the store still has work after {MAX_STORE_OPS} operations in one step");
    }

    /// The store performs its oldest operation; a read's answer goes to the
    /// machine, and must be replayed exactly as listed.
    fn perform_next(&mut self, fail: bool) {
        let (open, replaying) = (!self.closed, self.machine.is_replaying());
        match self.store.perform_next(fail) {
            None | Some(Performed::Append) => {}
            Some(Performed::Read(listing)) => {
                self.replay.answering(listing.as_ref().ok(), open, replaying);
                self.machine.handle_backlog_read(self.epoch + self.now, listing);
                self.drain();
                self.replay.answered();
            }
            Some(Performed::Removed { key, buffer_ids, failed }) => {
                let left = self.store.contents.buffer_ids(&key);
                let gone = buffer_ids.iter().all(|id| !left.contains(id));
                assert!(gone || failed, "entries {buffer_ids:?} are still in the store after their removal");
            }
        }
    }

    /// Polls every action, checking each, then the state they leave behind.
    fn drain(&mut self) {
        let mut count = 0;
        while let Some(action) = self.machine.poll_action() {
            count += 1;
            assert!(count <= MAX_ACTIONS_PER_STEP, "one step produced over {MAX_ACTIONS_PER_STEP} actions");
            self.check(&action);
            self.transcript.push(action);
        }
        assert_eq!(self.machine.is_closed(), self.closed, "is_closed disagrees with the Closed action");
        if self.closed {
            assert_eq!(self.machine.poll_timeout(), None, "a closed machine still has a deadline");
            self.waiting.clear();
        } else {
            assert_eq!(
                self.machine.pending_requests(),
                self.waiting.len(),
                "requests waiting for a response"
            );
            self.replay.check_idle(&self.machine);
        }
    }

    fn check(&mut self, action: &Action) {
        assert!(!self.closed, "action after Closed: {action:?}");
        match action {
            Action::Closed(_) => self.closed = true,
            Action::SendFrame(line) => {
                let body = line.strip_suffix('\n').unwrap_or_else(|| panic!("a frame without its newline"));
                match Frame::decode(body.as_bytes(), Some(Direction::ToGateway)) {
                    Err(e) => panic!("the connector sent a frame a gateway refuses: {e}"),
                    Ok(Frame::Inbound(f)) => self.replay.sent(f.buffer_id.as_deref()),
                    Ok(Frame::PassthroughForward(f)) => self.replay.sent(f.buffer_id.as_deref()),
                    Ok(_) => {}
                }
            }
            Action::Deliver(Event::Hello { .. }) => self.unanswered_hellos += 1,
            Action::Deliver(Event::InboundAck { buffer_id, replayed }) => {
                self.replay.acked(buffer_id, *replayed)
            }
            Action::Deliver(Event::StoreFailed(_)) => self.replay.read_failed(),
            Action::Deliver(Event::Live) => {
                let left = self.machine.backlog_key().map(|key| self.store.contents.buffer_ids(key));
                self.replay.went_live(&left.unwrap_or_default(), self.store.has_append_waiting());
            }
            Action::Store(request) => {
                let key = self.machine.backlog_key();
                self.replay.asked(request, key);
                self.store.submit(Queued::Request(request.clone()));
            }
            Action::Deliver(Event::Request { request_id, identity, .. }) => {
                assert!(
                    self.machine.identities().contains(identity),
                    "a request for an unannounced identity"
                );
                assert!(self.waiting.insert(request_id.clone()), "request {request_id:?} delivered twice");
                self.delivered.push(request_id.clone());
            }
            _ => {}
        }
    }

    /// Ends the connection if it is still open, then lets the store perform
    /// everything waiting: every read gets its answer (a closed machine
    /// ignores it), every removal is performed.
    pub(super) fn finish(&mut self) {
        if !self.closed {
            self.machine.handle_transport_closed(self.epoch + self.now, None);
            self.drain();
        }
        assert!(self.closed, "the machine never reported Closed");
        self.serve_all();
        assert!(!self.machine.is_reading_backlog(), "a closed machine still reads the backlog");
    }
}
