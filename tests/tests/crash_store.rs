//! `relay serve --store FILE` under crashes and store failures: serve is
//! killed with SIGKILL at chosen and at seeded random moments (mid-burst,
//! mid-replay), its store fills up, its file is corrupt or locked. After
//! each kill serve is started again on the same file and a gateway drains
//! the backlog; the whole history is then checked (`crash_store/ledger.rs`):
//! every push reported `buffered` is delivered, in order, never twice to one
//! connection, never again once its ack was durably removed, and nothing
//! arrives that was never pushed. Pushes that got no line before the kill
//! may be present or absent, never twice. Last, a clean stop (SIGTERM).

mod common;
#[path = "crash_store/gateway.rs"]
mod gateway;
#[path = "crash_store/ledger.rs"]
mod ledger;
#[path = "crash_store/serve.rs"]
mod serve;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use gateway::Gateway;
use ledger::{Ledger, Outcome};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{RngCore as _, SeedableRng as _};
use relay_core::connector::{Backlog as _, BacklogKey, BufferedFrame};
use relay_core::gateway::Identity;
use relay_store::FileStore;
use serve::{Serve, serve_command};

/// How long any single wait may take.
pub(crate) const WAIT: Duration = Duration::from_secs(15);
/// The gateway's identity; with auth off its backlog key.
pub(crate) const PLATFORM: &str = "telegram";
pub(crate) const BOT_ID: &str = "b1";
/// Poll interval of the loops that watch serve and the gateway together.
const TICK: Duration = Duration::from_millis(2);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
}

fn store_dir() -> tempfile::TempDir {
    tempfile::Builder::new().prefix("relay-crash-store-").tempdir().expect("a temporary directory")
}

/// Feeds serve's lines and the gateway's notes to the ledger until `done`
/// holds, failing after [`WAIT`].
fn pump(
    serve: &mut Serve,
    gateway: Option<&Gateway>,
    ledger: &mut Ledger,
    what: &str,
    mut done: impl FnMut(&Ledger) -> bool,
) {
    pump_with(serve, gateway, ledger, what, |_, ledger| done(ledger));
}

/// [`pump`] with a step that may also write to serve.
fn pump_with(
    serve: &mut Serve,
    gateway: Option<&Gateway>,
    ledger: &mut Ledger,
    what: &str,
    mut step: impl FnMut(&mut Serve, &mut Ledger) -> bool,
) {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(g) = gateway {
            for note in g.drain() {
                ledger.on_note(note);
            }
        }
        if step(serve, ledger) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; serve's last lines:\n{}\n{}",
            serve.tail(),
            ledger.summary()
        );
        if let Some(line) = serve.poll_line(TICK) {
            ledger.on_serve_line(&line);
        }
    }
}

/// SIGKILLs serve, hands everything it printed and everything the gateway
/// got before the end to the ledger.
fn kill(serve: Serve, gateway: Option<Gateway>, ledger: &mut Ledger, rt: &tokio::runtime::Runtime) {
    let ended = serve.kill();
    for line in &ended.rest {
        ledger.on_serve_line(line);
    }
    assert!(!ended.stderr.contains("panicked"), "serve panicked:\n{}", ended.stderr);
    if let Some(g) = gateway {
        for note in g.finish(rt) {
            ledger.on_note(note);
        }
    }
}

/// The last round: serve on `store` again, a gateway that acks everything
/// until serve prints `live`. Then the gateway goes idle, a marker is
/// pushed and reported buffered — the store runs operations in order, so
/// every removal before it is done — and serve is killed. The file must
/// then hold the marker and nothing else. Returns the round number.
fn drain(rt: &tokio::runtime::Runtime, ledger: &mut Ledger, store: &Path) -> usize {
    let round = ledger.begin_round();
    let mut serve = Serve::start(store);
    let gateway = Gateway::connect(rt, &serve.url, usize::MAX);
    ledger.connected();
    pump(&mut serve, Some(&gateway), ledger, "live after the replay", Ledger::live);
    gateway.go_idle(rt);
    ledger.went_idle();
    let marker = ledger.push_other(&mut serve, "marker");
    pump(&mut serve, Some(&gateway), ledger, "the marker's outcome", |l| l.outcome_line(marker).is_some());
    let outcome = ledger.outcome_line(marker).cloned().expect("read above");
    assert_eq!(outcome["delivery"], "buffered", "a push for an idle gateway is buffered: {outcome}");
    kill(serve, Some(gateway), ledger, rt);

    let file = FileStore::open(store).unwrap_or_else(|e| panic!("the store reopens after a kill: {e}"));
    let key = BacklogKey::Identity(Identity::new(PLATFORM, BOT_ID));
    let left = file.entries_after(&key, None, 100).expect("the store reads");
    let left: Vec<String> = left
        .iter()
        .map(|entry| match entry.frame.clone().decoded() {
            Ok(BufferedFrame::Inbound(event)) => format!("{}={:?}", entry.buffer_id, event.message_id),
            other => format!("{}={other:?}", entry.buffer_id),
        })
        .collect();
    let expected = format!("{}={:?}", outcome["bufferId"].as_str().unwrap_or("?"), Some("marker"));
    assert_eq!(left, [expected], "after the drain and every ack, the store holds only the marker");
    assert_eq!(file.count(&key).expect("the store counts"), 1, "the entry count agrees");
    round
}

/// Pushes `count` frames while no gateway is connected and waits until
/// every one is reported buffered.
fn push_buffered(serve: &mut Serve, ledger: &mut Ledger, count: usize) {
    let pushed = ledger.push(serve, count);
    pump(serve, None, ledger, "every outcome", |l| l.pending_outcomes() == 0);
    assert_all_buffered(ledger, pushed);
}

/// Every push of `range` was reported buffered.
fn assert_all_buffered(ledger: &Ledger, range: std::ops::Range<usize>) {
    for i in range {
        assert!(
            matches!(ledger.outcome(i), Some(Outcome::Buffered(_))),
            "p{i:06} was reported {:?}, not buffered",
            ledger.outcome(i)
        );
    }
}

#[test]
fn serve_killed_mid_burst_replays_every_buffered_push_exactly_once_in_order() {
    let rt = runtime();
    let dir = store_dir();
    let store = dir.path().join("backlog.redb");
    let mut ledger = Ledger::new(0);

    ledger.begin_round();
    let mut serve = Serve::start(&store);
    let gateway = Gateway::connect(&rt, &serve.url, usize::MAX);
    ledger.connected();
    pump(&mut serve, Some(&gateway), &mut ledger, "live (an empty backlog)", Ledger::live);
    gateway.go_idle(&rt);
    ledger.went_idle();
    let reported = ledger.push(&mut serve, 1000);
    pump(&mut serve, Some(&gateway), &mut ledger, "1,000 outcomes", |l| l.pending_outcomes() == 0);
    assert_all_buffered(&ledger, reported.clone());
    // A burst, and SIGKILL as soon as the first of it is reported: the rest
    // is somewhere between stdin, the store's queue and the disk.
    let burst = ledger.push(&mut serve, 2000);
    pump(&mut serve, Some(&gateway), &mut ledger, "the burst's first outcome", |l| l.outcomes_read() > 1000);
    kill(serve, Some(gateway), &mut ledger, &rt);
    let burst_reported = burst.clone().filter(|&i| ledger.outcome(i).is_some()).count();
    assert_all_buffered(&ledger, burst.start..burst.start + burst_reported);

    let round = drain(&rt, &mut ledger, &store);
    let context = "serve killed once, mid-burst";
    ledger.verify(context);
    ledger.verify_drained(context);
    assert!(ledger.got_in(0).is_empty(), "an idle gateway gets nothing: {:?}", ledger.got_in(0));
    let replayed: Vec<usize> = ledger.got_in(round).into_iter().flatten().collect();
    let expected_at_least: Vec<usize> = (0..burst.start + burst_reported).collect();
    assert!(
        replayed.len() >= expected_at_least.len()
            && replayed[..expected_at_least.len()] == expected_at_least[..],
        "the replay starts with every reported push, in order\n{}",
        ledger.summary()
    );
    // Beyond the reported ones: a prefix of the rest of the burst (the
    // ledger checks it), each once.
    let unreported_present = replayed.len() - expected_at_least.len();
    eprintln!(
        "burst of {}: {burst_reported} reported before the kill, {unreported_present} more were durable, {} lost unreported",
        burst.len(),
        burst.len() - burst_reported - unreported_present
    );
}

#[test]
fn entries_acked_before_a_kill_are_never_replayed() {
    let rt = runtime();
    let dir = store_dir();
    let store = dir.path().join("backlog.redb");
    let mut ledger = Ledger::new(0);

    ledger.begin_round();
    let mut serve = Serve::start(&store);
    push_buffered(&mut serve, &mut ledger, 1000);
    // The gateway acks the first 500 of the replay, then holds the rest.
    let gateway = Gateway::connect(&rt, &serve.url, 500);
    ledger.connected();
    pump(&mut serve, Some(&gateway), &mut ledger, "500 inbound_ack lines", |l| l.acks_seen() == 500);
    // An append queued after those removals: once it is durable, they are.
    let after = ledger.push(&mut serve, 1);
    pump(&mut serve, Some(&gateway), &mut ledger, "the last push's outcome", |l| l.pending_outcomes() == 0);
    assert_all_buffered(&ledger, after);
    kill(serve, Some(gateway), &mut ledger, &rt);
    let first = ledger.got_in(0);
    assert!(
        (500..=564).contains(&first.len()),
        "500 acked and at most 64 more in flight, got {}\n{}",
        first.len(),
        ledger.summary()
    );

    let round = drain(&rt, &mut ledger, &store);
    let context = "500 of 1,000 acked, then serve killed";
    ledger.verify(context);
    ledger.verify_drained(context);
    let replayed: Vec<usize> = ledger.got_in(round).into_iter().flatten().collect();
    assert_eq!(
        replayed,
        (500..=1000).collect::<Vec<_>>(),
        "after the restart exactly the unacked entries are replayed, in order"
    );
}

/// When a random round kills serve.
#[derive(Debug, Clone, Copy)]
enum Kill {
    /// Right after the first pushes were written, before the gateway connects.
    AtStart,
    /// Once this many outcome lines were read.
    AfterOutcomes(usize),
    /// Once the gateway got this many frames (mid-replay, or live).
    AfterGot(usize),
    /// Once serve printed this many `inbound_ack` lines.
    AfterAcks(usize),
    /// As soon as serve prints `live`.
    AtLive,
    /// Once everything written was answered (and the gateway is live).
    WhenQuiet,
}

/// One random round.
#[derive(Debug, Clone)]
struct Plan {
    /// Pushes written before the gateway connects.
    pre: usize,
    connect: bool,
    /// Pushes written while it runs, a chunk at a time (each once the
    /// previous ones were answered).
    chunks: Vec<usize>,
    kill: Kill,
}

fn below(rng: &mut ChaCha8Rng, n: usize) -> usize {
    usize::try_from(rng.next_u64() % n as u64).expect("small")
}

impl Plan {
    fn draw(rng: &mut ChaCha8Rng) -> Self {
        let pre = below(rng, 151);
        let connect = below(rng, 5) != 0;
        let chunks: Vec<usize> = (0..below(rng, 5)).map(|_| 1 + below(rng, 60)).collect();
        let total = pre + chunks.iter().sum::<usize>();
        let kill = match below(rng, 6) {
            0 => Kill::AtStart,
            1 => Kill::AfterOutcomes(below(rng, total + 1)),
            2 => Kill::AfterGot(below(rng, 200)),
            3 => Kill::AfterAcks(below(rng, 200)),
            4 => Kill::AtLive,
            _ => Kill::WhenQuiet,
        };
        Self { pre, connect, chunks, kill }
    }
}

fn random_round(rt: &tokio::runtime::Runtime, ledger: &mut Ledger, store: &Path, plan: &Plan) {
    ledger.begin_round();
    let mut serve = Serve::start(store);
    ledger.push(&mut serve, plan.pre);
    if matches!(plan.kill, Kill::AtStart) {
        return kill(serve, None, ledger, rt);
    }
    let gateway = plan.connect.then(|| Gateway::connect(rt, &serve.url, usize::MAX));
    if gateway.is_some() {
        ledger.connected();
    }
    let mut chunks = plan.chunks.iter();
    pump_with(&mut serve, gateway.as_ref(), ledger, "the round's kill moment", |serve, l| {
        if l.pending_outcomes() == 0 {
            if let Some(&n) = chunks.next() {
                l.push(serve, n);
            }
        }
        let quiet = l.pending_outcomes() == 0 && chunks.len() == 0 && (!plan.connect || l.live());
        let due = match plan.kill {
            Kill::AfterOutcomes(k) => l.outcomes_read() >= k,
            Kill::AfterGot(k) => l.got_count() >= k,
            Kill::AfterAcks(k) => l.acks_seen() >= k,
            Kill::AtLive => l.live(),
            Kill::AtStart | Kill::WhenQuiet => false,
        };
        due || quiet
    });
    kill(serve, gateway, ledger, rt);
}

#[test]
fn serve_killed_at_seeded_random_moments_never_loses_or_repeats_a_buffered_push() {
    let seed = std::env::var("RELAY_CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x5eed_c0de_u64);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let rt = runtime();
    let dir = store_dir();
    let store = dir.path().join("backlog.redb");
    let mut ledger = Ledger::new(0);
    let mut plans = Vec::new();
    for _ in 0..20 {
        let plan = Plan::draw(&mut rng);
        plans.push(plan.clone());
        random_round(&rt, &mut ledger, &store, &plan);
    }
    drain(&rt, &mut ledger, &store);
    let context = format!(
        "seed {seed} (rerun with RELAY_CRASH_SEED={seed}); plans:\n{}",
        plans.iter().enumerate().map(|(n, p)| format!("  round {n}: {p:?}")).collect::<Vec<_>>().join("\n")
    );
    ledger.verify(&context);
    ledger.verify_drained(&context);
    eprintln!("{}\n{context}", ledger.summary());
}

// ---- store failures ----

/// Pushes events of about 1 KiB, 100 at a time, until serve reports
/// `push_failed`; then 20 more. Every push gets exactly one line (the
/// ledger checks it), a failure carries a sentence about the store, and
/// serve stays up. Returns how many pushes were reported buffered.
fn fill_until_a_push_fails(ledger: &mut Ledger, serve: &mut Serve) -> usize {
    let failed = |ledger: &Ledger, range: std::ops::Range<usize>| {
        range.filter(|&i| matches!(ledger.outcome(i), Some(Outcome::Failed(_)))).count()
    };
    loop {
        let batch = ledger.push(serve, 100);
        pump(serve, None, ledger, "a batch's outcomes", |l| l.pending_outcomes() == 0);
        if failed(ledger, batch) > 0 {
            break;
        }
        assert!(ledger.pushed() < 20_000, "the store never filled up\n{}", ledger.summary());
    }
    let more = ledger.push(serve, 20);
    pump(serve, None, ledger, "the outcomes after the failure", |l| l.pending_outcomes() == 0);
    for i in 0..ledger.pushed() {
        if let Some(Outcome::Failed(error)) = ledger.outcome(i) {
            assert!(error.contains("store"), "p{i:06} failed with a sentence about the store: {error}");
        }
    }
    assert!(failed(ledger, more) > 0, "a store that failed keeps failing pushes\n{}", ledger.summary());
    assert!(serve.is_running(), "serve stays up when its store fails");
    (0..ledger.pushed()).filter(|&i| matches!(ledger.outcome(i), Some(Outcome::Buffered(_)))).count()
}

#[test]
fn a_store_file_that_cannot_grow_fails_pushes_and_keeps_every_one_reported_buffered() {
    let rt = runtime();
    let dir = store_dir();
    let store = dir.path().join("backlog.redb");
    let mut ledger = Ledger::new(1024);
    ledger.begin_round();
    // Writes beyond 2048 blocks (1 MiB with dash, 2 MiB with bash) fail with EFBIG.
    let limited = ["sh", "-c", r#"trap "" XFSZ; ulimit -f 2048; exec "$0" "$@""#];
    let mut serve = Serve::start_with(serve_command(&limited, &store, &[]));
    let buffered = fill_until_a_push_fails(&mut ledger, &mut serve);
    assert!(buffered > 0, "some pushes fit before the limit\n{}", ledger.summary());
    // A clean stop works with a failed store.
    serve.close_stdin();
    let ended = serve.terminate();
    for line in &ended.rest {
        ledger.on_serve_line(line);
    }
    assert_eq!(ended.code, Some(0), "serve exits 0 on SIGTERM; stderr:\n{}", ended.stderr);
    assert!(!ended.stderr.contains("panicked"), "serve panicked:\n{}", ended.stderr);

    // Without the limit: everything reported buffered is there, nothing that failed.
    drain(&rt, &mut ledger, &store);
    let context = format!("the file could not grow; {buffered} pushes were reported buffered");
    ledger.verify(&context);
    ledger.verify_drained(&context);
}

/// A tmpfs mounted for one test, unmounted when dropped.
struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (`mount -o size=…`) at `dir`; `None` where
    /// that is not allowed (not root).
    fn mount(dir: PathBuf, size: &str) -> Option<Self> {
        std::fs::create_dir_all(&dir).expect("the mount point");
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        mounted.then_some(Self { dir })
    }

    fn resize(&self, size: &str) {
        let status = std::process::Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.dir)
            .status()
            .expect("mount runs");
        assert!(status.success(), "remounting the tmpfs with size={size} failed");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(&self.dir).status();
    }
}

#[test]
fn a_full_disk_fails_pushes_and_after_freeing_space_every_one_reported_buffered_is_replayed() {
    let rt = runtime();
    let dir = store_dir();
    let Some(disk) = Tmpfs::mount(dir.path().join("disk"), "1m") else {
        panic!("cannot mount a 1 MiB tmpfs for the full-disk test: run the tests as root (CI does)");
    };
    let store = disk.dir.join("backlog.redb");
    let mut ledger = Ledger::new(1024);
    ledger.begin_round();
    let mut serve = Serve::start(&store);
    let buffered = fill_until_a_push_fails(&mut ledger, &mut serve);
    assert!(buffered > 0, "some pushes fit on the disk\n{}", ledger.summary());
    kill(serve, None, &mut ledger, &rt);

    disk.resize("64m");
    drain(&rt, &mut ledger, &store);
    let context = format!("the disk filled up; {buffered} pushes were reported buffered");
    ledger.verify(&context);
    ledger.verify_drained(&context);
}

// ---- store files serve refuses ----

/// Runs serve on `store` and asserts it refuses to start: exit 2, no
/// stdout, one `error: …` sentence on stderr naming the file.
fn assert_refused(store: &Path, what: &str) -> String {
    let ended = Serve::spawn(serve_command(&[], store, &[])).wait_exit();
    let stderr = ended.stderr.clone();
    assert_eq!(ended.code, Some(2), "{what}: exit 2; stdout {:?}, stderr {stderr}", ended.rest);
    assert!(ended.rest.is_empty(), "{what}: nothing on stdout, no listening line: {:?}", ended.rest);
    assert!(stderr.starts_with("error: ") && stderr.ends_with('\n'), "{what}: {stderr:?}");
    assert_eq!(stderr.lines().count(), 1, "{what}: one line: {stderr}");
    assert!(!stderr.contains("panicked"), "{what}: {stderr}");
    assert!(stderr.contains(&store.display().to_string()), "{what}: the sentence names the file: {stderr}");
    stderr
}

#[test]
fn a_store_file_that_is_not_a_store_is_refused_before_listening_and_left_untouched() {
    let dir = store_dir();
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut random = vec![0; 64 * 1024];
    rng.fill_bytes(&mut random);
    let cases: [(&str, Vec<u8>); 3] = [
        ("a text file", b"this is not a relay store\n".to_vec()),
        ("64 KiB of random bytes", random),
        ("8 KiB of zeros", vec![0; 8 * 1024]),
    ];
    for (what, bytes) in cases {
        let store = dir.path().join(format!("{}.redb", what.replace(' ', "-")));
        std::fs::write(&store, &bytes).expect("write the file");
        let stderr = assert_refused(&store, what);
        assert!(stderr.contains("not a relay store") || stderr.contains("corrupt"), "{what}: {stderr}");
        assert_eq!(
            std::fs::read(&store).expect("read the file back"),
            bytes,
            "{what}: the file is left as it was"
        );
    }
}

#[test]
fn a_store_path_that_cannot_be_opened_is_refused_before_listening() {
    let dir = store_dir();
    let folder = dir.path().join("a-directory");
    std::fs::create_dir(&folder).expect("a directory");
    assert_refused(&folder, "a directory");
    assert_refused(&dir.path().join("missing").join("backlog.redb"), "a path in a missing directory");
}

#[test]
fn a_store_file_in_use_by_another_serve_is_refused_and_the_first_keeps_working() {
    let dir = store_dir();
    let store = dir.path().join("backlog.redb");
    let mut ledger = Ledger::new(0);
    ledger.begin_round();
    let mut first = Serve::start(&store);
    push_buffered(&mut first, &mut ledger, 10);
    let stderr = assert_refused(&store, "a file a running serve holds");
    assert!(stderr.contains("locked"), "{stderr}");
    push_buffered(&mut first, &mut ledger, 10);
    assert!(first.is_running());
}

// ---- shutdown ----

#[test]
fn sigterm_stops_serve_while_its_stdin_stays_open() {
    let dir = store_dir();
    let store = dir.path().join("backlog.redb");
    let serve = Serve::start(&store);
    // stdin stays open: a supervisor's pipe, a terminal.
    let started = Instant::now();
    let ended = serve.terminate();
    assert_eq!(ended.code, Some(0), "exit 0 after SIGTERM; stderr:\n{}", ended.stderr);
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    // The lock is released: the file opens again.
    FileStore::open(&store).unwrap_or_else(|e| panic!("the store opens after serve stopped: {e}"));
}

/// An acknowledged entry's removal is durable once performed: a clean stop
/// after the acks leaves no acked entry behind.
#[test]
fn removals_are_kept_by_a_clean_stop() {
    let rt = runtime();
    let dir = store_dir();
    let store = dir.path().join("backlog.redb");
    let mut ledger = Ledger::new(0);
    ledger.begin_round();
    let mut serve = Serve::start(&store);
    push_buffered(&mut serve, &mut ledger, 100);
    let gateway = Gateway::connect(&rt, &serve.url, usize::MAX);
    ledger.connected();
    pump(&mut serve, Some(&gateway), &mut ledger, "live after acking the replay", Ledger::live);
    assert_eq!(ledger.acks_seen(), 100, "serve printed an inbound_ack per entry");
    // No append follows the removals: only the stop can make them durable.
    let ended = serve.terminate();
    assert_eq!(ended.code, Some(0), "exit 0 after SIGTERM; stderr:\n{}", ended.stderr);
    for line in &ended.rest {
        ledger.on_serve_line(line);
    }
    for note in gateway.finish(&rt) {
        ledger.on_note(note);
    }
    let file = FileStore::open(&store).unwrap_or_else(|e| panic!("the store opens after serve stopped: {e}"));
    let key = BacklogKey::Identity(Identity::new(PLATFORM, BOT_ID));
    let left = file.entries_after(&key, None, 200).expect("the store reads");
    let ids: Vec<&str> = left.iter().map(|e| e.buffer_id.as_str()).collect();
    assert!(ids.is_empty(), "after acks and a clean stop the backlog is empty, but it holds {ids:?}");
    ledger.verify("acks, then SIGTERM");
}
