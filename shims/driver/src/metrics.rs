//! What relay records through the `metrics` facade: every name and label
//! is here. Nothing is recorded until the application installs a recorder
//! (a Prometheus exporter, say); without one each call is a no-op.
//!
//! Names follow Prometheus conventions; labels take values from small
//! fixed sets only (a side, a frame type, an op, a reason), never a chat,
//! gateway or session id. README's metrics table lists them all.

use std::time::Duration;

use metrics::{counter, gauge, histogram};
use relay_core::wire::{DiagnosticKind, FrameType};

/// Which end of the protocol a connection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Gateway,
    Connector,
}

impl Side {
    fn as_str(self) -> &'static str {
        match self {
            Self::Gateway => "gateway",
            Self::Connector => "connector",
        }
    }
}

/// A connection was opened (a gateway's dial, a connector's accepted upgrade).
pub(crate) fn connection_opened(side: Side) {
    counter!("relay_connections_opened_total", "side" => side.as_str()).increment(1);
    gauge!("relay_connections_open", "side" => side.as_str()).increment(1.0);
}

/// A connection that was opened ended, for `reason` (a close reason's name).
pub(crate) fn connection_closed(side: Side, reason: &'static str) {
    counter!("relay_connections_closed_total", "side" => side.as_str(), "reason" => reason).increment(1);
    gauge!("relay_connections_open", "side" => side.as_str()).decrement(1.0);
}

/// A handshake completed (the first descriptor, sent or received).
pub(crate) fn handshake(side: Side) {
    counter!("relay_handshakes_total", "side" => side.as_str()).increment(1);
}

/// A connector refused an upgrade token (close 4401), for `reason`.
pub(crate) fn rejected(reason: &'static str) {
    counter!("relay_upgrades_rejected_total", "reason" => reason).increment(1);
}

/// A gateway was told 4401 (`expired`, `unauthorized`, or `other`).
pub(crate) fn told_4401(reason: &str) {
    let reason = match reason {
        "expired" => "expired",
        "unauthorized" => "unauthorized",
        _ => "other",
    };
    counter!("relay_upgrades_refused_total", "reason" => reason).increment(1);
}

/// A gateway dials again after a connection ended, for `cause`.
pub(crate) fn reconnect(cause: &'static str) {
    counter!("relay_reconnects_total", "cause" => cause).increment(1);
}

/// The frames of `text` (lines, each ending with `\n` but maybe the last)
/// went `direction` (`in` or `out`) on a `side` connection, counted by type.
pub(crate) fn frames(side: Side, direction: &'static str, text: &[u8]) {
    for line in text.split(|&b| b == b'\n').filter(|line| !line.is_empty()) {
        counter!("relay_frames_total", "side" => side.as_str(), "direction" => direction, "type" => frame_type(line))
            .increment(1);
    }
}

/// The type a line names in its leading `type` field (every sender writes
/// it first), `other` for anything else.
fn frame_type(line: &[u8]) -> &'static str {
    const PREFIX: &[u8] = br#"{"type":""#;
    let Some(rest) = line.strip_prefix(PREFIX) else { return "other" };
    let end = rest.iter().position(|&b| b == b'"').unwrap_or(rest.len());
    std::str::from_utf8(&rest[..end]).ok().and_then(FrameType::from_name).map_or("other", FrameType::as_str)
}

/// A line was skipped on a `side` connection.
pub(crate) fn diagnostic(side: Side, kind: DiagnosticKind) {
    counter!("relay_diagnostics_total", "side" => side.as_str(), "kind" => kind.as_str()).increment(1);
}

/// A request settled after `elapsed`: `outcome` is `ok`, `failed`,
/// `timed_out` or `ambiguous`.
pub(crate) fn request(op: &'static str, outcome: &'static str, elapsed: Duration) {
    counter!("relay_requests_total", "op" => op, "outcome" => outcome).increment(1);
    histogram!("relay_request_duration_seconds", "op" => op).record(elapsed.as_secs_f64());
}

/// The label of `op`: the ops of PROTOCOL §5 as themselves, any other as
/// `other`.
pub(crate) fn op_label(op: &str) -> &'static str {
    const OPS: [&str; 11] = [
        "send",
        "edit",
        "typing",
        "follow_up",
        "get_chat_info",
        "send_media",
        "prompt",
        "react",
        "thread_create",
        "thread_rename",
        "draft",
    ];
    OPS.into_iter().find(|known| *known == op).unwrap_or("other")
}

/// Frames were appended to a backlog (durably, for a durable store).
pub(crate) fn buffered() {
    counter!("relay_backlog_buffered_total").increment(1);
}

/// Backlog entries were sent to their gateway during a replay.
pub(crate) fn replayed(count: u64) {
    counter!("relay_backlog_replayed_total").increment(count);
}

/// A gateway acknowledged a backlog entry.
pub(crate) fn acked() {
    counter!("relay_backlog_acked_total").increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_types_come_from_the_leading_type_field() {
        assert_eq!(frame_type(br#"{"type":"outbound","requestId":"1"}"#), "outbound");
        assert_eq!(frame_type(br#"{"type":"made_up"}"#), "other");
        assert_eq!(frame_type(br#"{"requestId":"1","type":"outbound"}"#), "other");
        assert_eq!(frame_type(b"junk"), "other");
        assert_eq!(op_label("send"), "send");
        assert_eq!(op_label("chat 42"), "other");
    }
}
