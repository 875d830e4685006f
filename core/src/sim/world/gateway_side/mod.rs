//! The gateway end: its application and the driver around it.
//!
//! The driver follows the contracts to the letter: a fresh `RelayMachine`
//! per connection, drained after every call; the `Reconnect` policy asked
//! whenever no dial is in flight and no connection is up, told each dial's
//! fate exactly once (`handle_dial_failed`, `handle_ready`,
//! `handle_closed`), told when the application went idle, and a token
//! minted for every dial when auth is on. The application issues requests,
//! dedupes inbound events by `<platform>:<chat_id>:<message_id>`, acks a
//! buffered event only once it has custody (a seeded delay), goes idle and
//! sleeps when the plan says so.
//!
//! - this file: the state, the network's deliveries and the machine's actions;
//! - `dialer.rs`: the reconnect policy;
//! - `app.rs`: the application;
//! - `checks.rs`: the per-step checks.

mod app;
mod checks;
mod dialer;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use rand::{RngCore as _, SeedableRng as _};
use rand_chacha::ChaCha8Rng;

use self::app::IdlePlan;
use self::dialer::{Expect, Reported};
use super::agenda::Task;
use super::faults::Plan;
use super::network::{Arrival, ConnId, End, Msg, SendOutcome};
use super::transcript::{Side, short};
use super::{Ctx, GATEWAY_ID, GATEWAY_SECRET};
use crate::adapter::InboundDedupe;
use crate::gateway::{Action, CloseReason, Event, GatewayConfig, Identity, RelayMachine};
use crate::policy::{DialDecision, Reconnect, ReconnectConfig, ReconnectError, Secret};
use crate::sim::Invariants;

/// Salt of the generator that seeds machines and the reconnect jitter.
const SEED_STREAM: u64 = 0x6761_7465_7761_7901;
/// How often a stopped policy is asked again (it must keep saying stop).
const PROBE_EVERY: Duration = Duration::from_secs(20);
/// Budget of an orderly shutdown.
const SHUTDOWN_BUDGET: Duration = Duration::from_secs(5);

/// The socket that opened, and its machine.
#[derive(Debug)]
struct Connection {
    id: ConnId,
    machine: RelayMachine,
    contract: Invariants,
    /// The handshake must be done (or the machine closed) by then.
    handshake_by: Instant,
    /// The last time anything arrived (data, ping, pong) or the socket opened.
    last_heard: Instant,
    /// The last ping sent (or the socket opening).
    last_ping: Instant,
}

/// The gateway application, its driver and its reconnect policy.
#[derive(Debug)]
pub(crate) struct GatewaySide {
    template: GatewayConfig,
    identities: Vec<Identity>,
    /// `(chat_id, identity index)` of the chats the application answers in.
    chats: Vec<(String, usize)>,
    auth: Option<(String, Secret)>,
    policy: Reconnect,
    seeds: ChaCha8Rng,
    next_conn: u64,
    /// A dial whose socket has not opened yet.
    dial: Option<ConnId>,
    /// The connection whose socket opened (handshaking or ready).
    conn: Option<Connection>,
    stopped: Option<ReconnectError>,
    stopped_at: Option<Instant>,
    wake_at: Option<Instant>,
    dedupe: InboundDedupe,
    /// Paths of the webhooks the application has.
    seen_forwards: BTreeSet<String>,
    /// When the application has (or will have) custody of each event it got.
    custody: BTreeMap<String, Instant>,
    /// Acks waiting for custody, per connection.
    custody_pending: BTreeMap<ConnId, usize>,
    idle: Option<IdlePlan>,
    asleep_until: Option<Instant>,
    /// When the redial hold of the current sleep began (until released).
    hold_since: Option<Instant>,
    /// The final quiet period: stay awake.
    quiet: bool,
    ever_ready: bool,
    /// The dial in flight is the immediate re-dial after a first strike.
    strike_redial: bool,
    expect: Expect,
    reported: Option<Reported>,
    /// When the current connection completed its handshake.
    ready_at: Option<Instant>,
    /// The application went idle since the last handshake succeeded: the
    /// driver's own record, to hold the policy to the dormant cadence.
    dormant: bool,
    requests: u64,
    interrupts: u64,
}

impl GatewaySide {
    pub(crate) fn new(plan: &Plan, seed: u64, now: Instant) -> Self {
        let mut seeds = ChaCha8Rng::seed_from_u64(seed ^ SEED_STREAM);
        let policy_config = ReconnectConfig { seed: seeds.next_u64(), ..ReconnectConfig::default() };
        let template = GatewayConfig { identities: plan.identities.clone(), ..GatewayConfig::default() };
        let auth = plan.auth.then(|| {
            let secret = Secret::new(GATEWAY_SECRET).expect("the simulation's secret is not blank");
            (GATEWAY_ID.to_owned(), secret)
        });
        // A window larger than everything a run pushes, so dedupe never
        // forgets and exactly-once can be asserted.
        let window = plan.events.len() * 2 + 16;
        Self {
            template,
            identities: plan.identities.clone(),
            chats: plan.chats.iter().map(|c| (c.chat_id.clone(), c.identity)).collect(),
            auth,
            // The application calls `connect` now: the first-connect budget starts.
            policy: Reconnect::new(policy_config, now),
            seeds,
            next_conn: 1,
            dial: None,
            conn: None,
            stopped: None,
            stopped_at: None,
            wake_at: None,
            dedupe: InboundDedupe::with_capacity(window),
            seen_forwards: BTreeSet::new(),
            custody: BTreeMap::new(),
            custody_pending: BTreeMap::new(),
            idle: None,
            asleep_until: None,
            hold_since: None,
            quiet: false,
            ever_ready: false,
            strike_redial: false,
            expect: Expect::Any,
            reported: None,
            ready_at: None,
            dormant: false,
            requests: 0,
            interrupts: 0,
        }
    }

    // ---- what the world asks ----

    /// The current machine's next deadline.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.conn.as_ref().and_then(|c| c.machine.poll_timeout())
    }

    /// The connection whose socket is open, if any.
    pub(crate) fn connection(&self) -> Option<ConnId> {
        self.conn.as_ref().map(|c| c.id)
    }

    pub(crate) fn stopped(&self) -> Option<&ReconnectError> {
        self.stopped.as_ref()
    }

    /// When the policy stopped for good, if it did.
    pub(crate) fn stopped_at(&self) -> Option<Instant> {
        self.stopped_at
    }

    /// Connected, handshake done, nothing pending, custody of everything.
    pub(crate) fn is_settled(&self) -> bool {
        let ready =
            self.conn.as_ref().is_some_and(|c| c.machine.is_ready() && c.machine.pending_requests() == 0);
        ready && self.policy.is_connected() && self.custody_pending.is_empty() && self.idle.is_none()
    }

    pub(crate) fn describe(&self) -> String {
        let conn = match &self.conn {
            Some(c) => format!(
                "{} (ready {}, {} pending requests)",
                c.id,
                c.machine.is_ready(),
                c.machine.pending_requests()
            ),
            None => "none".into(),
        };
        format!(
            "gateway: dial {:?}, connection {conn}, policy dialing {} connected {} dormant {}, stopped {:?}, \
             custody pending {}, idle {:?}, asleep {}",
            self.dial.map(|d| d.to_string()),
            self.policy.is_dialing(),
            self.policy.is_connected(),
            self.policy.is_dormant(),
            self.stopped,
            self.custody_pending.values().sum::<usize>(),
            self.idle.map(|i| i.conn.to_string()),
            self.asleep_until.is_some(),
        )
    }

    /// The final quiet period starts: wake up and stay awake.
    pub(crate) fn set_quiet(&mut self, cx: &mut Ctx<'_>) {
        self.quiet = true;
        self.wake_up(cx, true);
    }

    // ---- the network ----

    pub(crate) fn on_arrival(&mut self, cx: &mut Ctx<'_>, conn: ConnId, arrival: Arrival) {
        match arrival {
            Arrival::Open => self.on_open(cx, conn),
            Arrival::Data(chunks) => {
                for chunk in chunks {
                    let Some(c) = self.current(conn) else { return };
                    c.last_heard = cx.now;
                    c.machine.handle_input(cx.now, &chunk);
                    self.drain(cx);
                }
            }
            Arrival::Ping | Arrival::Pong => {
                if let Some(c) = self.current(conn) {
                    c.last_heard = cx.now;
                    c.machine.handle_keepalive(cx.now);
                    self.drain(cx);
                }
            }
            Arrival::Close(frame) => {
                if let Some(c) = self.current(conn) {
                    cx.note(Side::Network, format!("{conn} closed towards the gateway: {frame:?}"));
                    c.machine.handle_transport_closed(cx.now, frame);
                    self.drain(cx);
                }
            }
        }
    }

    pub(crate) fn on_write_failed(&mut self, cx: &mut Ctx<'_>, conn: ConnId) {
        if let Some(c) = self.current(conn) {
            cx.bump("gateway write failures");
            c.machine.handle_write_failed(cx.now, "broken pipe");
            self.drain(cx);
        }
    }

    fn current(&mut self, conn: ConnId) -> Option<&mut Connection> {
        self.conn.as_mut().filter(|c| c.id == conn)
    }

    /// The socket of `conn` opened: a fresh machine for it.
    fn on_open(&mut self, cx: &mut Ctx<'_>, conn: ConnId) {
        if self.dial != Some(conn) {
            // The dial was aborted meanwhile: drop the socket it produced.
            cx.note(Side::Gateway, format!("{conn} opened after its dial was abandoned: dropping it"));
            cx.net.send(cx.now, conn, End::Connector, Msg::Close(None));
            cx.net.close_end(conn, End::Gateway);
            return;
        }
        self.dial = None;
        let mut config = self.template.clone();
        config.seed = self.seeds.next_u64();
        if let Some(deadline) = self.policy.connect_deadline() {
            // The first connect's budget covers the handshake too.
            config.handshake_timeout =
                config.handshake_timeout.min(deadline.saturating_duration_since(cx.now));
        }
        cx.note(Side::Gateway, format!("{conn} open: new machine"));
        let handshake_by = cx.now + config.handshake_timeout;
        let machine = RelayMachine::new(config, cx.now);
        let contract = Invariants::default();
        let now = cx.now;
        self.conn =
            Some(Connection { id: conn, machine, contract, handshake_by, last_heard: now, last_ping: now });
        self.drain(cx);
    }

    pub(crate) fn on_timeout(&mut self, cx: &mut Ctx<'_>) {
        let Some(c) = self.conn.as_mut() else { return };
        c.machine.handle_timeout(cx.now);
        c.contract.after_timeout(&c.machine, cx.now);
        self.drain(cx);
    }

    // ---- the machine's actions ----

    /// Drains the current machine, acting on each action (contract point 1).
    fn drain(&mut self, cx: &mut Ctx<'_>) {
        loop {
            let Some(c) = self.conn.as_mut() else { return };
            let Some(action) = c.machine.poll_action() else { return };
            c.contract.observe(&action);
            let conn = c.id;
            match action {
                Action::SendFrame(line) => {
                    cx.ledger.gateway_sent(conn, &line);
                    cx.note(Side::Gateway, format!("{conn} send {}", short(&line)));
                    if cx.net.send(cx.now, conn, End::Connector, Msg::Data(line.into_bytes()))
                        == SendOutcome::WriteFailed
                    {
                        cx.agenda.at(cx.now, Task::GatewayWriteFailed { conn });
                    }
                }
                Action::SendPing => {
                    c.last_ping = cx.now;
                    if cx.net.send(cx.now, conn, End::Connector, Msg::Ping) == SendOutcome::WriteFailed {
                        cx.agenda.at(cx.now, Task::GatewayWriteFailed { conn });
                    }
                }
                Action::Deliver(event) => self.on_event(cx, conn, event),
                Action::Resolve { id, result } => {
                    cx.note(Side::Gateway, format!("{conn} resolve {id}: success {}", result.success));
                    cx.ledger.resolved(&id.to_string(), &result, cx.now);
                }
                Action::Fail { id, error } => {
                    cx.note(
                        Side::Gateway,
                        format!("{conn} fail {id}: {error} (ambiguous {})", error.ambiguous),
                    );
                    cx.ledger.failed(&id.to_string(), &error, cx.now);
                }
                Action::Closed(reason) => self.on_closed(cx, conn, reason),
            }
        }
    }

    fn on_event(&mut self, cx: &mut Ctx<'_>, conn: ConnId, event: Event) {
        match event {
            Event::Ready { identity, .. } => {
                cx.note(Side::Gateway, format!("{conn} ready ({identity})"));
                cx.bump("connections ready");
                self.ever_ready = true;
                self.strike_redial = false;
                self.ready_at = Some(cx.now);
                self.dormant = false;
                if let Err(e) = self.policy.handle_ready(cx.now) {
                    panic!("policy refused handle_ready: {e}");
                }
                let again = self.policy.poll_dial(cx.now);
                assert_eq!(again, DialDecision::Connected, "the policy, asked while {conn} is up");
            }
            Event::Descriptor { identity, .. } => {
                cx.note(Side::Gateway, format!("{conn} descriptor for {identity}"));
            }
            Event::Inbound { event, buffer_id } => self.on_inbound(cx, conn, &event, buffer_id),
            Event::Passthrough { forward, buffer_id } => self.on_forward(cx, conn, &forward, buffer_id),
            Event::Interrupt { session_key, chat_id } => self.on_interrupt(cx, conn, &session_key, &chat_id),
            Event::IdleAcknowledged | Event::IdleTimedOut => {
                cx.note(Side::Gateway, format!("{conn} {event:?}"));
                self.on_idle_answer(cx, conn);
            }
            other => panic!("gateway application on {conn} got an unexpected event: {other:?}"),
        }
    }

    /// The machine ended: the socket goes, the application reacts, the
    /// policy hears of it.
    fn on_closed(&mut self, cx: &mut Ctx<'_>, conn: ConnId, reason: CloseReason) {
        cx.note(Side::Gateway, format!("{conn} closed: {reason}"));
        if let Some(frame) = reason.close_to_send() {
            cx.net.send(cx.now, conn, End::Connector, Msg::Close(Some(frame)));
        }
        cx.net.close_end(conn, End::Gateway);
        self.conn = None;
        self.after_idle_close(cx, conn);
        self.after_close(cx, &reason);
    }
}
