//! `ReconnectPolicy` for Python: core's dial policy (ladder with jitter,
//! stability window, 4401 strikes, redial hold, dormant cadence).

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use relay_core::policy::{DialDecision, DialFailure, Reconnect, ReconnectConfig, ReconnectError};

use crate::clock::{Clock, span};
use crate::machine::PyRelayMachine;

/// When to dial next and when to give up, across the machines of one gateway.
#[pyclass(name = "ReconnectPolicy", module = "relay_transport._core")]
#[derive(Debug)]
pub(crate) struct PyReconnectPolicy {
    policy: Reconnect,
    clock: Clock,
}

#[pymethods]
impl PyReconnectPolicy {
    #[new]
    #[pyo3(signature = (
        now, *, seed, enabled = true, connect_budget_s = 30.0, base_delay_s = 1.0, max_delay_s = 30.0,
        stability_window_s = 30.0, max_redial_hold_s = 60.0, dormant_interval_s = 1.0,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        now: f64,
        seed: u64,
        enabled: bool,
        connect_budget_s: f64,
        base_delay_s: f64,
        max_delay_s: f64,
        stability_window_s: f64,
        max_redial_hold_s: f64,
        dormant_interval_s: f64,
    ) -> Self {
        let config = ReconnectConfig {
            enabled,
            connect_budget: span(connect_budget_s),
            base_delay: span(base_delay_s),
            max_delay: span(max_delay_s),
            stability_window: span(stability_window_s),
            max_redial_hold: span(max_redial_hold_s),
            dormant_interval: span(dormant_interval_s),
            seed,
        };
        let clock = Clock::new(now);
        Self { policy: Reconnect::new(config, clock.instant(now)), clock }
    }

    /// `("dial",)` (the dial is in flight from here), `("wait", at)`,
    /// `("in_flight",)`, `("connected",)` or `("stop", kind, message)` with
    /// kind `budget_exhausted`, `revoked` or `disabled`.
    fn poll_dial<'py>(&mut self, py: Python<'py>, now: f64) -> PyResult<Bound<'py, PyAny>> {
        Ok(match self.policy.poll_dial(self.clock.instant(now)) {
            DialDecision::DialNow => ("dial",).into_pyobject(py)?.into_any(),
            DialDecision::WaitUntil(at) => ("wait", self.clock.seconds(at)).into_pyobject(py)?.into_any(),
            DialDecision::InFlight => ("in_flight",).into_pyobject(py)?.into_any(),
            DialDecision::Connected => ("connected",).into_pyobject(py)?.into_any(),
            DialDecision::Stop(error) => {
                ("stop", stop_kind(&error), error.to_string()).into_pyobject(py)?.into_any()
            }
            other => return Err(PyRuntimeError::new_err(format!("unsupported dial decision {other:?}"))),
        })
    }

    /// The dial in flight failed before its socket opened.
    #[pyo3(signature = (now, detail, timed_out = false))]
    fn handle_dial_failed(&mut self, now: f64, detail: String, timed_out: bool) -> PyResult<()> {
        let failure = if timed_out { DialFailure::TimedOut(detail) } else { DialFailure::Refused(detail) };
        self.policy.handle_dial_failed(self.clock.instant(now), failure).map_err(misuse)
    }

    /// The dial in flight completed its handshake.
    fn handle_ready(&mut self, now: f64) -> PyResult<()> {
        self.policy.handle_ready(self.clock.instant(now)).map_err(misuse)
    }

    /// The connection of `machine` ended (after its `closed` action was polled).
    fn handle_closed(&mut self, now: f64, machine: PyRef<'_, PyRelayMachine>) -> PyResult<()> {
        let reason = machine
            .close_reason
            .as_ref()
            .ok_or_else(|| PyValueError::new_err("the machine has not emitted its closed action"))?;
        self.policy.handle_closed(self.clock.instant(now), reason).map_err(misuse)
    }

    /// Parks re-dialing until `release_redial` or the hold's maximum.
    fn hold_redial(&mut self, now: f64) {
        self.policy.hold_redial(self.clock.instant(now));
    }

    /// Ends a hold; poll again.
    fn release_redial(&mut self, now: f64) {
        self.policy.release_redial(self.clock.instant(now));
    }

    /// The gateway went idle: re-dials follow the dormant cadence until one succeeds.
    fn handle_went_idle(&mut self, now: f64) {
        self.policy.handle_went_idle(self.clock.instant(now));
    }

    /// The ladder index the next failure uses.
    fn attempt(&self) -> u32 {
        self.policy.attempt()
    }

    /// Whether re-dials follow the dormant cadence.
    fn is_dormant(&self) -> bool {
        self.policy.is_dormant()
    }

    /// Whether the policy gave up for good.
    fn is_stopped(&self) -> bool {
        self.policy.is_stopped()
    }
}

fn stop_kind(error: &ReconnectError) -> &'static str {
    match error {
        ReconnectError::BudgetExhausted { .. } => "budget_exhausted",
        ReconnectError::Revoked => "revoked",
        _ => "disabled",
    }
}

fn misuse(e: impl std::fmt::Display) -> PyErr {
    PyRuntimeError::new_err(e.to_string())
}
