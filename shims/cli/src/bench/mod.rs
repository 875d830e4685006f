//! `relay bench`: load figures of relay on loopback, beside a bare
//! async-tungstenite baseline measured in the same run.
//!
//! Measurements (each one JSON object with `--json`):
//!
//! - `round_trips`: a gateway client sends `send` requests, `--concurrency`
//!   of them in flight, to a connector that answers each at once; round trips
//!   per second and latency percentiles.
//! - `inbound`: a connector pushes realistic inbound frames (the seeded
//!   generator of `relay_core::bench`) as fast as the gateway takes them;
//!   frames and MB per second delivered to the application.
//! - `idle_connections` (`--connections N`): a child process opens N idle
//!   gateways against the embedded connector; the connector's RSS, per
//!   connection, and the child's.
//!
//! `--baseline raw` adds the same measurements on a bare async-tungstenite
//! JSON echo / push pair (no protocol, flush once per burst, same runtime),
//! and the report prints relay's figures as ratios to it.
//!
//! Each load run is a process of its own (the hidden `--single`), with its
//! connector in another (`--connector-for`, see `peer`): each side's peak
//! RSS is then that run's, and the two sides share no allocator.

mod cpu;
mod peer;
mod raw;
mod relay;
mod report;

use std::io::{BufRead as _, BufReader, IsTerminal as _};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use crate::stdio::Failure;
pub(crate) use report::Measurement;

/// The `--help` examples.
pub(crate) const EXAMPLES: &str = "Examples:
  relay bench --baseline raw
  relay bench --runtime smol,tokio --concurrency 1,16,256,1024 --runs 3 --baseline raw --json
  relay bench --gateways 1000 --concurrency 4 --measure round-trips --baseline raw --cpu
  relay bench --connections 10000 --skip-load
  relay bench --url ws://127.0.0.1:4000/relay --concurrency 1,64";

/// Which async runtime runs a measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum RuntimeChoice {
    /// tokio, one current-thread runtime per side
    Tokio,
    /// smol
    Smol,
}

impl RuntimeChoice {
    fn name(self) -> &'static str {
        match self {
            Self::Tokio => "tokio",
            Self::Smol => "smol",
        }
    }
}

/// What to compare relay with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Baseline {
    /// A bare async-tungstenite JSON echo / push pair on the same runtime.
    Raw,
}

/// A load measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Kind {
    /// Request → result round trips.
    RoundTrips,
    /// Inbound frames delivered to the gateway application.
    Inbound,
}

impl Kind {
    fn flag(self) -> &'static str {
        match self {
            Self::RoundTrips => "round-trips",
            Self::Inbound => "inbound",
        }
    }
}

/// Which side of the comparison a load measurement runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Impl {
    /// relay's gateway client and connector.
    Relay,
    /// The bare async-tungstenite pair.
    Raw,
}

impl Impl {
    fn flag(self) -> &'static str {
        match self {
            Self::Relay => "relay",
            Self::Raw => "raw",
        }
    }
}

/// Arguments of `relay bench`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Runtimes to measure, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "tokio")]
    runtime: Vec<RuntimeChoice>,
    /// Requests in flight for the round-trip measurements, comma-separated
    /// (per gateway with `--gateways`).
    #[arg(long, value_delimiter = ',', default_value = "1,16,256,1024")]
    concurrency: Vec<usize>,
    /// Active gateways (connections to one connector) of the round-trip
    /// measurements, each with `--concurrency` requests in flight.
    #[arg(long, default_value_t = 1)]
    gateways: usize,
    /// Also report the CPU time of both processes per round trip or frame.
    #[arg(long)]
    cpu: bool,
    /// Seconds per measurement (the first tenth is warm-up).
    #[arg(long, default_value_t = 2.0)]
    duration: f64,
    /// Runs of each load measurement; the report gives each figure's median.
    #[arg(long, default_value_t = 1)]
    runs: usize,
    /// Also measure a baseline in the same run and print ratios to it.
    #[arg(long, value_enum)]
    baseline: Option<Baseline>,
    /// Measure a connector holding this many idle gateways (opened by a child process).
    #[arg(long)]
    connections: Option<usize>,
    /// Only the idle-connection measurement (with `--connections`).
    #[arg(long)]
    skip_load: bool,
    /// Load measurements to run, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "round-trips,inbound")]
    measure: Vec<Kind>,
    /// Dial this connector for the round trips instead of an embedded one.
    #[arg(long)]
    url: Option<String>,
    /// WebSocket read buffer of the embedded connector and the gateways, in bytes.
    #[arg(long, default_value_t = 4096)]
    websocket_buffer: usize,
    /// One JSON object per measurement on stdout.
    #[arg(long)]
    json: bool,
    /// Internal: be the child that holds N idle gateways against `--url`.
    #[arg(long, hide = true)]
    idle_gateways: Option<usize>,
    /// Internal: be the connector-side child of a load measurement.
    #[arg(long, hide = true, value_enum)]
    connector_for: Option<peer::Role>,
    /// Internal: run one load measurement (the first runtime, concurrency
    /// and measure given) as the gateway side, and print it as JSON.
    #[arg(long, hide = true, value_enum)]
    single: Option<Impl>,
}

/// Settings every measurement shares.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) duration: Duration,
    pub(crate) websocket_buffer: usize,
    /// Connections of a round-trip measurement.
    pub(crate) gateways: usize,
    /// Whether to add `cpu_us_per_op`.
    pub(crate) cpu: bool,
}

/// Runs the measurements and prints them.
pub(crate) fn run(args: Args) -> Result<ExitCode, Failure> {
    if let Some(n) = args.idle_gateways {
        let url = args.url.clone().ok_or_else(|| Failure::Usage("--idle-gateways needs --url".into()))?;
        let runtime = args.runtime.first().copied().unwrap_or(RuntimeChoice::Tokio);
        return with_runtime(runtime, |rt| relay::idle_child(rt, &url, n, args.websocket_buffer))
            .map(|()| ExitCode::SUCCESS)
            .map_err(Failure::Runtime);
    }
    if let Some(role) = args.connector_for {
        let runtime = args.runtime.first().copied().unwrap_or(RuntimeChoice::Tokio);
        return with_runtime(runtime, |rt| peer::serve(rt, role, args.websocket_buffer))
            .map(|()| ExitCode::SUCCESS)
            .map_err(Failure::Runtime);
    }
    if args.concurrency.contains(&0)
        || args.runs == 0
        || args.gateways == 0
        || !args.duration.is_finite()
        || args.duration <= 0.0
    {
        return Err(Failure::Usage(
            "--concurrency, --gateways, --runs and --duration must be positive".into(),
        ));
    }
    let plan = Plan {
        duration: Duration::from_secs_f64(args.duration),
        websocket_buffer: args.websocket_buffer,
        gateways: args.gateways,
        cpu: args.cpu,
    };
    if let Some(imp) = args.single {
        let m = single(&args, imp, &plan).map_err(Failure::Runtime)?;
        report::emit(&m, true);
        return Ok(ExitCode::SUCCESS);
    }
    let mut progress = Progress::new(&args);
    let mut all = Vec::new();
    for &runtime in &args.runtime {
        if let Some(n) = args.connections {
            progress.step(&format!("{} idle gateways ({})", n, runtime.name()));
            let m = idle_connections(runtime, n, &plan).map_err(Failure::Runtime)?;
            report::emit(&m, args.json);
            all.push(m);
        }
        if args.skip_load {
            continue;
        }
        let concurrency = if args.measure.contains(&Kind::RoundTrips) { &args.concurrency[..] } else { &[] };
        for &c in concurrency {
            measure_pair(&args, &mut progress, Kind::RoundTrips, runtime, Some(c), &mut all)?;
        }
        if args.url.is_none() && args.measure.contains(&Kind::Inbound) {
            measure_pair(&args, &mut progress, Kind::Inbound, runtime, None, &mut all)?;
        }
    }
    progress.done();
    if !args.json {
        report::summary(&all);
    }
    Ok(ExitCode::SUCCESS)
}

/// Measures relay (and the baseline, when asked) `--runs` times, the two
/// interleaved so that both see the same machine, and reports the medians.
/// Each run is a process of its own (with its connector in another), so the
/// peak RSS it reports is that run's alone.
fn measure_pair(
    args: &Args,
    progress: &mut Progress,
    kind: Kind,
    runtime: RuntimeChoice,
    concurrency: Option<usize>,
    all: &mut Vec<Measurement>,
) -> Result<(), Failure> {
    let imps: &[Impl] = if args.baseline.is_some() { &[Impl::Relay, Impl::Raw] } else { &[Impl::Relay] };
    let mut runs: Vec<Vec<Measurement>> = vec![Vec::new(); imps.len()];
    let at = concurrency.map(|c| format!(", concurrency {c}")).unwrap_or_default();
    for run in 1..=args.runs {
        for (imp, runs) in imps.iter().zip(&mut runs) {
            progress.step(&format!(
                "{}, {}{at}, {}, run {run}/{}",
                kind.flag(),
                runtime.name(),
                imp.flag(),
                args.runs
            ));
            runs.push(measure_in_child(args, *imp, kind, runtime, concurrency).map_err(Failure::Runtime)?);
        }
    }
    for runs in runs {
        if let Some(m) = report::median(runs) {
            report::emit(&m, args.json);
            all.push(m);
        }
    }
    Ok(())
}

/// Runs `relay bench --single …` for one measurement and reads its JSON line.
fn measure_in_child(
    args: &Args,
    imp: Impl,
    kind: Kind,
    runtime: RuntimeChoice,
    concurrency: Option<usize>,
) -> Result<Measurement, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the relay binary: {e}"))?;
    let mut command = Command::new(exe);
    command
        .args(["bench", "--single", imp.flag(), "--runtime", runtime.name(), "--measure", kind.flag()])
        .args(["--duration", &args.duration.to_string()])
        .args(["--websocket-buffer", &args.websocket_buffer.to_string()])
        .args(["--gateways", &args.gateways.to_string()]);
    if args.cpu {
        command.arg("--cpu");
    }
    if let Some(c) = concurrency {
        command.args(["--concurrency", &c.to_string()]);
    }
    if let Some(url) = &args.url {
        command.args(["--url", url]);
    }
    let out =
        command.stdin(Stdio::null()).output().map_err(|e| format!("cannot start a measurement: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(err.trim().trim_start_matches("error: ").trim_end_matches('.').to_owned());
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("a measurement printed no figures: {e}"))
}

/// The `--single` measurement, in this process.
fn single(args: &Args, imp: Impl, plan: &Plan) -> Result<Measurement, String> {
    let runtime = args.runtime.first().copied().unwrap_or(RuntimeChoice::Tokio);
    let kind = args.measure.first().copied().unwrap_or(Kind::RoundTrips);
    let c = args.concurrency.first().copied().unwrap_or(1);
    let rtb = RuntimeBox(runtime);
    match (imp, kind) {
        (Impl::Relay, Kind::RoundTrips) => relay::round_trips(rtb, runtime, c, plan, args.url.as_deref()),
        (Impl::Raw, Kind::RoundTrips) => raw::round_trips(rtb, runtime, c, plan),
        (Impl::Relay, Kind::Inbound) => relay::inbound(rtb, runtime, plan),
        (Impl::Raw, Kind::Inbound) => raw::inbound(rtb, runtime, plan),
    }
}

/// Calls `f` with the chosen runtime.
fn with_runtime<T>(
    choice: RuntimeChoice,
    f: impl FnOnce(RuntimeBox) -> Result<T, String>,
) -> Result<T, String> {
    f(RuntimeBox(choice))
}

/// The chosen runtime, handed to the generic measurement code.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RuntimeBox(RuntimeChoice);

impl RuntimeBox {
    /// Runs `future` to completion on a fresh single-threaded runtime of this
    /// kind. On smol it runs on the global executor, where relay-smol spawns
    /// connection tasks: the application and its connections then share a
    /// thread, as they do on tokio's current-thread runtime.
    pub(crate) fn block_on<F>(self, future: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send,
    {
        match self.0 {
            RuntimeChoice::Tokio => tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a current-thread tokio runtime starts")
                .block_on(future),
            RuntimeChoice::Smol => smol::block_on(smol::spawn(future)),
        }
    }

    /// Runs `make()` on its own thread with its own runtime (one side of a pair).
    pub(crate) fn thread<F, Fut>(self, make: F) -> std::thread::JoinHandle<()>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        std::thread::spawn(move || self.block_on(make()))
    }
}

/// Dispatches generic code on the concrete `relay_driver::Runtime`.
macro_rules! on_runtime {
    ($rtbox:expr, |$rt:ident| $body:expr) => {
        match $rtbox.kind() {
            $crate::bench::RuntimeChoice::Tokio => {
                let $rt = relay_tokio::Tokio;
                $body
            }
            $crate::bench::RuntimeChoice::Smol => {
                let $rt = relay_smol::Smol;
                $body
            }
        }
    };
}
pub(crate) use on_runtime;

impl RuntimeBox {
    pub(crate) fn kind(self) -> RuntimeChoice {
        self.0
    }
}

/// One field of `/proc/<pid>/status`, in KiB.
pub(crate) fn proc_kib(pid: Option<u32>, field: &str) -> Option<u64> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/status"),
        None => "/proc/self/status".to_owned(),
    };
    let status = std::fs::read_to_string(path).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The embedded connector in this process, N idle gateways in a child.
fn idle_connections(runtime: RuntimeChoice, n: usize, plan: &Plan) -> Result<Measurement, String> {
    let server = relay::BenchServer::start(RuntimeBox(runtime), false, plan.websocket_buffer)?;
    // Let the runtime settle before the reference reading.
    std::thread::sleep(Duration::from_millis(300));
    let before = proc_kib(None, "VmRSS").unwrap_or(0);
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the relay binary: {e}"))?;
    let mut child = Command::new(exe)
        .args(["bench", "--idle-gateways", &n.to_string(), "--url", &server.url, "--runtime", runtime.name()])
        .args(["--websocket-buffer", &plan.websocket_buffer.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start the idle-gateway process: {e}"))?;
    let pid = child.id();
    let stdout = child.stdout.take().expect("piped");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).map_err(|e| e.to_string())?;
    if !line.starts_with("ready") {
        let _ = child.kill();
        return Err(format!("the idle-gateway process failed: {}", line.trim()));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while server.handle.connections().len() < n && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let held = server.handle.connections().len();
    std::thread::sleep(Duration::from_millis(500));
    let rss = proc_kib(None, "VmRSS").unwrap_or(0);
    let child_rss = proc_kib(Some(pid), "VmHWM").unwrap_or(0);
    drop(child.stdin.take());
    let _ = child.wait();
    server.stop();
    if held < n {
        return Err(format!("only {held} of {n} idle gateways connected"));
    }
    Ok(Measurement {
        kind: "idle_connections".into(),
        imp: "relay".into(),
        runtime: runtime.name().into(),
        connections: Some(n),
        rss_kib: Some(rss),
        rss_per_connection_kib: Some((rss.saturating_sub(before)) as f64 / n as f64),
        client_rss_kib: Some(child_rss),
        ..Measurement::default()
    })
}

/// A one-line progress indicator on stderr, only when it is a terminal.
struct Progress {
    on: bool,
    total: usize,
    done: usize,
}

impl Progress {
    fn new(args: &Args) -> Self {
        let per_runtime = if args.skip_load {
            0
        } else {
            let pairs = if args.baseline.is_some() { 2 * args.runs } else { args.runs };
            let rt = if args.measure.contains(&Kind::RoundTrips) { args.concurrency.len() } else { 0 };
            pairs * (rt + usize::from(args.url.is_none() && args.measure.contains(&Kind::Inbound)))
        } + usize::from(args.connections.is_some());
        Self { on: std::io::stderr().is_terminal(), total: per_runtime * args.runtime.len(), done: 0 }
    }

    fn step(&mut self, what: &str) {
        self.done += 1;
        if self.on {
            eprint!("\r\x1b[2K[{}/{}] {what} …", self.done, self.total);
        }
    }

    fn done(&self) {
        if self.on {
            eprint!("\r\x1b[2K");
        }
    }
}
