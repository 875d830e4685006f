//! The `result` of an `outbound_result` frame, and the chat-info view of it (PROTOCOL §5).

use serde::ser::SerializeMap;
use serde_json::Value;

use super::json::{Extra, FieldError, Object, Reader, Writer, json_object_serde};

/// What the connector answered to an action. `success: false` is still a result.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ActionResult {
    /// Whether the action took effect (absent reads as `false`).
    pub success: bool,
    /// Id of the message created.
    pub message_id: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
    /// Machine-readable failure code, e.g. `egress_declined`.
    pub code: Option<String>,
    /// Every other key (`chat_info`, `thread_id`, …), kept.
    pub extra: Extra,
}

impl ActionResult {
    const KNOWN: &'static [&'static str] = &["success", "message_id", "error", "code"];

    /// A successful result.
    pub fn ok() -> Self {
        Self { success: true, ..Self::default() }
    }

    /// A failed result with an error text.
    pub fn failed(error: impl Into<String>) -> Self {
        Self { error: Some(error.into()), ..Self::default() }
    }

    /// Reads a result object.
    pub fn from_object(object: Object) -> Result<Self, FieldError> {
        Self::from_reader(Reader::new(object))
    }

    pub(crate) fn from_reader(mut r: Reader<'_>) -> Result<Self, FieldError> {
        Ok(Self {
            success: r.bool("success")?.unwrap_or(false),
            message_id: r.id("message_id")?,
            error: r.string("error")?,
            code: r.string("code")?,
            extra: r.finish(),
        })
    }

    pub(crate) fn write<M: SerializeMap>(&self, w: &mut Writer<M>) -> Result<(), M::Error> {
        w.field("success", &self.success)?
            .opt("message_id", &self.message_id)?
            .opt("error", &self.error)?
            .opt("code", &self.code)?
            .extra(&self.extra, Self::KNOWN)?;
        Ok(())
    }
}

json_object_serde!(ActionResult);

/// A chat's name and type, as `get_chat_info` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatInfo {
    /// Chat name (falls back to the chat id).
    pub name: String,
    /// Chat type (falls back to `dm`).
    pub chat_type: String,
}

impl ChatInfo {
    /// What the caller sees when nothing could be learned: the chat id as name, type `dm`.
    pub fn fallback(chat_id: &str) -> Self {
        Self { name: chat_id.to_owned(), chat_type: "dm".to_owned() }
    }

    /// Reads `result.chat_info` when it is an object, else the result itself; `name`
    /// and `type` each fall back on their own. Never fails.
    ///
    /// ```
    /// use relay_core::wire::{ActionResult, ChatInfo};
    /// let result: ActionResult = serde_json::from_str(r#"{"success":true,"chat_info":{"name":"General"}}"#).unwrap();
    /// let info = ChatInfo::from_result(&result, "c1");
    /// assert_eq!((info.name.as_str(), info.chat_type.as_str()), ("General", "dm"));
    /// ```
    pub fn from_result(result: &ActionResult, chat_id: &str) -> Self {
        let source = match result.extra.get("chat_info") {
            Some(Value::Object(info)) => info,
            _ => &result.extra,
        };
        let text = |key: &str| match source.get(key) {
            Some(Value::String(s)) => Some(s.clone()),
            _ => None,
        };
        let fallback = Self::fallback(chat_id);
        Self {
            name: text("name").unwrap_or(fallback.name),
            chat_type: text("type").unwrap_or(fallback.chat_type),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn result(v: Value) -> ActionResult {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn failure_is_a_result_with_code_and_extras() {
        let r =
            result(json!({"success": false, "error": "nope", "code": "egress_declined", "retry_after": 3}));
        assert!(!r.success);
        assert_eq!(r.code.as_deref(), Some("egress_declined"));
        assert_eq!(r.extra["retry_after"], 3);
        assert_eq!(result(serde_json::to_value(&r).unwrap()), r);
    }

    #[test]
    fn chat_info_nested_direct_and_fallbacks() {
        let nested = result(json!({"success": true, "chat_info": {"name": "N", "type": "group"}}));
        assert_eq!(
            ChatInfo::from_result(&nested, "c"),
            ChatInfo { name: "N".into(), chat_type: "group".into() }
        );
        let direct = result(json!({"name": "D"}));
        assert_eq!(
            ChatInfo::from_result(&direct, "c"),
            ChatInfo { name: "D".into(), chat_type: "dm".into() }
        );
        let junk = result(json!({"chat_info": 5, "type": 7}));
        assert_eq!(ChatInfo::from_result(&junk, "c"), ChatInfo::fallback("c"));
    }
}
