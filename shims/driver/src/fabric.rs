//! Several connector instances on one shared backlog store.
//!
//! The rule that makes a gateway safe to move between instances while
//! pushes are in flight: a push made on an instance that holds no ready
//! connection of the gateway goes into the gateway's backlog in the shared
//! store (durable first), and the instance that holds the gateway hears of
//! the append and delivers it from the store, in store order, the same way
//! it replays a backlog. A push made on the holder goes through its
//! connection as on a lone instance. So every push is either in the store
//! (delivered by whoever holds the gateway now or next) or on the
//! connection; a holder that dies leaves everything unacknowledged in the
//! store for the gateway's next handshake, on any instance.

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

/// Called with the backlog key of every append made on another instance.
pub type AppendListener = Box<dyn Fn(BacklogKey) + Send + Sync>;

/// Who holds which gateway across instances, and news of appends. An
/// implementation keeps each claim under a lease it refreshes itself, so
/// that a dead instance's claims expire.
pub trait Fabric: Send + Sync + std::fmt::Debug + 'static {
    /// This instance's id.
    fn instance_id(&self) -> &str;

    /// This instance holds a ready connection of `key`; `live` says whether
    /// it delivers live. Called again whenever that changes.
    fn hold(&self, key: &BacklogKey, live: bool);

    /// This instance holds no ready connection of `key` any more.
    fn release(&self, key: &BacklogKey);

    /// The instance holding `key` (this one included), if any claim is in
    /// force.
    fn holder(&self, key: &BacklogKey) -> BoxFuture<Result<Option<Holder>, String>>;

    /// Something was appended to `key`'s backlog on this instance: tell the
    /// instance holding it.
    fn announce_append(&self, key: &BacklogKey);

    /// Hands every append announced by other instances, for a gateway this
    /// instance holds, to `listener`, from any thread. An implementation
    /// whose announcements can be missed (a reconnecting subscription) also
    /// calls it for every key it holds after resubscribing, and now and
    /// then: a spurious call costs one store read.
    fn subscribe(&self, listener: AppendListener);
}
