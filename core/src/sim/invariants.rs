//! The driving contract of the gateway machine, checked after every action.

use std::collections::BTreeSet;
use std::time::Instant;

use crate::gateway::{Action, Event, RelayMachine, RequestId};

/// Watches one machine's action stream and panics on the first breach of
/// the contract in [`crate::gateway`].
#[derive(Debug, Default)]
pub struct Invariants {
    issued: BTreeSet<RequestId>,
    settled: BTreeSet<RequestId>,
    ready: bool,
    closed: bool,
}

impl Invariants {
    /// Records a request id the machine handed out.
    pub fn issued(&mut self, id: RequestId) {
        assert!(self.issued.insert(id), "request id {id} handed out twice");
    }

    /// Checks one action as it is polled.
    pub fn observe(&mut self, action: &Action) {
        assert!(!self.closed, "action after Closed: {action:?}");
        match action {
            Action::Resolve { id, .. } | Action::Fail { id, .. } => {
                assert!(self.issued.contains(id), "settled an id never handed out: {id}");
                assert!(self.settled.insert(*id), "request {id} settled twice");
            }
            Action::Deliver(Event::Ready { .. }) => {
                assert!(!self.ready, "Ready twice");
                self.ready = true;
            }
            Action::Deliver(Event::Inbound { .. } | Event::Passthrough { .. } | Event::Interrupt { .. }) => {
                assert!(self.ready, "delivery before the handshake completed: {action:?}");
            }
            Action::Closed(_) => {
                let unsettled: Vec<_> = self.issued.difference(&self.settled).collect();
                assert!(unsettled.is_empty(), "Closed with unsettled requests: {unsettled:?}");
                self.closed = true;
            }
            _ => {}
        }
    }

    /// Checks the deadline after `handle_timeout(now)`.
    pub fn after_timeout(&self, machine: &RelayMachine, now: Instant) {
        if let Some(next) = machine.poll_timeout() {
            assert!(next > now, "deadline {next:?} not after handle_timeout({now:?})");
        }
    }

    /// Whether `Closed` was seen.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Requests handed out and not yet settled.
    pub fn unsettled(&self) -> usize {
        self.issued.len() - self.settled.len()
    }
}
