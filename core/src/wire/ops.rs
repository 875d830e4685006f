//! The typed outbound ops of PROTOCOL §5, one struct each.

use serde::ser::SerializeMap;

use super::json::{Extra, FieldError, Object, Reader, Writer};

/// `send`: post a message.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SendMessage {
    /// Target chat.
    pub chat_id: String,
    /// Message text.
    pub content: String,
    /// Message to reply to; always written, `null` when absent.
    pub reply_to: Option<String>,
    /// Routing metadata; always written, `{}` when empty.
    pub metadata: Object,
    /// Unknown keys.
    pub extra: Extra,
}

impl SendMessage {
    const KNOWN: &'static [&'static str] = &["op", "chat_id", "content", "reply_to", "metadata"];

    /// A plain message to `chat_id`.
    pub fn new(chat_id: impl Into<String>, content: impl Into<String>) -> Self {
        Self { chat_id: chat_id.into(), content: content.into(), ..Self::default() }
    }

    pub(crate) fn from_reader(mut r: Reader<'_>) -> Result<Self, FieldError> {
        Ok(Self {
            chat_id: r.required_id("chat_id")?,
            content: r.required_string("content")?,
            reply_to: r.id("reply_to")?,
            metadata: r.object("metadata")?.unwrap_or_default(),
            extra: r.finish(),
        })
    }

    pub(crate) fn write<M: SerializeMap>(&self, w: &mut Writer<M>) -> Result<(), M::Error> {
        w.field("op", "send")?
            .field("chat_id", &self.chat_id)?
            .field("content", &self.content)?
            .field("reply_to", &self.reply_to)?
            .field("metadata", &self.metadata)?
            .extra(&self.extra, Self::KNOWN)?;
        Ok(())
    }
}

/// `edit`: change a sent message.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EditMessage {
    /// Chat of the message.
    pub chat_id: String,
    /// The message to edit.
    pub message_id: String,
    /// New text.
    pub content: String,
    /// Routing metadata.
    pub metadata: Option<Object>,
    /// Unknown keys.
    pub extra: Extra,
}

impl EditMessage {
    const KNOWN: &'static [&'static str] = &["op", "chat_id", "message_id", "content", "metadata"];

    pub(crate) fn from_reader(mut r: Reader<'_>) -> Result<Self, FieldError> {
        Ok(Self {
            chat_id: r.required_id("chat_id")?,
            message_id: r.required_id("message_id")?,
            content: r.required_string("content")?,
            metadata: r.object("metadata")?,
            extra: r.finish(),
        })
    }

    pub(crate) fn write<M: SerializeMap>(&self, w: &mut Writer<M>) -> Result<(), M::Error> {
        w.field("op", "edit")?
            .field("chat_id", &self.chat_id)?
            .field("message_id", &self.message_id)?
            .field("content", &self.content)?
            .opt("metadata", &self.metadata)?
            .extra(&self.extra, Self::KNOWN)?;
        Ok(())
    }
}

/// `typing`: show (or, with empty content, clear) a typing indicator.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Typing {
    /// Target chat.
    pub chat_id: String,
    /// Status text; `""` clears.
    pub content: Option<String>,
    /// Routing metadata.
    pub metadata: Option<Object>,
    /// Unknown keys.
    pub extra: Extra,
}

impl Typing {
    const KNOWN: &'static [&'static str] = &["op", "chat_id", "content", "metadata"];

    pub(crate) fn from_reader(mut r: Reader<'_>) -> Result<Self, FieldError> {
        Ok(Self {
            chat_id: r.required_id("chat_id")?,
            content: r.string("content")?,
            metadata: r.object("metadata")?,
            extra: r.finish(),
        })
    }

    pub(crate) fn write<M: SerializeMap>(&self, w: &mut Writer<M>) -> Result<(), M::Error> {
        w.field("op", "typing")?
            .field("chat_id", &self.chat_id)?
            .opt("content", &self.content)?
            .opt("metadata", &self.metadata)?
            .extra(&self.extra, Self::KNOWN)?;
        Ok(())
    }
}

/// `follow_up`: act on a capability the connector holds for a session.
///
/// It names the session and the capability kind and never carries a token:
/// the connector keeps credentials (PROTOCOL §9).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FollowUp {
    /// The session whose capability to use.
    pub session_key: String,
    /// Capability kind, e.g. `discord_interaction`.
    pub kind: String,
    /// Message text.
    pub content: String,
    /// Routing metadata; always written.
    pub metadata: Object,
    /// Unknown keys.
    pub extra: Extra,
}

impl FollowUp {
    const KNOWN: &'static [&'static str] = &["op", "session_key", "kind", "content", "metadata"];

    pub(crate) fn from_reader(mut r: Reader<'_>) -> Result<Self, FieldError> {
        Ok(Self {
            session_key: r.required_string("session_key")?,
            kind: r.required_string("kind")?,
            content: r.required_string("content")?,
            metadata: r.object("metadata")?.unwrap_or_default(),
            extra: r.finish(),
        })
    }

    pub(crate) fn write<M: SerializeMap>(&self, w: &mut Writer<M>) -> Result<(), M::Error> {
        w.field("op", "follow_up")?
            .field("session_key", &self.session_key)?
            .field("kind", &self.kind)?
            .field("content", &self.content)?
            .field("metadata", &self.metadata)?
            .extra(&self.extra, Self::KNOWN)?;
        Ok(())
    }
}

/// `get_chat_info`: look up a chat's name and type.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GetChatInfo {
    /// The chat.
    pub chat_id: String,
    /// Unknown keys.
    pub extra: Extra,
}

impl GetChatInfo {
    const KNOWN: &'static [&'static str] = &["op", "chat_id"];

    pub(crate) fn from_reader(mut r: Reader<'_>) -> Result<Self, FieldError> {
        Ok(Self { chat_id: r.required_id("chat_id")?, extra: r.finish() })
    }

    pub(crate) fn write<M: SerializeMap>(&self, w: &mut Writer<M>) -> Result<(), M::Error> {
        w.field("op", "get_chat_info")?.field("chat_id", &self.chat_id)?.extra(&self.extra, Self::KNOWN)?;
        Ok(())
    }
}
