//! Hand-written hostile peers for the socket tests, on tokio: a raw
//! WebSocket connector (async-tungstenite, no relay code) that a real
//! gateway client dials, raw TCP for upgrade-level attacks, and bounded
//! waiting everywhere. Loopback only.
#![allow(dead_code)] // each test file uses a different part

use std::future::Future;
use std::sync::RwLock;
use std::time::Duration;

use async_tungstenite::WebSocketStream;
use async_tungstenite::tokio::TokioAdapter;
use async_tungstenite::tungstenite::Message;
use async_tungstenite::tungstenite::protocol::WebSocketConfig;
use futures::StreamExt as _;
use futures::channel::mpsc;
use relay_core::connector::descriptor_for;
use relay_core::wire::{DescriptorFrame, Frame};
use relay_driver::{Client, ClientConfig, ClientEvent, ConnectError, Events};
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// A WebSocket on a tokio TCP stream.
pub(crate) type Ws = WebSocketStream<TokioAdapter<TcpStream>>;

/// How long any single wait may take before the test fails.
pub(crate) const WAIT: Duration = Duration::from_secs(10);

/// Tests that measure the process's memory take this exclusively; every
/// other test holds it shared, so nothing else allocates meanwhile.
pub(crate) static HEAVY: RwLock<()> = RwLock::new(());

/// Runs `scenario` on a 2-worker tokio runtime, failing after `limit`.
pub(crate) fn run<Fut: Future<Output = ()>>(limit: Duration, scenario: Fut) {
    let _shared = HEAVY.read().unwrap_or_else(std::sync::PoisonError::into_inner);
    run_alone(limit, scenario);
}

/// As [`run`], for a caller that already holds [`HEAVY`].
pub(crate) fn run_alone<Fut: Future<Output = ()>>(limit: Duration, scenario: Fut) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async move {
        tokio::time::timeout(limit, scenario).await.expect("scenario exceeded its time limit");
    });
}

/// Awaits `future`, failing the test after [`WAIT`].
pub(crate) async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    match tokio::time::timeout(WAIT, future).await {
        Ok(value) => value,
        Err(_) => panic!("timed out waiting for {what}"),
    }
}

/// The WebSocket settings of a peer that accepts anything we send it.
pub(crate) fn lenient() -> WebSocketConfig {
    WebSocketConfig::default().max_message_size(None).max_frame_size(None)
}

/// A raw connector: a listener whose connections the test drives by hand.
#[derive(Debug)]
pub(crate) struct RawServer {
    listener: TcpListener,
    /// What a gateway dials.
    pub(crate) url: String,
}

impl RawServer {
    pub(crate) async fn bind() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("ws://{}/relay", listener.local_addr().unwrap());
        Self { listener, url }
    }

    /// The next TCP connection.
    pub(crate) async fn accept_tcp(&self) -> TcpStream {
        within("a TCP connection", self.listener.accept()).await.unwrap().0
    }

    /// The next TCP connection, upgraded.
    pub(crate) async fn accept(&self) -> Ws {
        let tcp = self.accept_tcp().await;
        let ws = async_tungstenite::tokio::accept_async_with_config(tcp, Some(lenient()));
        within("the upgrade", ws).await.expect("the gateway upgrades")
    }

    /// The next connection, upgraded and past the handshake (its hellos answered).
    pub(crate) async fn accept_ready(&self) -> Ws {
        let mut ws = self.accept().await;
        handshake(&mut ws).await;
        ws
    }
}

/// One descriptor line for `platform`, as a connector sends it.
pub(crate) fn descriptor_line(platform: &str) -> String {
    let frame = DescriptorFrame { descriptor: descriptor_for(platform), extra: Default::default() };
    Frame::Descriptor(frame).encode_line()
}

/// A successful `outbound_result` line for `request_id`.
pub(crate) fn result_line(request_id: &str, message_id: &str) -> String {
    format!(
        "{{\"type\":\"outbound_result\",\"requestId\":\"{request_id}\",\"result\":{{\"success\":true,\"message_id\":\"{message_id}\"}}}}\n"
    )
}

/// An `inbound` line whose text is `text`.
pub(crate) fn inbound_line(text: &str) -> String {
    format!("{{\"type\":\"inbound\",\"event\":{{\"text\":\"{text}\"}}}}\n")
}

/// The next data message as JSON (pings and pongs skipped); `None` once the socket ended.
pub(crate) async fn next_frame(ws: &mut Ws) -> Option<Value> {
    loop {
        match within("a frame from the gateway", ws.next()).await {
            Some(Ok(Message::Text(text))) => return Some(serde_json::from_str(text.as_str()).unwrap()),
            Some(Ok(Message::Binary(bytes))) => return Some(serde_json::from_slice(&bytes).unwrap()),
            Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return None,
            Some(Ok(_)) => {}
        }
    }
}

/// Reads the default hello and answers it with a descriptor.
pub(crate) async fn handshake(ws: &mut Ws) {
    let hello = next_frame(ws).await.expect("a hello");
    assert_eq!(hello["type"], "hello", "{hello}");
    send_text(ws, &descriptor_line("relay")).await;
}

/// Reads frames until an `outbound`; returns its `requestId` and frame.
pub(crate) async fn next_request(ws: &mut Ws) -> (String, Value) {
    loop {
        let frame = next_frame(ws).await.expect("an outbound frame");
        if frame["type"] == "outbound" {
            return (frame["requestId"].as_str().unwrap().to_owned(), frame);
        }
    }
}

pub(crate) async fn send_text(ws: &mut Ws, line: &str) {
    within("sending", ws.send(Message::text(line))).await.expect("the gateway reads");
}

pub(crate) async fn send_binary(ws: &mut Ws, bytes: impl Into<Vec<u8>>) {
    within("sending", ws.send(Message::binary(bytes.into()))).await.expect("the gateway reads");
}

/// Waits until the gateway ends the socket; returns its close frame (code, reason), if any.
pub(crate) async fn closed_by_peer(ws: &mut Ws) -> Option<(u16, String)> {
    loop {
        match within("the gateway to close", ws.next()).await {
            Some(Ok(Message::Close(frame))) => {
                return frame.map(|f| (u16::from(f.code), f.reason.as_str().to_owned()));
            }
            Some(Ok(_)) => {}
            Some(Err(_)) | None => return None,
        }
    }
}

/// A gateway client whose events are drained into an unbounded channel, so
/// a test never stalls its socket by not reading them.
#[derive(Debug)]
pub(crate) struct Gateway {
    pub(crate) client: Client,
    pub(crate) events: mpsc::UnboundedReceiver<ClientEvent>,
}

/// Starts connecting in the background (the raw server must do its part).
pub(crate) fn connect(
    url: &str,
    config: ClientConfig,
) -> tokio::task::JoinHandle<Result<Gateway, ConnectError>> {
    let url = url.to_owned();
    tokio::spawn(async move {
        let (client, events) = relay_tokio::connect(&url, config).await?;
        Ok(Gateway { client, events: drain(events) })
    })
}

/// Connects and completes the handshake against `server`; returns both ends.
pub(crate) async fn connect_ready(server: &RawServer, config: ClientConfig) -> (Gateway, Ws) {
    let connecting = connect(&server.url, config);
    let ws = server.accept_ready().await;
    let mut gateway = within("connect", connecting).await.unwrap().expect("connects");
    // The handshake's descriptor is the first event; tests start after it.
    expect(&mut gateway.events, "the descriptor", |e| {
        matches!(e, ClientEvent::Descriptor { .. }).then_some(())
    })
    .await;
    (gateway, ws)
}

fn drain(mut events: Events) -> mpsc::UnboundedReceiver<ClientEvent> {
    let (tx, rx) = mpsc::unbounded();
    tokio::spawn(async move {
        while let Some(event) = events.next().await {
            if tx.unbounded_send(event).is_err() {
                // Nobody watches any more; keep draining so the socket keeps being read.
            }
        }
    });
    rx
}

/// The first event `pick` accepts, failing after [`WAIT`].
pub(crate) async fn expect<T>(
    events: &mut mpsc::UnboundedReceiver<ClientEvent>,
    what: &str,
    mut pick: impl FnMut(&ClientEvent) -> Option<T>,
) -> T {
    within(what, async {
        loop {
            let event = events.next().await.unwrap_or_else(|| panic!("events ended before {what}"));
            if let Some(found) = pick(&event) {
                return found;
            }
        }
    })
    .await
}

/// Every event that arrives within `quiet` of the previous one.
pub(crate) async fn settle(
    events: &mut mpsc::UnboundedReceiver<ClientEvent>,
    quiet: Duration,
) -> Vec<ClientEvent> {
    let mut seen = Vec::new();
    while let Ok(Some(event)) = tokio::time::timeout(quiet, events.next()).await {
        seen.push(event);
    }
    seen
}

/// Spawns `client.send(chat, text)`; the answer arrives on the returned channel.
pub(crate) fn send_in_background(
    client: &Client,
    text: &str,
) -> tokio::task::JoinHandle<Result<relay_core::wire::ActionResult, relay_core::gateway::RequestError>> {
    let (client, text) = (client.clone(), text.to_owned());
    tokio::spawn(async move { client.send("c1", &text).await })
}

/// Sends raw bytes over TCP and reads whatever comes back until the peer
/// closes (or `limit` passes); returns the bytes read and whether it closed.
pub(crate) async fn exchange(tcp: &mut TcpStream, request: &[u8], limit: Duration) -> (Vec<u8>, bool) {
    let _ = tcp.write_all(request).await;
    read_until_closed(tcp, limit).await
}

/// Reads until the peer closes the connection or `limit` passes.
pub(crate) async fn read_until_closed(tcp: &mut TcpStream, limit: Duration) -> (Vec<u8>, bool) {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, tcp.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (seen, true),
            Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
            Err(_) => return (seen, false),
        }
    }
}

/// A valid upgrade request for `path` on `host`, with `extra` header lines.
pub(crate) fn upgrade_request(host: &str, path: &str, extra: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
}

/// The process's resident set size in bytes (Linux `VmRSS`).
pub(crate) fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("Linux /proc");
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("a VmRSS line");
    let kib: u64 = line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).expect("a number");
    kib * 1024
}

/// A raw gateway: opens a WebSocket to `url` with an optional `Authorization` header.
pub(crate) async fn raw_gateway(
    url: &str,
    authorization: Option<&str>,
) -> Result<Ws, async_tungstenite::tungstenite::Error> {
    use async_tungstenite::tungstenite::client::IntoClientRequest as _;
    let mut request = url.into_client_request()?;
    if let Some(value) = authorization {
        request.headers_mut().insert("authorization", value.parse().unwrap());
    }
    let host = request.uri().authority().unwrap().as_str().to_owned();
    let tcp = TcpStream::connect(host).await?;
    let (ws, _) = async_tungstenite::tokio::client_async_with_config(request, tcp, Some(lenient())).await?;
    Ok(ws)
}

/// A connector server on tokio whose application answers every hello with
/// the built-in descriptor and echoes every request; every event is also
/// forwarded to the returned channel.
pub(crate) async fn auto_server(
    config: relay_driver::ServerConfig,
) -> (relay_driver::ServerHandle, mpsc::UnboundedReceiver<relay_driver::ServerEvent>) {
    use relay_driver::ServerEvent;
    let (handle, mut events) = relay_tokio::listen("127.0.0.1:0".parse().unwrap(), config).await.unwrap();
    let (tx, rx) = mpsc::unbounded();
    let answering = handle.clone();
    tokio::spawn(async move {
        while let Some(event) = events.next().await {
            match &event {
                ServerEvent::Hello { conn, identity, .. } => {
                    let _ = answering.answer_hello(*conn, descriptor_for(&identity.platform)).await;
                }
                ServerEvent::Request { conn, request_id, action, .. } => {
                    let result = relay_core::connector::echo_result(action);
                    let _ = answering.respond(*conn, request_id, result).await;
                }
                _ => {}
            }
            if tx.unbounded_send(event).is_err() {
                // Nobody watches; keep answering.
            }
        }
    });
    (handle, rx)
}

/// The first item `pick` accepts from any stream, failing after [`WAIT`].
pub(crate) async fn expect_on<I, T>(
    stream: &mut (impl futures::Stream<Item = I> + Unpin),
    what: &str,
    mut pick: impl FnMut(&I) -> Option<T>,
) -> T {
    within(what, async {
        loop {
            let item = stream.next().await.unwrap_or_else(|| panic!("stream ended before {what}"));
            if let Some(found) = pick(&item) {
                return found;
            }
        }
    })
    .await
}

/// Resets the TCP connection under `ws` (RST instead of FIN) by dropping it
/// with a zero linger.
pub(crate) fn reset(ws: Ws) {
    let tcp = ws.into_inner().into_inner();
    // SO_LINGER with a zero timeout does not block on drop: it sends RST.
    #[allow(deprecated)]
    tcp.set_linger(Some(Duration::ZERO)).unwrap();
    drop(tcp);
}

/// Writes raw bytes under the WebSocket layer (half frames and the like).
pub(crate) async fn write_raw(ws: &mut Ws, bytes: &[u8]) {
    let tcp = ws.get_mut().get_mut();
    within("a raw write", tcp.write_all(bytes)).await.unwrap();
    within("a raw flush", tcp.flush()).await.unwrap();
}
