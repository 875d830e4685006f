//! The plan of one run, drawn from its seed before anything runs: the
//! workload (platform events per chat, gateway requests), the network's
//! character, the connector fleet (`fleet_plan.rs`), and the timed faults.
//! Drawing it up front from its own generator keeps it printable, and keeps
//! a seed's plan the same when the way the rest of the world draws numbers
//! changes. What only a fleet of several instances needs comes from a
//! generator of its own, so a lone instance's plan is what it was before
//! fleets existed.

use std::fmt::Write as _;
use std::time::Duration;

use rand::{Rng as _, SeedableRng as _};
use rand_chacha::ChaCha8Rng;

use super::fleet_plan::{FleetPlan, Target};
use super::network::{DropKind, NetParams};
use crate::gateway::Identity;
use crate::wire::Platform;

/// Salt of the plan's generator, so it is independent of the other streams.
const PLAN_STREAM: u64 = 0x706c_616e_0000_0001;

/// Something that goes wrong (or merely happens) at a planned instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Fault {
    /// Every live link fails now.
    Drop(DropKind),
    /// Every live link fails after this many more messages.
    DropAfter { sends: u32, kind: DropKind },
    /// A connector instance dies (its connections drop; with `vanish` its
    /// host disappears without a reset) and refuses dials for `down_for`.
    /// The shared backlog store is durable and survives; what the instance
    /// was still doing (operations in flight) may or may not have happened.
    Restart { target: Target, down_for: Duration, vanish: bool },
    /// Like `Restart`, but the instance dies with store operations in
    /// flight: right after it submits its `after_ops`-th next one (the crash
    /// waits for that, until the active period ends).
    RestartMidStore { target: Target, after_ops: u32, down_for: Duration, vanish: bool },
    /// The connector refuses the next `count` upgrade tokens (`unauthorized`),
    /// as during a botched secret rotation.
    RejectTokens { count: u32 },
    /// The connector's clock runs an hour ahead for a while: tokens read as `expired`.
    ExpireTokens { lasting: Duration },
    /// The connector revokes the gateway's secret for good and kicks it off.
    Revoke,
    /// The connector application refuses the next `count` first hellos
    /// (close 1008 naming the identity), as while a bot is reconfigured.
    RefuseIdentity { count: u32 },
    /// The gateway application goes idle: `go_idle` (or an orderly
    /// `shutdown` with `going_idle`), closes the connection, and sleeps
    /// (redial hold) for `sleep_for` before waking.
    GoIdle { sleep_for: Duration, shutdown: bool, close_after: Duration },
    /// Latency rises by `extra` for a while.
    SlowNetwork { extra: Duration, lasting: Duration },
    /// Every live link fails, and the load balancer sends the gateway's
    /// next dial to another instance.
    GatewayMove(DropKind),
    /// An instance's subscription to announcements is down for `lasting`:
    /// it misses every announcement meanwhile, then resubscribes and sweeps.
    FabricOutage { target: Target, lasting: Duration },
}

/// A chat the connector receives platform events for.
#[derive(Debug, Clone)]
pub(crate) struct Chat {
    pub(crate) platform: Platform,
    pub(crate) chat_id: String,
    /// Index of the gateway identity that fronts its platform.
    pub(crate) identity: usize,
}

/// Everything a seed fixes before the run starts.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) auth: bool,
    pub(crate) identities: Vec<Identity>,
    pub(crate) chats: Vec<Chat>,
    pub(crate) replay_window: usize,
    pub(crate) net: NetParams,
    /// Workload and faults happen within this; then the quiet period.
    pub(crate) active_for: Duration,
    /// Platform events: when, and for which chat (index into `chats`).
    pub(crate) events: Vec<(Duration, usize)>,
    /// When the gateway application issues a request.
    pub(crate) requests: Vec<Duration>,
    pub(crate) faults: Vec<(Duration, Fault)>,
    pub(crate) store: StorePlan,
    pub(crate) fleet: FleetPlan,
}

/// The character of the backlog store, an I/O boundary of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StorePlan {
    /// How long each operation takes.
    pub(crate) latency: StoreLatency,
    /// Chance, in thousandths, that an operation (append, read or removal) fails.
    pub(crate) fail_per_mille: u32,
}

/// How long the store takes per operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StoreLatency {
    /// Each operation is performed as soon as the driver has drained the
    /// machine that asked (a store in memory, as `serve_request` serves it).
    Inline,
    /// Each operation takes a seeded time up to this, one after the other.
    UpTo(Duration),
}

pub(super) fn millis(rng: &mut ChaCha8Rng, lo: u64, hi: u64) -> Duration {
    Duration::from_millis(rng.random_range(lo..=hi))
}

pub(super) fn drop_kind(rng: &mut ChaCha8Rng) -> DropKind {
    match rng.random_range(0..10) {
        0..=3 => DropKind::Reset,
        4..=7 => DropKind::Cut,
        _ => DropKind::Blackhole,
    }
}

impl Plan {
    pub(crate) fn draw(seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ PLAN_STREAM);
        let mut fleet_rng = FleetPlan::generator(seed);
        let mut fleet = FleetPlan::draw(&mut fleet_rng);
        let auth = rng.random_bool(0.7);
        let mut identities = vec![Identity::new("telegram", "b1")];
        let mut chats = vec![
            Chat { platform: Platform::Telegram, chat_id: "t1".into(), identity: 0 },
            Chat { platform: Platform::Telegram, chat_id: "t2".into(), identity: 0 },
        ];
        if rng.random_bool(0.4) {
            identities.push(Identity::new("discord", "b2"));
            chats.push(Chat { platform: Platform::Discord, chat_id: "d1".into(), identity: 1 });
        }
        let replay_window = [1, 2, 3, 8, 64][rng.random_range(0..5)];
        let base_latency = if rng.random_bool(0.1) { Duration::ZERO } else { millis(&mut rng, 1, 40) };
        let net = NetParams {
            base_latency,
            jitter: millis(&mut rng, 0, 60),
            split_per_mille: rng.random_range(0..=300),
            chunking_weights: [60, 15, 22, 3],
        };
        let active_for = millis(&mut rng, 60_000, 600_000);
        let active_ms = u64::try_from(active_for.as_millis()).unwrap_or(u64::MAX);

        // Events come alone or in bursts (a burst fills the replay window).
        let wanted = rng.random_range(5..=150);
        let mut events = Vec::new();
        while events.len() < wanted {
            let mut at = millis(&mut rng, 0, active_ms);
            let chat = rng.random_range(0..chats.len());
            let burst = if rng.random_bool(0.3) { rng.random_range(2..=6) } else { 1 };
            for _ in 0..burst {
                events.push((at.min(active_for), chat));
                at += millis(&mut rng, 0, 20);
            }
        }
        events.sort_by_key(|(at, _)| *at);
        events.truncate(wanted);

        let mut requests: Vec<Duration> =
            (0..rng.random_range(5..=80)).map(|_| millis(&mut rng, 0, active_ms)).collect();
        requests.sort();

        let calm = rng.random_bool(0.05);
        let count = if calm { 0 } else { rng.random_range(1..=20) };
        let mut faults = Vec::new();
        let mut revoked = false;
        for _ in 0..count {
            let at = millis(&mut rng, 500, active_ms);
            let fault = loop {
                match rng.random_range(0..75) {
                    0..=23 => break Fault::Drop(drop_kind(&mut rng)),
                    24..=33 => {
                        let sends = rng.random_range(1..=30);
                        break Fault::DropAfter { sends, kind: drop_kind(&mut rng) };
                    }
                    34..=39 => {
                        let down_for = millis(&mut rng, 50, 40_000);
                        let vanish = rng.random_bool(0.25);
                        break Fault::Restart { target: fleet.target(&mut fleet_rng), down_for, vanish };
                    }
                    40..=55 => {
                        // Some sleeps outlast the 60 s redial hold, which then ends by itself.
                        let sleep_for = match rng.random_range(0..20) {
                            0..=6 => Duration::ZERO,
                            7..=16 => millis(&mut rng, 100, 45_000),
                            _ => millis(&mut rng, 45_000, 100_000),
                        };
                        let shutdown = rng.random_bool(0.4);
                        let close_after =
                            if rng.random_bool(0.5) { Duration::ZERO } else { millis(&mut rng, 0, 1_500) };
                        break Fault::GoIdle { sleep_for, shutdown, close_after };
                    }
                    56..=60 => {
                        let extra = millis(&mut rng, 100, 3_000);
                        break Fault::SlowNetwork { extra, lasting: millis(&mut rng, 500, 20_000) };
                    }
                    // Upgrade-auth episodes need auth on; draw again without.
                    61..=64 if auth => {
                        let count = match rng.random_range(0..20) {
                            0..=14 => 1,
                            15..=18 => 2,
                            _ => 3,
                        };
                        break Fault::RejectTokens { count };
                    }
                    65..=67 if auth => {
                        break Fault::ExpireTokens { lasting: millis(&mut rng, 1_000, 60_000) };
                    }
                    68 if auth && !revoked => {
                        revoked = true;
                        break Fault::Revoke;
                    }
                    69..=70 => break Fault::RefuseIdentity { count: rng.random_range(1..=2) },
                    71..=74 => {
                        let after_ops = rng.random_range(1..=12);
                        let down_for = millis(&mut rng, 50, 20_000);
                        let vanish = rng.random_bool(0.25);
                        let target = fleet.target(&mut fleet_rng);
                        break Fault::RestartMidStore { target, after_ops, down_for, vanish };
                    }
                    _ => {}
                }
            };
            faults.push((at, fault));
        }
        if !calm {
            faults.extend(fleet.draw_faults(&mut fleet_rng, active_ms));
        }
        // Stable: a lone instance's faults keep the order they always had.
        faults.sort_by_key(|(at, _)| *at);
        let store = StorePlan::draw(&mut rng);
        fleet.draw_producers(&mut fleet_rng, events.len());

        Self {
            auth,
            identities,
            chats,
            replay_window,
            net,
            active_for,
            events,
            requests,
            faults,
            store,
            fleet,
        }
    }

    /// A few lines describing the plan, for a failing seed's report.
    pub(crate) fn summary(&self) -> String {
        let mut out = String::new();
        let identities: Vec<String> = self.identities.iter().map(ToString::to_string).collect();
        let _ = writeln!(
            out,
            "  auth {}, identities [{}], replay window {}, latency {:?} + up to {:?}, split {}‰, store {:?} failing {}‰, active {:.1}s",
            if self.auth { "on" } else { "off" },
            identities.join(", "),
            self.replay_window,
            self.net.base_latency,
            self.net.jitter,
            self.net.split_per_mille,
            self.store.latency,
            self.store.fail_per_mille,
            self.active_for.as_secs_f64(),
        );
        let _ = writeln!(out, "  {}", self.fleet.summary());
        let _ = writeln!(out, "  {} platform events, {} requests", self.events.len(), self.requests.len());
        for (at, fault) in &self.faults {
            let _ = writeln!(out, "  {:>10.3}s fault {fault:?}", at.as_secs_f64());
        }
        out
    }
}

impl StorePlan {
    /// Mostly a store that takes up to 20 ms per operation; now and then one
    /// that takes none, an inline one, or a slow remote one (up to 300 ms:
    /// acks and pushes then often come while a read is out). Half the seeds
    /// never fail an operation, the rest fail up to 4 % of them.
    fn draw(rng: &mut ChaCha8Rng) -> Self {
        let latency = match rng.random_range(0..20) {
            0..=2 => StoreLatency::Inline,
            3..=4 => StoreLatency::UpTo(Duration::ZERO),
            5..=16 => StoreLatency::UpTo(millis(rng, 1, 20)),
            _ => StoreLatency::UpTo(millis(rng, 50, 300)),
        };
        let fail_per_mille = if rng.random_bool(0.5) { 0 } else { rng.random_range(1..=40) };
        Self { latency, fail_per_mille }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::world::fleet_plan::Routing;

    #[test]
    fn a_seed_always_draws_the_same_plan() {
        for seed in 0..50 {
            assert_eq!(Plan::draw(seed).summary(), Plan::draw(seed).summary());
        }
        assert_ne!(Plan::draw(1).summary(), Plan::draw(2).summary());
    }

    #[test]
    fn plans_are_sorted_and_auth_episodes_need_auth() {
        for seed in 0..500 {
            let plan = Plan::draw(seed);
            assert!(plan.events.windows(2).all(|w| w[0].0 <= w[1].0));
            assert!(plan.faults.windows(2).all(|w| w[0].0 <= w[1].0));
            assert!(plan.events.iter().all(|(at, chat)| *at <= plan.active_for && *chat < plan.chats.len()));
            let auth_episode = |f: &Fault| {
                matches!(f, Fault::RejectTokens { .. } | Fault::ExpireTokens { .. } | Fault::Revoke)
            };
            assert!(plan.auth || !plan.faults.iter().any(|(_, f)| auth_episode(f)), "seed {seed}");
            assert!(plan.faults.iter().filter(|(_, f)| *f == Fault::Revoke).count() <= 1);
        }
    }

    #[test]
    fn stores_of_every_character_are_drawn() {
        let stores: Vec<StorePlan> = (0..200).map(|seed| Plan::draw(seed).store).collect();
        let has = |f: &dyn Fn(&StorePlan) -> bool| stores.iter().any(f);
        assert!(has(&|s| s.latency == StoreLatency::Inline));
        assert!(has(&|s| s.latency == StoreLatency::UpTo(Duration::ZERO)));
        assert!(has(
            &|s| matches!(s.latency, StoreLatency::UpTo(max) if max > Duration::ZERO && max <= Duration::from_millis(20))
        ));
        assert!(has(&|s| matches!(s.latency, StoreLatency::UpTo(max) if max >= Duration::from_millis(50))));
        assert!(has(&|s| s.fail_per_mille == 0) && has(&|s| s.fail_per_mille > 0));
        assert!(stores.iter().all(|s| s.fail_per_mille <= 40));
        let mid_store =
            |seed| Plan::draw(seed).faults.iter().any(|(_, f)| matches!(f, Fault::RestartMidStore { .. }));
        assert!((0..200).any(mid_store), "crashes amid store traffic are planned");
    }

    #[test]
    fn fleets_of_every_size_are_drawn_and_a_lone_instance_has_no_fleet_faults() {
        let plans: Vec<Plan> = (0..300).map(Plan::draw).collect();
        for size in 1..=4 {
            assert!(plans.iter().any(|p| p.fleet.instances == size), "no fleet of {size}");
        }
        for routing in [Routing::ThroughHolder, Routing::AlwaysStore] {
            assert!(plans.iter().any(|p| p.fleet.is_fleet() && p.fleet.routing == routing));
        }
        let fleet_fault = |f: &Fault| matches!(f, Fault::GatewayMove(_) | Fault::FabricOutage { .. });
        for (seed, plan) in plans.iter().enumerate() {
            let fleet = &plan.fleet;
            assert_eq!(fleet.producers.len(), plan.events.len(), "seed {seed}");
            assert!(fleet.producers.iter().all(|i| *i < fleet.instances), "seed {seed}");
            let targets = plan.faults.iter().filter_map(|(_, f)| match f {
                Fault::Restart { target, .. }
                | Fault::RestartMidStore { target, .. }
                | Fault::FabricOutage { target, .. } => Some(*target),
                _ => None,
            });
            for target in targets {
                match target {
                    Target::Instance(i) => assert!(i < fleet.instances, "seed {seed}"),
                    Target::Holder => assert!(fleet.is_fleet(), "seed {seed}"),
                }
            }
            if !fleet.is_fleet() {
                assert!(!plan.faults.iter().any(|(_, f)| fleet_fault(f)), "seed {seed}");
            }
        }
        assert!(plans.iter().any(|p| p.faults.iter().any(|(_, f)| fleet_fault(f))));
    }
}
