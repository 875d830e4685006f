//! `RelayMachine` for Python: core's gateway machine, time as float seconds.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString};
use relay_core::gateway::{
    Action, CloseFrame, CloseReason, GatewayConfig, Identity, OutboundRequest, RelayMachine, RequestError,
};
use relay_core::wire::{DEFAULT_MAX_LINE, OutboundAction};

use crate::RequestRefused;
use crate::actions::action_to_py;
use crate::clock::{Clock, span};
use crate::convert::{from_py, object_from_py};
use crate::shapes::{descriptor_dict, value_error};

/// One gateway-side connection, sans-IO: feed it bytes, ticks and commands,
/// then drain `poll_action()` and sleep until `poll_timeout()`.
#[pyclass(name = "RelayMachine", module = "relay_transport._core")]
#[derive(Debug)]
pub(crate) struct PyRelayMachine {
    machine: RelayMachine,
    clock: Clock,
    /// Why the machine ended, kept from its `closed` action for the reconnect policy.
    pub(crate) close_reason: Option<CloseReason>,
}

#[pymethods]
impl PyRelayMachine {
    #[new]
    #[pyo3(signature = (
        now, *, seed, identities = None, command_manifest = None, handshake_timeout_s = 30.0,
        request_timeout_s = 30.0, max_pending = 10_000, max_held_frames = 1_024,
        max_line = DEFAULT_MAX_LINE, ping_interval_s = 30.0, dead_link_timeout_s = 60.0,
        going_idle_timeout_s = 2.0,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        now: f64,
        seed: u64,
        identities: Option<Vec<(String, String)>>,
        command_manifest: Option<&Bound<'_, PyAny>>,
        handshake_timeout_s: f64,
        request_timeout_s: f64,
        max_pending: usize,
        max_held_frames: usize,
        max_line: usize,
        ping_interval_s: f64,
        dead_link_timeout_s: f64,
        going_idle_timeout_s: f64,
    ) -> PyResult<Self> {
        let command_manifest = match command_manifest {
            Some(m) => match from_py(m)? {
                serde_json::Value::Array(items) => Some(items),
                _ => return Err(PyValueError::new_err("command_manifest must be a list")),
            },
            None => None,
        };
        let config = GatewayConfig {
            identities: identities
                .unwrap_or_default()
                .into_iter()
                .map(|(p, b)| Identity::new(p, b))
                .collect(),
            command_manifest,
            handshake_timeout: span(handshake_timeout_s),
            request_timeout: span(request_timeout_s),
            max_pending,
            max_held_frames,
            max_line,
            ping_interval: span(ping_interval_s),
            dead_link_timeout: span(dead_link_timeout_s),
            going_idle_timeout: span(going_idle_timeout_s),
            seed,
        };
        let clock = Clock::new(now);
        Ok(Self { machine: RelayMachine::new(config, clock.instant(now)), clock, close_reason: None })
    }

    // ---- getters ----

    /// Whether the first descriptor arrived (and the machine is not closed).
    fn is_ready(&self) -> bool {
        self.machine.is_ready()
    }

    /// Whether the machine ended.
    fn is_closed(&self) -> bool {
        self.machine.is_closed()
    }

    /// Requests not yet settled.
    fn pending_requests(&self) -> usize {
        self.machine.pending_requests()
    }

    /// The default descriptor as a dict, once the handshake completed.
    fn descriptor<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.machine.descriptor().map(|d| descriptor_dict(py, d)).transpose()
    }

    // ---- inputs ----

    /// Bytes (or text) of one received WebSocket message.
    fn handle_input(&mut self, now: f64, data: &Bound<'_, PyAny>) -> PyResult<()> {
        let now = self.clock.instant(now);
        if let Ok(bytes) = data.cast::<PyBytes>() {
            self.machine.handle_input(now, bytes.as_bytes());
        } else {
            let text = data.cast::<PyString>()?.to_cow()?;
            self.machine.handle_input(now, text.as_bytes());
        }
        Ok(())
    }

    /// A WebSocket ping or pong arrived.
    fn handle_keepalive(&mut self, now: f64) {
        self.machine.handle_keepalive(self.clock.instant(now));
    }

    /// The clock reached `poll_timeout()`.
    fn handle_timeout(&mut self, now: f64) {
        self.machine.handle_timeout(self.clock.instant(now));
    }

    /// The socket ended, with the close frame's code and reason when there was one.
    #[pyo3(signature = (now, code = None, reason = String::new()))]
    fn handle_transport_closed(&mut self, now: f64, code: Option<u16>, reason: String) {
        let frame = code.map(|code| CloseFrame::new(code, reason));
        self.machine.handle_transport_closed(self.clock.instant(now), frame);
    }

    /// Writing to the socket raised.
    fn handle_write_failed(&mut self, now: f64, detail: &str) {
        self.machine.handle_write_failed(self.clock.instant(now), detail);
    }

    // ---- commands ----

    /// Submits an action dict; returns its request id (32 hex digits).
    /// `platform` (with its `bot_id`) tags it for one identity. Raises
    /// `RequestRefused` when it cannot be taken, `ValueError`/`TypeError`
    /// when the action is not a valid action object.
    #[pyo3(signature = (now, action, platform = None, bot_id = None))]
    fn request(
        &mut self,
        now: f64,
        action: &Bound<'_, PyAny>,
        platform: Option<String>,
        bot_id: Option<String>,
    ) -> PyResult<String> {
        let action = OutboundAction::from_object(object_from_py(action, "action")?).map_err(value_error)?;
        let mut request = OutboundRequest::from(action);
        if let Some(platform) = platform {
            request = request.for_identity(Identity::new(platform, bot_id.unwrap_or_default()));
        }
        let id = self.machine.request(self.clock.instant(now), request).map_err(refused)?;
        Ok(id.to_string())
    }

    /// Sends `interrupt` for a session.
    #[pyo3(signature = (now, session_key, reason = None))]
    fn interrupt(&mut self, now: f64, session_key: &str, reason: Option<&str>) -> PyResult<()> {
        self.machine.interrupt(self.clock.instant(now), session_key, reason).map_err(refused)
    }

    /// Acknowledges a buffered frame once the application has custody of it.
    fn ack(&mut self, now: f64, buffer_id: &str) -> PyResult<()> {
        self.machine.ack(self.clock.instant(now), buffer_id).map_err(refused)
    }

    /// Sends `going_idle`; `idle_acknowledged` or `idle_timed_out` follows.
    fn go_idle(&mut self, now: f64) -> PyResult<()> {
        self.machine.go_idle(self.clock.instant(now)).map_err(refused)
    }

    /// Orderly close: new requests refused, in-flight ones may finish until `deadline`.
    #[pyo3(signature = (now, deadline, go_idle = false))]
    fn shutdown(&mut self, now: f64, deadline: f64, go_idle: bool) -> PyResult<()> {
        let (now, deadline) = (self.clock.instant(now), self.clock.instant(deadline));
        self.machine.shutdown(now, go_idle, deadline).map_err(refused)
    }

    /// Closes now: pending requests fail, `closed` follows.
    fn close(&mut self, now: f64) -> PyResult<()> {
        self.machine.close(self.clock.instant(now)).map_err(refused)
    }

    // ---- outputs ----

    /// The next action as a tuple, or None.
    fn poll_action<'py>(&mut self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.machine.poll_action().map(|action| self.convert(py, &action)).transpose()
    }

    /// Every queued action, in order (one call instead of one per action).
    fn poll_actions<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        while let Some(action) = self.machine.poll_action() {
            list.append(self.convert(py, &action)?)?;
        }
        Ok(list)
    }

    /// When to call `handle_timeout` next (float seconds), None once closed.
    fn poll_timeout(&self) -> Option<f64> {
        self.machine.poll_timeout().map(|at| self.clock.seconds(at))
    }
}

impl PyRelayMachine {
    fn convert<'py>(&mut self, py: Python<'py>, action: &Action) -> PyResult<Bound<'py, PyAny>> {
        if let Action::Closed(reason) = action {
            self.close_reason = Some(reason.clone());
        }
        action_to_py(py, action)
    }
}

/// `RequestRefused(text, ambiguous)`.
fn refused(error: RequestError) -> PyErr {
    RequestRefused::new_err((error.to_string(), error.ambiguous))
}
