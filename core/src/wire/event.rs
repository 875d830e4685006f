//! MessageEvent: the payload of an `inbound` frame (PROTOCOL §4).

use serde::ser::SerializeMap;

use super::SessionSource;
use super::json::{Extra, FieldError, Reader, Writer, json_object_serde};

/// What kind of message an event carries. Unknown values read as [`MessageType::Text`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum MessageType {
    /// `text`
    #[default]
    Text,
    /// `location`
    Location,
    /// `photo`
    Photo,
    /// `video`
    Video,
    /// `audio`
    Audio,
    /// `voice`
    Voice,
    /// `document`
    Document,
    /// `sticker`
    Sticker,
    /// `command`
    Command,
}

impl MessageType {
    const ALL: [Self; 9] = [
        Self::Text,
        Self::Location,
        Self::Photo,
        Self::Video,
        Self::Audio,
        Self::Voice,
        Self::Document,
        Self::Sticker,
        Self::Command,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Location => "location",
            Self::Photo => "photo",
            Self::Video => "video",
            Self::Audio => "audio",
            Self::Voice => "voice",
            Self::Document => "document",
            Self::Sticker => "sticker",
            Self::Command => "command",
        }
    }

    /// Reads a wire name; anything unknown is `text`.
    pub fn from_name(name: &str) -> Self {
        Self::ALL.into_iter().find(|t| t.as_str() == name).unwrap_or(Self::Text)
    }
}

impl serde::Serialize for MessageType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A normalized inbound message.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MessageEvent {
    /// Message text; `""` when absent.
    pub text: String,
    /// Kind of message.
    pub message_type: MessageType,
    /// Where it came from.
    pub source: SessionSource,
    /// Platform id of the message.
    pub message_id: Option<String>,
    /// Id of the message this one replies to.
    pub reply_to_message_id: Option<String>,
    /// Attachment URLs.
    pub media_urls: Vec<String>,
    /// Attachment details (ext), matched to `media_urls` by url (see [`MessageEvent::media_for`]).
    pub media: Vec<Media>,
    /// The message replied to (ext).
    pub reply_to: Option<ReplyTo>,
    /// Read-only history around the message (ext).
    pub context: Vec<ContextItem>,
    /// The connector failed to fetch the context (ext).
    pub context_error: bool,
    /// An answer to an interactive prompt (ext).
    pub prompt_response: Option<PromptResponse>,
    /// Keys this version does not know, kept for re-encoding.
    pub extra: Extra,
}

impl MessageEvent {
    const KNOWN: &'static [&'static str] = &[
        "text",
        "message_type",
        "source",
        "message_id",
        "reply_to_message_id",
        "media_urls",
        "media",
        "reply_to",
        "context",
        "context_error",
        "prompt_response",
    ];

    /// A text message from `source`.
    pub fn text(source: SessionSource, text: impl Into<String>) -> Self {
        Self { text: text.into(), source, ..Self::default() }
    }

    /// The media details for one of the `media_urls`, joined by url (never by position).
    pub fn media_for(&self, url: &str) -> Option<&Media> {
        self.media.iter().find(|m| m.url == url)
    }

    /// The message id used for dedupe: the event's own, else its source's.
    pub fn effective_message_id(&self) -> Option<&str> {
        self.message_id
            .as_deref()
            .filter(|id| !id.is_empty())
            .or_else(|| self.source.message_id.as_deref().filter(|id| !id.is_empty()))
    }

    pub(crate) fn from_reader(mut r: Reader<'_>) -> Result<Self, FieldError> {
        // message_type is lenient: anything that is not a known name reads as text.
        let message_type = match r.take_node("message_type") {
            Some(node) => node.as_str().map_or(MessageType::Text, MessageType::from_name),
            None => MessageType::Text,
        };
        Ok(Self {
            text: r.string("text")?.unwrap_or_default(),
            message_type,
            source: r.nested_reader("source", SessionSource::from_reader)?.unwrap_or_default(),
            message_id: r.id("message_id")?,
            reply_to_message_id: r.id("reply_to_message_id")?,
            media_urls: r.strings("media_urls")?,
            media: r.object_readers("media", Media::from_reader)?,
            reply_to: r.nested_reader("reply_to", ReplyTo::from_reader)?,
            context: r.object_readers("context", ContextItem::from_reader)?,
            context_error: r.bool("context_error")?.unwrap_or(false),
            prompt_response: r.nested_reader("prompt_response", PromptResponse::from_reader)?,
            extra: r.finish(),
        })
    }

    pub(crate) fn write<M: SerializeMap>(&self, w: &mut Writer<M>) -> Result<(), M::Error> {
        w.field("text", &self.text)?
            .field("message_type", &self.message_type)?
            .field("source", &self.source)?
            .opt("message_id", &self.message_id)?
            .opt("reply_to_message_id", &self.reply_to_message_id)?
            .field("media_urls", &self.media_urls)?;
        if !self.media.is_empty() {
            w.field("media", &self.media)?;
        }
        w.opt("reply_to", &self.reply_to)?;
        if !self.context.is_empty() {
            w.field("context", &self.context)?;
        }
        if self.context_error {
            w.field("context_error", &true)?;
        }
        w.opt("prompt_response", &self.prompt_response)?.extra(&self.extra, Self::KNOWN)?;
        Ok(())
    }
}

json_object_serde!(MessageEvent);

/// Details of one attachment (ext).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Media {
    /// Where the attachment lives; joins it to `media_urls`.
    pub url: String,
    /// MIME type.
    pub mime: Option<String>,
    /// Kind, e.g. `image`.
    pub kind: Option<String>,
    /// Size in bytes.
    pub size: Option<u64>,
    /// Original file name.
    pub filename: Option<String>,
    /// Caption.
    pub caption: Option<String>,
    /// Unknown keys.
    pub extra: Extra,
}

impl Media {
    const KNOWN: &'static [&'static str] = &["url", "mime", "kind", "size", "filename", "caption"];

    fn from_reader(mut r: Reader<'_>) -> Result<Self, FieldError> {
        let size = match r.int("size")? {
            Some(n) if n < 0 => return Err(FieldError::new("size", "negative size")),
            n => n.map(i64::unsigned_abs),
        };
        Ok(Self {
            url: r.string("url")?.unwrap_or_default(),
            mime: r.string("mime")?,
            kind: r.string("kind")?,
            size,
            filename: r.string("filename")?,
            caption: r.string("caption")?,
            extra: r.finish(),
        })
    }

    fn write<M: SerializeMap>(&self, w: &mut Writer<M>) -> Result<(), M::Error> {
        w.field("url", &self.url)?
            .opt("mime", &self.mime)?
            .opt("kind", &self.kind)?
            .opt("size", &self.size)?
            .opt("filename", &self.filename)?
            .opt("caption", &self.caption)?
            .extra(&self.extra, Self::KNOWN)?;
        Ok(())
    }
}

json_object_serde!(Media);

/// The message an event replies to (ext).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReplyTo {
    /// Its text.
    pub text: Option<String>,
    /// Its author.
    pub author: Option<String>,
    /// Whether the bot itself wrote it.
    pub is_own: Option<bool>,
    /// Unknown keys.
    pub extra: Extra,
}

impl ReplyTo {
    const KNOWN: &'static [&'static str] = &["text", "author", "is_own"];

    fn from_reader(mut r: Reader<'_>) -> Result<Self, FieldError> {
        Ok(Self {
            text: r.string("text")?,
            author: r.string("author")?,
            is_own: r.bool("is_own")?,
            extra: r.finish(),
        })
    }

    fn write<M: SerializeMap>(&self, w: &mut Writer<M>) -> Result<(), M::Error> {
        w.opt("text", &self.text)?
            .opt("author", &self.author)?
            .opt("is_own", &self.is_own)?
            .extra(&self.extra, Self::KNOWN)?;
        Ok(())
    }
}

json_object_serde!(ReplyTo);

/// One message of read-only history (ext).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ContextItem {
    /// Its text.
    pub text: String,
    /// Where it came from.
    pub source: Option<SessionSource>,
    /// Unknown keys.
    pub extra: Extra,
}

impl ContextItem {
    const KNOWN: &'static [&'static str] = &["text", "source"];

    fn from_reader(mut r: Reader<'_>) -> Result<Self, FieldError> {
        Ok(Self {
            text: r.string("text")?.unwrap_or_default(),
            source: r.nested_reader("source", SessionSource::from_reader)?,
            extra: r.finish(),
        })
    }

    fn write<M: SerializeMap>(&self, w: &mut Writer<M>) -> Result<(), M::Error> {
        w.field("text", &self.text)?.opt("source", &self.source)?.extra(&self.extra, Self::KNOWN)?;
        Ok(())
    }
}

json_object_serde!(ContextItem);

/// A user's answer to an interactive prompt (ext).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PromptResponse {
    /// The prompt answered.
    pub prompt_id: String,
    /// The option chosen.
    pub option_id: String,
    /// The option's label.
    pub label: Option<String>,
    /// The message that carried the prompt.
    pub prompt_message_id: Option<String>,
    /// Unknown keys.
    pub extra: Extra,
}

impl PromptResponse {
    const KNOWN: &'static [&'static str] = &["prompt_id", "option_id", "label", "prompt_message_id"];

    fn from_reader(mut r: Reader<'_>) -> Result<Self, FieldError> {
        Ok(Self {
            prompt_id: r.required_string("prompt_id")?,
            option_id: r.required_string("option_id")?,
            label: r.string("label")?,
            prompt_message_id: r.id("prompt_message_id")?,
            extra: r.finish(),
        })
    }

    fn write<M: SerializeMap>(&self, w: &mut Writer<M>) -> Result<(), M::Error> {
        w.field("prompt_id", &self.prompt_id)?
            .field("option_id", &self.option_id)?
            .opt("label", &self.label)?
            .opt("prompt_message_id", &self.prompt_message_id)?
            .extra(&self.extra, Self::KNOWN)?;
        Ok(())
    }
}

json_object_serde!(PromptResponse);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_and_unknown_message_type() {
        let e: MessageEvent = serde_json::from_value(json!({"message_type": "hologram"})).unwrap();
        assert_eq!(e.message_type, MessageType::Text);
        assert_eq!(e.text, "");
        assert!(e.media_urls.is_empty());
        assert_eq!(e.source, SessionSource::default());
    }

    #[test]
    fn media_joins_by_url_not_position() {
        let e: MessageEvent = serde_json::from_value(json!({
            "media_urls": ["https://a", "https://b"],
            "media": [{"url": "https://b", "mime": "image/png"}, {"url": "https://a", "kind": "voice"}]
        }))
        .unwrap();
        assert_eq!(e.media_for("https://a").unwrap().kind.as_deref(), Some("voice"));
        assert_eq!(e.media_for("https://b").unwrap().mime.as_deref(), Some("image/png"));
        assert!(e.media_for("https://c").is_none());
    }

    #[test]
    fn effective_message_id_prefers_the_event() {
        let mut e = MessageEvent::default();
        assert_eq!(e.effective_message_id(), None);
        e.source.message_id = Some("s".into());
        assert_eq!(e.effective_message_id(), Some("s"));
        e.message_id = Some("e".into());
        assert_eq!(e.effective_message_id(), Some("e"));
    }

    #[test]
    fn ext_fields_round_trip_with_unknown_keys_at_every_level() {
        let v = json!({
            "text": "hi", "message_type": "command", "source": {"platform": "telegram", "x": 1},
            "media_urls": ["u"], "media": [{"url": "u", "size": 10, "y": 2}],
            "reply_to": {"text": "t", "is_own": true, "z": 3},
            "context": [{"text": "c", "source": {"platform": "slack"}, "w": 4}],
            "context_error": true,
            "prompt_response": {"prompt_id": "p", "option_id": "o", "v": 5},
            "top": 6
        });
        let e: MessageEvent = serde_json::from_value(v).unwrap();
        assert_eq!(e.source.extra["x"], 1);
        assert_eq!(e.media[0].extra["y"], 2);
        assert_eq!(e.reply_to.as_ref().unwrap().extra["z"], 3);
        assert_eq!(e.context[0].extra["w"], 4);
        assert_eq!(e.prompt_response.as_ref().unwrap().extra["v"], 5);
        assert_eq!(e.extra["top"], 6);
        let again: MessageEvent = serde_json::from_value(serde_json::to_value(&e).unwrap()).unwrap();
        assert_eq!(again, e);
    }

    #[test]
    fn prompt_response_needs_its_ids() {
        let err = serde_json::from_value::<MessageEvent>(json!({"prompt_response": {"prompt_id": "p"}}))
            .unwrap_err();
        assert!(err.to_string().contains("prompt_response.option_id: missing"), "{err}");
    }
}
