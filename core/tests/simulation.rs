//! The deterministic simulation of both ends (`relay_core::sim::world`):
//! the real gateway machine and reconnect policy against the real connector
//! machine and its backlog, over a simulated network with seeded faults.
//!
//! `cargo test` runs 500 seeds. `RELAY_SIM_SEEDS=N` runs N seeds instead,
//! starting at `RELAY_SIM_START` (default 0); `RELAY_SIM_TRANSCRIPT=1` prints
//! the whole transcript of every seed run (meant for one seed). A failing
//! seed prints its broken invariant, its plan, its last transcript entries
//! and the command that replays it alone:
//!
//! ```text
//! RELAY_SIM_SEEDS=1 RELAY_SIM_START=<seed> cargo test -p relay-core --features sim --test simulation -- --nocapture
//! ```

use std::collections::BTreeMap;
use std::num::NonZeroUsize;
use std::sync::Once;
use std::thread;
use std::time::Duration;

use relay_core::sim::world::{
    Options, Outcome, RunReport, Sabotage, SeedFailure, reproduce_command, run_seed,
};

/// Seeds run by a plain `cargo test`.
const DEFAULT_SEEDS: u64 = 500;
/// Seed threads are named with this prefix (their panics are reported, not printed).
const THREAD_PREFIX: &str = "sim-seeds";

fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(text) => text.trim().parse().unwrap_or_else(|_| panic!("{name} must be a number, got {text:?}")),
        Err(_) => default,
    }
}

/// A failing seed's panic is caught and reported with its transcript; the
/// default hook's line for it would only repeat the message, once per seed.
fn quiet_seed_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !thread::current().name().is_some_and(|name| name.starts_with(THREAD_PREFIX)) {
                default(info);
            }
        }));
    });
}

/// What a range of seeds did.
#[derive(Debug, Default)]
struct Totals {
    runs: u64,
    outcomes: BTreeMap<Outcome, u64>,
    counters: BTreeMap<&'static str, u64>,
    simulated: Duration,
    failed: Vec<u64>,
    /// The failure of the lowest failing seed.
    first: Option<SeedFailure>,
}

impl Totals {
    fn add(&mut self, result: Result<RunReport, SeedFailure>) {
        self.runs += 1;
        match result {
            Ok(report) => {
                if !report.transcript.is_empty() {
                    println!("seed {} ({:?}):\n{}", report.seed, report.outcome, report.transcript);
                }
                *self.outcomes.entry(report.outcome).or_default() += 1;
                for (name, n) in report.counters {
                    *self.counters.entry(name).or_default() += n;
                }
                self.simulated += report.simulated;
            }
            Err(failure) => {
                self.failed.push(failure.seed);
                if self.first.as_ref().is_none_or(|f| failure.seed < f.seed) {
                    self.first = Some(failure);
                }
            }
        }
    }

    fn merge(&mut self, other: Self) {
        self.runs += other.runs;
        for (outcome, n) in other.outcomes {
            *self.outcomes.entry(outcome).or_default() += n;
        }
        for (name, n) in other.counters {
            *self.counters.entry(name).or_default() += n;
        }
        self.simulated += other.simulated;
        self.failed.extend(other.failed);
        if let Some(failure) = other.first {
            if self.first.as_ref().is_none_or(|f| failure.seed < f.seed) {
                self.first = Some(failure);
            }
        }
    }

    fn summary(&self) -> String {
        let mut out = format!(
            "{} seeds, {:.1} simulated hours, outcomes {:?}\n",
            self.runs,
            self.simulated.as_secs_f64() / 3600.0,
            self.outcomes
        );
        for (name, n) in &self.counters {
            out.push_str(&format!("  {name:<45} {n:>10}\n"));
        }
        out
    }
}

/// Runs `count` seeds from `start`, spread over the machine's cores.
fn run_seeds(start: u64, count: u64, options: Options) -> Totals {
    let cores = thread::available_parallelism().map_or(1, NonZeroUsize::get) as u64;
    let threads = cores.min(count).max(1);
    thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                thread::Builder::new()
                    .name(format!("{THREAD_PREFIX}-{t}"))
                    .spawn_scoped(scope, move || {
                        let mut totals = Totals::default();
                        let mut seed = start + t;
                        while seed < start + count {
                            totals.add(run_seed(seed, options));
                            seed += threads;
                        }
                        totals
                    })
                    .expect("a seed thread starts")
            })
            .collect();
        let mut totals = Totals::default();
        for worker in workers {
            totals.merge(worker.join().expect("seed threads catch their seeds' panics"));
        }
        totals.failed.sort_unstable();
        totals
    })
}

#[test]
fn seeds() {
    quiet_seed_panics();
    let count = env_u64("RELAY_SIM_SEEDS", DEFAULT_SEEDS);
    let start = env_u64("RELAY_SIM_START", 0);
    let full_transcript = env_u64("RELAY_SIM_TRANSCRIPT", 0) != 0;
    let totals = run_seeds(start, count, Options { full_transcript, ..Options::default() });
    println!("simulation: seeds {start}..{}\n{}", start + count, totals.summary());
    if let Some(first) = &totals.first {
        eprintln!("{first}");
        let shown: Vec<u64> = totals.failed.iter().take(20).copied().collect();
        panic!(
            "{} of {count} seeds failed (first ones: {shown:?}); the lowest is shown above.\nreproduce: {}",
            totals.failed.len(),
            reproduce_command(first.seed)
        );
    }
    assert_eq!(totals.runs, count);
}

/// The checks can fail: a planted defect is caught within a few seeds, by
/// the invariant that should catch it.
#[test]
fn planted_defects_are_caught() {
    quiet_seed_panics();
    // Each defect, and the invariants that may notice it first (which one
    // does depends on the seed's plan).
    let cases: [(Sabotage, &[&str]); 4] = [
        (Sabotage::DropOneAppend, &["reached the application 0 times"]),
        (Sabotage::SkipOneReplay, &["went live with entries left in the backlog", "out of order"]),
        (Sabotage::ReportBufferedBeforeDurable, &["reached the application 0 times", "is lost"]),
        (Sabotage::SilentFabric, &["did not converge"]),
    ];
    for (sabotage, expected) in cases {
        let options = Options { sabotage, ..Options::default() };
        let totals = run_seeds(0, 40, options);
        let Some(first) = totals.first else { panic!("{sabotage:?} went unnoticed over 40 seeds") };
        assert!(
            expected.iter().any(|e| first.message.contains(e)),
            "{sabotage:?} was caught, but not as expected:\n{first}"
        );
        assert!(first.transcript.lines().count() > 10, "a failure comes with its transcript:\n{first}");
        println!("{sabotage:?}: caught in {} of 40 seeds, first: {}", totals.failed.len(), first.message);
    }
}
