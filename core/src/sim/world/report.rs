//! What running a seed gives back: its report, or its failure with the
//! plan, the transcript and the command that replays it; and the options.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// A deliberate defect, to prove the invariants catch what they claim to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Sabotage {
    /// None: the real machines, driven correctly.
    #[default]
    None,
    /// The connector application reports its first append buffered but
    /// never writes it: a buffered event is lost.
    DropOneAppend,
    /// The backlog store hides one entry from one replay listing, so that
    /// replay skips it.
    SkipOneReplay,
    /// The connector application reports each push buffered as soon as its
    /// append is submitted, not when the store completed it, and the first
    /// append then fails: an event reported buffered is lost.
    ReportBufferedBeforeDurable,
    /// The instances of a fleet never tell a connection of an append it
    /// did not make (no announcement, no sweep, not even to themselves):
    /// an event another instance appended waits in the store while the
    /// holder delivers live.
    SilentFabric,
}

/// How to run a seed.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// A defect to plant (none by default).
    pub sabotage: Sabotage,
    /// Keep the whole transcript instead of the last [`TRANSCRIPT_LEN`](super::TRANSCRIPT_LEN)
    /// entries, and return it with a passing run too.
    pub full_transcript: bool,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    /// The gateway ended connected, with every buffered event delivered.
    Converged,
    /// The connector revoked the secret and the gateway stopped for good.
    Revoked,
    /// The first connect never succeeded within its budget.
    BudgetExhausted,
}

/// What a passing run did.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// The seed.
    pub seed: u64,
    /// How it ended.
    pub outcome: Outcome,
    /// Steps taken (network arrivals, timer expiries, scheduled work).
    pub steps: u64,
    /// Simulated time from start to end.
    pub simulated: Duration,
    /// Coverage counters (dials, drops, replays, duplicates, …), for totals over seeds.
    pub counters: BTreeMap<&'static str, u64>,
    /// The whole transcript when [`Options::full_transcript`] asked for it, else empty.
    pub transcript: String,
}

/// A seed that broke an invariant.
#[derive(Debug, Clone)]
pub struct SeedFailure {
    /// The seed.
    pub seed: u64,
    /// The panic message: which promise broke.
    pub message: String,
    /// The seed's plan (configuration and timed faults).
    pub plan: String,
    /// The last [`TRANSCRIPT_LEN`](super::TRANSCRIPT_LEN) events of the run (all of them with
    /// [`Options::full_transcript`]): time, side, what happened.
    pub transcript: String,
}

impl fmt::Display for SeedFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let command = reproduce_command(self.seed);
        writeln!(f, "simulation seed {} failed: {}", self.seed, self.message)?;
        writeln!(f, "reproduce: {command}")?;
        writeln!(f, "plan:\n{}", self.plan)?;
        writeln!(f, "transcript (seconds since start, side, what happened):\n{}", self.transcript)?;
        write!(f, "seed {} failed: {}\nreproduce: {command}", self.seed, self.message)
    }
}

/// The command that runs `seed` alone, with its output shown.
pub fn reproduce_command(seed: u64) -> String {
    format!(
        "RELAY_SIM_SEEDS=1 RELAY_SIM_START={seed} cargo test -p relay-core --features sim --test simulation -- --nocapture"
    )
}
