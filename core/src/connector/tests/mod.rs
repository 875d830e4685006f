//! Scenario tests for the connector machine and the session router. Each
//! test reads like a script: build, act, drain, assert the whole action list.

mod auth;
mod handshake;
mod idle;
mod replay;
mod requests;
mod robustness;
mod router;

use std::time::{Duration, Instant};

use super::{Action, ConnectorConfig, ConnectorMachine, Event, MemoryBacklog, StoreRequest, serve_request};
use crate::gateway::Identity;
use crate::wire::{Descriptor, MessageEvent, Platform, SessionSource};

/// Wall time handed to the machine (unix seconds).
const NOW_UNIX: u64 = 1_700_000_000;

/// An arbitrary starting instant; only differences from it matter.
#[allow(clippy::disallowed_methods)]
fn epoch() -> Instant {
    Instant::now()
}

/// A machine, a backlog store that answers at once, and a simulated clock.
struct Rig {
    m: ConnectorMachine,
    backlog: MemoryBacklog,
    start: Instant,
    now: Instant,
    /// Actions taken out while serving store requests, not yet drained.
    taken: Vec<Action>,
    /// Every store request the machine made, in order.
    store_log: Vec<StoreRequest>,
}

impl Rig {
    /// Auth off, default config.
    fn new() -> Self {
        Self::with_config(ConnectorConfig::default(), None)
    }

    fn with_config(config: ConnectorConfig, authorization: Option<&str>) -> Self {
        Self::with_backlog(config, authorization, MemoryBacklog::new())
    }

    /// A machine for a new connection that finds `backlog` as the previous one left it.
    fn with_backlog(config: ConnectorConfig, authorization: Option<&str>, backlog: MemoryBacklog) -> Self {
        let start = epoch();
        let m = ConnectorMachine::new(config, authorization, start, NOW_UNIX);
        Self { m, backlog, start, now: start, taken: Vec::new(), store_log: Vec::new() }
    }

    /// A machine past the handshake for `telegram:b1`, with the backlog
    /// synced once; returns the rig and the actions that took.
    fn ready() -> (Self, Vec<Action>) {
        let mut rig = Self::new();
        rig.input(&hello("telegram", "b1"));
        rig.m.answer_hello(rig.now, descriptor("telegram")).unwrap();
        rig.sync();
        let actions = rig.drain();
        (rig, actions)
    }

    fn advance(&mut self, by: Duration) {
        self.now += by;
    }

    fn input(&mut self, text: &str) {
        self.m.handle_input(self.now, text.as_bytes());
    }

    /// Lets the store answer every request the machine made so far; the
    /// other actions wait for [`drain`](Self::drain).
    fn sync(&mut self) {
        while let Some(action) = self.m.poll_action() {
            match action {
                Action::Store(request) => {
                    self.store_log.push(request.clone());
                    let now = self.now;
                    let Ok(()) = serve_request(&mut self.m, now, request, &mut self.backlog);
                }
                other => self.taken.push(other),
            }
        }
    }

    /// Every action but store requests (which the store answers on the way).
    fn drain(&mut self) -> Vec<Action> {
        self.sync();
        std::mem::take(&mut self.taken)
    }
}

// ---- lines the gateway sends ----

fn hello(platform: &str, bot_id: &str) -> String {
    format!("{{\"type\":\"hello\",\"platform\":\"{platform}\",\"botId\":\"{bot_id}\"}}\n")
}

/// An untagged `send` outbound.
fn outbound(request_id: &str) -> String {
    format!(
        "{{\"type\":\"outbound\",\"requestId\":\"{request_id}\",\"action\":{{\"op\":\"send\",\"chat_id\":\"c1\",\"content\":\"hi\",\"reply_to\":null,\"metadata\":{{}}}}}}\n"
    )
}

/// A `typing` outbound tagged for an identity.
fn outbound_for(request_id: &str, platform: &str, bot_id: &str) -> String {
    format!(
        "{{\"type\":\"outbound\",\"requestId\":\"{request_id}\",\"action\":{{\"op\":\"typing\",\"chat_id\":\"c1\"}},\"platform\":\"{platform}\",\"botId\":\"{bot_id}\"}}\n"
    )
}

fn ack(buffer_id: &str) -> String {
    format!("{{\"type\":\"inbound_ack\",\"bufferId\":\"{buffer_id}\"}}\n")
}

// ---- what the machine does ----

/// `SendFrame` of this JSON (the `\n` is added).
fn send(json: &str) -> Action {
    Action::SendFrame(format!("{json}\n"))
}

fn deliver(event: Event) -> Action {
    Action::Deliver(event)
}

fn hello_event(platform: &str, bot_id: &str) -> Action {
    deliver(Event::Hello { identity: Identity::new(platform, bot_id), command_manifest: None })
}

fn descriptor(platform: &str) -> Descriptor {
    Descriptor::new(platform, platform.to_uppercase())
}

/// The line a `descriptor` frame for [`descriptor`] encodes to.
fn descriptor_sent(platform: &str) -> Action {
    let frame = crate::wire::Frame::Descriptor(crate::wire::DescriptorFrame {
        descriptor: descriptor(platform),
        extra: Default::default(),
    });
    Action::SendFrame(frame.encode_line())
}

/// A telegram DM event with `text` in chat `chat`.
fn event(chat: &str, text: &str) -> MessageEvent {
    let mut source = SessionSource::new(Platform::Telegram, chat, "dm");
    source.user_id = Some(chat.to_owned());
    MessageEvent::text(source, text)
}

/// The texts and buffer ids of the `inbound` frames among `actions`, in order.
fn inbound_texts(actions: &[Action]) -> Vec<(String, Option<String>)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::SendFrame(line) => crate::wire::Frame::decode(line.trim_end().as_bytes(), None).ok(),
            _ => None,
        })
        .filter_map(|frame| match frame {
            crate::wire::Frame::Inbound(f) => Some((f.event.text, f.buffer_id)),
            _ => None,
        })
        .collect()
}
