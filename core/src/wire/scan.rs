//! Finding the end of a run of string text, eight bytes at a time: the
//! escape scan of the encoders and the string scan of the fast decode.

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// How many leading bytes of `bytes` need no escape in JSON: where the
/// first byte below 0x20, `"` or `\` is.
pub(super) fn clean_prefix(bytes: &[u8]) -> usize {
    let whole = bytes.len() & !7;
    let i = prefix(&bytes[..whole], true);
    if i < whole || i == bytes.len() {
        return i;
    }
    // Fewer than eight bytes left, as in most keys. Rather than a byte at a
    // time: the last eight bytes of the text as one word (those it shares
    // with the words before stop nothing), or, in a shorter text, two
    // overlapping halves in one word that say whether any byte stops.
    if let Some(last) = bytes.last_chunk::<8>() {
        return bytes.len() - 8 + prefix(last, true);
    }
    if let (Some(low), Some(high)) = (bytes.first_chunk::<4>(), bytes.last_chunk::<4>()) {
        let mut halves = [0; 8];
        halves[..4].copy_from_slice(low);
        halves[4..].copy_from_slice(high);
        if prefix(&halves, true) == 8 {
            return bytes.len();
        }
    }
    prefix(bytes, true)
}

/// How many leading bytes of `bytes` are neither `"` nor `\`: the text of a
/// string in a line known to hold no control character.
pub(super) fn plain_prefix(bytes: &[u8]) -> usize {
    prefix(bytes, false)
}

/// In each mask of a word a false hit can only sit above a true one (a
/// borrow runs up from it), so the lowest bit of their union is the first
/// true hit.
#[inline(always)]
fn prefix(bytes: &[u8], control: bool) -> usize {
    let has_zero = |w: u64| w.wrapping_sub(ONES) & !w & HIGH;
    let stops_at = |b: u8| (control && b < 0x20) || b == b'"' || b == b'\\';
    let mut i = 0;
    while let Some(word) = bytes.get(i..).and_then(<[u8]>::first_chunk::<8>) {
        let w = u64::from_le_bytes(*word);
        let mut stops = has_zero(w ^ (ONES * u64::from(b'"'))) | has_zero(w ^ (ONES * u64::from(b'\\')));
        if control {
            stops |= w.wrapping_sub(ONES * 0x20) & !w & HIGH;
        }
        if stops != 0 {
            return i + (stops.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    i + bytes[i..].iter().position(|&b| stops_at(b)).unwrap_or(bytes.len() - i)
}

#[cfg(test)]
mod tests {
    use quickcheck::QuickCheck;

    use super::*;

    #[test]
    fn the_word_scans_stop_where_byte_scans_stop() {
        fn prop(text: String, cut: u8) -> bool {
            let mut bytes = text.into_bytes();
            // Put a stop byte somewhere now and then, past the first word too.
            if cut % 3 == 0 && !bytes.is_empty() {
                let at = usize::from(cut) % bytes.len();
                bytes.insert(at, [b'"', b'\\', 0x01, b'\n'][usize::from(cut) % 4]);
            }
            let first = |stop: fn(u8) -> bool| bytes.iter().position(|&b| stop(b)).unwrap_or(bytes.len());
            clean_prefix(&bytes) == first(|b| b < 0x20 || b == b'"' || b == b'\\')
                && plain_prefix(&bytes) == first(|b| b == b'"' || b == b'\\')
        }
        QuickCheck::new().tests(2000).quickcheck(prop as fn(String, u8) -> bool);
    }
}
