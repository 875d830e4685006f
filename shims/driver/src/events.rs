//! What a gateway client hands to the application.

use relay_core::gateway::{CloseReason, Identity};
use relay_core::wire::{Descriptor, Diagnostic, Forward, MessageEvent};

/// Something for the application, in arrival order.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ClientEvent {
    /// An inbound message; call `ack(buffer_id)` once it is in custody.
    Inbound {
        /// The event.
        event: Box<MessageEvent>,
        /// Backlog entry to acknowledge, for buffered delivery.
        buffer_id: Option<String>,
    },
    /// A forwarded webhook; call `ack(buffer_id)` once it is in custody.
    Passthrough {
        /// The request, with its exact body bytes.
        forward: Box<Forward>,
        /// Backlog entry to acknowledge, for buffered delivery.
        buffer_id: Option<String>,
    },
    /// The connector asks to stop this session's turn.
    Interrupt {
        /// The session.
        session_key: String,
        /// The chat.
        chat_id: String,
    },
    /// A descriptor arrived (the first of each connection is the default).
    Descriptor {
        /// The identity it answers.
        identity: Identity,
        /// Its capabilities.
        descriptor: Box<Descriptor>,
    },
    /// The connection changed state.
    Connection(ConnectionEvent),
    /// A line from the connector was skipped; the connection stays up.
    Diagnostic(Diagnostic),
}

/// Connection lifecycle, as the application sees it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ConnectionEvent {
    /// The connection ended unexpectedly; requests fail fast until the next
    /// one is up (reconnecting follows unless it is off).
    Lost {
        /// Why it ended.
        reason: CloseReason,
    },
    /// A new connection completed its handshake.
    Reconnected,
    /// The connector revoked this gateway's secret (a second 4401): terminal.
    Revoked,
    /// The client stopped for good (closed, reconnect off, or gave up).
    Stopped {
        /// Why.
        reason: String,
    },
}
