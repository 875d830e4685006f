//! Reply routing: stamping outbound actions with what the connector needs to
//! deliver them in the right tenant, for the right user, as the right bot.
//!
//! A connector serving many tenants routes a reply by its `metadata`
//! (`scope_id`, `user_id`, `profile`) and, on a multi-identity socket, by the
//! request's identity. The agent code that writes replies usually knows only
//! the chat id, so the gateway remembers, per chat, what the last inbound
//! event from it said and fills in what the caller left out.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::gateway::{Identity, OutboundRequest};
use crate::wire::{MessageEvent, Object, OutboundAction, Platform};

/// How many chats a [`ReplyRouter`] remembers by default.
pub const DEFAULT_ROUTE_CAPACITY: usize = 4096;

/// What the last inbound event of a chat said about where replies go.
///
/// ```
/// use relay_core::adapter::ChatRoute;
/// use relay_core::wire::Platform;
///
/// let route = ChatRoute { platform: Platform::Slack, scope_id: Some("T1".into()), user_id: None, profile: None };
/// assert_eq!(route.platform.as_str(), "slack");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatRoute {
    /// The chat's platform.
    pub platform: Platform,
    /// Tenant scope (Discord guild, Slack workspace), when known.
    pub scope_id: Option<String>,
    /// The user who wrote last.
    pub user_id: Option<String>,
    /// The agent profile the connector routed the chat to.
    pub profile: Option<String>,
}

impl ChatRoute {
    fn from_event(event: &MessageEvent) -> Self {
        let source = &event.source;
        let non_empty = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
        Self {
            platform: source.platform,
            scope_id: non_empty(&source.scope_id),
            user_id: non_empty(&source.user_id),
            profile: non_empty(&source.profile),
        }
    }

    /// The metadata entries this route can supply, in a fixed order.
    fn metadata(&self) -> [(&'static str, Option<&String>); 3] {
        [
            ("scope_id", self.scope_id.as_ref()),
            ("user_id", self.user_id.as_ref()),
            ("profile", self.profile.as_ref()),
        ]
    }
}

/// A remembered route and when it was last refreshed.
#[derive(Debug, Clone)]
struct Slot {
    route: ChatRoute,
    last_use: u64,
}

/// Remembers, per chat (platform + chat id), the route of its latest inbound
/// event, and fills outbound requests for that chat from it.
///
/// Memory is bounded: at most `capacity` chats (default
/// [`DEFAULT_ROUTE_CAPACITY`]) are kept, and observing a new chat when full
/// forgets the chat whose latest inbound event is the oldest (least recently
/// used; routing a reply does not count as a use, so a chat that only
/// receives is forgotten first). Recency is a counter, not a clock, so the
/// router is deterministic.
///
/// ```
/// use relay_core::adapter::ReplyRouter;
/// use relay_core::gateway::{Identity, OutboundRequest};
/// use relay_core::wire::{MessageEvent, OutboundAction, Platform, SendMessage, SessionSource};
///
/// let mut router = ReplyRouter::new(vec![Identity::new("discord", "B1")]);
/// let mut source = SessionSource::new(Platform::Discord, "chan1", "group");
/// source.scope_id = Some("guildA".into());
/// source.user_id = Some("userX".into());
/// router.observe(&MessageEvent::text(source, "hi"));
///
/// let request = router.route(OutboundAction::Send(SendMessage::new("chan1", "hello")).into());
/// assert_eq!(request.identity, Some(Identity::new("discord", "B1")));
/// let OutboundAction::Send(send) = request.action else { unreachable!() };
/// assert_eq!(send.metadata["scope_id"], "guildA");
/// assert_eq!(send.metadata["user_id"], "userX");
/// ```
#[derive(Debug, Clone)]
pub struct ReplyRouter {
    identities: Vec<Identity>,
    // Keyed chat id first so an untagged request (which names only a chat id)
    // finds every platform's entry for it without a scan.
    chats: BTreeMap<String, BTreeMap<Platform, Slot>>,
    // last_use → chat, oldest first: the eviction order.
    recency: BTreeMap<u64, (String, Platform)>,
    uses: u64,
    capacity: usize,
}

impl ReplyRouter {
    /// A router for a gateway configured with `identities`, remembering
    /// [`DEFAULT_ROUTE_CAPACITY`] chats.
    pub fn new(identities: Vec<Identity>) -> Self {
        Self::with_capacity(identities, DEFAULT_ROUTE_CAPACITY)
    }

    /// A router remembering at most `capacity` chats (at least 1).
    ///
    /// ```
    /// # use relay_core::adapter::ReplyRouter;
    /// assert_eq!(ReplyRouter::with_capacity(Vec::new(), 0).capacity(), 1);
    /// ```
    pub fn with_capacity(identities: Vec<Identity>, capacity: usize) -> Self {
        Self {
            identities,
            chats: BTreeMap::new(),
            recency: BTreeMap::new(),
            uses: 0,
            capacity: capacity.max(1),
        }
    }

    /// Records the route of `event`'s chat, replacing what was known (the
    /// latest event is the truth: the last writer, the current profile).
    /// Events with an empty chat id are ignored: they name no chat a reply
    /// could target, and would pool unrelated conversations in one slot.
    pub fn observe(&mut self, event: &MessageEvent) {
        let chat_id = &event.source.chat_id;
        if chat_id.is_empty() {
            return;
        }
        let platform = event.source.platform;
        // 2^64 observations cannot happen; wrapping only avoids a theoretical panic.
        self.uses = self.uses.wrapping_add(1);
        let slot = Slot { route: ChatRoute::from_event(event), last_use: self.uses };
        let previous = self.chats.entry(chat_id.clone()).or_default().insert(platform, slot);
        if let Some(previous) = previous {
            self.recency.remove(&previous.last_use);
        }
        self.recency.insert(self.uses, (chat_id.clone(), platform));
        while self.recency.len() > self.capacity {
            let Some((_, (chat, platform))) = self.recency.pop_first() else { break };
            self.forget(&chat, platform);
        }
    }

    fn forget(&mut self, chat_id: &str, platform: Platform) {
        if let Some(platforms) = self.chats.get_mut(chat_id) {
            platforms.remove(&platform);
            if platforms.is_empty() {
                self.chats.remove(chat_id);
            }
        }
    }

    /// The remembered route of chat `chat_id` on `platform`.
    pub fn lookup(&self, platform: Platform, chat_id: &str) -> Option<&ChatRoute> {
        self.chats.get(chat_id)?.get(&platform).map(|slot| &slot.route)
    }

    /// The configured identity serving `platform`: the first one whose
    /// platform name reads as it (a gateway running two bots on one platform
    /// must tag requests itself; the first is also where untagged ones go).
    pub fn identity_for(&self, platform: Platform) -> Option<&Identity> {
        self.identities.iter().find(|id| Platform::from_name(&id.platform) == platform)
    }

    /// Fills in what the caller left out of `request`, from the route of the
    /// chat the action targets:
    ///
    /// - `metadata.scope_id`, `metadata.user_id`, `metadata.profile`, each only
    ///   when known and when the caller's metadata lacks that key (a key the
    ///   caller set, even to `null`, is never touched); the metadata object is
    ///   created when the op has none (for an unknown op, when its `metadata`
    ///   is absent or `null`; any other non-object is left alone);
    /// - the request's identity, when the caller set none and a configured
    ///   identity serves the chat's platform.
    ///
    /// The chat is looked up on the tagged identity's platform; an untagged
    /// request names only a chat id, so it is filled only when exactly one
    /// platform's chat has that id (never a guess between two). Actions
    /// without a chat id (`follow_up`) and unknown chats pass unchanged.
    pub fn route(&self, mut request: OutboundRequest) -> OutboundRequest {
        let Some(route) = self.route_for(&request) else { return request };
        fill_metadata(&mut request.action, route);
        if request.identity.is_none() {
            request.identity = self.identity_for(route.platform).cloned();
        }
        request
    }

    fn route_for(&self, request: &OutboundRequest) -> Option<&ChatRoute> {
        let platforms = self.chats.get(request.action.chat_id()?)?;
        match &request.identity {
            Some(identity) => platforms.get(&Platform::from_name(&identity.platform)).map(|s| &s.route),
            None if platforms.len() == 1 => platforms.values().next().map(|s| &s.route),
            None => None,
        }
    }

    /// How many chats are remembered.
    pub fn len(&self) -> usize {
        self.recency.len()
    }

    /// Whether no chat is remembered.
    pub fn is_empty(&self) -> bool {
        self.recency.is_empty()
    }

    /// How many chats are remembered at most.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

/// Adds the route's known entries the metadata lacks.
fn fill(metadata: &mut Object, route: &ChatRoute) {
    for (key, value) in route.metadata() {
        if let Some(value) = value {
            metadata.entry(key).or_insert_with(|| Value::String(value.clone()));
        }
    }
}

/// [`fill`] for a metadata field the op may lack; an empty map is not created.
fn fill_optional(metadata: &mut Option<Object>, route: &ChatRoute) {
    let metadata = metadata.get_or_insert_with(Object::new);
    fill(metadata, route);
}

fn fill_metadata(action: &mut OutboundAction, route: &ChatRoute) {
    if route.metadata().iter().all(|(_, v)| v.is_none()) {
        // Nothing to add: leave absent metadata absent rather than write `{}`.
        return;
    }
    match action {
        OutboundAction::Send(a) => fill(&mut a.metadata, route),
        OutboundAction::FollowUp(a) => fill(&mut a.metadata, route),
        OutboundAction::Draft(a) => fill(&mut a.metadata, route),
        OutboundAction::Edit(a) => fill_optional(&mut a.metadata, route),
        OutboundAction::Typing(a) => fill_optional(&mut a.metadata, route),
        OutboundAction::SendMedia(a) => fill_optional(&mut a.metadata, route),
        OutboundAction::Prompt(a) => fill_optional(&mut a.metadata, route),
        OutboundAction::React(a) => fill_optional(&mut a.metadata, route),
        OutboundAction::ThreadCreate(a) => fill_optional(&mut a.metadata, route),
        OutboundAction::ThreadRename(a) => fill_optional(&mut a.metadata, route),
        OutboundAction::Other(raw) => match raw.fields.get_mut("metadata") {
            Some(Value::Object(metadata)) => fill(metadata, route),
            None | Some(Value::Null) => {
                let mut metadata = Object::new();
                fill(&mut metadata, route);
                raw.fields.insert("metadata".to_owned(), Value::Object(metadata));
            }
            Some(_) => {}
        },
        // No metadata field in the op.
        OutboundAction::GetChatInfo(_) => {}
        // The enum is non-exhaustive upstream: a future op gets no metadata
        // until it is taught here, which is safe (the caller's is kept as is).
        #[allow(unreachable_patterns)]
        _ => {}
    }
}

#[cfg(test)]
#[path = "routing_tests.rs"]
mod tests;
