//! A fixed table of named deadlines, shared by both machines: each timer is
//! an enum value indexing an array, and a machine's `poll_timeout` is the
//! minimum of the table (quinn-proto's shape).

use std::fmt;
use std::marker::PhantomData;
use std::time::Instant;

/// `N` deadlines named by the timer enum `T`.
pub(crate) struct TimerTable<T, const N: usize> {
    at: [Option<Instant>; N],
    kind: PhantomData<T>,
}

impl<T, const N: usize> Default for TimerTable<T, N> {
    fn default() -> Self {
        Self { at: [None; N], kind: PhantomData }
    }
}

impl<T, const N: usize> Clone for TimerTable<T, N> {
    fn clone(&self) -> Self {
        Self { at: self.at, kind: PhantomData }
    }
}

impl<T, const N: usize> fmt::Debug for TimerTable<T, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.at.iter()).finish()
    }
}

impl<T: Copy + Into<usize>, const N: usize> TimerTable<T, N> {
    pub(crate) fn arm(&mut self, timer: T, at: Instant) {
        self.at[timer.into()] = Some(at);
    }

    pub(crate) fn disarm(&mut self, timer: T) {
        self.at[timer.into()] = None;
    }

    pub(crate) fn disarm_all(&mut self) {
        self.at = [None; N];
    }

    pub(crate) fn is_armed(&self, timer: T) -> bool {
        self.at[timer.into()].is_some()
    }

    pub(crate) fn earliest(&self) -> Option<Instant> {
        self.at.iter().flatten().min().copied()
    }

    /// Disarms `timer` and reports true when it was due at `now`.
    pub(crate) fn fire(&mut self, timer: T, now: Instant) -> bool {
        let slot = &mut self.at[timer.into()];
        let due = slot.is_some_and(|at| at <= now);
        if due {
            *slot = None;
        }
        due
    }
}
