//! One raw connection to the connector under test: dial with or without a
//! token, send bytes in any chunking, read the next frame or close with a
//! timeout. Checks speak the wire through this, never through the gateway
//! library, so they can send what a well-behaved gateway never would.

use std::collections::VecDeque;
use std::time::Duration;

use async_tungstenite::WebSocketStream;
use async_tungstenite::tungstenite::Message;
use futures::StreamExt as _;
use relay_core::policy::UNAUTHORIZED_CLOSE_CODE;
use relay_core::wire::{DEFAULT_MAX_LINE, LineCodec, LineEvent, Object, read_json_object};
use relay_tokio::{DialTarget, MaybeTls, Tokio, open_websocket, websocket_config};
use serde_json::{Value, json};

use super::Probe;

/// How long a dial (TCP, TLS, upgrade) may take before the check gives up.
pub(super) const DIAL_WAIT: Duration = Duration::from_secs(3);
/// How long the kit waits for an answer it is owed (a descriptor, a result).
pub(super) const ANSWER_WAIT: Duration = Duration::from_secs(3);
/// How long the kit keeps listening after the last expected frame, to catch
/// extra ones (a second answer, a descriptor too many).
pub(super) const LINGER: Duration = Duration::from_millis(500);

/// Which upgrade token a dial presents.
#[derive(Debug, Clone)]
pub(super) enum Token {
    /// A fresh, valid token when auth is configured, else none.
    Good,
    /// No `Authorization` header at all.
    Absent,
    /// Exactly this token.
    Exactly(String),
}

/// How a burst of frames is cut into WebSocket messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Chunking {
    /// One frame per message, as gateways send.
    Whole,
    /// One character per message: one byte for the ASCII the kit sends
    /// (a text message must stay valid UTF-8 on its own).
    Bytes,
    /// The whole burst in two messages cut in the middle: several frames per
    /// message and a frame split across the two.
    Halves,
}

/// What reading the connection produced.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Next {
    /// A line that is a JSON object.
    Frame(Object),
    /// The connector closed the connection (or it failed).
    Closed {
        /// The close code, when a close frame came.
        code: Option<u16>,
        /// The close reason, or what failed.
        reason: String,
    },
    /// Nothing within the wait.
    Silent,
}

/// A connection to the connector, read line by line.
pub(super) struct Session {
    ws: WebSocketStream<MaybeTls<<Tokio as relay_tokio::Runtime>::Tcp>>,
    codec: LineCodec,
    /// Complete lines read but not yet returned.
    lines: VecDeque<Vec<u8>>,
    /// Pongs received so far, by payload.
    pongs: Vec<Vec<u8>>,
    /// Set once the connection ended; every later read returns it.
    ended: Option<Next>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").field("ended", &self.ended).finish_non_exhaustive()
    }
}

impl Session {
    /// Dials the probe's URL with `token`.
    pub(super) async fn open(probe: &Probe, token: Token) -> Result<Self, String> {
        Self::open_at(probe, &probe.target, token).await
    }

    /// Dials `target` (the probe's URL or a variant of it) with `token`.
    pub(super) async fn open_at(probe: &Probe, target: &DialTarget, token: Token) -> Result<Self, String> {
        let authorization = match token {
            Token::Good => probe.fresh_token().map(|t| format!("Bearer {t}")),
            Token::Absent => None,
            Token::Exactly(token) => Some(format!("Bearer {token}")),
        };
        let config = websocket_config(DEFAULT_MAX_LINE, 64 * 1024);
        let dial = open_websocket(&Tokio, target, authorization, &probe.roots, config);
        match tokio::time::timeout(DIAL_WAIT, dial).await {
            Ok(Ok(ws)) => Ok(Self {
                ws,
                codec: LineCodec::default(),
                lines: VecDeque::new(),
                pongs: Vec::new(),
                ended: None,
            }),
            Ok(Err(e)) => Err(format!("could not connect to {}: {e}", target.url)),
            Err(_) => Err(format!(
                "could not connect to {}: no upgrade answer within {} s",
                target.url,
                DIAL_WAIT.as_secs()
            )),
        }
    }

    /// Dials with a good token, sends one hello per identity and waits for the
    /// first descriptor (which completes the handshake, PROTOCOL §3); returns
    /// the session and that descriptor frame.
    pub(super) async fn handshake(probe: &Probe) -> Result<(Self, Object), String> {
        let mut session = Self::open(probe, Token::Good).await?;
        session.send_frames(&probe.hellos(), Chunking::Whole).await?;
        let descriptor = session.first_descriptor(probe).await?;
        Ok((session, descriptor))
    }

    /// The first descriptor after the hellos were sent; the error says what
    /// came instead, and what to pass when the connector refused the token.
    pub(super) async fn first_descriptor(&mut self, probe: &Probe) -> Result<Object, String> {
        let error = match self.expect_type("descriptor", ANSWER_WAIT).await {
            Ok(descriptor) => return Ok(descriptor),
            Err(e) => e,
        };
        Err(format!("{error} (after the hellos){}", self.refusal_hint(probe)))
    }

    /// When the connector closed with 4401: what to pass, for a detail.
    pub(super) fn refusal_hint(&self, probe: &Probe) -> &'static str {
        let refused = matches!(self.ended, Some(Next::Closed { code: Some(UNAUTHORIZED_CLOSE_CODE), .. }));
        match (refused, &probe.auth) {
            (true, None) => "; it wants a token: pass --gateway-id and --secret",
            (true, Some(_)) => "; check --gateway-id and --secret",
            (false, _) => "",
        }
    }

    /// Sends `frames` as lines, cut into messages as `chunking` says.
    pub(super) async fn send_frames(&mut self, frames: &[Value], chunking: Chunking) -> Result<(), String> {
        for message in messages(frames, chunking) {
            self.send_text(message).await?;
        }
        Ok(())
    }

    /// Sends one text message holding exactly `text`.
    pub(super) async fn send_text(&mut self, text: String) -> Result<(), String> {
        self.ws.send(Message::text(text)).await.map_err(|e| format!("sending to the connector failed: {e}"))
    }

    /// Sends a WebSocket ping carrying `payload`.
    pub(super) async fn ping(&mut self, payload: &[u8]) -> Result<(), String> {
        self.ws
            .send(Message::Ping(payload.to_vec().into()))
            .await
            .map_err(|e| format!("sending a ping failed: {e}"))
    }

    /// Whether a pong carrying `payload` arrives within `wait` (frames read
    /// meanwhile are kept for later reads).
    pub(super) async fn pong(&mut self, payload: &[u8], wait: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if self.pongs.iter().any(|p| p == payload) {
                return true;
            }
            if self.ended.is_some() {
                return false;
            }
            let Ok(message) = tokio::time::timeout_at(deadline, self.ws.next()).await else { return false };
            self.take(message);
        }
    }

    /// The next line that is a JSON object, the end of the connection, or
    /// [`Next::Silent`] after `wait`. Lines that are not JSON objects are
    /// skipped (other checks judge them).
    pub(super) async fn next(&mut self, wait: Duration) -> Next {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            while let Some(line) = self.lines.pop_front() {
                if let Ok(object) = read_json_object(&line) {
                    return Next::Frame(object);
                }
            }
            if let Some(ended) = &self.ended {
                return ended.clone();
            }
            let Ok(message) = tokio::time::timeout_at(deadline, self.ws.next()).await else {
                return Next::Silent;
            };
            self.take(message);
        }
    }

    /// The next frame of type `kind` within `wait`, skipping frames of other
    /// types; the error says what came instead.
    pub(super) async fn expect_type(&mut self, kind: &str, wait: Duration) -> Result<Object, String> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await {
                Next::Frame(frame) if frame_type(&frame) == Some(kind) => return Ok(frame),
                Next::Frame(_) => {}
                Next::Closed { code, reason } => {
                    return Err(format!(
                        "the connector closed the link ({}) before a `{kind}`",
                        close_text(code, &reason)
                    ));
                }
                Next::Silent => return Err(format!("no `{kind}` within {} s", wait.as_secs())),
            }
        }
    }

    /// Waits up to `wait` for the connector to close; returns the close code
    /// and reason, or `None` when the link stayed open. Frames meanwhile
    /// are returned in the list.
    pub(super) async fn closed_within(
        &mut self,
        wait: Duration,
    ) -> (Option<(Option<u16>, String)>, Vec<Object>) {
        let deadline = tokio::time::Instant::now() + wait;
        let mut frames = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await {
                Next::Frame(frame) => frames.push(frame),
                Next::Closed { code, reason } => return (Some((code, reason)), frames),
                Next::Silent => return (None, frames),
            }
        }
    }

    /// Closes the connection politely, bounded.
    pub(super) async fn close(mut self) {
        let _ = tokio::time::timeout(LINGER, self.ws.close(None)).await;
    }

    /// Files one received message (or the end of the stream).
    fn take(&mut self, message: Option<Result<Message, async_tungstenite::tungstenite::Error>>) {
        match message {
            Some(Ok(Message::Text(text))) => self.feed(text.as_bytes()),
            Some(Ok(Message::Binary(bytes))) => self.feed(&bytes),
            Some(Ok(Message::Pong(payload))) => self.pongs.push(payload.to_vec()),
            Some(Ok(Message::Ping(_) | Message::Frame(_))) => {}
            Some(Ok(Message::Close(frame))) => {
                let (code, reason) = frame.map_or_else(
                    || (None, "a close frame without a code".to_owned()),
                    |f| (Some(u16::from(f.code)), f.reason.to_string()),
                );
                self.ended = Some(Next::Closed { code, reason });
            }
            Some(Err(e)) => {
                self.ended = Some(Next::Closed { code: None, reason: format!("the connection failed: {e}") });
            }
            None => {
                let reason = "the connection ended without a close frame".to_owned();
                self.ended = Some(Next::Closed { code: None, reason });
            }
        }
    }

    /// Splits a message's payload into lines, whatever its boundaries.
    fn feed(&mut self, bytes: &[u8]) {
        let lines = &mut self.lines;
        self.codec.feed(bytes, |event| {
            if let LineEvent::Line { bytes, .. } = event {
                lines.push_back(bytes.to_vec());
            }
        });
    }
}

/// The text messages that carry `frames` (one line each) cut as `chunking` says.
fn messages(frames: &[Value], chunking: Chunking) -> Vec<String> {
    let lines = frames.iter().map(|f| format!("{f}\n"));
    match chunking {
        Chunking::Whole => lines.collect(),
        Chunking::Bytes => lines.collect::<String>().chars().map(String::from).collect(),
        Chunking::Halves => {
            let burst: String = lines.collect();
            let mut middle = burst.len() / 2;
            while !burst.is_char_boundary(middle) {
                middle += 1;
            }
            let (first, second) = burst.split_at(middle);
            vec![first.to_owned(), second.to_owned()]
        }
    }
}

/// The `type` of a received frame, when it is a string.
pub(super) fn frame_type(frame: &Object) -> Option<&str> {
    frame.get("type").and_then(Value::as_str)
}

/// "close 4401 `unauthorized`", or without a code what happened instead —
/// for details.
pub(super) fn close_text(code: Option<u16>, reason: &str) -> String {
    match code {
        Some(code) if reason.is_empty() => format!("close {code}"),
        Some(code) => format!("close {code} `{reason}`"),
        None => reason.to_owned(),
    }
}

/// An `outbound` frame for `action`, untagged.
pub(super) fn outbound(request_id: &str, action: Value) -> Value {
    json!({"type": "outbound", "requestId": request_id, "action": action})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunkings_carry_the_same_bytes_cut_differently() {
        let frames =
            [json!({"type": "hello", "platform": "relay", "botId": ""}), json!({"type": "going_idle"})];
        let whole = messages(&frames, Chunking::Whole);
        assert_eq!(
            whole,
            ["{\"botId\":\"\",\"platform\":\"relay\",\"type\":\"hello\"}\n", "{\"type\":\"going_idle\"}\n"]
        );
        let bytes = messages(&frames, Chunking::Bytes);
        assert!(bytes.iter().all(|m| m.len() == 1));
        let halves = messages(&frames, Chunking::Halves);
        assert_eq!(halves.len(), 2);
        assert!(!halves[0].ends_with('\n') && halves[0].contains('{'), "a frame is split: {halves:?}");
        for cut in [bytes, halves] {
            assert_eq!(cut.concat(), whole.concat());
        }
    }
}
