//! The decodes `Frame::decode` is compared with, on the same inbound lines:
//! the naive lossless one (owned typed structs, a flattened map of unknown
//! keys at every level) and the lossy ceiling (borrowed typed structs,
//! unknown keys skipped). Shared by the `wire` bench and the `profile` example.

/// The naive lossless decode: owned strings, a flattened map of unknown keys at every level.
#[allow(dead_code)]
pub(crate) mod naive {
    use serde::Deserialize;
    use serde_json::{Map, Value};

    pub(crate) use super::id::Id;

    #[derive(Deserialize)]
    pub(crate) struct Inbound {
        #[serde(rename = "type")]
        pub ty: String,
        pub event: Event,
        #[serde(rename = "bufferId")]
        pub buffer_id: Option<String>,
        #[serde(flatten)]
        pub extra: Map<String, Value>,
    }

    #[derive(Deserialize)]
    pub(crate) struct Event {
        #[serde(default)]
        pub text: Option<String>,
        pub message_type: Option<String>,
        pub source: Option<Source>,
        pub message_id: Option<Id>,
        pub reply_to_message_id: Option<Id>,
        #[serde(default)]
        pub media_urls: Vec<String>,
        #[serde(default)]
        pub media: Vec<Media>,
        pub reply_to: Option<ReplyTo>,
        #[serde(default)]
        pub context: Vec<Context>,
        pub context_error: Option<bool>,
        #[serde(flatten)]
        pub extra: Map<String, Value>,
    }

    #[derive(Deserialize)]
    pub(crate) struct Source {
        pub platform: Option<String>,
        pub chat_id: Option<Id>,
        pub chat_name: Option<String>,
        pub chat_type: Option<String>,
        pub user_id: Option<Id>,
        pub user_name: Option<String>,
        pub thread_id: Option<Id>,
        pub chat_topic: Option<String>,
        pub user_id_alt: Option<Id>,
        pub scope_id: Option<Id>,
        pub guild_id: Option<Id>,
        pub message_id: Option<Id>,
        pub profile: Option<String>,
        #[serde(flatten)]
        pub extra: Map<String, Value>,
    }

    #[derive(Deserialize)]
    pub(crate) struct Media {
        pub url: Option<String>,
        pub mime: Option<String>,
        pub kind: Option<String>,
        pub size: Option<u64>,
        pub filename: Option<String>,
        pub caption: Option<String>,
        #[serde(flatten)]
        pub extra: Map<String, Value>,
    }

    #[derive(Deserialize)]
    pub(crate) struct ReplyTo {
        pub text: Option<String>,
        pub author: Option<String>,
        pub is_own: Option<bool>,
        #[serde(flatten)]
        pub extra: Map<String, Value>,
    }

    #[derive(Deserialize)]
    pub(crate) struct Context {
        pub text: Option<String>,
        pub source: Option<Source>,
        #[serde(flatten)]
        pub extra: Map<String, Value>,
    }
}

/// The lossy ceiling: borrowed strings where possible, unknown keys skipped.
#[allow(dead_code)]
pub(crate) mod borrowed {
    use std::borrow::Cow;

    use serde::Deserialize;

    pub(crate) use super::id::BorrowedId as Id;

    #[derive(Deserialize)]
    pub(crate) struct Inbound<'a> {
        #[serde(rename = "type", borrow)]
        pub ty: Cow<'a, str>,
        #[serde(borrow)]
        pub event: Event<'a>,
        #[serde(rename = "bufferId", borrow)]
        pub buffer_id: Option<Cow<'a, str>>,
    }

    #[derive(Deserialize)]
    pub(crate) struct Event<'a> {
        #[serde(borrow)]
        pub text: Option<Cow<'a, str>>,
        #[serde(borrow)]
        pub message_type: Option<Cow<'a, str>>,
        #[serde(borrow)]
        pub source: Option<Source<'a>>,
        #[serde(borrow)]
        pub message_id: Option<Id<'a>>,
        #[serde(borrow)]
        pub reply_to_message_id: Option<Id<'a>>,
        #[serde(default, borrow)]
        pub media_urls: Vec<Cow<'a, str>>,
        #[serde(default, borrow)]
        pub media: Vec<Media<'a>>,
        #[serde(borrow)]
        pub reply_to: Option<ReplyTo<'a>>,
        #[serde(default, borrow)]
        pub context: Vec<Context<'a>>,
        pub context_error: Option<bool>,
    }

    #[derive(Deserialize)]
    pub(crate) struct Source<'a> {
        #[serde(borrow)]
        pub platform: Option<Cow<'a, str>>,
        #[serde(borrow)]
        pub chat_id: Option<Id<'a>>,
        #[serde(borrow)]
        pub chat_name: Option<Cow<'a, str>>,
        #[serde(borrow)]
        pub chat_type: Option<Cow<'a, str>>,
        #[serde(borrow)]
        pub user_id: Option<Id<'a>>,
        #[serde(borrow)]
        pub user_name: Option<Cow<'a, str>>,
        #[serde(borrow)]
        pub thread_id: Option<Id<'a>>,
        #[serde(borrow)]
        pub chat_topic: Option<Cow<'a, str>>,
        #[serde(borrow)]
        pub scope_id: Option<Id<'a>>,
        #[serde(borrow)]
        pub guild_id: Option<Id<'a>>,
        #[serde(borrow)]
        pub message_id: Option<Id<'a>>,
    }

    #[derive(Deserialize)]
    pub(crate) struct Media<'a> {
        #[serde(borrow)]
        pub url: Option<Cow<'a, str>>,
        #[serde(borrow)]
        pub mime: Option<Cow<'a, str>>,
        #[serde(borrow)]
        pub kind: Option<Cow<'a, str>>,
        pub size: Option<u64>,
        #[serde(borrow)]
        pub filename: Option<Cow<'a, str>>,
        #[serde(borrow)]
        pub caption: Option<Cow<'a, str>>,
    }

    #[derive(Deserialize)]
    pub(crate) struct ReplyTo<'a> {
        #[serde(borrow)]
        pub text: Option<Cow<'a, str>>,
        #[serde(borrow)]
        pub author: Option<Cow<'a, str>>,
        pub is_own: Option<bool>,
    }

    #[derive(Deserialize)]
    pub(crate) struct Context<'a> {
        #[serde(borrow)]
        pub text: Option<Cow<'a, str>>,
        #[serde(borrow)]
        pub source: Option<Source<'a>>,
    }
}

/// Ids: a string, or an integer kept as text (both decodes must accept both).
mod id {
    use std::borrow::Cow;
    use std::fmt;

    use serde::de::{Deserialize, Deserializer, Error, Visitor};

    pub(crate) struct Id(#[allow(dead_code)] pub String);
    pub(crate) struct BorrowedId<'a>(#[allow(dead_code)] pub Cow<'a, str>);

    struct V;

    impl<'de> Visitor<'de> for V {
        type Value = Cow<'de, str>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string or an integer")
        }
        fn visit_borrowed_str<E: Error>(self, v: &'de str) -> Result<Self::Value, E> {
            Ok(Cow::Borrowed(v))
        }
        fn visit_str<E: Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Cow::Owned(v.to_owned()))
        }
        fn visit_string<E: Error>(self, v: String) -> Result<Self::Value, E> {
            Ok(Cow::Owned(v))
        }
        fn visit_i64<E: Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Cow::Owned(v.to_string()))
        }
        fn visit_u64<E: Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Cow::Owned(v.to_string()))
        }
    }

    impl<'de> Deserialize<'de> for Id {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(V).map(|c| Self(c.into_owned()))
        }
    }

    impl<'de: 'a, 'a> Deserialize<'de> for BorrowedId<'a> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(V).map(Self)
        }
    }
}
