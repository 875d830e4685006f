//! Core's interpreted values in the shapes the reference gateway's Python
//! types take: the keyword arguments of `MessageEvent`, `SessionSource` and
//! `PassthroughForward`, and the dicts its transport returns to callers.
//!
//! Only the reference's presentation rules live here (which key a value goes
//! under, how `channel_context` is rendered); what a frame means comes from core.

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};
use relay_core::gateway::{RequestError, RequestErrorKind};
use relay_core::wire::{ActionResult, ContextItem, Descriptor, Forward, MessageEvent, SessionSource};

use crate::convert::{map_to_py, to_py};

/// Keyword arguments of the reference's `MessageEvent`, with `source` as the
/// keyword arguments of its `SessionSource` (platform as its wire name).
pub(crate) fn event_kwargs<'py>(py: Python<'py>, event: &MessageEvent) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item(intern!(py, "text"), &event.text)?;
    d.set_item(intern!(py, "message_type"), event.message_type.as_str())?;
    d.set_item(intern!(py, "source"), source_kwargs(py, &event.source)?)?;
    d.set_item(intern!(py, "message_id"), &event.message_id)?;
    d.set_item(intern!(py, "reply_to_message_id"), &event.reply_to_message_id)?;
    let reply_to = event.reply_to.as_ref();
    d.set_item(intern!(py, "reply_to_text"), reply_to.and_then(|r| r.text.as_deref()))?;
    d.set_item(intern!(py, "reply_to_author_name"), reply_to.and_then(|r| r.author.as_deref()))?;
    d.set_item(intern!(py, "reply_to_is_own_message"), reply_to.and_then(|r| r.is_own).unwrap_or(false))?;
    d.set_item(intern!(py, "media_urls"), &event.media_urls)?;
    // Parallel to media_urls, joined by url (PROTOCOL §4), "" where none matches.
    let media_types: Vec<&str> = event
        .media_urls
        .iter()
        .map(|url| event.media_for(url).and_then(|m| m.mime.as_deref()).unwrap_or(""))
        .collect();
    d.set_item(intern!(py, "media_types"), media_types)?;
    d.set_item(intern!(py, "channel_context"), channel_context(&event.context))?;
    let prompt_response = match &event.prompt_response {
        Some(p) => Some(to_py(py, &serde_json::to_value(p).map_err(value_error)?)?),
        None => None,
    };
    d.set_item(intern!(py, "prompt_response"), prompt_response)?;
    Ok(d)
}

/// Keyword arguments of the reference's `SessionSource`, less the
/// `delivered_via_upstream_relay` stamp the Python side adds.
pub(crate) fn source_kwargs<'py>(py: Python<'py>, s: &SessionSource) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item(intern!(py, "platform"), s.platform.as_str())?;
    d.set_item(intern!(py, "chat_id"), &s.chat_id)?;
    d.set_item(intern!(py, "chat_name"), &s.chat_name)?;
    d.set_item(intern!(py, "chat_type"), &s.chat_type)?;
    d.set_item(intern!(py, "user_id"), &s.user_id)?;
    d.set_item(intern!(py, "user_name"), &s.user_name)?;
    d.set_item(intern!(py, "thread_id"), &s.thread_id)?;
    d.set_item(intern!(py, "chat_topic"), &s.chat_topic)?;
    d.set_item(intern!(py, "user_id_alt"), &s.user_id_alt)?;
    d.set_item(intern!(py, "chat_id_alt"), &s.chat_id_alt)?;
    d.set_item(intern!(py, "scope_id"), &s.scope_id)?;
    d.set_item(intern!(py, "parent_chat_id"), &s.parent_chat_id)?;
    d.set_item(intern!(py, "message_id"), &s.message_id)?;
    d.set_item(intern!(py, "profile"), &s.profile)?;
    d.set_item(intern!(py, "auto_thread_created"), s.auto_thread_created)?;
    d.set_item(intern!(py, "auto_thread_initial_name"), &s.auto_thread_initial_name)?;
    d.set_item(intern!(py, "prospective_thread_id"), &s.prospective_thread_id)?;
    Ok(d)
}

/// The reference's `channel_context`: a header, then one line per history
/// item with text, `"<author>: <text>"` or the bare text; None without lines.
fn channel_context(items: &[ContextItem]) -> Option<String> {
    let mut text = String::from("[Recent channel messages]");
    let mut lines = 0;
    for item in items.iter().filter(|item| !item.text.is_empty()) {
        let author = item.source.as_ref().and_then(|s| {
            s.user_name
                .as_deref()
                .filter(|n| !n.is_empty())
                .or(s.user_id.as_deref().filter(|u| !u.is_empty()))
        });
        text.push('\n');
        if let Some(author) = author {
            text.push_str(author);
            text.push_str(": ");
        }
        text.push_str(&item.text);
        lines += 1;
    }
    (lines > 0).then_some(text)
}

/// Keyword arguments of `PassthroughForward`: exact body bytes, headers as pairs.
pub(crate) fn forward_kwargs<'py>(py: Python<'py>, f: &Forward) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item(intern!(py, "platform"), &f.platform)?;
    d.set_item(intern!(py, "bot_id"), &f.bot_id)?;
    d.set_item(intern!(py, "method"), &f.method)?;
    d.set_item(intern!(py, "path"), &f.path)?;
    let headers = f.headers.iter().map(|(n, v)| PyTuple::new(py, [n, v])).collect::<PyResult<Vec<_>>>()?;
    d.set_item(intern!(py, "headers"), PyList::new(py, headers)?)?;
    d.set_item(intern!(py, "body"), PyBytes::new(py, &f.body))?;
    d.set_item(intern!(py, "profile"), &f.profile)?;
    Ok(d)
}

/// A descriptor as the JSON object the connector sent, interpreted
/// (defaults filled, `max_message_length` ≤ 0 read as 4096).
pub(crate) fn descriptor_dict<'py>(py: Python<'py>, d: &Descriptor) -> PyResult<Bound<'py, PyAny>> {
    to_py(py, &serde_json::to_value(d).map_err(value_error)?)
}

/// A request's result dict: the connector's `result`, interpreted.
pub(crate) fn result_dict<'py>(py: Python<'py>, result: &ActionResult) -> PyResult<Bound<'py, PyAny>> {
    match serde_json::to_value(result).map_err(value_error)? {
        serde_json::Value::Object(map) => Ok(map_to_py(py, &map)?.into_any()),
        other => to_py(py, &other),
    }
}

/// The failure dict the reference's callers read: `success`, `error`, and
/// `ambiguous: True` only when the frame had left. A local close while the
/// frame was out reads as the reference words it.
pub(crate) fn failure_dict<'py>(py: Python<'py>, error: &RequestError) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item(intern!(py, "success"), false)?;
    let text = match error.kind {
        RequestErrorKind::Closed if error.ambiguous => format!("relay send failed: {error}"),
        _ => error.to_string(),
    };
    d.set_item(intern!(py, "error"), text)?;
    if error.ambiguous {
        d.set_item(intern!(py, "ambiguous"), true)?;
    }
    Ok(d)
}

pub(crate) fn value_error(e: impl std::fmt::Display) -> PyErr {
    pyo3::exceptions::PyValueError::new_err(e.to_string())
}
