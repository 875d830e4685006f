//! The connector server: accepts gateways on `/relay`, runs one
//! `ConnectorMachine` per connection, keeps the per-gateway backlog and
//! routes interrupts to the connection that owns a session.

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use async_tungstenite::tungstenite::http::{StatusCode, header::AUTHORIZATION};
use futures::channel::{mpsc, oneshot};
use futures::future::{self, Either};
use futures::{FutureExt as _, SinkExt as _, StreamExt as _};
use futures_rustls::rustls;
use relay_core::connector::{
    BacklogKey, BufferedFrame, ConnectorConfig, ConnectorError, ConnectorMachine, SessionRouter,
};
use relay_core::policy::{SessionKeyOptions, TokenVerifier, session_key};
use relay_core::wire::{ActionResult, Descriptor, Forward, MessageEvent};
use relay_store::{StoreError, StoreFuture, StoreHandle};
use tracing::Instrument as _;

use crate::command_sender::{self, Queued};
use crate::connector_side::{ConnCommand, ConnectorSide, PushReply};
use crate::fabric::Fabric;
use crate::metrics::{self, Side};
use crate::recording::{Recorded, Recorder};
use crate::server_events::{ConnId, ServerEvent};
use crate::server_fabric::{
    interrupt_elsewhere, interrupt_held_elsewhere, news_listener, note_session, stored,
};
use crate::socket::{LoopTap, SocketLoop};
use crate::store_timeout::{Deadline, StoreClock, bounded};
use crate::stream::MaybeTls;
use crate::wake::{Wake, WakeTimes};
use crate::{Runtime, unix_now, websocket_config};

/// How a connector server accepts gateways. Every field has a sane default.
#[derive(Clone)]
pub struct ServerConfig {
    /// Per-connection settings, including the upgrade-token verifier.
    pub connector: ConnectorConfig,
    /// The only path upgrades are accepted on (default `/relay`); others get HTTP 400.
    pub path: String,
    /// Time a client may take from TCP accept to a completed upgrade (default 10 s).
    pub upgrade_timeout: Duration,
    /// WebSocket read buffer size in bytes (default 4 KiB: a connector
    /// holds many mostly idle gateways, and the read buffer is allocated per
    /// connection up front; 10,000 idle gateways take about 110 MiB in all).
    pub websocket_buffer: usize,
    /// Events buffered for the application before connections pause reading (default 1,024).
    pub event_capacity: usize,
    /// Serve `wss://` with this TLS configuration.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Sees every data message a gateway sends, before the machine does
    /// (for recording raw traffic); it must return quickly.
    pub tap: Option<Tap>,
    /// Where buffered frames wait for their gateway (default: a fresh
    /// in-memory store, lost with the process; use a `relay_store::FileStore`
    /// behind [`StoreHandle::spawn`] for a backlog that survives a crash).
    pub store: Option<StoreHandle>,
    /// How long a store operation may take before it counts as failed
    /// (default 10 s): a push then fails, a replay read is retried.
    pub store_timeout: Duration,
    /// Other instances on the same store: who holds which gateway, and news
    /// of their appends (default none: this instance is alone).
    pub fabric: Option<Arc<dyn Fabric>>,
    /// Told when frames start waiting for a gateway that is idle or
    /// offline (default none).
    pub wake: Option<Wake>,
    /// Sees every WebSocket message of every connection (default none).
    pub recorder: Option<Recorder>,
}

/// A callback that sees each data message received on a connection.
pub type Tap = Arc<dyn Fn(ConnId, &[u8]) + Send + Sync>;

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            connector: ConnectorConfig::default(),
            path: "/relay".to_owned(),
            upgrade_timeout: Duration::from_secs(10),
            websocket_buffer: 4 * 1024,
            event_capacity: 1024,
            tls: None,
            tap: None,
            store: None,
            store_timeout: Duration::from_secs(10),
            fabric: None,
            wake: None,
            recorder: None,
        }
    }
}

impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("connector", &self.connector)
            .field("path", &self.path)
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

/// What happened to a pushed frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Sent live on the connection.
    Sent,
    /// Appended to the gateway's backlog (it is idle or a replay is under way).
    Buffered {
        /// The backlog entry; the gateway acknowledges it with `inbound_ack`.
        buffer_id: String,
    },
    /// Appended to the gateway's backlog in the shared store, for the
    /// instance that holds the gateway live (this one or another) and
    /// delivers it from there (several instances on one store, see [`Fabric`]).
    Routed {
        /// The holding instance.
        instance: String,
        /// The backlog entry.
        buffer_id: String,
    },
    /// Handed to another instance, which sends it down the connection of
    /// the gateway it holds (an interrupt: never buffered, not acknowledged).
    Forwarded {
        /// The holding instance.
        instance: String,
    },
    /// Not deliverable and not bufferable (an interrupt for an idle gateway).
    Dropped,
}

/// Why a server call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// No such connection (it closed, or never existed).
    #[error("no connection {0}")]
    NoConnection(ConnId),
    /// No connection owns this session key.
    #[error("no connection owns session {0:?}")]
    NoRoute(String),
    /// The gateway has no connection that completed its handshake (for
    /// frames that are never buffered: interrupts).
    #[error("{0} is not connected")]
    NotConnected(BacklogKey),
    /// The connection refused the command.
    #[error(transparent)]
    Connector(#[from] ConnectorError),
    /// The store did not take the frame: it is not buffered.
    #[error("not buffered: {0}")]
    Store(#[from] StoreError),
}

/// State shared by the server handle and its connections.
pub(crate) struct ServerState {
    /// Verifies upgrade tokens; replaceable while running (secret rotation).
    verifier: TokenVerifier,
    pub(crate) store: StoreHandle,
    pub(crate) fabric: Option<Arc<dyn Fabric>>,
    wake: Option<Wake>,
    wake_times: WakeTimes,
    clock: StoreClock,
    pub(crate) router: SessionRouter<ConnId>,
    connections: BTreeMap<ConnId, mpsc::Sender<ConnCommand>>,
    /// Connections that completed their handshake, per gateway, oldest
    /// first: a push addressed to a gateway goes through the newest.
    pub(crate) gateways: BTreeMap<BacklogKey, Vec<ConnId>>,
    next_conn: ConnId,
}

impl ServerState {
    pub(crate) fn deadline(&self, now: std::time::Instant) -> Deadline {
        self.clock.deadline(now)
    }

    /// Where a push for `to` goes, decided and enqueued at once: through the
    /// gateway's newest ready connection (whose machine sends it live or
    /// hands it back for the store), or straight into the store. Deciding
    /// and enqueueing under one lock keeps a push ahead of the replay read
    /// of a connection that registers after it.
    fn route(&self, to: &BacklogKey, frame: BufferedFrame) -> Routed {
        if self.fabric.is_some() {
            // Through the shared store, always (see `Fabric`).
            return Routed::Store(self.store.append(to.clone(), frame));
        }
        let newest = self.gateways.get(to).and_then(|conns| conns.last());
        if let Some(sender) = newest.and_then(|conn| self.connections.get(conn)) {
            let (reply, answer) = oneshot::channel();
            // A fresh clone always has room for one message, so the command
            // is queued now, behind the pushes routed before it; it fails only
            // when the connection's loop ended, and then the store takes it.
            if sender.clone().try_send(ConnCommand::Push(frame.clone(), reply)).is_ok() {
                return Routed::Connection { answer, frame };
            }
        }
        Routed::Store(self.store.append(to.clone(), frame))
    }

    /// Tells every ready connection of `to` here that its backlog grew;
    /// whether there was any.
    pub(crate) fn tell_connections(&self, to: &BacklogKey) -> bool {
        let conns = self.gateways.get(to).map_or(&[][..], Vec::as_slice);
        for conn in conns {
            if let Some(sender) = self.connections.get(conn) {
                // A fresh clone always has room; a closed connection has no use for it.
                let _ = sender.clone().try_send(ConnCommand::BacklogAppended);
            }
        }
        !conns.is_empty()
    }

    /// Queues `command` for the newest ready connection of `to`, if any.
    pub(crate) fn command_newest(&self, to: &BacklogKey, command: ConnCommand) {
        let newest = self.gateways.get(to).and_then(|conns| conns.last());
        if let Some(sender) = newest.and_then(|conn| self.connections.get(conn)) {
            let _ = sender.clone().try_send(command);
        }
    }
}

/// Where [`ServerState::route`] sent a push.
enum Routed {
    Connection { answer: oneshot::Receiver<Result<PushReply, ConnectorError>>, frame: BufferedFrame },
    Store(StoreFuture<String>),
}

/// Times a push is routed again when its connection ended before taking it.
const MAX_REROUTES: usize = 8;

/// Ends the accept loop when the last handle is dropped.
struct StopOnDrop(#[allow(dead_code)] oneshot::Sender<()>);

/// A handle on a running connector server. Cheap to clone; the server stops
/// accepting when the last handle is dropped.
#[derive(Clone)]
pub struct ServerHandle {
    state: Arc<Mutex<ServerState>>,
    local_addr: SocketAddr,
    tls: bool,
    _stop: Arc<StopOnDrop>,
}

impl std::fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerHandle").field("local_addr", &self.local_addr).finish_non_exhaustive()
    }
}

/// The events of a server, from every connection, in arrival order.
#[derive(Debug)]
pub struct ServerEvents(mpsc::Receiver<ServerEvent>);

impl ServerEvents {
    /// The next event, or `None` once the server stopped.
    pub async fn next(&mut self) -> Option<ServerEvent> {
        self.0.next().await
    }
}

impl futures::Stream for ServerEvents {
    type Item = ServerEvent;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<ServerEvent>> {
        std::pin::Pin::new(&mut self.0).poll_next(cx)
    }
}

/// Binds `addr` (port 0 picks a free port) and accepts gateways in the background.
pub async fn listen<R: Runtime>(
    rt: R,
    addr: SocketAddr,
    config: ServerConfig,
) -> io::Result<(ServerHandle, ServerEvents)> {
    let listener = rt.bind(addr).await?;
    let local_addr = R::local_addr(&listener)?;
    let state = Arc::new(Mutex::new(ServerState {
        verifier: config.connector.verifier.clone(),
        store: config.store.clone().unwrap_or_else(StoreHandle::memory),
        fabric: config.fabric.clone(),
        wake: config.wake.clone(),
        wake_times: WakeTimes::default(),
        clock: StoreClock::new(&rt, config.store_timeout),
        router: SessionRouter::new(relay_core::connector::DEFAULT_ROUTER_CAPACITY),
        connections: BTreeMap::new(),
        gateways: BTreeMap::new(),
        next_conn: 1,
    }));
    let (events_tx, events) = mpsc::channel(config.event_capacity.max(1));
    let (stop_tx, stop) = oneshot::channel();
    let handle = ServerHandle {
        state: Arc::clone(&state),
        local_addr,
        tls: config.tls.is_some(),
        _stop: Arc::new(StopOnDrop(stop_tx)),
    };
    if let Some(fabric) = &config.fabric {
        fabric.subscribe(news_listener(Arc::downgrade(&state)));
    }
    rt.spawn(accept_loop(rt.clone(), listener, config, state, events_tx, stop));
    Ok((handle, ServerEvents(events)))
}

async fn accept_loop<R: Runtime>(
    rt: R,
    listener: R::Listener,
    config: ServerConfig,
    state: Arc<Mutex<ServerState>>,
    events: mpsc::Sender<ServerEvent>,
    mut stop: oneshot::Receiver<()>,
) {
    loop {
        let accepted = match future::select(Box::pin(R::accept(&listener)), &mut stop).await {
            Either::Left((accepted, _)) => accepted,
            Either::Right(_) => return,
        };
        match accepted {
            Ok((tcp, peer)) => {
                let conn = {
                    let mut s = state.lock().unwrap_or_else(PoisonError::into_inner);
                    s.next_conn += 1;
                    s.next_conn - 1
                };
                tracing::debug!(conn, %peer, "accepted");
                let serve = serve(rt.clone(), conn, tcp, config.clone(), Arc::clone(&state), events.clone());
                rt.spawn(serve);
            }
            Err(error) => {
                // Out of file descriptors and similar: pause instead of spinning.
                tracing::warn!(%error, "accept failed");
                rt.sleep_until(rt.now() + Duration::from_millis(100)).await;
            }
        }
    }
}

/// Upgrades one TCP connection and runs its machine until it ends.
async fn serve<R: Runtime>(
    rt: R,
    conn: ConnId,
    tcp: R::Tcp,
    config: ServerConfig,
    state: Arc<Mutex<ServerState>>,
    mut events: mpsc::Sender<ServerEvent>,
) {
    let deadline = rt.sleep_until(rt.now() + config.upgrade_timeout);
    let upgrade = Box::pin(upgrade(tcp, &config));
    let (ws, authorization) = match future::select(upgrade, deadline).await {
        Either::Left((Ok(upgraded), _)) => upgraded,
        Either::Left((Err(error), _)) => {
            tracing::debug!(conn, %error, "upgrade refused");
            return;
        }
        Either::Right(_) => {
            tracing::debug!(conn, "upgrade timed out");
            return;
        }
    };
    let mut connector = config.connector.clone();
    connector.verifier = state.lock().unwrap_or_else(PoisonError::into_inner).verifier.clone();
    connector.seed = crate::os_seed();
    let machine = ConnectorMachine::new(connector, authorization.as_deref(), rt.now(), unix_now());
    metrics::connection_opened(Side::Connector);
    let gateway_id_field = machine.gateway_id().map(str::to_owned);
    let (commands_tx, mut commands) = mpsc::channel(1024);
    if !machine.is_closed() {
        let gateway_id = machine.gateway_id().map(str::to_owned);
        state.lock().unwrap_or_else(PoisonError::into_inner).connections.insert(conn, commands_tx);
        let _ = events.send(ServerEvent::Connected { conn, gateway_id }).await;
    }
    let side = ConnectorSide::new(conn, machine, Arc::clone(&state));
    let tap = config.tap.map(|tap| Box::new(move |bytes: &[u8]| tap(conn, bytes)) as LoopTap);
    if let Some(recorder) = &config.recorder {
        recorder.record(conn, rt.now(), Recorded::Opened { identities: &[], seed: None });
    }
    let span = tracing::info_span!(
        "relay.connection",
        side = "connector",
        conn,
        gateway_id = gateway_id_field.as_deref(),
        identities = tracing::field::Empty,
    );
    let (_side, undelivered) = SocketLoop::new(rt, side, ws, &mut commands, events.clone())
        .with_tap(tap)
        .with_recorder(config.recorder.clone(), conn)
        .instrument(span)
        .await;
    {
        let mut s = state.lock().unwrap_or_else(PoisonError::into_inner);
        s.connections.remove(&conn);
        s.router.remove_connection(&conn);
    }
    for event in undelivered {
        let _ = events.send(event).await;
    }
}

type Upgraded<S> = (async_tungstenite::WebSocketStream<MaybeTls<S>>, Option<String>);

async fn upgrade<S>(tcp: S, config: &ServerConfig) -> Result<Upgraded<S>, String>
where
    S: futures::AsyncRead + futures::AsyncWrite + Unpin + Send,
{
    let stream = match &config.tls {
        Some(tls) => {
            let accepted = futures_rustls::TlsAcceptor::from(Arc::clone(tls)).accept(tcp).await;
            MaybeTls::Tls(Box::new(futures_rustls::TlsStream::Server(accepted.map_err(|e| e.to_string())?)))
        }
        None => MaybeTls::Plain(tcp),
    };
    let authorization = Arc::new(Mutex::new(None));
    let seen = Arc::clone(&authorization);
    let path = config.path.clone();
    // The signature is tungstenite's callback type; its error is an HTTP response.
    #[allow(clippy::result_large_err)]
    let check = move |request: &Request, response: Response| -> Result<Response, ErrorResponse> {
        if request.uri().path() != path {
            let mut refusal =
                ErrorResponse::new(Some(format!("relay accepts WebSocket upgrades on {path} only")));
            *refusal.status_mut() = StatusCode::BAD_REQUEST;
            return Err(refusal);
        }
        let header = request.headers().get(AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_owned);
        *seen.lock().unwrap_or_else(PoisonError::into_inner) = header;
        Ok(response)
    };
    let ws_config = websocket_config(config.connector.max_line, config.websocket_buffer);
    let ws = async_tungstenite::accept_hdr_async_with_config(stream, check, Some(ws_config))
        .await
        .map_err(|e| e.to_string())?;
    let header = authorization.lock().unwrap_or_else(PoisonError::into_inner).take();
    Ok((ws, header))
}

impl ServerHandle {
    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The URL gateways dial, e.g. `ws://127.0.0.1:4000/relay`.
    pub fn url(&self) -> String {
        let scheme = if self.tls { "wss" } else { "ws" };
        format!("{scheme}://{}/relay", self.local_addr)
    }

    /// Open connections, oldest first.
    pub fn connections(&self) -> Vec<ConnId> {
        self.lock().connections.keys().copied().collect()
    }

    /// Replaces the upgrade-token verifier for connections accepted from now
    /// on (rotate secrets without a restart; open connections stay up).
    pub fn set_verifier(&self, verifier: TokenVerifier) {
        self.lock().verifier = verifier;
    }

    /// How many frames wait in a gateway's backlog.
    pub async fn backlog_len(&self, key: &BacklogKey) -> Result<usize, ServerError> {
        let (count, deadline) = {
            let state = self.lock();
            (state.store.count(key.clone()), state.clock.deadline_from_now())
        };
        Ok(bounded(count, deadline).await?)
    }

    /// The store behind the backlog (for its statistics).
    pub fn store(&self) -> StoreHandle {
        self.lock().store.clone()
    }

    /// Pushes an `inbound` or `passthrough_forward` frame to the gateway
    /// whose backlog key is `to` (PROTOCOL §8: its gateway id with auth on,
    /// else its first hello's identity): sent live when that gateway is
    /// connected and live; otherwise appended to its backlog — while it is
    /// idle, replaying, offline, or was never seen — and
    /// [`Delivery::Buffered`] once the store made it durable.
    ///
    /// With a [`Fabric`] every push is appended to the shared store first,
    /// then delivered from there by the instance holding the gateway:
    /// [`Delivery::Routed`] names it when it delivers live (this instance
    /// included), [`Delivery::Buffered`] says nobody does now. The holder
    /// is told once the append is durable, by this future: dropped before
    /// that, the frame still waits in the store, for the holder's next read
    /// (its next push, or the fabric's periodic sweep).
    ///
    /// Where the push goes is decided and queued when this is called, not
    /// when the future is first polled, so pushes made one after another
    /// keep their order (also when their futures are awaited together).
    /// One exception: a push queued to a connection that ends before taking
    /// it is routed again and may land behind later pushes.
    ///
    /// # Errors
    ///
    /// [`ServerError::Store`] when the store failed, timed out or the
    /// gateway's backlog is full: the frame is then not buffered.
    pub fn push(
        &self,
        to: &BacklogKey,
        frame: BufferedFrame,
    ) -> impl Future<Output = Result<Delivery, ServerError>> + Send + 'static {
        let state = Arc::clone(&self.state);
        let to = to.clone();
        let first = {
            let guard = lock(&state);
            if let BufferedFrame::Inbound(event) = &frame {
                let session = session_key(&event.source, SessionKeyOptions::default(), None);
                note_session(guard.fabric.as_ref(), &session, &to);
            }
            guard.route(&to, frame)
        };
        async move {
            let mut routed = first;
            let mut reroutes = 0;
            loop {
                let (answer, frame) = match routed {
                    Routed::Store(append) => return stored(&state, &to, append).await,
                    Routed::Connection { answer, frame } => (answer, frame),
                };
                match answer.await {
                    Ok(Ok(reply)) => return settle(&state, reply).await,
                    // Not taken: the connection ended first.
                    Ok(Err(ConnectorError::Closed)) | Err(_) => {
                        reroutes += 1;
                        let state = lock(&state);
                        routed = if reroutes < MAX_REROUTES {
                            state.route(&to, frame)
                        } else {
                            Routed::Store(state.store.append(to.clone(), frame))
                        };
                    }
                    Ok(Err(refused)) => return Err(refused.into()),
                }
            }
        }
    }

    /// Sends `interrupt_inbound` to the gateway whose backlog key is `to`,
    /// through its newest ready connection. Interrupts are never buffered.
    /// With a [`Fabric`], a gateway held by another instance gets it through
    /// that instance ([`Delivery::Forwarded`]).
    ///
    /// # Errors
    ///
    /// [`ServerError::NotConnected`] when the gateway has no ready
    /// connection (on any instance).
    pub async fn push_interrupt_for(
        &self,
        to: &BacklogKey,
        session_key: &str,
        chat_id: &str,
    ) -> Result<Delivery, ServerError> {
        let newest = self.lock().gateways.get(to).and_then(|conns| conns.last()).copied();
        match newest {
            Some(conn) => self.push_interrupt_to(conn, session_key, chat_id).await,
            None => interrupt_held_elsewhere(&self.state, to, session_key, chat_id).await,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ServerState> {
        lock(&self.state)
    }

    /// Queues the command `make` builds for `conn` (at once when its queue
    /// has room) and waits for the connection's verdict.
    fn call<T, M>(&self, conn: ConnId, make: M) -> impl Future<Output = Result<T, ServerError>> + use<T, M>
    where
        M: FnOnce(oneshot::Sender<Result<T, ConnectorError>>) -> ConnCommand,
    {
        let (reply, answer) = oneshot::channel();
        let queued = self.queue(conn, make(reply));
        async move {
            queued?.wait().await.map_err(|_| ServerError::NoConnection(conn))?;
            Ok(answer.await.map_err(|_| ServerError::NoConnection(conn))??)
        }
    }

    /// Puts `command` in `conn`'s queue now when it has room; otherwise
    /// hands back what to wait on.
    fn queue(&self, conn: ConnId, command: ConnCommand) -> Result<Queued<ConnCommand>, ServerError> {
        let mut state = self.lock();
        let sender = state.connections.get_mut(&conn).ok_or(ServerError::NoConnection(conn))?;
        command_sender::queue(sender, command).map_err(|_| ServerError::NoConnection(conn))
    }

    /// Answers the oldest unanswered hello of `conn` with a descriptor.
    pub async fn answer_hello(&self, conn: ConnId, descriptor: Descriptor) -> Result<(), ServerError> {
        self.call(conn, |reply| ConnCommand::AnswerHello(Box::new(descriptor), reply)).await
    }

    /// Refuses the oldest unanswered hello of `conn` (the connection closes with 1008).
    pub async fn refuse_hello(&self, conn: ConnId, reason: &str) -> Result<(), ServerError> {
        let reason = reason.to_owned();
        self.call(conn, |reply| ConnCommand::RefuseHello(reason, reply)).await
    }

    /// Answers a request.
    pub async fn respond(
        &self,
        conn: ConnId,
        request_id: &str,
        result: ActionResult,
    ) -> Result<(), ServerError> {
        let request_id = request_id.to_owned();
        self.call(conn, |reply| ConnCommand::Respond(request_id, result, Some(reply))).await
    }

    /// Answers a request without waiting for the connection to take it:
    /// the future completes once the answer is queued. The answer is queued
    /// by the call itself when the connection's queue has room (the future
    /// is then already complete); only a full queue leaves the future
    /// waiting. An answer the connection refuses (the request id is unknown
    /// or already answered) is dropped; use [`respond`](Self::respond) to
    /// hear of that. One task and one channel hand-off fewer per request,
    /// for a connector answering many at once.
    ///
    /// # Errors
    ///
    /// [`ServerError::NoConnection`] when `conn` is not open.
    pub fn answer(
        &self,
        conn: ConnId,
        request_id: &str,
        result: ActionResult,
    ) -> impl Future<Output = Result<(), ServerError>> + Send + 'static {
        match self.queue(conn, ConnCommand::Respond(request_id.to_owned(), result, None)) {
            Ok(queued) => {
                Either::Left(queued.wait().map(move |done| done.map_err(|_| ServerError::NoConnection(conn))))
            }
            Err(error) => Either::Right(future::ready(Err(error))),
        }
    }

    /// Pushes an inbound event to `conn`: live, or into its backlog when the
    /// gateway is idle ([`Delivery::Buffered`] once durable).
    ///
    /// The push is queued by the call itself when the connection's queue
    /// has room; the future waits for the verdict (or, behind a full queue,
    /// for room first), and holds a few words instead of the event.
    pub fn push_inbound(
        &self,
        conn: ConnId,
        event: MessageEvent,
    ) -> impl Future<Output = Result<Delivery, ServerError>> + Send + use<'_> {
        let frame = BufferedFrame::Inbound(Box::new(event));
        let pushed = self.call(conn, |reply| ConnCommand::Push(frame, reply));
        async move { settle(&self.state, pushed.await?).await }
    }

    /// Pushes a passthrough forward to `conn`: live, or into its backlog when
    /// the gateway is idle ([`Delivery::Buffered`] once durable). Queued by
    /// the call, as [`push_inbound`](Self::push_inbound) is.
    pub fn push_forward(
        &self,
        conn: ConnId,
        forward: Forward,
    ) -> impl Future<Output = Result<Delivery, ServerError>> + Send + use<'_> {
        let frame = BufferedFrame::Forward(Box::new(forward));
        let pushed = self.call(conn, |reply| ConnCommand::Push(frame, reply));
        async move { settle(&self.state, pushed.await?).await }
    }

    /// Sends `interrupt_inbound` down the connection that owns `session_key` (PROTOCOL §6).
    ///
    /// With a [`Fabric`], a session no connection here owns is looked up
    /// among the instances: the interrupt goes down this instance's
    /// connection of the owning gateway, or is handed to the instance
    /// holding it ([`Delivery::Forwarded`]).
    ///
    /// # Errors
    ///
    /// [`ServerError::NoRoute`] when no connection (of any instance) owns
    /// the session; [`ServerError::NotConnected`] when its gateway has no
    /// ready connection anywhere.
    pub async fn push_interrupt(&self, session_key: &str, chat_id: &str) -> Result<Delivery, ServerError> {
        let local = self.lock().router.route(session_key).ok().copied();
        let conn = match local {
            Some(conn) => conn,
            None => match interrupt_elsewhere(&self.state, session_key, chat_id).await? {
                Ok(forwarded) => return Ok(forwarded),
                Err(held_here) => return self.push_interrupt_for(&held_here, session_key, chat_id).await,
            },
        };
        let (key, chat) = (session_key.to_owned(), chat_id.to_owned());
        let reply = self.call(conn, |reply| ConnCommand::Interrupt(key, chat, reply)).await?;
        settle(&self.state, reply).await
    }

    /// Sends `interrupt_inbound` down one specific connection.
    pub async fn push_interrupt_to(
        &self,
        conn: ConnId,
        session_key: &str,
        chat_id: &str,
    ) -> Result<Delivery, ServerError> {
        let (key, chat) = (session_key.to_owned(), chat_id.to_owned());
        let reply = self.call(conn, |reply| ConnCommand::Interrupt(key, chat, reply)).await?;
        settle(&self.state, reply).await
    }

    /// Closes a connection (close 1000).
    pub async fn close(&self, conn: ConnId) -> Result<(), ServerError> {
        let mut sender =
            self.lock().connections.get(&conn).cloned().ok_or(ServerError::NoConnection(conn))?;
        sender.send(ConnCommand::Close).await.map_err(|_| ServerError::NoConnection(conn))
    }
}

/// The shared state; a panic elsewhere while it was held does not make it unusable.
pub(crate) fn lock(state: &Mutex<ServerState>) -> std::sync::MutexGuard<'_, ServerState> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What a connection's answer to a push means for its caller.
async fn settle(state: &Mutex<ServerState>, reply: PushReply) -> Result<Delivery, ServerError> {
    match reply {
        PushReply::Sent => Ok(Delivery::Sent),
        PushReply::Dropped => Ok(Delivery::Dropped),
        PushReply::Appending { append, idle } => {
            let delivery = buffered(state, append).await?;
            if let Some(key) = idle {
                wake_if_due(state, &key);
            }
            Ok(delivery)
        }
    }
}

/// A frame was buffered for `key` with nobody delivering it live: calls
/// the wake hook, at most once per cooldown.
pub(crate) fn wake_if_due(state: &Mutex<ServerState>, key: &BacklogKey) {
    let callback = {
        let mut state = lock(state);
        let Some(wake) = state.wake.clone() else { return };
        if !state.wake_times.due(key, std::time::Instant::now(), wake.cooldown) {
            return;
        }
        wake.callback
    };
    // Outside the lock: the callback may call back into the server.
    callback(key);
}

/// Waits for an append to become durable. The deadline starts here, on the
/// first poll: a push may be made outside the runtime, its future awaited
/// inside.
pub(crate) async fn buffered(
    state: &Mutex<ServerState>,
    append: StoreFuture<String>,
) -> Result<Delivery, ServerError> {
    let deadline = lock(state).clock.deadline_from_now();
    let buffer_id = bounded(append, deadline).await?;
    metrics::buffered();
    Ok(Delivery::Buffered { buffer_id })
}
