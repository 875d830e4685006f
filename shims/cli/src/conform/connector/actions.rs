//! Outbound actions with every field their op requires (PROTOCOL §5), so a
//! connector that refuses one refuses the op, not a malformed request. They
//! name a chat no platform has: a real connector fails them harmlessly.

use serde_json::{Value, json};

/// The chat every probe action names.
pub(super) const CHAT: &str = "relay-conform-chat";

/// The op the kit uses for "an op outside the supported set": no connector
/// knows it.
pub(super) const UNLISTED_OP: &str = "conform_probe";

/// An identity no gateway announces: requests tagged with it must fail
/// with `unknown_identity` (PROTOCOL §8).
pub(super) const STRANGER: (&str, &str) = ("conform", "conform-unknown-identity");

/// A well-formed action for `op`, or `None` for an op the kit cannot fill in.
pub(super) fn valid_action(op: &str) -> Option<Value> {
    let action = match op {
        "send" => {
            json!({"op": "send", "chat_id": CHAT, "content": "relay conform", "reply_to": null, "metadata": {}})
        }
        "edit" => {
            json!({"op": "edit", "chat_id": CHAT, "message_id": "conform-1", "content": "relay conform", "metadata": {}})
        }
        "typing" => json!({"op": "typing", "chat_id": CHAT, "content": "", "metadata": {}}),
        "follow_up" => json!({"op": "follow_up", "session_key": format!("agent:main:relay:dm:{CHAT}"),
                               "kind": "text", "content": "relay conform", "metadata": {}}),
        "get_chat_info" => json!({"op": "get_chat_info", "chat_id": CHAT}),
        "send_media" => json!({"op": "send_media", "chat_id": CHAT, "media_kind": "image",
                                "source_url": "https://example.invalid/conform.png", "metadata": {}}),
        "prompt" => {
            json!({"op": "prompt", "chat_id": CHAT, "prompt_kind": "approval", "prompt_id": "conform-1",
                            "content": "relay conform", "options": [{"id": "yes", "label": "Yes"}], "metadata": {}})
        }
        "react" => {
            json!({"op": "react", "chat_id": CHAT, "message_id": "conform-1", "emoji": "+1", "metadata": {}})
        }
        "thread_create" => {
            json!({"op": "thread_create", "chat_id": CHAT, "thread_name": "relay conform", "metadata": {}})
        }
        "thread_rename" => json!({"op": "thread_rename", "chat_id": CHAT, "message_id": "conform-1",
                                   "thread_name": "relay conform", "metadata": {}}),
        "draft" => json!({"op": "draft", "chat_id": CHAT, "draft_id": 1, "content": "relay conform",
                           "final": true, "metadata": {}}),
        _ => return None,
    };
    Some(action)
}

/// The probe action with an op no connector supports.
pub(super) fn unlisted_action() -> Value {
    json!({"op": UNLISTED_OP, "chat_id": CHAT})
}

#[cfg(test)]
mod tests {
    use relay_core::wire::{Direction, Frame, OutboundAction};

    use super::*;

    #[test]
    fn every_known_op_decodes_as_itself_and_unknown_ones_are_raw() {
        for op in [
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
        ] {
            let line = json!({"type": "outbound", "requestId": "r", "action": valid_action(op)}).to_string();
            match Frame::decode(line.as_bytes(), Some(Direction::ToConnector)) {
                Ok(Frame::Outbound(outbound)) => {
                    assert_eq!(outbound.action.op(), op);
                    assert!(!matches!(outbound.action, OutboundAction::Other(_)), "{op} decoded as raw");
                }
                other => panic!("{op}: {other:?}"),
            }
        }
        assert_eq!(valid_action(UNLISTED_OP), None);
        let line = json!({"type": "outbound", "requestId": "r", "action": unlisted_action()}).to_string();
        assert!(matches!(Frame::decode(line.as_bytes(), None), Ok(Frame::Outbound(_))));
    }
}
