//! Configuration of one gateway-side connection.

use std::time::Duration;

use serde_json::Value;

use crate::wire::DEFAULT_MAX_LINE;

/// One identity a gateway fronts: a `(platform, botId)` pair announced by `hello`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Identity {
    /// Platform name as sent in `hello`.
    pub platform: String,
    /// Bot id as sent in `hello` (may be empty).
    pub bot_id: String,
}

impl Identity {
    /// An identity.
    pub fn new(platform: impl Into<String>, bot_id: impl Into<String>) -> Self {
        Self { platform: platform.into(), bot_id: bot_id.into() }
    }

    /// What a gateway with no configured identity announces: `relay` / `""`.
    pub fn default_relay() -> Self {
        Self::new("relay", "")
    }
}

impl std::fmt::Display for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.platform, self.bot_id)
    }
}

/// Settings of a [`RelayMachine`](super::RelayMachine). Every field has a sane default.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Identities to announce, in order; empty means one `relay` / `""` hello.
    pub identities: Vec<Identity>,
    /// Slash-command manifest sent with Discord hellos (ext).
    pub command_manifest: Option<Vec<Value>>,
    /// Time from the socket opening to the first descriptor (default 30 s).
    pub handshake_timeout: Duration,
    /// Time a request waits for its result, counted from submission (default 30 s).
    pub request_timeout: Duration,
    /// Requests in flight plus held before the handshake (default 10,000).
    pub max_pending: usize,
    /// Frames held while waiting for the first descriptor (default 1,024).
    pub max_held_frames: usize,
    /// Longest accepted line in bytes (default 16 MiB).
    pub max_line: usize,
    /// Interval between WebSocket pings (default 30 s).
    pub ping_interval: Duration,
    /// Silence after which the link counts as dead (default 60 s).
    pub dead_link_timeout: Duration,
    /// Time to wait for `going_idle_ack` (default 2 s).
    pub going_idle_timeout: Duration,
    /// Seed of the request-id generator. Runtimes seed it from the operating
    /// system for every connection; tests pass fixed values.
    pub seed: u64,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            identities: Vec::new(),
            command_manifest: None,
            handshake_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(30),
            max_pending: 10_000,
            max_held_frames: 1_024,
            max_line: DEFAULT_MAX_LINE,
            ping_interval: Duration::from_secs(30),
            dead_link_timeout: Duration::from_secs(60),
            going_idle_timeout: Duration::from_secs(2),
            seed: 0,
        }
    }
}

impl GatewayConfig {
    /// The identities the machine announces (the configured ones, or `relay` / `""`).
    pub fn announced_identities(&self) -> Vec<Identity> {
        if self.identities.is_empty() { vec![Identity::default_relay()] } else { self.identities.clone() }
    }
}
