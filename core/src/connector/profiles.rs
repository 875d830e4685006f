//! Built-in answers for test connectors (`relay serve`, the simulation,
//! examples): descriptor profiles of common platforms, and the result an
//! echoing connector gives.

use serde_json::json;

use crate::wire::{ALWAYS_ALLOWED_OP, ActionResult, Descriptor, LEGACY_OPS, LenUnit, OutboundAction};

/// The descriptor `relay serve` sends for a platform: Discord, Telegram
/// and Slack profiles, anything else a plain one.
pub fn descriptor_for(platform: &str) -> Descriptor {
    let mut d = Descriptor::new(platform, platform);
    d.supports_edit = true;
    match platform {
        "discord" => {
            d.label = "Discord".into();
            d.max_message_length = 2000;
            d.supports_threads = true;
            d.markdown_dialect = "discord".into();
            d.supported_ops = every_op(&["react", "send_media", "thread_create"]);
        }
        "telegram" => {
            d.label = "Telegram".into();
            d.max_message_length = 4096;
            d.markdown_dialect = "markdown_v2".into();
            d.len_unit = LenUnit::Utf16;
            d.supports_draft_streaming = true;
            d.supported_ops = every_op(&["draft", "react"]);
        }
        "slack" => {
            d.label = "Slack".into();
            d.max_message_length = 40000;
            d.supports_threads = true;
            d.markdown_dialect = "slack".into();
        }
        _ => {}
    }
    d
}

/// A `supported_ops` list: a list names every op accepted (PROTOCOL §3),
/// so the legacy ops and `get_chat_info` come with the platform's own, in
/// one sorted list.
fn every_op(own: &[&str]) -> Vec<String> {
    let mut ops: Vec<String> =
        LEGACY_OPS.iter().chain([&ALWAYS_ALLOWED_OP]).chain(own).map(|op| (*op).to_owned()).collect();
    ops.sort_unstable();
    ops
}

/// What `relay serve --reply echo` answers: success with `srv-<op>` as the
/// message id, or the chat id as name and `group` as type for `get_chat_info`.
pub fn echo_result(action: &OutboundAction) -> ActionResult {
    let mut result = ActionResult::ok();
    match action {
        OutboundAction::GetChatInfo(info) => {
            result.extra.insert("chat_info".into(), json!({"name": info.chat_id, "type": "group"}));
        }
        other => result.message_id = Some(format!("srv-{}", other.op())),
    }
    result
}
