//! Session routing across connections (PROTOCOL §6): [`SessionRouter`].

use std::collections::{BTreeMap, BTreeSet};

use super::Event;
use crate::policy::{SessionKeyOptions, session_key};
use crate::wire::{MessageEvent, OutboundAction};

/// Default number of session keys a [`SessionRouter`] keeps.
pub const DEFAULT_ROUTER_CAPACITY: usize = 65_536;

/// No connection owns the session: drop the frame and report it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no connection owns session {session_key}")]
pub struct NoRoute {
    /// The session key that has no owner.
    pub session_key: String,
}

/// Which connection owns a session (PROTOCOL §6): a connector with several
/// gateways must send each `interrupt_inbound` down the socket of the gateway
/// running that session.
///
/// The owner of a session key is the connection that most recently received
/// an inbound event with that key (§10, default flags, no profile), or that
/// most recently sent a frame naming it (`follow_up`, `interrupt`). The
/// router is plain data fed by the application — it sees every connection,
/// which no single machine does — and reads no clock.
///
/// Memory is bounded: at most `capacity` keys are kept, and when a new key
/// would exceed that, the key noted least recently (by insertion or update,
/// not by lookup) is forgotten. A forgotten key reads as [`NoRoute`], the
/// same as one never seen, so the worst case is a dropped interrupt for a
/// session idle for longer than `capacity` other sessions were touched.
///
/// ```
/// use relay_core::connector::{NoRoute, SessionRouter};
/// use relay_core::wire::{MessageEvent, Platform, SessionSource};
///
/// let mut router = SessionRouter::<u64>::new(1024);
/// let source = SessionSource::new(Platform::Telegram, "111", "dm");
/// router.note_inbound(1, &MessageEvent::text(source, "hi"));
/// assert_eq!(router.route("agent:main:telegram:dm:111"), Ok(&1));
///
/// router.note_session(2, "agent:main:telegram:dm:111"); // gateway 2 sent an interrupt for it
/// assert_eq!(router.route("agent:main:telegram:dm:111"), Ok(&2));
///
/// router.remove_connection(&2);
/// assert!(matches!(router.route("agent:main:telegram:dm:111"), Err(NoRoute { .. })));
/// ```
///
/// `C` is the application's connection id (any ordered type; `u64` by default).
#[derive(Debug, Clone)]
pub struct SessionRouter<C = u64> {
    capacity: usize,
    /// Session key → owner and the stamp of its last note.
    routes: BTreeMap<String, (C, u64)>,
    /// Stamp → session key, oldest first: the eviction order.
    order: BTreeMap<u64, String>,
    /// Connection → its keys, so removing a connection is proportional to its keys.
    by_connection: BTreeMap<C, BTreeSet<String>>,
    next_stamp: u64,
}

impl<C: Ord + Clone> Default for SessionRouter<C> {
    fn default() -> Self {
        Self::new(DEFAULT_ROUTER_CAPACITY)
    }
}

impl<C: Ord + Clone> SessionRouter<C> {
    /// A router that keeps at most `capacity` keys (0 counts as 1).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            routes: BTreeMap::new(),
            order: BTreeMap::new(),
            by_connection: BTreeMap::new(),
            next_stamp: 0,
        }
    }

    /// `connection` received (was pushed) `event`: it owns the event's session.
    pub fn note_inbound(&mut self, connection: C, event: &MessageEvent) {
        let key = session_key(&event.source, SessionKeyOptions::default(), None);
        self.note_session(connection, &key);
    }

    /// `connection` sent a frame naming `session_key`: it owns that session.
    pub fn note_session(&mut self, connection: C, session_key: &str) {
        // The usual case, a session that keeps its owner: refresh its stamp
        // and move the key it already holds, allocating nothing.
        if let Some((owner, stamp)) = self.routes.get_mut(session_key) {
            if *owner == connection {
                let fresh = self.next_stamp;
                self.next_stamp += 1;
                let key = self.order.remove(stamp).unwrap_or_else(|| session_key.to_owned());
                *stamp = fresh;
                self.order.insert(fresh, key);
                return;
            }
        }
        self.forget(session_key);
        let stamp = self.next_stamp;
        self.next_stamp += 1;
        self.by_connection.entry(connection.clone()).or_default().insert(session_key.to_owned());
        self.routes.insert(session_key.to_owned(), (connection, stamp));
        self.order.insert(stamp, session_key.to_owned());
        while self.routes.len() > self.capacity {
            let Some((_, oldest)) = self.order.pop_first() else { break };
            self.forget(&oldest);
        }
    }

    /// Notes what a machine event from `connection` says about ownership:
    /// a `follow_up` request or an `interrupt` names a session.
    pub fn observe(&mut self, connection: C, event: &Event) {
        if let Some(session_key) = named_session(event) {
            self.note_session(connection, session_key);
        }
    }

    /// The connection owning `session_key`.
    ///
    /// # Errors
    ///
    /// [`NoRoute`] when no connection owns it (never seen, forgotten, or its
    /// connection was removed).
    pub fn route(&self, session_key: &str) -> Result<&C, NoRoute> {
        self.routes
            .get(session_key)
            .map(|(connection, _)| connection)
            .ok_or_else(|| NoRoute { session_key: session_key.to_owned() })
    }

    /// Drops every route of `connection` (it closed); returns how many.
    pub fn remove_connection(&mut self, connection: &C) -> usize {
        let keys = self.by_connection.remove(connection).unwrap_or_default();
        for key in &keys {
            if let Some((_, stamp)) = self.routes.remove(key) {
                self.order.remove(&stamp);
            }
        }
        keys.len()
    }

    /// How many keys are routed.
    pub fn len(&self) -> usize {
        self.routes.len()
    }

    /// Whether no key is routed.
    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// The most keys kept.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Removes `session_key` from every index.
    fn forget(&mut self, session_key: &str) {
        let Some((connection, stamp)) = self.routes.remove(session_key) else { return };
        self.order.remove(&stamp);
        if let Some(keys) = self.by_connection.get_mut(&connection) {
            keys.remove(session_key);
            if keys.is_empty() {
                self.by_connection.remove(&connection);
            }
        }
    }
}

/// The session a machine event from a gateway names, which that gateway
/// then owns: a `follow_up` request's or an `interrupt`'s. What
/// [`SessionRouter::observe`] notes, for a caller that must tell these
/// events apart first (to take a lock only for them, say).
pub fn named_session(event: &Event) -> Option<&str> {
    match event {
        Event::Request { action, .. } => match action.as_ref() {
            OutboundAction::FollowUp(follow_up) => Some(&follow_up.session_key),
            _ => None,
        },
        Event::Interrupt { session_key, .. } => Some(session_key),
        _ => None,
    }
}
