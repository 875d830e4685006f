//! A hand-written JSON parser for the lines a peer sends every second.
//!
//! Driving `serde_json` through a visitor costs a dynamic dispatch per value,
//! a scratch copy per escaped string and a scan restart after every `\uXXXX`;
//! on an inbound corpus that is most of the decode. This parser builds the
//! same [`Node`] tree in one pass, repairing lone surrogate escapes as it goes
//! (as [`repair_lone_surrogates`](super::repair::repair_lone_surrogates) does
//! beforehand on the reference path).
//!
//! It is strict and modest on purpose: anything it is not sure about —
//! invalid JSON of any kind, nesting deeper than [`MAX_DEPTH`] — returns
//! `None`, and the caller hands the line to the reference parser
//! ([`parse_node`](super::node::parse_node)), whose verdict and error message
//! stand. Numbers other than plain integers are read by `serde_json` itself,
//! so both paths agree on every value.

use std::borrow::Cow;

use serde_json::{Number, Value};

use super::node::{Entry, Node};
use super::repair::{escape_at, is_high, is_low};

/// Deeper nesting is left to the reference parser (whose own limit is 128).
const MAX_DEPTH: usize = 64;

/// Parses a whole line into a [`Node`], or `None` to defer to the reference parser.
pub(crate) fn parse_fast(text: &str) -> Option<Node<'_>> {
    // Room for the members of the line's open objects, so the stack rarely
    // grows; sized by the line so a short frame does not pay for a 2 KiB buffer.
    let entries = Vec::with_capacity((text.len() / 16).clamp(4, 32));
    let mut p =
        Parser { text, bytes: text.as_bytes(), pos: 0, entries, items: Vec::new(), scratch: String::new() };
    let node = p.value(0)?;
    p.skip_whitespace();
    (p.pos == p.bytes.len()).then_some(node)
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    /// Members of the objects being parsed, innermost last: each object is
    /// moved out in one exact-size allocation when it closes.
    entries: Vec<Entry<'a>>,
    /// Items of the arrays being parsed, likewise.
    items: Vec<Node<'a>>,
    /// Where escaped strings are unescaped.
    scratch: String,
}

impl<'a> Parser<'a> {
    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    /// The next byte that is not whitespace.
    fn peek(&mut self) -> Option<u8> {
        self.skip_whitespace();
        self.bytes.get(self.pos).copied()
    }

    fn value(&mut self, depth: usize) -> Option<Node<'a>> {
        match self.peek()? {
            b'{' if depth < MAX_DEPTH => self.object(depth + 1),
            b'[' if depth < MAX_DEPTH => self.array(depth + 1),
            b'"' => self.string().map(Node::Str),
            b't' => self.literal("true", Value::Bool(true)),
            b'f' => self.literal("false", Value::Bool(false)),
            b'n' => self.literal("null", Value::Null),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    fn literal(&mut self, word: &str, value: Value) -> Option<Node<'a>> {
        self.bytes[self.pos..].starts_with(word.as_bytes()).then(|| {
            self.pos += word.len();
            Node::Value(value)
        })
    }

    /// At `{`.
    fn object(&mut self, depth: usize) -> Option<Node<'a>> {
        self.pos += 1;
        let base = self.entries.len();
        if self.peek()? != b'}' {
            loop {
                if self.peek()? != b'"' {
                    return None;
                }
                let key = self.string()?;
                if self.peek()? != b':' {
                    return None;
                }
                self.pos += 1;
                let value = self.value(depth)?;
                self.entries.push((key, value));
                match self.peek()? {
                    b',' => self.pos += 1,
                    b'}' => break,
                    _ => return None,
                }
            }
        }
        self.pos += 1;
        Some(Node::Object(self.entries.drain(base..).collect()))
    }

    /// At `[`.
    fn array(&mut self, depth: usize) -> Option<Node<'a>> {
        self.pos += 1;
        let base = self.items.len();
        if self.peek()? != b']' {
            loop {
                let item = self.value(depth)?;
                self.items.push(item);
                match self.peek()? {
                    b',' => self.pos += 1,
                    b']' => break,
                    _ => return None,
                }
            }
        }
        self.pos += 1;
        Some(Node::Array(self.items.drain(base..).collect()))
    }

    /// At an opening quote: the contents, borrowed unless they hold an escape.
    fn string(&mut self) -> Option<Cow<'a, str>> {
        let start = self.pos + 1;
        let mut i = start + special_offset(&self.bytes[start..])?;
        if self.bytes[i] == b'"' {
            self.pos = i + 1;
            return Some(Cow::Borrowed(&self.text[start..i]));
        }
        // Unescaped into a buffer reused for every string of the line, then
        // copied once into a string of the exact size: no growth steps.
        let mut out = std::mem::take(&mut self.scratch);
        out.clear();
        out.push_str(&self.text[start..i]);
        loop {
            // A control character (invalid inside a string) is the reference parser's to report.
            if self.bytes[i] != b'\\' {
                return None;
            }
            i = self.escape(i, &mut out)?;
            // Escapes come in runs (`\uXXXX` per non-ASCII character): no scan between them.
            if self.bytes.get(i) == Some(&b'\\') {
                continue;
            }
            let run = special_offset(&self.bytes[i..])?;
            out.push_str(&self.text[i..i + run]);
            i += run;
            if self.bytes[i] == b'"' {
                self.pos = i + 1;
                let string = Cow::Owned(out.as_str().to_owned());
                self.scratch = out;
                return Some(string);
            }
        }
    }

    /// At a backslash: appends the character it stands for; returns where the next text starts.
    fn escape(&self, i: usize, out: &mut String) -> Option<usize> {
        let c = match *self.bytes.get(i + 1)? {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => return self.unicode_escape(i, out),
            _ => return None,
        };
        out.push(c);
        Some(i + 2)
    }

    /// `\uXXXX`, or a surrogate pair of them; an unpaired surrogate reads as
    /// U+FFFD (PROTOCOL §1), decided exactly as the repair pass does.
    fn unicode_escape(&self, i: usize, out: &mut String) -> Option<usize> {
        let unit = escape_at(self.bytes, i)?;
        let (c, next) = if is_high(unit) {
            match escape_at(self.bytes, i + 6).filter(|&low| is_low(low)) {
                Some(low) => {
                    let code = 0x10000 + ((u32::from(unit) - 0xD800) << 10) + (u32::from(low) - 0xDC00);
                    (char::from_u32(code)?, i + 12)
                }
                None => ('\u{FFFD}', i + 6),
            }
        } else if is_low(unit) {
            ('\u{FFFD}', i + 6)
        } else {
            (char::from_u32(u32::from(unit))?, i + 6)
        };
        out.push(c);
        Some(next)
    }

    /// At `-` or a digit.
    fn number(&mut self) -> Option<Node<'a>> {
        let bytes = self.bytes;
        let start = self.pos;
        let negative = bytes[start] == b'-';
        let digits_start = start + usize::from(negative);
        let mut i = digits_start;
        match bytes.get(i)? {
            b'0' => i += 1,
            b'1'..=b'9' => i += digits(&bytes[i..]),
            _ => return None,
        }
        let integer_digits = i - digits_start;
        let mut integer = true;
        if bytes.get(i) == Some(&b'.') {
            integer = false;
            i += 1;
            i += Some(digits(&bytes[i..])).filter(|&n| n > 0)?;
        }
        if let Some(b'e' | b'E') = bytes.get(i) {
            integer = false;
            i += 1;
            if let Some(b'+' | b'-') = bytes.get(i) {
                i += 1;
            }
            i += Some(digits(&bytes[i..])).filter(|&n| n > 0)?;
        }
        self.pos = i;
        let token = &self.text[start..i];
        // Integers that surely fit are read here; floats, `-0` (a float to
        // serde_json) and integers near the edges of u64/i64 go to serde_json,
        // which reads them exactly as it would inside a document.
        let number = match (integer, negative) {
            (true, false) if integer_digits <= 19 => token.parse::<u64>().ok().map(Number::from),
            (true, true) if integer_digits <= 18 && token != "-0" => {
                token.parse::<i64>().ok().map(Number::from)
            }
            _ => None,
        };
        let number = match number {
            Some(n) => n,
            None => token.parse::<Number>().ok()?,
        };
        Some(Node::Value(Value::Number(number)))
    }
}

/// Fuzz oracle: where the fast parser accepts a line, the reference parser
/// (after surrogate repair) accepts it too and builds the same value.
#[cfg(feature = "sim")]
pub(crate) fn check_against_reference(text: &str) {
    use super::node::parse_node;
    use super::repair::repair_lone_surrogates;

    if let Some(node) = parse_fast(text) {
        let repaired = repair_lone_surrogates(text);
        let reference = parse_node(&repaired)
            .unwrap_or_else(|e| panic!("the fast parser accepted a line the reference refuses: {e}"));
        assert_eq!(node.into_value(), reference.into_value(), "the fast and reference parsers disagree");
    }
}

/// How many ASCII digits `bytes` starts with.
fn digits(bytes: &[u8]) -> usize {
    bytes.iter().take_while(|b| b.is_ascii_digit()).count()
}

/// The offset of the first `"`, `\` or control character, eight bytes at a time.
///
/// Per 64-bit word, `(x - 0x01…) & !x & 0x80…` flags the bytes of `x` that
/// are zero; a borrow can flag bytes after the first true one but never
/// before it, so the lowest flag is exact. The same holds for bytes below
/// 0x20 with `(v - 0x20…) & !v`.
fn special_offset(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut chunks = bytes.chunks_exact(8);
    let mut offset = 0;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let v = u64::from_le_bytes(word);
        let quote = v ^ (ONES * u64::from(b'"'));
        let backslash = v ^ (ONES * u64::from(b'\\'));
        let found = ((quote.wrapping_sub(ONES) & !quote)
            | (backslash.wrapping_sub(ONES) & !backslash)
            | (v.wrapping_sub(ONES * 0x20) & !v))
            & HIGH;
        if found != 0 {
            return Some(offset + (found.trailing_zeros() / 8) as usize);
        }
        offset += 8;
    }
    chunks.remainder().iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20).map(|p| offset + p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::node::parse_node;
    use crate::wire::repair::repair_lone_surrogates;

    /// The reference result: repair, then serde_json.
    fn reference(text: &str) -> Option<Value> {
        parse_node(&repair_lone_surrogates(text)).ok().map(Node::into_value)
    }

    fn fast(text: &str) -> Option<Value> {
        parse_fast(text).map(Node::into_value)
    }

    #[test]
    fn agrees_with_the_reference_or_defers() {
        let cases = [
            r#"{"a":1,"b":[true,false,null],"c":{"d":"e"}}"#,
            r#" { "a" : -12 , "b" : [ ] , "c" : { } } "#,
            r#"{"n":[0,-0,1.5,-2e3,1E+2,18446744073709551615,18446744073709551616,-9223372036854775808,-9223372036854775809,123456789012345678901234]}"#,
            r#"{"s":"plain","t":"tab\tquote\"slash\/back\\\b\f\n\r","u":"\u00e9\u65e5\ud83d\ude00"}"#,
            r#"{"lone":"a\ud83db\udE00c\ud83d\ud83d\ude00\ud83d\n","esc":"\\ud83d"}"#,
            r#"{"dup":1,"dup":2}"#,
            r#"{"k\u00e9y":"v"}"#,
            "{\"é日😀\":\"é日😀 long enough to cross a word boundary\"}",
            "[1,2]",
            "\"top\"",
            "7",
        ];
        for text in cases {
            assert_eq!(fast(text), reference(text), "{text}");
            assert!(fast(text).is_some(), "{text}");
        }
    }

    #[test]
    fn invalid_or_unusual_lines_are_deferred() {
        let cases = [
            "",
            " ",
            "{",
            "{\"a\"}",
            "{\"a\":}",
            "{\"a\":1,}",
            "[1,]",
            "{\"a\":01}",
            "{\"a\":1.}",
            "{\"a\":1e}",
            "{\"a\":-}",
            "{\"a\":tru}",
            "{\"a\":nul}",
            "{\"a\":\"x}",
            "{\"a\":\"\\x\"}",
            "{\"a\":\"\\u12G4\"}",
            "{\"a\":\"ctl\u{1}\"}",
            "{\"a\":1} x",
            "{\"a\":1}{}",
            "{a:1}",
            "{\"a\":1e999}",
            "{\"a\":\"\\ud83d\\u12\"}",
        ];
        for text in cases {
            assert!(fast(text).is_none(), "{text:?}");
        }
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert!(fast(&deep).is_none());
        let fine = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert_eq!(fast(&fine), reference(&fine));
    }

    #[test]
    fn special_offset_finds_the_first_of_any_special_byte() {
        for len in 0..24 {
            for at in 0..len {
                for special in [b'"', b'\\', 0x00, 0x1f] {
                    let mut bytes = vec![b'a'; len];
                    bytes[at] = special;
                    if at + 1 < len {
                        bytes[at + 1] = 0x00;
                    }
                    assert_eq!(special_offset(&bytes), Some(at), "{bytes:?}");
                }
            }
            assert_eq!(special_offset(&vec![0xe9; len]), None);
            assert_eq!(special_offset(&vec![0x7f; len]), None);
        }
    }
}
