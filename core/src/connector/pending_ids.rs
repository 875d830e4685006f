//! [`PendingIds`]: the request ids a connection handed to the application
//! and that are not answered yet.
//!
//! A hash set, the one in the core: ids are strings the gateway picks, and
//! an ordered set compared them a dozen times per request. Core outputs must
//! not depend on hash order (`clippy.toml`), and this type cannot leak it:
//! it offers lookups and a count, never a walk over its members. Its hash is
//! keyed by the connection's seed, so a peer that does not know the seed
//! cannot pick ids that share a bucket.
#![allow(clippy::disallowed_types)]

use std::collections::HashSet;
use std::hash::{BuildHasher, DefaultHasher, Hasher as _};

#[derive(Debug, Clone)]
pub(crate) struct PendingIds(HashSet<String, Keyed>);

impl PendingIds {
    pub(crate) fn new(seed: u64) -> Self {
        Self(HashSet::with_hasher(Keyed(seed)))
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

/// SipHash with the seed absorbed first.
#[derive(Debug, Clone, Copy)]
struct Keyed(u64);

impl BuildHasher for Keyed {
    type Hasher = DefaultHasher;

    fn build_hasher(&self) -> DefaultHasher {
        let mut hasher = DefaultHasher::new();
        hasher.write_u64(self.0);
        hasher
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
        let hash = |seed| Keyed(seed).hash_one("request-1");
        assert_ne!(hash(1), hash(2));
        assert_eq!(hash(1), hash(1));
    }
}
