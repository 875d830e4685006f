//! Repair of lone UTF-16 surrogate escapes before JSON parsing (PROTOCOL §1).
//!
//! Python's `json.loads` accepts `"\ud83d"` on its own; serde_json rejects it.
//! Rewriting each unpaired surrogate escape to `\ufffd` keeps such frames.

use std::borrow::Cow;

/// Returns `line` with every unpaired `\uD800`–`\uDFFF` escape replaced by `\ufffd`.
pub(crate) fn repair_lone_surrogates(line: &str) -> Cow<'_, str> {
    if !line.contains("\\ud") && !line.contains("\\uD") {
        return Cow::Borrowed(line);
    }
    let bytes = line.as_bytes();
    let mut out = String::with_capacity(line.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            i += 1;
            continue;
        }
        match escape_at(bytes, i) {
            Some(unit) if is_high(unit) && escape_at(bytes, i + 6).is_some_and(is_low) => i += 12,
            Some(unit) if is_high(unit) || is_low(unit) => {
                out.push_str(&line[copied..i]);
                out.push_str("\\ufffd");
                i += 6;
                copied = i;
            }
            Some(_) => i += 6,
            // Any other escape is two bytes; skipping both keeps `\\ud83d` (an escaped
            // backslash followed by text) untouched.
            None => i += 2,
        }
    }
    out.push_str(&line[copied..]);
    Cow::Owned(out)
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
    let hex = std::str::from_utf8(&escape[2..]).ok()?;
    u16::from_str_radix(hex, 16).ok()
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
    fn truncated_escapes_do_not_panic() {
        for line in ["\\ud8", "\\u", "\\", "\"\\ud83d\\u", "\\ud83d\\ude0"] {
            let _ = repair_lone_surrogates(line);
        }
    }
}
