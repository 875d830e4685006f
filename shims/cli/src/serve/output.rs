//! The event lines `relay serve` prints on stdout (formats in CLI.md).

use relay_core::connector::CloseReason;
use relay_driver::ServerEvent;

use crate::lines::JsonObject;

/// `{"event": <name>, "conn": <n>, …}`.
pub(crate) fn head(event: &str, conn: u64) -> JsonObject {
    JsonObject::new().field("event", event).field("conn", &conn)
}

/// The stdout lines for a server event, in order.
pub(crate) fn event_lines(event: &ServerEvent) -> Vec<JsonObject> {
    let line = match event {
        ServerEvent::Connected { conn, gateway_id } => {
            head("connected", *conn).field("gateway_id", gateway_id)
        }
        ServerEvent::Hello { conn, identity, command_manifest } => head("hello", *conn)
            .field("platform", &identity.platform)
            .field("botId", &identity.bot_id)
            .opt("command_manifest", command_manifest.as_ref()),
        ServerEvent::Request { conn, request_id, identity, action } => head("request", *conn)
            .field("requestId", request_id)
            .field("op", action.op())
            .field("platform", &identity.platform)
            .field("botId", &identity.bot_id)
            .field("action", &**action),
        ServerEvent::Interrupt { conn, session_key, reason } => {
            head("interrupt", *conn).field("session_key", session_key).field("reason", reason)
        }
        ServerEvent::InboundAck { conn, buffer_id } => {
            head("inbound_ack", *conn).field("bufferId", buffer_id)
        }
        ServerEvent::GoingIdle { conn } => head("going_idle", *conn),
        ServerEvent::Live { conn } => head("live", *conn),
        ServerEvent::StoreFailed { conn, error } => head("store_failed", *conn).field("error", error),
        ServerEvent::Diagnostic { conn, diagnostic } => head("diagnostic", *conn)
            .field("kind", diagnostic.kind.as_str())
            .field("line", &diagnostic.line)
            .field("detail", &diagnostic.detail),
        ServerEvent::Closed { conn, reason } => return closed_lines(*conn, reason),
        // A kind of event this version does not know: nothing to print.
        _ => return Vec::new(),
    };
    vec![line]
}

/// `rejected` (for a refused upgrade token) and `closed`.
fn closed_lines(conn: u64, reason: &CloseReason) -> Vec<JsonObject> {
    let mut lines = Vec::new();
    if let CloseReason::Rejected(rejection) = reason {
        lines.push(head("rejected", conn).field("reason", rejection.as_str()));
    }
    let code = match reason {
        // The gateway's close code, when it sent one.
        CloseReason::TransportClosed(frame) => frame.as_ref().map(|f| f.code),
        // The code serve closed with.
        other => other.close_to_send().map(|f| f.code),
    };
    lines.push(
        head("closed", conn)
            .field("reason", reason.name())
            .field("code", &code)
            .field("detail", &reason.to_string()),
    );
    lines
}
