//! The replay's books in the `connector_bytes` harness: what one machine
//! replayed and the gateway acknowledged, and what it asked of the store,
//! checked against the backlog contract (connector docs, point 4): one read
//! at a time, starting after the last entry replayed, within the window;
//! every listed entry replayed, in order; a removal for every acknowledged
//! replay, at once; a failed read reported and retried; and a replay that
//! never waits with nothing under way.

use std::collections::{BTreeSet, VecDeque};

use crate::connector::{BacklogEntry, BacklogKey, ConnectorMachine, StoreRequest};

/// One machine's replay, as the harness saw it.
#[derive(Debug)]
pub(super) struct Replay {
    window: usize,
    /// Replayed on this connection and not acknowledged yet.
    in_flight: BTreeSet<String>,
    /// Acknowledged on this connection.
    acked: BTreeSet<String>,
    /// Acknowledged during the current drain; the removal must follow.
    awaiting_removal: Vec<String>,
    /// The last entry replayed.
    cursor: Option<String>,
    /// A read was asked and not answered yet.
    reading: bool,
    /// While a listing is handed to the machine: the entries it must replay, in order.
    expected: Option<VecDeque<String>>,
    /// A failed read was just handed to the machine: `StoreFailed` must follow.
    failure_answered: bool,
    /// A read failed; the machine asks again when its retry timer fires.
    retry_pending: bool,
}

impl Replay {
    pub(super) fn new(window: usize) -> Self {
        Self {
            window: window.max(1),
            in_flight: BTreeSet::new(),
            acked: BTreeSet::new(),
            awaiting_removal: Vec::new(),
            cursor: None,
            reading: false,
            expected: None,
            failure_answered: false,
            retry_pending: false,
        }
    }

    /// The machine asked the store for `request`.
    pub(super) fn asked(&mut self, request: &StoreRequest, key: Option<&BacklogKey>) {
        match request {
            StoreRequest::Read { key: of, after, limit } => {
                assert_eq!(Some(of), key, "a read of another gateway's backlog");
                assert!(!self.reading, "a second read while one is out");
                assert_eq!(*after, self.cursor, "a read that does not start after the last entry replayed");
                let room = self.window - self.in_flight.len();
                assert!((1..=room).contains(limit), "a read of {limit} entries with room for {room}");
                self.reading = true;
                self.retry_pending = false;
            }
            StoreRequest::Remove { key: of, buffer_ids } => {
                assert_eq!(Some(of), key, "a removal from another gateway's backlog");
                let acked = std::mem::take(&mut self.awaiting_removal);
                assert_eq!(*buffer_ids, acked, "a removal of other entries than the ones just acknowledged");
            }
        }
    }

    /// The store's answer to the read goes to the machine: an open one
    /// replays every listed entry while it is replaying, and reports a failure.
    pub(super) fn answering(&mut self, listing: Option<&Vec<BacklogEntry>>, open: bool, replaying: bool) {
        self.reading = false;
        if !open {
            return;
        }
        match listing {
            Some(entries) if replaying => {
                self.expected = Some(entries.iter().map(|e| e.buffer_id.clone()).collect());
            }
            Some(_) => self.expected = Some(VecDeque::new()),
            None => self.failure_answered = true,
        }
    }

    /// The machine took the answer in, and was drained.
    pub(super) fn answered(&mut self) {
        if let Some(missed) = self.expected.take() {
            assert!(missed.is_empty(), "listed entries {missed:?} were not replayed");
        }
        assert!(!self.failure_answered, "a failed read was not reported");
    }

    /// An inbound or forward frame went out, with this `bufferId`.
    pub(super) fn sent(&mut self, buffer_id: Option<&str>) {
        let (Some(expected), Some(id)) = (self.expected.as_mut(), buffer_id) else {
            // Outside an answer, a bufferId is the application's own (a live push).
            return;
        };
        assert_eq!(
            expected.pop_front().as_deref(),
            Some(id),
            "a replay other than the listing, in its order"
        );
        assert!(self.in_flight.insert(id.to_owned()), "entry {id} replayed twice on one connection");
        self.cursor = Some(id.to_owned());
    }

    /// The gateway acknowledged `buffer_id`; `replayed` is the machine's verdict.
    pub(super) fn acked(&mut self, buffer_id: &str, replayed: bool) {
        let in_flight = self.in_flight.remove(buffer_id);
        assert_eq!(replayed, in_flight, "ack of {buffer_id}: replayed here, as the machine says?");
        if replayed {
            self.acked.insert(buffer_id.to_owned());
            self.awaiting_removal.push(buffer_id.to_owned());
        }
    }

    pub(super) fn read_failed(&mut self) {
        assert!(std::mem::take(&mut self.failure_answered), "StoreFailed without a failed read");
        self.retry_pending = true;
    }

    /// Delivery went live: nothing is in flight, the store holds nothing but
    /// entries acknowledged here (their removals may still wait), and no
    /// frame handed back waits to be appended (the last read was asked after
    /// every one of them).
    pub(super) fn went_live(&self, left: &[String], append_waiting: bool) {
        assert!(self.in_flight.is_empty(), "live with replayed entries unacknowledged");
        assert!(!append_waiting, "live with a frame handed back still waiting to be appended");
        let unacked: Vec<&String> = left.iter().filter(|id| !self.acked.contains(*id)).collect();
        assert!(unacked.is_empty(), "live with entries {unacked:?} left in the backlog");
    }

    /// After a drain of an open machine.
    pub(super) fn check_idle(&self, machine: &ConnectorMachine) {
        assert!(
            self.awaiting_removal.is_empty(),
            "acknowledged {:?}, no removal asked",
            self.awaiting_removal
        );
        assert_eq!(machine.replay_in_flight(), self.in_flight.len(), "replayed entries in flight");
        assert!(self.in_flight.len() <= self.window, "the replay window overflowed");
        assert_eq!(machine.is_reading_backlog(), self.reading, "is_reading_backlog");
        let stalled =
            machine.is_replaying() && self.in_flight.is_empty() && !self.reading && !self.retry_pending;
        assert!(!stalled, "the replay stalled: nothing in flight, no read out, no retry pending");
    }
}
