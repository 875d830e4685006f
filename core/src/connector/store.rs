//! What a connector machine asks of the backlog store, and how a driver
//! answers. The machine never touches the store: a store may be a file or a
//! network database, so reading and removing are [`Action::Store`] requests
//! that the driver performs however it likes (on a worker thread, over the
//! network), and a read's answer comes back through
//! [`ConnectorMachine::handle_backlog_read`]. Appends are the application's
//! (a push hands the frame back as [`PushOutcome::AppendToBacklog`]).
//!
//! [`Action::Store`]: super::Action::Store
//! [`PushOutcome::AppendToBacklog`]: super::PushOutcome::AppendToBacklog

use std::fmt;
use std::time::Instant;

use super::{Backlog, BacklogEntry, BacklogKey, ConnectorMachine};

/// A store operation the machine needs, in the order it needs them.
///
/// The driver must perform store operations of one key in the order they
/// were asked for, appends included: an append handed back by a push comes
/// before any read the machine asks for after that push.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreRequest {
    /// List up to `limit` entries of `key` after the entry `after` (from the
    /// start when `None`), in order; answer with
    /// [`ConnectorMachine::handle_backlog_read`]. At most one read is
    /// outstanding per machine.
    Read {
        /// Whose backlog.
        key: BacklogKey,
        /// The last entry already replayed on this connection.
        after: Option<String>,
        /// At most this many (the free room in the replay window).
        limit: usize,
    },
    /// Remove these acknowledged entries. No answer is needed: an entry
    /// that could not be removed is replayed again on a later connection,
    /// and the gateway's dedupe absorbs it (delivery is at-least-once).
    Remove {
        /// Whose backlog.
        key: BacklogKey,
        /// The acknowledged buffer ids.
        buffer_ids: Vec<String>,
    },
}

/// A store operation that failed: the store's error, as a sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreFailure(pub String);

impl StoreFailure {
    /// The failure of a store's error.
    pub fn of(error: &dyn std::error::Error) -> Self {
        Self(error.to_string())
    }
}

impl fmt::Display for StoreFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StoreFailure {}

/// Performs `request` on a store that answers at once (the in-memory store,
/// tests) and hands a read's answer back to `machine`: what a driver does
/// with [`Action::Store`](super::Action::Store) when it needs no waiting.
///
/// # Errors
///
/// A removal's error (the entries stay and are replayed again later); a
/// read's error goes to the machine, which retries it.
pub fn serve_request<B: Backlog + ?Sized>(
    machine: &mut ConnectorMachine,
    now: Instant,
    request: StoreRequest,
    store: &mut B,
) -> Result<(), B::Error> {
    match request {
        StoreRequest::Read { key, after, limit } => {
            let entries = store.entries_after(&key, after.as_deref(), limit);
            let entries = entries.map_err(|e| StoreFailure::of(&e));
            machine.handle_backlog_read(now, entries);
            Ok(())
        }
        StoreRequest::Remove { key, buffer_ids } => store.remove_batch(&key, &buffer_ids).map(drop),
    }
}

/// The entries a read returned, checked against what was asked: a store
/// that returns more than `limit` has the surplus ignored.
pub(crate) fn within_limit(mut entries: Vec<BacklogEntry>, limit: usize) -> Vec<BacklogEntry> {
    entries.truncate(limit);
    entries
}
