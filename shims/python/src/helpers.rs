//! The pure helpers: session keys, dial URLs, upgrade tokens, dedupe.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use relay_core::adapter::{DEFAULT_DEDUPE_WINDOW, InboundDedupe};
use relay_core::policy::{self, Secret, SessionKeyOptions, TokenVerifier};
use relay_core::wire::{ActionResult, ChatInfo, MessageEvent, Platform, SessionSource};

use crate::TokenRejected;
use crate::convert::object_from_py;
use crate::shapes::value_error;

/// The session key of a SessionSource given as its wire dict (PROTOCOL §10).
#[pyfunction]
#[pyo3(signature = (source, *, group_sessions_per_user = true, thread_sessions_per_user = false, profile = None))]
pub(crate) fn session_key(
    source: &Bound<'_, PyAny>,
    group_sessions_per_user: bool,
    thread_sessions_per_user: bool,
    profile: Option<&str>,
) -> PyResult<String> {
    let object = object_from_py(source, "source")?;
    let source = SessionSource::from_object(object).map_err(value_error)?;
    let options = SessionKeyOptions { group_sessions_per_user, thread_sessions_per_user };
    Ok(policy::session_key(&source, options, profile))
}

/// The WebSocket URL to dial for a connector URL (PROTOCOL §8); `ValueError` when it cannot be dialled.
#[pyfunction]
pub(crate) fn normalize_url(url: &str) -> PyResult<String> {
    policy::normalize_url(url).map_err(value_error)
}

/// An upgrade token for `gateway_id`, expiring at unix second `exp` (0: never).
#[pyfunction]
pub(crate) fn mint_token(gateway_id: &str, exp: u64, secret: String) -> PyResult<String> {
    Ok(policy::mint_token(gateway_id, exp, &secret_of(secret)?))
}

/// Verifies a token (bare or `Bearer …`) against a rotation list; returns
/// `(gateway_id, exp)` or raises `TokenRejected("expired" | "unauthorized")`.
#[pyfunction]
#[pyo3(signature = (token, secrets, now_unix, *, max_lifetime_s = None))]
pub(crate) fn verify_token(
    token: &str,
    secrets: Vec<String>,
    now_unix: u64,
    max_lifetime_s: Option<u64>,
) -> PyResult<(String, u64)> {
    let secrets = secrets.into_iter().map(secret_of).collect::<PyResult<Vec<_>>>()?;
    let mut verifier = TokenVerifier::new(secrets);
    if let Some(secs) = max_lifetime_s {
        verifier = verifier.with_max_lifetime(secs);
    }
    let verified = verifier.verify(token, now_unix).map_err(|r| TokenRejected::new_err(r.as_str()))?;
    Ok((verified.gateway_id, verified.exp))
}

fn secret_of(secret: String) -> PyResult<Secret> {
    Secret::new(secret).ok_or_else(|| PyValueError::new_err("the secret is empty"))
}

/// Remembers the last `capacity` message keys and reports repeats (PROTOCOL §8).
#[pyclass(name = "InboundDedupe", module = "relay_transport._core")]
#[derive(Debug)]
pub(crate) struct PyInboundDedupe {
    dedupe: InboundDedupe,
}

#[pymethods]
impl PyInboundDedupe {
    #[new]
    #[pyo3(signature = (capacity = DEFAULT_DEDUPE_WINDOW))]
    fn new(capacity: usize) -> Self {
        Self { dedupe: InboundDedupe::with_capacity(capacity) }
    }

    /// Whether the event was seen within the window (recording it if not).
    /// `message_id` is the event's, `source_message_id` its source's fallback;
    /// without either, never a duplicate.
    #[pyo3(signature = (platform, chat_id, message_id, source_message_id = None))]
    fn is_duplicate(
        &mut self,
        platform: &str,
        chat_id: &str,
        message_id: Option<String>,
        source_message_id: Option<String>,
    ) -> bool {
        self.dedupe.is_duplicate(&event(platform, chat_id, message_id, source_message_id))
    }

    /// The key `<platform>:<chat_id>:<message_id>`, or None without a message id.
    #[staticmethod]
    #[pyo3(signature = (platform, chat_id, message_id, source_message_id = None))]
    fn key(
        platform: &str,
        chat_id: &str,
        message_id: Option<String>,
        source_message_id: Option<String>,
    ) -> Option<String> {
        InboundDedupe::key(&event(platform, chat_id, message_id, source_message_id))
    }

    /// How many keys the window holds at most.
    #[getter]
    fn capacity(&self) -> usize {
        self.dedupe.capacity()
    }

    fn __len__(&self) -> usize {
        self.dedupe.len()
    }
}

/// The parts of an event dedupe reads, as an event.
fn event(
    platform: &str,
    chat_id: &str,
    message_id: Option<String>,
    source_message_id: Option<String>,
) -> MessageEvent {
    let mut source = SessionSource::new(Platform::from_name(platform), chat_id, "dm");
    source.message_id = source_message_id;
    MessageEvent { message_id, ..MessageEvent::text(source, "") }
}

/// The reference's `get_chat_info` answer for a result dict (PROTOCOL §5):
/// `{"name": …, "type": …}`, each falling back on its own (chat id, `dm`).
#[pyfunction]
pub(crate) fn chat_info<'py>(
    py: Python<'py>,
    result: &Bound<'py, PyAny>,
    chat_id: &str,
) -> PyResult<Bound<'py, pyo3::types::PyDict>> {
    let info = match object_from_py(result, "result").map(ActionResult::from_object) {
        Ok(Ok(result)) => ChatInfo::from_result(&result, chat_id),
        _ => ChatInfo::fallback(chat_id),
    };
    let d = pyo3::types::PyDict::new(py);
    d.set_item("name", info.name)?;
    d.set_item("type", info.chat_type)?;
    Ok(d)
}
