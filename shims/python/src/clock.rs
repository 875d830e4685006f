//! Python's monotonic float seconds as the `Instant`s core works in.

use std::time::{Duration, Instant};

/// Longest span a float time is mapped over (about 31 years): keeps
/// `Duration::from_secs_f64` and `Instant` arithmetic away from overflow.
const MAX_SPAN_S: f64 = 1e9;

/// Maps float seconds (`loop.time()`, `time.monotonic()`) to `Instant`s and
/// back, anchored at the time an object was created. Earlier times map to
/// the anchor: core clamps time that goes backwards anyway.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    anchor: Instant,
    anchor_s: f64,
}

impl Clock {
    pub(crate) fn new(now: f64) -> Self {
        Self { anchor: Instant::now(), anchor_s: now }
    }

    pub(crate) fn instant(&self, now: f64) -> Instant {
        self.anchor + span(now - self.anchor_s)
    }

    pub(crate) fn seconds(&self, at: Instant) -> f64 {
        self.anchor_s + at.saturating_duration_since(self.anchor).as_secs_f64()
    }
}

/// A non-negative float span as a `Duration` (NaN reads as zero).
pub(crate) fn span(seconds: f64) -> Duration {
    if seconds > 0.0 { Duration::from_secs_f64(seconds.min(MAX_SPAN_S)) } else { Duration::ZERO }
}
