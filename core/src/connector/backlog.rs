//! The per-gateway backlog of buffered frames (PROTOCOL §8, going idle).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::fmt;
use std::ops::Bound;

use super::BufferedFrame;
use crate::gateway::Identity;

/// Whose backlog: the gateway id when upgrade auth is on, else the gateway's
/// first hello identity.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BacklogKey {
    /// The verified gateway id of the upgrade token.
    Gateway(String),
    /// The `(platform, botId)` of the gateway's first hello (auth off).
    Identity(Identity),
}

impl fmt::Display for BacklogKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Gateway(id) => write!(f, "gateway {id}"),
            Self::Identity(identity) => write!(f, "identity {identity}"),
        }
    }
}

/// One backlog entry: its buffer id and the frame.
#[derive(Debug, Clone, PartialEq)]
pub struct BacklogEntry {
    /// The id the gateway acknowledges with `inbound_ack`.
    pub buffer_id: String,
    /// The buffered frame.
    pub frame: BufferedFrame,
}

/// A store of buffered frames per gateway, in append order.
///
/// This is the one store interface: the in-memory [`MemoryBacklog`] here,
/// and the durable stores of the `relay-store` crate, implement it. The
/// store belongs to the application, not to a machine: it outlives every
/// connection (a gateway that dies mid-replay gets its unacked entries again
/// on its next connection, served by a new machine), and one store serves
/// every gateway, keyed by [`BacklogKey`]. A machine never calls it: it asks
/// for reads and removals with [`StoreRequest`](super::StoreRequest)s, and
/// the application appends what
/// [`PushOutcome::AppendToBacklog`](super::PushOutcome) hands back. The
/// methods are synchronous; a driver runs a store that does I/O away from
/// its event loop (`relay-store` gives each store a worker thread).
///
/// Requirements on an implementation (the replay relies on them):
/// - `append` adds at the end of the key's order and returns an id unique
///   within the key;
/// - `entries_after` lists in append order, starting after the entry
///   `after` — also when that entry was removed meanwhile (ids that grow
///   with append order make this natural);
/// - `remove` of an unknown id is not an error (acks may repeat).
pub trait Backlog {
    /// What a store operation can fail with (a durable store's I/O error).
    type Error: std::error::Error;

    /// Appends `frame` to `key`'s backlog and returns its buffer id.
    fn append(&mut self, key: &BacklogKey, frame: BufferedFrame) -> Result<String, Self::Error>;

    /// Up to `limit` entries of `key`'s backlog in order, after the entry
    /// `after` (from the start when `None`).
    fn entries_after(
        &self,
        key: &BacklogKey,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<BacklogEntry>, Self::Error>;

    /// Removes one entry; `Ok(false)` when there was none with that id.
    fn remove(&mut self, key: &BacklogKey, buffer_id: &str) -> Result<bool, Self::Error>;

    /// How many entries wait for `key`.
    fn count(&self, key: &BacklogKey) -> Result<usize, Self::Error>;

    /// Appends several frames, possibly for several keys, in order, and
    /// returns their ids in the same order. A durable store makes the whole
    /// batch durable at once (one commit, one sync: group commit) and
    /// appends all of it or none; the default appends one by one, which
    /// suits stores that cannot fail.
    fn append_batch(&mut self, frames: Vec<(BacklogKey, BufferedFrame)>) -> Result<Vec<String>, Self::Error> {
        frames.into_iter().map(|(key, frame)| self.append(&key, frame)).collect()
    }

    /// Removes several entries of `key` at once (one commit for a durable
    /// store) and returns how many existed; unknown ids are not an error.
    fn remove_batch(&mut self, key: &BacklogKey, buffer_ids: &[String]) -> Result<usize, Self::Error> {
        let mut removed = 0;
        for id in buffer_ids {
            removed += usize::from(self.remove(key, id)?);
        }
        Ok(removed)
    }
}

/// An in-memory [`Backlog`]: per key, a sequence number per entry (its
/// buffer id, in decimal) in a `BTreeMap`, so order and "after" are exact.
///
/// It holds whatever is appended until it is acknowledged; an application
/// that must bound it caps what it appends.
#[derive(Debug, Clone, Default)]
pub struct MemoryBacklog {
    logs: BTreeMap<BacklogKey, Log>,
}

#[derive(Debug, Clone, Default)]
struct Log {
    next: u64,
    entries: BTreeMap<u64, BufferedFrame>,
}

impl MemoryBacklog {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many entries wait for `key`.
    pub fn len(&self, key: &BacklogKey) -> usize {
        self.logs.get(key).map_or(0, |log| log.entries.len())
    }

    /// Whether nothing waits for `key`.
    pub fn is_empty(&self, key: &BacklogKey) -> bool {
        self.len(key) == 0
    }

    /// The buffer ids waiting for `key`, in order.
    pub fn buffer_ids(&self, key: &BacklogKey) -> Vec<String> {
        self.logs.get(key).map_or_else(Vec::new, |log| log.entries.keys().map(u64::to_string).collect())
    }
}

impl Backlog for MemoryBacklog {
    type Error = Infallible;

    fn append(&mut self, key: &BacklogKey, frame: BufferedFrame) -> Result<String, Infallible> {
        let log = self.logs.entry(key.clone()).or_default();
        // Ids start at 1 and only grow, so a removed cursor still orders.
        log.next += 1;
        log.entries.insert(log.next, frame);
        Ok(log.next.to_string())
    }

    fn entries_after(
        &self,
        key: &BacklogKey,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<BacklogEntry>, Infallible> {
        let Some(log) = self.logs.get(key) else { return Ok(Vec::new()) };
        let start = match after.and_then(|id| id.parse::<u64>().ok()) {
            Some(seq) => Bound::Excluded(seq),
            None => Bound::Unbounded,
        };
        let entries = log.entries.range((start, Bound::Unbounded)).take(limit);
        Ok(entries
            .map(|(seq, frame)| BacklogEntry { buffer_id: seq.to_string(), frame: frame.clone() })
            .collect())
    }

    fn remove(&mut self, key: &BacklogKey, buffer_id: &str) -> Result<bool, Infallible> {
        let Some(log) = self.logs.get_mut(key) else { return Ok(false) };
        let Ok(seq) = buffer_id.parse::<u64>() else { return Ok(false) };
        Ok(log.entries.remove(&seq).is_some())
    }

    fn count(&self, key: &BacklogKey) -> Result<usize, Infallible> {
        Ok(self.len(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{MessageEvent, Platform, SessionSource};

    fn event(text: &str) -> BufferedFrame {
        let source = SessionSource::new(Platform::Telegram, "c1", "dm");
        BufferedFrame::Inbound(Box::new(MessageEvent::text(source, text)))
    }

    fn texts(entries: &[BacklogEntry]) -> Vec<(String, String)> {
        entries
            .iter()
            .map(|e| match &e.frame {
                BufferedFrame::Inbound(ev) => (e.buffer_id.clone(), ev.text.clone()),
                BufferedFrame::Forward(f) => (e.buffer_id.clone(), f.path.clone()),
                BufferedFrame::Stored(stored) => (e.buffer_id.clone(), stored.as_str().to_owned()),
            })
            .collect()
    }

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect()
    }

    #[test]
    fn append_lists_in_order_per_key() {
        let (a, b) = (BacklogKey::Gateway("a".into()), BacklogKey::Identity(Identity::new("slack", "B")));
        let mut backlog = MemoryBacklog::new();
        for text in ["one", "two", "three"] {
            backlog.append(&a, event(text)).unwrap();
        }
        backlog.append(&b, event("other")).unwrap();
        let all = backlog.entries_after(&a, None, 10).unwrap();
        assert_eq!(texts(&all), pairs(&[("1", "one"), ("2", "two"), ("3", "three")]));
        assert_eq!(texts(&backlog.entries_after(&a, Some("1"), 1).unwrap()), pairs(&[("2", "two")]));
        assert_eq!(texts(&backlog.entries_after(&b, None, 10).unwrap()), pairs(&[("1", "other")]));
        assert!(backlog.entries_after(&BacklogKey::Gateway("none".into()), None, 10).unwrap().is_empty());
    }

    #[test]
    fn after_a_removed_entry_still_resumes_in_order() {
        let key = BacklogKey::Gateway("gw".into());
        let mut backlog = MemoryBacklog::new();
        for text in ["one", "two", "three"] {
            backlog.append(&key, event(text)).unwrap();
        }
        assert_eq!(backlog.remove(&key, "2"), Ok(true));
        assert_eq!(backlog.remove(&key, "2"), Ok(false));
        assert_eq!(backlog.remove(&key, "not-a-number"), Ok(false));
        assert_eq!(texts(&backlog.entries_after(&key, Some("2"), 10).unwrap()), pairs(&[("3", "three")]));
        assert_eq!(backlog.buffer_ids(&key), ["1", "3"]);
        // Ids are never reused, even after the newest entry is removed.
        backlog.remove(&key, "3").unwrap();
        assert_eq!(backlog.append(&key, event("four")), Ok("4".to_owned()));
    }

    #[test]
    fn frames_carry_their_buffer_id() {
        let line = event("hi").into_line(Some("7".into()));
        assert!(line.starts_with(r#"{"type":"inbound","event":{"#), "{line}");
        assert!(line.ends_with(",\"bufferId\":\"7\"}\n"), "{line}");
        let forward = BufferedFrame::Forward(Box::default()).into_line(None);
        assert!(forward.starts_with(r#"{"type":"passthrough_forward""#) && !forward.contains("bufferId"));
    }
}
