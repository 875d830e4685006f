//! What a [`RelayMachine`](super::RelayMachine) asks its driver to do.

use std::fmt;

use super::{Identity, RequestError};
use crate::wire::{ActionResult, Descriptor, Diagnostic, Forward, MessageEvent};

/// Handle of one request; its text form is the frame's `requestId`
/// (a UUIDv4 in simple form: 32 lowercase hex digits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(pub(crate) u128);

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.encode(&mut [0; uuid::fmt::Simple::LENGTH]))
    }
}

impl RequestId {
    /// Reads a wire `requestId`; only the simple form this crate writes matches.
    pub fn parse(text: &str) -> Option<Self> {
        // Eight digits at a time: it runs once per result, and a digit at a
        // time is a chain of 32 dependent shifts of a u128.
        let digits: &[u8; 32] = text.as_bytes().try_into().ok()?;
        digits
            .chunks_exact(8)
            .try_fold(0u128, |id, chunk| {
                let word = u64::from_be_bytes(chunk.try_into().ok()?);
                Some(id << 32 | u128::from(hex_word(word)?))
            })
            .map(Self)
    }

    /// The wire text (`{:032x}`), without the formatting machinery: it is
    /// written once per request.
    pub(crate) fn to_hex(self) -> String {
        self.encode(&mut [0; uuid::fmt::Simple::LENGTH]).to_owned()
    }

    /// The 32 lowercase hex digits, written into `buffer`.
    fn encode(self, buffer: &mut [u8; uuid::fmt::Simple::LENGTH]) -> &str {
        uuid::Uuid::from_u128(self.0).simple().encode_lower(buffer)
    }
}

/// The value of eight lowercase hex digits, the first in the top byte of
/// `word`; `None` when any byte is not one.
fn hex_word(word: u64) -> Option<u32> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    if word & HIGH != 0 {
        return None;
    }
    // For a byte below 0x80, adding 0x80 - lo sets its top bit exactly when
    // it is at least `lo`, and never carries into the next byte.
    let at_least = |lo: u8| word.wrapping_add(ONES * u64::from(0x80 - lo)) & HIGH;
    let decimal = at_least(b'0') & !at_least(b'9' + 1);
    let letter = at_least(b'a') & !at_least(b'f' + 1);
    if decimal | letter != HIGH {
        return None;
    }
    // '0'..='9' keep their low nibble; 'a'..='f' (bit 6 set) add 9 to theirs.
    let nibbles = (word & (ONES * 0x0F)) + ((word >> 6) & ONES) * 9;
    // Pack the nibbles: pairs into bytes, bytes into halves, halves into the word.
    let bytes = (nibbles | nibbles >> 4) & 0x00FF_00FF_00FF_00FF;
    let halves = (bytes | bytes >> 8) & 0x0000_FFFF_0000_FFFF;
    Some(((halves | halves >> 16) & 0xFFFF_FFFF) as u32)
}

/// A WebSocket close frame as the transport reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseFrame {
    /// Close code, e.g. 1000, 1008, 4401.
    pub code: u16,
    /// Close reason text.
    pub reason: String,
}

impl CloseFrame {
    /// A close frame.
    pub fn new(code: u16, reason: impl Into<String>) -> Self {
        Self { code, reason: reason.into() }
    }
}

/// Why a machine ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// The application closed it.
    Local,
    /// The transport ended; the close frame when there was one.
    TransportClosed(Option<CloseFrame>),
    /// Writing to the socket failed.
    WriteFailed(String),
    /// No descriptor within the handshake timeout.
    HandshakeTimedOut,
    /// The first descriptor was unusable.
    BadDescriptor(String),
    /// Too many frames arrived before the first descriptor.
    TooManyHeldFrames,
    /// Nothing was received for the dead-link timeout.
    DeadLink,
}

impl CloseReason {
    /// A short name of the reason (`local`, `transport_closed`, …), for
    /// output lines and metric labels.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::TransportClosed(_) => "transport_closed",
            Self::WriteFailed(_) => "write_failed",
            Self::HandshakeTimedOut => "handshake_timed_out",
            Self::BadDescriptor(_) => "bad_descriptor",
            Self::TooManyHeldFrames => "too_many_held_frames",
            Self::DeadLink => "dead_link",
        }
    }

    /// The close frame of the transport, when the transport ended with one.
    pub fn close_frame(&self) -> Option<&CloseFrame> {
        match self {
            Self::TransportClosed(frame) => frame.as_ref(),
            _ => None,
        }
    }

    /// Whether the handshake had a chance to finish: false for reasons that mean
    /// the connection attempt itself failed.
    pub fn is_handshake_failure(&self) -> bool {
        matches!(self, Self::HandshakeTimedOut | Self::BadDescriptor(_) | Self::TooManyHeldFrames)
    }

    /// The close frame the driver should send when it closes the WebSocket,
    /// or `None` when the socket is already gone.
    pub fn close_to_send(&self) -> Option<CloseFrame> {
        match self {
            Self::Local => Some(CloseFrame::new(1000, "")),
            Self::HandshakeTimedOut => Some(CloseFrame::new(1002, "handshake timed out")),
            Self::BadDescriptor(_) => Some(CloseFrame::new(1002, "bad descriptor")),
            Self::TooManyHeldFrames => Some(CloseFrame::new(1008, "too many frames before descriptor")),
            Self::DeadLink => Some(CloseFrame::new(1001, "no traffic")),
            Self::TransportClosed(_) | Self::WriteFailed(_) => None,
        }
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Local => f.write_str("relay transport closed"),
            Self::TransportClosed(None) => f.write_str("relay transport connection lost"),
            Self::TransportClosed(Some(c)) if c.reason.is_empty() => {
                write!(f, "relay transport connection lost (close code {})", c.code)
            }
            Self::TransportClosed(Some(c)) => {
                write!(f, "relay transport connection lost (close code {}: {})", c.code, c.reason)
            }
            Self::WriteFailed(detail) => write!(f, "relay send failed: {detail}"),
            Self::HandshakeTimedOut => f.write_str("relay handshake timed out"),
            Self::BadDescriptor(detail) => write!(f, "relay bad descriptor: {detail}"),
            Self::TooManyHeldFrames => f.write_str("relay too many frames before the handshake"),
            Self::DeadLink => f.write_str("relay link dead: nothing received within the keepalive timeout"),
        }
    }
}

/// Something for the application.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// The first descriptor arrived: the handshake is complete.
    Ready {
        /// The identity it answers (the first hello).
        identity: Identity,
        /// The default descriptor.
        descriptor: Box<Descriptor>,
    },
    /// A later descriptor, for another announced identity.
    Descriptor {
        /// The identity it answers.
        identity: Identity,
        /// Its capabilities.
        descriptor: Box<Descriptor>,
    },
    /// An inbound message; acknowledge `buffer_id` (if any) once it is in custody.
    Inbound {
        /// The event (boxed: events are large and actions move through a queue).
        event: Box<MessageEvent>,
        /// Backlog entry to acknowledge.
        buffer_id: Option<String>,
    },
    /// A forwarded webhook; acknowledge `buffer_id` (if any) once it is in custody.
    Passthrough {
        /// The request.
        forward: Box<Forward>,
        /// Backlog entry to acknowledge.
        buffer_id: Option<String>,
    },
    /// The connector asks to stop this session's turn.
    Interrupt {
        /// The session.
        session_key: String,
        /// The chat.
        chat_id: String,
    },
    /// The connector acknowledged `going_idle`: it now buffers everything.
    IdleAcknowledged,
    /// No `going_idle_ack` arrived in time.
    IdleTimedOut,
    /// A line or frame was skipped; the connection stays up.
    Diagnostic(Diagnostic),
}

/// One step for the driver, in causal order.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Action {
    /// Send this line (compact JSON plus `\n`) as one WebSocket text message.
    SendFrame(String),
    /// Send a WebSocket ping.
    SendPing,
    /// Hand this to the application.
    Deliver(Event),
    /// A request got its result (`success: false` included).
    Resolve {
        /// The request.
        id: RequestId,
        /// The connector's answer.
        result: ActionResult,
    },
    /// A request failed.
    Fail {
        /// The request.
        id: RequestId,
        /// Why, and whether it is ambiguous.
        error: RequestError,
    },
    /// The machine ended; always the last action, exactly once. Close the
    /// WebSocket with [`CloseReason::close_to_send`] if it is still open.
    Closed(CloseReason),
}
