//! The redial hold and the dormant cadence after going idle (PROTOCOL §8).

use super::*;

#[test]
fn a_redial_hold_parks_until_released() {
    let start = epoch();
    let mut policy = connected(config(3), start);
    let now = start + secs(100);
    policy.hold_redial(now);
    policy.handle_closed(now, &lost()).unwrap();
    assert_eq!(policy.poll_dial(now + secs(2)), DialDecision::WaitUntil(now + secs(60)));
    policy.release_redial(now + secs(10));
    assert_eq!(policy.poll_dial(now + secs(10)), DialDecision::DialNow, "the ladder delay already passed");
}

#[test]
fn a_redial_hold_ends_by_itself_after_60_seconds() {
    let start = epoch();
    let mut policy = connected(config(3), start);
    let now = start + secs(100);
    policy.hold_redial(now);
    policy.handle_closed(now + secs(20), &lost()).unwrap();
    policy.hold_redial(now + secs(30)); // holding again does not extend it
    assert_eq!(policy.poll_dial(now + secs(59)), DialDecision::WaitUntil(now + secs(60)));
    assert_eq!(policy.poll_dial(now + secs(60)), DialDecision::DialNow);
}

#[test]
fn a_released_hold_leaves_the_ladder_delay_in_place() {
    let start = epoch();
    let mut policy = connected(config(3), start);
    let now = start + secs(100);
    policy.handle_closed(now, &lost()).unwrap();
    let at = wait_until(policy.poll_dial(now));
    policy.hold_redial(now);
    assert_eq!(policy.poll_dial(now), DialDecision::WaitUntil(now + secs(60)));
    policy.release_redial(now);
    assert_eq!(policy.poll_dial(now), DialDecision::WaitUntil(at));
}

#[test]
fn after_going_idle_redials_follow_the_dormant_cadence_until_one_succeeds() {
    let start = epoch();
    let mut policy = connected(config(4), start);
    let mut now = start + secs(100);
    policy.handle_went_idle(now);
    assert!(policy.is_dormant());
    policy.handle_closed(now, &lost()).unwrap();
    for _ in 0..10 {
        let at = wait_until(policy.poll_dial(now));
        assert_eq!(at - now, secs(1), "fixed, no jitter, no ladder");
        now = at;
        assert_eq!(policy.poll_dial(now), DialDecision::DialNow);
        policy.handle_dial_failed(now, refused()).unwrap();
    }
    assert_eq!(policy.attempt(), 0, "dormant dials do not climb the ladder");
    now = wait_until(policy.poll_dial(now));
    let _ = policy.poll_dial(now);
    policy.handle_ready(now).unwrap();
    assert!(!policy.is_dormant());
    policy.handle_closed(now + secs(1), &lost()).unwrap();
    assert_on_ladder(now + secs(1), wait_until(policy.poll_dial(now + secs(1))), 0);
}

#[test]
fn a_hold_during_the_first_connect_cannot_outlast_its_budget() {
    let start = epoch();
    let mut policy = Reconnect::new(config(3), start);
    policy.hold_redial(start);
    assert_eq!(policy.poll_dial(start), DialDecision::DialNow, "the first dial is not a re-dial");
    policy.handle_dial_failed(start, refused()).unwrap();
    assert_eq!(policy.poll_dial(start + secs(5)), DialDecision::WaitUntil(start + secs(30)));
    let stop =
        ReconnectError::BudgetExhausted { last_cause: ConnectCause::Refused("connection refused".into()) };
    assert_eq!(policy.poll_dial(start + secs(30)), DialDecision::Stop(stop));
}
