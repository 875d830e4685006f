//! What the world checks, continuously and at the end.
//!
//! The [`Ledger`] is the world's memory of every request, every pushed
//! event and forward, and every frame stream, fed by both applications as
//! things happen; each entry point checks what it can at that moment and
//! panics with a sentence naming the broken promise. [`ConnectorContract`]
//! checks one connector machine's action stream; the gateway machines use
//! [`crate::sim::Invariants`].
//!
//! Definitions (PROTOCOL §5, §8):
//! - a request's frame *left* when its `outbound` line was polled from the
//!   gateway machine; a failure is ambiguous exactly when it had;
//! - an event (or forward) is *live* when the connector machine said
//!   `Sent`; otherwise it is handed to the backlog store to append (handed
//!   back as `AppendToBacklog`, or appended directly while no machine could
//!   take it), and the producer is told it is *buffered* only once the
//!   append completed (the durability point), *failed* when the append
//!   failed, and nothing when the process died with the append in flight
//!   (*in doubt*: the store may or may not have written it);
//! - a live event may be lost with its connection, never duplicated on the
//!   wire; a buffered one, and any the store wrote, may arrive many times on
//!   the wire but reaches the application exactly once after dedupe, and is
//!   never lost (an entry is removed only after the application got it); a
//!   failed one never arrives, and one in doubt arrives at most once;
//! - within a chat, the application sees the events one connector
//!   instance submitted in the order it submitted them (with a lone
//!   instance: push order);
//! - on one connection, what one side's application receives is a prefix
//!   of what the other side's machine sent, in order (a drop may only cut
//!   the tail).

mod contract;
mod events;
mod requests;
mod streams;

use std::collections::{BTreeMap, BTreeSet};

pub(crate) use self::contract::ConnectorContract;
use self::events::EventRecord;
pub(crate) use self::events::{Pushed, Report, event_key, forward_key, forward_text};
use self::requests::RequestRecord;
use self::streams::Stream;
pub(crate) use self::streams::{Dir, stream_item};
use super::network::ConnId;

/// Every request, pushed event and frame stream of a run, and the checks on them.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    requests: BTreeMap<String, RequestRecord>,
    events: BTreeMap<String, EventRecord>,
    /// The ledger key of the event behind each entry the store wrote.
    entries: BTreeMap<String, String>,
    /// Per chat and submitting instance, the sequence number of the last
    /// event the application got.
    last_seq: BTreeMap<(usize, usize), u64>,
    /// `(connection, buffer id)` of every replayed frame.
    replayed: BTreeSet<(ConnId, String)>,
    streams: BTreeMap<(ConnId, Dir), Stream>,
    /// Connections on which the connector sent `going_idle_ack`.
    idle_acked: BTreeSet<ConnId>,
    /// Coverage counters, summed over seeds by the runner.
    pub(crate) counters: BTreeMap<&'static str, u64>,
}

impl Ledger {
    pub(crate) fn bump(&mut self, counter: &'static str) {
        *self.counters.entry(counter).or_default() += 1;
    }
}
