//! The transcript of one scripted session: what the gateway sent, when, and
//! what the conformer did to it. Checks judge nothing else, so each is a
//! pure function that tests can feed with hand-made transcripts.

use std::time::Duration;

use relay_core::policy::TokenVerifier;
use serde_json::Value;

/// Everything seen during one run of the scenario.
#[derive(Debug, Default)]
pub(crate) struct Observation {
    /// How long the conformer waited for the first dial.
    pub(crate) wait: Duration,
    /// The `--secret` list; `None` when no secret was given (tokens are then
    /// checked for form and freshness only).
    pub(crate) verifier: Option<TokenVerifier>,
    /// `--expect-requests`: silence from the application is a failure.
    pub(crate) expect_requests: bool,
    /// `--expect-acks`: buffered frames that are never acked are a failure.
    pub(crate) expect_acks: bool,
    /// Every accepted connection, in accept order.
    pub(crate) connections: Vec<Connection>,
    /// The first request of the session, answered twice, and the unknown result sent after it.
    pub(crate) results: Option<ResultsStimulus>,
    /// The burst of connector frames pushed in every chunking.
    pub(crate) pushes: Option<PushStimulus>,
    /// The `bufferId`s pushed, on which connection.
    pub(crate) buffered: Option<BufferedStimulus>,
    /// How far the scenario got; `None` when it ran to its end.
    pub(crate) cut: Option<Cut>,
}

/// One WebSocket connection the gateway opened.
#[derive(Debug, Default, Clone)]
pub(crate) struct Connection {
    /// When the TCP connection was accepted (since the conformer started).
    pub(crate) accepted_at: Duration,
    /// The same instant as unix seconds, to judge a token's `exp`.
    pub(crate) accepted_unix: u64,
    /// The upgrade request's path.
    pub(crate) path: String,
    /// The upgrade request's `Authorization` header, when it had one.
    pub(crate) authorization: Option<String>,
    /// When the first descriptor was written; `None` when none was.
    pub(crate) descriptor_at: Option<Duration>,
    /// Every non-blank line the gateway sent, in order.
    pub(crate) frames: Vec<Received>,
    /// When a pong to the conformer's ping arrived.
    pub(crate) pong_at: Option<Duration>,
    /// How the connection ended; `None` while it was up when the run ended.
    pub(crate) end: Option<End>,
}

/// One line from the gateway.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    /// When its last byte arrived.
    pub(crate) at: Duration,
    /// The line, without its `\n` (and `\r`).
    pub(crate) line: String,
    /// The line parsed as JSON, when it is JSON.
    pub(crate) value: Option<Value>,
}

impl Received {
    /// A received line, parsed when it is JSON.
    pub(crate) fn new(at: Duration, line: String) -> Self {
        let value = serde_json::from_str(&line).ok();
        Self { at, line, value }
    }

    /// The frame's `type`, when it is an object with a string `type`.
    pub(crate) fn kind(&self) -> Option<&str> {
        self.value.as_ref()?.get("type")?.as_str()
    }

    /// The string field `key` of the frame.
    pub(crate) fn str_field(&self, key: &str) -> Option<&str> {
        self.value.as_ref()?.get(key)?.as_str()
    }
}

/// How a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct End {
    /// When.
    pub(crate) at: Duration,
    /// Who ended it, and how.
    pub(crate) by: EndedBy,
}

/// Who ended a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum EndedBy {
    /// The gateway sent a close frame.
    GatewayClose {
        /// Its close code (1005 when the frame had none).
        code: u16,
        /// Its close reason.
        reason: String,
    },
    /// The gateway's side ended without a close frame (or the socket failed).
    Vanished(String),
    /// The conformer ended it as a stimulus.
    Conformer(Stimulus),
}

/// What the conformer did to end a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stimulus {
    /// Closed the TCP connection without a close frame.
    Drop,
    /// Closed with 4401 `expired` after the handshake.
    Expired,
    /// Closed with 4401 `unauthorized` after the handshake (a first strike).
    Unauthorized,
    /// Closed with 4401 `unauthorized` right after the upgrade, before any descriptor.
    Refused,
}

/// The duplicate and unknown results.
#[derive(Debug, Clone)]
pub(crate) struct ResultsStimulus {
    /// Index into [`Observation::connections`].
    pub(crate) conn: usize,
    /// When the second result and the unknown one were written.
    pub(crate) at: Duration,
    /// The request answered twice.
    pub(crate) request_id: String,
}

/// The pushes of every frame type in every chunking.
#[derive(Debug, Clone)]
pub(crate) struct PushStimulus {
    /// Index into [`Observation::connections`].
    pub(crate) conn: usize,
    /// How many messages were written, for the detail.
    pub(crate) messages: usize,
    /// When the ping after them went out.
    pub(crate) ping_at: Duration,
}

/// The buffered frames.
#[derive(Debug, Clone)]
pub(crate) struct BufferedStimulus {
    /// Index into [`Observation::connections`].
    pub(crate) conn: usize,
    /// Their `bufferId`s, in push order.
    pub(crate) buffer_ids: Vec<String>,
}

/// Where the scenario stopped early, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cut {
    /// The step that could not go on.
    pub(crate) step: Step,
    /// One sentence: what the gateway did (or did not do).
    pub(crate) detail: String,
}

/// The steps of the scenario, in order; each is owned by the check that
/// judges it, which fails when the scenario stopped there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Step {
    /// Waiting for the first dial.
    Dial,
    /// Hellos and descriptors.
    Handshake,
    /// Requests, the duplicate and the unknown result.
    Requests,
    /// Pushes in every chunking, then a ping.
    Pushes,
    /// Buffered frames and their acks.
    Buffered,
    /// Two drops and the re-dials.
    Drops,
    /// 4401 `expired` and the re-dial.
    Expired,
    /// 4401 `unauthorized` twice.
    Revoked,
}

impl Observation {
    /// The connections the gateway dialled after connection `index`.
    pub(crate) fn next_after(&self, index: usize) -> Option<&Connection> {
        self.connections.get(index + 1)
    }

    /// The connections the conformer ended with `stimulus`, with their indices.
    pub(crate) fn ended_with(&self, stimulus: Stimulus) -> impl Iterator<Item = (usize, &Connection)> {
        self.connections
            .iter()
            .enumerate()
            .filter(move |(_, c)| c.end.as_ref().is_some_and(|e| e.by == EndedBy::Conformer(stimulus)))
    }

    /// All the gateway's frames with their connection index.
    pub(crate) fn frames(&self) -> impl Iterator<Item = (usize, &Received)> {
        self.connections.iter().enumerate().flat_map(|(i, c)| c.frames.iter().map(move |f| (i, f)))
    }
}

impl End {
    /// When the conformer ended the connection with `stimulus`, the time; else `None`.
    pub(crate) fn by_conformer(&self, stimulus: Stimulus) -> Option<Duration> {
        (self.by == EndedBy::Conformer(stimulus)).then_some(self.at)
    }
}

impl EndedBy {
    /// How it ended, for a detail: `close 1000 "bye"`, `without a close frame`, ….
    pub(crate) fn describe(&self) -> String {
        match self {
            Self::GatewayClose { code, reason } if reason.is_empty() => format!("close {code}"),
            Self::GatewayClose { code, reason } => format!("close {code} {reason:?}"),
            Self::Vanished(why) => why.clone(),
            Self::Conformer(stimulus) => format!("ended by the conformer: {stimulus:?}"),
        }
    }
}
