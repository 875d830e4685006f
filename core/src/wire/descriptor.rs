//! The CapabilityDescriptor a connector sends for each `hello` (PROTOCOL §3).

use serde::ser::SerializeMap;
use serde_json::Value;

use super::json::{Extra, FieldError, Object, Reader, Writer, json_object_serde};

/// The contract version this implementation speaks.
pub const CONTRACT_VERSION: i64 = 1;

/// How a platform measures message length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum LenUnit {
    /// Unicode scalar values (`chars`); also what unknown units read as.
    #[default]
    Chars,
    /// UTF-16 code units (`utf16`, Telegram).
    Utf16,
}

impl LenUnit {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Chars => "chars",
            Self::Utf16 => "utf16",
        }
    }

    /// Reads a wire name; unknown names are `chars`.
    pub fn from_name(name: &str) -> Self {
        if name == "utf16" { Self::Utf16 } else { Self::Chars }
    }

    /// The length of `text` in this unit.
    ///
    /// ```
    /// use relay_core::wire::LenUnit;
    /// assert_eq!(LenUnit::Chars.len("😀"), 1);
    /// assert_eq!(LenUnit::Utf16.len("😀"), 2);
    /// ```
    pub fn len(self, text: &str) -> usize {
        match self {
            Self::Chars => text.chars().count(),
            Self::Utf16 => text.encode_utf16().count(),
        }
    }
}

/// The ops a connector accepts when its `supported_ops` is absent or empty
/// (PROTOCOL §3). A connector that lists anything lists these too.
pub const LEGACY_OPS: [&str; 4] = ["send", "edit", "typing", "follow_up"];

/// The op every connector may be asked for, whatever its `supported_ops`
/// says (one without it answers with a failure).
pub const ALWAYS_ALLOWED_OP: &str = "get_chat_info";

/// What a connector can do on one platform, negotiated at the handshake.
#[derive(Debug, Clone, PartialEq)]
pub struct Descriptor {
    /// Contract version; `1` today, higher values are accepted (additive evolution).
    pub contract_version: i64,
    /// Platform name, e.g. `discord`.
    pub platform: String,
    /// Human label.
    pub label: String,
    /// Longest message the platform takes; always positive (≤ 0 on the wire reads as 4096).
    pub max_message_length: i64,
    /// Draft streaming supported.
    pub supports_draft_streaming: bool,
    /// Editing sent messages supported.
    pub supports_edit: bool,
    /// Threads supported.
    pub supports_threads: bool,
    /// Markdown dialect: `plain`, `markdown_v2`, `discord`, `slack`, ….
    pub markdown_dialect: String,
    /// Unit of `max_message_length`.
    pub len_unit: LenUnit,
    /// Emoji for the platform (default 🔌).
    pub emoji: String,
    /// Free-form hint for the agent.
    pub platform_hint: String,
    /// Whether events are free of personal data.
    pub pii_safe: bool,
    /// Events may carry `context` (ext).
    pub supports_context: bool,
    /// In-channel continuation supported (ext).
    pub supports_inchannel_continuable: bool,
    /// Block formatting supported (ext).
    pub supports_block_formatting: bool,
    /// Extension ops this connector accepts (ext), cleaned of non-strings and empty strings.
    pub supported_ops: Vec<String>,
    /// Keys this version does not know, kept for re-encoding.
    pub extra: Extra,
}

impl Descriptor {
    const DEFAULT_MAX_MESSAGE_LENGTH: i64 = 4096;
    const DEFAULT_EMOJI: &'static str = "\u{1F50C}";

    /// A descriptor with the required fields given and every optional one at its default.
    pub fn new(platform: impl Into<String>, label: impl Into<String>) -> Self {
        Self {
            contract_version: CONTRACT_VERSION,
            platform: platform.into(),
            label: label.into(),
            max_message_length: Self::DEFAULT_MAX_MESSAGE_LENGTH,
            supports_draft_streaming: false,
            supports_edit: false,
            supports_threads: false,
            markdown_dialect: "plain".to_owned(),
            len_unit: LenUnit::Chars,
            emoji: Self::DEFAULT_EMOJI.to_owned(),
            platform_hint: String::new(),
            pii_safe: false,
            supports_context: false,
            supports_inchannel_continuable: false,
            supports_block_formatting: false,
            supported_ops: Vec::new(),
            extra: Extra::new(),
        }
    }

    /// Whether the connector accepts `op` (PROTOCOL §3): `get_chat_info`
    /// always; any other op when `supported_ops` lists it, or, when the list
    /// is empty, when it is one of the [`LEGACY_OPS`]; `draft` only with
    /// `supports_draft_streaming` as well.
    ///
    /// ```
    /// use relay_core::wire::Descriptor;
    /// let mut d = Descriptor::new("discord", "Discord");
    /// assert!(d.allows_op("send") && !d.allows_op("react"));
    /// d.supported_ops = vec!["react".into()]; // a list names every op accepted
    /// assert!(d.allows_op("react") && !d.allows_op("send") && d.allows_op("get_chat_info"));
    /// ```
    pub fn allows_op(&self, op: &str) -> bool {
        if op == ALWAYS_ALLOWED_OP {
            return true;
        }
        let listed = if self.supported_ops.is_empty() {
            LEGACY_OPS.contains(&op)
        } else {
            self.supported_ops.iter().any(|o| o == op)
        };
        listed && (op != "draft" || self.supports_draft_streaming)
    }

    /// Whether code blocks render (`markdown_dialect` is neither `""` nor `plain`).
    pub fn supports_code_blocks(&self) -> bool {
        !matches!(self.markdown_dialect.as_str(), "" | "plain")
    }

    /// Reads a descriptor object; a missing or mistyped required field is an error.
    pub fn from_object(object: Object) -> Result<Self, FieldError> {
        Self::from_reader(Reader::new(object))
    }

    pub(crate) fn from_reader(mut r: Reader<'_>) -> Result<Self, FieldError> {
        let max = r.required_int("max_message_length")?;
        let supported_ops = match r.take("supported_ops") {
            Some(Value::Array(items)) => items
                .into_iter()
                .filter_map(|v| match v {
                    Value::String(s) if !s.is_empty() => Some(s),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        Ok(Self {
            contract_version: r.required_int("contract_version")?,
            platform: r.required_string("platform")?,
            label: r.required_string("label")?,
            max_message_length: if max <= 0 { Self::DEFAULT_MAX_MESSAGE_LENGTH } else { max },
            supports_draft_streaming: r.required_bool("supports_draft_streaming")?,
            supports_edit: r.required_bool("supports_edit")?,
            supports_threads: r.required_bool("supports_threads")?,
            markdown_dialect: r.required_string("markdown_dialect")?,
            len_unit: LenUnit::from_name(&r.required_string("len_unit")?),
            emoji: r.string("emoji")?.unwrap_or_else(|| Self::DEFAULT_EMOJI.to_owned()),
            platform_hint: r.string("platform_hint")?.unwrap_or_default(),
            pii_safe: r.bool("pii_safe")?.unwrap_or(false),
            supports_context: r.bool("supports_context")?.unwrap_or(false),
            supports_inchannel_continuable: r.bool("supports_inchannel_continuable")?.unwrap_or(false),
            supports_block_formatting: r.bool("supports_block_formatting")?.unwrap_or(false),
            supported_ops,
            extra: r.finish(),
        })
    }

    /// All fields, known and unknown, as one object; its keys iterate sorted.
    fn to_sorted_object(&self) -> Object {
        let mut o = self.extra.clone();
        let known: [(&str, Value); 16] = [
            ("contract_version", self.contract_version.into()),
            ("platform", self.platform.clone().into()),
            ("label", self.label.clone().into()),
            ("max_message_length", self.max_message_length.into()),
            ("supports_draft_streaming", self.supports_draft_streaming.into()),
            ("supports_edit", self.supports_edit.into()),
            ("supports_threads", self.supports_threads.into()),
            ("markdown_dialect", self.markdown_dialect.clone().into()),
            ("len_unit", self.len_unit.as_str().into()),
            ("emoji", self.emoji.clone().into()),
            ("platform_hint", self.platform_hint.clone().into()),
            ("pii_safe", self.pii_safe.into()),
            ("supports_context", self.supports_context.into()),
            ("supports_inchannel_continuable", self.supports_inchannel_continuable.into()),
            ("supports_block_formatting", self.supports_block_formatting.into()),
            ("supported_ops", self.supported_ops.clone().into()),
        ];
        for (k, v) in known {
            o.insert(k.to_owned(), v);
        }
        o
    }

    /// Serializes with sorted keys, as PROTOCOL §3 asks.
    pub(crate) fn write<M: SerializeMap>(&self, w: &mut Writer<M>) -> Result<(), M::Error> {
        for (k, v) in &self.to_sorted_object() {
            w.entry(k, v)?;
        }
        Ok(())
    }
}

json_object_serde!(Descriptor);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn minimal() -> Value {
        json!({
            "contract_version": 1, "platform": "telegram", "label": "Telegram",
            "max_message_length": 4096, "supports_draft_streaming": false,
            "supports_edit": true, "supports_threads": true,
            "markdown_dialect": "markdown_v2", "len_unit": "utf16"
        })
    }

    fn decode(v: Value) -> Result<Descriptor, FieldError> {
        Descriptor::from_object(v.as_object().unwrap().clone())
    }

    #[test]
    fn optional_fields_default() {
        let d = decode(minimal()).unwrap();
        assert_eq!(d.emoji, "🔌");
        assert_eq!(d.platform_hint, "");
        assert!(!d.pii_safe && !d.supports_context && !d.supports_block_formatting);
        assert!(d.supported_ops.is_empty());
        assert_eq!(d.len_unit, LenUnit::Utf16);
    }

    #[test]
    fn every_required_field_is_required() {
        for key in minimal().as_object().unwrap().keys() {
            let mut v = minimal();
            v.as_object_mut().unwrap().remove(key);
            let err = decode(v).unwrap_err();
            assert_eq!((err.path.as_str(), err.problem.as_str()), (key.as_str(), "missing"));
        }
    }

    #[test]
    fn mistyped_required_field_is_an_error() {
        let mut v = minimal();
        v["supports_edit"] = json!("yes");
        assert_eq!(decode(v).unwrap_err().path, "supports_edit");
    }

    #[test]
    fn non_positive_length_means_4096_and_unknown_unit_means_chars() {
        for max in [0, -5] {
            let mut v = minimal();
            v["max_message_length"] = json!(max);
            v["len_unit"] = json!("bytes");
            let d = decode(v).unwrap();
            assert_eq!((d.max_message_length, d.len_unit), (4096, LenUnit::Chars));
        }
    }

    #[test]
    fn supported_ops_are_cleaned() {
        let mut v = minimal();
        v["supported_ops"] = json!(["react", 5, "", null, "draft"]);
        assert_eq!(decode(v).unwrap().supported_ops, ["react", "draft"]);
        let mut v = minimal();
        v["supported_ops"] = json!("react");
        assert!(decode(v).unwrap().supported_ops.is_empty());
    }

    #[test]
    fn op_permissions() {
        let mut d = decode(minimal()).unwrap();
        for op in LEGACY_OPS.into_iter().chain([ALWAYS_ALLOWED_OP]) {
            assert!(d.allows_op(op), "{op} without a list");
        }
        assert!(!d.allows_op("react"));
        d.supported_ops = vec!["react".into(), "draft".into()];
        assert!(d.allows_op("react"));
        for op in LEGACY_OPS {
            assert!(!d.allows_op(op), "a list names every op accepted: {op} is not listed");
        }
        assert!(d.allows_op(ALWAYS_ALLOWED_OP), "get_chat_info is always allowed");
        assert!(!d.allows_op("draft"), "draft also needs supports_draft_streaming");
        d.supports_draft_streaming = true;
        assert!(d.allows_op("draft"));
    }

    #[test]
    fn serializes_sorted_with_unknown_keys() {
        let mut v = minimal();
        v["aaa_new"] = json!(true);
        let d = decode(v).unwrap();
        let text = serde_json::to_string(&d).unwrap();
        let object = d.to_sorted_object();
        let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
        keys.sort_unstable();
        let positions: Vec<usize> = keys.iter().map(|k| text.find(&format!("\"{k}\":")).unwrap()).collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");
        assert!(text.starts_with(r#"{"aaa_new":true,"contract_version":1,"emoji":"🔌""#), "{text}");
    }

    #[test]
    fn emoji_length_by_unit() {
        assert_eq!(LenUnit::Chars.len("😀"), 1);
        assert_eq!(LenUnit::Utf16.len("😀"), 2);
        assert_eq!(LenUnit::Utf16.len("aé"), 2);
    }
}
