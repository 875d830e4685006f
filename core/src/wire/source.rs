//! SessionSource: where an inbound event came from (PROTOCOL §4).

use serde::ser::SerializeMap;

use super::Platform;
use super::json::{Extra, FieldError, Object, Reader, Writer, json_object_serde};

/// The origin of an inbound event: platform, chat, user and thread.
///
/// Decoding yields the interpreted view: `chat_id` defaults to `""`,
/// `chat_type` to `dm`, `scope_id` falls back to `guild_id`, and `user_name`
/// takes `user_display_name`, then `user_name`, then `user_handle`, and the
/// fields written only when non-empty read `""` as absent. Unknown keys are
/// kept in [`extra`](Self::extra).
#[derive(Debug, Clone, PartialEq)]
pub struct SessionSource {
    /// The platform (unknown names read as `relay`).
    pub platform: Platform,
    /// Chat id; `""` when absent.
    pub chat_id: String,
    /// Human name of the chat.
    pub chat_name: Option<String>,
    /// `dm`, `group`, `channel`, `thread`, `forum` or any other value, kept verbatim.
    pub chat_type: String,
    /// Platform user id.
    pub user_id: Option<String>,
    /// Display name of the user.
    pub user_name: Option<String>,
    /// Thread id within the chat.
    pub thread_id: Option<String>,
    /// Topic of the chat.
    pub chat_topic: Option<String>,
    /// Alternative user id (preferred over `user_id` for session keys, e.g. Signal UUIDs).
    pub user_id_alt: Option<String>,
    /// Alternative chat id.
    pub chat_id_alt: Option<String>,
    /// Tenant scope (Discord guild, Slack workspace); written as both `scope_id` and `guild_id`.
    pub scope_id: Option<String>,
    /// Parent chat of a thread.
    pub parent_chat_id: Option<String>,
    /// Id of the triggering message.
    pub message_id: Option<String>,
    /// Agent profile the connector routed this event to (ext).
    pub profile: Option<String>,
    /// The connector created a thread for this message (ext).
    pub auto_thread_created: bool,
    /// Name the auto-created thread started with (ext).
    pub auto_thread_initial_name: Option<String>,
    /// Thread the reply will live in once created (ext).
    pub prospective_thread_id: Option<String>,
    /// Keys this version does not know, kept for re-encoding.
    pub extra: Extra,
}

impl Default for SessionSource {
    fn default() -> Self {
        Self { chat_type: "dm".to_owned(), ..Self::blank() }
    }
}

impl SessionSource {
    /// The default but for an empty `chat_type`: what decoders fill in
    /// without allocating a `"dm"` they may throw away.
    pub(super) fn blank() -> Self {
        Self {
            platform: Platform::Relay,
            chat_id: String::new(),
            chat_name: None,
            chat_type: String::new(),
            user_id: None,
            user_name: None,
            thread_id: None,
            chat_topic: None,
            user_id_alt: None,
            chat_id_alt: None,
            scope_id: None,
            parent_chat_id: None,
            message_id: None,
            profile: None,
            auto_thread_created: false,
            auto_thread_initial_name: None,
            prospective_thread_id: None,
            extra: Extra::new(),
        }
    }
}

impl SessionSource {
    const KNOWN: &'static [&'static str] = &[
        "platform",
        "chat_id",
        "chat_name",
        "chat_type",
        "user_id",
        "user_name",
        "user_display_name",
        "user_handle",
        "thread_id",
        "chat_topic",
        "user_id_alt",
        "chat_id_alt",
        "scope_id",
        "guild_id",
        "parent_chat_id",
        "message_id",
        "profile",
        "auto_thread_created",
        "auto_thread_initial_name",
        "prospective_thread_id",
    ];

    /// A source on `platform` in chat `chat_id` of type `chat_type`, everything else empty.
    pub fn new(platform: Platform, chat_id: impl Into<String>, chat_type: impl Into<String>) -> Self {
        Self { platform, chat_id: chat_id.into(), chat_type: chat_type.into(), ..Self::default() }
    }

    /// Whether this is a direct message (`chat_type == "dm"`).
    pub fn is_dm(&self) -> bool {
        self.chat_type == "dm"
    }

    /// The tenant scope when one is known (present and non-empty).
    pub fn known_scope(&self) -> Option<&str> {
        self.scope_id.as_deref().filter(|s| !s.is_empty())
    }

    /// Reads a source object (the interpreted view); a mistyped field is an error.
    pub fn from_object(object: Object) -> Result<Self, FieldError> {
        Self::from_reader(Reader::new(object))
    }

    pub(crate) fn from_reader(mut r: Reader<'_>) -> Result<Self, FieldError> {
        let platform = r.str("platform")?.map(|p| Platform::from_name(&p)).unwrap_or_default();
        let scope_id = r.id("scope_id")?;
        let guild_id = r.id("guild_id")?;
        let names = [r.string("user_display_name")?, r.string("user_name")?, r.string("user_handle")?];
        let mut source = Self {
            platform,
            chat_id: r.id("chat_id")?.unwrap_or_default(),
            chat_name: r.string("chat_name")?,
            chat_type: r.string("chat_type")?.unwrap_or_else(|| "dm".to_owned()),
            user_id: r.id("user_id")?,
            user_name: None,
            thread_id: r.id("thread_id")?,
            chat_topic: r.string("chat_topic")?,
            user_id_alt: r.id("user_id_alt")?,
            chat_id_alt: r.id("chat_id_alt")?,
            scope_id: None,
            parent_chat_id: r.id("parent_chat_id")?,
            message_id: r.id("message_id")?,
            profile: r.string("profile")?,
            auto_thread_created: r.bool("auto_thread_created")?.unwrap_or(false),
            auto_thread_initial_name: r.string("auto_thread_initial_name")?,
            prospective_thread_id: r.id("prospective_thread_id")?,
            extra: Extra::new(),
        };
        source.settle(names, scope_id, guild_id);
        Ok(Self { extra: r.finish(), ..source })
    }

    /// The reading rules that span keys or drop values, shared by both
    /// decoders: `user_name` is the first non-empty of `names` (display name,
    /// name, handle), `scope_id` falls back to `guild_id`, and the fields
    /// written only when non-empty read `""` as absent.
    pub(super) fn settle(
        &mut self,
        names: [Option<String>; 3],
        scope_id: Option<String>,
        guild_id: Option<String>,
    ) {
        self.user_name = first_non_empty(names);
        self.scope_id = non_empty(scope_id.or(guild_id));
        for field in [
            &mut self.user_id_alt,
            &mut self.chat_id_alt,
            &mut self.parent_chat_id,
            &mut self.message_id,
            &mut self.profile,
            &mut self.auto_thread_initial_name,
            &mut self.prospective_thread_id,
        ] {
            *field = non_empty(field.take());
        }
    }

    /// Writes the fields in the reference's order and presence rules (PROTOCOL §4).
    pub(crate) fn write<M: SerializeMap>(&self, w: &mut Writer<M>) -> Result<(), M::Error> {
        w.field("platform", &self.platform)?
            .field("chat_id", &self.chat_id)?
            .field("chat_name", &self.chat_name)?
            .field("chat_type", &self.chat_type)?
            .field("user_id", &self.user_id)?
            .field("user_name", &self.user_name)?
            .field("thread_id", &self.thread_id)?
            .field("chat_topic", &self.chat_topic)?
            .non_empty("user_id_alt", &self.user_id_alt)?
            .non_empty("chat_id_alt", &self.chat_id_alt)?;
        if let Some(scope) = self.known_scope() {
            w.field("scope_id", scope)?.field("guild_id", scope)?;
        }
        w.non_empty("parent_chat_id", &self.parent_chat_id)?
            .non_empty("message_id", &self.message_id)?
            .non_empty("profile", &self.profile)?;
        if self.auto_thread_created {
            w.field("auto_thread_created", &true)?;
        }
        w.non_empty("auto_thread_initial_name", &self.auto_thread_initial_name)?
            .non_empty("prospective_thread_id", &self.prospective_thread_id)?
            .extra(&self.extra, Self::KNOWN)?;
        Ok(())
    }
}

json_object_serde!(SessionSource);

/// Fields written only when non-empty (PROTOCOL §4) read `""` as absent, so
/// the interpreted view survives decode → encode → decode.
fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty())
}

/// The first candidate that is present and non-empty.
fn first_non_empty<const N: usize>(candidates: [Option<String>; N]) -> Option<String> {
    let mut fallback = None;
    for c in candidates.into_iter().flatten() {
        if !c.is_empty() {
            return Some(c);
        }
        fallback.get_or_insert(c);
    }
    fallback
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decode(v: serde_json::Value) -> SessionSource {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn defaults_fill_absent_and_null_fields() {
        let s = decode(json!({"chat_type": null}));
        assert_eq!(s.platform, Platform::Relay);
        assert_eq!(s.chat_id, "");
        assert_eq!(s.chat_type, "dm");
        assert!(s.is_dm());
    }

    #[test]
    fn scope_falls_back_to_guild_id() {
        assert_eq!(decode(json!({"guild_id": "g"})).scope_id.as_deref(), Some("g"));
        assert_eq!(decode(json!({"guild_id": "g", "scope_id": "s"})).scope_id.as_deref(), Some("s"));
    }

    #[test]
    fn display_name_precedence() {
        let all = json!({"user_display_name": "D", "user_name": "N", "user_handle": "H"});
        assert_eq!(decode(all).user_name.as_deref(), Some("D"));
        assert_eq!(decode(json!({"user_name": "N", "user_handle": "H"})).user_name.as_deref(), Some("N"));
        assert_eq!(decode(json!({"user_handle": "H"})).user_name.as_deref(), Some("H"));
        assert_eq!(
            decode(json!({"user_display_name": "", "user_handle": "H"})).user_name.as_deref(),
            Some("H")
        );
    }

    #[test]
    fn numeric_ids_read_as_text() {
        let s = decode(json!({"chat_id": -100123, "user_id": 42, "message_id": 7}));
        assert_eq!((s.chat_id.as_str(), s.user_id.as_deref()), ("-100123", Some("42")));
        assert_eq!(s.message_id.as_deref(), Some("7"));
    }

    #[test]
    fn mistyped_field_is_an_error_naming_it() {
        let err = serde_json::from_value::<SessionSource>(json!({"chat_type": 5})).unwrap_err();
        assert!(err.to_string().contains("chat_type: expected a string"), "{err}");
    }

    #[test]
    fn writes_reference_order_and_presence() {
        let mut s = SessionSource::new(Platform::Discord, "c1", "group");
        s.user_id = Some("u1".into());
        s.scope_id = Some("g1".into());
        s.user_id_alt = Some(String::new());
        s.message_id = Some("m1".into());
        s.extra.insert("zz_custom".into(), json!([1]));
        let text = serde_json::to_string(&s).unwrap();
        assert_eq!(
            text,
            r#"{"platform":"discord","chat_id":"c1","chat_name":null,"chat_type":"group","user_id":"u1","user_name":null,"thread_id":null,"chat_topic":null,"scope_id":"g1","guild_id":"g1","message_id":"m1","zz_custom":[1]}"#
        );
    }

    #[test]
    fn unknown_keys_survive_a_round_trip() {
        let s = decode(json!({"platform": "slack", "team_color": "blue", "nested": {"a": [1, 2]}}));
        let again = decode(serde_json::to_value(&s).unwrap());
        assert_eq!(again, s);
        assert_eq!(again.extra["nested"], json!({"a": [1, 2]}));
    }

    #[test]
    fn empty_values_of_fields_written_only_when_non_empty_read_as_absent() {
        // Found by the frame_decode fuzz target: `"user_id_alt": ""` decoded to
        // Some(""), was not written back, and so did not survive a round trip.
        let keys = [
            "user_id_alt",
            "chat_id_alt",
            "scope_id",
            "parent_chat_id",
            "message_id",
            "profile",
            "auto_thread_initial_name",
            "prospective_thread_id",
        ];
        let source =
            decode(serde_json::Value::Object(keys.iter().map(|k| ((*k).into(), json!(""))).collect()));
        assert_eq!(source, SessionSource::default());
        assert_eq!(decode(serde_json::to_value(&source).unwrap()), source);
        // An empty scope_id still wins over guild_id, as before: no scope is known.
        assert_eq!(decode(json!({"scope_id": "", "guild_id": "g"})).scope_id, None);
    }

    #[test]
    fn auto_thread_flag_written_only_when_true() {
        let mut s = SessionSource::default();
        assert!(!serde_json::to_string(&s).unwrap().contains("auto_thread_created"));
        s.auto_thread_created = true;
        assert!(serde_json::to_string(&s).unwrap().contains(r#""auto_thread_created":true"#));
    }
}
