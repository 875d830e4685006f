//! Deterministic simulation of both ends (DESIGN "Tests, in layers", item 4).
//!
//! One `u64` seed fixes a whole run: the real gateway machine
//! ([`RelayMachine`](crate::gateway::RelayMachine), a fresh one per
//! connection) driven by the real [`Reconnect`](crate::policy::Reconnect)
//! policy, against the real [`ConnectorMachine`](crate::connector::ConnectorMachine)
//! (a fresh one per accepted upgrade, on one connector instance or on a
//! fleet of up to four behind a load balancer, all sharing one backlog
//! store that outlives connections and restarts), with an application on each side,
//! over a simulated network, and a simulated store, on simulated time. Nothing reads a clock or an
//! unseeded generator, and every collection iterated is ordered, so a seed
//! replays the same run, step for step.
//!
//! # Faults
//!
//! Drawn per seed (see the plan printed with a failure): per-message
//! latency and jitter, slow periods; messages split into pieces arriving at
//! different times, and merged or re-cut on arrival (whole, merged, seeded
//! cuts, byte at a time); connections that drop at any point — reset, cut in
//! the middle of a message, black-holed (only keepalive and handshake timers
//! notice), or after a given number of messages; failed writes after a
//! reset; connector restarts (every connection of the instance dropped,
//! dials to it refused for a while, the store's contents kept), some timed
//! to hit store operations in flight, some aimed at the instance holding
//! the gateway; gateway moves (the link drops and the next dial lands on
//! another instance); fabric outages (an instance misses announcements of
//! other instances' appends until it resubscribes); 4401 episodes (tokens refused for some dials,
//! clock skew making them `expired`, revocation for good); the gateway
//! application going idle (`go_idle` or an orderly `shutdown`), closing —
//! sometimes right behind its last ack — and sleeping behind a redial hold
//! before the dormant re-dial; hellos answered late, some after the
//! handshake timeout; slow and refused (`success: false`) results, some
//! slower than the request timeout; custody delays before acks; a backlog
//! store with its own latency per operation (none, inline, up to 20 ms, or
//! up to 300 ms), performing operations in the order submitted, failing some
//! of them (appends, reads, removals), so that a machine may close before
//! its removals are performed, and a crash may lose appends in flight or
//! apply them unannounced (see `connector_side`). A fleet's instances share
//! the store through a queue each, route pushes through the holder's
//! machine or always through the store (drawn per seed), tell the holder
//! of their appends by announcement, and sweep every few seconds.
//!
//! The traffic: requests (some before the handshake, some during a
//! shutdown), interrupts both ways (the gateway's may precede the
//! handshake), message events per chat, and passthrough forwards with
//! binary bodies — events and forwards live or buffered.
//!
//! # Invariants
//!
//! Checked as things happen, with a panic naming the broken promise:
//! - every request settles exactly once (per machine before its `Closed`,
//!   and globally), within the request timeout; a failure is ambiguous
//!   exactly when its frame had left the machine, so a definite failure is
//!   never one the connector received; a result is the one the connector
//!   application answered;
//! - an event (or forward) pushed live arrives at most once on the wire, on
//!   its own connection; one the store wrote carries the `bufferId` it was
//!   written as, and one it never wrote never arrives; the application gets
//!   each at most once after dedupe, and within a chat in the order one
//!   instance submitted them;
//!   nothing goes out live after `going_idle_ack`; a push is reported
//!   buffered only once its append completed, and an entry is removed from
//!   the store only after the application got it;
//! - on each connection, each way, what the receiving application gets is
//!   an in-order prefix of what the sending machine sent (a drop only cuts
//!   the tail);
//! - the backlog: replayed at most once per connection, at most the window
//!   unacked, acks only for frames replayed on that connection; one read
//!   out at a time, starting after the last entry replayed, for no more
//!   than the window's room, answered or the machine gone, a failed one
//!   retried no sooner than `store_retry`; every ack followed by the
//!   removal of exactly that entry, gone from the store once performed; a
//!   replay never waits with nothing in flight and no read or retry under
//!   way; a machine goes live only when the store holds nothing but entries
//!   acknowledged on its connection and no frame it handed back is still
//!   waiting to be appended; the gateway acks only after custody;
//! - the reconnect policy: no dial while another is in flight (asked
//!   meanwhile it says so, and the driver's view and the policy's agree);
//!   the 4401 rules of PROTOCOL §8 (a first strike after a handshake
//!   re-dials at once, a second one on that re-dial stops for good,
//!   `expired` backs off); the dormant cadence after going idle; backoff
//!   attempt `n` within `[b/2, b]`, restarted by a connection that stayed up
//!   for the stability window; once stopped it keeps saying so and nothing
//!   dials;
//! - per machine, on both sides: `Closed` exactly once and last, no deadline
//!   in the past, and after `handle_timeout(t)` none at or before `t`; the
//!   handshake, dead-link, ping, `going_idle_ack` and shutdown timers fire
//!   when due;
//! - bounded: a step limit and a simulated-time limit end a run that does
//!   not finish (reported as a livelock).
//!
//! At the end, after a quiet period with the network healthy, the connector
//! up and the gateway awake: every request settled, and — unless the
//! gateway stopped for good — the gateway connected on a working link its
//! connector serves live (with a fleet: the fabric's claim names that
//! instance, live), the store idle and holding nothing but stranded
//! entries (acknowledged, their removal failed), every append answered, and
//! every event and forward reported buffered, or written by the store,
//! delivered to the application exactly once (one in doubt whose append a
//! crash lost may stay lost; a failed one never arrives). A gateway that
//! stopped for good must leave each such undelivered one in the backlog,
//! and a revoked secret must have stopped it.
//!
//! # Reproducing a seed
//!
//! A failing seed reports its panic, its plan, the last
//! [`TRANSCRIPT_LEN`] transcript entries and the command that replays it
//! alone ([`reproduce_command`]); [`Options::full_transcript`] keeps a
//! whole run's transcript, failing or not. [`Sabotage`] plants a defect,
//! to show the checks catch it.
//!
//! # Layout
//!
//! `run.rs` steps the world; `network.rs` is the link model; `faults.rs`
//! draws the plan (the store's character included), `fleet_plan.rs` the
//! connector fleet; `gateway_side/` and
//! `connector_side/` are the two applications and their drivers (the store
//! model is `connector_side/store.rs`); `invariants/` keeps the books;
//! `agenda.rs` orders scheduled work; `transcript.rs` keeps the history;
//! `report.rs` is what a run gives back.

mod agenda;
mod connector_side;
mod faults;
mod fleet_plan;
mod gateway_side;
mod invariants;
mod network;
mod report;
mod run;
mod transcript;

use std::panic::{self, AssertUnwindSafe};
use std::time::{Duration, Instant};

use rand_chacha::ChaCha8Rng;

use self::agenda::Agenda;
use self::invariants::Ledger;
use self::network::Network;
pub use self::report::{Options, Outcome, RunReport, Sabotage, SeedFailure, reproduce_command};
use self::run::World;
use self::transcript::{Side, Transcript};

/// How many transcript entries a failing seed shows.
pub const TRANSCRIPT_LEN: usize = 200;

/// The gateway id when upgrade auth is on.
const GATEWAY_ID: &str = "gw-sim";
/// The secret the gateway and (unless told otherwise) the connector share.
const GATEWAY_SECRET: &str = "sim-secret";
/// Unix time at the start of every run (tokens need wall time).
const UNIX_START: u64 = 1_700_000_000;
/// Salts of the applications' and the network's generators.
const APP_STREAM: u64 = 0x6170_7073_0000_0001;
const NET_STREAM: u64 = 0x6e65_7477_6f72_6b01;

/// Runs one seed to its end and checks every invariant on the way.
///
/// # Errors
///
/// The first broken invariant, with the seed's plan and transcript.
pub fn run_seed(seed: u64, options: Options) -> Result<RunReport, SeedFailure> {
    let mut world = None;
    let result = panic::catch_unwind(AssertUnwindSafe(|| world.insert(World::new(seed, options)).run()));
    result.map_err(|payload| {
        let message = payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_else(|| "(a panic without a message)".to_owned());
        let (plan, transcript) = world.as_ref().map_or_else(Default::default, World::failure_context);
        SeedFailure { seed, message, plan, transcript }
    })
}

/// What every part of the world needs at hand while it acts.
#[derive(Debug)]
struct Ctx<'a> {
    now: Instant,
    epoch: Instant,
    net: &'a mut Network,
    agenda: &'a mut Agenda,
    ledger: &'a mut Ledger,
    log: &'a mut Transcript,
    /// The applications' generator (delays, answers, choices).
    rng: &'a mut ChaCha8Rng,
}

impl Ctx<'_> {
    fn elapsed(&self) -> Duration {
        self.now - self.epoch
    }

    /// Wall time: the run starts at a fixed unix second.
    fn unix_now(&self) -> u64 {
        UNIX_START + self.elapsed().as_secs()
    }

    fn note(&mut self, side: Side, text: String) {
        self.log.record(self.now - self.epoch, side, text);
    }

    fn bump(&mut self, counter: &'static str) {
        self.ledger.bump(counter);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_replays_the_same_run() {
        // Whole transcripts, so every step, time and request id must match.
        let options = Options { full_transcript: true, ..Options::default() };
        for seed in 0..5 {
            let a = run_seed(seed, options).map_err(|f| f.to_string()).unwrap();
            let b = run_seed(seed, options).map_err(|f| f.to_string()).unwrap();
            assert!(a.transcript.lines().count() > 50, "seed {seed}: a run has a story to tell");
            assert_eq!(a.transcript, b.transcript, "seed {seed}");
            assert_eq!(
                (a.steps, a.simulated, &a.counters),
                (b.steps, b.simulated, &b.counters),
                "seed {seed}"
            );
        }
        let other = run_seed(5, options).map_err(|f| f.to_string()).unwrap();
        let first = run_seed(0, options).map_err(|f| f.to_string()).unwrap();
        assert_ne!(first.transcript, other.transcript, "seeds differ");
    }

    #[test]
    fn a_failure_names_the_seed_its_reproduction_and_its_history() {
        let failure = run_seed(0, Options { sabotage: Sabotage::DropOneAppend, ..Options::default() })
            .expect_err("a lost append is caught");
        let text = failure.to_string();
        assert!(text.starts_with("simulation seed 0 failed: "), "{text}");
        assert!(text.contains(&reproduce_command(0)), "{text}");
        assert!(text.contains("plan:\n  auth "), "{text}");
        let entries = failure.transcript.lines().count();
        assert!(entries >= TRANSCRIPT_LEN, "the last {TRANSCRIPT_LEN} entries are shown: {entries}");
    }

    #[test]
    fn the_reproduction_command_names_the_seed() {
        assert!(reproduce_command(42).starts_with("RELAY_SIM_SEEDS=1 RELAY_SIM_START=42 cargo test"));
    }
}
