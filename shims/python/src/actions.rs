//! A machine's [`Action`]s as plain Python tuples, tagged by their first item.

use pyo3::prelude::*;
use relay_core::gateway::{Action, CloseReason, Event};

use crate::shapes::{descriptor_dict, event_kwargs, failure_dict, forward_kwargs, result_dict};

/// The tuple for one action (the shapes are listed in `_core.pyi`).
pub(crate) fn action_to_py<'py>(py: Python<'py>, action: &Action) -> PyResult<Bound<'py, PyAny>> {
    let tuple = match action {
        Action::SendFrame(line) => ("send", line).into_pyobject(py)?.into_any(),
        Action::SendPing => ("ping",).into_pyobject(py)?.into_any(),
        Action::Deliver(event) => event_to_py(py, event)?,
        Action::Resolve { id, result } => {
            ("resolve", id.to_string(), result_dict(py, result)?).into_pyobject(py)?.into_any()
        }
        Action::Fail { id, error } => {
            ("fail", id.to_string(), failure_dict(py, error)?).into_pyobject(py)?.into_any()
        }
        Action::Closed(reason) => closed_to_py(py, reason)?,
        other => unsupported(py, other)?,
    };
    Ok(tuple)
}

fn event_to_py<'py>(py: Python<'py>, event: &Event) -> PyResult<Bound<'py, PyAny>> {
    let tuple = match event {
        Event::Ready { identity, descriptor } => {
            let d = descriptor_dict(py, descriptor)?;
            ("ready", &identity.platform, &identity.bot_id, d).into_pyobject(py)?.into_any()
        }
        Event::Descriptor { identity, descriptor } => {
            let d = descriptor_dict(py, descriptor)?;
            ("descriptor", &identity.platform, &identity.bot_id, d).into_pyobject(py)?.into_any()
        }
        Event::Inbound { event, buffer_id } => {
            ("inbound", event_kwargs(py, event)?, buffer_id).into_pyobject(py)?.into_any()
        }
        Event::Passthrough { forward, buffer_id } => {
            ("passthrough", forward_kwargs(py, forward)?, buffer_id).into_pyobject(py)?.into_any()
        }
        Event::Interrupt { session_key, chat_id } => {
            ("interrupt", session_key, chat_id).into_pyobject(py)?.into_any()
        }
        Event::IdleAcknowledged => ("idle_acknowledged",).into_pyobject(py)?.into_any(),
        Event::IdleTimedOut => ("idle_timed_out",).into_pyobject(py)?.into_any(),
        Event::Diagnostic(d) => {
            ("diagnostic", d.kind.as_str(), d.line, &d.detail).into_pyobject(py)?.into_any()
        }
        other => unsupported(py, other)?,
    };
    Ok(tuple)
}

/// `("closed", name, message, close_code, close_reason)`: the close frame to
/// send when the socket is still open, else `None`s.
fn closed_to_py<'py>(py: Python<'py>, reason: &CloseReason) -> PyResult<Bound<'py, PyAny>> {
    let close = reason.close_to_send();
    let (code, text) = match &close {
        Some(frame) => (Some(frame.code), Some(frame.reason.as_str())),
        None => (None, None),
    };
    Ok(("closed", reason.name(), reason.to_string(), code, text).into_pyobject(py)?.into_any())
}

/// A variant newer than this binding (core's enums are non-exhaustive): a
/// diagnostic, so a driver skips it as it skips any other.
fn unsupported<'py>(py: Python<'py>, what: &impl std::fmt::Debug) -> PyResult<Bound<'py, PyAny>> {
    Ok(("diagnostic", "unsupported", 0u64, format!("{what:?}")).into_pyobject(py)?.into_any())
}
