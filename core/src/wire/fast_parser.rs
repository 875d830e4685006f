//! The JSON reader of the fast decode: a serde [`Deserializer`] over one
//! line, written for what the fast decode needs and nothing more.
//!
//! It reads strict JSON (RFC 8259) and hands the typed readers of `fast.rs`
//! strings borrowed from the line where they hold no escape. It gives up —
//! one error without a message, since the strict decoder then reads the line
//! and gives the diagnostic — wherever it could read a line differently
//! from `serde_json`, or where reading it exactly would cost code for lines
//! that never come:
//! - a lone surrogate escape (the strict decoder repairs it to U+FFFD);
//! - an integer beyond `u64` or below `i64` (`serde_json` reads it as a
//!   float), `-0`, a float that is not finite;
//! - nesting deeper than [`MAX_DEPTH`];
//! - a control character anywhere in the line: inside a string it is not
//!   JSON, and outside one (a tab between tokens) no encoder writes it;
//!   without them a string ends at the first `"` or `\\`, which is all
//!   its scan looks for;
//! - anything else that is not JSON.
//!
//! Floats are read by the standard library, correctly rounded, as
//! `serde_json` reads them with `float_roundtrip`.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::wire::scan::plain_prefix;

/// Containers nested deeper than this are left to the strict decoder;
/// frames sit a few levels deep.
const MAX_DEPTH: u8 = 64;

/// The value of each byte as a hex digit; a high nibble marks a byte that is not one.
const HEX_VALUE: [u8; 256] = {
    let mut table = [0xf0; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = match b as u8 {
            d @ b'0'..=b'9' => d - b'0',
            d @ b'a'..=b'f' => d - b'a' + 10,
            d @ b'A'..=b'F' => d - b'A' + 10,
            _ => 0xf0,
        };
        b += 1;
    }
    table
};

/// The one error: the line is left to the strict decoder.
#[derive(Debug)]
pub(super) struct GiveUp;

impl fmt::Display for GiveUp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("left to the strict decoder")
    }
}

impl std::error::Error for GiveUp {}

impl de::Error for GiveUp {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Self
    }
}

/// Reads JSON values from `line`, front to back.
#[derive(Debug)]
pub(super) struct Parser<'de> {
    text: &'de str,
    at: usize,
    depth: u8,
    /// The text of the last string that held an escape.
    scratch: String,
}

/// A string's text: borrowed from the line, or unescaped into the scratch.
enum Text<'de, 's> {
    Line(&'de str),
    Scratch(&'s str),
}

impl<'de> Parser<'de> {
    /// A reader of `line`, or `None` when it is not UTF-8 or holds a
    /// control character. The whole line is checked at once, which is
    /// cheaper than a check per string.
    pub(super) fn new(line: &'de [u8]) -> Option<Self> {
        // A fold rather than `any`: without the early exit it vectorizes.
        if line.iter().fold(false, |control, &b| control | (b < 0x20)) {
            return None;
        }
        let text = simdutf8::basic::from_utf8(line).ok()?;
        Some(Self { text, at: 0, depth: 0, scratch: String::new() })
    }

    fn line(&self) -> &'de [u8] {
        self.text.as_bytes()
    }

    /// Checks that only whitespace follows the value read.
    pub(super) fn end(&mut self) -> Result<(), GiveUp> {
        self.skip_whitespace();
        if self.at == self.line().len() { Ok(()) } else { Err(GiveUp) }
    }

    fn peek(&self) -> Option<u8> {
        self.line().get(self.at).copied()
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.at += 1;
        }
    }

    /// The next byte that is not whitespace, not consumed.
    fn next_token(&mut self) -> Result<u8, GiveUp> {
        self.skip_whitespace();
        self.peek().ok_or(GiveUp)
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), GiveUp> {
        if self.line()[self.at..].starts_with(word) {
            self.at += word.len();
            Ok(())
        } else {
            Err(GiveUp)
        }
    }

    /// Reads an object or an array (its opening bracket next) through
    /// `visit`, one level deeper.
    fn container<T>(
        &mut self,
        close: u8,
        visit: impl FnOnce(&mut Items<'_, 'de>) -> Result<T, GiveUp>,
    ) -> Result<T, GiveUp> {
        self.depth = self.depth.checked_add(1).filter(|&d| d <= MAX_DEPTH).ok_or(GiveUp)?;
        self.at += 1;
        let mut items = Items { parser: &mut *self, close, first: true, closed: false };
        let value = visit(&mut items)?;
        // A visitor that stopped reading early leaves the rest unchecked.
        if !items.closed {
            return Err(GiveUp);
        }
        self.depth -= 1;
        Ok(value)
    }

    /// A string's text; `at` is just past its opening quote.
    fn string(&mut self) -> Result<Text<'de, '_>, GiveUp> {
        let (text, line) = (self.text, self.line());
        // Runs end at a quote or a backslash (the line holds no control
        // character): ASCII, so every run is whole characters.
        let run = |from: usize| {
            let stop = from + plain_prefix(&line[from..]);
            Ok::<_, GiveUp>((text.get(from..stop).ok_or(GiveUp)?, stop))
        };
        let (first, mut stop) = run(self.at)?;
        if line.get(stop) == Some(&b'"') {
            self.at = stop + 1;
            return Ok(Text::Line(first));
        }
        if self.scratch.capacity() == 0 {
            // Once a line, room for every escaped string of the rest of it.
            self.scratch.reserve(line.len() - stop);
        }
        self.scratch.clear();
        self.scratch.push_str(first);
        loop {
            match line.get(stop) {
                Some(b'"') => {
                    self.at = stop + 1;
                    return Ok(Text::Scratch(&self.scratch));
                }
                Some(b'\\') => {
                    let (more, next) = run(self.escape(stop + 1)?)?;
                    // Escapes come in runs (a text written with ASCII escapes only).
                    if !more.is_empty() {
                        self.scratch.push_str(more);
                    }
                    stop = next;
                }
                _ => return Err(GiveUp),
            }
        }
    }

    /// Unescapes the escape whose letter is at `at` into the scratch; where
    /// the text goes on.
    fn escape(&mut self, at: usize) -> Result<usize, GiveUp> {
        let short = match self.line().get(at).ok_or(GiveUp)? {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let (c, next) = self.unicode_escape(at + 1)?;
                self.scratch.push(c);
                return Ok(next);
            }
            _ => return Err(GiveUp),
        };
        self.scratch.push(short);
        Ok(at + 1)
    }

    /// The character of `\uXXXX` (its digits at `at`), or of a surrogate
    /// pair of two; where the text goes on.
    fn unicode_escape(&self, at: usize) -> Result<(char, usize), GiveUp> {
        let first = self.hex4(at)?;
        let (code, next) = match first {
            0xd800..=0xdbff => {
                if self.line().get(at + 4..at + 6) != Some(b"\\u") {
                    return Err(GiveUp);
                }
                let low = self.hex4(at + 6)?;
                if !(0xdc00..=0xdfff).contains(&low) {
                    return Err(GiveUp);
                }
                (0x10000 + ((first - 0xd800) << 10) + (low - 0xdc00), at + 10)
            }
            _ => (first, at + 4),
        };
        // A lone low surrogate is the one code left that is not a character.
        Ok((char::from_u32(code).ok_or(GiveUp)?, next))
    }

    fn hex4(&self, at: usize) -> Result<u32, GiveUp> {
        let digits = self.line().get(at..).and_then(<[u8]>::first_chunk::<4>).ok_or(GiveUp)?;
        // One lookup per digit, one test for all four.
        let (code, marks) = digits.iter().fold((0, 0), |(code, marks), &d| {
            let value = HEX_VALUE[usize::from(d)];
            (code << 4 | u32::from(value & 0xf), marks | value)
        });
        if marks & 0xf0 == 0 { Ok(code) } else { Err(GiveUp) }
    }

    /// Skips a run of ASCII digits; whether there was one.
    fn digits(&mut self) -> bool {
        let start = self.at;
        while let Some(b'0'..=b'9') = self.peek() {
            self.at += 1;
        }
        self.at > start
    }

    fn number<V: Visitor<'de>>(&mut self, visitor: V) -> Result<V::Value, GiveUp> {
        let start = self.at;
        let negative = self.peek() == Some(b'-');
        self.at += usize::from(negative);
        let integer_start = self.at;
        match self.peek() {
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(GiveUp),
        }
        let integer = &self.line()[integer_start..self.at];
        let fraction = self.peek() == Some(b'.');
        if fraction {
            self.at += 1;
            if !self.digits() {
                return Err(GiveUp);
            }
        }
        let exponent = matches!(self.peek(), Some(b'e' | b'E'));
        if exponent {
            self.at += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.at += 1;
            }
            if !self.digits() {
                return Err(GiveUp);
            }
        }
        if fraction || exponent {
            let text = self.text.get(start..self.at).ok_or(GiveUp)?;
            let value: f64 = text.parse().map_err(|_| GiveUp)?;
            return if value.is_finite() { visitor.visit_f64(value) } else { Err(GiveUp) };
        }
        let magnitude = integer
            .iter()
            .try_fold(0u64, |n, &d| n.checked_mul(10)?.checked_add(u64::from(d - b'0')))
            .ok_or(GiveUp)?;
        match (negative, magnitude) {
            (false, n) => visitor.visit_u64(n),
            (true, 0) => Err(GiveUp),
            (true, n) => visitor.visit_i64(0i64.checked_sub_unsigned(n).ok_or(GiveUp)?),
        }
    }
}

impl<'de> Deserializer<'de> for &mut Parser<'de> {
    type Error = GiveUp;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GiveUp> {
        match self.next_token()? {
            b'{' => self.container(b'}', |items| visitor.visit_map(items)),
            b'[' => self.container(b']', |items| visitor.visit_seq(items)),
            b'"' => {
                self.at += 1;
                match self.string()? {
                    Text::Line(text) => visitor.visit_borrowed_str(text),
                    Text::Scratch(text) => visitor.visit_str(text),
                }
            }
            b't' => self.literal(b"true").and_then(|()| visitor.visit_bool(true)),
            b'f' => self.literal(b"false").and_then(|()| visitor.visit_bool(false)),
            b'n' => self.literal(b"null").and_then(|()| visitor.visit_unit()),
            b'-' | b'0'..=b'9' => self.number(visitor),
            _ => Err(GiveUp),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GiveUp> {
        if self.next_token()? == b'n' {
            self.literal(b"null")?;
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, GiveUp> {
        visitor.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct enum
        identifier ignored_any
    }
}

/// The members of an object or the elements of an array, its opening
/// bracket read.
struct Items<'a, 'de> {
    parser: &'a mut Parser<'de>,
    /// `}` or `]`.
    close: u8,
    first: bool,
    /// Whether the closing bracket was read.
    closed: bool,
}

impl Items<'_, '_> {
    /// Reads the separator before the next item, or the closing bracket;
    /// whether an item follows.
    fn next(&mut self) -> Result<bool, GiveUp> {
        let p = &mut *self.parser;
        let token = p.next_token()?;
        if token == self.close {
            p.at += 1;
            self.closed = true;
            return Ok(false);
        }
        if self.first {
            self.first = false;
        } else if token == b',' {
            p.at += 1;
        } else {
            return Err(GiveUp);
        }
        Ok(true)
    }
}

impl<'de> MapAccess<'de> for &mut Items<'_, 'de> {
    type Error = GiveUp;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, GiveUp> {
        if !self.next()? {
            return Ok(None);
        }
        let p = &mut *self.parser;
        if p.next_token()? != b'"' {
            return Err(GiveUp);
        }
        let key = seed.deserialize(&mut *p)?;
        if p.next_token()? != b':' {
            return Err(GiveUp);
        }
        p.at += 1;
        Ok(Some(key))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, GiveUp> {
        seed.deserialize(&mut *self.parser)
    }
}

impl<'de> SeqAccess<'de> for &mut Items<'_, 'de> {
    type Error = GiveUp;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, GiveUp> {
        if !self.next()? {
            return Ok(None);
        }
        seed.deserialize(&mut *self.parser).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use quickcheck::QuickCheck;
    use serde::Deserialize as _;
    use serde_json::Value;

    use super::*;

    /// The value on `text`, when this reader takes it.
    fn read(text: &str) -> Option<Value> {
        read_bytes(text.as_bytes())
    }

    /// Where this reader takes a text, serde_json reads the same value.
    fn agrees(text: &str) -> bool {
        let ours = read(text);
        if let Some(ours) = &ours {
            let reference: Value = serde_json::from_str(text).expect("serde_json reads what we read");
            assert_eq!(&reference, ours, "{text}");
            assert_eq!(reference.to_string(), ours.to_string(), "{text}");
        }
        ours.is_some()
    }

    #[test]
    fn json_is_read_as_serde_json_reads_it() {
        let texts = [
            r#"{"a":1,"b":[true,false,null],"c":{"d":"e"}}"#,
            r#" { "a" : 1 , "b" : [ 1 , 2 ] } "#,
            r#""caf\u00e9 \ud83d\ude00 \"\\\/\b\f\n\r\t""#,
            "\"café 😀\"",
            r#"[0,-1,18446744073709551615,-9223372036854775808,1.5,-2.5e-3,1E5,1e+2,0.1]"#,
            r#"[2.2250738585072014e-308,1.7976931348623157e308,5e-324]"#,
            "{}",
            "[]",
            r#"{"a":1,"a":2}"#,
        ];
        for text in texts {
            assert!(agrees(text), "given up: {text}");
        }
    }

    #[test]
    fn what_it_cannot_read_exactly_is_given_up() {
        let texts = [
            r#""\ud83d alone""#,
            r#""\udc00""#,
            r#""\ud83d\u0041""#,
            "-0",
            "18446744073709551616",
            "-9223372036854775809",
            "1e400",
            "01",
            "1.",
            ".5",
            "1e",
            "+1",
            "-",
            "[1,\t2]",
            r#"{"a":1,}"#,
            "[1,]",
            "[,1]",
            r#"{,"a":1}"#,
            r#"{"a" 1}"#,
            r#"{1:2}"#,
            "\"a\u{1}b\"",
            r#""\x""#,
            r#""\u12g4""#,
            r#""open"#,
            "[1 2]",
            "tru",
            "nul",
            "NaN",
            "Infinity",
            "{} x",
            "",
            &format!("{}{}", "[".repeat(65), "]".repeat(65)),
        ];
        for text in texts {
            assert!(!agrees(text), "taken: {text}");
        }
        assert!(agrees(&format!("{}{}", "[".repeat(64), "]".repeat(64))));
    }

    #[test]
    fn a_line_that_is_not_utf8_is_given_up() {
        assert!(read_bytes(b"\"a\xffb\"").is_none());
        assert!(read_bytes(b"\"\xc3\xa9\"").is_some());
        assert!(read_bytes(b"[\"a\",1\xff]").is_none());
    }

    fn read_bytes(bytes: &[u8]) -> Option<Value> {
        let mut parser = Parser::new(bytes)?;
        let value = Value::deserialize(&mut parser).ok()?;
        parser.end().ok()?;
        Some(value)
    }

    #[test]
    fn any_value_serde_json_writes_is_read_back() {
        fn prop(text: String, numbers: Vec<f64>, integers: Vec<i64>) -> bool {
            let value = serde_json::json!({ "text": text, "numbers": numbers, "integers": integers });
            let line = value.to_string();
            read(&line).is_some_and(|ours| {
                ours == value && serde_json::to_string(&ours).is_ok_and(|text| text == line)
            })
        }
        QuickCheck::new().tests(500).quickcheck(prop as fn(String, Vec<f64>, Vec<i64>) -> bool);
    }

    #[test]
    fn arbitrary_text_is_taken_only_where_serde_json_agrees() {
        fn prop(text: String) -> bool {
            read(&text)
                .is_none_or(|ours| serde_json::from_str::<Value>(&text).is_ok_and(|theirs| theirs == ours))
        }
        QuickCheck::new().tests(2000).quickcheck(prop as fn(String) -> bool);
    }
}
