//! Timed work of the world's applications and drivers: what happens next,
//! in time order, ties broken by scheduling order (so a seed replays exactly).

use std::collections::BTreeMap;
use std::time::Instant;

use super::connector_side::Life;
use super::network::ConnId;
use crate::wire::ActionResult;

/// One piece of scheduled work.
#[derive(Debug, Clone)]
pub(crate) enum Task {
    // ---- the world ----
    /// Apply the plan's fault with this index.
    Fault(usize),
    /// The active period is over: heal everything and wait for convergence.
    EndActive,

    // ---- the gateway application and its driver ----
    /// Ask the reconnect policy again (it said `WaitUntil` this instant).
    PolicyWake,
    /// The dial of `conn` was refused (the connector is down).
    DialRefused { conn: ConnId },
    /// The first-connect budget ran out; abort `conn` if it is still dialing.
    DialDeadline { conn: ConnId },
    /// The application has custody of the event `key`: ack `buffer_id` on `conn`.
    Custody { conn: ConnId, buffer_id: String, key: String },
    /// The application issues a request.
    Request,
    /// The application closes `conn` after going idle.
    CloseIdle { conn: ConnId },
    /// The sleeping host wakes up: release the redial hold.
    WakeUp,
    /// A write on `conn` failed at the gateway end.
    GatewayWriteFailed { conn: ConnId },
    /// Check that a stopped policy still refuses to dial.
    StopProbe,

    // ---- the connector application and its driver ----
    /// A dial reaches the connector with this `Authorization` header.
    DialArrive { conn: ConnId, authorization: Option<String> },
    /// Answer the oldest unanswered hello on `conn` (served by `life`).
    AnswerHello { conn: ConnId, life: Life },
    /// Answer request `request_id` on `conn`.
    Respond { conn: ConnId, life: Life, request_id: String, result: ActionResult },
    /// A platform event arrives for chat number `chat`, at `instance`.
    Push { chat: usize, instance: usize },
    /// The connector instance is back after a restart.
    ConnectorUp { life: Life },
    /// The backlog store finished the operation at the head of the instance's queue.
    StoreDone { life: Life },
    /// The instance dies now, amid store traffic (an armed crash).
    CrashDue { life: Life },
    /// A write on `conn` failed at the connector end.
    ConnectorWriteFailed { conn: ConnId, life: Life },
    /// An announcement of an append reaches the instance.
    News { life: Life },
    /// The instance's subscription to announcements may be back.
    Resubscribe { life: Life },
    /// The instance refreshes its claim on the gateway and sweeps (tells
    /// every ready connection of appends, announced or not).
    FabricTick { life: Life },
    /// An interrupt for chat number `chat`, handed over by another instance.
    ForwardedInterrupt { life: Life, chat: usize },
}

/// Tasks by `(due, sequence)`: a `BTreeMap`, so order never depends on hashing.
#[derive(Debug, Default)]
pub(crate) struct Agenda {
    tasks: BTreeMap<(Instant, u64), Task>,
    seq: u64,
}

impl Agenda {
    pub(crate) fn at(&mut self, due: Instant, task: Task) {
        self.seq += 1;
        self.tasks.insert((due, self.seq), task);
    }

    pub(crate) fn next_due(&self) -> Option<Instant> {
        self.tasks.keys().next().map(|(due, _)| *due)
    }

    /// The earliest task if it is due at or before `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<Task> {
        let entry = self.tasks.first_entry()?;
        if entry.key().0 > now {
            return None;
        }
        Some(entry.remove())
    }
}
