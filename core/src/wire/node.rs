//! The parsed JSON tree the decoder reads fields from, and its reference parser.
//!
//! Objects and arrays are plain vectors and strings borrow from the line when
//! they hold no escape, so reading a frame builds no `BTreeMap` and copies
//! each string once, into the field that keeps it; only what lands in
//! [`Extra`](super::Extra) or an [`Object`] field becomes a [`Value`].
//!
//! [`parse_node`] drives `serde_json` and is the reference: its grammar,
//! limits and error messages are the decoder's. The fast decoder
//! ([`fast`](super::fast)) reads the lines it is sure about without this
//! tree and hands every other line to this one.

use std::borrow::Cow;

use serde_json::Value;

use super::json::Object;

/// One object member: its key and value, in document order.
pub(crate) type Entry<'a> = (Cow<'a, str>, Node<'a>);

/// A parsed JSON value as the decoder holds it.
#[derive(Debug)]
pub(crate) enum Node<'a> {
    /// Null, a boolean or a number; or any value of an owned [`Object`] being read.
    Value(Value),
    /// A string, borrowed from the line unless it had escapes.
    Str(Cow<'a, str>),
    /// A JSON array.
    Array(Vec<Self>),
    /// A JSON object, keys in document order (duplicates included).
    Object(Vec<Entry<'a>>),
    /// A field a [`Reader`](super::json::Reader) already took (never produced by parsing).
    Taken,
}

impl Node<'_> {
    pub(crate) fn is_null(&self) -> bool {
        matches!(self, Self::Value(Value::Null))
    }

    /// The text of a string.
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Self::Str(s) => Some(s),
            Self::Value(Value::String(s)) => Some(s),
            _ => None,
        }
    }

    /// The JSON type, as named in error messages.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Self::Value(Value::Null) => "null",
            Self::Value(Value::Bool(_)) => "a boolean",
            Self::Value(Value::Number(_)) => "a number",
            Self::Value(Value::String(_)) | Self::Str(_) => "a string",
            Self::Value(Value::Array(_)) | Self::Array(_) => "a list",
            Self::Value(Value::Object(_)) | Self::Object(_) => "an object",
            Self::Taken => "nothing",
        }
    }

    /// The owned value (duplicate keys: the last wins, as in `serde_json`).
    pub(crate) fn into_value(self) -> Value {
        match self {
            Self::Value(v) => v,
            Self::Str(s) => Value::String(s.into_owned()),
            Self::Array(items) => Value::Array(items.into_iter().map(Node::into_value).collect()),
            Self::Object(entries) => Value::Object(into_object(entries)),
            Self::Taken => Value::Null,
        }
    }
}

/// The entries as an owned map; of duplicate keys the last wins.
pub(crate) fn into_object(entries: Vec<Entry<'_>>) -> Object {
    let mut object = Object::new();
    for (k, v) in entries {
        object.insert(k.into_owned(), v.into_value());
    }
    object
}

/// Parses JSON text into a [`Node`] (same grammar, limits and errors as `serde_json::Value`).
pub(crate) fn parse_node(text: &str) -> Result<Node<'_>, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(text);
    let node = serde::de::DeserializeSeed::deserialize(NodeSeed, &mut de)?;
    de.end()?;
    Ok(node)
}

struct NodeSeed;

impl<'de> serde::de::DeserializeSeed<'de> for NodeSeed {
    type Value = Node<'de>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Node<'de>, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> serde::de::Visitor<'de> for NodeVisitor {
    type Value = Node<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Node<'de>, E> {
        Ok(Node::Value(Value::Bool(v)))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Node<'de>, E> {
        Ok(Node::Value(Value::Number(v.into())))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Node<'de>, E> {
        Ok(Node::Value(Value::Number(v.into())))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Node<'de>, E> {
        // As serde_json's own Value: a non-finite float (never produced by its parser) is null.
        Ok(Node::Value(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)))
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Node<'de>, E> {
        Ok(Node::Str(Cow::Borrowed(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Node<'de>, E> {
        Ok(Node::Str(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E>(self, v: String) -> Result<Node<'de>, E> {
        Ok(Node::Str(Cow::Owned(v)))
    }

    fn visit_unit<E>(self) -> Result<Node<'de>, E> {
        Ok(Node::Value(Value::Null))
    }

    fn visit_none<E>(self) -> Result<Node<'de>, E> {
        Ok(Node::Value(Value::Null))
    }

    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Node<'de>, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Node<'de>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element_seed(NodeSeed)? {
            items.push(item);
        }
        Ok(Node::Array(items))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Node<'de>, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(8));
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let value = map.next_value_seed(NodeSeed)?;
            entries.push((key, value));
        }
        Ok(Node::Object(entries))
    }
}

/// Reads an object key (or any string), borrowed from the line when it has no escape.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeySeed;

impl<'de> serde::de::DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Cow<'de, str>, D::Error> {
        d.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> serde::de::Visitor<'de> for KeyVisitor {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an object key")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(v))
    }
}
