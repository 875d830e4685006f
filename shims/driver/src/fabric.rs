//! Several connector instances on one shared backlog store.
//!
//! The rule that makes a gateway safe to move between instances while
//! pushes are in flight: **with a fabric, every push addressed to a gateway
//! goes through its backlog in the shared store**, durable first, and the
//! instance holding the gateway delivers it from there, in store order, the
//! way it replays a backlog (each frame with its `bufferId`, removed once
//! the gateway acknowledges it). The instance that took the push tells the
//! holder: itself directly, another instance through
//! [`announce_append`](Fabric::announce_append). So a push is never only
//! on a connection that may drop: whatever is unacknowledged when a holder
//! dies or its gateway moves is still in the store, for whoever holds the
//! gateway next, on any instance. Per submitting instance, pushes keep
//! their order: one instance's appends to a key land in the store in the
//! order they were made, and every holder delivers in store order.
//!
//! Sessions are shared the same way: each instance records which gateway
//! owns a session ([`note_session`](Fabric::note_session)), so an interrupt
//! submitted on any instance finds the gateway, and is handed to the
//! instance holding it ([`send_interrupt`](Fabric::send_interrupt)).
//! Interrupts are never buffered: one for a gateway no instance holds is
//! refused.

use relay_core::connector::BacklogKey;

use crate::BoxFuture;

/// The instance that holds a gateway, as the fabric last heard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// Its instance id.
    pub instance: String,
    /// Whether its connection delivers live (handshake done, backlog
    /// replayed, not idle).
    pub live: bool,
}

/// What another instance tells this one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum News {
    /// Something was appended to this gateway's backlog: read it.
    Appended(BacklogKey),
    /// Send `interrupt_inbound` for a session to this gateway.
    Interrupt {
        /// The gateway.
        to: BacklogKey,
        /// The session to interrupt.
        session_key: String,
        /// Its chat.
        chat_id: String,
    },
}

/// Called with every piece of [`News`] for a gateway this instance holds.
pub type NewsListener = Box<dyn Fn(News) + Send + Sync>;

/// Who holds which gateway across instances, which gateway owns which
/// session, and news between instances. An implementation keeps each
/// claim under a lease it refreshes itself, so that a dead instance's
/// claims expire.
pub trait Fabric: Send + Sync + std::fmt::Debug + 'static {
    /// This instance's id.
    fn instance_id(&self) -> &str;

    /// This instance holds a new ready connection of `key`; `live` says
    /// whether it delivers live. The newest connection of a gateway is the
    /// one to deliver through, so this takes the claim from any other
    /// instance.
    fn hold(&self, key: &BacklogKey, live: bool);

    /// This instance's connection of `key` now delivers live, or not. Unlike
    /// [`hold`](Self::hold) it never takes the claim from another instance:
    /// an old connection that has not noticed its gateway left must not
    /// take the gateway back from the instance it moved to.
    fn update(&self, key: &BacklogKey, live: bool);

    /// This instance holds no ready connection of `key` any more.
    fn release(&self, key: &BacklogKey);

    /// The instance holding `key` (this one included), if any claim is in
    /// force.
    fn holder(&self, key: &BacklogKey) -> BoxFuture<Result<Option<Holder>, String>>;

    /// Something was appended to `key`'s backlog on this instance: tell the
    /// instance holding it.
    fn announce_append(&self, key: &BacklogKey);

    /// The gateway `key` owns `session_key` (it was pushed an event of the
    /// session, or sent a frame naming it).
    fn note_session(&self, session_key: &str, key: &BacklogKey);

    /// The gateway that owns `session_key`, as any instance noted last.
    fn session_owner(&self, session_key: &str) -> BoxFuture<Result<Option<BacklogKey>, String>>;

    /// Hands an interrupt for `session_key` to the instance holding `to`.
    /// Not acknowledged: it is lost if that instance lets go of the
    /// gateway meanwhile, like an interrupt sent down a connection that
    /// drops.
    fn send_interrupt(&self, to: &BacklogKey, session_key: &str, chat_id: &str);

    /// Hands every piece of news from other instances about a gateway this
    /// instance holds to `listener`, from any thread. An implementation
    /// whose announcements can be missed (a reconnecting subscription) also
    /// calls it with [`News::Appended`] for every key it holds after
    /// resubscribing, and now and then: a spurious call costs one store read.
    fn subscribe(&self, listener: NewsListener);
}
