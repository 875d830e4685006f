//! What a connector lets the gateway do, read from its descriptor (PROTOCOL §3),
//! per identity when one socket fronts several.

use std::collections::BTreeMap;

use super::split_message;
use crate::gateway::{Event, Identity};
use crate::wire::{Descriptor, LenUnit};

/// The limit used when a descriptor carries a non-positive one (PROTOCOL §3).
const DEFAULT_MAX_MESSAGE_LENGTH: usize = 4096;

/// The questions a reply formatter asks, answered from one [`Descriptor`].
///
/// ```
/// use relay_core::adapter::Capabilities;
/// use relay_core::wire::{Descriptor, LenUnit};
///
/// let mut d = Descriptor::new("telegram", "Telegram");
/// d.len_unit = LenUnit::Utf16;
/// d.markdown_dialect = "markdown_v2".into();
/// let caps = Capabilities::new(d);
/// assert_eq!(caps.len("😀"), 2);
/// assert!(caps.supports_code_blocks());
/// assert!(caps.supports_op("send") && !caps.supports_op("react"));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Capabilities {
    descriptor: Descriptor,
}

impl Capabilities {
    /// The view of `descriptor`.
    ///
    /// ```
    /// # use relay_core::{adapter::Capabilities, wire::Descriptor};
    /// let caps = Capabilities::new(Descriptor::new("discord", "Discord"));
    /// assert_eq!(caps.descriptor().label, "Discord");
    /// ```
    pub fn new(descriptor: Descriptor) -> Self {
        Self { descriptor }
    }

    /// The descriptor behind this view, for everything it does not interpret.
    pub fn descriptor(&self) -> &Descriptor {
        &self.descriptor
    }

    /// Longest message, in [`len_unit`](Self::len_unit)s; 4096 when the
    /// descriptor holds a non-positive value (as a hand-built one may).
    ///
    /// ```
    /// # use relay_core::{adapter::Capabilities, wire::Descriptor};
    /// let mut d = Descriptor::new("discord", "Discord");
    /// d.max_message_length = 2000;
    /// assert_eq!(Capabilities::new(d.clone()).max_message_length(), 2000);
    /// d.max_message_length = 0;
    /// assert_eq!(Capabilities::new(d).max_message_length(), 4096);
    /// ```
    pub fn max_message_length(&self) -> usize {
        let max = self.descriptor.max_message_length;
        if max <= 0 {
            return DEFAULT_MAX_MESSAGE_LENGTH;
        }
        // Wider than the address space (16-bit targets): nothing can exceed it.
        usize::try_from(max).unwrap_or(usize::MAX)
    }

    /// The unit message lengths are counted in.
    pub fn len_unit(&self) -> LenUnit {
        self.descriptor.len_unit
    }

    /// The length of `text` as the platform counts it.
    ///
    /// ```
    /// # use relay_core::{adapter::Capabilities, wire::Descriptor};
    /// assert_eq!(Capabilities::new(Descriptor::new("discord", "Discord")).len("😀"), 1);
    /// ```
    pub fn len(&self, text: &str) -> usize {
        self.len_unit().len(text)
    }

    /// Whether `text` fits in one message.
    ///
    /// ```
    /// # use relay_core::{adapter::Capabilities, wire::Descriptor};
    /// let mut d = Descriptor::new("discord", "Discord");
    /// d.max_message_length = 3;
    /// let caps = Capabilities::new(d);
    /// assert!(caps.fits("abc") && !caps.fits("abcd"));
    /// ```
    pub fn fits(&self, text: &str) -> bool {
        self.len(text) <= self.max_message_length()
    }

    /// Whether fenced code blocks render (any dialect but `""` and `plain`).
    pub fn supports_code_blocks(&self) -> bool {
        self.descriptor.supports_code_blocks()
    }

    /// Whether sent messages can be edited.
    pub fn supports_edit(&self) -> bool {
        self.descriptor.supports_edit
    }

    /// Whether the platform has threads.
    pub fn supports_threads(&self) -> bool {
        self.descriptor.supports_threads
    }

    /// Whether the connector accepts `op`: `get_chat_info` always; any other
    /// op when `supported_ops` lists it, or, when the list is empty, when it
    /// is one of `send`, `edit`, `typing`, `follow_up`; and `draft` only when
    /// [`supports_draft_streaming`](Self::supports_draft_streaming) too — the
    /// same rule the gateway machine enforces, so a check here never disagrees
    /// with a refusal there.
    ///
    /// ```
    /// # use relay_core::{adapter::Capabilities, wire::Descriptor};
    /// let mut d = Descriptor::new("slack", "Slack");
    /// assert!(Capabilities::new(d.clone()).supports_op("typing"));
    /// d.supported_ops = vec!["send".into(), "react".into()];
    /// let caps = Capabilities::new(d);
    /// assert!(caps.supports_op("react") && !caps.supports_op("typing") && !caps.supports_op("prompt"));
    /// ```
    pub fn supports_op(&self, op: &str) -> bool {
        self.descriptor.allows_op(op)
    }

    /// Whether replies may stream as drafts: `supports_draft_streaming` is set
    /// **and** `draft` is listed in `supported_ops`.
    ///
    /// ```
    /// # use relay_core::{adapter::Capabilities, wire::Descriptor};
    /// let mut d = Descriptor::new("telegram", "Telegram");
    /// d.supports_draft_streaming = true;
    /// assert!(!Capabilities::new(d.clone()).supports_draft_streaming());
    /// d.supported_ops = vec!["draft".into()];
    /// assert!(Capabilities::new(d).supports_draft_streaming());
    /// ```
    pub fn supports_draft_streaming(&self) -> bool {
        self.descriptor.supports_draft_streaming && self.descriptor.supported_ops.iter().any(|o| o == "draft")
    }

    /// Splits `text` into messages that each fit (see [`split_message`]).
    ///
    /// ```
    /// # use relay_core::{adapter::Capabilities, wire::Descriptor};
    /// let mut d = Descriptor::new("discord", "Discord");
    /// d.max_message_length = 6;
    /// assert_eq!(Capabilities::new(d).split("hello world"), ["hello ", "world"]);
    /// ```
    pub fn split<'a>(&self, text: &'a str) -> Vec<&'a str> {
        split_message(text, self.max_message_length(), self.len_unit())
    }
}

impl From<Descriptor> for Capabilities {
    fn from(descriptor: Descriptor) -> Self {
        Self::new(descriptor)
    }
}

/// The capabilities of every identity on a multi-identity connection; the
/// first one recorded is the default, as an untagged request goes to the
/// first identity (PROTOCOL §8).
///
/// ```
/// use relay_core::adapter::CapabilityMap;
/// use relay_core::gateway::Identity;
/// use relay_core::wire::Descriptor;
///
/// let mut map = CapabilityMap::new();
/// map.insert(Identity::new("discord", "B1"), Descriptor::new("discord", "Discord"));
/// map.insert(Identity::new("telegram", "T1"), Descriptor::new("telegram", "Telegram"));
/// assert_eq!(map.resolve(None).unwrap().descriptor().platform, "discord");
/// let telegram = Identity::new("telegram", "T1");
/// assert_eq!(map.resolve(Some(&telegram)).unwrap().descriptor().platform, "telegram");
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CapabilityMap {
    by_identity: BTreeMap<Identity, Capabilities>,
    default: Option<Identity>,
}

impl CapabilityMap {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records (or replaces) the descriptor of `identity`; the first identity
    /// ever recorded since the last [`clear`](Self::clear) is the default.
    pub fn insert(&mut self, identity: Identity, descriptor: Descriptor) {
        self.default.get_or_insert_with(|| identity.clone());
        self.by_identity.insert(identity, Capabilities::new(descriptor));
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        self.by_identity.clear();
        self.default = None;
    }

    /// Updates the map from a gateway event, returning whether it was a
    /// descriptor event. `Ready` starts over (a new connection re-announces
    /// every identity, and a connector may have changed what it supports);
    /// `Descriptor` adds a later identity.
    ///
    /// ```
    /// use relay_core::adapter::CapabilityMap;
    /// use relay_core::gateway::{Event, Identity};
    /// use relay_core::wire::Descriptor;
    ///
    /// let mut map = CapabilityMap::new();
    /// let ready = Event::Ready {
    ///     identity: Identity::new("discord", "B1"),
    ///     descriptor: Box::new(Descriptor::new("discord", "Discord")),
    /// };
    /// assert!(map.observe(&ready));
    /// assert_eq!(map.default_identity(), Some(&Identity::new("discord", "B1")));
    /// assert!(!map.observe(&Event::IdleAcknowledged));
    /// ```
    pub fn observe(&mut self, event: &Event) -> bool {
        match event {
            Event::Ready { identity, descriptor } => {
                self.clear();
                self.insert(identity.clone(), (**descriptor).clone());
                true
            }
            Event::Descriptor { identity, descriptor } => {
                self.insert(identity.clone(), (**descriptor).clone());
                true
            }
            _ => false,
        }
    }

    /// The capabilities of exactly `identity`.
    pub fn get(&self, identity: &Identity) -> Option<&Capabilities> {
        self.by_identity.get(identity)
    }

    /// The capabilities a request tagged with `identity` is checked against:
    /// the default for an untagged request, else that identity's own (`None`
    /// when its descriptor has not arrived: never silently another's).
    pub fn resolve(&self, identity: Option<&Identity>) -> Option<&Capabilities> {
        match identity {
            Some(identity) => self.get(identity),
            None => self.default_capabilities(),
        }
    }

    /// The default identity (the first recorded).
    pub fn default_identity(&self) -> Option<&Identity> {
        self.default.as_ref()
    }

    /// The default identity's capabilities.
    pub fn default_capabilities(&self) -> Option<&Capabilities> {
        self.default.as_ref().and_then(|id| self.by_identity.get(id))
    }

    /// Every identity with its capabilities, ordered by identity.
    pub fn iter(&self) -> impl Iterator<Item = (&Identity, &Capabilities)> {
        self.by_identity.iter()
    }

    /// Number of identities recorded.
    pub fn len(&self) -> usize {
        self.by_identity.len()
    }

    /// Whether nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.by_identity.is_empty()
    }
}

#[cfg(test)]
#[path = "capabilities_tests.rs"]
mod tests;
