//! Decoding and encoding of every frame type, from the reference's own JSON spelling.

use relay_core::wire::{DiagnosticKind, Direction, Frame, FrameType, OutboundAction, Platform};

/// One frame of each type as the reference writes it: Python `json.dumps`
/// separators (`", "`, `": "`), ASCII `\uXXXX` escapes, plus an unknown key.
const PYTHON_FRAMES: &[&str] = &[
    r#"{"type": "hello", "platform": "discord", "botId": "b1", "command_manifest": [{"name": "ask"}], "x_new": 1}"#,
    r#"{"type": "descriptor", "descriptor": {"contract_version": 1, "emoji": "\ud83d\udd0c", "label": "Discord", "len_unit": "chars", "markdown_dialect": "discord", "max_message_length": 2000, "pii_safe": false, "platform": "discord", "platform_hint": "", "supports_draft_streaming": false, "supports_edit": true, "supports_threads": true, "supported_ops": ["react"], "x_desc": [1, 2]}, "x_new": 1}"#,
    r#"{"type": "inbound", "event": {"text": "caf\u00e9 \ud83d\ude00", "message_type": "text", "source": {"platform": "telegram", "chat_id": "111", "chat_name": null, "chat_type": "dm", "user_id": "111", "user_name": "Ann", "thread_id": null, "chat_topic": null, "x_src": true}, "message_id": "5", "reply_to_message_id": null, "media_urls": [], "x_ev": {}}, "bufferId": "buf-1", "x_new": 1}"#,
    r#"{"type": "outbound", "requestId": "0f8e1f0c9a6b4c1d8e2f3a4b5c6d7e8f", "action": {"op": "send", "chat_id": "c1", "content": "hi", "reply_to": null, "metadata": {}, "x_act": 1}, "platform": "discord", "botId": "b1", "x_new": 1}"#,
    r#"{"type": "outbound_result", "requestId": "0f8e1f0c9a6b4c1d8e2f3a4b5c6d7e8f", "result": {"success": true, "message_id": "m1", "x_res": 1}, "x_new": 1}"#,
    r#"{"type": "interrupt", "session_key": "agent:main:telegram:dm:111", "reason": null, "x_new": 1}"#,
    r#"{"type": "interrupt_inbound", "session_key": "agent:main:telegram:dm:111", "chat_id": "111", "x_new": 1}"#,
    r#"{"type": "passthrough_forward", "forward": {"platform": "discord", "botId": "b1", "method": "POST", "path": "/interactions", "headers": [["Content-Type", "application/json"]], "bodyB64": "eyJ0eXBlIjogMX0=", "x_fwd": 1}, "bufferId": "buf-2", "x_new": 1}"#,
    r#"{"type": "going_idle", "x_new": 1}"#,
    r#"{"type": "going_idle_ack", "x_new": 1}"#,
    r#"{"type": "inbound_ack", "bufferId": "buf-1", "x_new": 1}"#,
];

fn decode(line: &str) -> Frame {
    Frame::decode(line.as_bytes(), None).unwrap_or_else(|e| panic!("{line}: {e}"))
}

fn diagnostic(line: &[u8], expect: Option<Direction>) -> DiagnosticKind {
    Frame::decode(line, expect).expect_err("line should be refused").kind
}

#[test]
fn every_frame_type_decodes_encodes_and_decodes_identically() {
    let mut seen = Vec::new();
    for line in PYTHON_FRAMES {
        let frame = decode(line);
        let encoded = frame.encode();
        assert!(encoded.ends_with(b"\n") && !encoded[..encoded.len() - 1].contains(&b'\n'));
        let text = std::str::from_utf8(&encoded).unwrap();
        assert!(!text.contains(", \"") && !text.contains("\": "), "not compact: {text}");
        assert!(text.contains(r#""x_new":1"#), "unknown top-level key lost: {text}");
        assert_eq!(Frame::decode(&encoded, None).unwrap(), frame, "{text}");
        seen.push(frame.frame_type());
    }
    assert_eq!(seen, FrameType::ALL);
}

#[test]
fn nested_unknown_keys_survive_re_encoding() {
    let text: String = PYTHON_FRAMES.iter().map(|l| String::from_utf8(decode(l).encode()).unwrap()).collect();
    for key in ["x_desc", "x_src", "x_ev", "x_act", "x_res", "x_fwd"] {
        assert!(text.contains(&format!("\"{key}\"")), "{key} lost");
    }
}

#[test]
fn escapes_are_decoded_and_written_as_utf8() {
    let Frame::Inbound(inbound) = decode(PYTHON_FRAMES[2]) else { panic!() };
    assert_eq!(inbound.event.text, "café 😀");
    assert_eq!(inbound.event.source.platform, Platform::Telegram);
    assert!(String::from_utf8(Frame::Inbound(inbound).encode()).unwrap().contains("café 😀"));
}

#[test]
fn passthrough_body_is_exact_bytes() {
    let Frame::PassthroughForward(f) = decode(PYTHON_FRAMES[7]) else { panic!() };
    assert_eq!(f.forward.body, br#"{"type": 1}"#);
    assert_eq!(f.buffer_id.as_deref(), Some("buf-2"));
}

#[test]
fn interrupt_always_writes_reason() {
    let encoded = decode(PYTHON_FRAMES[5]).encode();
    assert!(std::str::from_utf8(&encoded).unwrap().contains(r#""reason":null"#));
}

#[test]
fn every_bad_input_row_has_its_diagnostic() {
    use DiagnosticKind::*;
    let rows: &[(&[u8], DiagnosticKind)] = &[
        (b"{\"type\":\"going_idle_ack\",\"x\":\"\xff\"}", InvalidUtf8),
        (b"not json", InvalidJson),
        (b"{\"type\":\"going_idle_ack\"", InvalidJson),
        (b"{\"type\":\"going_idle_ack\",\"n\":NaN}", InvalidJson),
        (b"{\"type\":\"going_idle_ack\",\"n\":Infinity}", InvalidJson),
        (b"{\"type\":\"going_idle_ack\",\"n\":1e400}", InvalidJson),
        (b"[1,2]", NotAnObject),
        (b"\"hello\"", NotAnObject),
        (b"null", NotAnObject),
        (b"{}", MissingType),
        (b"{\"type\":null}", MissingType),
        (b"{\"type\":5}", MissingType),
        (b"{\"type\":\"teleport\"}", UnknownType),
        (b"{\"type\":\"inbound\"}", BadField),
        (b"{\"type\":\"inbound\",\"event\":{},\"bufferId\":7}", BadField),
        (b"{\"type\":\"outbound_result\",\"requestId\":1,\"result\":{}}", BadField),
        (b"{\"type\":\"descriptor\",\"descriptor\":{\"platform\":\"x\"}}", BadField),
    ];
    for (line, kind) in rows {
        assert_eq!(diagnostic(line, None), *kind, "{}", String::from_utf8_lossy(line));
    }
}

#[test]
fn direction_is_checked_before_fields() {
    let hello_without_fields = br#"{"type":"hello"}"#;
    assert_eq!(diagnostic(hello_without_fields, Some(Direction::ToGateway)), DiagnosticKind::WrongDirection);
    assert_eq!(diagnostic(hello_without_fields, Some(Direction::ToConnector)), DiagnosticKind::BadField);
    let err =
        Frame::decode(br#"{"type":"descriptor","descriptor":5}"#, Some(Direction::ToGateway)).unwrap_err();
    assert_eq!((err.kind, err.frame_type), (DiagnosticKind::BadField, Some(FrameType::Descriptor)));
}

#[test]
fn deep_nesting_is_invalid_json_not_a_crash() {
    let depth = 10_000;
    let line = format!("{{\"type\":\"going_idle\",\"x\":{}{}}}", "[".repeat(depth), "]".repeat(depth));
    assert_eq!(diagnostic(line.as_bytes(), None), DiagnosticKind::InvalidJson);
}

#[test]
fn duplicate_keys_last_one_wins() {
    let Frame::Hello(h) =
        decode(r#"{"type":"inbound","type":"hello","platform":"a","platform":"b","botId":""}"#)
    else {
        panic!("last type should win")
    };
    assert_eq!(h.platform, "b");
}

#[test]
fn explicit_null_reads_as_absent() {
    let Frame::Inbound(i) = decode(
        r#"{"type":"inbound","event":{"text":null,"source":{"chat_type":null,"chat_id":null}},"bufferId":null}"#,
    ) else {
        panic!()
    };
    assert_eq!((i.event.text.as_str(), i.event.source.chat_type.as_str(), i.buffer_id), ("", "dm", None));
}

#[test]
fn lone_surrogate_is_repaired_and_the_frame_kept() {
    let Frame::Inbound(i) = decode(r#"{"type":"inbound","event":{"text":"a\ud83db"}}"#) else { panic!() };
    assert_eq!(i.event.text, "a\u{FFFD}b");
}

#[test]
fn crlf_and_big_integers_are_tolerated() {
    let Frame::Outbound(o) = decode(
        "{\"type\":\"outbound\",\"requestId\":\"r\",\"action\":{\"op\":\"pin\",\"n\":123456789012345678901234567890}}\r",
    ) else {
        panic!()
    };
    assert!(matches!(o.action, OutboundAction::Other(_)));
}

/// Frames move by value through every layer (decode, machine, queue): the
/// inbound event, by far the largest part, is boxed so that none of them
/// copies it.
#[test]
#[cfg(target_pointer_width = "64")]
fn a_frame_stays_small_to_move() {
    let size = std::mem::size_of::<Frame>();
    assert!(size <= 300, "a Frame is {size} bytes");
}

#[test]
fn the_leading_type_of_a_line_is_read_without_a_decode() {
    assert_eq!(FrameType::leading(br#"{"type":"outbound","requestId":"1"}"#), Some(FrameType::Outbound));
    assert_eq!(FrameType::leading(br#"{"type":"made_up"}"#), None);
    assert_eq!(FrameType::leading(br#"{"requestId":"1","type":"outbound"}"#), None);
    assert_eq!(FrameType::leading(br#"{"type": "outbound"}"#), None, "not as senders write it");
    assert_eq!(FrameType::leading(b"junk"), None);
    for t in FrameType::ALL {
        let line = format!(r#"{{"type":"{}","x":1}}"#, t.as_str());
        assert_eq!(FrameType::leading(line.as_bytes()), Some(*t), "{line}");
        // A name one letter longer or shorter is no type.
        let longer = format!(r#"{{"type":"{}s"}}"#, t.as_str());
        let shorter = format!(r#"{{"type":"{}"}}"#, &t.as_str()[..t.as_str().len() - 1]);
        assert_eq!(FrameType::leading(longer.as_bytes()), None, "{longer}");
        assert_eq!(FrameType::leading(shorter.as_bytes()), None, "{shorter}");
    }
}
