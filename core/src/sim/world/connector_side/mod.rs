//! The connector end: its application and the driver around it.
//!
//! The driver follows the connector contract: a fresh `ConnectorMachine`
//! per accepted upgrade (with the upgrade's `Authorization` header), drained
//! after every call, and `sync_backlog` lent the one shared store whenever
//! `wants_backlog` says so. The store is a `MemoryBacklog` standing for a
//! durable one: it survives connections and restarts. The application
//! answers hellos with descriptors, answers requests (sometimes slowly,
//! sometimes `success: false`), and turns platform events into pushes:
//! through the newest connection when it is ready (sent live, or appended
//! when the machine hands the frame back), straight into the backlog when
//! no connection can take it.
//!
//! - this file: the state, faults, accepting dials, the network's
//!   deliveries, the machines' actions and the backlog syncs;
//! - `app.rs`: answering hellos and requests, taking what the gateway sends;
//! - `pushes.rs`: platform events, forwards and interrupts;
//! - `auth.rs`: who is let in (4401 episodes);
//! - `store.rs`: the durable backlog store.

mod app;
mod auth;
mod pushes;
mod store;

use std::cell::Cell;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use self::auth::Auth;
use self::store::Store;
use super::agenda::Task;
use super::faults::{Chat, Plan};
use super::invariants::ConnectorContract;
use super::network::{Arrival, ConnId, DropKind, End, Msg, SendOutcome};
use super::transcript::{Side, short};
use super::{Ctx, GATEWAY_ID, GATEWAY_SECRET, Sabotage};
use crate::connector::{Action, BacklogKey, ConnectorConfig, ConnectorMachine, MemoryBacklog};

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
    /// Buffer ids this machine reported acknowledged since its last sync.
    acked: Vec<String>,
    /// A deferred `sync_backlog` is scheduled.
    sync_scheduled: bool,
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
    /// Store latency: zero syncs at once, else a sync is deferred this long.
    store_delay: Duration,
    auth: Auth,
    machines: BTreeMap<ConnId, Connection>,
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
    /// First hellos still to refuse.
    refuse_next: u32,
}

impl ConnectorSide {
    pub(crate) fn new(plan: &Plan, sabotage: Sabotage) -> Self {
        let key = if plan.auth {
            BacklogKey::Gateway(GATEWAY_ID.to_owned())
        } else {
            BacklogKey::Identity(plan.identities[0].clone())
        };
        Self {
            up: true,
            incarnation: 0,
            store: Store {
                inner: MemoryBacklog::new(),
                hide_one: Cell::new(sabotage == Sabotage::SkipOneReplay),
            },
            key,
            window: plan.replay_window,
            store_delay: plan.store_delay,
            auth: Auth::new(plan.auth, GATEWAY_SECRET),
            machines: BTreeMap::new(),
            deferred: Vec::new(),
            chats: plan.chats.clone(),
            seqs: vec![0; plan.chats.len()],
            bots: plan.identities.iter().map(|i| i.bot_id.clone()).collect(),
            forwards: 0,
            drop_one_append: sabotage == Sabotage::DropOneAppend,
            refuse_next: 0,
        }
    }

    // ---- what the world asks ----

    /// The earliest machine deadline, and whose.
    pub(crate) fn deadline(&self) -> Option<(Instant, ConnId)> {
        self.machines.iter().filter_map(|(id, c)| c.machine.poll_timeout().map(|at| (at, *id))).min()
    }

    /// The per-step checks of every machine: its contract, and its timers
    /// (handshake, dead link) and replay window at the defaults, seen from outside.
    pub(crate) fn check(&self, now: Instant) {
        let defaults = ConnectorConfig::default();
        for (id, c) in &self.machines {
            c.contract.check(*id, &c.machine, now);
            if c.machine.is_closed() {
                continue;
            }
            if !c.machine.is_ready() {
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
            let in_flight = c.machine.replay_in_flight();
            assert!(
                in_flight <= self.window.max(1),
                "connector {id}: {in_flight} replayed frames unacked, window {}",
                self.window
            );
        }
    }

    pub(crate) fn backlog_len(&self) -> usize {
        self.store.inner.len(&self.key)
    }

    pub(crate) fn in_backlog(&self, buffer_id: &str) -> bool {
        self.store.inner.buffer_ids(&self.key).iter().any(|id| id == buffer_id)
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
                    "{id}(ready {} live {} idle {} replaying {} in flight {})",
                    m.is_ready(),
                    m.is_live(),
                    m.is_idle(),
                    m.is_replaying(),
                    m.replay_in_flight()
                )
            })
            .collect();
        format!(
            "connector: up {}, revoked {}, backlog {} entries, machines [{}]",
            self.up,
            self.auth.revoked,
            self.backlog_len(),
            machines.join(", ")
        )
    }

    // ---- faults ----

    /// The process dies: every connection drops (reset, or the host vanishes
    /// without one); machines and pending work are gone, the backlog stays.
    pub(crate) fn crash(&mut self, cx: &mut Ctx<'_>, down_for: Duration, vanish: bool) {
        cx.bump("connector restarts");
        cx.note(Side::Connector, format!("crash (vanish {vanish}); back in {down_for:?}"));
        let kind = if vanish { DropKind::Blackhole } else { DropKind::Reset };
        for conn in std::mem::take(&mut self.machines).into_keys() {
            cx.net.fail(cx.now, conn, kind);
            cx.net.close_end(conn, End::Connector);
        }
        self.up = false;
        self.incarnation += 1;
        cx.agenda.at(cx.now + down_for, Task::ConnectorUp { incarnation: self.incarnation });
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

    /// The final quiet period: the process is up and accepts valid tokens.
    pub(crate) fn heal(&mut self, cx: &mut Ctx<'_>) {
        self.refuse_next = 0;
        self.auth.reject_next = 0;
        self.auth.clock_ahead_until = None;
        if !self.up {
            self.come_up(cx);
        }
    }

    // ---- accepting connections ----

    /// A dial reaches the connector: refused when the process is down,
    /// else accepted, with the token checked by a fresh machine.
    pub(crate) fn on_dial(&mut self, cx: &mut Ctx<'_>, conn: ConnId, authorization: Option<&str>) {
        if !self.up {
            let at = cx.now + cx.net.latency(cx.now);
            cx.agenda.at(at, Task::DialRefused { conn });
            return;
        }
        let (config, unix) = self.auth.admit(cx.now, cx.unix_now(), self.window);
        cx.net.connect(cx.now, conn);
        cx.note(Side::Connector, format!("{conn} accepted"));
        let machine = ConnectorMachine::new(config, authorization, cx.now, unix);
        let now = cx.now;
        let contract = ConnectorContract::default();
        let connection = Connection {
            machine,
            contract,
            opened: now,
            last_heard: now,
            last_answer: now,
            acked: Vec::new(),
            sync_scheduled: false,
        };
        self.machines.insert(conn, connection);
        self.drain(cx, conn);
    }

    pub(crate) fn on_arrival(&mut self, cx: &mut Ctx<'_>, conn: ConnId, arrival: Arrival) {
        match arrival {
            Arrival::Data(chunks) => {
                for chunk in chunks {
                    let Some(c) = self.open(conn) else { return };
                    c.last_heard = cx.now;
                    c.machine.handle_input(cx.now, &chunk);
                    self.drain(cx, conn);
                }
            }
            Arrival::Ping => {
                if let Some(c) = self.open(conn) {
                    c.last_heard = cx.now;
                    c.machine.handle_keepalive(cx.now);
                    // The WebSocket layer answers pings by itself.
                    cx.net.send(cx.now, conn, End::Gateway, Msg::Pong);
                    self.drain(cx, conn);
                }
            }
            Arrival::Close(frame) => {
                if let Some(c) = self.open(conn) {
                    cx.note(Side::Network, format!("{conn} closed towards the connector: {frame:?}"));
                    c.machine.handle_transport_closed(cx.now, frame);
                    self.drain(cx, conn);
                }
            }
            Arrival::Open | Arrival::Pong => {}
        }
    }

    pub(crate) fn on_write_failed(&mut self, cx: &mut Ctx<'_>, conn: ConnId, incarnation: u32) {
        if incarnation != self.incarnation {
            return;
        }
        if let Some(c) = self.open(conn) {
            cx.bump("connector write failures");
            c.machine.handle_write_failed(cx.now, "broken pipe");
            self.drain(cx, conn);
        }
    }

    pub(crate) fn on_timeout(&mut self, cx: &mut Ctx<'_>, conn: ConnId) {
        let Some(c) = self.machines.get_mut(&conn) else { return };
        c.machine.handle_timeout(cx.now);
        if let Some(at) = c.machine.poll_timeout() {
            assert!(
                at > cx.now,
                "connector machine {conn}: deadline not after handle_timeout({:?})",
                cx.elapsed()
            );
        }
        self.drain(cx, conn);
    }

    fn open(&mut self, conn: ConnId) -> Option<&mut Connection> {
        self.machines.get_mut(&conn).filter(|c| !c.machine.is_closed())
    }

    /// Drains `conn`'s actions and lends it the backlog while it wants it
    /// (contract points 2 and 4); a closed machine is forgotten once done.
    fn drain(&mut self, cx: &mut Ctx<'_>, conn: ConnId) {
        loop {
            let Some(c) = self.machines.get_mut(&conn) else { return };
            if let Some(action) = c.machine.poll_action() {
                c.contract.observe(conn, &action);
                self.on_action(cx, conn, action);
                continue;
            }
            if c.machine.wants_backlog() && !c.sync_scheduled {
                if self.store_delay.is_zero() {
                    sync(conn, c, &mut self.store, &self.key, cx.now);
                    continue;
                }
                // The store answers later; meanwhile the machine may even
                // close, and the sync must still remove what it acked.
                c.sync_scheduled = true;
                let incarnation = self.incarnation;
                cx.agenda.at(cx.now + self.store_delay, Task::Sync { conn, incarnation });
            }
            c.contract.check(conn, &c.machine, cx.now);
            if c.contract.is_closed() && !c.sync_scheduled {
                self.machines.remove(&conn);
            }
            return;
        }
    }

    pub(crate) fn on_sync(&mut self, cx: &mut Ctx<'_>, conn: ConnId, incarnation: u32) {
        if incarnation != self.incarnation {
            return;
        }
        let Some(c) = self.machines.get_mut(&conn) else { return };
        c.sync_scheduled = false;
        sync(conn, c, &mut self.store, &self.key, cx.now);
        self.drain(cx, conn);
    }

    fn on_action(&mut self, cx: &mut Ctx<'_>, conn: ConnId, action: Action) {
        match action {
            Action::SendFrame(line) => {
                cx.ledger.connector_sent(conn, &line);
                cx.note(Side::Connector, format!("{conn} send {}", short(&line)));
                if cx.net.send(cx.now, conn, End::Gateway, Msg::Data(line.into_bytes()))
                    == SendOutcome::WriteFailed
                {
                    let incarnation = self.incarnation;
                    cx.agenda.at(cx.now, Task::ConnectorWriteFailed { conn, incarnation });
                }
            }
            Action::Deliver(event) => self.on_event(cx, conn, event),
            Action::Closed(reason) => {
                cx.note(Side::Connector, format!("{conn} closed: {reason}"));
                if let Some(frame) = reason.close_to_send() {
                    cx.net.send(cx.now, conn, End::Gateway, Msg::Close(Some(frame)));
                }
                cx.net.close_end(conn, End::Connector);
            }
        }
    }
}

/// Lends the store to `conn`'s machine (contract point 4), and checks what
/// the call promises: the entries it reported acknowledged are gone, and it
/// wants nothing more until something changes.
fn sync(conn: ConnId, c: &mut Connection, store: &mut Store, key: &BacklogKey, now: Instant) {
    let Ok(()) = c.machine.sync_backlog(now, store);
    let ids = store.inner.buffer_ids(key);
    for acked in c.acked.drain(..) {
        assert!(
            !ids.contains(&acked),
            "connector {conn}: entry {acked} is still in the backlog after its ack and a sync"
        );
    }
    assert!(
        !c.machine.wants_backlog(),
        "connector machine {conn}: wants_backlog stays true after sync_backlog"
    );
}
