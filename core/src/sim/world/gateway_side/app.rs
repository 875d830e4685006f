//! The gateway application: requests, inbound events through dedupe, acks
//! after custody, going idle and sleeping.

use std::time::{Duration, Instant};

use rand::Rng as _;
use rand_chacha::ChaCha8Rng;

use super::{GatewaySide, SHUTDOWN_BUDGET};
use crate::adapter::InboundDedupe;
use crate::gateway::OutboundRequest;
use crate::sim::world::Ctx;
use crate::sim::world::agenda::Task;
use crate::sim::world::invariants::{Dir, event_key, forward_key, forward_text, stream_item};
use crate::sim::world::network::ConnId;
use crate::sim::world::transcript::Side;
use crate::wire::{Forward, MessageEvent, OutboundAction, SendMessage, Typing};

/// The application decided to go idle on `conn`.
#[derive(Debug, Clone, Copy)]
pub(super) struct IdlePlan {
    pub(super) conn: ConnId,
    pub(super) sleep_for: Duration,
    pub(super) close_after: Duration,
    pub(super) shutdown: bool,
    pub(super) close_scheduled: bool,
    /// When `going_idle` (or the shutdown) was asked for.
    pub(super) since: Instant,
    /// `IdleAcknowledged` or `IdleTimedOut` came.
    pub(super) answered: bool,
    /// Ack every event held in custody before closing.
    pub(super) flush_custody: bool,
    /// The close waits for the last of those acks.
    pub(super) close_when_flushed: bool,
}

impl GatewaySide {
    /// An inbound event reached the application's driver: dedupe by
    /// `<platform>:<chat_id>:<message_id>`, then custody, then the ack.
    pub(super) fn on_inbound(
        &mut self,
        cx: &mut Ctx<'_>,
        conn: ConnId,
        event: &MessageEvent,
        buffer_id: Option<String>,
    ) {
        let Some(key) = event_key(event) else {
            panic!("gateway on {conn} got an event without a message id")
        };
        cx.ledger.stream_received(conn, Dir::ToGateway, &stream_item("inbound", &key, buffer_id.as_deref()));
        cx.ledger.on_wire(conn, &key, &event.text, buffer_id.as_deref());
        // The application knows events by their dedupe key, as a real one would.
        let custody_key = InboundDedupe::key(event).unwrap_or_else(|| key.clone());
        let duplicate = self.dedupe.is_duplicate(event);
        self.take_custody(cx, conn, &key, custody_key, duplicate, buffer_id);
    }

    /// A forwarded webhook reached the application's driver. Dedupe (§8)
    /// covers events only; this application also drops webhooks it already
    /// has, by their path.
    pub(super) fn on_forward(
        &mut self,
        cx: &mut Ctx<'_>,
        conn: ConnId,
        forward: &Forward,
        buffer_id: Option<String>,
    ) {
        let key = forward_key(forward);
        cx.ledger.stream_received(conn, Dir::ToGateway, &stream_item("forward", &key, buffer_id.as_deref()));
        cx.ledger.on_wire(conn, &key, &forward_text(forward), buffer_id.as_deref());
        let duplicate = !self.seen_forwards.insert(key.clone());
        self.take_custody(cx, conn, &key, key.clone(), duplicate, buffer_id);
    }

    /// Hands a new frame to the application (custody follows after a
    /// seeded delay) or drops a repeat; a buffered one is acked once the
    /// application has custody of it (of the first copy, for a repeat).
    fn take_custody(
        &mut self,
        cx: &mut Ctx<'_>,
        conn: ConnId,
        key: &str,
        custody_key: String,
        duplicate: bool,
        buffer_id: Option<String>,
    ) {
        let tag = buffer_id.as_deref().map_or(String::new(), |b| format!(" bufferId {b}"));
        let at = if duplicate {
            cx.note(Side::Gateway, format!("{conn} got {key}{tag}: duplicate, dropped"));
            cx.bump("duplicates dropped");
            self.custody.get(&custody_key).copied().unwrap_or(cx.now).max(cx.now)
        } else {
            cx.note(Side::Gateway, format!("{conn} got {key}{tag}: to the application"));
            cx.ledger.delivered_to_app(key);
            let at = cx.now + custody_delay(cx.rng);
            self.custody.insert(custody_key.clone(), at);
            at
        };
        if let Some(buffer_id) = buffer_id {
            *self.custody_pending.entry(conn).or_default() += 1;
            cx.agenda.at(at, Task::Custody { conn, buffer_id, key: custody_key });
        }
    }

    /// The connector asks to stop a turn (this application has none running).
    pub(super) fn on_interrupt(&mut self, cx: &mut Ctx<'_>, conn: ConnId, session_key: &str, chat_id: &str) {
        let item = stream_item("interrupt", &format!("{session_key} {chat_id}"), None);
        cx.ledger.stream_received(conn, Dir::ToGateway, &item);
        cx.bump("interrupts received by the gateway");
    }

    /// The application has custody of `key`: ack it on the connection it came on.
    pub(crate) fn on_custody(&mut self, cx: &mut Ctx<'_>, conn: ConnId, buffer_id: &str, key: &str) {
        if let Some(pending) = self.custody_pending.get_mut(&conn) {
            *pending -= 1;
            if *pending == 0 {
                self.custody_pending.remove(&conn);
            }
        }
        let done = self.custody.get(key).copied();
        assert!(
            done.is_some_and(|at| at <= cx.now),
            "the gateway acks {key} before the application has custody"
        );
        let Some(c) = self.current(conn) else {
            cx.note(
                Side::Gateway,
                format!("custody of {key} taken, but {conn} is gone: ack lost, replay will repeat it"),
            );
            cx.bump("acks lost with their connection");
            return;
        };
        if let Err(e) = c.machine.ack(cx.now, buffer_id) {
            panic!("ack refused by an open machine: {e}");
        }
        cx.bump("acks sent");
        self.drain(cx);
        let flushed = !self.custody_pending.contains_key(&conn);
        if flushed && self.idle.is_some_and(|p| p.conn == conn && p.close_when_flushed) {
            // The last ack is out: close right behind it.
            cx.bump("idle closes right after the last ack");
            self.on_close_idle(cx, conn);
        }
    }

    /// `going_idle` was answered (or timed out): close, unless an orderly
    /// shutdown closes by itself.
    pub(super) fn on_idle_answer(&mut self, cx: &mut Ctx<'_>, conn: ConnId) {
        let Some(plan) = self.idle.as_mut().filter(|p| p.conn == conn) else {
            panic!("{conn}: an answer to going_idle, although the application never went idle there")
        };
        plan.answered = true;
        if !plan.shutdown && !plan.close_scheduled {
            plan.close_scheduled = true;
            cx.agenda.at(cx.now + plan.close_after, Task::CloseIdle { conn });
        }
    }

    /// The connection of an idle plan closed: the application sleeps.
    pub(super) fn after_idle_close(&mut self, cx: &mut Ctx<'_>, conn: ConnId) {
        if let Some(plan) = self.idle.take().filter(|p| p.conn == conn) {
            self.policy.handle_went_idle(cx.now);
            self.dormant = true;
            cx.bump("idle cycles");
            if !plan.sleep_for.is_zero() && !self.quiet {
                self.policy.hold_redial(cx.now);
                self.hold_since = Some(cx.now);
                let until = cx.now + plan.sleep_for;
                self.asleep_until = Some(until);
                cx.note(Side::Gateway, format!("asleep for {:?} (redial held)", plan.sleep_for));
                cx.agenda.at(until, Task::WakeUp);
            }
        }
    }

    // ---- the application ----

    /// Asleep: gone idle, closed, and the host suspended.
    fn asleep(&self) -> bool {
        self.asleep_until.is_some()
    }

    pub(crate) fn on_request(&mut self, cx: &mut Ctx<'_>) {
        if self.asleep() {
            return cx.note(Side::Gateway, "request skipped: the application is idle".into());
        }
        if cx.rng.random_bool(0.2) {
            return self.send_interrupt(cx);
        }
        self.requests += 1;
        let n = self.requests;
        let (chat_id, identity) = self.chats[cx.rng.random_range(0..self.chats.len())].clone();
        let action = if cx.rng.random_bool(0.7) {
            OutboundAction::Send(SendMessage::new(chat_id, format!("reply {n}")))
        } else {
            OutboundAction::Typing(Typing { chat_id, ..Typing::default() })
        };
        let mut request = OutboundRequest::from(action);
        if identity > 0 {
            request = request.for_identity(self.identities[identity].clone());
        }
        let Some(c) = self.conn.as_mut() else {
            cx.bump("requests failed fast (no connection)");
            return cx.note(Side::Gateway, format!("request {n}: relay transport not connected (outage)"));
        };
        if !c.machine.is_ready() {
            cx.bump("requests submitted before the handshake");
        }
        match c.machine.request(cx.now, request) {
            Ok(id) => {
                c.contract.issued(id);
                cx.ledger.issued(id.to_string(), c.id, cx.now);
                cx.note(Side::Gateway, format!("{} request {n} → {id}", c.id));
            }
            Err(error) => {
                assert!(!error.ambiguous, "a request refused at submission must be definite: {error}");
                cx.bump("requests refused at submission");
                cx.note(Side::Gateway, format!("request {n} refused: {error}"));
            }
        }
        self.drain(cx);
    }

    /// The agent stops a session's turn (fire-and-forget; may go out even
    /// before the handshake, and the connector holds it until then).
    fn send_interrupt(&mut self, cx: &mut Ctx<'_>) {
        let Some(c) = self.conn.as_mut() else { return };
        self.interrupts += 1;
        let (chat_id, identity) = &self.chats[cx.rng.random_range(0..self.chats.len())];
        let session_key = format!("agent:main:{}:dm:{chat_id}", self.identities[*identity].platform);
        let reason = format!("cancel-{}", self.interrupts);
        if let Err(e) = c.machine.interrupt(cx.now, &session_key, Some(&reason)) {
            panic!("an open machine refused an interrupt: {e}");
        }
        cx.bump("interrupts sent to the connector");
        self.drain(cx);
    }

    pub(crate) fn go_idle(
        &mut self,
        cx: &mut Ctx<'_>,
        sleep_for: Duration,
        shutdown: bool,
        close_after: Duration,
    ) {
        if self.asleep() || self.idle.is_some() {
            return;
        }
        let Some(c) = self.conn.as_mut().filter(|c| c.machine.is_ready()) else { return };
        let conn = c.id;
        let sleep_for = if self.quiet { Duration::ZERO } else { sleep_for };
        let since = cx.now;
        let flush_custody = cx.rng.random_bool(0.5);
        self.idle = Some(IdlePlan {
            conn,
            sleep_for,
            close_after,
            shutdown,
            close_scheduled: false,
            since,
            answered: false,
            flush_custody,
            close_when_flushed: false,
        });
        cx.note(Side::Gateway, format!("{conn} going idle (shutdown {shutdown}, then sleep {sleep_for:?})"));
        let result = if shutdown {
            c.machine.shutdown(cx.now, true, cx.now + SHUTDOWN_BUDGET)
        } else {
            c.machine.go_idle(cx.now)
        };
        if let Err(e) = result {
            panic!("an open machine refused to go idle: {e}");
        }
        self.drain(cx);
    }

    pub(crate) fn on_close_idle(&mut self, cx: &mut Ctx<'_>, conn: ConnId) {
        if let Some(plan) = self.idle.as_mut().filter(|p| p.conn == conn && p.flush_custody) {
            if self.custody_pending.contains_key(&conn) {
                // A careful application acks what it holds before it closes.
                plan.close_when_flushed = true;
                return;
            }
        }
        let Some(c) = self.current(conn) else { return };
        if let Err(e) = c.machine.close(cx.now) {
            panic!("an open machine refused to close: {e}");
        }
        self.drain(cx);
    }

    /// The host wakes (when its sleep is over, or at once when `now_anyway`).
    pub(crate) fn wake_up(&mut self, cx: &mut Ctx<'_>, now_anyway: bool) {
        if self.asleep_until.is_some_and(|until| now_anyway || until <= cx.now) {
            self.asleep_until = None;
            self.hold_since = None;
            cx.note(Side::Gateway, "awake: redial hold released".into());
            self.policy.release_redial(cx.now);
            self.drive(cx);
        }
    }
}

/// How long until the application has custody of an event it got.
fn custody_delay(rng: &mut ChaCha8Rng) -> Duration {
    let ms = match rng.random_range(0..100) {
        0..=69 => rng.random_range(0..=500),
        70..=94 => rng.random_range(500..=5_000),
        _ => rng.random_range(5_000..=20_000),
    };
    Duration::from_millis(ms)
}
