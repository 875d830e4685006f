//! The connector end: a fleet of instances (one, or several sharing a
//! backlog store), their application, the driver around each machine, the
//! shared store, and the fabric between the instances.
//!
//! # The driver
//!
//! It follows the connector contract: a fresh `ConnectorMachine` per
//! accepted upgrade (with the upgrade's `Authorization` header), drained
//! after every call. Every `Action::Store` the machine emits is submitted to
//! the store as it is polled, and every frame a push hands back
//! (`AppendToBacklog`) is submitted before the machine is drained again, so
//! the append always precedes the store requests that follow the push. A
//! read's answer goes back through `handle_backlog_read` to the machine that
//! asked, if it is still open; a removal needs no answer. The application
//! answers hellos with descriptors, answers requests (sometimes slowly,
//! sometimes `success: false`), and turns platform events into pushes:
//! through the instance's newest connection when it is ready (sent live, or
//! appended when the machine hands the frame back), straight to the store
//! when no connection there can take it.
//!
//! # Several instances
//!
//! With a fleet, each instance runs its own machines; a load balancer
//! (`balancer.rs`) sends every dial to one instance, and elsewhere when
//! that one refuses a dial (it is down) or the gateway moves. Platform
//! events are submitted on the instance the plan names. All instances share
//! one store, each through its own queue (`store.rs`). A push appended
//! directly is then told (`fabric.rs`): to the instance's own ready
//! connections when it has some, else announced to every instance, whose
//! ready connections of the gateway hear `handle_backlog_appended`. An
//! instance misses announcements while its subscription is down, and
//! sweeps (the same call for every ready connection it has) every few
//! seconds while it holds the gateway and when it resubscribes, so no
//! append waits forever. The fabric also records which instance holds the
//! gateway (`claims.rs`, under a lease), and an interrupt submitted where
//! no connection is ready goes to that instance. Only the routing rule
//! differs between plans: through the holder's machine (`ThroughHolder`),
//! or always through the store (`AlwaysStore`). A lone instance has no
//! fabric: no announcements and no sweeps.
//!
//! # The store
//!
//! The store is an I/O boundary of its own (`store.rs`): durable contents
//! behind one queue per instance, whose operations are performed one at a
//! time in the order submitted, each after a seeded latency (or inline, as
//! soon as the driver has drained the machine that asked), each failing
//! now and then. What a failure means:
//! - a failed append writes nothing, and the producer is told its push
//!   failed; a push is told *buffered* only when its append completed (the
//!   durability point), never when it is submitted;
//! - a failed read is reported to the machine, which asks again after
//!   `store_retry`;
//! - a failed removal leaves the entry *stranded*: acknowledged, yet
//!   replayed again on a later connection (at-least-once; the gateway's
//!   dedupe absorbs the repeat).
//!
//! A crash loses everything the instance had in memory: its machines, its
//! driver's state, and its store queue, of which the store may have applied
//! a seeded prefix. A push whose append was in flight is then *in doubt*:
//! nobody told its producer anything, and it is delivered once or never.
//! The instance comes back on the same contents.
//!
//! # Files
//!
//! - this file: the state and what the world asks of it;
//! - `checks.rs`: the per-step checks of every machine;
//! - `lifecycle.rs`: crashes, restarts and the other connector faults;
//! - `balancer.rs`: which instance a dial lands on;
//! - `fabric.rs`: announcements, sweeps and subscription outages;
//! - `claims.rs`: which instance holds the gateway, as the fabric records it;
//! - `driver.rs`: accepting dials, the network's deliveries, timeouts and
//!   the machines' actions;
//! - `store_traffic.rs`: what goes to the store and what comes back;
//! - `store.rs`: the store itself;
//! - `app.rs`: answering hellos and requests, taking what the gateway sends;
//! - `pushes.rs`: platform events, forwards and interrupts;
//! - `auth.rs`: who is let in (4401 episodes).

mod app;
mod auth;
mod balancer;
mod checks;
mod claims;
mod driver;
mod fabric;
mod lifecycle;
mod pushes;
mod store;
mod store_traffic;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::{Duration, Instant};

use rand::SeedableRng as _;
use rand_chacha::ChaCha8Rng;

use self::auth::Auth;
use self::claims::Claim;
use self::store::Store;
use super::faults::{Chat, Plan};
use super::fleet_plan::Routing;
use super::invariants::ConnectorContract;
use super::network::ConnId;
use super::{GATEWAY_ID, GATEWAY_SECRET, Sabotage};
use crate::connector::{BacklogKey, ConnectorConfig, ConnectorMachine};

/// Salt of the generator of the fleet's decisions while it runs (where the
/// balancer turns, how long announcements take); a lone instance never draws.
const FLEET_RUN_STREAM: u64 = 0x666c_6565_7472_756e;

/// One life of one instance: work scheduled by an earlier life is void.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Life {
    pub(crate) instance: usize,
    pub(crate) number: u32,
}

impl fmt::Display for Life {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "i{}", self.instance)
    }
}

#[derive(Debug)]
struct Connection {
    machine: ConnectorMachine,
    contract: ConnectorContract,
    /// The instance that accepted the upgrade.
    instance: usize,
    /// When the upgrade was accepted.
    opened: Instant,
    /// The last time anything arrived (data, ping) or the upgrade.
    last_heard: Instant,
    /// Hello answers keep arrival order.
    last_answer: Instant,
    /// Buffer ids the gateway acknowledged on this connection.
    acked: BTreeSet<String>,
    /// Acknowledged during the current drain; the machine's removal must follow.
    awaiting_removal: Vec<String>,
    /// The last entry replayed on this connection: where its next read starts.
    cursor: Option<String>,
    /// A read this machine asked for is with the store.
    reading: bool,
    /// A read failed: the machine asks again then.
    retry_at: Option<Instant>,
    /// Ready, so its instance holds the gateway (`claims.rs`).
    registered: bool,
}

impl Connection {
    fn new(machine: ConnectorMachine, instance: usize, now: Instant) -> Self {
        Self {
            machine,
            contract: ConnectorContract::default(),
            instance,
            opened: now,
            last_heard: now,
            last_answer: now,
            acked: BTreeSet::new(),
            awaiting_removal: Vec::new(),
            cursor: None,
            reading: false,
            retry_at: None,
            registered: false,
        }
    }
}

/// A crash waiting for store traffic (`Fault::RestartMidStore`).
#[derive(Debug, Clone, Copy)]
struct ArmedCrash {
    /// Submissions still to come; the crash follows the last of them (at
    /// zero it is scheduled, and the quiet period may still call it off).
    after_ops: u32,
    down_for: Duration,
    vanish: bool,
}

/// One connector process of the fleet.
#[derive(Debug, Default)]
struct Instance {
    up: bool,
    /// Bumped by every restart.
    life: u32,
    armed_crash: Option<ArmedCrash>,
    /// Platform events that came while the process was down, in order.
    deferred: Vec<usize>,
    /// Its subscription to announcements is down until then.
    deaf_until: Option<Instant>,
    /// It holds the gateway, delivering live or not (what it refreshes its claim with).
    held: Option<bool>,
    /// Its fabric ticks (claim refresh and sweep) are scheduled.
    ticking: bool,
}

/// The connector fleet, its application, its drivers and its backlog store.
#[derive(Debug)]
pub(crate) struct ConnectorSide {
    instances: Vec<Instance>,
    routing: Routing,
    /// How long an announcement takes at most to reach an instance.
    news_latency: Duration,
    /// The instance the load balancer sends dials to.
    balancer: usize,
    fleet_rng: ChaCha8Rng,
    /// Who holds the gateway, as the fabric records it.
    claim: Option<Claim>,
    store: Store,
    key: BacklogKey,
    window: usize,
    /// How long a machine waits before it asks a failed read again.
    store_retry: Duration,
    auth: Auth,
    machines: BTreeMap<ConnId, Connection>,
    /// Entries whose removal failed: acknowledged, yet still in the store.
    stranded: BTreeSet<String>,
    chats: Vec<Chat>,
    /// Per chat, the sequence number of the last event pushed.
    seqs: Vec<u64>,
    /// Bot id of each gateway identity (forwards name theirs).
    bots: Vec<String>,
    /// Forwards pushed so far.
    forwards: u64,
    /// [`Sabotage::DropOneAppend`] still to happen.
    drop_one_append: bool,
    /// [`Sabotage::ReportBufferedBeforeDurable`]: pushes are told buffered
    /// as soon as their append is submitted.
    report_at_submission: bool,
    /// First hellos still to refuse.
    refuse_next: u32,
    /// [`Sabotage::SilentFabric`]: no connection hears of appends.
    silent_fabric: bool,
}

impl ConnectorSide {
    pub(crate) fn new(plan: &Plan, seed: u64, sabotage: Sabotage) -> Self {
        let key = if plan.auth {
            BacklogKey::Gateway(GATEWAY_ID.to_owned())
        } else {
            BacklogKey::Identity(plan.identities[0].clone())
        };
        let report_at_submission = sabotage == Sabotage::ReportBufferedBeforeDurable;
        let hide_one = sabotage == Sabotage::SkipOneReplay;
        let instances = plan.fleet.instances;
        let store = Store::new(plan.store, seed, key.clone(), instances, hide_one, report_at_submission);
        Self {
            instances: (0..instances).map(|_| Instance { up: true, ..Instance::default() }).collect(),
            routing: plan.fleet.routing,
            news_latency: plan.fleet.news_latency,
            balancer: 0,
            fleet_rng: ChaCha8Rng::seed_from_u64(seed ^ FLEET_RUN_STREAM),
            claim: None,
            store,
            key,
            window: plan.replay_window,
            store_retry: ConnectorConfig::default().store_retry,
            auth: Auth::new(plan.auth, GATEWAY_SECRET),
            machines: BTreeMap::new(),
            stranded: BTreeSet::new(),
            chats: plan.chats.clone(),
            seqs: vec![0; plan.chats.len()],
            bots: plan.identities.iter().map(|i| i.bot_id.clone()).collect(),
            forwards: 0,
            drop_one_append: sabotage == Sabotage::DropOneAppend,
            report_at_submission,
            refuse_next: 0,
            silent_fabric: sabotage == Sabotage::SilentFabric,
        }
    }

    // ---- what the world asks ----

    /// The earliest machine deadline, and whose.
    pub(crate) fn deadline(&self) -> Option<(Instant, ConnId)> {
        self.machines.iter().filter_map(|(id, c)| c.machine.poll_timeout().map(|at| (at, *id))).min()
    }

    /// The store holds nothing the gateway has not acknowledged (only
    /// stranded entries), and has no operation pending.
    pub(crate) fn backlog_settled(&self) -> bool {
        self.store.is_idle() && self.store.buffer_ids().iter().all(|id| self.stranded.contains(id))
    }

    pub(crate) fn in_backlog(&self, buffer_id: &str) -> bool {
        self.store.buffer_ids().iter().any(|id| id == buffer_id)
    }

    pub(crate) fn is_revoked(&self) -> bool {
        self.auth.revoked
    }

    /// The newest connection of the fleet, if it is live (handshake done,
    /// backlog replayed).
    pub(crate) fn newest_live(&self) -> Option<ConnId> {
        let newest = self.machines.iter().rev().find(|(_, c)| !c.machine.is_closed());
        newest.filter(|(_, c)| c.machine.is_live()).map(|(id, _)| *id)
    }

    /// The newest open connection of `instance`.
    fn newest_on(&self, instance: usize) -> Option<(ConnId, &Connection)> {
        let mut open = self.machines.iter().rev().filter(|(_, c)| !c.machine.is_closed());
        open.find(|(_, c)| c.instance == instance).map(|(id, c)| (*id, c))
    }

    fn life(&self, instance: usize) -> Life {
        Life { instance, number: self.instances[instance].life }
    }

    /// The current life of the instance serving `conn`, if it still does.
    fn life_of(&self, conn: ConnId) -> Option<Life> {
        self.machines.get(&conn).map(|c| self.life(c.instance))
    }

    /// Whether `life` is the current one of its instance, and it is up.
    fn is_current(&self, life: Life) -> bool {
        self.instances.get(life.instance).is_some_and(|i| i.up && i.life == life.number)
    }

    fn is_fleet(&self) -> bool {
        self.instances.len() > 1
    }

    pub(crate) fn describe(&self) -> String {
        let machines: Vec<String> = self
            .machines
            .iter()
            .map(|(id, c)| {
                let m = &c.machine;
                format!(
                    "{id}@i{}(ready {} live {} idle {} replaying {} in flight {} reading {})",
                    c.instance,
                    m.is_ready(),
                    m.is_live(),
                    m.is_idle(),
                    m.is_replaying(),
                    m.replay_in_flight(),
                    c.reading,
                )
            })
            .collect();
        let up: Vec<bool> = self.instances.iter().map(|i| i.up).collect();
        format!(
            "connector: up {up:?}, balancer on i{}, revoked {}, backlog {} entries ({} stranded), {} store operations queued, machines [{}]",
            self.balancer,
            self.auth.revoked,
            self.store.len(),
            self.stranded.len(),
            self.store.queued(),
            machines.join(", ")
        )
    }
}
