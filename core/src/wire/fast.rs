//! The fast decode: typed frames read straight from the line.
//!
//! The two lines of a request's round trip in relay's own compact form are
//! read first by their exact shape (`fast_canonical.rs`), without a parser.
//! Other lines go through a JSON reader of our own (`fast_parser.rs`), a
//! serde deserializer that borrows strings from the line. `inbound` frames,
//! the ones a peer sends every second, and the frames of a request's round
//! trip (`outbound` with a `send` action, `outbound_result`) are read field
//! by field into their types, strings copied once from the line into the
//! field that keeps them; other frame types are read into the member list
//! their `from_reader`s take. Either way the rules are the strict decoder's:
//! the last of duplicate keys wins (each occurrence overwrites the field),
//! `null` reads as absent, unknown keys land in `extra`.
//!
//! It is modest on purpose: anything it cannot read exactly as the strict
//! decoder would — invalid JSON, a lone surrogate escape (the strict decoder
//! repairs it), a mistyped or missing field, `type` not first or twice, a
//! wrong direction, deep nesting — makes it give up, and [`Frame::decode`]
//! hands the line to the strict decoder, whose frame or diagnostic stands.

use std::borrow::Cow;

use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::frame::Inbound;
use super::json::{Extra, Reader};
use super::node::{KeySeed, Node};
use super::{Direction, Frame, FrameType, MessageEvent, MessageType};

/// The frame on `line`, or `None` to leave the line to the strict decoder.
pub(crate) fn decode(line: &[u8], expect: Option<Direction>) -> Option<Frame> {
    if let Some(frame) = canonical::decode(line, expect) {
        return Some(frame);
    }
    let mut parser = Parser::new(line)?;
    let mut frame = None;
    (&mut parser).deserialize_map(FrameVisitor { expect, frame: &mut frame }).ok()?;
    parser.end().ok()?;
    frame
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

/// Reads a frame into `frame`, in place: an `inbound` event is large, and
/// moving it up through every layer of serde costs more than reading it.
struct FrameVisitor<'a> {
    expect: Option<Direction>,
    frame: &'a mut Option<Frame>,
}

impl<'de> Visitor<'de> for FrameVisitor<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a frame")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        // Encoders, ours and the reference's, write `type` first.
        let frame_type = match map.next_key_seed(KeySeed)? {
            Some(key) if key == "type" => FrameType::from_name(&map.next_value_seed(KeySeed)?),
            _ => None,
        };
        let frame_type =
            frame_type.filter(|t| self.expect.is_none_or(|d| d == t.direction())).ok_or_else(give_up)?;
        if frame_type == FrameType::Inbound {
            let inbound =
                Inbound { event: Box::new(MessageEvent::fresh()), buffer_id: None, extra: Extra::new() };
            let Frame::Inbound(inbound) = self.frame.insert(Frame::Inbound(inbound)) else {
                unreachable!("an inbound frame was just put there")
            };
            return read_inbound(map, inbound);
        }
        match frame_type {
            FrameType::Outbound => return ops::read_outbound(map, self.frame),
            FrameType::OutboundResult => return ops::read_outbound_result(map, self.frame),
            _ => {}
        }
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(4));
        while let Some(key) = map.next_key_seed(KeySeed)? {
            if key == "type" {
                return Err(give_up());
            }
            entries.push((key, Node::Value(map.next_value_seed(ValueSeed)?)));
        }
        let frame = Frame::from_fields(frame_type, Reader::from_entries(entries)).map_err(|_| give_up())?;
        *self.frame = Some(frame);
        Ok(())
    }
}

fn read_inbound<'de, A: MapAccess<'de>>(mut map: A, f: &mut Inbound) -> Result<(), A::Error> {
    let mut has_event = false;
    while let Some(key) = map.next_key_seed(KeySeed)? {
        match &*key {
            "event" => has_event = map.next_value_seed(InPlace(&mut *f.event))?,
            "bufferId" => f.buffer_id = map.next_value()?,
            "type" => return Err(give_up()),
            _ => keep(&mut f.extra, key, &mut map)?,
        }
    }
    if has_event { Ok(()) } else { Err(give_up()) }
}

/// Reads an object into the slot, replacing what an earlier occurrence of
/// the key left there; `null` reads as absent (`false`).
struct InPlace<'a, T>(&'a mut T);

impl<'de, T: Typed> DeserializeSeed<'de> for InPlace<'_, T> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de, T: Typed> Visitor<'de> for InPlace<'_, T> {
    type Value = bool;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an object or null")
    }

    fn visit_none<E>(self) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_map(self)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<bool, A::Error> {
        *self.0 = T::fresh();
        self.0.read(map)?;
        Ok(true)
    }
}

/// A wire type read field by field from a JSON object.
trait Typed: Default {
    /// Reads the members of an object into `self`, which is [`fresh`](Self::fresh).
    fn read<'de, A: MapAccess<'de>>(&mut self, map: A) -> Result<(), A::Error>;

    /// The value reading starts from: the default, without allocating.
    fn fresh() -> Self {
        Self::default()
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

/// An optional object, read in place.
fn nested<'de, T: Typed, A: MapAccess<'de>>(map: &mut A, slot: &mut Option<T>) -> Result<(), A::Error> {
    if !map.next_value_seed(InPlace(slot.get_or_insert_with(T::fresh)))? {
        *slot = None;
    }
    Ok(())
}

/// A list of objects, read in place; absent reads as empty.
fn objects<'de, T: Typed, A: MapAccess<'de>>(map: &mut A, list: &mut Vec<T>) -> Result<(), A::Error> {
    map.next_value_seed(List(list))
}

struct List<'a, T>(&'a mut Vec<T>);

impl<'de, T: Typed> DeserializeSeed<'de> for List<'_, T> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de, T: Typed> Visitor<'de> for List<'_, T> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a list of objects or null")
    }

    fn visit_none<E>(self) -> Result<(), E> {
        self.0.clear();
        Ok(())
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.0.clear();
        while seq.next_element_seed(Item(&mut *self.0))?.is_some() {}
        Ok(())
    }
}

/// The next object of a [`List`].
struct Item<'a, T>(&'a mut Vec<T>);

impl<'de, T: Typed> DeserializeSeed<'de> for Item<'_, T> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        self.0.push(T::fresh());
        let item = self.0.last_mut().expect("just pushed");
        d.deserialize_map(InPlace(item)).map(drop)
    }
}

/// A `message_type`: anything that is not a known name reads as text.
struct Lenient;

impl<'de> DeserializeSeed<'de> for Lenient {
    type Value = MessageType;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<MessageType, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Lenient {
    type Value = MessageType;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_str<E>(self, v: &str) -> Result<MessageType, E> {
        Ok(MessageType::from_name(v))
    }

    fn visit_bool<E>(self, _: bool) -> Result<MessageType, E> {
        Ok(MessageType::Text)
    }

    fn visit_i64<E>(self, _: i64) -> Result<MessageType, E> {
        Ok(MessageType::Text)
    }

    fn visit_u64<E>(self, _: u64) -> Result<MessageType, E> {
        Ok(MessageType::Text)
    }

    fn visit_f64<E>(self, _: f64) -> Result<MessageType, E> {
        Ok(MessageType::Text)
    }

    fn visit_unit<E>(self) -> Result<MessageType, E> {
        Ok(MessageType::Text)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<MessageType, A::Error> {
        de::IgnoredAny.visit_seq(seq).map(|_| MessageType::Text)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<MessageType, A::Error> {
        de::IgnoredAny.visit_map(map).map(|_| MessageType::Text)
    }
}

/// Keeps an unknown key; of duplicates the last wins, as in a map.
fn keep<'de, A: MapAccess<'de>>(extra: &mut Extra, key: Cow<'de, str>, map: &mut A) -> Result<(), A::Error> {
    let value = map.next_value_seed(ValueSeed)?;
    extra.insert(key.into_owned(), value);
    Ok(())
}

/// Reads any JSON value into a `serde_json` one (the reader bounds its depth).
#[derive(Clone, Copy)]
struct ValueSeed;

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
        // Finite: the reader refuses what is not, as serde_json does.
        serde_json::Number::from_f64(v).map(Value::Number).ok_or_else(give_up)
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            object.insert(key.into_owned(), map.next_value_seed(self)?);
        }
        Ok(Value::Object(object))
    }
}

#[path = "fast_canonical.rs"]
mod canonical;
#[path = "fast_ops.rs"]
mod ops;
#[path = "fast_parser.rs"]
mod parser;
use parser::Parser;

#[path = "fast_typed.rs"]
mod typed;

#[cfg(test)]
#[path = "fast_tests.rs"]
mod tests;
