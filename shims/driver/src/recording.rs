//! Recording every WebSocket message of every connection, as it was sent
//! or received, for replaying a session later (`relay replay`).

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use async_tungstenite::tungstenite::Message;
use relay_core::gateway::Identity;

/// Which way a recorded message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Received from the peer.
    In,
    /// Sent to the peer.
    Out,
}

/// What a [`Recorder`] is shown.
#[derive(Debug, Clone, Copy)]
pub enum Recorded<'a> {
    /// A connection started. On the gateway side: the identities it
    /// announces and the seed of its machine, which make a replay draw the
    /// same request ids.
    Opened {
        /// The announced identities (gateway side; empty on the connector side).
        identities: &'a [Identity],
        /// The machine's seed (gateway side).
        seed: Option<u64>,
    },
    /// A text message.
    Text(Direction, &'a str),
    /// A binary message.
    Binary(Direction, &'a [u8]),
    /// A ping or a pong (keepalive).
    Keepalive(Direction),
    /// A close frame: its code and reason, when it had them.
    Close(Direction, Option<(u16, &'a str)>),
}

/// Sees every message of every connection, with the connection's number
/// (in the order connections started, from 1) and the time; it must
/// return quickly (hand the work to a thread of its own).
#[derive(Clone)]
pub struct Recorder(Arc<RecordFn>);

/// What a [`Recorder`] calls: connection number, time, what happened.
type RecordFn = dyn Fn(u64, Instant, Recorded<'_>) + Send + Sync;

impl Recorder {
    /// A recorder calling `record`.
    pub fn new(record: impl Fn(u64, Instant, Recorded<'_>) + Send + Sync + 'static) -> Self {
        Self(Arc::new(record))
    }

    pub(crate) fn record(&self, conn: u64, at: Instant, what: Recorded<'_>) {
        (self.0)(conn, at, what);
    }

    /// Records `message`.
    pub(crate) fn message(&self, conn: u64, at: Instant, direction: Direction, message: &Message) {
        let what = match message {
            Message::Text(text) => Recorded::Text(direction, text.as_str()),
            Message::Binary(bytes) => Recorded::Binary(direction, bytes),
            Message::Ping(_) | Message::Pong(_) => Recorded::Keepalive(direction),
            Message::Close(frame) => {
                Recorded::Close(direction, frame.as_ref().map(|f| (u16::from(f.code), f.reason.as_str())))
            }
            Message::Frame(_) => return,
        };
        self.record(conn, at, what);
    }
}

impl fmt::Debug for Recorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Recorder")
    }
}
