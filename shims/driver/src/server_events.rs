//! What a connector server hands to the application.

use relay_core::connector::CloseReason;
use relay_core::gateway::Identity;
use relay_core::wire::{Diagnostic, OutboundAction};
use serde_json::Value;

/// Identifies one accepted gateway connection.
pub type ConnId = u64;

/// Something for the connector application, tagged with its connection.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ServerEvent {
    /// A gateway connected (its upgrade token, if any, was accepted).
    Connected {
        /// The connection.
        conn: ConnId,
        /// The verified gateway id, when auth is on.
        gateway_id: Option<String>,
    },
    /// A gateway announced an identity: answer with `answer_hello` or `refuse_hello`.
    Hello {
        /// The connection.
        conn: ConnId,
        /// `(platform, botId)`.
        identity: Identity,
        /// Slash commands to register (ext).
        command_manifest: Option<Vec<Value>>,
    },
    /// A gateway asks for an action: answer with `respond`.
    Request {
        /// The connection.
        conn: ConnId,
        /// The wire `requestId`.
        request_id: String,
        /// The identity it is for.
        identity: Identity,
        /// What to do.
        action: Box<OutboundAction>,
    },
    /// A gateway asks to stop a session's turn.
    Interrupt {
        /// The connection.
        conn: ConnId,
        /// The session.
        session_key: String,
        /// Why, when given.
        reason: Option<String>,
    },
    /// A gateway took custody of a buffered frame.
    InboundAck {
        /// The connection.
        conn: ConnId,
        /// The acknowledged entry.
        buffer_id: String,
    },
    /// A gateway went idle: pushes for it are buffered from now on.
    GoingIdle {
        /// The connection.
        conn: ConnId,
    },
    /// The backlog of this gateway is drained: pushes go live again.
    Live {
        /// The connection.
        conn: ConnId,
    },
    /// A line from the gateway was skipped.
    Diagnostic {
        /// The connection.
        conn: ConnId,
        /// What was wrong.
        diagnostic: Diagnostic,
    },
    /// Reading the backlog for a replay failed; it is retried.
    StoreFailed {
        /// The connection.
        conn: ConnId,
        /// The store's error.
        error: String,
    },
    /// A connection ended (a refused upgrade token ends it at once, with close 4401).
    Closed {
        /// The connection.
        conn: ConnId,
        /// Why.
        reason: CloseReason,
    },
}
