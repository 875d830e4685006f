//! The `frame_decode` target: one line through the frame decoder (either
//! direction or none) and through every payload type's `Deserialize`.

use std::fmt::Debug;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::policy::{SessionKeyOptions, session_key};
use crate::wire::{
    ActionResult, ChatInfo, ContextItem, Descriptor, DiagnosticKind, Direction, Forward, Frame, Media,
    MessageEvent, Object, OutboundAction, PromptResponse, ReplyTo, SessionSource, read_json_object,
};

/// Decodes `data` as one line with no expected direction and with each
/// direction: never a panic; the outcomes agree (a direction only adds
/// `wrong_direction`); a decoded frame re-encodes to one line that decodes to
/// the same frame and encodes the same again. Then every payload type is read
/// from the line's object and from each object inside it, and must survive
/// decode → encode → decode unchanged. Before all that, the decoder's fast
/// JSON parser must agree with its reference wherever it accepts the line.
pub fn frame_decode(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        crate::wire::check_against_reference(text);
    }
    let plain = Frame::decode(data, None);
    for direction in [Direction::ToGateway, Direction::ToConnector] {
        let directed = Frame::decode(data, Some(direction));
        match (&plain, directed) {
            (Ok(frame), Ok(same)) => {
                assert_eq!(frame.frame_type().direction(), direction, "decoded against its direction");
                assert_eq!(&same, frame, "the expected direction changed the decoded frame");
            }
            (Ok(frame), Err(e)) => assert!(
                e.kind == DiagnosticKind::WrongDirection && frame.frame_type().direction() != direction,
                "a frame that decodes without a direction was refused with its own: {e}"
            ),
            (Err(e), Ok(_)) => panic!("a line refused without a direction decoded with one: {e}"),
            (Err(undirected), Err(e)) => assert!(
                e == *undirected
                    || (e.kind == DiagnosticKind::WrongDirection && e.frame_type == undirected.frame_type),
                "a direction changed the error: {undirected} became {e}"
            ),
        }
    }
    let object = read_json_object(data);
    if let Ok(frame) = &plain {
        round_trip(frame);
        if let Ok(object) = &object {
            agrees_with_map_path(frame, object);
        }
    }
    if let Ok(object) = object {
        let value = Value::Object(object);
        payloads(&value);
        if let Value::Object(fields) = &value {
            fields.values().filter(|v| v.is_object()).for_each(payloads);
        }
    }
    // The raw-bytes Deserialize path (no surrogate repair, no `\r` strip) must not panic either.
    let _ = serde_json::from_slice::<MessageEvent>(data);
    let _ = serde_json::from_slice::<Descriptor>(data);
}

/// Encodes a decoded frame and checks it reads back as itself.
fn round_trip(frame: &Frame) {
    let encoded = frame.encode();
    assert_eq!(encoded.last(), Some(&b'\n'), "an encoded frame ends with a newline");
    let line = &encoded[..encoded.len() - 1];
    assert!(!line.contains(&b'\n'), "an encoded frame is one line");
    assert_eq!(frame.encode_line().as_bytes(), encoded, "encode_line and encode disagree");
    let again = Frame::decode(line, Some(frame.frame_type().direction()))
        .unwrap_or_else(|e| panic!("a re-encoded frame does not decode: {e}"));
    assert_eq!(&again, frame, "decode → encode → decode changed the frame");
    assert_eq!(again.encode(), encoded, "encoding a frame twice gave different bytes");
}

/// `Frame::decode` reads payloads from the parsed line's member lists (duplicate
/// keys resolved there); `Deserialize` reads them from a `serde_json` map. A
/// decoded frame's payload must be what the map path reads from the same line.
fn agrees_with_map_path(frame: &Frame, object: &Object) {
    fn read<T: DeserializeOwned>(object: &Object, key: &str) -> Option<T> {
        object.get(key).and_then(|v| serde_json::from_value(v.clone()).ok())
    }
    let agrees = match frame {
        Frame::Inbound(f) => read::<MessageEvent>(object, "event").as_ref() == Some(&f.event),
        Frame::Outbound(f) => read::<OutboundAction>(object, "action").as_ref() == Some(&f.action),
        Frame::OutboundResult(f) => read::<ActionResult>(object, "result").as_ref() == Some(&f.result),
        Frame::Descriptor(f) => read::<Descriptor>(object, "descriptor").as_ref() == Some(&f.descriptor),
        Frame::PassthroughForward(f) => read::<Forward>(object, "forward").as_ref() == Some(&f.forward),
        _ => true,
    };
    assert!(agrees, "the decoder and the map path read different payloads");
}

/// Reads `value` as every payload type, and exercises what each offers.
fn payloads(value: &Value) {
    if let Some(source) = check::<SessionSource>("SessionSource", value) {
        for (per_user, per_thread) in [(true, false), (false, true)] {
            let options =
                SessionKeyOptions { group_sessions_per_user: per_user, thread_sessions_per_user: per_thread };
            let _ = session_key(&source, options, source.profile.as_deref());
        }
        let _ = source.known_scope();
    }
    if let Some(event) = check::<MessageEvent>("MessageEvent", value) {
        let _ = event.effective_message_id();
        let _ = event.media_urls.first().map(|url| event.media_for(url));
    }
    if let Some(action) = check::<OutboundAction>("OutboundAction", value) {
        let _ = (action.op(), action.chat_id());
    }
    if let Some(result) = check::<ActionResult>("ActionResult", value) {
        let _ = ChatInfo::from_result(&result, "chat");
    }
    if let Some(descriptor) = check::<Descriptor>("Descriptor", value) {
        let _ = (descriptor.allows_op("draft"), descriptor.allows_op("react"));
        let _ = (descriptor.supports_code_blocks(), descriptor.len_unit.len(&descriptor.label));
    }
    if let Some(forward) = check::<Forward>("Forward", value) {
        let _ = forward.header("content-type");
    }
    check::<Media>("Media", value);
    check::<ReplyTo>("ReplyTo", value);
    check::<ContextItem>("ContextItem", value);
    check::<PromptResponse>("PromptResponse", value);
}

/// Deserializes a `T`; when that works, it must serialize and read back equal.
fn check<T: DeserializeOwned + Serialize + PartialEq + Debug>(name: &str, value: &Value) -> Option<T> {
    let decoded = serde_json::from_value::<T>(value.clone()).ok()?;
    let encoded =
        serde_json::to_value(&decoded).unwrap_or_else(|e| panic!("{name} decoded but does not encode: {e}"));
    let again = serde_json::from_value::<T>(encoded)
        .unwrap_or_else(|e| panic!("{name} does not decode its own encoding: {e}"));
    assert_eq!(again, decoded, "{name}: decode → encode → decode changed the value");
    Some(decoded)
}
