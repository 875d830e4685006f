//! Request ids: UUIDv4 in simple form, drawn from a seeded generator, with
//! a count in their low 32 bits.
//!
//! The count is what the pending table indexes ([`IdTable`]): requests sent
//! one after another take neighbouring slots. The other 90 bits outside the
//! version and variant stay random, so ids do not repeat across connections
//! or gateways (PROTOCOL §2), and receivers treat them as opaque strings.
//!
//! [`IdTable`]: super::id_table::IdTable

use rand::RngCore as _;
use rand::SeedableRng as _;
use rand_chacha::ChaCha8Rng;

use super::RequestId;

/// Draws request ids from a seed; the same seed gives the same ids.
#[derive(Debug, Clone)]
pub(crate) struct IdGenerator {
    rng: ChaCha8Rng,
    count: u32,
}

impl IdGenerator {
    pub(crate) fn new(seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        // The count starts anywhere, as random as the rest of the id.
        let count = rng.next_u32();
        Self { rng, count }
    }

    pub(crate) fn next_id(&mut self) -> RequestId {
        // Two draws fill the 96 high bits (of which the version and variant
        // then take six); the count is the low 32. One call per draw: the
        // byte-filling path costs several times more per id.
        let high = u128::from(self.rng.next_u64()) << 64 | u128::from(self.rng.next_u32()) << 32;
        let id = high | u128::from(self.count);
        self.count = self.count.wrapping_add(1);
        RequestId(id & !VERSION_AND_VARIANT_MASK | VERSION_4 | VARIANT_RFC_4122)
    }
}

/// The version nibble (bits 79..76) and the variant's two bits (63..62).
const VERSION_AND_VARIANT_MASK: u128 = 0xF << 76 | 0b11 << 62;
/// Version 4: random.
const VERSION_4: u128 = 0x4 << 76;
/// The RFC 4122 variant, `10`.
const VARIANT_RFC_4122: u128 = 0b10 << 62;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_simple_uuid_v4_and_seeded() {
        let mut a = IdGenerator::new(7);
        let mut b = IdGenerator::new(7);
        for _ in 0..100 {
            let id = a.next_id();
            assert_eq!(id, b.next_id());
            let text = id.to_string();
            assert_eq!(text.len(), 32);
            assert!(text.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)));
            assert_eq!(&text[12..13], "4", "version nibble");
            assert!(matches!(&text[16..17], "8" | "9" | "a" | "b"), "RFC 4122 variant");
            assert_eq!(RequestId::parse(&text), Some(id));
            assert_eq!(id.to_hex(), text);
            assert_eq!(text, format!("{:032x}", id.0), "the digits, high nibble first");
        }
        assert_ne!(IdGenerator::new(8).next_id(), IdGenerator::new(7).next_id());
    }

    #[test]
    fn the_low_32_bits_count_up_and_the_rest_is_random() {
        let mut ids = IdGenerator::new(3);
        let (first, second) = (ids.next_id().0, ids.next_id().0);
        assert_eq!((second as u32).wrapping_sub(first as u32), 1);
        // Of the 96 high bits, version and variant aside, a fresh draw differs in many.
        let differing = ((first ^ second) >> 32).count_ones();
        assert!(differing > 20, "{differing} of the high bits differ");
    }

    #[test]
    fn only_the_simple_form_parses() {
        let id = IdGenerator::new(1).next_id().to_string();
        assert!(RequestId::parse(&id.to_uppercase()).is_none());
        let hyphenated = format!("{}-{}-{}-{}-{}", &id[..8], &id[8..12], &id[12..16], &id[16..20], &id[20..]);
        assert!(RequestId::parse(&hyphenated).is_none());
        assert!(RequestId::parse("").is_none());
        assert!(RequestId::parse("+0000000000000000000000000000000").is_none());
    }

    /// A digit at a time, as the wire form reads.
    fn parse_slowly(text: &str) -> Option<RequestId> {
        let digit = |b: u8| match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            _ => None,
        };
        (text.len() == 32).then_some(())?;
        text.bytes().try_fold(0u128, |id, b| Some(id << 4 | u128::from(digit(b)?))).map(RequestId)
    }

    #[test]
    fn every_character_at_every_place_parses_as_a_digit_at_a_time() {
        let id = "0123456789abcdeffedcba9876543210";
        assert_eq!(RequestId::parse(id), Some(RequestId(0x0123456789abcdeffedcba9876543210)));
        for place in 0..32 {
            for c in (0u8..0x80).map(char::from) {
                let mut text = id.to_owned();
                text.replace_range(place..=place, c.encode_utf8(&mut [0; 4]));
                assert_eq!(RequestId::parse(&text), parse_slowly(&text), "{text:?}");
            }
            // A two-byte character in place of two digits keeps the length.
            if place < 31 {
                let mut text = id.to_owned();
                text.replace_range(place..place + 2, "\u{e9}");
                assert_eq!(text.len(), 32);
                assert_eq!(RequestId::parse(&text), None, "{text:?}");
            }
        }
    }

    #[test]
    fn any_value_reads_back_from_its_digits() {
        fn prop(high: u64, low: u64) -> bool {
            let value = u128::from(high) << 64 | u128::from(low);
            let text = format!("{value:032x}");
            RequestId::parse(&text) == Some(RequestId(value))
        }
        quickcheck::quickcheck(prop as fn(u64, u64) -> bool);
    }
}
