//! Configuration of one connector-side connection.

use std::time::Duration;

use crate::policy::TokenVerifier;
use crate::wire::DEFAULT_MAX_LINE;

/// Settings of a [`ConnectorMachine`](super::ConnectorMachine). Every field has a sane default.
#[derive(Debug, Clone)]
pub struct ConnectorConfig {
    /// Upgrade-token verifier. Auth is on when it has any secret
    /// ([`TokenVerifier::is_enabled`]); the default has none (auth off).
    pub verifier: TokenVerifier,
    /// Time from the socket opening until the first descriptor must have been
    /// sent (default 30 s, the gateway's own handshake timeout).
    pub handshake_timeout: Duration,
    /// Silence after which the link counts as dead (default 60 s; gateways
    /// ping every 30 s, so a live one is never silent that long).
    pub dead_link_timeout: Duration,
    /// Longest accepted line in bytes (default 16 MiB).
    pub max_line: usize,
    /// Frames held while the first descriptor is not yet sent (default 1,024).
    pub max_held_frames: usize,
    /// `hello`s accepted on one connection (default 256); more closes it.
    pub max_hellos: usize,
    /// Requests handed to the application and not yet answered (default
    /// 10,000); beyond it the machine answers new ones itself with a failure.
    pub max_pending_requests: usize,
    /// Replayed backlog frames in flight without an `inbound_ack` (default 64;
    /// 0 counts as 1).
    pub replay_window: usize,
    /// Wait before a failed backlog read is asked again (default 1 s).
    pub store_retry: Duration,
    /// Keys the hash of the table of pending request ids, so that a gateway
    /// cannot pick ids that collide in it. Runtimes seed it from the
    /// operating system's randomness for every connection (default 0). It
    /// changes no output: the table is only looked up, never walked.
    pub seed: u64,
}

impl Default for ConnectorConfig {
    fn default() -> Self {
        Self {
            verifier: TokenVerifier::default(),
            handshake_timeout: Duration::from_secs(30),
            dead_link_timeout: Duration::from_secs(60),
            max_line: DEFAULT_MAX_LINE,
            max_held_frames: 1_024,
            max_hellos: 256,
            max_pending_requests: 10_000,
            replay_window: 64,
            store_retry: Duration::from_secs(1),
            seed: 0,
        }
    }
}

impl ConnectorConfig {
    /// A default configuration that verifies upgrade tokens with `verifier`.
    pub fn with_verifier(verifier: TokenVerifier) -> Self {
        Self { verifier, ..Self::default() }
    }
}
