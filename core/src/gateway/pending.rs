//! The table of requests not yet settled: held ones (waiting for the
//! handshake) and sent ones (waiting for their result), with a deadline index
//! so expiry happens in a deterministic order.

use std::collections::VecDeque;
use std::time::Instant;

use super::id_table::IdTable;
use super::{OutboundRequest, RequestId};

#[derive(Debug, Clone)]
struct Entry {
    seq: u64,
    /// The frame left the machine: a failure from now on is ambiguous.
    sent: bool,
}

/// Requests by id, plus their deadlines in submission order. Every request
/// gets `now + request_timeout` with a clock that never goes back, so
/// submission order is deadline order and a queue replaces a sorted index;
/// removed requests leave stale queue entries that are skipped (and
/// compacted away once they outnumber the live ones).
#[derive(Debug, Clone, Default)]
pub(crate) struct PendingTable {
    entries: IdTable<Entry>,
    deadlines: VecDeque<(Instant, u64, RequestId)>,
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
        self.entries.insert(id, Entry { seq, sent });
        if self.deadlines.back().is_none_or(|(last, _, _)| *last <= deadline) {
            self.deadlines.push_back((deadline, seq, id));
        } else {
            // Not reached by the machine (deadlines grow); kept correct anyway.
            let at = self.deadlines.partition_point(|e| *e <= (deadline, seq, id));
            self.deadlines.insert(at, (deadline, seq, id));
        }
    }

    fn is_live(&self, (_, seq, id): &(Instant, u64, RequestId)) -> bool {
        self.entries.get(*id).is_some_and(|e| e.seq == *seq)
    }

    /// Drops stale deadlines at the front, and compacts when most are stale.
    fn tidy(&mut self) {
        while self.deadlines.front().is_some_and(|d| !self.is_live(d)) {
            self.deadlines.pop_front();
        }
        if self.deadlines.len() > 2 * self.entries.len() + 64 {
            let entries = &self.entries;
            self.deadlines.retain(|(_, seq, id)| entries.get(*id).is_some_and(|e| e.seq == *seq));
        }
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
        if let Some(entry) = self.entries.get_mut(id) {
            entry.sent = true;
        }
    }

    /// Removes a request if it was sent; returns whether it was.
    pub(crate) fn remove_sent(&mut self, id: RequestId) -> bool {
        if self.entries.remove_if(id, |e| e.sent).is_none() {
            return false;
        }
        self.tidy();
        true
    }

    /// Removes a request; returns whether it had been sent, or `None` if unknown.
    pub(crate) fn remove(&mut self, id: RequestId) -> Option<bool> {
        let entry = self.entries.remove(id)?;
        if !entry.sent {
            self.held.retain(|(held, _)| *held != id);
        }
        self.tidy();
        Some(entry.sent)
    }

    pub(crate) fn earliest_deadline(&self) -> Option<Instant> {
        self.deadlines.front().map(|(at, _, _)| *at)
    }

    /// Removes every request whose deadline is at or before `now`, earliest first.
    pub(crate) fn expire(&mut self, now: Instant) -> Vec<(RequestId, bool)> {
        let mut expired = Vec::new();
        while let Some(&(at, _, id)) = self.deadlines.front() {
            if at > now {
                break;
            }
            // The front is always live (see `tidy`).
            if let Some(sent) = self.remove(id) {
                expired.push((id, sent));
            } else {
                self.deadlines.pop_front();
            }
        }
        expired
    }

    /// Removes every request, in submission order.
    pub(crate) fn drain(&mut self) -> Vec<(RequestId, bool)> {
        let mut all: Vec<(u64, RequestId, bool)> =
            self.entries.take_all().into_iter().map(|(id, e)| (e.seq, id, e.sent)).collect();
        all.sort_unstable();
        self.deadlines.clear();
        self.held.clear();
        all.into_iter().map(|(_, id, sent)| (id, sent)).collect()
    }
}
