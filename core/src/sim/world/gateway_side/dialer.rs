//! The driver's half that talks to the reconnect policy: when to dial, the
//! dial's fate reported exactly once, and PROTOCOL §8's rules on what the
//! policy answers (4401 strikes, dormant cadence, backoff ladder, one dial
//! in flight, a stop that lasts).

use std::time::Instant;

use super::{GatewaySide, PROBE_EVERY};
use crate::gateway::CloseReason;
use crate::policy::{
    ConnectCause, DEFAULT_TOKEN_TTL_SECS, DialDecision, DialFailure, ReconnectConfig, ReconnectError,
    mint_token,
};
use crate::sim::world::Ctx;
use crate::sim::world::agenda::Task;
use crate::sim::world::network::ConnId;
use crate::sim::world::transcript::Side;

/// A dial failure or connection end just reported to the policy: the next
/// wait it asks for must follow PROTOCOL §8's cadence.
#[derive(Debug, Clone, Copy)]
pub(super) struct Reported {
    at: Instant,
    /// The connection had been up for the stability window: the ladder restarts.
    stable: bool,
    /// A redial hold is in force (the wait may be longer).
    held: bool,
}

/// What PROTOCOL §8's 4401 rules make the policy's next decision be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Expect {
    /// Nothing in particular.
    Any,
    /// First strike after a handshake once succeeded: one immediate re-dial.
    DialAtOnce,
    /// Second strike on that re-dial: revoked, stop for good.
    Revoked,
    /// `expired` after a handshake once succeeded: the normal backoff, not at once.
    Later,
}

impl GatewaySide {
    // ---- the reconnect policy ----

    /// Asks the policy what to do, when neither a dial nor a connection is under way.
    pub(crate) fn drive(&mut self, cx: &mut Ctx<'_>) {
        if self.stopped.is_some() || self.dial.is_some() || self.conn.is_some() {
            return;
        }
        let expect = std::mem::replace(&mut self.expect, Expect::Any);
        let decision = self.policy.poll_dial(cx.now);
        let as_expected = match (expect, &decision) {
            (_, DialDecision::Stop(ReconnectError::Revoked)) => expect == Expect::Revoked,
            (Expect::Any, _)
            | (Expect::DialAtOnce, DialDecision::DialNow)
            | (Expect::Later, DialDecision::WaitUntil(_)) => true,
            _ => false,
        };
        assert!(
            as_expected,
            "4401 rules (PROTOCOL §8): expected {expect:?} after the last close, but the policy said {decision:?}"
        );
        self.check_hold(cx, &decision);
        if let (Some(reported), DialDecision::WaitUntil(at)) = (self.reported.take(), &decision) {
            let after_strike = matches!(expect, Expect::DialAtOnce | Expect::Revoked);
            if reported.at == cx.now && !reported.held && !after_strike {
                self.check_cadence(reported, *at);
            }
        }
        match decision {
            DialDecision::DialNow => self.start_dial(cx),
            DialDecision::WaitUntil(at) => {
                assert!(at > cx.now, "policy: WaitUntil is not in the future ({:?} ago)", cx.now - at);
                if self.wake_at != Some(at) {
                    self.wake_at = Some(at);
                    cx.agenda.at(at, Task::PolicyWake);
                }
            }
            DialDecision::Stop(error) => {
                match &error {
                    ReconnectError::Revoked => cx.bump("gateway stopped: revoked"),
                    ReconnectError::BudgetExhausted { .. } => {
                        assert!(
                            !self.ever_ready,
                            "first-connect budget exhausted after a handshake succeeded"
                        );
                        cx.bump("gateway stopped: first-connect budget exhausted");
                    }
                    other => panic!("policy stopped for an unexpected reason: {other}"),
                }
                cx.note(Side::Policy, format!("stop for good: {error}"));
                self.stopped = Some(error);
                self.stopped_at = Some(cx.now);
                cx.agenda.at(cx.now + PROBE_EVERY, Task::StopProbe);
            }
            other => panic!("policy says {other:?} although no dial is in flight and no connection is up"),
        }
    }

    /// PROTOCOL §8: after going idle, a fixed dormant cadence; otherwise,
    /// once a handshake ever succeeded, attempt `n` waits within `[b/2, b]`,
    /// `b = min(30 s, 1 s · 2ⁿ)`, and a connection that stayed up for the
    /// stability window (30 s) restarts the ladder at `n = 0`.
    fn check_cadence(&self, reported: Reported, at: Instant) {
        let delay = at - reported.at;
        let defaults = ReconnectConfig::default();
        assert_eq!(
            self.policy.is_dormant(),
            self.dormant,
            "the policy's dormancy disagrees with the driver's record"
        );
        if self.dormant {
            assert_eq!(
                delay, defaults.dormant_interval,
                "after going idle, re-dials follow the dormant cadence"
            );
            return;
        }
        if !self.ever_ready {
            // The first connect's waits are also cut to its budget.
            return;
        }
        let n = self.policy.attempt().saturating_sub(1);
        let b = defaults.base_delay.saturating_mul(2u32.saturating_pow(n)).min(defaults.max_delay);
        assert!(
            delay >= b / 2 && delay <= b,
            "backoff attempt {n}: waits {delay:?}, outside [{:?}, {b:?}]",
            b / 2
        );
        if reported.stable {
            assert_eq!(n, 0, "a connection up for the stability window must restart the backoff ladder");
        }
    }

    /// PROTOCOL §8: a redial hold parks re-dialing until released or until
    /// its limit (60 s) passes — no dial before, and it always ends.
    fn check_hold(&mut self, cx: &mut Ctx<'_>, decision: &DialDecision) {
        let Some(since) = self.hold_since else { return };
        let until = since + ReconnectConfig::default().max_redial_hold;
        if cx.now >= until {
            self.hold_since = None;
            if matches!(decision, DialDecision::DialNow) {
                cx.bump("redial holds that ended by themselves");
            }
            return;
        }
        match decision {
            DialDecision::DialNow => panic!("the policy dialed {:?} into a redial hold", cx.now - since),
            DialDecision::WaitUntil(at) => assert!(
                *at >= until,
                "a redial hold lasts {:?}, but the policy waits only {:?} after it began",
                until - since,
                *at - since
            ),
            _ => {}
        }
    }

    pub(crate) fn on_policy_wake(&mut self, cx: &mut Ctx<'_>) {
        if self.wake_at.is_some_and(|at| at <= cx.now) {
            self.wake_at = None;
        }
        self.drive(cx);
    }

    /// A stopped policy must keep saying so: it never dials again.
    pub(crate) fn on_stop_probe(&mut self, cx: &mut Ctx<'_>) {
        let decision = self.policy.poll_dial(cx.now);
        match (&decision, &self.stopped) {
            (DialDecision::Stop(now), Some(before)) if now == before => {}
            _ => panic!("after stopping for good ({:?}) the policy said {decision:?}", self.stopped),
        }
        cx.agenda.at(cx.now + PROBE_EVERY, Task::StopProbe);
    }

    fn start_dial(&mut self, cx: &mut Ctx<'_>) {
        assert!(self.stopped.is_none(), "a dial after the policy stopped for good");
        assert!(self.dial.is_none() && self.conn.is_none(), "a dial started while another is in flight");
        let conn = ConnId(self.next_conn);
        self.next_conn += 1;
        // A token minted fresh for every dial (PROTOCOL §8).
        let authorization = self.auth.as_ref().map(|(id, secret)| {
            format!("Bearer {}", mint_token(id, cx.unix_now() + DEFAULT_TOKEN_TTL_SECS, secret))
        });
        self.dial = Some(conn);
        cx.bump("dials");
        let tag = if self.strike_redial { " (re-dial after a first 4401 strike)" } else { "" };
        cx.note(Side::Policy, format!("dial {conn}{tag}"));
        let at = cx.now + cx.net.latency(cx.now);
        cx.agenda.at(at, Task::DialArrive { conn, authorization });
        // Exactly one dial in flight: asking meanwhile must say so.
        let again = self.policy.poll_dial(cx.now);
        assert_eq!(again, DialDecision::InFlight, "the policy, asked again while {conn} is dialing");
        if let Some(deadline) = self.policy.connect_deadline() {
            cx.agenda.at(deadline.max(cx.now), Task::DialDeadline { conn });
        }
    }

    fn dial_failed(&mut self, cx: &mut Ctx<'_>, failure: DialFailure) {
        cx.note(Side::Policy, format!("dial failed: {failure:?}"));
        self.dial = None;
        self.strike_redial = false;
        self.expect = Expect::Any;
        self.reported = Some(Reported { at: cx.now, stable: false, held: self.asleep_until.is_some() });
        if let Err(e) = self.policy.handle_dial_failed(cx.now, failure) {
            panic!("policy refused handle_dial_failed: {e}");
        }
        self.drive(cx);
    }

    pub(crate) fn on_dial_refused(&mut self, cx: &mut Ctx<'_>, conn: ConnId) {
        if self.dial == Some(conn) {
            cx.bump("dials refused (connector down)");
            self.dial_failed(cx, DialFailure::Refused("connection refused".into()));
        }
    }

    /// Contract point 4: while no handshake ever succeeded, a dial still in
    /// flight at the first-connect deadline is aborted and reported failed.
    pub(crate) fn on_dial_deadline(&mut self, cx: &mut Ctx<'_>, conn: ConnId) {
        if self.dial == Some(conn) {
            cx.bump("dials aborted at the first-connect deadline");
            self.dial_failed(cx, DialFailure::TimedOut("first-connect budget spent".into()));
        }
    }

    /// The connection ended: tell the policy, with what the 4401 rules and
    /// the ladder make its next answer be, and ask it again.
    pub(super) fn after_close(&mut self, cx: &mut Ctx<'_>, reason: &CloseReason) {
        let cause = ConnectCause::from_close(reason);
        self.expect = match cause {
            ConnectCause::Unauthorized if self.ever_ready && self.strike_redial => Expect::Revoked,
            ConnectCause::Unauthorized if self.ever_ready => Expect::DialAtOnce,
            ConnectCause::Expired if self.ever_ready => Expect::Later,
            _ => Expect::Any,
        };
        match cause {
            ConnectCause::Unauthorized => cx.bump("4401 unauthorized"),
            ConnectCause::Expired => cx.bump("4401 expired"),
            ConnectCause::HandshakeTimedOut => cx.bump("handshake timeouts"),
            _ => {}
        }
        self.strike_redial = self.expect == Expect::DialAtOnce;
        let window = ReconnectConfig::default().stability_window;
        let stable = self.ready_at.take().is_some_and(|at| cx.now - at >= window);
        self.reported = Some(Reported { at: cx.now, stable, held: self.asleep_until.is_some() });
        if let Err(e) = self.policy.handle_closed(cx.now, reason) {
            panic!("policy refused handle_closed: {e}");
        }
        self.drive(cx);
    }
}
