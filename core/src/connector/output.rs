//! What a [`ConnectorMachine`](super::ConnectorMachine) asks its driver to do.

use std::fmt;

use serde_json::Value;

use super::{BufferedFrame, StoreFailure, StoreRequest};
use crate::gateway::{CloseFrame, Identity};
use crate::policy::{TokenRejection, UNAUTHORIZED_CLOSE_CODE};
use crate::wire::{Diagnostic, OutboundAction};

/// Longest close reason a WebSocket close frame can carry, in bytes (RFC 6455 §5.5).
const MAX_CLOSE_REASON: usize = 123;

/// Why a connector machine ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// The upgrade token was refused (close 4401, reason `expired` or `unauthorized`).
    Rejected(TokenRejection),
    /// The application refused an identity (close 1008, reason naming it).
    RefusedIdentity {
        /// The identity of the hello that was refused.
        identity: Identity,
        /// The application's reason.
        reason: String,
    },
    /// The application closed it.
    Local,
    /// The transport ended; the close frame when there was one.
    TransportClosed(Option<CloseFrame>),
    /// Writing to the socket failed.
    WriteFailed(String),
    /// No descriptor was sent within the handshake timeout.
    HandshakeTimedOut,
    /// Too many frames arrived before the first descriptor was sent.
    TooManyHeldFrames,
    /// The gateway sent more `hello`s than the configured maximum.
    TooManyHellos,
    /// Nothing was received for the dead-link timeout.
    DeadLink,
}

impl CloseReason {
    /// A short name of the reason (`rejected`, `transport_closed`, …), for
    /// output lines and metric labels.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Rejected(_) => "rejected",
            Self::RefusedIdentity { .. } => "refused_identity",
            Self::Local => "local",
            Self::TransportClosed(_) => "transport_closed",
            Self::WriteFailed(_) => "write_failed",
            Self::HandshakeTimedOut => "handshake_timed_out",
            Self::TooManyHeldFrames => "too_many_held_frames",
            Self::TooManyHellos => "too_many_hellos",
            Self::DeadLink => "dead_link",
        }
    }

    /// The close frame the driver should send when it closes the WebSocket,
    /// or `None` when the socket is already gone. Reasons are cut to the 123
    /// bytes a close frame can carry.
    pub fn close_to_send(&self) -> Option<CloseFrame> {
        let frame = match self {
            Self::Rejected(rejection) => CloseFrame::new(UNAUTHORIZED_CLOSE_CODE, rejection.as_str()),
            Self::RefusedIdentity { identity, reason } if reason.is_empty() => {
                CloseFrame::new(1008, format!("identity refused: {identity}"))
            }
            Self::RefusedIdentity { identity, reason } => {
                CloseFrame::new(1008, format!("identity refused: {identity}: {reason}"))
            }
            Self::Local => CloseFrame::new(1000, ""),
            Self::HandshakeTimedOut => CloseFrame::new(1002, "handshake timed out"),
            Self::TooManyHeldFrames => CloseFrame::new(1008, "too many frames before descriptor"),
            Self::TooManyHellos => CloseFrame::new(1008, "too many hellos"),
            Self::DeadLink => CloseFrame::new(1001, "no traffic"),
            Self::TransportClosed(_) | Self::WriteFailed(_) => return None,
        };
        Some(CloseFrame::new(frame.code, truncate(frame.reason, MAX_CLOSE_REASON)))
    }
}

/// Cuts `text` to at most `max` bytes on a character boundary.
fn truncate(mut text: String, max: usize) -> String {
    if text.len() > max {
        let cut = (0..=max).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
        text.truncate(cut);
    }
    text
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rejected(rejection) => write!(f, "upgrade rejected: {rejection}"),
            Self::RefusedIdentity { identity, reason } => write!(f, "identity refused: {identity}: {reason}"),
            Self::Local => f.write_str("closed locally"),
            Self::TransportClosed(None) => f.write_str("connection lost"),
            Self::TransportClosed(Some(c)) => {
                write!(f, "connection lost (close code {}: {})", c.code, c.reason)
            }
            Self::WriteFailed(detail) => write!(f, "send failed: {detail}"),
            Self::HandshakeTimedOut => f.write_str("handshake timed out"),
            Self::TooManyHeldFrames => f.write_str("too many frames before the handshake"),
            Self::TooManyHellos => f.write_str("too many hellos"),
            Self::DeadLink => f.write_str("link dead: nothing received within the keepalive timeout"),
        }
    }
}

/// Something for the application.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// The gateway announced an identity: answer with
    /// [`answer_hello`](super::ConnectorMachine::answer_hello) or
    /// [`refuse_hello`](super::ConnectorMachine::refuse_hello). Hellos are
    /// answered in arrival order.
    Hello {
        /// `(platform, botId)` of the hello.
        identity: Identity,
        /// Slash commands to register (ext, Discord only).
        command_manifest: Option<Vec<Value>>,
    },
    /// The gateway asks for an action: answer with
    /// [`respond`](super::ConnectorMachine::respond).
    Request {
        /// The wire `requestId`, opaque.
        request_id: String,
        /// The announced identity it is for (an untagged outbound gets the first one).
        identity: Identity,
        /// What to do (boxed: actions are large and events move through a queue).
        action: Box<OutboundAction>,
    },
    /// The gateway asks to stop a session's turn.
    Interrupt {
        /// The session.
        session_key: String,
        /// Why, when given.
        reason: Option<String>,
    },
    /// The gateway took custody of a buffered frame.
    InboundAck {
        /// The acknowledged buffer id.
        buffer_id: String,
        /// Whether it acknowledges a frame this machine replayed from the
        /// backlog (a [`StoreRequest::Remove`] of the entry follows);
        /// `false` for ids the application pushed itself, or repeated acks.
        replayed: bool,
    },
    /// The gateway went idle: `going_idle_ack` was sent and from now on
    /// pushes must go to the backlog.
    GoingIdle,
    /// The backlog is empty and pushes are delivered live from now on.
    Live,
    /// A backlog read failed; the machine asks again after
    /// [`ConnectorConfig::store_retry`](super::ConnectorConfig::store_retry).
    StoreFailed(StoreFailure),
    /// A line or frame was skipped; the connection stays up.
    Diagnostic(Diagnostic),
}

/// One step for the driver, in causal order.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Action {
    /// Send this line (compact JSON plus `\n`) as one WebSocket text message.
    SendFrame(String),
    /// Hand this to the application.
    Deliver(Event),
    /// Perform this operation on the backlog store (see [`StoreRequest`]).
    Store(StoreRequest),
    /// The machine ended; always the last action, exactly once. Close the
    /// WebSocket with [`CloseReason::close_to_send`] if it is still open.
    Closed(CloseReason),
}

/// What happened to a pushed frame.
#[derive(Debug, Clone, PartialEq)]
#[must_use = "a frame handed back must be appended to the backlog, or it is lost"]
pub enum PushOutcome {
    /// Queued for sending: a [`Action::SendFrame`] follows.
    Sent,
    /// Not sent, because the gateway went idle or the backlog is being
    /// replayed: append the frame to this gateway's backlog
    /// ([`Backlog::append`](super::Backlog::append) with
    /// [`backlog_key`](super::ConnectorMachine::backlog_key)) before
    /// performing any store request that follows. It goes out in order,
    /// behind the entries already there.
    AppendToBacklog(BufferedFrame),
    /// Not sent and not bufferable: an interrupt for an idle gateway (the
    /// turn it targets is not running there).
    Dropped,
}

/// A command the machine could not take: the caller misused it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectorError {
    /// The machine already ended.
    #[error("connector connection closed")]
    Closed,
    /// No `hello` is waiting for an answer.
    #[error("no hello is waiting for an answer")]
    NoHelloToAnswer,
    /// No request with this id is waiting for an answer (unknown or already answered).
    #[error("no request {0:?} is waiting for an answer")]
    UnknownRequest(String),
    /// Pushes need a completed handshake (the first descriptor sent).
    #[error("the handshake is not complete")]
    HandshakeIncomplete,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_frames() {
        let refused =
            CloseReason::RefusedIdentity { identity: Identity::new("slack", "B1"), reason: "".into() };
        assert_eq!(refused.close_to_send(), Some(CloseFrame::new(1008, "identity refused: slack:B1")));
        let expired = CloseReason::Rejected(TokenRejection::Expired);
        assert_eq!(expired.close_to_send(), Some(CloseFrame::new(4401, "expired")));
        assert_eq!(CloseReason::TransportClosed(None).close_to_send(), None);
        assert_eq!(CloseReason::WriteFailed("x".into()).close_to_send(), None);
    }

    #[test]
    fn long_reasons_are_cut_on_a_char_boundary() {
        let identity = Identity::new("discord", "é".repeat(100));
        let reason = CloseReason::RefusedIdentity { identity, reason: "no".into() };
        let frame = reason.close_to_send().unwrap();
        assert!(frame.reason.len() <= 123, "{}", frame.reason.len());
        assert!(frame.reason.starts_with("identity refused: discord:é"));
        assert_eq!(truncate("abc".into(), 3), "abc");
        assert_eq!(truncate("aé".into(), 2), "a");
    }
}
