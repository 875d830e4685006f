//! Connector instances on one Redis, measured and printed (nothing is
//! asserted), next to a single instance on the file store.
//!
//! ```sh
//! cargo bench -p relay-redis --bench fleet
//! ```
//!
//! Everything runs in this process over loopback: a `redis-server` of the
//! bench's own (`appendonly yes`, `appendfsync always`, as the tests use),
//! connector servers on `relay_tokio`, and one gateway that acks every
//! buffered frame as it arrives.
//!
//! - **latency**: one push at a time, from the push call to the frame
//!   reaching the gateway application; p50 and p99 over 2,000 pushes. With
//!   Redis: pushed on B for the gateway held by A (cross-instance), and on
//!   A itself. On the file store: pushed on the one instance (live).
//! - **throughput**: 60,000 pushes, 256 in flight per producing instance,
//!   from the first push to the last frame at the gateway. With Redis: three
//!   instances pushing at once, the gateway on A. On the file store: one
//!   instance.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use futures::stream::FuturesUnordered;
use relay_core::connector::{BacklogKey, BufferedFrame, descriptor_for};
use relay_core::gateway::Identity;
use relay_core::wire::{MessageEvent, Platform, SessionSource};
use relay_driver::{Delivery, Fabric};
use relay_redis::test_server::RedisServer;
use relay_redis::{FabricOptions, RedisFabric, RedisStore};
use relay_store::{FileStore, StoreHandle, StoreOptions};
use relay_tokio::{ClientConfig, ClientEvent, ServerConfig, ServerEvent, ServerHandle};
use tokio::sync::{mpsc, oneshot};

/// A push in flight.
type Pushed = std::pin::Pin<Box<dyn Future<Output = Result<Delivery, relay_tokio::ServerError>> + Send>>;

const LATENCY_PUSHES: usize = 2_000;
const THROUGHPUT_PUSHES: usize = 60_000;
const IN_FLIGHT: usize = 256;

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a runtime");
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().expect("a temporary directory");
    rt.block_on(async {
        println!("latency, one push at a time, push call to gateway application ({LATENCY_PUSHES} pushes):");
        let fleet = Fleet::on_redis(&redis, 2).await;
        fleet.latency("redis, pushed on B, gateway on A (cross-instance)", 1).await;
        fleet.latency("redis, pushed on A, gateway on A", 0).await;
        fleet.stop().await;
        let single = Fleet::on_file(&dir.path().join("latency.redb")).await;
        single.latency("file store, one instance (live)", 0).await;
        single.stop().await;

        println!("throughput, {THROUGHPUT_PUSHES} pushes, {IN_FLIGHT} in flight per producer:");
        let mut fleet = Fleet::on_redis(&redis, 3).await;
        fleet.throughput("redis, 3 instances pushing, gateway on A", &[0, 1, 2]).await;
        fleet.stop().await;
        let mut single = Fleet::on_file(&dir.path().join("throughput.redb")).await;
        single.throughput("file store, one instance", &[0]).await;
        single.stop().await;
    });
}

/// Connector instances and the gateway connected to the first.
struct Fleet {
    servers: Vec<ServerHandle>,
    gateway: relay_tokio::Client,
    /// Push number → who waits for it to arrive.
    waiting: Arc<Mutex<BTreeMap<u64, oneshot::Sender<()>>>>,
    arrived: mpsc::UnboundedReceiver<u64>,
    next: std::sync::atomic::AtomicU64,
}

fn key() -> BacklogKey {
    BacklogKey::Identity(Identity::new("telegram", "b1"))
}

fn frame(n: u64) -> BufferedFrame {
    let mut source = SessionSource::new(Platform::Telegram, "c1", "dm");
    source.user_id = Some("u1".into());
    let mut event = MessageEvent::text(source, format!("push {n}: a message of ordinary length for a chat"));
    event.message_id = Some(n.to_string());
    BufferedFrame::Inbound(Box::new(event))
}

impl Fleet {
    async fn on_redis(redis: &RedisServer, count: usize) -> Self {
        let mut configs = Vec::new();
        for i in 0..count {
            let store = RedisStore::connect(&redis.url()).expect("Redis answers");
            let fabric =
                RedisFabric::connect(&redis.url(), format!("i{i}"), FabricOptions::default()).expect("Redis");
            let fabric: Arc<dyn Fabric> = Arc::new(fabric);
            configs.push(ServerConfig {
                store: Some(StoreHandle::spawn(store, unbounded())),
                fabric: Some(fabric),
                ..ServerConfig::default()
            });
        }
        Self::start(configs).await
    }

    async fn on_file(path: &std::path::Path) -> Self {
        let store = FileStore::open(path).expect("a new store");
        Self::start(vec![ServerConfig {
            store: Some(StoreHandle::spawn(store, unbounded())),
            ..ServerConfig::default()
        }])
        .await
    }

    async fn start(configs: Vec<ServerConfig>) -> Self {
        let mut servers = Vec::new();
        let mut live = None;
        for (i, config) in configs.into_iter().enumerate() {
            let (server, events) = relay_tokio::listen("127.0.0.1:0".parse().expect("an address"), config)
                .await
                .expect("listens");
            let (tx, rx) = oneshot::channel();
            tokio::spawn(answer_hellos(server.clone(), events, (i == 0).then_some(tx)));
            if i == 0 {
                live = Some(rx);
            }
            servers.push(server);
        }
        let config = ClientConfig::default().with_identities([Identity::new("telegram", "b1")]);
        let (gateway, mut events) = relay_tokio::connect(&servers[0].url(), config).await.expect("connects");
        live.expect("a first instance").await.expect("the gateway goes live");
        let waiting: Arc<Mutex<BTreeMap<u64, oneshot::Sender<()>>>> = Arc::default();
        let (arrived_tx, arrived) = mpsc::unbounded_channel();
        let (acker, notify) = (gateway.clone(), Arc::clone(&waiting));
        tokio::spawn(async move {
            while let Some(event) = events.next().await {
                if let ClientEvent::Inbound { event, buffer_id } = event {
                    let n: u64 =
                        event.message_id.as_deref().and_then(|id| id.parse().ok()).expect("a numbered push");
                    if let Some(id) = buffer_id {
                        let _ = acker.ack(&id).await;
                    }
                    if let Some(waiter) = notify.lock().expect("not poisoned").remove(&n) {
                        let _ = waiter.send(());
                    }
                    let _ = arrived_tx.send(n);
                }
            }
        });
        Self { servers, gateway, waiting, arrived, next: 0.into() }
    }

    fn number(&self) -> u64 {
        self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    /// One push at a time on instance `on`; prints p50 and p99.
    async fn latency(&self, label: &str, on: usize) {
        let mut samples = Vec::with_capacity(LATENCY_PUSHES);
        for _ in 0..LATENCY_PUSHES {
            let n = self.number();
            let (tx, rx) = oneshot::channel();
            self.waiting.lock().expect("not poisoned").insert(n, tx);
            let start = Instant::now();
            let delivery = self.servers[on].push(&key(), frame(n)).await.expect("a push");
            assert!(matches!(delivery, Delivery::Sent | Delivery::Routed { .. }), "live: {delivery:?}");
            tokio::time::timeout(Duration::from_secs(10), rx).await.expect("arrives").expect("arrives");
            samples.push(start.elapsed());
        }
        samples.sort();
        let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
        println!("  {label}: p50 {:?}, p99 {:?}", at(0.50), at(0.99));
    }

    /// [`THROUGHPUT_PUSHES`] pushes shared by the instances `on`, each
    /// keeping [`IN_FLIGHT`] pushes in flight; prints frames per second
    /// from the first push to the last arrival.
    async fn throughput(&mut self, label: &str, on: &[usize]) {
        while self.arrived.try_recv().is_ok() {}
        let per_producer = THROUGHPUT_PUSHES / on.len();
        let start = Instant::now();
        let producers: Vec<_> = on
            .iter()
            .map(|&i| {
                let server = self.servers[i].clone();
                let first = self.next.fetch_add(per_producer as u64, std::sync::atomic::Ordering::Relaxed);
                tokio::spawn(async move {
                    let mut in_flight = FuturesUnordered::<Pushed>::new();
                    for n in first..first + per_producer as u64 {
                        if in_flight.len() == IN_FLIGHT {
                            in_flight.next().await.expect("a push in flight").expect("a push");
                        }
                        in_flight.push(Box::pin(server.push(&key(), frame(n))));
                    }
                    while let Some(done) = in_flight.next().await {
                        done.expect("a push");
                    }
                })
            })
            .collect();
        let mut got = 0;
        while got < per_producer * on.len() {
            tokio::time::timeout(Duration::from_secs(30), self.arrived.recv()).await.expect("frames arrive");
            got += 1;
        }
        let elapsed = start.elapsed().as_secs_f64();
        for producer in producers {
            producer.await.expect("a producer");
        }
        println!("  {label}: {:.0} frames/s ({got} frames in {elapsed:.2} s)", got as f64 / elapsed);
    }

    async fn stop(self) {
        let _ = self.gateway.close().await;
    }
}

fn unbounded() -> StoreOptions {
    StoreOptions { max_entries_per_gateway: usize::MAX, ..StoreOptions::default() }
}

/// Answers every hello; tells `live` when the first connection goes live.
async fn answer_hellos(
    server: ServerHandle,
    mut events: relay_tokio::ServerEvents,
    mut live: Option<oneshot::Sender<()>>,
) {
    while let Some(event) = events.next().await {
        match event {
            ServerEvent::Hello { conn, identity, .. } => {
                let _ = server.answer_hello(conn, descriptor_for(&identity.platform)).await;
            }
            ServerEvent::Live { .. } => {
                if let Some(live) = live.take() {
                    let _ = live.send(());
                }
            }
            _ => {}
        }
    }
}
