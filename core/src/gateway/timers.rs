//! The gateway machine's fixed timers; per-request deadlines live in the pending table.

use crate::timer_table::TimerTable;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Timer {
    /// The first descriptor is due.
    Handshake,
    /// Time to send a WebSocket ping.
    Ping,
    /// Nothing received for too long.
    DeadLink,
    /// The `going_idle_ack` is due.
    GoingIdle,
    /// An orderly shutdown ran out of time.
    Shutdown,
}

impl From<Timer> for usize {
    fn from(timer: Timer) -> Self {
        timer as Self
    }
}

pub(crate) type Timers = TimerTable<Timer, 5>;
