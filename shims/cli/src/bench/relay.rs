//! relay's side of `relay bench`: the connector, the gateway client loops,
//! and the idle-gateway child.

use std::io::{Read as _, Write as _};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures::channel::oneshot;
use futures::stream::FuturesUnordered;
use futures::{FutureExt as _, StreamExt as _};
use relay_core::bench::Generator;
use relay_core::gateway::GatewayConfig;
use relay_core::wire::{ActionResult, Descriptor, Frame, Inbound, MessageEvent};
use relay_driver::{ClientConfig, ClientEvent, Runtime, ServerConfig, ServerEvent, ServerHandle};

use super::peer::{Peer, Role};
use super::report::{self, Measurement};
use super::{Plan, RuntimeBox, on_runtime};

type PendingReply<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// What the embedded connector does once a gateway is live.
#[derive(Clone)]
enum Mode {
    /// Answer every request with success at once.
    Echo,
    /// Push these events, in a loop, until stopped.
    Push(Arc<Vec<MessageEvent>>),
}

/// relay's connector, on its own thread and runtime.
pub(crate) struct BenchServer {
    pub(crate) url: String,
    pub(crate) handle: ServerHandle,
    stop: oneshot::Sender<()>,
    flag: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl BenchServer {
    /// Starts a connector that answers every request at once, or (`push`)
    /// pushes the inbound corpus to every gateway that becomes live.
    pub(crate) fn start(rtb: RuntimeBox, push: bool, websocket_buffer: usize) -> Result<Self, String> {
        let mode = if push { Mode::Push(Arc::new(inbound_corpus().0)) } else { Mode::Echo };
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = oneshot::channel();
        let flag = Arc::new(AtomicBool::new(false));
        let stop_flag = Arc::clone(&flag);
        let thread = on_runtime!(rtb, |rt| rtb.thread(move || serve(
            rt,
            mode,
            websocket_buffer,
            ready_tx,
            stop_rx,
            stop_flag
        )));
        let (url, handle) = ready_rx
            .recv()
            .map_err(|_| "the connector did not start".to_owned())?
            .map_err(|e| format!("the connector could not listen: {e}"))?;
        Ok(Self { url, handle, stop: stop_tx, flag, thread })
    }

    pub(crate) fn stop(self) {
        self.flag.store(true, Ordering::Relaxed);
        let _ = self.stop.send(());
        drop(self.handle);
        let _ = self.thread.join();
    }
}

async fn serve<R: Runtime>(
    rt: R,
    mode: Mode,
    websocket_buffer: usize,
    ready: std::sync::mpsc::Sender<Result<(String, ServerHandle), String>>,
    mut stop: oneshot::Receiver<()>,
    flag: Arc<AtomicBool>,
) {
    let config = ServerConfig { websocket_buffer, event_capacity: 4096, ..ServerConfig::default() };
    let addr = "127.0.0.1:0".parse().expect("a valid address");
    let (handle, mut events) = match relay_driver::listen(rt, addr, config).await {
        Ok(server) => server,
        Err(e) => {
            let _ = ready.send(Err(e.to_string()));
            return;
        }
    };
    let _ = ready.send(Ok((handle.url(), handle.clone())));
    let h = &handle;
    let mut pending: FuturesUnordered<PendingReply<'_>> = FuturesUnordered::new();
    loop {
        let mut next = futures::select_biased! {
            _ = stop => break,
            () = pending.select_next_some() => continue,
            event = events.next().fuse() => event,
        };
        // Then every event already queued, as the raw echo takes every
        // message already read, before polling the rest again.
        loop {
            match next {
                None => return,
                Some(ServerEvent::Hello { conn, .. }) => pending.push(Box::pin(async move {
                    let _ = h.answer_hello(conn, Descriptor::new("relay", "Relay")).await;
                })),
                // Queued at once (it waits only for room in the connection's queue).
                Some(ServerEvent::Request { conn, request_id, .. }) => {
                    let _ = h.answer(conn, &request_id, ActionResult::ok()).await;
                }
                Some(ServerEvent::Live { conn }) => {
                    if let Mode::Push(frames) = &mode {
                        pending.push(Box::pin(push(h, conn, Arc::clone(frames), Arc::clone(&flag))));
                    }
                }
                Some(_) => {}
            }
            match events.next().now_or_never() {
                Some(event) => next = event,
                None => break,
            }
        }
    }
}

/// Pushes `frames` round and round to `conn`, 256 pushes in flight, until `stop`.
async fn push(h: &ServerHandle, conn: u64, frames: Arc<Vec<MessageEvent>>, stop: Arc<AtomicBool>) {
    let mut inflight = FuturesUnordered::new();
    let mut i = 0;
    while !stop.load(Ordering::Relaxed) {
        while inflight.len() < 256 {
            inflight.push(h.push_inbound(conn, frames[i % frames.len()].clone()));
            i += 1;
        }
        if let Some(Err(_)) = inflight.next().await {
            return;
        }
    }
}

fn client_config(plan: &Plan, max_pending: usize) -> ClientConfig {
    ClientConfig {
        gateway: GatewayConfig { max_pending, ..GatewayConfig::default() },
        reconnect: false,
        command_capacity: 4096,
        event_capacity: 1024,
        websocket_buffer: plan.websocket_buffer,
        ..ClientConfig::default()
    }
}

/// Round trips at concurrency `c` against a connector process of our own (or `url`).
pub(crate) fn round_trips(
    rtb: RuntimeBox,
    runtime: super::RuntimeChoice,
    c: usize,
    plan: &Plan,
    url: Option<&str>,
) -> Result<Measurement, String> {
    let gateways = plan.gateways;
    let peer = match url {
        Some(_) => None,
        None => Some(Peer::spawn(Role::RelayEcho, runtime, plan.websocket_buffer)?),
    };
    let url = url.map(str::to_owned).or_else(|| peer.as_ref().map(|p| p.url.clone())).expect("one of them");
    let outcome = on_runtime!(rtb, |rt| rtb.block_on(client_round_trips(rt, url, c, plan.clone())));
    let figures = peer.map(Peer::finish).unwrap_or_default();
    let (mut latencies, seconds, ops) = outcome?;
    let mut m = report::round_trips("relay", runtime.name(), (c, gateways), &mut latencies, seconds, figures);
    if plan.cpu {
        report::add_cpu(&mut m, ops, figures);
    }
    Ok(m)
}

/// `plan.gateways` clients on one connector, each with `c` requests in
/// flight: the latencies after warm-up, the measured seconds and every round
/// trip made (warm-up included). Any failed request fails the run.
async fn client_round_trips<R: Runtime>(
    rt: R,
    url: String,
    c: usize,
    plan: Plan,
) -> Result<(Vec<u64>, f64, u64), String> {
    let config = client_config(&plan, (c * 2).max(10_000));
    let connects = (0..plan.gateways).map(|_| relay_driver::connect(rt.clone(), &url, config.clone()));
    let mut clients = Vec::with_capacity(plan.gateways);
    for outcome in futures::future::join_all(connects).await {
        clients.push(outcome.map_err(|e| format!("cannot connect: {e}"))?);
    }
    let start = Instant::now();
    let warm = start + plan.duration / 10;
    let end = start + plan.duration;
    let loops =
        clients.iter().flat_map(|(client, _)| (0..c).map(move |_| client.clone())).map(|client| async move {
            let mut latencies = Vec::with_capacity(4096);
            let (mut ops, mut errors) = (0u64, 0u64);
            while Instant::now() < end {
                let t = Instant::now();
                match client.send("c1", "hi").await {
                    Ok(_) if t >= warm => latencies.push(t.elapsed().as_nanos() as u64),
                    Ok(_) => {}
                    Err(_) => errors += 1,
                }
                ops += 1;
            }
            (latencies, ops, errors)
        });
    let results = futures::future::join_all(loops).await;
    futures::future::join_all(clients.iter().map(|(client, _)| client.close())).await;
    drop(clients);
    let errors: u64 = results.iter().map(|(_, _, e)| e).sum();
    if errors > 0 {
        return Err(format!("{errors} requests failed"));
    }
    let ops = results.iter().map(|(_, ops, _)| ops).sum();
    let latencies = results.into_iter().flat_map(|(l, _, _)| l).collect();
    Ok((latencies, (end - warm).as_secs_f64(), ops))
}

/// The inbound corpus: events as the connector holds them, and the bytes of each on the wire.
pub(crate) fn inbound_corpus() -> (Vec<MessageEvent>, Vec<String>) {
    let lines = Generator::new(9).inbound_corpus(1_000);
    let events: Vec<MessageEvent> = lines
        .iter()
        .map(|l| match Frame::decode(l.trim_end().as_bytes(), None) {
            Ok(Frame::Inbound(f)) => *f.event,
            other => unreachable!("the generator makes inbound frames: {other:?}"),
        })
        .collect();
    // What relay sends for each event (no bufferId): the raw baseline pushes the same bytes.
    let wire = events
        .iter()
        .map(|e| Frame::Inbound(Inbound { event: Box::new(e.clone()), ..Inbound::default() }).encode_line())
        .collect();
    (events, wire)
}

/// Inbound frames delivered to the gateway application.
pub(crate) fn inbound(
    rtb: RuntimeBox,
    runtime: super::RuntimeChoice,
    plan: &Plan,
) -> Result<Measurement, String> {
    let (_, wire) = inbound_corpus();
    let sizes: Vec<u64> = wire.iter().map(|l| l.len() as u64).collect();
    let peer = Peer::spawn(Role::RelayPush, runtime, plan.websocket_buffer)?;
    let outcome =
        on_runtime!(rtb, |rt| rtb.block_on(client_inbound(rt, peer.url.clone(), sizes, plan.clone())));
    let figures = peer.finish();
    let (frames, bytes, seconds, ops) = outcome?;
    let mut m = report::inbound("relay", runtime.name(), (frames, bytes, seconds), figures);
    if plan.cpu {
        report::add_cpu(&mut m, ops, figures);
    }
    Ok(m)
}

async fn client_inbound<R: Runtime>(
    rt: R,
    url: String,
    sizes: Vec<u64>,
    plan: Plan,
) -> Result<(u64, u64, f64, u64), String> {
    let (client, mut events) = relay_driver::connect(rt, &url, client_config(&plan, 10_000))
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    let mut index = 0usize;
    let (mut frames, mut bytes) = (0u64, 0u64);
    let mut window: Option<(Instant, Instant)> = None;
    while let Some(event) = events.next().await {
        if !matches!(event, ClientEvent::Inbound { .. }) {
            continue;
        }
        let now = Instant::now();
        let (warm, end) = *window.get_or_insert((now + plan.duration / 10, now + plan.duration));
        if now >= end {
            break;
        }
        if now >= warm {
            frames += 1;
            bytes += sizes[index % sizes.len()];
        }
        index += 1;
    }
    drop(client);
    drop(events);
    let Some((warm, end)) = window else { return Err("no inbound frame arrived".into()) };
    Ok((frames, bytes, (end - warm).as_secs_f64(), index as u64))
}

/// The child process of `--connections`: holds `n` idle gateways until stdin closes.
pub(crate) fn idle_child(
    rtb: RuntimeBox,
    url: &str,
    n: usize,
    websocket_buffer: usize,
) -> Result<(), String> {
    let plan = Plan { duration: Duration::ZERO, websocket_buffer, gateways: 1, cpu: false };
    let url = url.to_owned();
    on_runtime!(rtb, |rt| rtb.block_on(async move {
        let mut config = client_config(&plan, 16);
        config.command_capacity = 16;
        config.event_capacity = 16;
        let opened: Vec<_> = futures::stream::iter(0..n)
            .map(|_| relay_driver::connect(rt, &url, config.clone()))
            .buffer_unordered(64)
            .collect()
            .await;
        let mut held = Vec::with_capacity(n);
        for outcome in opened {
            held.push(outcome.map_err(|e| format!("an idle gateway could not connect: {e}"))?);
        }
        println!("ready {n}");
        let _ = std::io::stdout().flush();
        // Hold them until the parent closes our stdin.
        let (tx, rx) = oneshot::channel::<()>();
        std::thread::spawn(move || {
            let _ = std::io::stdin().read_to_end(&mut Vec::new());
            let _ = tx.send(());
        });
        let _ = rx.await;
        drop(held);
        Ok(())
    }))
}
