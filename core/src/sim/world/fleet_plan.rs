//! The connector fleet of one run: how many instances share the backlog
//! store, how they route pushes, on which instance each platform event is
//! submitted, and the faults only a fleet has (gateway moves, fabric
//! outages, crashes of a chosen instance).
//!
//! It is drawn from a generator of its own, and a lone instance draws
//! nothing more from it than its size: the rest of a lone instance's plan
//! is what it was before fleets existed.

use std::fmt::Write as _;
use std::time::Duration;

use rand::{Rng as _, SeedableRng as _};
use rand_chacha::ChaCha8Rng;

use super::faults::{Fault, drop_kind, millis};

/// Salt of the fleet's generator.
const FLEET_STREAM: u64 = 0x666c_6565_7400_0001;
/// The most instances a fleet has.
const MAX_INSTANCES: usize = 4;

/// How an instance routes a push for the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Routing {
    /// Through its own ready connection of the gateway when it has one
    /// (sent live, or handed back and appended); else appended to the
    /// shared store and announced.
    ThroughHolder,
    /// Always appended to the shared store first, then the instance tells
    /// its own ready connections, or announces when it has none (what
    /// `relay serve` does with a fabric).
    AlwaysStore,
}

/// Which instance a fault hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// The one serving the gateway's newest connection when the fault
    /// comes (the first instance when none does).
    Holder,
    /// This one.
    Instance(usize),
}

/// The fleet's shape.
#[derive(Debug, Clone)]
pub(crate) struct FleetPlan {
    pub(crate) instances: usize,
    pub(crate) routing: Routing,
    /// Per platform event, in the plan's order, the instance it is submitted on.
    pub(crate) producers: Vec<usize>,
    /// How long an announcement takes at most to reach another instance.
    pub(crate) news_latency: Duration,
}

impl FleetPlan {
    pub(crate) fn generator(seed: u64) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(seed ^ FLEET_STREAM)
    }

    /// A lone instance a third of the time, else two to four.
    pub(crate) fn draw(rng: &mut ChaCha8Rng) -> Self {
        let instances = if rng.random_bool(0.35) { 1 } else { rng.random_range(2..=MAX_INSTANCES) };
        let routing =
            if instances > 1 && rng.random_bool(0.4) { Routing::AlwaysStore } else { Routing::ThroughHolder };
        let news_latency = if instances > 1 { millis(rng, 0, 80) } else { Duration::ZERO };
        Self { instances, routing, producers: Vec::new(), news_latency }
    }

    pub(crate) fn is_fleet(&self) -> bool {
        self.instances > 1
    }

    /// Which instance a crash hits (a lone instance draws nothing).
    pub(crate) fn target(&self, rng: &mut ChaCha8Rng) -> Target {
        if !self.is_fleet() {
            return Target::Instance(0);
        }
        if rng.random_bool(0.5) {
            Target::Holder
        } else {
            Target::Instance(rng.random_range(0..self.instances))
        }
    }

    /// The instance each of `events` platform events is submitted on: mostly
    /// spread at random, now and then a run of them on one instance.
    pub(crate) fn draw_producers(&mut self, rng: &mut ChaCha8Rng, events: usize) {
        if !self.is_fleet() {
            self.producers = vec![0; events];
            return;
        }
        let mut current = 0;
        self.producers = (0..events)
            .map(|_| {
                if rng.random_bool(0.6) {
                    current = rng.random_range(0..self.instances);
                }
                current
            })
            .collect();
    }

    /// The faults only a fleet has, within `active_ms`: gateway moves,
    /// fabric outages and crashes of a chosen instance.
    pub(crate) fn draw_faults(&self, rng: &mut ChaCha8Rng, active_ms: u64) -> Vec<(Duration, Fault)> {
        if !self.is_fleet() {
            return Vec::new();
        }
        (0..rng.random_range(1..=12))
            .map(|_| {
                let at = millis(rng, 500, active_ms);
                let fault = match rng.random_range(0..10) {
                    0..=4 => Fault::GatewayMove(drop_kind(rng)),
                    5..=7 => {
                        Fault::FabricOutage { target: self.target(rng), lasting: millis(rng, 200, 30_000) }
                    }
                    _ => {
                        let down_for = millis(rng, 50, 30_000);
                        Fault::Restart { target: self.target(rng), down_for, vanish: rng.random_bool(0.25) }
                    }
                };
                (at, fault)
            })
            .collect()
    }

    pub(crate) fn summary(&self) -> String {
        let mut out = format!("fleet of {} instance(s)", self.instances);
        if self.is_fleet() {
            let _ = write!(out, ", routing {:?}, announcements up to {:?}", self.routing, self.news_latency);
        }
        out
    }
}
