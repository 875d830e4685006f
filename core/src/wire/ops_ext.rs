//! The extension ops of PROTOCOL §5 (allowed only when a descriptor lists them).

use serde::ser::SerializeMap;

use super::json::{Extra, FieldError, Object, Reader, Writer};

macro_rules! wire_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident => $text:literal,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $(
                #[doc = concat!("`", $text, "`")]
                $variant,
            )*
        }

        impl $name {
            /// The wire name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)*
                }
            }

            fn read(r: &mut Reader, key: &str) -> Result<Self, FieldError> {
                match r.required_string(key)?.as_str() {
                    $($text => Ok(Self::$variant),)*
                    other => Err(FieldError::new(key, format!("unknown value {other:?}"))),
                }
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}

wire_enum!(
    /// Kind of media sent by [`SendMedia`].
    MediaKind { Image => "image", Voice => "voice", Audio => "audio", Video => "video", Document => "document", }
);

wire_enum!(
    /// Kind of interactive prompt.
    PromptKind { Approval => "approval", Clarify => "clarify", Choice => "choice", }
);

/// `send_media`: post an attachment by URL.
#[derive(Debug, Clone, PartialEq)]
pub struct SendMedia {
    /// Target chat.
    pub chat_id: String,
    /// Kind of attachment.
    pub media_kind: MediaKind,
    /// Where the connector fetches it.
    pub source_url: String,
    /// Caption.
    pub content: Option<String>,
    /// File name to show.
    pub filename: Option<String>,
    /// Message to reply to.
    pub reply_to: Option<String>,
    /// Routing metadata.
    pub metadata: Option<Object>,
    /// Unknown keys.
    pub extra: Extra,
}

impl SendMedia {
    const KNOWN: &'static [&'static str] =
        &["op", "chat_id", "media_kind", "source_url", "content", "filename", "reply_to", "metadata"];

    pub(crate) fn from_reader(mut r: Reader<'_>) -> Result<Self, FieldError> {
        Ok(Self {
            chat_id: r.required_id("chat_id")?,
            media_kind: MediaKind::read(&mut r, "media_kind")?,
            source_url: r.required_string("source_url")?,
            content: r.string("content")?,
            filename: r.string("filename")?,
            reply_to: r.id("reply_to")?,
            metadata: r.object("metadata")?,
            extra: r.finish(),
        })
    }

    pub(crate) fn write<M: SerializeMap>(&self, w: &mut Writer<M>) -> Result<(), M::Error> {
        w.field("op", "send_media")?
            .field("chat_id", &self.chat_id)?
            .field("media_kind", &self.media_kind)?
            .field("source_url", &self.source_url)?
            .opt("content", &self.content)?
            .opt("filename", &self.filename)?
            .opt("reply_to", &self.reply_to)?
            .opt("metadata", &self.metadata)?
            .extra(&self.extra, Self::KNOWN)?;
        Ok(())
    }
}

/// One choice of a [`Prompt`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PromptOption {
    /// Option id, returned in `prompt_response.option_id`.
    pub id: String,
    /// Button label.
    pub label: String,
    /// Button style hint.
    pub style: Option<String>,
    /// Unknown keys.
    pub extra: Extra,
}

impl PromptOption {
    const KNOWN: &'static [&'static str] = &["id", "label", "style"];

    fn from_reader(mut r: Reader<'_>) -> Result<Self, FieldError> {
        Ok(Self {
            id: r.required_string("id")?,
            label: r.required_string("label")?,
            style: r.string("style")?,
            extra: r.finish(),
        })
    }
}

impl serde::Serialize for PromptOption {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut w = Writer::new(s.serialize_map(None)?);
        w.field("id", &self.id)?
            .field("label", &self.label)?
            .opt("style", &self.style)?
            .extra(&self.extra, Self::KNOWN)?;
        w.end()
    }
}

/// `prompt`: ask the user to pick an option.
#[derive(Debug, Clone, PartialEq)]
pub struct Prompt {
    /// Target chat.
    pub chat_id: String,
    /// Kind of prompt.
    pub prompt_kind: PromptKind,
    /// Prompt id, returned in `prompt_response.prompt_id`.
    pub prompt_id: String,
    /// Question text.
    pub content: String,
    /// The choices.
    pub options: Vec<PromptOption>,
    /// Seconds before the prompt expires.
    pub timeout_s: Option<f64>,
    /// Message to reply to.
    pub reply_to: Option<String>,
    /// Routing metadata.
    pub metadata: Option<Object>,
    /// Unknown keys.
    pub extra: Extra,
}

impl Prompt {
    const KNOWN: &'static [&'static str] = &[
        "op",
        "chat_id",
        "prompt_kind",
        "prompt_id",
        "content",
        "options",
        "timeout_s",
        "reply_to",
        "metadata",
    ];

    pub(crate) fn from_reader(mut r: Reader<'_>) -> Result<Self, FieldError> {
        Ok(Self {
            chat_id: r.required_id("chat_id")?,
            prompt_kind: PromptKind::read(&mut r, "prompt_kind")?,
            prompt_id: r.required_string("prompt_id")?,
            content: r.required_string("content")?,
            options: r.object_readers("options", PromptOption::from_reader)?,
            timeout_s: r.number("timeout_s")?,
            reply_to: r.id("reply_to")?,
            metadata: r.object("metadata")?,
            extra: r.finish(),
        })
    }

    pub(crate) fn write<M: SerializeMap>(&self, w: &mut Writer<M>) -> Result<(), M::Error> {
        w.field("op", "prompt")?
            .field("chat_id", &self.chat_id)?
            .field("prompt_kind", &self.prompt_kind)?
            .field("prompt_id", &self.prompt_id)?
            .field("content", &self.content)?
            .field("options", &self.options)?
            .opt("timeout_s", &self.timeout_s)?
            .opt("reply_to", &self.reply_to)?
            .opt("metadata", &self.metadata)?
            .extra(&self.extra, Self::KNOWN)?;
        Ok(())
    }
}

/// `react`: add (or remove) an emoji reaction.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct React {
    /// Chat of the message.
    pub chat_id: String,
    /// The message.
    pub message_id: String,
    /// The emoji.
    pub emoji: String,
    /// Remove instead of add.
    pub remove: Option<bool>,
    /// Routing metadata.
    pub metadata: Option<Object>,
    /// Unknown keys.
    pub extra: Extra,
}

impl React {
    const KNOWN: &'static [&'static str] = &["op", "chat_id", "message_id", "emoji", "remove", "metadata"];

    pub(crate) fn from_reader(mut r: Reader<'_>) -> Result<Self, FieldError> {
        Ok(Self {
            chat_id: r.required_id("chat_id")?,
            message_id: r.required_id("message_id")?,
            emoji: r.required_string("emoji")?,
            remove: r.bool("remove")?,
            metadata: r.object("metadata")?,
            extra: r.finish(),
        })
    }

    pub(crate) fn write<M: SerializeMap>(&self, w: &mut Writer<M>) -> Result<(), M::Error> {
        w.field("op", "react")?
            .field("chat_id", &self.chat_id)?
            .field("message_id", &self.message_id)?
            .field("emoji", &self.emoji)?
            .opt("remove", &self.remove)?
            .opt("metadata", &self.metadata)?
            .extra(&self.extra, Self::KNOWN)?;
        Ok(())
    }
}

/// `thread_create`: open a thread, optionally on a message.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ThreadCreate {
    /// Parent chat.
    pub chat_id: String,
    /// Name of the new thread.
    pub thread_name: String,
    /// Message to start the thread on.
    pub message_id: Option<String>,
    /// Routing metadata.
    pub metadata: Option<Object>,
    /// Unknown keys.
    pub extra: Extra,
}

impl ThreadCreate {
    const KNOWN: &'static [&'static str] = &["op", "chat_id", "thread_name", "message_id", "metadata"];

    pub(crate) fn from_reader(mut r: Reader<'_>) -> Result<Self, FieldError> {
        Ok(Self {
            chat_id: r.required_id("chat_id")?,
            thread_name: r.required_string("thread_name")?,
            message_id: r.id("message_id")?,
            metadata: r.object("metadata")?,
            extra: r.finish(),
        })
    }

    pub(crate) fn write<M: SerializeMap>(&self, w: &mut Writer<M>) -> Result<(), M::Error> {
        w.field("op", "thread_create")?
            .field("chat_id", &self.chat_id)?
            .field("thread_name", &self.thread_name)?
            .opt("message_id", &self.message_id)?
            .opt("metadata", &self.metadata)?
            .extra(&self.extra, Self::KNOWN)?;
        Ok(())
    }
}

/// `thread_rename`: rename a thread.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ThreadRename {
    /// Chat of the thread.
    pub chat_id: String,
    /// The thread's message.
    pub message_id: String,
    /// New name.
    pub thread_name: String,
    /// Rename only while the thread still has this name.
    pub only_if_current_name: Option<String>,
    /// Routing metadata.
    pub metadata: Option<Object>,
    /// Unknown keys.
    pub extra: Extra,
}

impl ThreadRename {
    const KNOWN: &'static [&'static str] =
        &["op", "chat_id", "message_id", "thread_name", "only_if_current_name", "metadata"];

    pub(crate) fn from_reader(mut r: Reader<'_>) -> Result<Self, FieldError> {
        Ok(Self {
            chat_id: r.required_id("chat_id")?,
            message_id: r.required_id("message_id")?,
            thread_name: r.required_string("thread_name")?,
            only_if_current_name: r.string("only_if_current_name")?,
            metadata: r.object("metadata")?,
            extra: r.finish(),
        })
    }

    pub(crate) fn write<M: SerializeMap>(&self, w: &mut Writer<M>) -> Result<(), M::Error> {
        w.field("op", "thread_rename")?
            .field("chat_id", &self.chat_id)?
            .field("message_id", &self.message_id)?
            .field("thread_name", &self.thread_name)?
            .opt("only_if_current_name", &self.only_if_current_name)?
            .opt("metadata", &self.metadata)?
            .extra(&self.extra, Self::KNOWN)?;
        Ok(())
    }
}

/// `draft`: stream a draft message (needs `supports_draft_streaming` and `draft` in `supported_ops`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Draft {
    /// Target chat.
    pub chat_id: String,
    /// Draft id, stable across updates of one draft.
    pub draft_id: i64,
    /// Text so far.
    pub content: String,
    /// Last update of this draft.
    pub r#final: bool,
    /// Routing metadata; always written.
    pub metadata: Object,
    /// Unknown keys.
    pub extra: Extra,
}

impl Draft {
    const KNOWN: &'static [&'static str] = &["op", "chat_id", "draft_id", "content", "final", "metadata"];

    pub(crate) fn from_reader(mut r: Reader<'_>) -> Result<Self, FieldError> {
        Ok(Self {
            chat_id: r.required_id("chat_id")?,
            draft_id: r.required_int("draft_id")?,
            content: r.required_string("content")?,
            r#final: r.required_bool("final")?,
            metadata: r.object("metadata")?.unwrap_or_default(),
            extra: r.finish(),
        })
    }

    pub(crate) fn write<M: SerializeMap>(&self, w: &mut Writer<M>) -> Result<(), M::Error> {
        w.field("op", "draft")?
            .field("chat_id", &self.chat_id)?
            .field("draft_id", &self.draft_id)?
            .field("content", &self.content)?
            .field("final", &self.r#final)?
            .field("metadata", &self.metadata)?
            .extra(&self.extra, Self::KNOWN)?;
        Ok(())
    }
}
