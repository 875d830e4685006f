//! Events and forwards: what was pushed how, what reached the wire and the
//! application, in which order; and what must hold at the end.

use super::Ledger;
use crate::sim::world::network::ConnId;
use crate::wire::{Forward, MessageEvent};

#[derive(Debug, Clone, PartialEq, Eq)]
enum How {
    Live { conn: ConnId },
    Buffered { buffer_id: String },
}

#[derive(Debug)]
pub(super) struct EventRecord {
    chat: usize,
    seq: u64,
    text: String,
    how: How,
    on_wire: u32,
    to_app: u32,
}

/// A pushed event or forward: its ledger key, ordering (`chat`, `seq`) and
/// content (`text`, compared on arrival).
#[derive(Debug, Clone)]
pub(crate) struct Pushed {
    pub(crate) key: String,
    pub(crate) chat: usize,
    pub(crate) seq: u64,
    pub(crate) text: String,
}

/// The ledger's own name for an event, `<platform>:<chat_id>:<message_id>`,
/// spelled out here rather than borrowed from [`InboundDedupe::key`](crate::adapter::InboundDedupe::key),
/// so a fault in dedupe shows up as a lost or repeated event, not as a
/// confused ledger.
pub(crate) fn event_key(event: &MessageEvent) -> Option<String> {
    let id = event.message_id.as_deref()?;
    Some(format!("{}:{}:{id}", event.source.platform.as_str(), event.source.chat_id))
}

/// The ledger's name for a forward: its path, unique per forward in the simulation.
pub(crate) fn forward_key(forward: &Forward) -> String {
    format!("forward:{}", forward.path)
}

/// What a forward must arrive with: method, path, headers and the exact body bytes.
pub(crate) fn forward_text(forward: &Forward) -> String {
    let body: String = forward.body.iter().map(|b| format!("{b:02x}")).collect();
    format!("{} {} {:?} {body}", forward.method, forward.path, forward.headers)
}

impl Ledger {
    fn push(&mut self, pushed: Pushed, how: How) {
        let Pushed { key, chat, seq, text } = pushed;
        let record = EventRecord { chat, seq, text, how, on_wire: 0, to_app: 0 };
        let previous = self.events.insert(key.clone(), record);
        assert!(previous.is_none(), "the connector pushed event {key} twice");
    }

    /// The connector machine on `conn` sent the event live.
    pub(crate) fn pushed_live(&mut self, pushed: Pushed, conn: ConnId) {
        self.bump(if pushed.key.starts_with("forward:") { "forwards live" } else { "events live" });
        self.push(pushed, How::Live { conn });
    }

    /// The event was appended to the backlog as `buffer_id`.
    pub(crate) fn pushed_buffered(&mut self, pushed: Pushed, buffer_id: String) {
        self.bump(if pushed.key.starts_with("forward:") { "forwards buffered" } else { "events buffered" });
        self.push(pushed, How::Buffered { buffer_id });
    }

    /// An event or forward reached the gateway application's driver on
    /// `conn` (before dedupe), with this content.
    pub(crate) fn on_wire(&mut self, conn: ConnId, key: &str, text: &str, buffer_id: Option<&str>) {
        let record = self
            .events
            .get_mut(key)
            .unwrap_or_else(|| panic!("gateway on {conn} got {key}, which the connector never pushed"));
        assert_eq!(text, record.text, "{key} arrived with other content");
        match (&record.how, buffer_id) {
            (How::Live { conn: sent_on }, None) => {
                assert_eq!(*sent_on, conn, "live {key} was sent on {sent_on} but arrived on {conn}");
                assert_eq!(record.on_wire, 0, "live {key} arrived twice on the wire");
            }
            (How::Buffered { buffer_id: expected }, Some(got)) => {
                assert_eq!(got, expected, "buffered {key} arrived with the wrong bufferId");
            }
            (How::Live { .. }, Some(got)) => panic!("live {key} arrived with bufferId {got}"),
            (How::Buffered { buffer_id }, None) => {
                panic!("buffered {key} (bufferId {buffer_id}) arrived without its bufferId")
            }
        }
        record.on_wire += 1;
        if record.on_wire > 1 {
            self.bump("events repeated on the wire");
        }
    }

    /// The gateway application got event `key` (it passed dedupe).
    pub(crate) fn delivered_to_app(&mut self, key: &str) {
        let Some(record) = self.events.get_mut(key) else {
            panic!("the application got unknown event {key}")
        };
        record.to_app += 1;
        assert_eq!(
            record.to_app, 1,
            "event {key} reached the application twice (dedupe let a repeat through)"
        );
        let last = self.last_seq.entry(record.chat).or_default();
        assert!(
            record.seq > *last,
            "event {key} (#{} of its chat) reached the application after #{} of the same chat: out of order",
            record.seq,
            last
        );
        *last = record.seq;
    }

    /// Buffer ids of buffered events the application has not got yet.
    pub(crate) fn undelivered_buffered(&self) -> Vec<(String, String)> {
        self.events
            .iter()
            .filter_map(|(key, e)| match &e.how {
                How::Buffered { buffer_id } if e.to_app == 0 => Some((key.clone(), buffer_id.clone())),
                _ => None,
            })
            .collect()
    }

    /// End of run. `converged`: the gateway ended up connected with an empty
    /// backlog; otherwise (it stopped for good) a buffered event may still
    /// wait in the backlog, as `in_backlog` tells.
    pub(crate) fn check_final(&mut self, converged: bool, in_backlog: impl Fn(&str) -> bool) {
        self.check_requests_settled();
        let mut lost_live = 0;
        for (key, e) in &self.events {
            match &e.how {
                How::Buffered { buffer_id } if converged => assert_eq!(
                    e.to_app, 1,
                    "buffered event {key} (bufferId {buffer_id}) reached the application {} times; exactly once expected",
                    e.to_app
                ),
                How::Buffered { buffer_id } => assert!(
                    e.to_app == 1 || in_backlog(buffer_id),
                    "buffered event {key} (bufferId {buffer_id}) is lost: never delivered, and gone from the backlog"
                ),
                How::Live { .. } => lost_live += u64::from(e.to_app == 0),
            }
        }
        *self.counters.entry("events live and lost (allowed)").or_default() += lost_live;
    }
}
