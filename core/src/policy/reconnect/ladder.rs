//! The jittered exponential backoff ladder: attempt `n` waits a delay drawn
//! uniformly from `[b/2, b]`, `b = min(max, base · 2ⁿ)`.

use std::time::Duration;

use rand::{Rng as _, SeedableRng as _};
use rand_chacha::ChaCha8Rng;

#[derive(Debug, Clone)]
pub(super) struct Ladder {
    rng: ChaCha8Rng,
    attempt: u32,
    base: Duration,
    max: Duration,
}

impl Ladder {
    pub(super) fn new(seed: u64, base: Duration, max: Duration) -> Self {
        Self { rng: ChaCha8Rng::seed_from_u64(seed), attempt: 0, base, max }
    }

    pub(super) fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The ceiling `b` of attempt `n`.
    pub(super) fn bound(&self, n: u32) -> Duration {
        self.base.saturating_mul(2u32.saturating_pow(n)).min(self.max)
    }

    /// Draws the current attempt's delay and moves to the next attempt.
    pub(super) fn next_delay(&mut self) -> Duration {
        let b = u64::try_from(self.bound(self.attempt).as_nanos()).unwrap_or(u64::MAX);
        self.attempt = self.attempt.saturating_add(1);
        Duration::from_nanos(self.rng.random_range(b.div_ceil(2)..=b))
    }

    pub(super) fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_double_up_to_the_cap() {
        let ladder = Ladder::new(0, Duration::from_secs(1), Duration::from_secs(30));
        let bounds: Vec<u64> = (0..8).map(|n| ladder.bound(n).as_secs()).collect();
        assert_eq!(bounds, [1, 2, 4, 8, 16, 30, 30, 30]);
        assert_eq!(ladder.bound(u32::MAX), Duration::from_secs(30), "no overflow");
    }

    #[test]
    fn the_same_seed_draws_the_same_delays() {
        let draw = |seed| {
            let mut ladder = Ladder::new(seed, Duration::from_secs(1), Duration::from_secs(30));
            (0..10).map(|_| ladder.next_delay()).collect::<Vec<_>>()
        };
        assert_eq!(draw(3), draw(3));
        assert_ne!(draw(3), draw(4));
    }

    #[test]
    fn a_zero_base_never_waits() {
        let mut ladder = Ladder::new(0, Duration::ZERO, Duration::from_secs(30));
        assert_eq!(ladder.next_delay(), Duration::ZERO);
    }
}
