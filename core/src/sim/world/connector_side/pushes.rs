//! What the platforms bring the connector, turned into pushes: message
//! events (per chat, with message ids), now and then a webhook to forward
//! or a request to interrupt a turn. A bufferable push goes through the
//! newest connection when it is ready — sent live, or appended when the
//! machine hands the frame back — and straight to the store when no
//! connection can take it.

use rand::Rng as _;

use super::ConnectorSide;
use crate::connector::{BufferedFrame, PushOutcome};
use crate::sim::world::Ctx;
use crate::sim::world::invariants::{Pushed, event_key, forward_key, forward_text};
use crate::sim::world::transcript::Side;
use crate::wire::{Forward, MessageEvent, SessionSource};

/// Forwards are ordered among themselves, as one more "chat".
const FORWARDS: usize = usize::MAX;

impl ConnectorSide {
    /// A platform event for chat number `chat` arrives (and sometimes more).
    pub(crate) fn push(&mut self, cx: &mut Ctx<'_>, chat: usize) {
        if !self.up {
            // The platform keeps it until the process is back.
            self.deferred.push(chat);
            return;
        }
        self.push_event(cx, chat);
        if cx.rng.random_bool(0.12) {
            self.push_forward(cx, chat);
        }
        if cx.rng.random_bool(0.1) {
            self.push_interrupt(cx, chat);
        }
    }

    fn push_event(&mut self, cx: &mut Ctx<'_>, chat: usize) {
        self.seqs[chat] += 1;
        let seq = self.seqs[chat];
        let feed = &self.chats[chat];
        let mut source = SessionSource::new(feed.platform, feed.chat_id.clone(), "dm");
        source.user_id = Some(format!("u-{}", feed.chat_id));
        let text = format!("{}#{seq}", feed.chat_id);
        let mut event = MessageEvent::text(source, text.clone());
        event.message_id = Some(format!("m{seq}"));
        let key = event_key(&event).expect("simulated events carry a message id");
        self.route(cx, BufferedFrame::Inbound(Box::new(event)), Pushed { key, chat, seq, text });
    }

    /// A webhook for the gateway, with a binary body (it must arrive byte for byte).
    fn push_forward(&mut self, cx: &mut Ctx<'_>, chat: usize) {
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
        let pushed =
            Pushed { key: forward_key(&forward), chat: FORWARDS, seq: n, text: forward_text(&forward) };
        self.route(cx, BufferedFrame::Forward(Box::new(forward)), pushed);
    }

    /// Sends a bufferable frame the way the contract says, and books it.
    fn route(&mut self, cx: &mut Ctx<'_>, frame: BufferedFrame, pushed: Pushed) {
        let target = self.newest().filter(|(_, c)| c.machine.is_ready()).map(|(id, _)| id);
        let Some((conn, c)) = target.and_then(|id| self.machines.get_mut(&id).map(|c| (id, c))) else {
            // No connection can take it: straight to the store, where the
            // next connection's replay finds it.
            cx.note(Side::Connector, format!("push {}: no ready connection, to the store", pushed.key));
            self.append(cx, frame, pushed, None);
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
                self.append(cx, frame, pushed, Some(conn));
            }
            Ok(other) => panic!("connector {conn}: a bufferable push came back {other:?}"),
            Err(e) => panic!("connector {conn}: a ready machine refused a push: {e}"),
        }
        self.drain(cx, conn);
    }

    /// The platform asks to stop a session's turn: the interrupt goes to
    /// the gateway running it now, or nowhere (an idle gateway runs none).
    fn push_interrupt(&mut self, cx: &mut Ctx<'_>, chat: usize) {
        let feed = &self.chats[chat];
        let session_key = format!("agent:main:{}:dm:{}", feed.platform.as_str(), feed.chat_id);
        let chat_id = feed.chat_id.clone();
        let Some(conn) = self.newest().filter(|(_, c)| c.machine.is_ready()).map(|(id, _)| id) else {
            return;
        };
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
