//! The connector machine's fixed timers.

use crate::timer_table::TimerTable;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Timer {
    /// The first descriptor must have been sent.
    Handshake,
    /// Nothing received for too long.
    DeadLink,
    /// A failed backlog read is asked again.
    StoreRetry,
}

impl From<Timer> for usize {
    fn from(timer: Timer) -> Self {
        timer as Self
    }
}

pub(crate) type Timers = TimerTable<Timer, 3>;
