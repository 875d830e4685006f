//! What the reconnect policy is told and what it answers.

use std::fmt;
use std::time::Instant;

use crate::gateway::CloseReason;
use crate::policy::{TokenRejection, UNAUTHORIZED_CLOSE_CODE};

/// A dial that failed before its socket opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DialFailure {
    /// The connection or the upgrade was refused (TCP, DNS, TLS, HTTP status).
    Refused(String),
    /// The socket did not open within the open timeout.
    TimedOut(String),
}

/// Why a connection attempt failed; a first connect that runs out of budget names the last one.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectCause {
    /// The dial was refused before the socket opened.
    Refused(String),
    /// The dial timed out before the socket opened.
    DialTimedOut(String),
    /// The connector closed with 4401, reason other than `expired`.
    Unauthorized,
    /// The connector closed with 4401 `expired`.
    Expired,
    /// No descriptor within the handshake timeout.
    HandshakeTimedOut,
    /// The first descriptor was unusable.
    BadDescriptor(String),
    /// The connection ended for another reason (e.g. the connector refused an identity).
    Closed(CloseReason),
}

impl ConnectCause {
    /// Classifies a machine's close reason.
    pub fn from_close(reason: &CloseReason) -> Self {
        if let Some(frame) = reason.close_frame().filter(|f| f.code == UNAUTHORIZED_CLOSE_CODE) {
            return if frame.reason == TokenRejection::Expired.as_str() {
                Self::Expired
            } else {
                Self::Unauthorized
            };
        }
        match reason {
            CloseReason::HandshakeTimedOut => Self::HandshakeTimedOut,
            CloseReason::BadDescriptor(detail) => Self::BadDescriptor(detail.clone()),
            other => Self::Closed(other.clone()),
        }
    }
}

impl From<DialFailure> for ConnectCause {
    fn from(failure: DialFailure) -> Self {
        match failure {
            DialFailure::Refused(detail) => Self::Refused(detail),
            DialFailure::TimedOut(detail) => Self::DialTimedOut(detail),
        }
    }
}

impl fmt::Display for ConnectCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Refused(detail) => write!(f, "relay connect refused: {detail}"),
            Self::DialTimedOut(detail) => write!(f, "relay connect timed out: {detail}"),
            Self::Unauthorized => f.write_str("relay upgrade unauthorized (close 4401)"),
            Self::Expired => f.write_str("relay upgrade token expired (close 4401)"),
            Self::HandshakeTimedOut => f.write_str("relay handshake timed out"),
            Self::BadDescriptor(detail) => write!(f, "relay bad descriptor: {detail}"),
            Self::Closed(reason) => reason.fmt(f),
        }
    }
}

/// Why the policy gave up for good.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReconnectError {
    /// The first connect did not succeed within its budget.
    #[error("relay connect failed within its budget: {last_cause}")]
    BudgetExhausted {
        /// The last attempt's failure.
        last_cause: ConnectCause,
    },
    /// A second 4401 on the re-dial after a first strike: the secret was revoked.
    #[error("relay upgrade secret revoked (close 4401 on the re-dial)")]
    Revoked,
    /// The connection ended and reconnect is disabled.
    #[error("relay connection ended and reconnect is disabled: {reason}")]
    Disabled {
        /// How the connection ended.
        reason: CloseReason,
    },
}

/// What the runtime should do next.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DialDecision {
    /// Dial now, with a freshly minted token; the dial is in flight from here.
    DialNow,
    /// Ask again at this instant (or after releasing a redial hold).
    WaitUntil(Instant),
    /// A dial is in flight: report its fate first.
    InFlight,
    /// A connection is up: report its end first.
    Connected,
    /// Give up and tell the application.
    Stop(ReconnectError),
}

/// An outcome reported out of turn: the caller misused the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReconnectMisuse {
    /// A dial outcome arrived with no dial in flight.
    #[error("no dial is in flight")]
    NoDialInFlight,
    /// A connection end arrived with no dial in flight and no connection up.
    #[error("no dial is in flight and no connection is up")]
    NoConnection,
}
