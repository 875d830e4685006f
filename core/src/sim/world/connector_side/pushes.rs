//! What the platforms bring the connector, turned into pushes: message
//! events (per chat, with message ids), now and then a webhook to forward
//! or a request to interrupt a turn, each submitted on the instance the
//! plan names. A bufferable push goes through that instance's newest
//! connection when it is ready — sent live, or appended when the machine
//! hands the frame back — and straight to the store when no connection
//! there can take it, or when the fleet routes every push through the store.

use rand::Rng as _;

use std::time::Duration;

use super::{ConnectorSide, Life};
use crate::connector::{BufferedFrame, PushOutcome};
use crate::sim::world::Ctx;
use crate::sim::world::agenda::Task;
use crate::sim::world::fleet_plan::Routing;
use crate::sim::world::invariants::{Pushed, event_key, forward_key, forward_text};
use crate::sim::world::network::ConnId;
use crate::sim::world::transcript::Side;
use crate::wire::{Forward, MessageEvent, SessionSource};

/// Forwards are ordered among themselves, as one more "chat".
const FORWARDS: usize = usize::MAX;

impl ConnectorSide {
    /// A platform event for chat number `chat` arrives at `instance` (and
    /// sometimes more).
    pub(crate) fn push(&mut self, cx: &mut Ctx<'_>, chat: usize, instance: usize) {
        if !self.instances[instance].up {
            // The platform keeps it until the process is back.
            self.instances[instance].deferred.push(chat);
            return;
        }
        self.push_event(cx, chat, instance);
        if cx.rng.random_bool(0.12) {
            self.push_forward(cx, chat, instance);
        }
        if cx.rng.random_bool(0.1) {
            self.push_interrupt(cx, chat, instance);
        }
    }

    fn push_event(&mut self, cx: &mut Ctx<'_>, chat: usize, instance: usize) {
        self.seqs[chat] += 1;
        let seq = self.seqs[chat];
        let feed = &self.chats[chat];
        let mut source = SessionSource::new(feed.platform, feed.chat_id.clone(), "dm");
        source.user_id = Some(format!("u-{}", feed.chat_id));
        let text = format!("{}#{seq}", feed.chat_id);
        let mut event = MessageEvent::text(source, text.clone());
        event.message_id = Some(format!("m{seq}"));
        let key = event_key(&event).expect("simulated events carry a message id");
        let pushed = Pushed { key, chat, producer: instance, seq, text };
        self.route(cx, instance, BufferedFrame::Inbound(Box::new(event)), pushed);
    }

    /// A webhook for the gateway, with a binary body (it must arrive byte for byte).
    fn push_forward(&mut self, cx: &mut Ctx<'_>, chat: usize, instance: usize) {
        self.forwards += 1;
        let n = self.forwards;
        let feed = &self.chats[chat];
        let body: Vec<u8> = (0..cx.rng.random_range(0..48)).map(|_| cx.rng.random()).collect();
        let forward = Forward {
            platform: feed.platform.as_str().to_owned(),
            bot_id: self.bots[feed.identity].clone(),
            method: "POST".into(),
            path: format!("/hook/{n}"),
            headers: vec![("x-sim-hook".into(), n.to_string())],
            body,
            ..Forward::default()
        };
        let (key, text) = (forward_key(&forward), forward_text(&forward));
        let pushed = Pushed { key, chat: FORWARDS, producer: instance, seq: n, text };
        self.route(cx, instance, BufferedFrame::Forward(Box::new(forward)), pushed);
    }

    /// Sends a bufferable frame submitted on `instance` the way the
    /// contract says, and books it.
    fn route(&mut self, cx: &mut Ctx<'_>, instance: usize, frame: BufferedFrame, pushed: Pushed) {
        let through = self.routing == Routing::ThroughHolder;
        let ready = self.newest_on(instance).filter(|(_, c)| through && c.machine.is_ready());
        let target = ready.map(|(id, _)| id);
        let Some((conn, c)) = target.and_then(|id| self.machines.get_mut(&id).map(|c| (id, c))) else {
            // Straight to the store, where a replay finds it (the next
            // connection's, or the holder's once it hears of it).
            let why = if through { "no ready connection" } else { "through the shared store" };
            let on = if self.is_fleet() { format!(" on i{instance}") } else { String::new() };
            cx.note(Side::Connector, format!("push {}{on}: {why}, to the store", pushed.key));
            self.append(cx, instance, frame, pushed, None);
            return self.settle_inline(cx);
        };
        let outcome = c.machine.push_frame(cx.now, frame, None);
        match outcome {
            Ok(PushOutcome::Sent) => {
                cx.note(Side::Connector, format!("{conn} push {}: live", pushed.key));
                cx.ledger.pushed_live(pushed, conn);
            }
            Ok(PushOutcome::AppendToBacklog(frame)) => {
                // Submitted before the machine is drained: the append goes
                // ahead of any store request the push made it ask.
                cx.note(Side::Connector, format!("{conn} push {}: handed back, to the store", pushed.key));
                self.append(cx, instance, frame, pushed, Some(conn));
            }
            Ok(other) => panic!("connector {conn}: a bufferable push came back {other:?}"),
            Err(e) => panic!("connector {conn}: a ready machine refused a push: {e}"),
        }
        self.drain(cx, conn);
    }

    /// The platform asks `instance` to stop a session's turn: the interrupt
    /// goes to the gateway running it now, through a ready connection of
    /// the instance, or through the instance the claim names; else nowhere
    /// (interrupts are never buffered).
    fn push_interrupt(&mut self, cx: &mut Ctx<'_>, chat: usize, instance: usize) {
        match self.ready_on(instance) {
            Some(conn) => self.interrupt_on(cx, conn, chat),
            None => self.hand_interrupt_over(cx, chat, instance),
        }
    }

    /// The newest connection of `instance`, if it is ready.
    fn ready_on(&self, instance: usize) -> Option<ConnId> {
        self.newest_on(instance).filter(|(_, c)| c.machine.is_ready()).map(|(id, _)| id)
    }

    /// Hands an interrupt to the instance holding the gateway, as the
    /// claim says; not acknowledged, like one sent down a connection.
    fn hand_interrupt_over(&mut self, cx: &mut Ctx<'_>, chat: usize, from: usize) {
        if !self.is_fleet() {
            return;
        }
        match self.holder(cx.now) {
            Some(to) if to != from => {
                cx.bump("interrupts handed to the holder");
                let latency = self.fleet_rng.random_range(Duration::ZERO..=self.news_latency);
                cx.agenda.at(cx.now + latency, Task::ForwardedInterrupt { life: self.life(to), chat });
            }
            _ => cx.bump("interrupts refused (no holder elsewhere)"),
        }
    }

    /// An interrupt another instance handed over reaches `life`'s instance.
    pub(crate) fn on_forwarded_interrupt(&mut self, cx: &mut Ctx<'_>, life: Life, chat: usize) {
        let deaf = self.instances.get(life.instance).is_some_and(|i| i.deaf_until.is_some());
        let conn = self.ready_on(life.instance).filter(|_| self.is_current(life) && !deaf);
        match conn {
            Some(conn) => self.interrupt_on(cx, conn, chat),
            None => cx.bump("handed-over interrupts lost (holder gone or deaf)"),
        }
    }

    fn interrupt_on(&mut self, cx: &mut Ctx<'_>, conn: ConnId, chat: usize) {
        let feed = &self.chats[chat];
        let session_key = format!("agent:main:{}:dm:{}", feed.platform.as_str(), feed.chat_id);
        let chat_id = feed.chat_id.clone();
        let Some(c) = self.machines.get_mut(&conn) else { return };
        match c.machine.push_interrupt(cx.now, &session_key, &chat_id) {
            Ok(PushOutcome::Sent) => cx.bump("interrupts sent to the gateway"),
            Ok(PushOutcome::Dropped) => {
                assert!(
                    c.machine.is_idle(),
                    "connector {conn}: an interrupt was dropped, but the gateway is not idle"
                );
                cx.bump("interrupts dropped (gateway idle)");
            }
            Ok(other) => panic!("connector {conn}: an interrupt push came back {other:?}"),
            Err(e) => panic!("connector {conn}: a ready machine refused an interrupt: {e}"),
        }
        self.drain(cx, conn);
    }
}
