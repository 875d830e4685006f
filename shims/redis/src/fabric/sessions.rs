//! Session records written lately: a burst of pushes for one session
//! writes its owner to Redis once, not once per push.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use relay_core::connector::BacklogKey;

/// How long a written record is not written again, when its owner stays.
const FRESH_FOR: Duration = Duration::from_secs(10);
/// Records remembered at most; past that, the memory starts over (costing
/// one write per session).
const CAPACITY: usize = 4096;

#[derive(Debug, Default)]
pub(super) struct NotedSessions {
    written: BTreeMap<String, (BacklogKey, Instant)>,
}

impl NotedSessions {
    /// Whether `session`'s owner `key` needs writing: a new owner, or the
    /// same one last written more than [`FRESH_FOR`] ago (another instance
    /// may have written another owner since).
    pub(super) fn note(&mut self, session: &str, key: &BacklogKey) -> bool {
        let now = Instant::now();
        if let Some((owner, at)) = self.written.get(session) {
            if owner == key && now.duration_since(*at) < FRESH_FOR {
                return false;
            }
        }
        if self.written.len() >= CAPACITY {
            self.written.clear();
        }
        self.written.insert(session.to_owned(), (key.clone(), now));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_owner_is_written_once_a_new_one_at_once() {
        let mut noted = NotedSessions::default();
        let (a, b) = (BacklogKey::Gateway("a".into()), BacklogKey::Gateway("b".into()));
        assert!(noted.note("s1", &a));
        assert!(!noted.note("s1", &a));
        assert!(noted.note("s1", &b));
        assert!(noted.note("s2", &b));
    }

    #[test]
    fn memory_stays_bounded() {
        let mut noted = NotedSessions::default();
        let key = BacklogKey::Gateway("a".into());
        for i in 0..CAPACITY * 3 {
            noted.note(&format!("s{i}"), &key);
        }
        assert!(noted.written.len() <= CAPACITY);
    }
}
