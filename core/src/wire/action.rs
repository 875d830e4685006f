//! The `action` of an `outbound` frame: a typed op, or raw JSON for ops this
//! version does not know (connectors add ops over time).

use serde::ser::SerializeMap;

use super::json::{FieldError, Object, Reader, Writer, json_object_serde};
use super::ops::{EditMessage, FollowUp, GetChatInfo, SendMessage, Typing};
use super::ops_ext::{Draft, Prompt, React, SendMedia, ThreadCreate, ThreadRename};

/// What a gateway asks a connector to do.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum OutboundAction {
    /// `send`
    Send(SendMessage),
    /// `edit`
    Edit(EditMessage),
    /// `typing`
    Typing(Typing),
    /// `follow_up`
    FollowUp(FollowUp),
    /// `get_chat_info`
    GetChatInfo(GetChatInfo),
    /// `send_media` (ext)
    SendMedia(SendMedia),
    /// `prompt` (ext)
    Prompt(Prompt),
    /// `react` (ext)
    React(React),
    /// `thread_create` (ext)
    ThreadCreate(ThreadCreate),
    /// `thread_rename` (ext)
    ThreadRename(ThreadRename),
    /// `draft` (ext)
    Draft(Draft),
    /// Any other op, carried as raw JSON.
    Other(RawAction),
}

/// An op this version does not model: its name and every other field as given.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RawAction {
    /// The op name.
    pub op: String,
    /// Every field but `op`.
    pub fields: Object,
}

impl OutboundAction {
    /// The op name as written on the wire.
    pub fn op(&self) -> &str {
        match self {
            Self::Send(_) => "send",
            Self::Edit(_) => "edit",
            Self::Typing(_) => "typing",
            Self::FollowUp(_) => "follow_up",
            Self::GetChatInfo(_) => "get_chat_info",
            Self::SendMedia(_) => "send_media",
            Self::Prompt(_) => "prompt",
            Self::React(_) => "react",
            Self::ThreadCreate(_) => "thread_create",
            Self::ThreadRename(_) => "thread_rename",
            Self::Draft(_) => "draft",
            Self::Other(raw) => &raw.op,
        }
    }

    /// The chat this action targets, when it names one.
    pub fn chat_id(&self) -> Option<&str> {
        match self {
            Self::Send(a) => Some(&a.chat_id),
            Self::Edit(a) => Some(&a.chat_id),
            Self::Typing(a) => Some(&a.chat_id),
            Self::GetChatInfo(a) => Some(&a.chat_id),
            Self::SendMedia(a) => Some(&a.chat_id),
            Self::Prompt(a) => Some(&a.chat_id),
            Self::React(a) => Some(&a.chat_id),
            Self::ThreadCreate(a) => Some(&a.chat_id),
            Self::ThreadRename(a) => Some(&a.chat_id),
            Self::Draft(a) => Some(&a.chat_id),
            Self::FollowUp(_) => None,
            Self::Other(raw) => raw.fields.get("chat_id").and_then(|v| v.as_str()),
        }
    }

    /// Reads an action object; `op` must be a string, and a known op's fields must be valid.
    pub fn from_object(object: Object) -> Result<Self, FieldError> {
        Self::from_reader(Reader::new(object))
    }

    pub(crate) fn from_reader(mut r: Reader<'_>) -> Result<Self, FieldError> {
        let op = r.required_string("op")?;
        Ok(match op.as_str() {
            "send" => Self::Send(SendMessage::from_reader(r)?),
            "edit" => Self::Edit(EditMessage::from_reader(r)?),
            "typing" => Self::Typing(Typing::from_reader(r)?),
            "follow_up" => Self::FollowUp(FollowUp::from_reader(r)?),
            "get_chat_info" => Self::GetChatInfo(GetChatInfo::from_reader(r)?),
            "send_media" => Self::SendMedia(SendMedia::from_reader(r)?),
            "prompt" => Self::Prompt(Prompt::from_reader(r)?),
            "react" => Self::React(React::from_reader(r)?),
            "thread_create" => Self::ThreadCreate(ThreadCreate::from_reader(r)?),
            "thread_rename" => Self::ThreadRename(ThreadRename::from_reader(r)?),
            "draft" => Self::Draft(Draft::from_reader(r)?),
            _ => Self::Other(RawAction { op, fields: r.finish() }),
        })
    }

    pub(crate) fn write<M: SerializeMap>(&self, w: &mut Writer<M>) -> Result<(), M::Error> {
        match self {
            Self::Send(a) => a.write(w),
            Self::Edit(a) => a.write(w),
            Self::Typing(a) => a.write(w),
            Self::FollowUp(a) => a.write(w),
            Self::GetChatInfo(a) => a.write(w),
            Self::SendMedia(a) => a.write(w),
            Self::Prompt(a) => a.write(w),
            Self::React(a) => a.write(w),
            Self::ThreadCreate(a) => a.write(w),
            Self::ThreadRename(a) => a.write(w),
            Self::Draft(a) => a.write(w),
            Self::Other(raw) => {
                w.field("op", &raw.op)?.extra(&raw.fields, &["op"])?;
                Ok(())
            }
        }
    }
}

json_object_serde!(OutboundAction);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn decode(v: Value) -> Result<OutboundAction, serde_json::Error> {
        serde_json::from_value(v)
    }

    fn round_trip(v: Value) -> OutboundAction {
        let a = decode(v).unwrap();
        assert_eq!(decode(serde_json::to_value(&a).unwrap()).unwrap(), a);
        a
    }

    #[test]
    fn send_always_writes_reply_to_and_metadata() {
        let text = serde_json::to_string(&OutboundAction::Send(SendMessage::new("c", "hi"))).unwrap();
        assert_eq!(text, r#"{"op":"send","chat_id":"c","content":"hi","reply_to":null,"metadata":{}}"#);
    }

    #[test]
    fn follow_up_writes_no_credential_field() {
        let a = round_trip(
            json!({"op": "follow_up", "session_key": "k", "kind": "discord_interaction", "content": "x"}),
        );
        let text = serde_json::to_string(&a).unwrap();
        assert_eq!(
            text,
            r#"{"op":"follow_up","session_key":"k","kind":"discord_interaction","content":"x","metadata":{}}"#
        );
    }

    #[test]
    fn every_known_op_round_trips_with_unknown_keys() {
        let ops = [
            json!({"op": "send", "chat_id": "c", "content": "t", "reply_to": "m", "metadata": {"a": 1}, "x": 1}),
            json!({"op": "edit", "chat_id": "c", "message_id": "m", "content": "t", "x": 1}),
            json!({"op": "typing", "chat_id": "c", "content": "", "x": 1}),
            json!({"op": "follow_up", "session_key": "k", "kind": "k", "content": "t", "metadata": {}, "x": 1}),
            json!({"op": "get_chat_info", "chat_id": "c", "x": 1}),
            json!({"op": "send_media", "chat_id": "c", "media_kind": "image", "source_url": "u", "x": 1}),
            json!({"op": "prompt", "chat_id": "c", "prompt_kind": "choice", "prompt_id": "p", "content": "?",
                   "options": [{"id": "a", "label": "A", "style": "primary", "y": 2}], "timeout_s": 30, "x": 1}),
            json!({"op": "react", "chat_id": "c", "message_id": "m", "emoji": "👍", "remove": true, "x": 1}),
            json!({"op": "thread_create", "chat_id": "c", "thread_name": "n", "x": 1}),
            json!({"op": "thread_rename", "chat_id": "c", "message_id": "m", "thread_name": "n",
                   "only_if_current_name": "old", "x": 1}),
            json!({"op": "draft", "chat_id": "c", "draft_id": 3, "content": "t", "final": false, "metadata": {}, "x": 1}),
        ];
        for v in ops {
            let op = v["op"].as_str().unwrap().to_owned();
            let a = round_trip(v);
            assert_eq!(a.op(), op);
            assert!(!matches!(a, OutboundAction::Other(_)), "{op} should be typed");
            assert!(serde_json::to_string(&a).unwrap().contains(r#""x":1"#), "{op} lost its unknown key");
        }
    }

    #[test]
    fn unknown_op_is_carried_raw() {
        let a = round_trip(json!({"op": "pin", "chat_id": "c", "message_id": "m"}));
        assert_eq!(a.op(), "pin");
        assert_eq!(a.chat_id(), Some("c"));
        assert_eq!(serde_json::to_string(&a).unwrap(), r#"{"op":"pin","chat_id":"c","message_id":"m"}"#);
    }

    #[test]
    fn bad_fields_are_errors() {
        assert!(decode(json!({"chat_id": "c"})).is_err(), "op missing");
        assert!(decode(json!({"op": 5})).is_err(), "op not a string");
        assert!(decode(json!({"op": "send", "chat_id": "c"})).is_err(), "content missing");
        assert!(
            decode(json!({"op": "send_media", "chat_id": "c", "media_kind": "hologram", "source_url": "u"}))
                .is_err()
        );
        assert!(
            decode(json!({"op": "draft", "chat_id": "c", "draft_id": "x", "content": "", "final": true}))
                .is_err()
        );
    }
}
