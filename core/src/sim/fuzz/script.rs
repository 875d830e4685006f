//! The byte format of the str0m-style targets (`gateway_bytes`,
//! `connector_bytes`): easy for the fuzzer to mutate and for a person to write.
//!
//! The input is split on `0xFF`, a byte that never occurs in UTF-8 text. The
//! first segment is fed to the machine as received bytes, so a plain file of
//! frames is already a meaningful input. Every later segment is one step: its
//! first byte says what to do (an ASCII letter, see each target), the rest is
//! that step's payload.

/// The separator between steps.
pub(super) const SEPARATOR: u8 = 0xFF;

/// One step of a script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Step<'a> {
    /// Bytes received from the peer (the first segment).
    Bytes(&'a [u8]),
    /// A control byte and its payload.
    Control(u8, &'a [u8]),
}

/// Splits `data` into steps; empty segments are skipped.
pub(super) fn steps(data: &[u8]) -> impl Iterator<Item = Step<'_>> {
    data.split(|&b| b == SEPARATOR).enumerate().filter_map(|(i, segment)| match (i, segment) {
        (0, bytes) if !bytes.is_empty() => Some(Step::Bytes(bytes)),
        (0, _) | (_, []) => None,
        (_, [control, payload @ ..]) => Some(Step::Control(*control, payload)),
    })
}

/// A number read from a payload: its leading ASCII digits in decimal when it
/// starts with one, else its first two bytes little-endian; at most `max`.
pub(super) fn number(payload: &[u8], max: u64) -> u64 {
    let digits = payload.iter().take_while(|b| b.is_ascii_digit()).take(19);
    let value = if payload.first().is_some_and(u8::is_ascii_digit) {
        digits.fold(0u64, |n, d| n.saturating_mul(10).saturating_add(u64::from(d - b'0')))
    } else {
        let low = payload.first().copied().unwrap_or(0);
        let high = payload.get(1).copied().unwrap_or(0);
        u64::from(u16::from_le_bytes([low, high]))
    };
    value.min(max)
}

/// The payload as text (invalid UTF-8 replaced), for ids, keys and reasons.
pub(super) fn text(payload: &[u8]) -> String {
    String::from_utf8_lossy(payload).into_owned()
}

/// The payload byte at `index`, or 0.
pub(super) fn byte(payload: &[u8], index: usize) -> u8 {
    payload.get(index).copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_segment_is_bytes_then_controls() {
        let data = b"{\"a\":1}\n\xfft250\xff\xffq";
        let got: Vec<_> = steps(data).collect();
        assert_eq!(got, [Step::Bytes(b"{\"a\":1}\n"), Step::Control(b't', b"250"), Step::Control(b'q', b"")]);
        assert_eq!(steps(b"\xffk").collect::<Vec<_>>(), [Step::Control(b'k', b"")]);
    }

    #[test]
    fn numbers_are_decimal_or_little_endian_and_capped() {
        assert_eq!(number(b"250ms", 1_000), 250);
        assert_eq!(number(b"99999999999999999999999", 7), 7);
        assert_eq!(number(&[0x10, 0x01], u64::MAX), 0x0110);
        assert_eq!(number(b"", 5), 0);
    }
}
