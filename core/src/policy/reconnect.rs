//! When to dial next, and when to give up (PROTOCOL §8): the first-connect
//! budget, the jittered backoff ladder with its stability window, the 4401
//! strikes, the redial hold and the dormant cadence.
//!
//! [`Reconnect`] is a sans-IO policy around connection machines: a fresh
//! machine per connection, and this one value deciding between them, so no
//! timer or buffer survives a reconnect by accident.

mod ladder;
mod outcome;
#[cfg(test)]
mod tests;

use std::time::{Duration, Instant};

use crate::gateway::CloseReason;
use ladder::Ladder;
pub use outcome::{ConnectCause, DialDecision, DialFailure, ReconnectError, ReconnectMisuse};

/// Settings of a [`Reconnect`] policy; the defaults are PROTOCOL §8's.
#[derive(Debug, Clone)]
pub struct ReconnectConfig {
    /// Re-dial after a connection that completed its handshake ends (default
    /// true). When false, any such end is terminal; the first connect still
    /// retries within its budget.
    pub enabled: bool,
    /// Time the first connect may take, dials and handshakes included (default 30 s).
    pub connect_budget: Duration,
    /// Ladder base `b₀`: attempt `n` waits within `[b/2, b]`, `b = min(max, b₀·2ⁿ)` (default 1 s).
    pub base_delay: Duration,
    /// Ladder cap (default 30 s).
    pub max_delay: Duration,
    /// A connection up at least this long after its handshake resets the ladder (default 30 s).
    pub stability_window: Duration,
    /// Longest a [`hold_redial`](Reconnect::hold_redial) parks re-dialing (default 60 s).
    pub max_redial_hold: Duration,
    /// Fixed re-dial interval after going idle, until a connection succeeds (default 1 s).
    pub dormant_interval: Duration,
    /// Seed of the jitter generator; runtimes seed it from the operating system.
    pub seed: u64,
}

impl Default for ReconnectConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            connect_budget: Duration::from_secs(30),
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
            stability_window: Duration::from_secs(30),
            max_redial_hold: Duration::from_secs(60),
            dormant_interval: Duration::from_secs(1),
            seed: 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    /// No dial before `at`.
    Waiting {
        at: Instant,
    },
    Dialing,
    Connected {
        ready_at: Instant,
    },
    Stopped(ReconnectError),
}

/// The reconnect policy of one gateway. It is sans-IO: it never
/// dials, sleeps or reads a clock. The runtime asks it for a [`DialDecision`]
/// and reports how each dial went.
///
/// # Driving contract
///
/// 1. Create it when the application calls `connect`; that instant starts
///    the first-connect budget.
/// 2. Call [`poll_dial`](Reconnect::poll_dial): on [`DialDecision::DialNow`]
///    dial (with a freshly minted token); on [`DialDecision::WaitUntil`] sleep
///    until then (or until [`release_redial`](Reconnect::release_redial)) and
///    ask again; on [`DialDecision::Stop`] give up and tell the application.
///    Exactly one dial is ever in flight: asking meanwhile says
///    [`DialDecision::InFlight`] (or [`DialDecision::Connected`]).
/// 3. Report the dial's fate exactly once: [`handle_dial_failed`] when the
///    socket never opened, [`handle_ready`] when its machine completed the
///    handshake, and [`handle_closed`] with the machine's [`CloseReason`]
///    when it ended (before or after the handshake).
/// 4. While no handshake ever succeeded, abort a dial still in flight at
///    [`connect_deadline`](Reconnect::connect_deadline) and report it failed.
/// 5. Earlier `now`s are clamped; the jitter comes from
///    [`ReconnectConfig::seed`], so a seed replays the same delays.
///
/// [`handle_dial_failed`]: Reconnect::handle_dial_failed
/// [`handle_ready`]: Reconnect::handle_ready
/// [`handle_closed`]: Reconnect::handle_closed
///
/// # Example
///
/// ```
/// use std::time::{Duration, Instant};
/// use relay_core::gateway::{CloseFrame, CloseReason};
/// use relay_core::policy::{DialDecision, DialFailure, Reconnect, ReconnectConfig, ReconnectError};
///
/// let start = Instant::now();
/// let mut policy = Reconnect::new(ReconnectConfig { seed: 7, ..ReconnectConfig::default() }, start);
/// assert_eq!(policy.poll_dial(start), DialDecision::DialNow);
/// assert_eq!(policy.poll_dial(start), DialDecision::InFlight);
///
/// // The connector is not up yet: wait on the ladder, attempt 0 is within [0.5 s, 1 s].
/// policy.handle_dial_failed(start, DialFailure::Refused("connection refused".into())).unwrap();
/// let DialDecision::WaitUntil(at) = policy.poll_dial(start) else { panic!() };
/// assert!(at >= start + Duration::from_millis(500) && at <= start + Duration::from_secs(1));
///
/// // The next dial gets through; later the connector revokes our secret.
/// assert_eq!(policy.poll_dial(at), DialDecision::DialNow);
/// policy.handle_ready(at).unwrap();
/// let revoked = CloseReason::TransportClosed(Some(CloseFrame::new(4401, "unauthorized")));
/// policy.handle_closed(at, &revoked).unwrap();
/// assert_eq!(policy.poll_dial(at), DialDecision::DialNow, "first strike: re-dial at once");
/// policy.handle_closed(at, &revoked).unwrap();
/// assert_eq!(policy.poll_dial(at), DialDecision::Stop(ReconnectError::Revoked));
/// ```
#[derive(Debug, Clone)]
pub struct Reconnect {
    config: ReconnectConfig,
    ladder: Ladder,
    now: Instant,
    phase: Phase,
    /// Dials started so far.
    dials: u64,
    /// Until the first handshake: when the first-connect budget runs out.
    connect_deadline: Option<Instant>,
    ever_connected: bool,
    /// The latest reason a first-connect attempt failed.
    last_cause: Option<ConnectCause>,
    /// The dial in flight (or next) is the immediate re-dial after a first 4401 strike.
    strike_redial: bool,
    hold_until: Option<Instant>,
    dormant: bool,
}

impl Reconnect {
    /// A policy for a `connect` starting at `now`: the first dial may go at once.
    pub fn new(config: ReconnectConfig, now: Instant) -> Self {
        Self {
            ladder: Ladder::new(config.seed, config.base_delay, config.max_delay),
            now,
            phase: Phase::Waiting { at: now },
            dials: 0,
            connect_deadline: Some(later(now, config.connect_budget)),
            ever_connected: false,
            last_cause: None,
            strike_redial: false,
            hold_until: None,
            dormant: false,
            config,
        }
    }

    // ---- getters ----

    /// Until a handshake first succeeds: when the first-connect budget runs
    /// out (abort a dial still in flight then). `None` afterwards.
    pub fn connect_deadline(&self) -> Option<Instant> {
        self.connect_deadline
    }

    /// The ladder index `n` the next failure will use.
    pub fn attempt(&self) -> u32 {
        self.ladder.attempt()
    }

    /// Whether a dial is in flight (started, fate not yet reported).
    pub fn is_dialing(&self) -> bool {
        self.phase == Phase::Dialing
    }

    /// Whether a connection is up (handshake completed, end not yet reported).
    pub fn is_connected(&self) -> bool {
        matches!(self.phase, Phase::Connected { .. })
    }

    /// Whether the policy gave up for good.
    pub fn is_stopped(&self) -> bool {
        matches!(self.phase, Phase::Stopped(_))
    }

    /// Whether re-dials follow the dormant cadence.
    pub fn is_dormant(&self) -> bool {
        self.dormant
    }

    // ---- decisions ----

    /// What to do now. [`DialDecision::DialNow`] marks the dial in flight.
    pub fn poll_dial(&mut self, now: Instant) -> DialDecision {
        self.advance(now);
        let now = self.now;
        let at = match &self.phase {
            Phase::Stopped(error) => return DialDecision::Stop(error.clone()),
            Phase::Dialing => return DialDecision::InFlight,
            Phase::Connected { .. } => return DialDecision::Connected,
            Phase::Waiting { at } => *at,
        };
        if self.hold_until.is_some_and(|until| now >= until) {
            self.hold_until = None;
        }
        // The first dial goes at once; holds and the budget govern re-dials.
        let at = if self.dials == 0 { at } else { self.hold_until.map_or(at, |until| until.max(at)) };
        if let (Some(deadline), Some(cause), true) = (self.connect_deadline, &self.last_cause, self.dials > 0)
        {
            if now >= deadline {
                return self.stop(ReconnectError::BudgetExhausted { last_cause: cause.clone() });
            }
            if at >= deadline {
                return DialDecision::WaitUntil(deadline);
            }
        }
        if now < at {
            return DialDecision::WaitUntil(at);
        }
        self.dials += 1;
        self.phase = Phase::Dialing;
        DialDecision::DialNow
    }

    // ---- outcomes ----

    /// The dial in flight failed before its socket opened.
    ///
    /// # Errors
    ///
    /// [`ReconnectMisuse::NoDialInFlight`]; nothing changes then.
    pub fn handle_dial_failed(&mut self, now: Instant, failure: DialFailure) -> Result<(), ReconnectMisuse> {
        self.advance(now);
        if self.phase != Phase::Dialing {
            return Err(ReconnectMisuse::NoDialInFlight);
        }
        self.strike_redial = false;
        self.fail(ConnectCause::from(failure));
        Ok(())
    }

    /// The dial in flight completed its handshake: the connection is up.
    ///
    /// # Errors
    ///
    /// [`ReconnectMisuse::NoDialInFlight`]; nothing changes then.
    pub fn handle_ready(&mut self, now: Instant) -> Result<(), ReconnectMisuse> {
        self.advance(now);
        if self.phase != Phase::Dialing {
            return Err(ReconnectMisuse::NoDialInFlight);
        }
        self.phase = Phase::Connected { ready_at: self.now };
        self.ever_connected = true;
        self.connect_deadline = None;
        self.last_cause = None;
        self.strike_redial = false;
        self.dormant = false;
        Ok(())
    }

    /// The connection of the dial in flight, or the one that was up, ended.
    ///
    /// # Errors
    ///
    /// [`ReconnectMisuse::NoConnection`]; nothing changes then.
    pub fn handle_closed(&mut self, now: Instant, reason: &CloseReason) -> Result<(), ReconnectMisuse> {
        self.advance(now);
        match self.phase {
            Phase::Dialing => {}
            Phase::Connected { ready_at } => {
                if !self.config.enabled {
                    self.phase = Phase::Stopped(ReconnectError::Disabled { reason: reason.clone() });
                    return Ok(());
                }
                if self.now.saturating_duration_since(ready_at) >= self.config.stability_window {
                    self.ladder.reset();
                }
            }
            _ => return Err(ReconnectMisuse::NoConnection),
        }
        let cause = ConnectCause::from_close(reason);
        let strike = matches!(cause, ConnectCause::Unauthorized) && self.ever_connected;
        let was_strike_redial = std::mem::replace(&mut self.strike_redial, false);
        match (strike, was_strike_redial) {
            (true, true) => self.phase = Phase::Stopped(ReconnectError::Revoked),
            (true, false) => {
                // First strike: the token may just have been minted against a
                // secret being rotated; one fresh token settles it.
                self.strike_redial = true;
                self.phase = Phase::Waiting { at: self.now };
            }
            _ => self.fail(cause),
        }
        Ok(())
    }

    // ---- commands ----

    /// Parks re-dialing (the host is about to suspend) until
    /// [`release_redial`](Self::release_redial) or `max_redial_hold` passes.
    /// Holding again while held keeps the original limit, so a hold always ends.
    pub fn hold_redial(&mut self, now: Instant) {
        self.advance(now);
        if self.hold_until.is_none_or(|until| self.now >= until) {
            self.hold_until = Some(later(self.now, self.config.max_redial_hold));
        }
    }

    /// Ends a [`hold_redial`](Self::hold_redial); ask [`poll_dial`](Self::poll_dial) again.
    pub fn release_redial(&mut self, now: Instant) {
        self.advance(now);
        self.hold_until = None;
    }

    /// The gateway went idle: until a connection succeeds, re-dials follow
    /// the fixed dormant cadence instead of the ladder.
    pub fn handle_went_idle(&mut self, now: Instant) {
        self.advance(now);
        self.dormant = true;
    }

    // ---- internals ----

    fn advance(&mut self, now: Instant) {
        self.now = self.now.max(now);
    }

    fn stop(&mut self, error: ReconnectError) -> DialDecision {
        self.phase = Phase::Stopped(error.clone());
        DialDecision::Stop(error)
    }

    /// A dial or connection failed: schedule the next dial, or stop when the
    /// first-connect budget cannot fit it.
    fn fail(&mut self, cause: ConnectCause) {
        let delay = if self.dormant { self.config.dormant_interval } else { self.ladder.next_delay() };
        let at = later(self.now, delay);
        self.phase = Phase::Waiting { at };
        if let Some(deadline) = self.connect_deadline {
            // No dial can start and finish inside the budget any more: say so
            // now rather than make `connect` wait for a known failure.
            if self.now >= deadline || at >= deadline {
                self.phase = Phase::Stopped(ReconnectError::BudgetExhausted { last_cause: cause });
                return;
            }
            self.last_cause = Some(cause);
        }
    }
}

/// `now + d`, halving `d` until it is representable (never panics).
fn later(now: Instant, mut d: Duration) -> Instant {
    loop {
        if let Some(at) = now.checked_add(d) {
            return at;
        }
        d /= 2;
    }
}
