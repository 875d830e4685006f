//! Several `relay serve` processes on one real `redis-server` form one
//! connector: a push on any instance reaches the gateway wherever it is,
//! through the gateway's stream in Redis. Checked over whole histories
//! (`fleet/history.rs`): nothing reported `buffered` or `routed` is lost,
//! nothing is appended twice, and each instance's pushes arrive in the
//! order they were made — with the gateway on one instance, after its
//! instance is killed (SIGKILL), while a balancer moves it between
//! instances, and while Redis crashes or stops.
//!
//! Every test starts its own `redis-server` (on a free loopback port, in
//! a temporary directory, `appendfsync always`); without one installed it
//! fails, saying how to install it.

#[path = "fleet/balancer.rs"]
mod balancer;
mod common;
#[path = "fleet/gateway.rs"]
mod gateway;
#[path = "fleet/history.rs"]
mod history;
#[allow(dead_code)] // the crash tests use the rest
#[path = "crash_store/serve.rs"]
mod serve;

use std::time::{Duration, Instant};

use balancer::{Balancer, target_of};
use gateway::{Gateway, Seen};
use history::{History, Outcome};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{RngCore as _, SeedableRng as _};
use relay_redis::test_server::RedisServer;
use serde_json::{Value, json};
use serve::{Serve, serve_command};

/// How long any single wait may take.
pub(crate) const WAIT: Duration = Duration::from_secs(30);
/// The gateway's identity; with auth off its backlog key.
pub(crate) const PLATFORM: &str = "telegram";
pub(crate) const BOT_ID: &str = "b1";
const IDS: [&str; 3] = ["a", "b", "c"];

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
}

/// Redis and the `relay serve` instances on it.
struct Fleet {
    redis: RedisServer,
    serves: Vec<Option<Serve>>,
    history: History,
}

impl Fleet {
    /// Starts Redis and `count` instances (ids `a`, `b`, `c`).
    fn start(count: usize) -> Self {
        let redis = RedisServer::start();
        let serves = IDS[..count].iter().map(|id| Some(start_instance(&redis.url(), id))).collect();
        Self { redis, serves, history: History::default() }
    }

    fn serve(&mut self, instance: usize) -> &mut Serve {
        self.serves[instance].as_mut().expect("the instance runs")
    }

    fn url(&self, instance: usize) -> String {
        self.serves[instance].as_ref().expect("the instance runs").url.clone()
    }

    fn push(&mut self, instance: usize, count: usize) -> std::ops::Range<usize> {
        let serve = self.serves[instance].as_mut().expect("the instance runs");
        self.history.push(serve, instance, count)
    }

    /// Reads what every running instance printed, into the history; returns
    /// the lines of `watch`.
    fn read_lines(&mut self, watch: usize) -> Vec<Value> {
        let mut watched = Vec::new();
        for (instance, serve) in self.serves.iter_mut().enumerate() {
            let Some(serve) = serve else { continue };
            while let Some(line) = serve.poll_line(Duration::ZERO) {
                self.history.on_line(instance, &line);
                if instance == watch {
                    watched.push(line);
                }
            }
        }
        watched
    }

    /// Reads every instance until `done` holds, failing after [`WAIT`].
    fn pump(&mut self, gateway: &Gateway, what: &str, mut done: impl FnMut(&History, &Seen) -> bool) {
        let deadline = Instant::now() + WAIT;
        loop {
            self.read_lines(usize::MAX);
            if gateway.seen(|seen| done(&self.history, seen)) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: {} pushes pending, {} durable, {} delivered",
                self.history.pending(),
                self.history.durable(),
                gateway.seen(|seen| self.history.delivered(seen))
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Waits until `instance` prints a line matching `pick`.
    fn expect_line(&mut self, instance: usize, what: &str, pick: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(line) = self.read_lines(instance).into_iter().find(|line| pick(line)) {
                return line;
            }
            assert!(
                Instant::now() < deadline,
                "instance {instance} printed no {what}:\n{}",
                self.serve(instance).tail()
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Every push has its outcome, and the gateway got every durable one.
    fn drained(&mut self, gateway: &Gateway, what: &str) {
        self.pump(gateway, what, |history, seen| {
            history.pending() == 0 && history.delivered(seen) == history.durable()
        });
    }

    /// Stops every instance with SIGTERM: none panicked or failed.
    fn stop(mut self) {
        for (instance, serve) in self.serves.drain(..).enumerate() {
            let Some(serve) = serve else { continue };
            let ended = serve.terminate();
            assert_eq!(
                ended.code,
                Some(0),
                "instance {instance} exits 0 on SIGTERM; stderr:\n{}",
                ended.stderr
            );
            assert!(!ended.stderr.contains("panicked"), "instance {instance} panicked:\n{}", ended.stderr);
        }
    }
}

fn start_instance(redis: &str, id: &str) -> Serve {
    let serve = Serve::start_on(serve_command(&[], redis, &["--instance-id", id]), "redis");
    assert_eq!(serve.seen[0]["instance"], id, "the listening line names the instance");
    serve
}

fn is_live(line: &Value) -> bool {
    line["event"] == "live"
}

#[test]
fn pushes_on_every_instance_reach_the_gateway_live_in_order() {
    let rt = runtime();
    let mut fleet = Fleet::start(3);
    let gateway = Gateway::connect(&rt, &fleet.url(0));
    fleet.expect_line(0, "live", is_live);
    for round in 0..10 {
        for instance in [round % 3, (round + 1) % 3, (round + 2) % 3] {
            fleet.push(instance, 30);
        }
    }
    fleet.drained(&gateway, "every push delivered");
    for index in 0..900 {
        match fleet.history.outcome(index) {
            Some(Outcome::Routed { instance, .. }) => {
                assert_eq!(instance, "a", "push {index}: A holds the gateway")
            }
            other => panic!("push {index}: expected routed through a, got {other:?}"),
        }
    }
    gateway.seen(|seen| fleet.history.verify(seen, "three instances, gateway on A"));
    // An interrupt pushed on C reaches the gateway through A.
    let interrupt = json!({
        "to": {"platform": PLATFORM, "botId": BOT_ID},
        "frame": {"type": "interrupt_inbound", "session_key": "agent:main:telegram:dm:c1", "chat_id": "c1"},
    });
    fleet.serve(2).write_lines(&[interrupt.to_string()]);
    let forwarded = fleet.expect_line(2, "the interrupt's outcome", |l| l["type"] == "interrupt_inbound");
    assert_eq!(
        (&forwarded["delivery"], &forwarded["instance"]),
        (&json!("forwarded"), &json!("a")),
        "{forwarded}"
    );
    let deadline = Instant::now() + WAIT;
    while gateway.seen(|seen| seen.interrupts.is_empty()) {
        assert!(Instant::now() < deadline, "the interrupt did not arrive");
        std::thread::sleep(Duration::from_millis(5));
    }
    gateway.seen(|seen| assert_eq!(seen.interrupts, ["agent:main:telegram:dm:c1"]));
    gateway.close(&rt);
    fleet.stop();
}

#[test]
fn killing_the_instance_of_an_idle_gateway_loses_nothing() {
    let rt = runtime();
    let mut fleet = Fleet::start(2);
    let balancer = Balancer::start(&rt, vec![target_of(&fleet.url(0)), target_of(&fleet.url(1))]);
    let gateway = Gateway::connect(&rt, &balancer.url());
    fleet.expect_line(0, "live", is_live);
    gateway.go_idle(&rt);
    fleet.expect_line(0, "going_idle", |l| l["event"] == "going_idle");
    fleet.push(1, 1000);
    fleet.pump(&gateway, "1,000 pushes buffered", |history, _| history.pending() == 0);
    assert_eq!(fleet.history.durable(), 1000, "every push is buffered");
    assert!(
        (0..1000).all(|i| matches!(fleet.history.outcome(i), Some(Outcome::Buffered(_)))),
        "nobody is live"
    );
    // A producer keeps pushing through B while A dies and the gateway moves.
    fleet.push(1, 200);
    let killed = fleet.serves[0].take().expect("A runs").kill();
    assert_eq!(killed.code, None, "SIGKILL");
    balancer.move_to(1);
    for _ in 0..20 {
        fleet.push(1, 100);
        fleet.read_lines(usize::MAX);
        std::thread::sleep(Duration::from_millis(20));
    }
    fleet.drained(&gateway, "the backlog replayed on B");
    gateway.seen(|seen| {
        assert!(seen.reconnects >= 1, "the gateway re-dialed");
        fleet.history.verify(seen, "A killed, gateway on B");
    });
    gateway.close(&rt);
    fleet.stop();
}

#[test]
fn a_gateway_moving_between_instances_under_full_load_loses_nothing() {
    let rt = runtime();
    let mut fleet = Fleet::start(3);
    let targets = (0..3).map(|i| target_of(&fleet.url(i))).collect();
    let balancer = Balancer::start(&rt, targets);
    let gateway = Gateway::connect(&rt, &balancer.url());
    fleet.expect_line(0, "live", is_live);
    let mut rng = ChaCha8Rng::seed_from_u64(14);
    // 10,000 pushes in bursts on random instances, a quarter at a time as
    // fast as the instances take them; after each of the first three, once
    // the gateway is connected again, the balancer moves it: A → B → C → A,
    // while the quarter just pushed is still on its way.
    let moves = [1, 2, 0];
    for quarter in 0..4 {
        let mut pushed = 0;
        while pushed < 2500 {
            let burst = (50 + rng.next_u32() as usize % 150).min(2500 - pushed);
            fleet.push(rng.next_u32() as usize % 3, burst);
            pushed += burst;
            fleet.read_lines(usize::MAX);
        }
        if let Some(&to) = moves.get(quarter) {
            fleet.pump(&gateway, "the gateway connected again", |_, seen| seen.reconnects == quarter);
            balancer.move_to(to);
        }
    }
    fleet.drained(&gateway, "10,000 pushes delivered");
    assert_eq!(fleet.history.durable(), 10_000, "Redis took every push");
    gateway.seen(|seen| {
        assert!(seen.reconnects >= 3, "the gateway moved three times ({} reconnects)", seen.reconnects);
        fleet.history.verify(seen, "gateway moved A → B → C → A");
    });
    gateway.close(&rt);
    fleet.stop();
}

#[test]
fn a_redis_crash_mid_run_loses_nothing_reported_buffered() {
    let rt = runtime();
    let mut fleet = Fleet::start(2);
    let gateway = Gateway::connect(&rt, &fleet.url(0));
    fleet.expect_line(0, "live", is_live);
    for _ in 0..10 {
        fleet.push(0, 50);
        fleet.push(1, 50);
    }
    fleet.pump(&gateway, "the first pushes reported", |history, _| history.pending() == 0);
    // SIGKILL: Redis keeps only what its append-only file holds.
    fleet.redis.kill();
    fleet.push(1, 20);
    fleet.redis.restart();
    for _ in 0..10 {
        fleet.push(0, 50);
        fleet.push(1, 50);
    }
    fleet.drained(&gateway, "everything durable delivered after the crash");
    gateway.seen(|seen| fleet.history.verify(seen, "Redis killed and restarted"));
    gateway.close(&rt);
    fleet.stop();
}

#[test]
fn redis_stopped_for_five_seconds_fails_pushes_clearly_and_everything_recovers() {
    let rt = runtime();
    let mut fleet = Fleet::start(2);
    let gateway = Gateway::connect(&rt, &fleet.url(0));
    fleet.expect_line(0, "live", is_live);
    fleet.push(1, 100);
    fleet.drained(&gateway, "the pushes before the outage");
    fleet.redis.stop();
    let stopped = Instant::now();
    let mut failed = 0;
    while stopped.elapsed() < Duration::from_secs(5) {
        let pushes = fleet.push(1, 5);
        fleet.pump(&gateway, "the outcomes during the outage", |history, _| history.pending() == 0);
        for index in pushes {
            match fleet.history.outcome(index) {
                Some(Outcome::Failed(error)) => {
                    assert!(
                        error.starts_with("not buffered: ")
                            && error.contains(&format!("in Redis at {}", fleet.redis.url())),
                        "a sentence naming Redis: {error}"
                    );
                    failed += 1;
                }
                other => panic!("push {index} during the outage: {other:?}"),
            }
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(failed >= 50, "pushes kept failing during the outage ({failed})");
    fleet.redis.restart();
    // Once Redis answers again, pushes are routed again by themselves.
    let deadline = Instant::now() + WAIT;
    loop {
        let index = fleet.push(1, 1).start;
        fleet.pump(&gateway, "an outcome after the outage", |history, _| history.outcome(index).is_some());
        if matches!(fleet.history.outcome(index), Some(Outcome::Routed { .. })) {
            break;
        }
        assert!(Instant::now() < deadline, "pushes did not recover: {:?}", fleet.history.outcome(index));
        std::thread::sleep(Duration::from_millis(100));
    }
    fleet.push(1, 200);
    fleet.drained(&gateway, "the pushes after the outage");
    let lines = fleet.read_lines(0);
    assert!(lines.iter().all(|l| l["event"] != "closed"), "the gateway connection stayed up: {lines:?}");
    gateway.seen(|seen| {
        assert_eq!(seen.reconnects, 0, "the gateway never lost its connection");
        fleet.history.verify(seen, "Redis stopped for 5 s");
    });
    gateway.close(&rt);
    fleet.stop();
}

#[test]
fn an_instance_without_an_id_gets_a_random_one_in_its_listening_line() {
    let redis = RedisServer::start();
    let first = Serve::start_on(serve_command(&[], redis.url(), &[]), "redis");
    let second = Serve::start_on(serve_command(&[], redis.url(), &[]), "redis");
    let ids: Vec<String> =
        [&first, &second].iter().map(|s| s.seen[0]["instance"].as_str().unwrap().to_owned()).collect();
    for id in &ids {
        assert!(id.len() == 12 && id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
    }
    assert_ne!(ids[0], ids[1]);
    for serve in [first, second] {
        assert_eq!(serve.terminate().code, Some(0));
    }
}

#[test]
fn a_redis_that_does_not_answer_at_start_is_exit_1_naming_its_address() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("redis://127.0.0.1:{port}/");
    let (stdout, stderr, code) = common::run(&["serve", "--listen", "127.0.0.1:0", "--store", &url], "");
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(stdout, "", "nothing listened");
    assert_eq!(stderr, format!("error: cannot reach Redis at {url}: connection refused.\n"));
}

#[test]
fn an_instance_id_without_redis_and_a_bad_url_are_usage_errors() {
    let (_, stderr, code) = common::run(&["serve", "--listen", "127.0.0.1:0", "--instance-id", "a"], "");
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.starts_with("error: --instance-id names this instance among those sharing a Redis"),
        "{stderr}"
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("backlog.redb");
    let args = ["serve", "--listen", "127.0.0.1:0", "--store", file.to_str().unwrap(), "--instance-id", "a"];
    let (_, stderr, code) = common::run(&args, "");
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("a file store belongs to one instance"), "{stderr}");
    let (_, stderr, code) =
        common::run(&["serve", "--listen", "127.0.0.1:0", "--store", "redis://[nope"], "");
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.starts_with("error: \"redis://[nope\" is not a Redis URL"), "{stderr}");
}
