//! Dropping inbound events delivered twice (PROTOCOL §8).
//!
//! Buffered delivery is at-least-once: a gateway that dies mid-replay gets
//! every unacknowledged backlog entry again, and a connector may retry. The
//! agent must not answer the same message twice, so the gateway remembers
//! the last few message keys and drops repeats.

use std::collections::{BTreeSet, VecDeque};

use crate::wire::MessageEvent;

/// How many keys an [`InboundDedupe`] remembers by default (the reference's window).
pub const DEFAULT_DEDUPE_WINDOW: usize = 512;

/// A key as stored: the three parts kept apart, because ids may contain `:`
/// and joining them would make `("a:b", "c")` and `("a", "b:c")` collide —
/// dropping a real message.
type Parts = (String, String, String);

/// Remembers the keys `<platform>:<chat_id>:<message_id>` of the last
/// `capacity` distinct events (first in, first out) and reports repeats.
///
/// Events without a message id (neither the event's nor its source's) are
/// never treated as duplicates: nothing identifies them, and dropping a real
/// message is worse than answering one twice. Memory is bounded by the
/// capacity; a repeat does not refresh its key's place in the window.
///
/// ```
/// use relay_core::adapter::InboundDedupe;
/// use relay_core::wire::{MessageEvent, Platform, SessionSource};
///
/// let mut dedupe = InboundDedupe::new();
/// let mut event = MessageEvent::text(SessionSource::new(Platform::Telegram, "42", "dm"), "hi");
/// event.message_id = Some("7".into());
/// assert_eq!(InboundDedupe::key(&event).as_deref(), Some("telegram:42:7"));
/// assert!(!dedupe.is_duplicate(&event));
/// assert!(dedupe.is_duplicate(&event));
/// ```
#[derive(Debug, Clone)]
pub struct InboundDedupe {
    order: VecDeque<Parts>,
    seen: BTreeSet<Parts>,
    capacity: usize,
}

impl Default for InboundDedupe {
    fn default() -> Self {
        Self::new()
    }
}

impl InboundDedupe {
    /// A window of [`DEFAULT_DEDUPE_WINDOW`] keys.
    pub fn new() -> Self {
        Self::with_capacity(DEFAULT_DEDUPE_WINDOW)
    }

    /// A window of `capacity` keys (at least 1: a window of none would make
    /// the type a silent no-op).
    ///
    /// ```
    /// # use relay_core::adapter::InboundDedupe;
    /// assert_eq!(InboundDedupe::with_capacity(0).capacity(), 1);
    /// ```
    pub fn with_capacity(capacity: usize) -> Self {
        Self { order: VecDeque::new(), seen: BTreeSet::new(), capacity: capacity.max(1) }
    }

    /// The dedupe key of `event`, `<platform>:<chat_id>:<message_id>`, or
    /// `None` when it has no message id (see
    /// [`MessageEvent::effective_message_id`]).
    ///
    /// ```
    /// # use relay_core::adapter::InboundDedupe;
    /// # use relay_core::wire::{MessageEvent, Platform, SessionSource};
    /// let mut event = MessageEvent::text(SessionSource::new(Platform::Discord, "c1", "group"), "hi");
    /// assert_eq!(InboundDedupe::key(&event), None);
    /// event.source.message_id = Some("m9".into());
    /// assert_eq!(InboundDedupe::key(&event).as_deref(), Some("discord:c1:m9"));
    /// ```
    pub fn key(event: &MessageEvent) -> Option<String> {
        let (platform, chat, message) = Self::parts(event)?;
        Some(format!("{platform}:{chat}:{message}"))
    }

    fn parts(event: &MessageEvent) -> Option<Parts> {
        let message_id = event.effective_message_id()?;
        let source = &event.source;
        Some((source.platform.as_str().to_owned(), source.chat_id.clone(), message_id.to_owned()))
    }

    /// Whether `event` was seen within the window; a new key is recorded,
    /// evicting the oldest when the window is full. Events without a message
    /// id are never duplicates and are not recorded.
    pub fn is_duplicate(&mut self, event: &MessageEvent) -> bool {
        let Some(parts) = Self::parts(event) else { return false };
        if self.seen.contains(&parts) {
            return true;
        }
        if self.order.len() >= self.capacity {
            if let Some(oldest) = self.order.pop_front() {
                self.seen.remove(&oldest);
            }
        }
        self.seen.insert(parts.clone());
        self.order.push_back(parts);
        false
    }

    /// How many keys the window holds at most.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many keys it holds now.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether it holds no key.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Platform, SessionSource};

    fn event(platform: Platform, chat: &str, id: Option<&str>, source_id: Option<&str>) -> MessageEvent {
        let mut e = MessageEvent::text(SessionSource::new(platform, chat, "group"), "t");
        e.message_id = id.map(str::to_owned);
        e.source.message_id = source_id.map(str::to_owned);
        e
    }

    #[test]
    fn keys() {
        let cases = [
            (event(Platform::Discord, "c", Some("m"), None), Some("discord:c:m")),
            (event(Platform::Discord, "c", None, Some("s")), Some("discord:c:s")),
            (event(Platform::Discord, "c", Some("m"), Some("s")), Some("discord:c:m")),
            (event(Platform::Discord, "c", Some(""), Some("s")), Some("discord:c:s")),
            (event(Platform::Slack, "", Some("m"), None), Some("slack::m")),
            (event(Platform::Slack, "c", None, None), None),
            (event(Platform::Slack, "c", Some(""), Some("")), None),
        ];
        for (e, expected) in cases {
            assert_eq!(InboundDedupe::key(&e).as_deref(), expected);
        }
    }

    #[test]
    fn repeats_are_duplicates_and_distinct_keys_are_not() {
        let mut d = InboundDedupe::new();
        let base = event(Platform::Discord, "c", Some("m"), None);
        assert!(!d.is_duplicate(&base));
        assert!(d.is_duplicate(&base));
        // The same id from the source counts as the same message.
        assert!(d.is_duplicate(&event(Platform::Discord, "c", None, Some("m"))));
        // Another platform, chat or message is another message.
        assert!(!d.is_duplicate(&event(Platform::Slack, "c", Some("m"), None)));
        assert!(!d.is_duplicate(&event(Platform::Discord, "c2", Some("m"), None)));
        assert!(!d.is_duplicate(&event(Platform::Discord, "c", Some("m2"), None)));
        assert_eq!(d.len(), 4);
    }

    #[test]
    fn ids_with_colons_do_not_collide() {
        let mut d = InboundDedupe::new();
        assert!(!d.is_duplicate(&event(Platform::Signal, "a:b", Some("c"), None)));
        assert!(!d.is_duplicate(&event(Platform::Signal, "a", Some("b:c"), None)));
    }

    #[test]
    fn events_without_an_id_are_never_deduped_nor_recorded() {
        let mut d = InboundDedupe::new();
        let e = event(Platform::Telegram, "c", None, None);
        for _ in 0..3 {
            assert!(!d.is_duplicate(&e));
        }
        assert!(d.is_empty());
    }

    #[test]
    fn window_evicts_the_oldest_after_512() {
        let mut d = InboundDedupe::new();
        assert_eq!(d.capacity(), 512);
        let nth = |i: usize| event(Platform::Telegram, "c", Some(&i.to_string()), None);
        for i in 0..512 {
            assert!(!d.is_duplicate(&nth(i)));
        }
        assert_eq!(d.len(), 512);
        // All 512 are still remembered (checking does not record anything new).
        assert!((0..512).all(|i| d.is_duplicate(&nth(i))));
        // The 513th evicts #0 only.
        assert!(!d.is_duplicate(&nth(512)));
        assert_eq!(d.len(), 512);
        assert!(d.is_duplicate(&nth(1)));
        assert!(d.is_duplicate(&nth(512)));
        assert!(!d.is_duplicate(&nth(0)), "#0 was evicted, so it reads as new (and evicts #1)");
        assert!(!d.is_duplicate(&nth(1)));
    }

    #[test]
    fn small_windows() {
        let mut d = InboundDedupe::with_capacity(2);
        let nth = |i: u8| event(Platform::Line, "c", Some(&i.to_string()), None);
        assert!(!d.is_duplicate(&nth(1)));
        assert!(!d.is_duplicate(&nth(2)));
        assert!(d.is_duplicate(&nth(1)), "a repeat does not refresh #1's place");
        assert!(!d.is_duplicate(&nth(3)));
        assert!(!d.is_duplicate(&nth(1)), "#1 was the oldest and went first");
        let mut one = InboundDedupe::with_capacity(0);
        assert!(!one.is_duplicate(&nth(1)));
        assert!(one.is_duplicate(&nth(1)));
    }

    #[test]
    fn matches_a_fifo_model() {
        // Few distinct ids and a small window, so repeats and evictions both happen.
        fn prop(ids: Vec<u8>, capacity: u8) -> bool {
            let capacity = usize::from(capacity % 5).max(1);
            let mut d = InboundDedupe::with_capacity(capacity);
            let mut model: VecDeque<u8> = VecDeque::new();
            ids.into_iter().all(|id| {
                let id = id % 8;
                let expected = model.contains(&id);
                if !expected {
                    if model.len() == capacity {
                        model.pop_front();
                    }
                    model.push_back(id);
                }
                let e = event(Platform::Discord, "c", Some(&id.to_string()), None);
                d.is_duplicate(&e) == expected && d.len() == model.len() && d.seen.len() == d.order.len()
            })
        }
        quickcheck::quickcheck(prop as fn(Vec<u8>, u8) -> bool);
    }
}
