//! [`IdTable`]: a map from request ids to values with constant-time lookups.
//!
//! The pending table is looked up once per result and updated once per
//! request; with a `BTreeMap` keyed by random 128-bit ids every level of the
//! tree is a cache miss once many requests are in flight, and the
//! request/result cycle slowed by almost half from 1 to 100,000 in flight.
//! Request ids are drawn at random, so their low bits already index a table:
//! open addressing with linear probing needs no hashing, and no `HashMap`
//! with its per-process random state (the core must stay deterministic).
//! The table is never iterated on a path that produces actions.

use super::RequestId;

/// The smallest number of slots; always a power of two.
const MIN_SLOTS: usize = 16;

#[derive(Debug, Clone)]
pub(crate) struct IdTable<V> {
    slots: Vec<Option<(Key, V)>>,
    len: usize,
}

/// An id as two words. The table is probed at random, so its size is what a
/// lookup pays in cache and TLB misses once many requests are in flight, and
/// a slot aligned to 8 bytes rather than `u128`'s 16 is half the size (24
/// bytes for the pending table's entries, not 48).
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

    /// The home slot of `id`: its low bits, random in every id this crate
    /// makes. Ids a peer invents can only make their own lookups probe
    /// longer; they are never stored.
    fn home(&self, key: Key) -> usize {
        (key.0[0] as usize) & self.mask()
    }

    /// The slot holding `id`, if any.
    fn find(&self, id: RequestId) -> Option<usize> {
        if self.slots.is_empty() {
            return None;
        }
        let id = Key::from(id);
        let mut i = self.home(id);
        loop {
            match &self.slots[i] {
                None => return None,
                Some((key, _)) if *key == id => return Some(i),
                Some(_) => i = (i + 1) & self.mask(),
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

    fn place(&mut self, id: Key, value: V) {
        let mut i = self.home(id);
        while self.slots[i].is_some() {
            i = (i + 1) & self.mask();
        }
        self.slots[i] = Some((id, value));
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
        // Backward-shift deletion: move later members of the probe run into
        // the hole when the hole lies between their home and their slot, so
        // no lookup ever stops early at the new gap.
        let mut i = (hole + 1) & self.mask();
        while let Some((key, _)) = &self.slots[i] {
            let home = self.home(*key);
            let distance_now = i.wrapping_sub(home) & self.mask();
            let distance_from_hole = i.wrapping_sub(hole) & self.mask();
            if distance_from_hole <= distance_now {
                self.slots[hole] = self.slots[i].take();
                hole = i;
            }
            i = (i + 1) & self.mask();
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
