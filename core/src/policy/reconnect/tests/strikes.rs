//! The 4401 rules (PROTOCOL §8).

use super::*;

#[test]
fn after_a_handshake_an_expired_4401_takes_the_normal_backoff() {
    let start = epoch();
    let mut policy = connected(config(2), start);
    let mut now = start + secs(100);
    policy.handle_closed(now, &closed_4401("expired")).unwrap();
    for n in 0..3 {
        let at = wait_until(policy.poll_dial(now));
        assert_on_ladder(now, at, n);
        now = at;
        assert_eq!(policy.poll_dial(now), DialDecision::DialNow);
        policy.handle_closed(now, &closed_4401("expired")).unwrap();
    }
    assert!(!policy.is_stopped());
}

#[test]
fn after_a_handshake_a_second_4401_on_the_immediate_redial_is_revoked() {
    let start = epoch();
    let mut policy = connected(config(2), start);
    let now = start + secs(100);
    policy.handle_closed(now, &closed_4401("unauthorized")).unwrap();
    assert_eq!(policy.poll_dial(now), DialDecision::DialNow, "one immediate re-dial with a fresh token");
    policy.handle_closed(now, &closed_4401("unauthorized")).unwrap();
    assert_eq!(policy.poll_dial(now), DialDecision::Stop(ReconnectError::Revoked));
    assert_eq!(
        policy.poll_dial(now + secs(3600)),
        DialDecision::Stop(ReconnectError::Revoked),
        "no further dial"
    );
    assert_eq!(policy.handle_ready(now), Err(ReconnectMisuse::NoDialInFlight));
}

#[test]
fn a_4401_with_any_other_reason_counts_as_a_strike() {
    let start = epoch();
    let mut policy = connected(config(2), start);
    policy.handle_closed(start, &closed_4401("")).unwrap();
    assert_eq!(policy.poll_dial(start), DialDecision::DialNow);
    policy.handle_closed(start, &closed_4401("forbidden")).unwrap();
    assert_eq!(policy.poll_dial(start), DialDecision::Stop(ReconnectError::Revoked));
}

#[test]
fn a_strike_is_forgiven_when_the_redial_gets_through() {
    let start = epoch();
    let mut policy = connected(config(2), start);
    policy.handle_closed(start, &closed_4401("unauthorized")).unwrap();
    assert_eq!(policy.poll_dial(start), DialDecision::DialNow);
    policy.handle_ready(start).unwrap();
    let later = start + secs(5);
    policy.handle_closed(later, &closed_4401("unauthorized")).unwrap();
    assert_eq!(policy.poll_dial(later), DialDecision::DialNow, "a first strike again");
}

#[test]
fn a_strike_redial_that_fails_otherwise_or_expires_falls_back_to_the_ladder() {
    let start = epoch();
    let mut policy = connected(config(2), start);
    policy.handle_closed(start, &closed_4401("unauthorized")).unwrap();
    assert_eq!(policy.poll_dial(start), DialDecision::DialNow);
    policy.handle_dial_failed(start, refused()).unwrap();
    let at = wait_until(policy.poll_dial(start));
    assert_on_ladder(start, at, 0);
    assert_eq!(policy.poll_dial(at), DialDecision::DialNow);
    policy.handle_closed(at, &closed_4401("unauthorized")).unwrap();
    assert_eq!(policy.poll_dial(at), DialDecision::DialNow, "a new first strike, not revoked");
    policy.handle_closed(at, &closed_4401("expired")).unwrap();
    assert_on_ladder(at, wait_until(policy.poll_dial(at)), 1);
}
