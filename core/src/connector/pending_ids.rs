//! [`PendingIds`]: the request ids a connection handed to the application
//! and that are not answered yet.
//!
//! A hash set, the one in the core: ids are strings the gateway picks, and
//! an ordered set compared them a dozen times per request. Core outputs must
//! not depend on hash order (`clippy.toml`), and this type cannot leak it:
//! it offers lookups and a count, never a walk over its members. Its hash is
//! keyed by the connection's seed, so a peer that does not know the seed
//! cannot pick ids that share a bucket. The hash is foldhash (hashbrown's
//! own): SipHash took a tenth of a connector's instructions per round trip.
#![allow(clippy::disallowed_types)]

use std::collections::HashSet;

use foldhash::fast::FixedState;

#[derive(Debug, Clone)]
pub(crate) struct PendingIds(HashSet<String, FixedState>);

impl PendingIds {
    pub(crate) fn new(seed: u64) -> Self {
        Self(HashSet::with_hasher(FixedState::with_seed(seed)))
    }

    /// Adds `id`; false when it was already there.
    pub(crate) fn insert(&mut self, id: String) -> bool {
        self.0.insert(id)
    }

    /// Removes `id`; false when it was not there.
    pub(crate) fn remove(&mut self, id: &str) -> bool {
        self.0.remove(id)
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    pub(crate) fn clear(&mut self) {
        self.0.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_in_until_removed_whatever_the_seed() {
        for seed in [0, 1, u64::MAX] {
            let mut ids = PendingIds::new(seed);
            assert!(ids.insert("a".into()));
            assert!(!ids.insert("a".into()), "a second insert of one id");
            assert!(ids.insert("b".into()));
            assert_eq!(ids.len(), 2);
            assert!(ids.remove("a"));
            assert!(!ids.remove("a"));
            ids.clear();
            assert_eq!(ids.len(), 0);
            assert!(!ids.remove("b"));
        }
    }

    #[test]
    fn the_seed_keys_the_hash() {
        use std::hash::BuildHasher as _;
        let hash = |seed| FixedState::with_seed(seed).hash_one("request-1");
        assert_ne!(hash(1), hash(2));
        assert_eq!(hash(1), hash(1));
    }
}
