//! Who the connector lets in, and what time it thinks it is: the upgrade
//! token checked by a fresh machine's verifier, changed by 4401 episodes.

use std::time::Instant;

use crate::connector::ConnectorConfig;
use crate::policy::{Secret, TokenVerifier};

/// A secret the gateway does not hold: a verifier with only this one
/// refuses the gateway's tokens as `unauthorized`.
const OTHER_SECRET: &str = "rotated-away";
/// How far ahead the connector's clock runs during an expiry episode
/// (beyond the tokens' 300 s lifetime).
const CLOCK_AHEAD_SECS: u64 = 3_600;

/// Who the connector lets in, and what time it thinks it is.
#[derive(Debug)]
pub(super) struct Auth {
    pub(super) enabled: bool,
    pub(super) secret: Secret,
    pub(super) other: Secret,
    pub(super) reject_next: u32,
    pub(super) revoked: bool,
    pub(super) clock_ahead_until: Option<Instant>,
}

impl Auth {
    pub(super) fn new(enabled: bool, secret: &str) -> Self {
        let secret_of = |s: &str| Secret::new(s).expect("the simulation's secrets are not blank");
        Self {
            enabled,
            secret: secret_of(secret),
            other: secret_of(OTHER_SECRET),
            reject_next: 0,
            revoked: false,
            clock_ahead_until: None,
        }
    }

    /// The configuration and wall time of a machine for a dial arriving now.
    pub(super) fn admit(&mut self, now: Instant, unix: u64, window: usize) -> (ConnectorConfig, u64) {
        let mut config = ConnectorConfig { replay_window: window, ..ConnectorConfig::default() };
        let mut unix = unix;
        if self.enabled {
            let reject = self.revoked || self.reject_next > 0;
            self.reject_next = self.reject_next.saturating_sub(1);
            let secret = if reject { &self.other } else { &self.secret };
            config.verifier = TokenVerifier::new([secret.clone()]);
            if self.clock_ahead_until.is_some_and(|until| now < until) {
                unix += CLOCK_AHEAD_SECS;
            }
        }
        (config, unix)
    }
}
