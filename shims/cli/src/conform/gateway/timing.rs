//! The checks of the reconnect policy (PROTOCOL §8): how long the gateway
//! waits before each re-dial after the scenario's drops and 4401s.

use std::time::Duration;

use super::checks::{millis, reached};
use super::observation::{Observation, Step, Stimulus};
use super::scenario::REVOKED_WATCH;
use crate::conform::Verdict;

/// How much earlier than `b/2` a re-dial may come (timer granularity).
const EARLY: Duration = Duration::from_millis(50);
/// How much later than `b` (noticing the drop, scheduling, the TCP accept).
const LATE: Duration = Duration::from_millis(500);
/// The longest an "immediate" re-dial after a first strike may take.
const IMMEDIATE: Duration = Duration::from_millis(500);

/// Attempt `n`'s window `[b/2, b]`, `b = min(30 s, 1 s · 2ⁿ)`.
fn window(attempt: u32) -> (Duration, Duration) {
    let b = Duration::from_secs(1u64 << attempt.min(5)).min(Duration::from_secs(30));
    (b / 2, b)
}

/// The delay between the conformer ending connection `index` and the next dial.
fn redial_delay(obs: &Observation, index: usize, stimulus: Stimulus) -> Option<Duration> {
    let ended = obs.connections.get(index)?.end.as_ref()?.by_conformer(stimulus)?;
    Some(obs.next_after(index)?.accepted_at.saturating_sub(ended))
}

/// Whether `delay` lies in attempt `attempt`'s window, with the tolerance;
/// `Err` with the sentence saying how it missed.
fn on_ladder(delay: Duration, attempt: u32, after: &str) -> Result<String, String> {
    let (low, high) = window(attempt);
    let span = format!("attempt {attempt} waits {}–{} ms", millis(low), millis(high));
    if delay + EARLY < low || delay > high + LATE {
        Err(format!("re-dialled {} ms after {after}; {span}.", millis(delay)))
    } else {
        Ok(format!("{} ms after {after} ({span})", millis(delay)))
    }
}

/// `redial_ladder`: without backoff a fleet of gateways hammers a connector
/// that just restarted.
pub(super) fn redial_ladder(obs: &Observation) -> Verdict {
    if let Err(verdict) = reached(obs, Step::Drops) {
        return verdict;
    }
    let drops: Vec<usize> = obs.ended_with(Stimulus::Drop).map(|(i, _)| i).collect();
    if drops.is_empty() {
        return Verdict::skip("the connection was never dropped.");
    }
    let mut seen = Vec::new();
    for (attempt, index) in (0u32..).zip(drops) {
        let Some(delay) = redial_delay(obs, index, Stimulus::Drop) else {
            return Verdict::fail(format!("no re-dial after drop {}.", attempt + 1));
        };
        match on_ladder(delay, attempt, &format!("drop {}", attempt + 1)) {
            Ok(fine) => seen.push(fine),
            Err(problem) => return Verdict::fail(problem),
        }
    }
    Verdict::pass(format!("re-dialled {}.", seen.join(", then ")))
}

/// `expired_4401`: an expired token only needs a fresh one on the next dial;
/// it is neither a strike nor a reason to stop.
pub(super) fn expired_4401(obs: &Observation) -> Verdict {
    if let Err(verdict) = reached(obs, Step::Expired) {
        return verdict;
    }
    let Some((index, _)) = obs.ended_with(Stimulus::Expired).next() else {
        return Verdict::skip("no connection was closed with 4401 expired.");
    };
    let Some(delay) = redial_delay(obs, index, Stimulus::Expired) else {
        return Verdict::fail("no re-dial after 4401 expired; expired is a normal reconnect (§8).");
    };
    // The third unexpected end within 30 s of a handshake: attempt 2.
    match on_ladder(delay, 2, "4401 expired") {
        Ok(fine) => Verdict::pass(format!("re-dialled on the ladder {fine}.")),
        Err(problem) => Verdict::fail(format!("{problem} Expired is a normal reconnect on the ladder (§8).")),
    }
}

/// `revoked_4401`: one fresh token settles a secret being rotated; a second
/// refusal means the secret is gone, and re-dialing is pointless.
pub(super) fn revoked_4401(obs: &Observation) -> Verdict {
    if let Err(verdict) = reached(obs, Step::Revoked) {
        return verdict;
    }
    let Some((strike, _)) = obs.ended_with(Stimulus::Unauthorized).next() else {
        return Verdict::skip("no connection was closed with 4401 unauthorized.");
    };
    let Some(delay) = redial_delay(obs, strike, Stimulus::Unauthorized) else {
        return Verdict::fail(
            "no re-dial after the first 4401 unauthorized; a first strike re-dials at once (§8).",
        );
    };
    if delay > IMMEDIATE {
        return Verdict::fail(format!(
            "re-dialled {} ms after the first 4401 unauthorized; a first strike re-dials at once with a fresh token (§8).",
            millis(delay)
        ));
    }
    let refused = strike + 1;
    let Some(refused_at) = obs
        .connections
        .get(refused)
        .and_then(|c| c.end.as_ref())
        .and_then(|e| e.by_conformer(Stimulus::Refused))
    else {
        return Verdict::skip("the re-dial was not refused.");
    };
    if let Some(again) = obs.next_after(refused) {
        return Verdict::fail(format!(
            "dialled again {} ms after the second 4401 unauthorized; after a second strike the secret is revoked: no more dials (§8).",
            millis(again.accepted_at.saturating_sub(refused_at))
        ));
    }
    Verdict::pass(format!(
        "re-dialled {} ms after the first 4401 unauthorized, then no dial in the {} s after the second.",
        millis(delay),
        REVOKED_WATCH.as_secs()
    ))
}
