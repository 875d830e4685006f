//! Lenient JSON object reading and ordered object writing shared by every wire type.
//!
//! Reading follows PROTOCOL §1 and §4: explicit `null` counts as absent, known
//! keys are taken out of the object, and whatever is left over is kept as
//! [`Extra`] so it survives decode → encode.

use std::borrow::Cow;
use std::collections::BTreeSet;

use serde::ser::SerializeMap;
use serde_json::{Map, Value};

use super::node::{Entry, Node, into_object};

/// Keys a wire type does not know, kept verbatim so a decode → encode round trip loses nothing.
pub type Extra = Map<String, Value>;

/// A JSON object (`metadata` fields and similar free-form maps).
pub type Object = Map<String, Value>;

/// A known field that is missing or has the wrong type (diagnostic `bad_field`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {problem}")]
pub struct FieldError {
    /// Dotted path of the field inside the frame, e.g. `event.source.chat_id`.
    pub path: String,
    /// What is wrong with it.
    pub problem: String,
}

impl FieldError {
    pub(crate) fn new(field: &str, problem: impl Into<String>) -> Self {
        Self { path: field.to_owned(), problem: problem.into() }
    }

    /// Prefixes the path with the name of the enclosing field.
    pub(crate) fn within(mut self, parent: &str) -> Self {
        self.path = format!("{parent}.{}", self.path);
        self
    }
}

fn mistyped(field: &str, expected: &str, got: &Node<'_>) -> FieldError {
    FieldError::new(field, format!("expected {expected}, got {}", got.type_name()))
}

/// The bit standing for `key` in a reader's key mask: length and three bytes
/// mixed into six bits, cheap enough to compute on every lookup.
fn key_bit(key: &str) -> u64 {
    let b = key.as_bytes();
    let sample = match b {
        [] => 0,
        [first, .., last] => u32::from(*first) | u32::from(b[b.len() / 2]) << 8 | u32::from(*last) << 16,
        [only] => u32::from(*only),
    };
    // Truncation is fine: the length only feeds the hash.
    let h = (b.len() as u32).wrapping_mul(0x9E37_79B1) ^ sample.wrapping_mul(0x85EB_CA77);
    1 << (h >> 26)
}

/// Whether two members share a key, given that two keys share a mask bit.
/// Frames have few keys per object, so pairwise comparison beats building a
/// set; large objects get a sorted copy.
fn has_duplicate_keys(entries: &[Entry<'_>]) -> bool {
    if entries.len() <= 16 {
        return entries.iter().enumerate().any(|(i, (k, _))| entries[..i].iter().any(|(seen, _)| seen == k));
    }
    let mut keys: Vec<&str> = entries.iter().map(|(k, _)| k.as_ref()).collect();
    keys.sort_unstable();
    keys.windows(2).any(|w| w[0] == w[1])
}

/// Takes known fields out of a JSON object; what remains becomes [`Extra`].
///
/// The fields of an object are a list in document order with duplicate keys
/// already resolved (the last wins, as in a JSON map), and `null` reads as absent.
pub(crate) struct Reader<'a> {
    entries: Vec<Entry<'a>>,
    /// Where the next lookup starts: types take their fields in the order
    /// encoders write them, so the wanted key is usually the next one.
    cursor: usize,
    /// The [`key_bit`]s of the keys present: most lookups are for optional
    /// fields that are absent, and this answers them without a scan.
    mask: u64,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(object: Object) -> Self {
        let entries: Vec<Entry<'a>> =
            object.into_iter().map(|(k, v)| (Cow::Owned(k), Node::Value(v))).collect();
        let mask = entries.iter().fold(0, |mask, (k, _)| mask | key_bit(k));
        Self { entries, cursor: 0, mask }
    }

    /// A reader over parsed object entries; of duplicate keys only the last is kept.
    pub(crate) fn from_entries(mut entries: Vec<Entry<'a>>) -> Self {
        let mut mask = 0;
        let mut collision = false;
        for (k, _) in &entries {
            let bit = key_bit(k);
            collision |= mask & bit != 0;
            mask |= bit;
        }
        // Distinct bits mean distinct keys: only a shared bit needs the exact check.
        if collision && has_duplicate_keys(&entries) {
            let mut seen = BTreeSet::new();
            let keep: Vec<bool> = entries.iter().rev().map(|(k, _)| seen.insert(k.as_ref())).collect();
            let mut keep = keep.into_iter().rev();
            entries.retain(|_| keep.next().unwrap_or(false));
        }
        Self { entries, cursor: 0, mask }
    }

    /// Removes `key`; `null` reads as absent.
    pub(crate) fn take_node(&mut self, key: &str) -> Option<Node<'a>> {
        if self.mask & key_bit(key) == 0 {
            return None;
        }
        let is_key = |(k, v): &Entry<'_>| k == key && !matches!(v, Node::Taken);
        let (wrapped, ahead) = self.entries.split_at(self.cursor.min(self.entries.len()));
        let at = match ahead.iter().position(is_key) {
            Some(i) => wrapped.len() + i,
            None => wrapped.iter().position(is_key)?,
        };
        self.cursor = at + 1;
        Some(std::mem::replace(&mut self.entries[at].1, Node::Taken)).filter(|v| !v.is_null())
    }

    /// Removes `key`; `null` reads as absent.
    pub(crate) fn take(&mut self, key: &str) -> Option<Value> {
        self.take_node(key).map(Node::into_value)
    }

    /// A string field as it sits in the line: for fields that are only
    /// looked at, which then cost no copy.
    pub(crate) fn str(&mut self, key: &str) -> Result<Option<Cow<'a, str>>, FieldError> {
        match self.take_node(key) {
            None => Ok(None),
            Some(Node::Str(s)) => Ok(Some(s)),
            Some(Node::Value(Value::String(s))) => Ok(Some(Cow::Owned(s))),
            Some(other) => Err(mistyped(key, "a string", &other)),
        }
    }

    pub(crate) fn string(&mut self, key: &str) -> Result<Option<String>, FieldError> {
        Ok(self.str(key)?.map(Cow::into_owned))
    }

    pub(crate) fn required_string(&mut self, key: &str) -> Result<String, FieldError> {
        self.string(key)?.ok_or_else(|| FieldError::new(key, "missing"))
    }

    /// An identifier: a string, or an integer read as its decimal text
    /// (several platforms number their chats, users and messages).
    pub(crate) fn id(&mut self, key: &str) -> Result<Option<String>, FieldError> {
        match self.take_node(key) {
            None => Ok(None),
            Some(Node::Str(s)) => Ok(Some(s.into_owned())),
            Some(Node::Value(Value::String(s))) => Ok(Some(s)),
            Some(Node::Value(Value::Number(n))) if n.is_i64() || n.is_u64() => Ok(Some(n.to_string())),
            Some(other) => Err(mistyped(key, "a string", &other)),
        }
    }

    pub(crate) fn required_id(&mut self, key: &str) -> Result<String, FieldError> {
        self.id(key)?.ok_or_else(|| FieldError::new(key, "missing"))
    }

    pub(crate) fn bool(&mut self, key: &str) -> Result<Option<bool>, FieldError> {
        match self.take_node(key) {
            None => Ok(None),
            Some(Node::Value(Value::Bool(b))) => Ok(Some(b)),
            Some(other) => Err(mistyped(key, "a boolean", &other)),
        }
    }

    pub(crate) fn required_bool(&mut self, key: &str) -> Result<bool, FieldError> {
        self.bool(key)?.ok_or_else(|| FieldError::new(key, "missing"))
    }

    pub(crate) fn int(&mut self, key: &str) -> Result<Option<i64>, FieldError> {
        match self.take_node(key) {
            None => Ok(None),
            Some(Node::Value(Value::Number(n))) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| FieldError::new(key, format!("expected an integer, got {n}"))),
            Some(other) => Err(mistyped(key, "an integer", &other)),
        }
    }

    pub(crate) fn required_int(&mut self, key: &str) -> Result<i64, FieldError> {
        self.int(key)?.ok_or_else(|| FieldError::new(key, "missing"))
    }

    pub(crate) fn number(&mut self, key: &str) -> Result<Option<f64>, FieldError> {
        match self.take_node(key) {
            None => Ok(None),
            Some(Node::Value(Value::Number(n))) => Ok(n.as_f64()),
            Some(other) => Err(mistyped(key, "a number", &other)),
        }
    }

    pub(crate) fn object(&mut self, key: &str) -> Result<Option<Object>, FieldError> {
        match self.take_node(key) {
            None => Ok(None),
            Some(Node::Object(entries)) => Ok(Some(into_object(entries))),
            Some(Node::Value(Value::Object(o))) => Ok(Some(o)),
            Some(other) => Err(mistyped(key, "an object", &other)),
        }
    }

    /// An object field as a reader of its own (no conversion to [`Object`]).
    pub(crate) fn object_reader(&mut self, key: &str) -> Result<Option<Self>, FieldError> {
        match self.take_node(key) {
            None => Ok(None),
            Some(Node::Object(entries)) => Ok(Some(Self::from_entries(entries))),
            Some(Node::Value(Value::Object(o))) => Ok(Some(Self::new(o))),
            Some(other) => Err(mistyped(key, "an object", &other)),
        }
    }

    pub(crate) fn required_object_reader(&mut self, key: &str) -> Result<Self, FieldError> {
        self.object_reader(key)?.ok_or_else(|| FieldError::new(key, "missing"))
    }

    fn list_nodes(&mut self, key: &str) -> Result<Option<Vec<Node<'a>>>, FieldError> {
        match self.take_node(key) {
            None => Ok(None),
            Some(Node::Array(items)) => Ok(Some(items)),
            Some(Node::Value(Value::Array(items))) => Ok(Some(items.into_iter().map(Node::Value).collect())),
            Some(other) => Err(mistyped(key, "a list", &other)),
        }
    }

    pub(crate) fn list(&mut self, key: &str) -> Result<Option<Vec<Value>>, FieldError> {
        Ok(self.list_nodes(key)?.map(|items| items.into_iter().map(Node::into_value).collect()))
    }

    /// A list of strings; absent reads as empty.
    pub(crate) fn strings(&mut self, key: &str) -> Result<Vec<String>, FieldError> {
        let Some(items) = self.list_nodes(key)? else { return Ok(Vec::new()) };
        items
            .into_iter()
            .enumerate()
            .map(|(i, item)| match item {
                Node::Str(s) => Ok(s.into_owned()),
                Node::Value(Value::String(s)) => Ok(s),
                other => Err(mistyped(&format!("{key}[{i}]"), "a string", &other)),
            })
            .collect()
    }

    /// A list of objects, each read by `parse` from a reader of its own; absent reads as empty.
    pub(crate) fn object_readers<T>(
        &mut self,
        key: &str,
        parse: impl Fn(Self) -> Result<T, FieldError>,
    ) -> Result<Vec<T>, FieldError> {
        let Some(items) = self.list_nodes(key)? else { return Ok(Vec::new()) };
        items
            .into_iter()
            .enumerate()
            .map(|(i, item)| {
                let reader = match item {
                    Node::Object(entries) => Self::from_entries(entries),
                    Node::Value(Value::Object(o)) => Self::new(o),
                    other => return Err(mistyped(&format!("{key}[{i}]"), "an object", &other)),
                };
                parse(reader).map_err(|e| e.within(&format!("{key}[{i}]")))
            })
            .collect()
    }

    /// An optional nested object read by `parse` from a reader of its own.
    pub(crate) fn nested_reader<T>(
        &mut self,
        key: &str,
        parse: impl FnOnce(Self) -> Result<T, FieldError>,
    ) -> Result<Option<T>, FieldError> {
        self.object_reader(key)?.map(|r| parse(r).map_err(|e| e.within(key))).transpose()
    }

    /// The keys nobody took.
    pub(crate) fn finish(self) -> Extra {
        let mut extra = Extra::new();
        for (k, v) in self.entries {
            if !matches!(v, Node::Taken) {
                extra.insert(k.into_owned(), v.into_value());
            }
        }
        extra
    }
}

/// A key the code itself names, never one a peer sent: serialized as the
/// string it is (serde_json writes a newtype as its value), which the line
/// serializer copies without an escape scan, since no such name holds a
/// byte to escape. Half the strings of an inbound frame are its keys.
struct FieldName(&'static str);

/// The newtype name the line serializer recognises a [`FieldName`] by.
pub(crate) const FIELD_NAME: &str = "relay::FieldName";

impl serde::Serialize for FieldName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_newtype_struct(FIELD_NAME, self.0)
    }
}

/// Writes a JSON object field by field, in the order the calls are made.
pub(crate) struct Writer<M> {
    map: M,
}

impl<M: SerializeMap> Writer<M> {
    pub(crate) fn new(map: M) -> Self {
        Self { map }
    }

    pub(crate) fn field<T: serde::Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<&mut Self, M::Error> {
        self.map.serialize_entry(&FieldName(key), value)?;
        Ok(self)
    }

    /// Writes a member whose key may be anything, a peer's included.
    pub(crate) fn entry<T: serde::Serialize + ?Sized>(
        &mut self,
        key: &str,
        value: &T,
    ) -> Result<&mut Self, M::Error> {
        self.map.serialize_entry(key, value)?;
        Ok(self)
    }

    /// Writes the field only when it has a value.
    pub(crate) fn opt<T: serde::Serialize>(
        &mut self,
        key: &'static str,
        value: &Option<T>,
    ) -> Result<&mut Self, M::Error> {
        if let Some(v) = value {
            self.map.serialize_entry(&FieldName(key), v)?;
        }
        Ok(self)
    }

    /// Writes the field only when it is present and not empty.
    pub(crate) fn non_empty(
        &mut self,
        key: &'static str,
        value: &Option<String>,
    ) -> Result<&mut Self, M::Error> {
        match value {
            Some(v) if !v.is_empty() => self.field(key, v),
            _ => Ok(self),
        }
    }

    /// Appends the unknown keys, skipping any that would repeat a known one.
    pub(crate) fn extra(&mut self, extra: &Extra, known: &[&str]) -> Result<&mut Self, M::Error> {
        for (k, v) in extra {
            if !known.contains(&k.as_str()) {
                self.map.serialize_entry(k, v)?;
            }
        }
        Ok(self)
    }

    pub(crate) fn end(self) -> Result<M::Ok, M::Error> {
        self.map.end()
    }
}

/// Wraps a [`FieldError`] for serde's `Deserialize` implementations.
pub(crate) fn to_de_error<E: serde::de::Error>(e: FieldError) -> E {
    E::custom(e)
}

/// Implements `Deserialize` (through a JSON object and the type's `from_reader`)
/// and `Serialize` (through the type's `write`) for a wire type.
macro_rules! json_object_serde {
    ($ty:ty) => {
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let object = $crate::wire::json::Object::deserialize(d)?;
                Self::from_reader($crate::wire::json::Reader::new(object))
                    .map_err($crate::wire::json::to_de_error)
            }
        }

        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let map = s.serialize_map(None)?;
                let mut w = $crate::wire::json::Writer::new(map);
                self.write(&mut w)?;
                w.end()
            }
        }
    };
}
pub(crate) use json_object_serde;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::node::into_object;

    fn entries(keys: &[&'static str]) -> Vec<Entry<'static>> {
        keys.iter().enumerate().map(|(i, k)| (Cow::Borrowed(*k), Node::Value(i.into()))).collect()
    }

    #[test]
    fn duplicates_keep_the_last_whatever_the_mask_bits() {
        // Many distinct keys share mask bits; duplicates among them must still be found.
        let keys: Vec<&'static str> =
            (0..80).map(|i| &*Box::leak(format!("k{i}").into_boxed_str())).collect();
        for dup in [0, 7, 40, 79] {
            let mut with_dup = keys.clone();
            with_dup.push(keys[dup]);
            for set in [&with_dup[..], &with_dup[70..], &keys[..]] {
                assert_eq!(Reader::from_entries(entries(set)).finish(), into_object(entries(set)));
            }
        }
    }

    #[test]
    fn lookups_find_present_keys_and_skip_absent_ones() {
        let mut r = Reader::from_entries(entries(&["", "a", "chat_id", "user_id", "message_id"]));
        assert_eq!(r.take("user_id"), Some(3.into()));
        assert_eq!(r.take("user_id"), None, "taken once");
        assert_eq!(r.take("thread_id"), None);
        assert_eq!(r.take(""), Some(0.into()));
        assert_eq!(r.take("chat_id"), Some(2.into()));
        assert_eq!(r.finish().keys().collect::<Vec<_>>(), ["a", "message_id"]);
    }
}
