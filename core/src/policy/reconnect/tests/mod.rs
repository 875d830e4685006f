//! Scenario tests for the reconnect policy (PROTOCOL §8).

mod hold;
mod strikes;

use std::time::{Duration, Instant};

use super::*;
use crate::gateway::CloseFrame;

#[allow(clippy::disallowed_methods)]
fn epoch() -> Instant {
    Instant::now()
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn config(seed: u64) -> ReconnectConfig {
    ReconnectConfig { seed, ..ReconnectConfig::default() }
}

fn refused() -> DialFailure {
    DialFailure::Refused("connection refused".into())
}

fn closed_4401(reason: &str) -> CloseReason {
    CloseReason::TransportClosed(Some(CloseFrame::new(4401, reason)))
}

fn lost() -> CloseReason {
    CloseReason::TransportClosed(None)
}

/// A policy whose first dial completed its handshake at `start`.
fn connected(config: ReconnectConfig, start: Instant) -> Reconnect {
    let mut policy = Reconnect::new(config, start);
    assert_eq!(policy.poll_dial(start), DialDecision::DialNow);
    policy.handle_ready(start).unwrap();
    policy
}

fn wait_until(decision: DialDecision) -> Instant {
    match decision {
        DialDecision::WaitUntil(at) => at,
        other => panic!("expected WaitUntil, got {other:?}"),
    }
}

/// Asserts `at - now` is within attempt `n`'s `[b/2, b]`, `b = min(30 s, 2ⁿ s)`.
fn assert_on_ladder(now: Instant, at: Instant, n: u32) {
    let b = secs(1u64 << n.min(5)).min(secs(30));
    let delay = at - now;
    assert!(delay >= b / 2 && delay <= b, "attempt {n}: {delay:?} outside [{:?}, {b:?}]", b / 2);
}

#[test]
fn every_delay_is_within_its_attempt_bounds_for_many_seeds() {
    let mut distinct = std::collections::BTreeSet::new();
    for seed in 0..200 {
        let start = epoch();
        let mut policy = connected(config(seed), start);
        let mut now = start + secs(100);
        policy.handle_closed(now, &lost()).unwrap();
        for n in 0..12 {
            let at = wait_until(policy.poll_dial(now));
            assert_on_ladder(now, at, n);
            distinct.insert(at - now);
            now = at;
            assert_eq!(policy.poll_dial(now), DialDecision::DialNow);
            policy.handle_dial_failed(now, refused()).unwrap();
        }
    }
    assert!(distinct.len() > 1000, "the delays are jittered: {}", distinct.len());
}

#[test]
fn delays_are_capped_at_30_seconds() {
    let start = epoch();
    let mut policy = connected(config(1), start);
    let mut now = start + secs(100);
    policy.handle_closed(now, &lost()).unwrap();
    let mut delays = Vec::new();
    for _ in 0..40 {
        let at = wait_until(policy.poll_dial(now));
        delays.push(at - now);
        now = at;
        assert_eq!(policy.poll_dial(now), DialDecision::DialNow);
        policy.handle_dial_failed(now, refused()).unwrap();
    }
    // From attempt 5 on, b = 30 s: every delay is within [15 s, 30 s].
    assert!(delays[5..].iter().all(|d| *d >= secs(15) && *d <= secs(30)), "{delays:?}");
    assert_eq!(policy.attempt(), 41, "the close drew attempt 0, the 40 failures 1..=40");
}

#[test]
fn the_same_seed_gives_the_same_schedule() {
    let schedule = |seed| {
        let start = epoch();
        let mut policy = connected(config(seed), start);
        policy.handle_closed(start, &lost()).unwrap();
        let mut now = start;
        let mut delays = Vec::new();
        for _ in 0..8 {
            let at = wait_until(policy.poll_dial(now));
            delays.push(at - now);
            now = at;
            let _ = policy.poll_dial(now);
            policy.handle_dial_failed(now, refused()).unwrap();
        }
        delays
    };
    assert_eq!(schedule(42), schedule(42));
    assert_ne!(schedule(42), schedule(43));
}

/// Climbs the ladder to attempt 3 (three failed re-dials), then reconnects at the returned instant.
fn climb_to_attempt_3(policy: &mut Reconnect, mut now: Instant) -> Instant {
    policy.handle_closed(now, &lost()).unwrap();
    for _ in 0..3 {
        now = wait_until(policy.poll_dial(now));
        assert_eq!(policy.poll_dial(now), DialDecision::DialNow);
        policy.handle_dial_failed(now, refused()).unwrap();
    }
    now = wait_until(policy.poll_dial(now));
    assert_eq!(policy.poll_dial(now), DialDecision::DialNow);
    policy.handle_ready(now).unwrap();
    assert_eq!(policy.attempt(), 4, "attempts 0..=3 were drawn");
    now
}

#[test]
fn a_connection_up_for_the_stability_window_resets_the_ladder() {
    let start = epoch();
    let mut policy = connected(config(5), start);
    let up = climb_to_attempt_3(&mut policy, start + secs(100));
    let down = up + secs(30);
    policy.handle_closed(down, &lost()).unwrap();
    assert_on_ladder(down, wait_until(policy.poll_dial(down)), 0);
}

#[test]
fn a_connection_that_died_sooner_keeps_climbing() {
    let start = epoch();
    let mut policy = connected(config(5), start);
    let up = climb_to_attempt_3(&mut policy, start + secs(100));
    let down = up + secs(29);
    policy.handle_closed(down, &lost()).unwrap();
    assert_on_ladder(down, wait_until(policy.poll_dial(down)), 4);
}

/// Fails every dial of a first connect with `fail` until the policy stops; returns the error and dial instants.
fn exhaust(mut fail: impl FnMut(&mut Reconnect, Instant)) -> (ReconnectError, Vec<Duration>) {
    let start = epoch();
    let mut policy = Reconnect::new(config(9), start);
    let mut now = start;
    let mut dials = Vec::new();
    loop {
        match policy.poll_dial(now) {
            DialDecision::DialNow => {
                dials.push(now - start);
                fail(&mut policy, now);
            }
            DialDecision::WaitUntil(at) => now = at,
            DialDecision::Stop(error) => return (error, dials),
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[test]
fn the_first_connect_budget_ends_with_the_last_cause() {
    let (error, dials) = exhaust(|p, now| p.handle_dial_failed(now, refused()).unwrap());
    assert_eq!(
        error,
        ReconnectError::BudgetExhausted { last_cause: ConnectCause::Refused("connection refused".into()) }
    );
    assert_eq!(
        error.to_string(),
        "relay connect failed within its budget: relay connect refused: connection refused"
    );
    assert!(dials.len() >= 4, "retried on the ladder: {dials:?}");
    assert!(dials.iter().all(|t| *t < secs(30)), "{dials:?}");
}

#[test]
fn the_budget_error_names_each_kind_of_last_cause() {
    let cases = [
        (closed_4401("unauthorized"), ConnectCause::Unauthorized),
        (closed_4401("expired"), ConnectCause::Expired),
        (CloseReason::HandshakeTimedOut, ConnectCause::HandshakeTimedOut),
        (
            CloseReason::BadDescriptor("missing label".into()),
            ConnectCause::BadDescriptor("missing label".into()),
        ),
        (lost(), ConnectCause::Closed(lost())),
    ];
    for (reason, cause) in cases {
        let (error, dials) = exhaust(|p, now| p.handle_closed(now, &reason).unwrap());
        assert!(dials.len() >= 4, "4401 before any handshake is retryable: {dials:?}");
        assert_eq!(error, ReconnectError::BudgetExhausted { last_cause: cause });
    }
    let (error, _) =
        exhaust(|p, now| p.handle_dial_failed(now, DialFailure::TimedOut("10 s".into())).unwrap());
    assert_eq!(error.to_string(), "relay connect failed within its budget: relay connect timed out: 10 s");
}

#[test]
fn a_dial_failing_after_the_deadline_stops_at_once() {
    let start = epoch();
    let mut policy = Reconnect::new(ReconnectConfig { connect_budget: secs(5), ..config(0) }, start);
    assert_eq!(policy.connect_deadline(), Some(start + secs(5)));
    assert_eq!(policy.poll_dial(start), DialDecision::DialNow);
    policy.handle_closed(start + secs(5), &CloseReason::HandshakeTimedOut).unwrap();
    let stop = ReconnectError::BudgetExhausted { last_cause: ConnectCause::HandshakeTimedOut };
    assert_eq!(policy.poll_dial(start + secs(5)), DialDecision::Stop(stop.clone()));
    assert_eq!(policy.poll_dial(start + secs(500)), DialDecision::Stop(stop));
    assert!(policy.is_stopped());
}

#[test]
fn the_first_dial_goes_even_with_a_zero_budget() {
    let start = epoch();
    let mut policy = Reconnect::new(ReconnectConfig { connect_budget: Duration::ZERO, ..config(0) }, start);
    assert_eq!(policy.poll_dial(start), DialDecision::DialNow);
    policy.handle_ready(start).unwrap();
    assert_eq!(policy.connect_deadline(), None, "no budget once connected");
}

#[test]
fn exactly_one_dial_is_in_flight() {
    let start = epoch();
    let mut policy = Reconnect::new(config(0), start);
    assert_eq!(policy.handle_ready(start), Err(ReconnectMisuse::NoDialInFlight));
    assert_eq!(policy.handle_closed(start, &lost()), Err(ReconnectMisuse::NoConnection));
    assert_eq!(policy.poll_dial(start), DialDecision::DialNow);
    assert!(policy.is_dialing());
    for t in [0, 1, 60] {
        assert_eq!(policy.poll_dial(start + secs(t)), DialDecision::InFlight);
    }
    policy.handle_ready(start + secs(1)).unwrap();
    assert!(policy.is_connected());
    assert_eq!(policy.poll_dial(start + secs(2)), DialDecision::Connected);
    assert_eq!(policy.handle_dial_failed(start, refused()), Err(ReconnectMisuse::NoDialInFlight));
    assert_eq!(policy.handle_ready(start), Err(ReconnectMisuse::NoDialInFlight));
    policy.handle_closed(start + secs(3), &lost()).unwrap();
    assert_eq!(policy.handle_closed(start + secs(3), &lost()), Err(ReconnectMisuse::NoConnection));
}

#[test]
fn with_reconnect_disabled_the_first_connect_still_retries_but_any_later_end_is_terminal() {
    let start = epoch();
    let mut policy = Reconnect::new(ReconnectConfig { enabled: false, ..config(0) }, start);
    assert_eq!(policy.poll_dial(start), DialDecision::DialNow);
    policy.handle_dial_failed(start, refused()).unwrap();
    let at = wait_until(policy.poll_dial(start));
    assert_eq!(policy.poll_dial(at), DialDecision::DialNow);
    policy.handle_ready(at).unwrap();
    policy.handle_closed(at + secs(100), &closed_4401("expired")).unwrap();
    let stop = ReconnectError::Disabled { reason: closed_4401("expired") };
    assert_eq!(policy.poll_dial(at + secs(100)), DialDecision::Stop(stop));
}

#[test]
fn earlier_nows_are_clamped() {
    let start = epoch();
    let mut policy = connected(config(0), start);
    let now = start + secs(100);
    policy.handle_closed(now, &lost()).unwrap();
    let at = wait_until(policy.poll_dial(now));
    assert_eq!(
        policy.poll_dial(start),
        DialDecision::WaitUntil(at),
        "asking with an older now changes nothing"
    );
}
