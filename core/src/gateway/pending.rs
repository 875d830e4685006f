//! The table of requests not yet settled: held ones (waiting for the
//! handshake) and sent ones (waiting for their result), with a deadline index
//! so expiry happens in a deterministic order.

use std::collections::{BTreeSet, VecDeque};
use std::num::NonZeroU64;
use std::time::Instant;

use super::id_table::IdTable;
use super::{OutboundRequest, RequestId};

/// A request's submission number and whether its frame left the machine (a
/// failure from then on is ambiguous), in one word that is never zero. With
/// the id that makes a table slot of 24 bytes, `None` included, and the
/// fewer pages a run of lookups touches, the fewer cache and TLB misses.
#[derive(Debug, Clone, Copy)]
struct Entry(NonZeroU64);

impl Entry {
    /// Submission numbers count requests and never reach 2^63.
    fn new(seq: u64, sent: bool) -> Self {
        Self(NonZeroU64::MIN.saturating_add((seq << 1) | u64::from(sent)))
    }

    fn seq(self) -> u64 {
        (self.0.get() - 1) >> 1
    }

    fn sent(self) -> bool {
        (self.0.get() - 1) & 1 == 1
    }
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
    /// Seqs of removed requests still queued behind a live front. The front
    /// of `deadlines` is always live; this set says whether the next one is
    /// without a lookup in `entries`. Results usually come back in
    /// order, removing the front itself, so the set stays small.
    removed: BTreeSet<u64>,
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
        if let Some(replaced) = self.entries.get(id).map(|e| e.seq()) {
            // Not reached by the machine (ids do not repeat); kept correct anyway.
            self.note_removed(replaced);
        }
        self.entries.insert(id, Entry::new(seq, sent));
        if self.deadlines.back().is_none_or(|(last, _, _)| *last <= deadline) {
            self.deadlines.push_back((deadline, seq, id));
        } else {
            // Not reached by the machine (deadlines grow); kept correct anyway.
            let at = self.deadlines.partition_point(|e| *e <= (deadline, seq, id));
            self.deadlines.insert(at, (deadline, seq, id));
        }
    }

    /// The request with `seq` left the table: drop its queued deadline now
    /// if it is the front (and any removed ones behind it), else remember
    /// it; compact once removed ones outnumber the live ones.
    fn note_removed(&mut self, seq: u64) {
        if self.deadlines.front().is_some_and(|(_, front, _)| *front == seq) {
            self.deadlines.pop_front();
            while let Some(&(_, front, _)) = self.deadlines.front() {
                if !self.removed.remove(&front) {
                    break;
                }
                self.deadlines.pop_front();
            }
        } else {
            self.removed.insert(seq);
        }
        if self.removed.len() > self.entries.len() + 64 {
            let removed = std::mem::take(&mut self.removed);
            self.deadlines.retain(|(_, seq, _)| !removed.contains(seq));
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
            *entry = Entry::new(entry.seq(), true);
        }
    }

    /// Removes a request if it was sent; returns whether it was.
    pub(crate) fn remove_sent(&mut self, id: RequestId) -> bool {
        let Some(entry) = self.entries.remove_if(id, |e| e.sent()) else { return false };
        self.note_removed(entry.seq());
        true
    }

    /// Removes a request; returns whether it had been sent, or `None` if unknown.
    pub(crate) fn remove(&mut self, id: RequestId) -> Option<bool> {
        let entry = self.entries.remove(id)?;
        if !entry.sent() {
            self.held.retain(|(held, _)| *held != id);
        }
        self.note_removed(entry.seq());
        Some(entry.sent())
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
            // The front is always live (see `note_removed`).
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
            self.entries.take_all().into_iter().map(|(id, e)| (e.seq(), id, e.sent())).collect();
        all.sort_unstable();
        self.deadlines.clear();
        self.removed.clear();
        self.held.clear();
        all.into_iter().map(|(_, id, sent)| (id, sent)).collect()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use quickcheck::quickcheck;

    use super::*;

    /// With many requests in flight the table's size is what its lookups
    /// pay in cache and TLB misses.
    #[test]
    fn a_slot_of_the_table_is_24_bytes() {
        assert_eq!(IdTable::<Entry>::SLOT_BYTES, 24);
    }

    #[test]
    fn an_entry_keeps_its_seq_and_flag() {
        for seq in [0, 1, 2, 12_345, (1 << 62) - 1] {
            for sent in [false, true] {
                let entry = Entry::new(seq, sent);
                assert_eq!((entry.seq(), entry.sent()), (seq, sent));
            }
        }
    }

    quickcheck! {
        /// Whatever order requests leave in, expiry returns exactly the ones
        /// still pending whose deadline passed, oldest first, and the queue
        /// of deadlines stays bounded by the live requests.
        fn expiry_matches_a_model(ops: Vec<(u8, u8)>) -> bool {
            // Any instant will do: the table only compares them.
            #[allow(clippy::disallowed_methods)]
            let start = Instant::now();
            let mut table = PendingTable::default();
            let mut model: BTreeMap<u64, RequestId> = BTreeMap::new();
            let mut next = 0u64;
            for (op, arg) in ops {
                match op % 3 {
                    0 => {
                        let id = RequestId(u128::from(next) * 0x9e37_79b9_7f4a_7c15);
                        table.insert_sent(id, start + Duration::from_secs(next));
                        model.insert(next, id);
                        next += 1;
                    }
                    1 if !model.is_empty() => {
                        let (&seq, &id) = model.iter().nth(usize::from(arg) % model.len()).unwrap();
                        model.remove(&seq);
                        if !table.remove_sent(id) {
                            return false;
                        }
                    }
                    _ => {
                        let now = start + Duration::from_secs(u64::from(arg) % (next + 1));
                        let due: Vec<u64> = model.range(..).filter(|(s, _)| start + Duration::from_secs(**s) <= now).map(|(s, _)| *s).collect();
                        let want: Vec<(RequestId, bool)> = due.iter().map(|s| (model.remove(s).unwrap(), true)).collect();
                        if table.expire(now) != want {
                            return false;
                        }
                    }
                }
                if table.len() != model.len() || table.deadlines.len() > 2 * model.len() + 66 {
                    return false;
                }
                let earliest = model.keys().next().map(|s| start + Duration::from_secs(*s));
                if table.earliest_deadline() != earliest {
                    return false;
                }
            }
            true
        }
    }
}
