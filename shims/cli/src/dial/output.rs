//! The stdout lines of `relay dial` (formats in CLI.md).

use relay_core::adapter::convert_interaction;
use relay_core::gateway::{Identity, RequestError};
use relay_core::wire::{ActionResult, Descriptor, Diagnostic, Forward, MessageEvent};
use relay_driver::IdleOutcome;

use crate::lines::JsonObject;

/// `{"descriptor": <descriptor>, "identity": "<platform>:<botId>"}`.
pub(crate) fn descriptor(identity: &Identity, descriptor: &Descriptor) -> JsonObject {
    JsonObject::new().field("descriptor", descriptor).field("identity", &identity.to_string())
}

/// `{"inbound": {"event": <event>, "bufferId": "<id>"?}}`.
pub(crate) fn inbound(event: &MessageEvent, buffer_id: Option<&String>) -> JsonObject {
    let inner = JsonObject::new().field("event", event).opt("bufferId", buffer_id);
    JsonObject::new().object("inbound", inner)
}

/// `{"interrupt": {"session_key": "…", "chat_id": "…"}}`.
pub(crate) fn interrupt(session_key: &str, chat_id: &str) -> JsonObject {
    let inner = JsonObject::new().field("session_key", session_key).field("chat_id", chat_id);
    JsonObject::new().object("interrupt", inner)
}

/// `{"passthrough": {"forward": <forward>, "bufferId": "<id>"?, "converted": <event>?}}`,
/// and the converted event (a Discord interaction that converts).
pub(crate) fn passthrough(
    forward: &Forward,
    buffer_id: Option<&String>,
) -> (JsonObject, Option<MessageEvent>) {
    let converted = convert_interaction(forward).ok();
    let inner = JsonObject::new()
        .field("forward", forward)
        .opt("bufferId", buffer_id)
        .opt("converted", converted.as_ref());
    (JsonObject::new().object("passthrough", inner), converted)
}

/// `{"connection": "<state>"}`; callers add details.
pub(crate) fn connection(state: &str) -> JsonObject {
    JsonObject::new().field("connection", state)
}

/// `{"diagnostic": {"kind": …, "line": …, "detail": …}}`, as `relay decode` prints them.
pub(crate) fn diagnostic(diagnostic: &Diagnostic) -> JsonObject {
    let inner = JsonObject::new()
        .field("kind", diagnostic.kind.as_str())
        .field("line", &diagnostic.line)
        .field("detail", &diagnostic.detail);
    JsonObject::new().object("diagnostic", inner)
}

/// `{"error": "line <n>: <problem>"}`.
pub(crate) fn bad_line(number: u64, problem: &str) -> JsonObject {
    JsonObject::new().field("error", &format!("line {number}: {problem}"))
}

/// `{"result": <result>, "line": <n>}` for a request.
pub(crate) fn request_result(number: u64, outcome: Result<ActionResult, RequestError>) -> JsonObject {
    match outcome {
        Ok(result) => JsonObject::new().field("result", &result).field("line", &number),
        Err(error) => result_line(number, failure(&error)),
    }
}

/// `{"result": {"success": true}, "line": <n>}` or a failure, for `ack` and `interrupt`.
pub(crate) fn unit_result(number: u64, outcome: Result<(), RequestError>) -> JsonObject {
    let result = match outcome {
        Ok(()) => JsonObject::new().field("success", &true),
        Err(error) => failure(&error),
    };
    result_line(number, result)
}

/// The result of `go_idle`: `success` and `idle` (`acknowledged`, `timed_out`, `not_connected`).
pub(crate) fn idle_result(number: u64, outcome: IdleOutcome) -> JsonObject {
    let result = match outcome {
        IdleOutcome::Acknowledged => JsonObject::new().field("success", &true).field("idle", "acknowledged"),
        IdleOutcome::TimedOut => JsonObject::new()
            .field("success", &false)
            .field("error", "relay going_idle not acknowledged in time")
            .field("ambiguous", &true)
            .field("idle", "timed_out"),
        IdleOutcome::NotConnected => JsonObject::new()
            .field("success", &false)
            .field("error", "relay transport not connected")
            .field("ambiguous", &false)
            .field("idle", "not_connected"),
    };
    result_line(number, result)
}

fn result_line(number: u64, result: JsonObject) -> JsonObject {
    JsonObject::new().object("result", result).field("line", &number)
}

/// `{"success": false, "error": "<text>", "ambiguous": <bool>}`.
fn failure(error: &RequestError) -> JsonObject {
    JsonObject::new()
        .field("success", &false)
        .field("error", &error.to_string())
        .field("ambiguous", &error.ambiguous)
}
