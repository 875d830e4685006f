//! A compact JSON serializer whose output is byte for byte `serde_json`'s,
//! for the frames `encode_fast.rs` does not write by hand.
//!
//! `serde_json` looks at every byte of every string on its own; an inbound
//! event is mostly text, and that loop was a third of a connector's
//! instructions when it pushes. Here strings go through the escaper of
//! `encode_fast.rs`, eight bytes at a time, integers through `itoa` (as in
//! `serde_json`) and floats through `serde_json`'s own formatter. The shapes our frames never take
//! (structs, tuples, enum variants, bytes, non-string keys) are errors, and
//! [`Frame::encode_line`](super::Frame::encode_line) then falls back to
//! `serde_json`, so a value this cannot write is still written.

use serde::ser::{self, Serialize};
use serde_json::ser::{CompactFormatter, Formatter as _};

use super::encode_fast::string;
use super::json::FIELD_NAME;
use super::scan::clean_prefix;

/// Serializes `value` onto the end of `out`; on error `out` holds a partial write.
pub(crate) fn write<T: Serialize + ?Sized>(out: &mut String, value: &T) -> Result {
    value.serialize(LineSerializer { out, verbatim: false })
}

/// A value of a shape no frame has.
#[derive(Debug)]
pub(crate) struct Unsupported;

impl std::fmt::Display for Unsupported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a shape the line serializer does not write")
    }
}

impl std::error::Error for Unsupported {}

impl ser::Error for Unsupported {
    fn custom<M: std::fmt::Display>(_: M) -> Self {
        Self
    }
}

/// A float as serde_json writes it, by serde_json's own formatter (its
/// shortest-digits algorithm has changed between versions); `null` when it
/// is not finite, as in serde_json.
fn float(
    out: &mut String,
    finite: bool,
    format: impl FnOnce(&mut CompactFormatter, &mut &mut [u8]) -> std::io::Result<()>,
) -> Result {
    if !finite {
        out.push_str("null");
        return Ok(());
    }
    let mut buffer = [0u8; 40];
    let mut rest = &mut buffer[..];
    format(&mut CompactFormatter, &mut rest).map_err(|_| Unsupported)?;
    let written = 40 - rest.len();
    out.push_str(std::str::from_utf8(&buffer[..written]).map_err(|_| Unsupported)?);
    Ok(())
}

struct LineSerializer<'a> {
    out: &'a mut String,
    /// The next string is a [`FieldName`]: written without the escape scan.
    verbatim: bool,
}

/// An object or array being written: whether a member was written yet.
struct Compound<'a> {
    out: &'a mut String,
    first: bool,
}

impl Compound<'_> {
    fn separate(&mut self) {
        if !std::mem::take(&mut self.first) {
            self.out.push(',');
        }
    }
}

type Result<T = ()> = std::result::Result<T, Unsupported>;

impl<'a> ser::Serializer for LineSerializer<'a> {
    type Ok = ();
    type Error = Unsupported;
    type SerializeSeq = Compound<'a>;
    type SerializeTuple = ser::Impossible<(), Unsupported>;
    type SerializeTupleStruct = ser::Impossible<(), Unsupported>;
    type SerializeTupleVariant = ser::Impossible<(), Unsupported>;
    type SerializeMap = Compound<'a>;
    type SerializeStruct = ser::Impossible<(), Unsupported>;
    type SerializeStructVariant = ser::Impossible<(), Unsupported>;

    fn serialize_bool(self, v: bool) -> Result {
        self.out.push_str(if v { "true" } else { "false" });
        Ok(())
    }

    fn serialize_i8(self, v: i8) -> Result {
        self.serialize_i64(v.into())
    }

    fn serialize_i16(self, v: i16) -> Result {
        self.serialize_i64(v.into())
    }

    fn serialize_i32(self, v: i32) -> Result {
        self.serialize_i64(v.into())
    }

    fn serialize_i64(self, v: i64) -> Result {
        self.out.push_str(itoa::Buffer::new().format(v));
        Ok(())
    }

    fn serialize_i128(self, v: i128) -> Result {
        self.out.push_str(itoa::Buffer::new().format(v));
        Ok(())
    }

    fn serialize_u8(self, v: u8) -> Result {
        self.serialize_u64(v.into())
    }

    fn serialize_u16(self, v: u16) -> Result {
        self.serialize_u64(v.into())
    }

    fn serialize_u32(self, v: u32) -> Result {
        self.serialize_u64(v.into())
    }

    fn serialize_u64(self, v: u64) -> Result {
        self.out.push_str(itoa::Buffer::new().format(v));
        Ok(())
    }

    fn serialize_u128(self, v: u128) -> Result {
        self.out.push_str(itoa::Buffer::new().format(v));
        Ok(())
    }

    fn serialize_f32(self, v: f32) -> Result {
        float(self.out, v.is_finite(), |f, w| f.write_f32(w, v))
    }

    fn serialize_f64(self, v: f64) -> Result {
        float(self.out, v.is_finite(), |f, w| f.write_f64(w, v))
    }

    fn serialize_char(self, v: char) -> Result {
        string(self.out, v.encode_utf8(&mut [0; 4]));
        Ok(())
    }

    fn serialize_str(self, v: &str) -> Result {
        if self.verbatim {
            debug_assert_eq!(clean_prefix(v.as_bytes()), v.len(), "a field name to escape: {v:?}");
            self.out.reserve(v.len() + 2);
            self.out.push('"');
            self.out.push_str(v);
            self.out.push('"');
        } else {
            string(self.out, v);
        }
        Ok(())
    }

    fn serialize_bytes(self, _: &[u8]) -> Result {
        Err(Unsupported)
    }

    fn serialize_none(self) -> Result {
        self.serialize_unit()
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result {
        self.out.push_str("null");
        Ok(())
    }

    fn serialize_unit_struct(self, _: &'static str) -> Result {
        self.serialize_unit()
    }

    fn serialize_unit_variant(self, _: &'static str, _: u32, _: &'static str) -> Result {
        Err(Unsupported)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, name: &'static str, value: &T) -> Result {
        let verbatim = name == FIELD_NAME;
        value.serialize(LineSerializer { out: self.out, verbatim })
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result {
        Err(Unsupported)
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Compound<'a>> {
        self.out.push('[');
        Ok(Compound { out: self.out, first: true })
    }

    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple> {
        Err(Unsupported)
    }

    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeTupleStruct> {
        Err(Unsupported)
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant> {
        Err(Unsupported)
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Compound<'a>> {
        self.out.push('{');
        Ok(Compound { out: self.out, first: true })
    }

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct> {
        // serde_json's own numbers take this shape with its
        // `arbitrary_precision` feature; serde_json then writes them.
        Err(Unsupported)
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant> {
        Err(Unsupported)
    }
}

impl ser::SerializeSeq for Compound<'_> {
    type Ok = ();
    type Error = Unsupported;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
        self.separate();
        value.serialize(LineSerializer { out: self.out, verbatim: false })
    }

    fn end(self) -> Result {
        self.out.push(']');
        Ok(())
    }
}

impl ser::SerializeMap for Compound<'_> {
    type Ok = ();
    type Error = Unsupported;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result {
        self.separate();
        // Every key of every frame is a string; anything else is left to
        // serde_json, which would quote it.
        let start = self.out.len();
        key.serialize(LineSerializer { out: self.out, verbatim: false })?;
        if self.out.as_bytes().get(start) == Some(&b'"') { Ok(()) } else { Err(Unsupported) }
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
        self.out.push(':');
        value.serialize(LineSerializer { out: self.out, verbatim: false })
    }

    fn end(self) -> Result {
        self.out.push('}');
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use quickcheck::{QuickCheck, TestResult};
    use serde_json::{Value, json};

    use super::*;

    fn both(value: &Value) -> (String, String) {
        let mut ours = String::new();
        write(&mut ours, value).expect("every JSON value is written");
        (ours, serde_json::to_string(value).unwrap())
    }

    #[test]
    fn values_are_written_as_serde_json_writes_them() {
        let values = [
            json!(null),
            json!({"a": [1, -2, 3.5, 1e21, 1e-7, 0.1, -0.0, u64::MAX, i64::MIN], "b": {"": "x\"\\\n\u{1}é😀"}}),
            json!([[], {}, [{}], true, false, ""]),
            json!({"k\u{7f}": "\u{1f}\u{8}\u{c}\t\r"}),
        ];
        for value in values {
            let (ours, theirs) = both(&value);
            assert_eq!(ours, theirs);
        }
    }

    #[test]
    fn numbers_that_are_not_finite_are_null_as_in_serde_json() {
        for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let mut ours = String::new();
            write(&mut ours, &v).unwrap();
            assert_eq!(ours, serde_json::to_string(&v).unwrap());
        }
    }

    #[test]
    fn shapes_no_frame_has_are_refused() {
        #[derive(serde::Serialize)]
        struct Struct {
            a: u8,
        }
        let mut out = String::new();
        assert!(write(&mut out, &Struct { a: 1 }).is_err());
        let mut out = String::new();
        assert!(write(&mut out, &std::collections::BTreeMap::from([(1, 2)])).is_err(), "integer keys");
    }

    #[test]
    fn field_names_are_copied_and_keys_from_peers_escaped() {
        use crate::wire::{Descriptor, Frame, MessageEvent, Platform, SessionSource};
        let awkward = json!({"q\"uote": "\\", "line\nbreak": 1});
        let mut event =
            MessageEvent::text(SessionSource::new(Platform::Telegram, "c1", "dm"), "hi \"there\"");
        let mut descriptor = Descriptor::new("relay", "Relay");
        for (key, value) in awkward.as_object().unwrap() {
            event.extra.insert(key.clone(), value.clone());
            event.source.extra.insert(key.clone(), value.clone());
            descriptor.extra.insert(key.clone(), value.clone());
        }
        let frames = [
            Frame::Inbound(crate::wire::Inbound { event: Box::new(event), ..Default::default() }),
            Frame::Descriptor(crate::wire::DescriptorFrame {
                descriptor,
                extra: awkward.as_object().unwrap().clone(),
            }),
        ];
        for frame in frames {
            let line = frame.encode_line();
            assert_eq!(line.as_bytes(), frame.encode(), "{frame:?}");
            assert!(line.contains(r#""q\"uote""#) && line.contains(r#""line\nbreak""#), "{line}");
        }
    }

    #[test]
    fn random_strings_and_numbers_match_serde_json() {
        fn prop(text: String, key: String, int: i64, float: f64, list: Vec<String>) -> TestResult {
            let value = json!({ key: [text, int, float, list] });
            let (ours, theirs) = both(&value);
            TestResult::from_bool(ours == theirs)
        }
        QuickCheck::new()
            .tests(500)
            .quickcheck(prop as fn(String, String, i64, f64, Vec<String>) -> TestResult);
    }
}
