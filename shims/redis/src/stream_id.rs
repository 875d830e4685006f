//! Redis stream entry ids (`<ms>-<seq>`), which are the buffer ids.

use std::fmt;

/// A stream entry id; ordered as Redis orders them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct StreamId {
    ms: u64,
    seq: u64,
}

impl StreamId {
    /// No entry has a smaller id: a range from here starts at the beginning.
    pub(crate) const FIRST: Self = Self { ms: 0, seq: 0 };

    /// The id `text` spells in full (`<ms>-<seq>`, as Redis hands them out),
    /// or `None`. Checking here keeps text that is no id away from Redis,
    /// which would refuse the whole command over it.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let (ms, seq) = text.split_once('-')?;
        let number =
            |part: &str| part.bytes().all(|b| b.is_ascii_digit()).then(|| part.parse().ok()).flatten();
        Some(Self { ms: number(ms)?, seq: number(seq)? })
    }

    /// The smallest id after this one, so that an inclusive range starting
    /// there excludes it; `None` after the largest id.
    pub(crate) fn successor(self) -> Option<Self> {
        match self.seq.checked_add(1) {
            Some(seq) => Some(Self { ms: self.ms, seq }),
            None => Some(Self { ms: self.ms.checked_add(1)?, seq: 0 }),
        }
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_full_ids_parse() {
        let id = StreamId::parse("1733500000000-7").unwrap();
        assert_eq!(id.to_string(), "1733500000000-7");
        for junk in
            ["", "5", "-", "1-", "-1", "1-2-3", "+1-2", "1- 2", "a-b", "99999999999999999999-0", "(1-0"]
        {
            assert_eq!(StreamId::parse(junk), None, "{junk:?}");
        }
    }

    #[test]
    fn the_successor_is_the_next_id_in_order() {
        let id = StreamId::parse("5-1").unwrap();
        assert_eq!(id.successor().unwrap().to_string(), "5-2");
        let end_of_ms = StreamId::parse(&format!("5-{}", u64::MAX)).unwrap();
        assert_eq!(end_of_ms.successor().unwrap().to_string(), "6-0");
        assert!(end_of_ms < end_of_ms.successor().unwrap());
        let last = StreamId::parse(&format!("{0}-{0}", u64::MAX)).unwrap();
        assert_eq!(last.successor(), None);
    }
}
