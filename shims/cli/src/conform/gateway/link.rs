//! The connector side of one connection: the upgrade (path and
//! `Authorization` seen), the transcript of everything the gateway sends,
//! and the answers a connector owes without being told (descriptors after
//! the hold, results, `going_idle_ack`). The scenario drives the rest
//! through [`Command`]s.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_tungstenite::WebSocketStream;
use async_tungstenite::tungstenite::handshake::server::{Request, Response};
use async_tungstenite::tungstenite::http::header::AUTHORIZATION;
use async_tungstenite::tungstenite::protocol::CloseFrame;
use async_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use async_tungstenite::tungstenite::{Bytes, Message};
use futures::{AsyncRead, AsyncWrite, SinkExt as _, StreamExt as _};
use relay_tokio::{Runtime as _, Tokio};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::frames;
use super::observation::{Connection, End, EndedBy, Observation, Received, ResultsStimulus, Step, Stimulus};

/// How long a closing connection is still read for the gateway's last frames.
const CLOSE_DRAIN: Duration = Duration::from_secs(2);
/// Connections beyond this many are not served (a dialling storm must not
/// grow the transcript without bound); the checks see the ones before.
const MAX_CONNECTIONS: usize = 100;
/// Lines kept per connection; later ones are still answered, not recorded.
const MAX_LINES: usize = 10_000;
/// The longest line kept whole; a longer one is recorded by its start.
const MAX_LINE: usize = 1 << 20;
/// Hellos answered per connection at most.
const MAX_HELLOS: usize = 64;
/// How long to back off when accepting fails (e.g. out of file descriptors).
const ACCEPT_RETRY: Duration = Duration::from_millis(50);

/// What the scenario tells a connection to do.
#[derive(Debug)]
pub(super) enum Command {
    /// Write these messages in order, then flush.
    Send(Vec<Message>),
    /// Send a WebSocket ping.
    Ping,
    /// End the connection this way.
    End(Stimulus),
}

/// State shared by the scenario and every connection.
#[derive(Debug)]
pub(super) struct Shared {
    /// Zero of every time in the transcript.
    pub(super) started: Instant,
    /// The transcript and the connections' command channels.
    pub(super) state: Mutex<State>,
}

/// The mutable part of [`Shared`].
#[derive(Debug)]
pub(super) struct State {
    /// The transcript so far.
    pub(super) obs: Observation,
    /// One command channel per connection, by index.
    pub(super) links: Vec<mpsc::UnboundedSender<Command>>,
    /// How long new connections hold their descriptors back.
    pub(super) hold: Duration,
    /// New connections are refused with 4401 (the gateway's secret is "revoked").
    pub(super) refuse: bool,
    /// The step the scenario is in, for a run cut short by its budget.
    pub(super) step: Step,
}

impl Shared {
    /// Fresh state; `obs` carries the run's settings.
    pub(super) fn new(obs: Observation, hold: Duration) -> Arc<Self> {
        let state = State { obs, links: Vec::new(), hold, refuse: false, step: Step::Dial };
        Arc::new(Self { started: Instant::now(), state: Mutex::new(state) })
    }

    /// Time since the start.
    pub(super) fn now(&self) -> Duration {
        self.started.elapsed()
    }

    /// Runs `f` on the state (a panicking holder cannot poison the transcript).
    pub(super) fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Records a line of connection `conn`.
    fn record(&self, conn: usize, received: Received) {
        self.with(|s| {
            if let Some(c) = s.obs.connections.get_mut(conn).filter(|c| c.frames.len() < MAX_LINES) {
                c.frames.push(received);
            }
        });
    }

    /// Records how connection `conn` ended, unless that is known already.
    fn end(&self, conn: usize, by: EndedBy) {
        let at = self.now();
        self.with(|s| {
            if let Some(c) = s.obs.connections.get_mut(conn) {
                c.end.get_or_insert(End { at, by });
            }
        });
    }
}

/// Accepts connections on `listener` until the task is dropped, each on a task of its own.
pub(super) async fn accept_loop(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((tcp, _)) = Tokio::accept(&listener).await else {
            tokio::time::sleep(ACCEPT_RETRY).await;
            continue;
        };
        if shared.with(|s| s.obs.connections.len()) >= MAX_CONNECTIONS {
            continue;
        }
        let accepted_at = shared.now();
        let accepted_unix = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let seen = Arc::new(Mutex::new((String::new(), None)));
            let upgrade_seen = Arc::clone(&seen);
            // The signature is tungstenite's callback type; its error is an HTTP response.
            #[allow(clippy::result_large_err)]
            let look = move |request: &Request, response: Response| {
                let header =
                    request.headers().get(AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_owned);
                *upgrade_seen.lock().unwrap_or_else(PoisonError::into_inner) =
                    (request.uri().path().to_owned(), header);
                Ok(response)
            };
            let Ok(ws) = async_tungstenite::accept_hdr_async(tcp, look).await else { return };
            let (path, authorization) = seen.lock().unwrap_or_else(PoisonError::into_inner).clone();
            let (tx, rx) = mpsc::unbounded_channel();
            let (conn, hold, refuse) = shared.with(|s| {
                s.obs.connections.push(Connection {
                    accepted_at,
                    accepted_unix,
                    path,
                    authorization,
                    ..Connection::default()
                });
                s.links.push(tx);
                (s.obs.connections.len() - 1, s.hold, s.refuse)
            });
            let link =
                Link { conn, shared, ws, pending: Vec::new(), hellos: Vec::new(), answered: 0, ready: false };
            if refuse {
                link.close(Stimulus::Refused).await;
            } else {
                link.run(rx, hold).await;
            }
        });
    }
}

/// One connection being served.
struct Link<S> {
    /// Its index in the transcript.
    conn: usize,
    /// The transcript it writes to.
    shared: Arc<Shared>,
    /// The socket.
    ws: WebSocketStream<S>,
    /// Bytes of a line not yet complete.
    pending: Vec<u8>,
    /// The platforms of the hellos seen, in order.
    hellos: Vec<String>,
    /// How many of them got their descriptor.
    answered: usize,
    /// The hold has passed: descriptors and results go out at once.
    ready: bool,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Link<S> {
    /// Serves the connection until it ends.
    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>, hold: Duration) {
        let mut held_requests: Vec<String> = Vec::new();
        let mut hold_until: Option<Instant> = None;
        loop {
            let hold_at = hold_until.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
            tokio::select! {
                message = self.ws.next() => {
                    let Some(requests) = self.take(message) else { return };
                    if !self.hellos.is_empty() && hold_until.is_none() && !self.ready {
                        hold_until = Some(Instant::now() + hold);
                    }
                    if self.ready {
                        if !self.answer_hellos().await || !self.answer(requests).await {
                            return;
                        }
                    } else {
                        held_requests.extend(requests);
                    }
                }
                () = tokio::time::sleep_until(hold_at), if hold_until.is_some() => {
                    hold_until = None;
                    self.ready = true;
                    let requests = std::mem::take(&mut held_requests);
                    if !self.answer_hellos().await || !self.answer(requests).await {
                        return;
                    }
                }
                command = commands.recv() => match command {
                    Some(Command::Send(messages)) => {
                        if !self.send(messages).await {
                            return;
                        }
                    }
                    Some(Command::Ping) => {
                        if !self.send(vec![Message::Ping(Bytes::from_static(b"conform"))]).await {
                            return;
                        }
                    }
                    Some(Command::End(Stimulus::Drop)) => {
                        self.shared.end(self.conn, EndedBy::Conformer(Stimulus::Drop));
                        return;
                    }
                    // The run is over: the connection goes with it, not as a stimulus.
                    None => return,
                    Some(Command::End(stimulus)) => return self.close(stimulus).await,
                },
            }
        }
    }

    /// Closes with 4401 as `stimulus` says, then reads what still comes for a while.
    async fn close(mut self, stimulus: Stimulus) {
        let reason = if stimulus == Stimulus::Expired { "expired" } else { "unauthorized" };
        self.shared.end(self.conn, EndedBy::Conformer(stimulus));
        let frame = CloseFrame { code: CloseCode::from(4401), reason: reason.into() };
        if self.ws.send(Message::Close(Some(frame))).await.is_err() {
            return;
        }
        let _ = tokio::time::timeout(CLOSE_DRAIN, async {
            while let Some(message) = self.ws.next().await {
                if self.take(Some(message)).is_none() {
                    return;
                }
            }
        })
        .await;
    }

    /// Records one message; returns the request ids it carried, `None` once the connection is over.
    fn take(
        &mut self,
        message: Option<Result<Message, async_tungstenite::tungstenite::Error>>,
    ) -> Option<Vec<String>> {
        let bytes = match message {
            Some(Ok(Message::Text(text))) => text.as_bytes().to_vec(),
            Some(Ok(Message::Binary(bytes))) => bytes.to_vec(),
            Some(Ok(Message::Pong(_))) => {
                let at = self.shared.now();
                self.shared.with(|s| {
                    if let Some(c) = s.obs.connections.get_mut(self.conn) {
                        c.pong_at.get_or_insert(at);
                    }
                });
                return Some(Vec::new());
            }
            Some(Ok(Message::Close(frame))) => {
                let (code, reason) =
                    frame.map_or((1005, String::new()), |f| (f.code.into(), f.reason.to_string()));
                self.shared.end(self.conn, EndedBy::GatewayClose { code, reason });
                return Some(Vec::new());
            }
            Some(Ok(_)) => return Some(Vec::new()),
            Some(Err(e)) => {
                self.shared.end(self.conn, EndedBy::Vanished(e.to_string()));
                return None;
            }
            None => {
                self.shared
                    .end(self.conn, EndedBy::Vanished("the connection ended without a close frame".into()));
                return None;
            }
        };
        let mut requests = Vec::new();
        for piece in bytes.split_inclusive(|&b| b == b'\n') {
            // A line past the maximum keeps its start only: memory stays bounded.
            let room = MAX_LINE.saturating_sub(self.pending.len());
            let (keep, complete) = (&piece[..piece.len().min(room)], piece.ends_with(b"\n"));
            self.pending.extend_from_slice(keep);
            if !complete {
                continue;
            }
            let raw = std::mem::take(&mut self.pending);
            let line = String::from_utf8_lossy(&raw).trim_end_matches(['\n', '\r']).to_owned();
            if line.trim().is_empty() {
                continue;
            }
            let received = Received::new(self.shared.now(), line);
            match received.kind() {
                Some("hello") if self.hellos.len() < MAX_HELLOS => {
                    self.hellos.push(received.str_field("platform").unwrap_or("relay").to_owned())
                }
                Some("outbound") => requests.extend(received.str_field("requestId").map(str::to_owned)),
                Some("going_idle") => requests.push(String::new()),
                _ => {}
            }
            self.shared.record(self.conn, received);
        }
        Some(requests)
    }

    /// Sends a descriptor for every hello not answered yet.
    async fn answer_hellos(&mut self) -> bool {
        let lines: Vec<Message> =
            self.hellos[self.answered..].iter().map(|p| Message::text(frames::descriptor(p))).collect();
        if lines.is_empty() {
            return true;
        }
        self.answered = self.hellos.len();
        let ok = self.send(lines).await;
        let at = self.shared.now();
        self.shared.with(|s| {
            if let Some(c) = s.obs.connections.get_mut(self.conn) {
                c.descriptor_at.get_or_insert(at);
            }
        });
        ok
    }

    /// Answers requests (an empty id stands for `going_idle`). The session's
    /// first request is answered twice and followed by a result nobody asked for.
    async fn answer(&mut self, requests: Vec<String>) -> bool {
        for id in requests {
            if id.is_empty() {
                if !self.send(vec![Message::text(frames::going_idle_ack())]).await {
                    return false;
                }
                continue;
            }
            let first = self.shared.with(|s| s.obs.results.is_none());
            let mut lines = vec![Message::text(frames::result(&id))];
            if first {
                lines.push(Message::text(frames::result(&id)));
                lines.push(Message::text(frames::result(frames::UNKNOWN_REQUEST_ID)));
            }
            if !self.send(lines).await {
                return false;
            }
            if first {
                let at = self.shared.now();
                let conn = self.conn;
                self.shared.with(|s| s.obs.results = Some(ResultsStimulus { conn, at, request_id: id }));
            }
        }
        true
    }

    /// Writes `messages` and flushes; false when the connection is gone.
    async fn send(&mut self, messages: Vec<Message>) -> bool {
        for message in messages {
            if self.ws.feed(message).await.is_err() {
                self.shared.end(self.conn, EndedBy::Vanished("writing to the connection failed".into()));
                return false;
            }
        }
        if self.ws.flush().await.is_err() {
            self.shared.end(self.conn, EndedBy::Vanished("writing to the connection failed".into()));
            return false;
        }
        true
    }
}
