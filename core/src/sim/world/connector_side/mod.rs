//! The connector end: its application, the driver around it, and the
//! backlog store it drives.
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
//! through the newest connection when it is ready (sent live, or appended
//! when the machine hands the frame back), straight to the store when no
//! connection can take it.
//!
//! # The store
//!
//! The store is an I/O boundary of its own (`store.rs`): durable contents
//! behind one queue, whose operations are performed one at a time in the
//! order submitted, each after a seeded latency (or inline, as soon as the
//! driver has drained the machine that asked), each failing now and then.
//! What a failure means:
//! - a failed append writes nothing, and the producer is told its push
//!   failed; a push is told *buffered* only when its append completed (the
//!   durability point), never when it is submitted;
//! - a failed read is reported to the machine, which asks again after
//!   `store_retry`;
//! - a failed removal leaves the entry *stranded*: acknowledged, yet
//!   replayed again on a later connection (at-least-once; the gateway's
//!   dedupe absorbs the repeat).
//!
//! A crash loses everything in memory but the store's contents: machines,
//! the driver's state, and the store's queue, of which the store may have
//! applied a seeded prefix. A push whose append was in flight is then *in
//! doubt*: nobody told its producer anything, and it is delivered once or
//! never. A new process starts on the same contents.
//!
//! # Files
//!
//! - this file: the state, the per-step checks, the faults;
//! - `driver.rs`: accepting dials, the network's deliveries, timeouts and
//!   the machines' actions;
//! - `store_traffic.rs`: what goes to the store and what comes back;
//! - `store.rs`: the store itself;
//! - `app.rs`: answering hellos and requests, taking what the gateway sends;
//! - `pushes.rs`: platform events, forwards and interrupts;
//! - `auth.rs`: who is let in (4401 episodes).

mod app;
mod auth;
mod driver;
mod pushes;
mod store;
mod store_traffic;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use self::auth::Auth;
use self::store::Store;
use super::agenda::Task;
use super::faults::{Chat, Plan};
use super::invariants::ConnectorContract;
use super::network::{ConnId, DropKind, End};
use super::transcript::Side;
use super::{Ctx, GATEWAY_ID, GATEWAY_SECRET, Sabotage};
use crate::connector::{BacklogKey, ConnectorConfig, ConnectorMachine};

#[derive(Debug)]
struct Connection {
    machine: ConnectorMachine,
    contract: ConnectorContract,
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
}

impl Connection {
    fn new(machine: ConnectorMachine, now: Instant) -> Self {
        Self {
            machine,
            contract: ConnectorContract::default(),
            opened: now,
            last_heard: now,
            last_answer: now,
            acked: BTreeSet::new(),
            awaiting_removal: Vec::new(),
            cursor: None,
            reading: false,
            retry_at: None,
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

/// The connector application, its driver and its backlog store.
#[derive(Debug)]
pub(crate) struct ConnectorSide {
    up: bool,
    /// Bumped by every restart: work scheduled by an earlier process is void.
    incarnation: u32,
    store: Store,
    key: BacklogKey,
    window: usize,
    /// How long a machine waits before it asks a failed read again.
    store_retry: Duration,
    auth: Auth,
    machines: BTreeMap<ConnId, Connection>,
    /// Entries whose removal failed: acknowledged, yet still in the store.
    stranded: BTreeSet<String>,
    armed_crash: Option<ArmedCrash>,
    /// Platform events that came while the process was down, in order.
    deferred: Vec<usize>,
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
        Self {
            up: true,
            incarnation: 0,
            store: Store::new(plan.store, seed, key.clone(), hide_one, report_at_submission),
            key,
            window: plan.replay_window,
            store_retry: ConnectorConfig::default().store_retry,
            auth: Auth::new(plan.auth, GATEWAY_SECRET),
            machines: BTreeMap::new(),
            stranded: BTreeSet::new(),
            armed_crash: None,
            deferred: Vec::new(),
            chats: plan.chats.clone(),
            seqs: vec![0; plan.chats.len()],
            bots: plan.identities.iter().map(|i| i.bot_id.clone()).collect(),
            forwards: 0,
            drop_one_append: sabotage == Sabotage::DropOneAppend,
            report_at_submission,
            refuse_next: 0,
        }
    }

    // ---- what the world asks ----

    /// The earliest machine deadline, and whose.
    pub(crate) fn deadline(&self) -> Option<(Instant, ConnId)> {
        self.machines.iter().filter_map(|(id, c)| c.machine.poll_timeout().map(|at| (at, *id))).min()
    }

    /// The per-step checks of every machine: its contract, its timers
    /// (handshake, dead link) and replay window at the defaults, seen from
    /// outside, and a replay that always has something under way.
    pub(crate) fn check(&self, now: Instant) {
        let defaults = ConnectorConfig::default();
        for (id, c) in &self.machines {
            c.contract.check(*id, &c.machine, now);
            let m = &c.machine;
            if m.is_closed() {
                continue;
            }
            if !m.is_ready() {
                let waited = now - c.opened;
                assert!(
                    waited <= defaults.handshake_timeout,
                    "connector {id}: no descriptor sent after {waited:?}"
                );
            }
            let silent = now - c.last_heard;
            assert!(
                silent <= defaults.dead_link_timeout,
                "connector {id}: {silent:?} without traffic, link not declared dead"
            );
            let in_flight = m.replay_in_flight();
            assert!(
                in_flight <= self.window.max(1),
                "connector {id}: {in_flight} replayed frames unacked, window {}",
                self.window
            );
            assert_eq!(
                m.is_reading_backlog(),
                c.reading,
                "connector {id}: is_reading_backlog disagrees with the reads it asked for"
            );
            // With nothing in flight only a read (or its retry) can move
            // the replay on; without one it would wait forever.
            let retry_due = c.retry_at.is_some_and(|at| at >= now);
            let stalled = m.is_replaying() && in_flight == 0 && !c.reading && !retry_due;
            assert!(
                !stalled,
                "connector {id}: the replay stalled: nothing in flight, no read out, no retry due"
            );
        }
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

    /// The newest connection, if it is live (handshake done, backlog replayed).
    pub(crate) fn newest_live(&self) -> Option<ConnId> {
        self.newest().filter(|(_, c)| c.machine.is_live()).map(|(id, _)| id)
    }

    fn newest(&self) -> Option<(ConnId, &Connection)> {
        self.machines.iter().rev().find(|(_, c)| !c.machine.is_closed()).map(|(id, c)| (*id, c))
    }

    pub(crate) fn describe(&self) -> String {
        let machines: Vec<String> = self
            .machines
            .iter()
            .map(|(id, c)| {
                let m = &c.machine;
                format!(
                    "{id}(ready {} live {} idle {} replaying {} in flight {} reading {})",
                    m.is_ready(),
                    m.is_live(),
                    m.is_idle(),
                    m.is_replaying(),
                    m.replay_in_flight(),
                    c.reading,
                )
            })
            .collect();
        format!(
            "connector: up {}, revoked {}, backlog {} entries ({} stranded), {} store operations queued, machines [{}]",
            self.up,
            self.auth.revoked,
            self.store.len(),
            self.stranded.len(),
            self.store.queued(),
            machines.join(", ")
        )
    }

    // ---- faults ----

    /// The process dies: every connection drops (reset, or the host vanishes
    /// without one); machines, the driver's state and the store's queue are
    /// gone (a prefix of that queue may have been applied), the store's
    /// contents stay.
    pub(crate) fn crash(&mut self, cx: &mut Ctx<'_>, down_for: Duration, vanish: bool) {
        cx.bump("connector restarts");
        let in_flight = self.store.queued();
        cx.note(
            Side::Connector,
            format!(
                "crash (vanish {vanish}) with {in_flight} store operations in flight; back in {down_for:?}"
            ),
        );
        let kind = if vanish { DropKind::Blackhole } else { DropKind::Reset };
        for conn in std::mem::take(&mut self.machines).into_keys() {
            cx.net.fail(cx.now, conn, kind);
            cx.net.close_end(conn, End::Connector);
        }
        let crashed = self.store.crash();
        self.settle_crashed(cx, crashed);
        self.up = false;
        self.incarnation += 1;
        cx.agenda.at(cx.now + down_for, Task::ConnectorUp { incarnation: self.incarnation });
    }

    /// The process will die right after its `after_ops`-th next store operation.
    pub(crate) fn arm_crash(&mut self, after_ops: u32, down_for: Duration, vanish: bool) {
        self.armed_crash = Some(ArmedCrash { after_ops: after_ops.max(1), down_for, vanish });
    }

    /// An armed crash is due (scheduled by the submission that triggered it).
    pub(crate) fn on_crash_due(&mut self, cx: &mut Ctx<'_>, incarnation: u32) {
        if incarnation != self.incarnation || !self.up {
            return;
        }
        if let Some(armed) = self.armed_crash.take_if(|armed| armed.after_ops == 0) {
            cx.bump("connector restarts amid store traffic");
            self.crash(cx, armed.down_for, armed.vanish);
        }
    }

    pub(crate) fn on_up(&mut self, cx: &mut Ctx<'_>, incarnation: u32) {
        if incarnation == self.incarnation && !self.up {
            self.come_up(cx);
        }
    }

    fn come_up(&mut self, cx: &mut Ctx<'_>) {
        self.up = true;
        cx.note(Side::Connector, format!("up; {} platform events waited", self.deferred.len()));
        for chat in std::mem::take(&mut self.deferred) {
            self.push(cx, chat);
        }
    }

    pub(crate) fn refuse_hellos(&mut self, count: u32) {
        self.refuse_next += count;
    }

    pub(crate) fn reject_tokens(&mut self, count: u32) {
        self.auth.reject_next += count;
    }

    pub(crate) fn expire_tokens(&mut self, until: Instant) {
        self.auth.clock_ahead_until = Some(until);
    }

    /// Revokes the gateway's secret and kicks it off every connection.
    pub(crate) fn revoke(&mut self, cx: &mut Ctx<'_>) {
        self.auth.revoked = true;
        for conn in cx.net.live_links() {
            cx.net.fail(cx.now, conn, DropKind::Reset);
        }
    }

    /// The final quiet period: the process is up, accepts valid tokens and
    /// no longer waits to crash.
    pub(crate) fn heal(&mut self, cx: &mut Ctx<'_>) {
        self.refuse_next = 0;
        self.auth.reject_next = 0;
        self.auth.clock_ahead_until = None;
        self.armed_crash = None;
        if !self.up {
            self.come_up(cx);
        }
    }
}
