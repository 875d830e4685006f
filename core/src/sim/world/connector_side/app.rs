//! The connector application's answers: hellos answered with descriptors,
//! requests answered (sometimes slowly, sometimes `success: false`), and
//! what the gateway sends it (interrupts, acks) taken in.

use std::time::Duration;

use rand::Rng as _;
use rand_chacha::ChaCha8Rng;

use super::{ConnectorSide, Life};
use crate::connector::{ConnectorError, Event};
use crate::sim::descriptor_for;
use crate::sim::world::Ctx;
use crate::sim::world::agenda::Task;
use crate::sim::world::invariants::{Dir, stream_item};
use crate::sim::world::network::ConnId;
use crate::sim::world::transcript::Side;
use crate::wire::ActionResult;

impl ConnectorSide {
    pub(super) fn on_event(&mut self, cx: &mut Ctx<'_>, conn: ConnId, event: Event) {
        let Some(life) = self.life_of(conn) else { return };
        let Some(c) = self.machines.get_mut(&conn) else { return };
        match event {
            Event::Hello { identity, .. } => {
                assert_eq!(
                    c.machine.backlog_key(),
                    Some(&self.key),
                    "connector machine {conn} keys the backlog differently from the gateway's identity"
                );
                let at = (cx.now + answer_delay(cx.rng)).max(c.last_answer);
                c.last_answer = at;
                cx.note(Side::Connector, format!("{conn} hello from {identity}"));
                cx.agenda.at(at, Task::AnswerHello { conn, life });
            }
            Event::Request { request_id, .. } => {
                cx.ledger.stream_received(conn, Dir::ToConnector, &stream_item("request", &request_id, None));
                cx.ledger.connector_received(&request_id);
                let (delay, result) = response(cx.rng, &request_id);
                cx.agenda.at(cx.now + delay, Task::Respond { conn, life, request_id, result });
            }
            Event::Interrupt { reason, .. } => {
                let reason = reason.unwrap_or_default();
                cx.ledger.stream_received(conn, Dir::ToConnector, &stream_item("interrupt", &reason, None));
                cx.bump("interrupts received by the connector");
            }
            Event::InboundAck { buffer_id, replayed } => {
                cx.ledger.stream_received(conn, Dir::ToConnector, &stream_item("ack", &buffer_id, None));
                assert!(replayed, "connector {conn}: inbound_ack {buffer_id} names no frame replayed on it");
                c.acked.insert(buffer_id.clone());
                c.awaiting_removal.push(buffer_id);
            }
            Event::GoingIdle => {
                cx.note(Side::Connector, format!("{conn} gateway went idle: buffering"));
                self.reclaim(cx, conn, false);
            }
            Event::Live => {
                cx.note(Side::Connector, format!("{conn} live"));
                // Entries acknowledged here may still wait for their removal
                // (queued behind the last read, or failed); nothing else may.
                let left: Vec<String> =
                    self.store.buffer_ids().into_iter().filter(|id| !c.acked.contains(id)).collect();
                assert!(
                    left.is_empty(),
                    "connector {conn} went live with entries left in the backlog: {left:?}"
                );
                // Its last read was asked after every frame it handed back
                // was submitted, so all of those are written (or failed).
                let pending = self.store.appends_pending_via(conn);
                assert_eq!(
                    pending, 0,
                    "connector {conn} went live with {pending} appends it handed back still pending in the store"
                );
                self.reclaim(cx, conn, true);
            }
            Event::StoreFailed(failure) => {
                cx.note(Side::Connector, format!("{conn} backlog read failed ({failure}); retried later"));
                c.retry_at = Some(cx.now + self.store_retry);
            }
            other => panic!("connector application on {conn} got an unexpected event: {other:?}"),
        }
    }

    pub(crate) fn on_answer_hello(&mut self, cx: &mut Ctx<'_>, conn: ConnId, life: Life) {
        if !self.is_current(life) {
            return;
        }
        let Some(c) = self.machines.get_mut(&conn).filter(|c| !c.machine.is_closed()) else { return };
        // Refusing is for the first hello: once one is answered, the gateway is in.
        let refuse = self.refuse_next > 0 && !c.machine.is_ready();
        if refuse {
            if let Err(e) = c.machine.refuse_hello(cx.now, "reconfiguring") {
                panic!("connector {conn}: refuse_hello refused: {e}");
            }
            self.refuse_next -= 1;
            cx.bump("hellos refused (close 1008)");
            return self.drain(cx, conn);
        }
        let platform = c.machine.next_hello().map(|identity| identity.platform.clone()).unwrap_or_default();
        if let Err(e) = c.machine.answer_hello(cx.now, descriptor_for(&platform)) {
            panic!("connector {conn}: answer_hello refused: {e}");
        }
        self.register(cx, conn);
        self.drain(cx, conn);
    }

    pub(crate) fn on_respond(
        &mut self,
        cx: &mut Ctx<'_>,
        conn: ConnId,
        life: Life,
        request_id: &str,
        result: ActionResult,
    ) {
        if !self.is_current(life) {
            return;
        }
        let Some(c) = self.open(conn) else { return };
        match c.machine.respond(cx.now, request_id, result.clone()) {
            Ok(()) => cx.ledger.connector_responded(request_id, &result),
            Err(ConnectorError::Closed) => {}
            Err(e) => panic!("connector {conn}: respond refused: {e}"),
        }
        self.drain(cx, conn);
    }
}

/// How long the connector application takes to answer a hello: now and
/// then longer than the 30 s handshake timeout of both machines.
fn answer_delay(rng: &mut ChaCha8Rng) -> Duration {
    let ms = match rng.random_range(0..100) {
        0..=87 => rng.random_range(0..=200),
        88..=97 => rng.random_range(200..=5_000),
        _ => rng.random_range(25_000..=40_000),
    };
    Duration::from_millis(ms)
}

/// How long the connector application takes to answer a request, and what
/// it answers: mostly quick, sometimes slow, now and then slower than the
/// gateway's 30 s request timeout; mostly success, sometimes a refusal.
fn response(rng: &mut ChaCha8Rng, request_id: &str) -> (Duration, ActionResult) {
    let ms = match rng.random_range(0..100) {
        0..=79 => rng.random_range(0..=300),
        80..=91 => rng.random_range(500..=10_000),
        _ => rng.random_range(20_000..=45_000),
    };
    let result = if rng.random_bool(0.85) {
        ActionResult { message_id: Some(format!("sent-{request_id}")), ..ActionResult::ok() }
    } else {
        ActionResult { code: Some("sim_declined".into()), ..ActionResult::failed("the platform said no") }
    };
    (Duration::from_millis(ms), result)
}
