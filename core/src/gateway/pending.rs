//! The table of requests not yet settled: held ones (waiting for the
//! handshake) and sent ones (waiting for their result), with a deadline index
//! so expiry happens in a deterministic order.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Instant;

use super::{OutboundRequest, RequestId};

#[derive(Debug, Clone)]
struct Entry {
    seq: u64,
    deadline: Instant,
    /// The frame left the machine: a failure from now on is ambiguous.
    sent: bool,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct PendingTable {
    entries: BTreeMap<RequestId, Entry>,
    deadlines: BTreeSet<(Instant, u64, RequestId)>,
    /// Requests submitted before the handshake, in submission order.
    held: VecDeque<(RequestId, OutboundRequest)>,
    next_seq: u64,
}

impl PendingTable {
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn insert(&mut self, id: RequestId, deadline: Instant, sent: bool) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.entries.insert(id, Entry { seq, deadline, sent });
        self.deadlines.insert((deadline, seq, id));
    }

    pub(crate) fn insert_sent(&mut self, id: RequestId, deadline: Instant) {
        self.insert(id, deadline, true);
    }

    pub(crate) fn insert_held(&mut self, id: RequestId, request: OutboundRequest, deadline: Instant) {
        self.insert(id, deadline, false);
        self.held.push_back((id, request));
    }

    /// Takes the held requests, oldest first; they stay pending until
    /// [`mark_sent`](Self::mark_sent) or [`remove`](Self::remove).
    pub(crate) fn take_held(&mut self) -> VecDeque<(RequestId, OutboundRequest)> {
        std::mem::take(&mut self.held)
    }

    pub(crate) fn mark_sent(&mut self, id: RequestId) {
        if let Some(entry) = self.entries.get_mut(&id) {
            entry.sent = true;
        }
    }

    pub(crate) fn is_sent(&self, id: RequestId) -> bool {
        self.entries.get(&id).is_some_and(|e| e.sent)
    }

    /// Removes a request; returns whether it had been sent, or `None` if unknown.
    pub(crate) fn remove(&mut self, id: RequestId) -> Option<bool> {
        let entry = self.entries.remove(&id)?;
        self.deadlines.remove(&(entry.deadline, entry.seq, id));
        if !entry.sent {
            self.held.retain(|(held, _)| *held != id);
        }
        Some(entry.sent)
    }

    pub(crate) fn earliest_deadline(&self) -> Option<Instant> {
        self.deadlines.first().map(|(at, _, _)| *at)
    }

    /// Removes every request whose deadline is at or before `now`, earliest first.
    pub(crate) fn expire(&mut self, now: Instant) -> Vec<(RequestId, bool)> {
        let mut expired = Vec::new();
        while let Some(&(at, _, id)) = self.deadlines.first() {
            if at > now {
                break;
            }
            if let Some(sent) = self.remove(id) {
                expired.push((id, sent));
            }
        }
        expired
    }

    /// Removes every request, in submission order.
    pub(crate) fn drain(&mut self) -> Vec<(RequestId, bool)> {
        let mut all: Vec<(u64, RequestId, bool)> =
            std::mem::take(&mut self.entries).into_iter().map(|(id, e)| (e.seq, id, e.sent)).collect();
        all.sort_unstable();
        self.deadlines.clear();
        self.held.clear();
        all.into_iter().map(|(_, id, sent)| (id, sent)).collect()
    }
}
