//! Splitting a long reply into messages a platform accepts.
//!
//! Platforms reject (or silently truncate) messages over their limit, and the
//! limit is counted in the descriptor's unit: Unicode scalar values, or UTF-16
//! code units on Telegram. A split must never cut a character, and in `utf16`
//! a character outside the Basic Multilingual Plane counts as two units that
//! must stay together (a lone surrogate is not valid text on any platform).
//! Rust `char`s are whole scalar values, so cutting only between `char`s
//! guarantees both.

use crate::wire::LenUnit;

/// Splits `text` into consecutive pieces that each measure at most
/// `max_len` in `unit`.
///
/// Joined back together the pieces give exactly `text` (nothing is trimmed or
/// added). To keep messages readable a piece ends after the last newline, else
/// after the last other whitespace, that still fits — but only when that keeps
/// the piece at least half the limit; otherwise it is cut at the limit, always
/// between characters. A single character wider than the limit (a surrogate
/// pair with `max_len` 1) cannot be split and becomes a piece of its own.
/// Empty text gives no pieces; a `max_len` of 0 is treated as 1.
///
/// Grapheme clusters (an emoji with modifiers, a letter with combining marks)
/// may be cut between their scalar values at a hard cut: that needs Unicode
/// segmentation tables, which this dependency-light core does not carry.
///
/// ```
/// use relay_core::adapter::split_message;
/// use relay_core::wire::LenUnit;
///
/// assert_eq!(split_message("hello world", 8, LenUnit::Chars), ["hello ", "world"]);
/// // Two UTF-16 units per emoji: a limit of 3 holds one emoji, never one and a half.
/// assert_eq!(split_message("😀😀", 3, LenUnit::Utf16), ["😀", "😀"]);
/// assert_eq!(split_message("😀😀", 3, LenUnit::Chars), ["😀😀"]);
/// ```
pub fn split_message(text: &str, max_len: usize, unit: LenUnit) -> Vec<&str> {
    let max_len = max_len.max(1);
    let mut pieces = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let cut = cut_point(rest, max_len, unit);
        let (piece, tail) = rest.split_at(cut);
        pieces.push(piece);
        rest = tail;
    }
    pieces
}

/// The width of one character in `unit`.
fn width(c: char, unit: LenUnit) -> usize {
    match unit {
        LenUnit::Chars => 1,
        LenUnit::Utf16 => c.len_utf16(),
    }
}

/// The byte index at which the first piece of non-empty `text` ends; always
/// a character boundary greater than 0.
fn cut_point(text: &str, max_len: usize, unit: LenUnit) -> usize {
    let mut used = 0;
    let mut hard = 0;
    // (byte index just after the break character, width up to there)
    let mut newline = None;
    let mut space = None;
    for (i, c) in text.char_indices() {
        let w = width(c, unit);
        if used + w > max_len {
            break;
        }
        used += w;
        hard = i + c.len_utf8();
        if c == '\n' {
            newline = Some((hard, used));
        } else if c.is_whitespace() {
            space = Some((hard, used));
        }
    }
    if hard == text.len() {
        return hard;
    }
    if hard == 0 {
        // The first character alone is wider than the limit: it goes alone.
        return text.chars().next().map_or(text.len(), char::len_utf8);
    }
    // A soft break that leaves a tiny piece would multiply the message count.
    let worth_it = |(_, w): &(usize, usize)| w * 2 >= max_len;
    newline.filter(worth_it).or(space.filter(worth_it)).map_or(hard, |(at, _)| at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let cases: [(&str, usize, LenUnit, &[&str]); 12] = [
            ("", 5, LenUnit::Chars, &[]),
            ("abc", 5, LenUnit::Chars, &["abc"]),
            ("abcde", 5, LenUnit::Chars, &["abcde"]),
            ("abcdef", 5, LenUnit::Chars, &["abcde", "f"]),
            ("hello world", 8, LenUnit::Chars, &["hello ", "world"]),
            ("ab cdefghij", 8, LenUnit::Chars, &["ab cdefg", "hij"]),
            ("line one\nline two", 12, LenUnit::Chars, &["line one\n", "line two"]),
            // A newline that keeps the piece half full wins over a later space.
            ("a b\ncd efgh", 8, LenUnit::Chars, &["a b\n", "cd efgh"]),
            ("😀😀😀", 2, LenUnit::Chars, &["😀😀", "😀"]),
            ("😀😀😀", 5, LenUnit::Utf16, &["😀😀", "😀"]),
            ("😀a", 1, LenUnit::Utf16, &["😀", "a"]),
            ("abc", 0, LenUnit::Chars, &["a", "b", "c"]),
        ];
        for (text, max, unit, expected) in cases {
            assert_eq!(split_message(text, max, unit), expected, "{text:?} max {max} {unit:?}");
        }
    }

    #[test]
    fn pieces_fit_and_rejoin_for_mixed_text() {
        let text = "Grüße 😀 from Zürich!\nこんにちは 𝄞 music\n".repeat(23);
        for unit in [LenUnit::Chars, LenUnit::Utf16] {
            for max in [1, 2, 3, 7, 16, 33, 100, 4096] {
                let pieces = split_message(&text, max, unit);
                assert_eq!(pieces.concat(), text, "{unit:?} {max}");
                for piece in &pieces {
                    assert!(!piece.is_empty());
                    let one_wide_char = piece.chars().count() == 1;
                    assert!(unit.len(piece) <= max || one_wide_char, "{piece:?} over {max} {unit:?}");
                }
                if max >= 2 {
                    // Every piece but the last is at least half full: no runaway message count.
                    for piece in &pieces[..pieces.len() - 1] {
                        assert!(unit.len(piece) * 2 >= max - 1, "{piece:?} too short for {max} {unit:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn utf16_never_splits_a_surrogate_pair() {
        // 𝄞 is U+1D11E: two UTF-16 units. With an odd limit a naive unit-based
        // cut would land inside it.
        let text = "a𝄞𝄞𝄞𝄞";
        let pieces = split_message(text, 4, LenUnit::Utf16);
        assert_eq!(pieces, ["a𝄞", "𝄞𝄞", "𝄞"]);
        for piece in pieces {
            let units: Vec<u16> = piece.encode_utf16().collect();
            assert_eq!(String::from_utf16(&units).unwrap(), piece);
        }
    }

    #[test]
    fn any_text_any_limit_rejoins_and_fits() {
        fn prop(text: String, max: u8, utf16: bool) -> bool {
            let unit = if utf16 { LenUnit::Utf16 } else { LenUnit::Chars };
            let max = usize::from(max);
            let pieces = split_message(&text, max, unit);
            pieces.concat() == text
                && pieces
                    .iter()
                    .all(|p| !p.is_empty() && (unit.len(p) <= max.max(1) || p.chars().count() == 1))
        }
        quickcheck::quickcheck(prop as fn(String, u8, bool) -> bool);
    }
}
