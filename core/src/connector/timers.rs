//! The machine's fixed timers.

use std::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Timer {
    /// The first descriptor must have been sent.
    Handshake,
    /// Nothing received for too long.
    DeadLink,
}

impl Timer {
    const COUNT: usize = 2;
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Timers([Option<Instant>; Timer::COUNT]);

impl Timers {
    pub(crate) fn arm(&mut self, timer: Timer, at: Instant) {
        self.0[timer as usize] = Some(at);
    }

    pub(crate) fn disarm(&mut self, timer: Timer) {
        self.0[timer as usize] = None;
    }

    pub(crate) fn disarm_all(&mut self) {
        self.0 = [None; Timer::COUNT];
    }

    pub(crate) fn earliest(&self) -> Option<Instant> {
        self.0.iter().flatten().min().copied()
    }

    /// Disarms `timer` and reports true when it was due at `now`.
    pub(crate) fn fire(&mut self, timer: Timer, now: Instant) -> bool {
        let due = self.0[timer as usize].is_some_and(|at| at <= now);
        if due {
            self.0[timer as usize] = None;
        }
        due
    }
}
