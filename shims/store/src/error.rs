//! What a [`StoreHandle`](crate::StoreHandle) operation can fail with.

use std::time::Duration;

use relay_core::connector::BacklogKey;

/// Why a store operation did not complete.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The key's backlog already holds
    /// [`StoreOptions::max_entries_per_gateway`](crate::StoreOptions) entries;
    /// the frame was not appended.
    #[error("the backlog of {key} is full ({limit} entries)")]
    Full {
        /// Whose backlog.
        key: BacklogKey,
        /// The bound it reached.
        limit: usize,
    },
    /// The store returned an error (its text); nothing of the operation is
    /// reported as done.
    #[error("store error: {0}")]
    Failed(String),
    /// The operation did not complete in time. The handle never produces
    /// this: a driver that applies a deadline with its runtime's clock
    /// reports the expiry with it.
    #[error("the store did not answer within {0:?}")]
    TimedOut(Duration),
    /// [`StoreOptions::max_queued`](crate::StoreOptions) operations were
    /// already waiting for the store (it is slow or stalled): this one was
    /// not queued, and nothing of it happened.
    #[error("the store is overloaded ({limit} operations waiting)")]
    Overloaded {
        /// The bound on waiting operations.
        limit: usize,
    },
    /// The worker ended (the store panicked, or its thread could not start)
    /// before the operation completed.
    #[error("the store stopped")]
    Stopped,
}
