//! [`IdTable`]: a map from request ids to values with constant-time lookups.
//!
//! The pending table is looked up once per result and updated once per
//! request; with a `BTreeMap` keyed by random 128-bit ids every level of the
//! tree is a cache miss once many requests are in flight, and the
//! request/result cycle slowed by almost half from 1 to 100,000 in flight.
//! The low bits of an id index the table, with no hashing and no `HashMap`
//! with its per-process random state (the core must stay deterministic):
//! the ids this crate makes count up there ([`IdGenerator`]), so requests
//! sent one after another sit side by side and a run of results walks the
//! table like a ring instead of jumping at random past the TLB's reach.
//!
//! Open addressing with linear probing in Robin Hood order: along a probe
//! run, entries sit in the order of their home slots. A run of counted ids
//! is one long cluster, each entry at its home; Robin Hood order lets a
//! lookup stop at the first entry whose home lies past the id's, and a
//! removal stop shifting at the first entry already at home, where plain
//! linear probing would walk the whole cluster. The table is never iterated
//! on a path that produces actions.
//!
//! [`IdGenerator`]: super::ids::IdGenerator

use super::RequestId;

/// The smallest number of slots; always a power of two.
const MIN_SLOTS: usize = 16;

#[derive(Debug, Clone)]
pub(crate) struct IdTable<V> {
    slots: Vec<Option<(Key, V)>>,
    len: usize,
}

/// An id as two words. A slot aligned to 8 bytes rather than `u128`'s 16 is
/// half the size (24 bytes for the pending table's entries, not 48).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Key([u64; 2]);

impl From<RequestId> for Key {
    fn from(id: RequestId) -> Self {
        // Truncations on purpose: the low and the high word.
        Self([id.0 as u64, (id.0 >> 64) as u64])
    }
}

impl From<Key> for RequestId {
    fn from(key: Key) -> Self {
        Self(u128::from(key.0[0]) | u128::from(key.0[1]) << 64)
    }
}

impl<V> Default for IdTable<V> {
    fn default() -> Self {
        Self { slots: Vec::new(), len: 0 }
    }
}

impl<V> IdTable<V> {
    /// The size of one slot (at most twice the entries are slots).
    #[cfg(test)]
    pub(crate) const SLOT_BYTES: usize = std::mem::size_of::<Option<(Key, V)>>();

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn mask(&self) -> usize {
        self.slots.len() - 1
    }

    /// The home slot of `key`: its low bits. Ids a peer invents can only
    /// make their own lookups probe longer; they are never stored.
    fn home(&self, key: Key) -> usize {
        (key.0[0] as usize) & self.mask()
    }

    /// How far slot `i` lies past `key`'s home.
    fn distance(&self, key: Key, i: usize) -> usize {
        i.wrapping_sub(self.home(key)) & self.mask()
    }

    /// The slot holding `id`, if any.
    fn find(&self, id: RequestId) -> Option<usize> {
        if self.slots.is_empty() {
            return None;
        }
        let id = Key::from(id);
        let mut i = self.home(id);
        let mut distance = 0;
        loop {
            match &self.slots[i] {
                Some((key, _)) if *key == id => return Some(i),
                // An entry nearer its home than `id` would be: in Robin
                // Hood order `id` would sit before it.
                Some((key, _)) if self.distance(*key, i) >= distance => {
                    i = (i + 1) & self.mask();
                    distance += 1;
                }
                _ => return None,
            }
        }
    }

    pub(crate) fn get(&self, id: RequestId) -> Option<&V> {
        self.find(id).and_then(|i| self.slots[i].as_ref()).map(|(_, v)| v)
    }

    pub(crate) fn get_mut(&mut self, id: RequestId) -> Option<&mut V> {
        let i = self.find(id)?;
        self.slots[i].as_mut().map(|(_, v)| v)
    }

    /// Inserts or replaces the value of `id`.
    pub(crate) fn insert(&mut self, id: RequestId, value: V) {
        if let Some(i) = self.find(id) {
            self.slots[i] = Some((id.into(), value));
            return;
        }
        // At most half full: probe sequences stay short.
        if (self.len + 1) * 2 > self.slots.len() {
            self.resize((self.slots.len() * 2).max(MIN_SLOTS));
        }
        self.place(id.into(), value);
        self.len += 1;
    }

    /// Puts an entry that is not in the table into its Robin Hood place,
    /// displacing entries nearer their homes one slot on.
    fn place(&mut self, key: Key, value: V) {
        let mut carried = (key, value);
        let mut i = self.home(key);
        let mut distance = 0;
        loop {
            let Some((theirs, _)) = &self.slots[i] else {
                self.slots[i] = Some(carried);
                return;
            };
            let theirs = self.distance(*theirs, i);
            if theirs < distance {
                if let Some(entry) = &mut self.slots[i] {
                    std::mem::swap(entry, &mut carried);
                }
                distance = theirs;
            }
            i = (i + 1) & self.mask();
            distance += 1;
        }
    }

    pub(crate) fn remove(&mut self, id: RequestId) -> Option<V> {
        self.remove_if(id, |_| true)
    }

    /// Removes `id` if its value passes `check`.
    pub(crate) fn remove_if(&mut self, id: RequestId, check: impl FnOnce(&V) -> bool) -> Option<V> {
        let mut hole = self.find(id)?;
        if !self.slots[hole].as_ref().is_some_and(|(_, v)| check(v)) {
            return None;
        }
        let (_, value) = self.slots[hole].take().expect("found");
        self.len -= 1;
        // Backward-shift deletion: the rest of the run moves one slot back,
        // up to the first entry at its home (or a gap), which keeps the
        // order and leaves no gap a lookup could stop at early.
        loop {
            let next = (hole + 1) & self.mask();
            match &self.slots[next] {
                Some((key, _)) if self.distance(*key, next) > 0 => {
                    self.slots[hole] = self.slots[next].take();
                    hole = next;
                }
                _ => break,
            }
        }
        // Give memory back after a burst.
        if self.slots.len() > MIN_SLOTS && self.len * 8 < self.slots.len() {
            self.resize(self.slots.len() / 2);
        }
        Some(value)
    }

    /// Takes every entry out, in slot order (callers sort what they return).
    pub(crate) fn take_all(&mut self) -> Vec<(RequestId, V)> {
        self.len = 0;
        std::mem::take(&mut self.slots).into_iter().flatten().map(|(key, v)| (key.into(), v)).collect()
    }

    fn resize(&mut self, slots: usize) {
        let old = std::mem::replace(&mut self.slots, (0..slots).map(|_| None).collect());
        for (id, value) in old.into_iter().flatten() {
            self.place(id, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use quickcheck::{Arbitrary, Gen, quickcheck};

    use super::*;

    #[derive(Debug, Clone, Copy)]
    enum Op {
        Insert(u16, u8),
        Remove(u16),
        Get(u16),
    }

    impl Arbitrary for Op {
        fn arbitrary(g: &mut Gen) -> Self {
            match u8::arbitrary(g) % 3 {
                0 => Self::Insert(u16::arbitrary(g) % 512, u8::arbitrary(g)),
                1 => Self::Remove(u16::arbitrary(g) % 512),
                _ => Self::Get(u16::arbitrary(g) % 512),
            }
        }
    }

    /// Keys sharing their low bits make long probe runs that wrap around.
    fn key(k: u16) -> RequestId {
        RequestId(u128::from(k % 64) | (u128::from(k) << 100))
    }

    quickcheck! {
        fn behaves_like_a_btree_map(ops: Vec<Op>) -> bool {
            let mut table = IdTable::default();
            let mut model = BTreeMap::new();
            for op in ops {
                let agrees = match op {
                    Op::Insert(k, v) => {
                        table.insert(key(k), v);
                        model.insert(key(k), v);
                        true
                    }
                    Op::Remove(k) => table.remove(key(k)) == model.remove(&key(k)),
                    Op::Get(k) => table.get(key(k)) == model.get(&key(k)),
                };
                if !agrees || table.len() != model.len() {
                    return false;
                }
            }
            let mut all = table.take_all();
            all.sort_unstable_by_key(|(id, _)| *id);
            all == model.into_iter().collect::<Vec<_>>() && table.is_empty()
        }
    }

    /// Ids with a count in their low bits, as the machine makes them.
    fn counted(count: u64) -> RequestId {
        RequestId(u128::from(count) | (u128::from(count.wrapping_mul(0x9e37_79b9_7f4a_7c15)) << 64))
    }

    #[test]
    fn counted_ids_sit_at_home_and_leave_in_constant_time() {
        let mut table = IdTable::default();
        for count in 0..100_000 {
            table.insert(counted(count), count);
        }
        let at_home = table
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, slot)| slot.as_ref().map(|(key, _)| table.distance(*key, i)))
            .all(|distance| distance == 0);
        assert!(at_home, "a counted id was displaced from its home");
        // The oldest leaves as a new one comes, round and round the table:
        // each removal shifts nothing (a full cluster's walk per removal
        // would take minutes here).
        for count in 100_000..1_000_000 {
            assert_eq!(table.remove(counted(count - 100_000)), Some(count - 100_000));
            table.insert(counted(count), count);
        }
        assert_eq!(table.len(), 100_000);
        assert_eq!(table.get(counted(999_999)), Some(&999_999));
        assert_eq!(table.get(counted(899_999)), None);
    }

    quickcheck! {
        /// Counted ids mixed with ids that collide at random agree with a
        /// map whatever the order of operations.
        fn counted_and_colliding_ids_behave_like_a_btree_map(ops: Vec<(bool, u16, bool)>) -> bool {
            let mut table = IdTable::default();
            let mut model = BTreeMap::new();
            for (insert, k, is_counted) in ops {
                let id = if is_counted { counted(u64::from(k % 300)) } else { key(k) };
                if insert {
                    table.insert(id, k);
                    model.insert(id, k);
                } else if table.remove(id) != model.remove(&id) {
                    return false;
                }
                if model.iter().any(|(id, v)| table.get(*id) != Some(v)) {
                    return false;
                }
            }
            table.len() == model.len()
        }
    }

    #[test]
    fn grows_and_gives_memory_back() {
        let mut table = IdTable::default();
        for k in 0..10_000u128 {
            table.insert(RequestId(k * 0x9e37_79b9), k);
        }
        assert_eq!(table.len(), 10_000);
        assert!(table.slots.len() >= 20_000);
        for k in 0..10_000u128 {
            assert_eq!(table.get(RequestId(k * 0x9e37_79b9)), Some(&k));
        }
        for k in 0..9_990u128 {
            assert_eq!(table.remove(RequestId(k * 0x9e37_79b9)), Some(k));
        }
        assert!(table.slots.len() <= 256, "{} slots for 10 entries", table.slots.len());
        for k in 9_990..10_000u128 {
            assert_eq!(table.get_mut(RequestId(k * 0x9e37_79b9)).copied(), Some(k));
        }
        assert_eq!(table.remove(RequestId(1)), None);
    }
}
