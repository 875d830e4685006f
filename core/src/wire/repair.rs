//! Repair of lone UTF-16 surrogate escapes before JSON parsing (PROTOCOL §1).
//!
//! Python's `json.loads` accepts `"\ud83d"` on its own; serde_json rejects it.
//! Rewriting each unpaired surrogate escape to `\ufffd` keeps such frames.

use std::borrow::Cow;

/// Returns `line` with every unpaired `\uD800`–`\uDFFF` escape replaced by `\ufffd`.
///
/// Lines without a lone surrogate (paired ones included, as in escaped
/// emoji) are returned borrowed, after one scan from backslash to backslash.
pub(crate) fn repair_lone_surrogates(line: &str) -> Cow<'_, str> {
    match first_lone_surrogate(line.as_bytes()) {
        None => Cow::Borrowed(line),
        Some(at) => Cow::Owned(rewrite_from(line, at)),
    }
}

/// Where the next escape starting at or after `from` ends, and whether it is a lone surrogate.
fn step(bytes: &[u8], i: usize) -> (usize, bool) {
    match escape_at(bytes, i) {
        Some(unit) if is_high(unit) && escape_at(bytes, i + 6).is_some_and(is_low) => (i + 12, false),
        Some(unit) if is_high(unit) || is_low(unit) => (i + 6, true),
        Some(_) => (i + 6, false),
        // Any other escape is two bytes; skipping both keeps `\\ud83d` (an escaped
        // backslash followed by text) untouched.
        None => (i + 2, false),
    }
}

/// The offset of the first lone surrogate escape, if any.
fn first_lone_surrogate(bytes: &[u8]) -> Option<usize> {
    let mut i = 0;
    while let Some(offset) = memchr::memchr(b'\\', &bytes[i.min(bytes.len())..]) {
        let at = i + offset;
        let (next, lone) = step(bytes, at);
        if lone {
            return Some(at);
        }
        i = next;
    }
    None
}

/// Copies `line`, rewriting every lone surrogate escape from `first` on.
fn rewrite_from(line: &str, first: usize) -> String {
    let bytes = line.as_bytes();
    let mut out = String::with_capacity(line.len());
    let mut copied = 0;
    let mut i = first;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            i += memchr::memchr(b'\\', &bytes[i..]).unwrap_or(bytes.len() - i);
            continue;
        }
        let (next, lone) = step(bytes, i);
        if lone {
            out.push_str(&line[copied..i]);
            out.push_str("\\ufffd");
            copied = next;
        }
        i = next;
    }
    out.push_str(&line[copied..]);
    out
}

fn is_high(unit: u16) -> bool {
    (0xD800..=0xDBFF).contains(&unit)
}

fn is_low(unit: u16) -> bool {
    (0xDC00..=0xDFFF).contains(&unit)
}

/// The code unit of a `\uXXXX` escape starting at `at`, if there is one.
fn escape_at(bytes: &[u8], at: usize) -> Option<u16> {
    let escape = bytes.get(at..at + 6)?;
    if escape[0] != b'\\' || escape[1] != b'u' {
        return None;
    }
    escape[2..].iter().try_fold(0u16, |unit, &b| {
        let digit = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => return None,
        };
        Some(unit << 4 | u16::from(digit))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> String {
        serde_json::from_str::<String>(&repair_lone_surrogates(line)).unwrap()
    }

    #[test]
    fn lone_high_and_low_become_replacement_characters() {
        assert_eq!(parse(r#""a\ud83db""#), "a\u{FFFD}b");
        assert_eq!(parse(r#""\udE00""#), "\u{FFFD}");
        assert_eq!(parse(r#""\ud83d\ud83d\ude00""#), "\u{FFFD}😀");
        assert_eq!(parse(r#""\ud83d\n""#), "\u{FFFD}\n");
    }

    #[test]
    fn pairs_and_escaped_backslashes_are_untouched() {
        assert_eq!(parse(r#""\ud83d\ude00""#), "😀");
        assert_eq!(parse(r#""\\ud83d""#), "\\ud83d");
        assert!(matches!(repair_lone_surrogates(r#""plain""#), Cow::Borrowed(_)));
    }

    #[test]
    fn paired_escapes_borrow_and_lone_ones_after_pairs_are_found() {
        assert!(matches!(repair_lone_surrogates(r#""\ud83d\ude00 \n \u00e9""#), Cow::Borrowed(_)));
        assert_eq!(parse(r#""\ud83d\ude00\\\ud83dx\udc00""#), "😀\\\u{FFFD}x\u{FFFD}");
        assert_eq!(parse(r#""\uD83D\uDE00\uDE00""#), "😀\u{FFFD}");
    }

    #[test]
    fn truncated_escapes_do_not_panic() {
        for line in ["\\ud8", "\\u", "\\", "\"\\ud83d\\u", "\\ud83d\\ude0"] {
            let _ = repair_lone_surrogates(line);
        }
    }
}
