//! [`RedisStore`]: the backlog as one Redis stream per gateway.

mod backlog;

use std::cell::RefCell;
use std::fmt;
use std::time::Duration;

use crate::ConnectError;
use crate::link::{Dialer, Link};

/// How long a [`RedisStore`] waits on Redis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RedisStoreOptions {
    /// The bound on connecting, and on each read and write of a command
    /// (default 2 s): an operation on a Redis that stopped answering fails
    /// within it instead of hanging its worker.
    pub timeout: Duration,
}

impl Default for RedisStoreOptions {
    fn default() -> Self {
        Self { timeout: Duration::from_secs(2) }
    }
}

/// A [`Backlog`](relay_core::connector::Backlog) in Redis, shareable by
/// several connector instances.
///
/// Each gateway's backlog is the stream `relay:backlog:<key>`; an entry
/// holds the frame's wire line in its `line` field, and its stream id
/// (`1733500000000-0`) is the buffer id. Redis gives ids that grow with
/// every append to a stream and never repeat, also after entries are
/// deleted, so reading after a removed id resumes in order.
///
/// - [`append_batch`](relay_core::connector::Backlog::append_batch) is one
///   `MULTI`/`EXEC` transaction in one round trip: other clients never see
///   part of it, and a batch that Redis refuses while queueing it (out of
///   memory, say) appends nothing. Redis does not roll back a transaction
///   whose commands were accepted, but an `XADD` accepted on a stream key
///   can only then fail if something other than relay wrote that key.
/// - `entries_after` with an id that is not a stream id (`<ms>-<seq>`)
///   reads from the start, like the other stores: at worst entries are
///   delivered again, which the gateway's dedupe absorbs, where reading
///   nothing would leave them waiting. An entry that does not decode is
///   skipped with a warning and does not count against the limit.
/// - Removing an id that is not a stream id removes nothing.
///
/// What an acknowledged append survives depends on Redis's persistence
/// settings (see the crate's README): with `appendonly yes` and
/// `appendfsync always`, a Redis crash or a power loss.
///
/// Every call waits at most [`RedisStoreOptions::timeout`] per read and
/// write. A call that fails drops a connection that may be out of step,
/// and the next call connects again, so a Redis that comes back is used
/// again without any action; reads, counts and removals that meet a
/// connection broken since its last use retry once on a fresh one.
/// Appends never retry: one whose reply was lost may have been applied,
/// and it fails instead of risking an entry twice.
pub struct RedisStore {
    link: RefCell<Link>,
}

impl RedisStore {
    /// Connects to Redis at `url` (`redis://HOST:PORT[/DB]`) with default
    /// options, and checks that it answers.
    pub fn connect(url: &str) -> Result<Self, ConnectError> {
        Self::connect_with(url, RedisStoreOptions::default())
    }

    /// Connects to Redis at `url` and checks that it answers within
    /// `options.timeout`.
    pub fn connect_with(url: &str, options: RedisStoreOptions) -> Result<Self, ConnectError> {
        Ok(Self { link: RefCell::new(Link::open(Dialer::new(url, options.timeout)?)?) })
    }

    /// The address of the Redis, without any password.
    pub fn address(&self) -> String {
        self.link.borrow().dialer().address().to_owned()
    }
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("address", &self.link.borrow().dialer().address())
            .finish_non_exhaustive()
    }
}
