//! The fast decode: typed frames read straight from the line by sonic-rs.
//!
//! `inbound` frames, the ones a peer sends every second, are read field by
//! field into their types, strings copied once from the line into the field
//! that keeps them; other frame types are read into the member list their
//! `from_reader`s take. Either way the rules are the strict decoder's: the
//! last of duplicate keys wins (each occurrence overwrites the field), `null`
//! reads as absent, unknown keys land in `extra`.
//!
//! It is modest on purpose: anything it cannot read exactly as the strict
//! decoder would — invalid JSON, a lone surrogate escape (sonic-rs refuses
//! it, the strict decoder repairs it), a mistyped or missing field, `type`
//! not first or twice, a wrong direction, a zero float, deep nesting —
//! makes it give up, and [`Frame::decode`] hands the line to the strict
//! decoder, whose frame or diagnostic stands.

use std::borrow::Cow;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::frame::Inbound;
use super::json::{Extra, Reader};
use serde_json::{Map, Value};

use super::node::{KeySeed, Node};
use super::{
    ContextItem, Direction, Frame, FrameType, Media, MessageEvent, MessageType, Platform, PromptResponse,
    ReplyTo, SessionSource,
};

/// The frame on `line` (which sonic-rs checks is UTF-8), or `None` to leave
/// the line to the strict decoder.
pub(crate) fn decode(line: &[u8], expect: Option<Direction>) -> Option<Frame> {
    let mut de = sonic_rs::Deserializer::from_slice(line);
    let frame = de.deserialize_map(FrameVisitor { expect }).ok()?;
    de.end().ok()?;
    Some(frame)
}

/// Fuzz oracle: wherever the fast decode takes a line, the strict decode
/// reads the same frame from it, down to the bytes it re-encodes to (frame
/// equality cannot tell `-0.0` from `0.0`).
#[cfg(any(test, feature = "sim"))]
pub(crate) fn check_against_reference(text: &str) {
    for expect in [None, Some(Direction::ToGateway), Some(Direction::ToConnector)] {
        if let Some(frame) = decode(text.as_bytes(), expect) {
            let strict = Frame::decode_strict(text, expect);
            assert_eq!(strict.as_ref(), Ok(&frame), "the fast and strict decoders disagree on {text}");
            assert_eq!(strict.map(|f| f.encode()), Ok(frame.encode()), "they encode differently: {text}");
        }
    }
}

/// The error that sends a line to the strict decoder (its text is never shown).
fn give_up<E: de::Error>() -> E {
    E::custom("left to the strict decoder")
}

struct FrameVisitor {
    expect: Option<Direction>,
}

impl<'de> Visitor<'de> for FrameVisitor {
    type Value = Frame;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a frame")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Frame, A::Error> {
        // Encoders, ours and the reference's, write `type` first.
        let frame_type = match map.next_key_seed(KeySeed)? {
            Some(key) if key == "type" => FrameType::from_name(&map.next_value_seed(KeySeed)?),
            _ => None,
        };
        let frame_type =
            frame_type.filter(|t| self.expect.is_none_or(|d| d == t.direction())).ok_or_else(give_up)?;
        if frame_type == FrameType::Inbound {
            return inbound(map);
        }
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(4));
        while let Some(key) = map.next_key_seed(KeySeed)? {
            if key == "type" {
                return Err(give_up());
            }
            entries.push((key, Node::Value(map.next_value_seed(ValueSeed::TOP)?)));
        }
        Frame::from_fields(frame_type, Reader::from_entries(entries)).map_err(|_| give_up())
    }
}

fn inbound<'de, A: MapAccess<'de>>(mut map: A) -> Result<Frame, A::Error> {
    let (mut event, mut buffer_id, mut extra) = (None, None, Extra::new());
    while let Some(key) = map.next_key_seed(KeySeed)? {
        match &*key {
            "event" => event = nested(&mut map)?,
            "bufferId" => buffer_id = map.next_value()?,
            "type" => return Err(give_up()),
            _ => keep(&mut extra, key, &mut map)?,
        }
    }
    Ok(Frame::Inbound(Inbound { event: event.ok_or_else(give_up)?, buffer_id, extra }))
}

/// A wire type read field by field from a JSON object.
trait Typed: Sized {
    fn read<'de, A: MapAccess<'de>>(map: A) -> Result<Self, A::Error>;
}

/// `T` through serde, read by [`Typed::read`].
struct Fast<T>(T);

impl<'de, T: Typed> Deserialize<'de> for Fast<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ObjectVisitor<T>(PhantomData<T>);

        impl<'de, T: Typed> Visitor<'de> for ObjectVisitor<T> {
            type Value = Fast<T>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object")
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Fast<T>, A::Error> {
                T::read(map).map(Fast)
            }
        }

        d.deserialize_map(ObjectVisitor(PhantomData))
    }
}

/// An identifier: a string, or an integer read as its decimal text.
struct Id(String);

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct IdVisitor;

        impl Visitor<'_> for IdVisitor {
            type Value = Id;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string or an integer")
            }

            fn visit_str<E>(self, v: &str) -> Result<Id, E> {
                Ok(Id(v.to_owned()))
            }

            fn visit_u64<E>(self, v: u64) -> Result<Id, E> {
                Ok(Id(v.to_string()))
            }

            fn visit_i64<E>(self, v: i64) -> Result<Id, E> {
                Ok(Id(v.to_string()))
            }
        }

        d.deserialize_any(IdVisitor)
    }
}

fn id<'de, A: MapAccess<'de>>(map: &mut A) -> Result<Option<String>, A::Error> {
    Ok(map.next_value::<Option<Id>>()?.map(|Id(id)| id))
}

fn nested<'de, T: Typed, A: MapAccess<'de>>(map: &mut A) -> Result<Option<T>, A::Error> {
    Ok(map.next_value::<Option<Fast<T>>>()?.map(|Fast(t)| t))
}

/// A list of objects; absent reads as empty.
fn objects<'de, T: Typed, A: MapAccess<'de>>(map: &mut A) -> Result<Vec<T>, A::Error> {
    let items = map.next_value::<Option<Vec<Fast<T>>>>()?;
    Ok(items.unwrap_or_default().into_iter().map(|Fast(t)| t).collect())
}

/// Keeps an unknown key; of duplicates the last wins, as in a map.
fn keep<'de, A: MapAccess<'de>>(extra: &mut Extra, key: Cow<'de, str>, map: &mut A) -> Result<(), A::Error> {
    let value = map.next_value_seed(ValueSeed::TOP)?;
    extra.insert(key.into_owned(), value);
    Ok(())
}

/// Reads any JSON value, refusing what sonic-rs might read differently from
/// `serde_json`: a zero float (sonic-rs drops the sign of `-0`) and nesting
/// anywhere near `serde_json`'s limit of 128 levels (sonic-rs allows 255).
#[derive(Clone, Copy)]
struct ValueSeed {
    levels_left: u8,
}

impl ValueSeed {
    /// Typed objects sit at most a few levels deep, well inside the limit.
    /// Deeper values are rare and left to the strict path: each level costs
    /// sonic-rs tens of KiB of stack in an unoptimized build.
    const TOP: Self = Self { levels_left: 32 };

    fn inner<E: de::Error>(self) -> Result<Self, E> {
        let levels_left = self.levels_left.checked_sub(1).ok_or_else(give_up)?;
        Ok(Self { levels_left })
    }
}

impl<'de> DeserializeSeed<'de> for ValueSeed {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(v.into())
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(v.into())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        if v == 0.0 {
            return Err(give_up());
        }
        // Finite: sonic-rs refuses what is not, as serde_json does.
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let inner = self.inner()?;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(inner)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let inner = self.inner()?;
        let mut object = Map::new();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            object.insert(key.into_owned(), map.next_value_seed(inner)?);
        }
        Ok(Value::Object(object))
    }
}

impl Typed for MessageEvent {
    fn read<'de, A: MapAccess<'de>>(mut map: A) -> Result<Self, A::Error> {
        let mut e = Self {
            text: String::new(),
            message_type: MessageType::Text,
            source: SessionSource::blank(),
            message_id: None,
            reply_to_message_id: None,
            media_urls: Vec::new(),
            media: Vec::new(),
            reply_to: None,
            context: Vec::new(),
            context_error: false,
            prompt_response: None,
            extra: Extra::new(),
        };
        let mut source = None;
        while let Some(key) = map.next_key_seed(KeySeed)? {
            match &*key {
                "text" => e.text = map.next_value::<Option<String>>()?.unwrap_or_default(),
                // Lenient: anything that is not a known name reads as text.
                "message_type" => {
                    let value = map.next_value_seed(ValueSeed::TOP)?;
                    e.message_type = value.as_str().map_or(MessageType::Text, MessageType::from_name);
                }
                "source" => source = nested(&mut map)?,
                "message_id" => e.message_id = id(&mut map)?,
                "reply_to_message_id" => e.reply_to_message_id = id(&mut map)?,
                "media_urls" => e.media_urls = map.next_value::<Option<_>>()?.unwrap_or_default(),
                "media" => e.media = objects(&mut map)?,
                "reply_to" => e.reply_to = nested(&mut map)?,
                "context" => e.context = objects(&mut map)?,
                "context_error" => e.context_error = map.next_value::<Option<_>>()?.unwrap_or(false),
                "prompt_response" => e.prompt_response = nested(&mut map)?,
                _ => keep(&mut e.extra, key, &mut map)?,
            }
        }
        Ok(Self { source: source.unwrap_or_default(), ..e })
    }
}

impl Typed for SessionSource {
    fn read<'de, A: MapAccess<'de>>(mut map: A) -> Result<Self, A::Error> {
        let (mut s, mut chat_type) = (Self::blank(), None);
        let (mut names, mut scope_id, mut guild_id) = ([None, None, None], None, None);
        while let Some(key) = map.next_key_seed(KeySeed)? {
            match &*key {
                "platform" => {
                    let name = map.next_value::<Option<&'de str>>()?;
                    s.platform = name.map(Platform::from_name).unwrap_or_default();
                }
                "chat_id" => s.chat_id = id(&mut map)?.unwrap_or_default(),
                "chat_name" => s.chat_name = map.next_value()?,
                "chat_type" => chat_type = map.next_value()?,
                "user_id" => s.user_id = id(&mut map)?,
                "user_display_name" => names[0] = map.next_value()?,
                "user_name" => names[1] = map.next_value()?,
                "user_handle" => names[2] = map.next_value()?,
                "thread_id" => s.thread_id = id(&mut map)?,
                "chat_topic" => s.chat_topic = map.next_value()?,
                "user_id_alt" => s.user_id_alt = id(&mut map)?,
                "chat_id_alt" => s.chat_id_alt = id(&mut map)?,
                "scope_id" => scope_id = id(&mut map)?,
                "guild_id" => guild_id = id(&mut map)?,
                "parent_chat_id" => s.parent_chat_id = id(&mut map)?,
                "message_id" => s.message_id = id(&mut map)?,
                "profile" => s.profile = map.next_value()?,
                "auto_thread_created" => {
                    s.auto_thread_created = map.next_value::<Option<_>>()?.unwrap_or(false)
                }
                "auto_thread_initial_name" => s.auto_thread_initial_name = map.next_value()?,
                "prospective_thread_id" => s.prospective_thread_id = id(&mut map)?,
                _ => keep(&mut s.extra, key, &mut map)?,
            }
        }
        s.chat_type = chat_type.unwrap_or_else(|| "dm".to_owned());
        Ok(s.settle(names, scope_id, guild_id))
    }
}

impl Typed for Media {
    fn read<'de, A: MapAccess<'de>>(mut map: A) -> Result<Self, A::Error> {
        let mut m = Self::default();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            match &*key {
                "url" => m.url = map.next_value::<Option<String>>()?.unwrap_or_default(),
                "mime" => m.mime = map.next_value()?,
                "kind" => m.kind = map.next_value()?,
                // An integer of i64's range that is not negative, as the strict decoder takes it.
                "size" => {
                    let size = map.next_value::<Option<i64>>()?;
                    m.size = size.map(|n| u64::try_from(n).map_err(|_| give_up())).transpose()?;
                }
                "filename" => m.filename = map.next_value()?,
                "caption" => m.caption = map.next_value()?,
                _ => keep(&mut m.extra, key, &mut map)?,
            }
        }
        Ok(m)
    }
}

impl Typed for ReplyTo {
    fn read<'de, A: MapAccess<'de>>(mut map: A) -> Result<Self, A::Error> {
        let mut r = Self::default();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            match &*key {
                "text" => r.text = map.next_value()?,
                "author" => r.author = map.next_value()?,
                "is_own" => r.is_own = map.next_value()?,
                _ => keep(&mut r.extra, key, &mut map)?,
            }
        }
        Ok(r)
    }
}

impl Typed for ContextItem {
    fn read<'de, A: MapAccess<'de>>(mut map: A) -> Result<Self, A::Error> {
        let mut c = Self::default();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            match &*key {
                "text" => c.text = map.next_value::<Option<String>>()?.unwrap_or_default(),
                "source" => c.source = nested(&mut map)?,
                _ => keep(&mut c.extra, key, &mut map)?,
            }
        }
        Ok(c)
    }
}

impl Typed for PromptResponse {
    fn read<'de, A: MapAccess<'de>>(mut map: A) -> Result<Self, A::Error> {
        let (mut prompt_id, mut option_id, mut p) = (None, None, Self::default());
        while let Some(key) = map.next_key_seed(KeySeed)? {
            match &*key {
                "prompt_id" => prompt_id = map.next_value()?,
                "option_id" => option_id = map.next_value()?,
                "label" => p.label = map.next_value()?,
                "prompt_message_id" => p.prompt_message_id = id(&mut map)?,
                _ => keep(&mut p.extra, key, &mut map)?,
            }
        }
        Ok(Self { prompt_id: prompt_id.ok_or_else(give_up)?, option_id: option_id.ok_or_else(give_up)?, ..p })
    }
}

#[cfg(test)]
#[path = "fast_tests.rs"]
mod tests;
