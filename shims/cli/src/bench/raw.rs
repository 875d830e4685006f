//! The raw baseline: a bare async-tungstenite JSON echo / push pair on the
//! same runtime as relay. No protocol machine: the echo server parses each
//! request into a typed struct and answers it, the push server sends the
//! same pre-encoded inbound lines relay sends, the receiver parses each into
//! typed borrowed structs. Replies are fed as they are made and flushed once
//! per burst (everything readable at that moment).

use std::borrow::Cow;
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use async_tungstenite::WebSocketStream;
use async_tungstenite::tungstenite::{Message, Utf8Bytes};
use futures::channel::oneshot;
use futures::future::{self, Either};
use futures::{AsyncRead, AsyncWrite, FutureExt as _, SinkExt as _, StreamExt as _};
use relay_driver::Runtime;
use serde::Deserialize;

use super::peer::{Peer, Role};
use super::report::{self, Measurement};
use super::{Plan, RuntimeBox, RuntimeChoice, on_runtime};

#[derive(Deserialize)]
struct Request<'a> {
    #[serde(rename = "type", borrow)]
    _type: Cow<'a, str>,
    #[serde(rename = "requestId", borrow)]
    request_id: Cow<'a, str>,
    #[serde(borrow)]
    action: Action<'a>,
}

#[derive(Deserialize)]
struct Action<'a> {
    #[serde(rename = "op", borrow)]
    _op: Option<Cow<'a, str>>,
    #[serde(rename = "chat_id", borrow)]
    _chat_id: Option<Cow<'a, str>>,
    #[serde(rename = "content", borrow)]
    _content: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Reply<'a> {
    #[serde(rename = "requestId", borrow)]
    request_id: Cow<'a, str>,
    result: ReplyResult,
}

#[derive(Deserialize)]
struct ReplyResult {
    success: bool,
}

/// What a receiver reads of an inbound frame: the main fields, typed and borrowed.
#[derive(Deserialize)]
struct Inbound<'a> {
    #[serde(rename = "type", borrow)]
    _type: Cow<'a, str>,
    #[serde(borrow)]
    event: Event<'a>,
}

#[derive(Deserialize)]
struct Event<'a> {
    #[serde(borrow)]
    text: Option<Cow<'a, str>>,
    #[serde(rename = "message_type", borrow)]
    _message_type: Option<Cow<'a, str>>,
    #[serde(borrow)]
    source: Option<Source<'a>>,
    #[serde(rename = "media_urls", default, borrow)]
    _media_urls: Vec<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Source<'a> {
    #[serde(borrow)]
    platform: Option<Cow<'a, str>>,
    #[serde(rename = "chat_id")]
    _chat_id: Option<serde_json::Value>,
    #[serde(rename = "chat_type", borrow)]
    _chat_type: Option<Cow<'a, str>>,
    #[serde(rename = "user_id")]
    _user_id: Option<serde_json::Value>,
    #[serde(rename = "user_name", borrow)]
    _user_name: Option<Cow<'a, str>>,
}

#[derive(Clone)]
enum Mode {
    Echo,
    Push(Arc<Vec<Utf8Bytes>>),
}

/// The bare server, on its own thread and runtime.
pub(crate) struct RawServer {
    port: u16,
    stop: oneshot::Sender<()>,
    flag: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl RawServer {
    /// Starts an echo server, or (`push`) one that pushes relay's encoding
    /// of the inbound corpus to every client.
    pub(crate) fn start(rtb: RuntimeBox, push: bool) -> Result<Self, String> {
        let mode = if push {
            let (_, wire) = super::relay::inbound_corpus();
            Mode::Push(Arc::new(wire.into_iter().map(Utf8Bytes::from).collect()))
        } else {
            Mode::Echo
        };
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = oneshot::channel();
        let flag = Arc::new(AtomicBool::new(false));
        let f = Arc::clone(&flag);
        let thread = on_runtime!(rtb, |rt| rtb.thread(move || serve(rt, mode, ready_tx, stop_rx, f)));
        let port = ready_rx.recv().map_err(|_| "the raw server did not start".to_owned())??;
        Ok(Self { port, stop: stop_tx, flag, thread })
    }

    pub(crate) fn url(&self) -> String {
        format!("ws://127.0.0.1:{}/", self.port)
    }

    pub(crate) fn stop(self) {
        self.flag.store(true, Ordering::Relaxed);
        let _ = self.stop.send(());
        let _ = self.thread.join();
    }
}

async fn serve<R: Runtime>(
    rt: R,
    mode: Mode,
    ready: std::sync::mpsc::Sender<Result<u16, String>>,
    mut stop: oneshot::Receiver<()>,
    flag: Arc<AtomicBool>,
) {
    let listener = match rt.bind("127.0.0.1:0".parse().expect("a valid address")).await {
        Ok(l) => l,
        Err(e) => {
            let _ = ready.send(Err(e.to_string()));
            return;
        }
    };
    let _ = ready.send(R::local_addr(&listener).map(|a| a.port()).map_err(|e| e.to_string()));
    loop {
        let accepted = match future::select(Box::pin(R::accept(&listener)), &mut stop).await {
            Either::Left((Ok((tcp, _)), _)) => tcp,
            Either::Left((Err(_), _)) => continue,
            Either::Right(_) => return,
        };
        let mode = mode.clone();
        let flag = Arc::clone(&flag);
        rt.spawn(async move {
            let Ok(ws) = async_tungstenite::accept_async(accepted).await else { return };
            match mode {
                Mode::Echo => echo(ws).await,
                Mode::Push(lines) => push(ws, &lines, &flag).await,
            }
        });
    }
}

/// Answers every request; flushes once per burst.
async fn echo<S: AsyncRead + AsyncWrite + Unpin>(mut ws: WebSocketStream<S>) {
    loop {
        let Some(Ok(message)) = ws.next().await else { return };
        if !answer(&mut ws, message).await {
            return;
        }
        while let Some(Some(Ok(message))) = ws.next().now_or_never() {
            if !answer(&mut ws, message).await {
                return;
            }
        }
        if ws.flush().await.is_err() {
            return;
        }
    }
}

async fn answer<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut WebSocketStream<S>, message: Message) -> bool {
    match message {
        Message::Text(text) => {
            let Ok(request) = serde_json::from_str::<Request<'_>>(text.as_str()) else { return false };
            let _ = &request.action;
            let reply = format!(
                "{{\"type\":\"outbound_result\",\"requestId\":\"{}\",\"result\":{{\"success\":true}}}}\n",
                request.request_id
            );
            ws.feed(Message::text(reply)).await.is_ok()
        }
        Message::Close(_) => false,
        _ => true,
    }
}

/// Sends the lines round and round, flushing every 64, until stopped or the peer leaves.
async fn push<S: AsyncRead + AsyncWrite + Unpin>(
    mut ws: WebSocketStream<S>,
    lines: &[Utf8Bytes],
    stop: &AtomicBool,
) {
    let mut i = 0;
    while !stop.load(Ordering::Relaxed) {
        for _ in 0..64 {
            if ws.feed(Message::Text(lines[i % lines.len()].clone())).await.is_err() {
                return;
            }
            i += 1;
        }
        if ws.flush().await.is_err() {
            return;
        }
    }
    let _ = ws.close(None).await;
}

async fn dial<R: Runtime>(rt: &R, url: &str) -> Result<WebSocketStream<R::Tcp>, String> {
    let port = url
        .strip_prefix("ws://127.0.0.1:")
        .and_then(|rest| rest.trim_end_matches('/').parse().ok())
        .ok_or_else(|| format!("not a raw server address: {url}"))?;
    let tcp = rt.connect_tcp("127.0.0.1", port).await.map_err(|e| e.to_string())?;
    let (ws, _) = async_tungstenite::client_async(url, tcp).await.map_err(|e| e.to_string())?;
    Ok(ws)
}

fn request_line(id: u64) -> String {
    format!(
        "{{\"type\":\"outbound\",\"requestId\":\"{id:032x}\",\"action\":{{\"op\":\"send\",\"chat_id\":\"c1\",\"content\":\"hi\",\"reply_to\":null,\"metadata\":{{}}}}}}\n"
    )
}

/// Round trips at concurrency `c`: `plan.gateways` connections, each with
/// `c` requests kept in flight.
pub(crate) fn round_trips(
    rtb: RuntimeBox,
    runtime: RuntimeChoice,
    c: usize,
    plan: &Plan,
) -> Result<Measurement, String> {
    let peer = Peer::spawn(Role::RawEcho, runtime, plan.websocket_buffer)?;
    let outcome =
        on_runtime!(rtb, |rt| rtb.block_on(client_round_trips(rt, peer.url.clone(), c, plan.clone())));
    let figures = peer.finish();
    let (mut latencies, seconds, ops) = outcome?;
    let mut m =
        report::round_trips("raw", runtime.name(), (c, plan.gateways), &mut latencies, seconds, figures);
    if plan.cpu {
        report::add_cpu(&mut m, ops, figures);
    }
    Ok(m)
}

/// Every connection's latencies after warm-up, the measured seconds and the
/// round trips made (warm-up included).
async fn client_round_trips<R: Runtime>(
    rt: R,
    url: String,
    c: usize,
    plan: Plan,
) -> Result<(Vec<u64>, f64, u64), String> {
    let start = Instant::now();
    let warm = start + plan.duration / 10;
    let end = start + plan.duration;
    let connections = (0..plan.gateways).map(|_| one_connection(&rt, &url, c, warm, end));
    let (mut latencies, mut ops) = (Vec::new(), 0);
    for outcome in futures::future::join_all(connections).await {
        let (more, n) = outcome?;
        latencies.extend(more);
        ops += n;
    }
    Ok((latencies, (end - warm).as_secs_f64(), ops))
}

/// One connection's round trips until `end`, `c` in flight.
async fn one_connection<R: Runtime>(
    rt: &R,
    url: &str,
    c: usize,
    warm: Instant,
    end: Instant,
) -> Result<(Vec<u64>, u64), String> {
    let mut ws = dial(rt, url).await?;
    let mut ops = 0u64;
    let mut sent: VecDeque<(u64, Instant)> = VecDeque::with_capacity(c);
    let mut next_id = 0u64;
    let mut latencies = Vec::with_capacity(1 << 16);
    let ws_err = |e: async_tungstenite::tungstenite::Error| e.to_string();
    while sent.len() < c {
        ws.feed(Message::text(request_line(next_id))).await.map_err(ws_err)?;
        sent.push_back((next_id, Instant::now()));
        next_id += 1;
    }
    ws.flush().await.map_err(ws_err)?;
    let mut take = |message: Message, sent: &mut VecDeque<(u64, Instant)>| -> Result<(), String> {
        let Message::Text(text) = message else { return Ok(()) };
        let reply: Reply<'_> = serde_json::from_str(text.as_str()).map_err(|e| e.to_string())?;
        let (id, at) = sent.pop_front().ok_or("an unexpected reply")?;
        ops += 1;
        if reply.request_id != format!("{id:032x}") || !reply.result.success {
            return Err("a reply out of order".into());
        }
        if at >= warm {
            latencies.push(at.elapsed().as_nanos() as u64);
        }
        Ok(())
    };
    loop {
        let message = ws.next().await.ok_or("the raw server left")?.map_err(ws_err)?;
        take(message, &mut sent)?;
        while let Some(Some(message)) = ws.next().now_or_never() {
            take(message.map_err(ws_err)?, &mut sent)?;
        }
        if Instant::now() < end {
            while sent.len() < c {
                ws.feed(Message::text(request_line(next_id))).await.map_err(ws_err)?;
                sent.push_back((next_id, Instant::now()));
                next_id += 1;
            }
            ws.flush().await.map_err(ws_err)?;
        } else if sent.is_empty() {
            break;
        }
    }
    let _ = ws.close(None).await;
    Ok((latencies, ops))
}

/// Frames pushed by a bare server and parsed (typed, borrowed) by a bare receiver.
pub(crate) fn inbound(rtb: RuntimeBox, runtime: RuntimeChoice, plan: &Plan) -> Result<Measurement, String> {
    let peer = Peer::spawn(Role::RawPush, runtime, plan.websocket_buffer)?;
    let outcome = on_runtime!(rtb, |rt| rtb.block_on(client_inbound(rt, peer.url.clone(), plan.clone())));
    let figures = peer.finish();
    let (frames, bytes, seconds, ops) = outcome?;
    let mut m = report::inbound("raw", runtime.name(), (frames, bytes, seconds), figures);
    if plan.cpu {
        report::add_cpu(&mut m, ops, figures);
    }
    Ok(m)
}

async fn client_inbound<R: Runtime>(rt: R, url: String, plan: Plan) -> Result<(u64, u64, f64, u64), String> {
    let mut ws = dial(&rt, &url).await?;
    let (mut frames, mut bytes, mut chars, mut ops) = (0u64, 0u64, 0usize, 0u64);
    let mut window: Option<(Instant, Instant)> = None;
    while let Some(message) = ws.next().await {
        let Ok(Message::Text(text)) = message else { continue };
        let frame: Inbound<'_> = serde_json::from_str(text.as_str()).map_err(|e| e.to_string())?;
        chars += frame.event.text.map_or(0, |t| t.len())
            + frame.event.source.and_then(|s| s.platform).map_or(0, |p| p.len());
        let now = Instant::now();
        let (warm, end) = *window.get_or_insert((now + plan.duration / 10, now + plan.duration));
        if now >= end {
            break;
        }
        if now >= warm {
            frames += 1;
            bytes += text.len() as u64;
        }
        ops += 1;
    }
    std::hint::black_box(chars);
    drop(ws);
    let Some((warm, end)) = window else { return Err("no frame arrived".into()) };
    Ok((frames, bytes, (end - warm).as_secs_f64(), ops))
}
