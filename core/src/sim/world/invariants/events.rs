//! Events and forwards: what was pushed how, what reached the wire and the
//! application, in which order; and what must hold at the end.

use super::Ledger;
use crate::sim::world::network::ConnId;
use crate::wire::{Forward, MessageEvent};

#[derive(Debug, Clone, PartialEq, Eq)]
enum How {
    Live {
        conn: ConnId,
    },
    /// Handed to the backlog store to append.
    Stored(Stored),
}

/// A push that went to the store: what the producer was told, and what the
/// store really did.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stored {
    report: Report,
    /// The entry the store wrote, if it did (the simulation's ground truth).
    buffer_id: Option<String>,
}

/// What the connector application told the producer of a stored push.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Report {
    /// Nothing yet: the append is in flight.
    Pending,
    /// Buffered: the append completed, the push is durable.
    Buffered,
    /// The append failed: the producer knows the push was not taken.
    Failed,
    /// The process died with the append in flight: nobody can tell.
    InDoubt,
}

#[derive(Debug)]
pub(super) struct EventRecord {
    chat: usize,
    producer: usize,
    seq: u64,
    text: String,
    how: How,
    on_wire: u32,
    to_app: u32,
}

/// A pushed event or forward: its ledger key, ordering (`seq` within its
/// `chat`, among what one `producer` instance submitted) and content
/// (`text`, compared on arrival).
#[derive(Debug, Clone)]
pub(crate) struct Pushed {
    pub(crate) key: String,
    pub(crate) chat: usize,
    /// The connector instance it was submitted on.
    pub(crate) producer: usize,
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
        let Pushed { key, chat, producer, seq, text } = pushed;
        let record = EventRecord { chat, producer, seq, text, how, on_wire: 0, to_app: 0 };
        let previous = self.events.insert(key.clone(), record);
        assert!(previous.is_none(), "the connector pushed event {key} twice");
    }

    /// The connector machine on `conn` sent the event live.
    pub(crate) fn pushed_live(&mut self, pushed: Pushed, conn: ConnId) {
        self.bump(if pushed.key.starts_with("forward:") { "forwards live" } else { "events live" });
        self.push(pushed, How::Live { conn });
    }

    /// The event was handed to the store to append (nothing is promised yet).
    pub(crate) fn append_submitted(&mut self, pushed: Pushed) {
        self.push(pushed, How::Stored(Stored { report: Report::Pending, buffer_id: None }));
    }

    /// The store wrote the event `key` as entry `buffer_id`.
    pub(crate) fn append_written(&mut self, key: &str, buffer_id: &str) {
        let stored = self.stored(key);
        assert_eq!(stored.buffer_id, None, "the store wrote {key} twice");
        stored.buffer_id = Some(buffer_id.to_owned());
        let previous = self.entries.insert(buffer_id.to_owned(), key.to_owned());
        assert!(previous.is_none(), "the store gave entry id {buffer_id} twice");
    }

    /// The producer of `key` was told `report`.
    pub(crate) fn append_reported(&mut self, key: &str, report: Report) {
        let forward = key.starts_with("forward:");
        self.bump(match report {
            Report::Pending => panic!("{key}: pending is not a report"),
            Report::Buffered if forward => "forwards buffered",
            Report::Buffered => "events buffered",
            Report::Failed => "pushes failed (append failed)",
            Report::InDoubt => "pushes in doubt (append in flight at a crash)",
        });
        let stored = self.stored(key);
        assert_eq!(stored.report, Report::Pending, "the push {key} was reported twice");
        stored.report = report;
    }

    fn stored(&mut self, key: &str) -> &mut Stored {
        match self.events.get_mut(key).map(|e| &mut e.how) {
            Some(How::Stored(stored)) => stored,
            other => panic!("{key} is not a push handed to the store: {other:?}"),
        }
    }

    /// The store removed entry `buffer_id`: only ever after the gateway
    /// acknowledged it, so its event must have reached the application.
    pub(crate) fn entry_removed(&mut self, buffer_id: &str) {
        let Some(key) = self.entries.get(buffer_id) else {
            panic!("entry {buffer_id} was removed from the backlog, but the store never wrote it")
        };
        let record = &self.events[key];
        assert_eq!(
            record.to_app, 1,
            "entry {buffer_id} ({key}) was removed from the backlog, but the application never got it: lost"
        );
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
            (How::Stored(Stored { buffer_id: Some(expected), .. }), Some(got)) => {
                assert_eq!(got, expected, "buffered {key} arrived with the wrong bufferId");
            }
            (How::Stored(Stored { buffer_id: None, report }), Some(got)) => {
                panic!(
                    "{key} arrived with bufferId {got}, but the store never wrote it (reported {report:?})"
                )
            }
            (How::Live { .. }, Some(got)) => panic!("live {key} arrived with bufferId {got}"),
            (How::Stored(stored), None) => {
                panic!("stored {key} ({stored:?}) arrived without a bufferId")
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
        let last = self.last_seq.entry((record.chat, record.producer)).or_default();
        assert!(
            record.seq > *last,
            "event {key} (#{} of its chat, submitted on i{}) reached the application after #{} of the same chat and instance: out of order",
            record.seq,
            record.producer,
            last
        );
        *last = record.seq;
    }

    /// Events the application must get and has not got yet: those reported
    /// buffered, and those the store holds; with their entry ids when written.
    pub(crate) fn undelivered_buffered(&self) -> Vec<(String, Option<String>)> {
        self.events
            .iter()
            .filter_map(|(key, e)| match &e.how {
                How::Stored(stored) if e.to_app == 0 && must_arrive(stored) => {
                    Some((key.clone(), stored.buffer_id.clone()))
                }
                _ => None,
            })
            .collect()
    }

    /// End of run. `converged`: the gateway ended up connected with the
    /// backlog settled; otherwise (it stopped for good) an event that must
    /// arrive may still wait in the backlog, as `in_backlog` tells.
    pub(crate) fn check_final(&mut self, converged: bool, in_backlog: impl Fn(&str) -> bool) {
        self.check_requests_settled();
        let mut lost_live = 0;
        for (key, e) in &self.events {
            let stored = match &e.how {
                How::Live { .. } => {
                    lost_live += u64::from(e.to_app == 0);
                    continue;
                }
                How::Stored(stored) => stored,
            };
            assert_ne!(stored.report, Report::Pending, "the append of {key} never completed");
            if !must_arrive(stored) {
                // Failed (never written), or in doubt and lost with the process.
                continue;
            }
            let buffer_id = stored.buffer_id.as_deref().unwrap_or("never written");
            if converged {
                assert_eq!(
                    e.to_app, 1,
                    "{:?} event {key} (bufferId {buffer_id}) reached the application {} times; exactly once expected",
                    stored.report, e.to_app
                );
            } else {
                assert!(
                    e.to_app == 1 || stored.buffer_id.as_deref().is_some_and(&in_backlog),
                    "{:?} event {key} (bufferId {buffer_id}) is lost: never delivered, and not in the backlog",
                    stored.report
                );
            }
        }
        *self.counters.entry("events live and lost (allowed)").or_default() += lost_live;
    }
}

/// Whether a stored push must reach the application: it was reported
/// buffered (durable), or the store holds it (written, whatever the
/// producer was told). A failed one was never written; one in doubt that
/// the crash lost is allowed to stay lost.
fn must_arrive(stored: &Stored) -> bool {
    stored.report == Report::Buffered || stored.buffer_id.is_some()
}
