//! The driving contract of one connector machine, checked from outside.

use std::time::Instant;

use crate::connector::{self, ConnectorMachine};
use crate::sim::world::network::ConnId;

/// The driving contract of one connector machine (its module docs): `Closed`
/// exactly once and last, and no deadline in the past.
#[derive(Debug, Default)]
pub(crate) struct ConnectorContract {
    closed: bool,
}

impl ConnectorContract {
    pub(crate) fn observe(&mut self, conn: ConnId, action: &connector::Action) {
        assert!(!self.closed, "connector machine {conn}: action after Closed: {action:?}");
        if matches!(action, connector::Action::Closed(_)) {
            self.closed = true;
        }
    }

    /// After the machine's actions were drained at `now`.
    pub(crate) fn check(&self, conn: ConnId, machine: &ConnectorMachine, now: Instant) {
        assert_eq!(
            machine.is_closed(),
            self.closed,
            "connector machine {conn}: is_closed() disagrees with the Closed action seen"
        );
        if let Some(at) = machine.poll_timeout() {
            assert!(at >= now, "connector machine {conn}: deadline {:?} before now", now - at);
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed
    }
}
