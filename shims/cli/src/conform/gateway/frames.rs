//! The frames the conformer writes, as wire lines: the answers it owes and
//! the stimuli of the scenario (every connector frame type in every
//! chunking, with bad lines among them, and buffered frames).

use async_tungstenite::tungstenite::Message;
use serde_json::{Value, json};

/// A request id no gateway sent: its result must be ignored (§5).
pub(super) const UNKNOWN_REQUEST_ID: &str = "0c0f0e0d0c0b4a09a8070605040302ff";

/// Every op of PROTOCOL §5, so no request the gateway's application makes is refused locally.
const EVERY_OP: [&str; 11] = [
    "draft",
    "edit",
    "follow_up",
    "get_chat_info",
    "prompt",
    "react",
    "send",
    "send_media",
    "thread_create",
    "thread_rename",
    "typing",
];

/// A wire line: compact JSON and `\n`.
fn line(frame: &Value) -> String {
    format!("{frame}\n")
}

/// The descriptor answering a hello for `platform`, listing every op.
pub(super) fn descriptor(platform: &str) -> String {
    line(&json!({"type": "descriptor", "descriptor": descriptor_body(platform)}))
}

/// The descriptor object itself, for `platform`.
fn descriptor_body(platform: &str) -> Value {
    json!({
        "contract_version": 1,
        "platform": platform,
        "label": "relay conform",
        "max_message_length": 2000,
        "supports_draft_streaming": true,
        "supports_edit": true,
        "supports_threads": true,
        "markdown_dialect": "markdown_v2",
        "len_unit": "chars",
        "supported_ops": EVERY_OP,
    })
}

/// A successful result for request `id`.
pub(super) fn result(id: &str) -> String {
    line(
        &json!({"type": "outbound_result", "requestId": id, "result": {"success": true, "message_id": "conform"}}),
    )
}

/// The answer to `going_idle`.
pub(super) fn going_idle_ack() -> String {
    line(&json!({"type": "going_idle_ack"}))
}

/// A live inbound event (no `bufferId`) with its own message id.
fn inbound(n: usize, text: &str) -> Value {
    json!({"type": "inbound", "event": event(&format!("conform-live-{n}"), text)})
}

/// A message event from a group chat on Discord.
fn event(message_id: &str, text: &str) -> Value {
    json!({
        "text": text,
        "message_type": "text",
        "message_id": message_id,
        "source": {
            "platform": "discord",
            "chat_id": "conform-chat",
            "chat_type": "group",
            "user_id": "conform-user",
            "user_name": "Conform",
        },
    })
}

/// A forwarded webhook, optionally buffered.
fn forward(buffer_id: Option<&str>) -> Value {
    let mut frame = json!({
        "type": "passthrough_forward",
        "forward": {
            "platform": "discord",
            "botId": "",
            "method": "POST",
            "path": "/interactions",
            "headers": [["content-type", "application/json"]],
            "bodyB64": "eyJ0eXBlIjoxfQ==",
        },
    });
    if let (Some(id), Some(object)) = (buffer_id, frame.as_object_mut()) {
        object.insert("bufferId".into(), json!(id));
    }
    frame
}

/// The connector's request to stop a session's turn.
fn interrupt() -> Value {
    json!({
        "type": "interrupt_inbound",
        "session_key": "agent:main:discord:group:conform-chat:conform-user",
        "chat_id": "conform-chat",
    })
}

/// Lines a receiver must skip without closing (§1), and frames it must not
/// act on (unknown type, wrong direction, a descriptor beyond the hellos).
fn bad_lines() -> Vec<String> {
    vec![
        "this is not JSON\n".into(),
        "[1,2,3]\n".into(),
        "{\"no_type\":true}\n".into(),
        "{\"type\":\"conform_unknown_frame\",\"x\":1}\n".into(),
        "{\"type\":\"hello\",\"platform\":\"relay\",\"botId\":\"\"}\n".into(),
        "{\"type\":\"inbound\"}\n".into(),
        "   \n".into(),
        "{\"type\":\"outbound_result\",\"requestId\":7}\n".into(),
        line(&json!({"type": "descriptor", "descriptor": descriptor_body("relay")})),
    ]
}

/// The pushes: every connector frame type, each chunking of PROTOCOL §1
/// (whole, several per message, byte by byte, split mid-line, binary,
/// `\r\n`), bad lines and unknown types among them. Live frames only.
pub(super) fn pushes() -> Vec<Message> {
    let mut messages = Vec::new();
    // Whole frames, one per message.
    messages.push(Message::text(line(&inbound(1, "conform: one frame per message — ünïcödé 🎉"))));
    messages.push(Message::text(line(&forward(None))));
    messages.push(Message::text(line(&interrupt())));
    // Several per message, bad lines between them.
    let mut several = line(&inbound(2, "conform: several per message"));
    for bad in bad_lines() {
        several.push_str(&bad);
    }
    several.push_str(&line(&inbound(3, "conform: after the bad lines")));
    messages.push(Message::text(several));
    // Byte by byte (ASCII, so every message is valid UTF-8).
    for byte in line(&inbound(4, "conform: byte by byte")).bytes() {
        messages.push(Message::text(char::from(byte).to_string()));
    }
    // Split mid-line, the rest arriving with the next frame, `\r\n` at the end.
    let split = line(&inbound(5, "conform: split mid-line"));
    let (head, tail) = split.split_at(split.len() / 2);
    messages.push(Message::text(head.to_owned()));
    let next = format!("{tail}{}", line(&interrupt()).replace('\n', "\r\n"));
    messages.push(Message::text(next));
    // Binary messages holding UTF-8.
    messages.push(Message::binary(line(&inbound(6, "conform: binary message")).into_bytes()));
    messages.push(Message::text(line(&inbound(7, "conform: the last live frame"))));
    messages
}

/// The buffered frames: inbound events and a forward, each with a `bufferId`.
pub(super) fn buffered() -> (Vec<String>, Vec<Message>) {
    let ids: Vec<String> = (1..=4).map(|n| format!("conform-buffer-{n}")).collect();
    let mut messages = Vec::new();
    for (n, id) in ids.iter().enumerate() {
        let frame = if n == 3 {
            forward(Some(id))
        } else {
            json!({"type": "inbound", "event": event(&format!("conform-buffered-{n}"), "conform: buffered"), "bufferId": id})
        };
        messages.push(Message::text(line(&frame)));
    }
    (ids, messages)
}
