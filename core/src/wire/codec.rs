//! The incremental line splitter (PROTOCOL §1).
//!
//! WebSocket message boundaries mean nothing: payloads are appended to a buffer
//! and split on `\n`. Memory is bounded by the maximum line length: a line that
//! grows past it is discarded as it streams in and reported once its `\n`
//! arrives, after which splitting resumes.

/// Default maximum line length: 16 MiB.
pub const DEFAULT_MAX_LINE: usize = 16 * 1024 * 1024;

/// What the splitter found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineEvent<'a> {
    /// A complete, non-blank line without its `\n`.
    Line {
        /// 1-based line number (blank lines count too).
        number: u64,
        /// The line's bytes; a trailing `\r` is left for the decoder to strip.
        bytes: &'a [u8],
    },
    /// A line longer than the maximum, already discarded.
    TooLong {
        /// 1-based line number.
        number: u64,
        /// How many bytes it had, without its `\n`.
        len: u64,
    },
}

/// Splits a byte stream into lines, whatever its chunking.
///
/// ```
/// use relay_core::wire::{LineCodec, LineEvent};
/// let mut codec = LineCodec::new(1024);
/// let mut lines = Vec::new();
/// for chunk in [&b"{\"a\""[..], b":1}\n\n{\"b\":2", b"}\n"] {
///     codec.feed(chunk, |e| if let LineEvent::Line { number, bytes } = e {
///         lines.push((number, bytes.to_vec()));
///     });
/// }
/// assert_eq!(lines, [(1, b"{\"a\":1}".to_vec()), (3, b"{\"b\":2}".to_vec())]);
/// ```
#[derive(Debug, Clone)]
pub struct LineCodec {
    partial: Vec<u8>,
    max_line: usize,
    /// While discarding an over-long line: how many of its bytes went by.
    discarded: Option<u64>,
    lines: u64,
}

impl Default for LineCodec {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_LINE)
    }
}

impl LineCodec {
    /// A splitter that refuses lines longer than `max_line` bytes.
    pub fn new(max_line: usize) -> Self {
        Self { partial: Vec::new(), max_line, discarded: None, lines: 0 }
    }

    /// The maximum line length.
    pub fn max_line(&self) -> usize {
        self.max_line
    }

    /// Bytes of an unfinished line held right now (never more than the maximum).
    pub fn buffered(&self) -> usize {
        self.partial.len()
    }

    /// Number of `\n`-terminated lines seen so far.
    pub fn lines_seen(&self) -> u64 {
        self.lines
    }

    /// Feeds the next bytes of the stream, reporting every line they complete.
    pub fn feed(&mut self, mut bytes: &[u8], mut on_event: impl FnMut(LineEvent<'_>)) {
        while let Some(newline) = memchr::memchr(b'\n', bytes) {
            let segment = &bytes[..newline];
            bytes = &bytes[newline + 1..];
            self.lines += 1;
            let number = self.lines;
            if let Some(discarded) = self.discarded.take() {
                on_event(LineEvent::TooLong { number, len: discarded + segment.len() as u64 });
            } else if self.partial.len() + segment.len() > self.max_line {
                let len = (self.partial.len() + segment.len()) as u64;
                self.partial.clear();
                on_event(LineEvent::TooLong { number, len });
            } else if self.partial.is_empty() {
                if !is_blank(segment) {
                    on_event(LineEvent::Line { number, bytes: segment });
                }
            } else {
                self.partial.extend_from_slice(segment);
                if !is_blank(&self.partial) {
                    on_event(LineEvent::Line { number, bytes: &self.partial });
                }
                self.partial.clear();
            }
        }
        self.hold(bytes);
    }

    /// Keeps the start of an unfinished line, or counts it away once it is too long.
    fn hold(&mut self, rest: &[u8]) {
        if let Some(discarded) = &mut self.discarded {
            *discarded += rest.len() as u64;
        } else if self.partial.len() + rest.len() > self.max_line {
            self.discarded = Some((self.partial.len() + rest.len()) as u64);
            self.partial = Vec::new();
        } else {
            self.partial.extend_from_slice(rest);
        }
    }
}

/// Blank or JSON-whitespace-only lines are ignored.
fn is_blank(line: &[u8]) -> bool {
    line.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use quickcheck::quickcheck;

    #[derive(Debug, PartialEq, Eq)]
    enum Seen {
        Line(u64, Vec<u8>),
        TooLong(u64, u64),
    }

    fn split(codec: &mut LineCodec, chunks: &[&[u8]]) -> Vec<Seen> {
        let mut seen = Vec::new();
        for chunk in chunks {
            codec.feed(chunk, |e| {
                seen.push(match e {
                    LineEvent::Line { number, bytes } => Seen::Line(number, bytes.to_vec()),
                    LineEvent::TooLong { number, len } => Seen::TooLong(number, len),
                })
            });
        }
        seen
    }

    #[test]
    fn blank_lines_are_skipped_but_counted() {
        let seen = split(&mut LineCodec::new(64), &[b"a\n\n  \t\r\nb\r\n"]);
        assert_eq!(seen, [Seen::Line(1, b"a".to_vec()), Seen::Line(4, b"b\r".to_vec())]);
    }

    #[test]
    fn partial_line_waits_for_its_newline() {
        let mut codec = LineCodec::new(64);
        assert!(split(&mut codec, &[b"abc"]).is_empty());
        assert_eq!(codec.buffered(), 3);
        assert_eq!(split(&mut codec, &[b"d\n"]), [Seen::Line(1, b"abcd".to_vec())]);
        assert_eq!(codec.buffered(), 0);
    }

    #[test]
    fn over_long_line_is_discarded_and_parsing_resumes() {
        let mut codec = LineCodec::new(8);
        let seen = split(&mut codec, &[b"ok\n0123", b"456789", b"abc\nnext\n", b"123456789\n"]);
        assert_eq!(
            seen,
            [
                Seen::Line(1, b"ok".to_vec()),
                Seen::TooLong(2, 13),
                Seen::Line(3, b"next".to_vec()),
                Seen::TooLong(4, 9)
            ]
        );
        assert_eq!(codec.buffered(), 0);
    }

    #[test]
    fn line_of_exactly_the_maximum_is_kept() {
        assert_eq!(split(&mut LineCodec::new(4), &[b"12", b"34\n"]), [Seen::Line(1, b"1234".to_vec())]);
    }

    #[test]
    fn hundred_megabyte_line_never_grows_the_buffer_past_the_maximum() {
        let max = 16 * 1024 * 1024;
        let mut codec = LineCodec::new(max);
        let chunk = vec![b'x'; 64 * 1024];
        let mut events = 0;
        for _ in 0..(100 * 1024 * 1024 / chunk.len()) {
            codec.feed(&chunk, |_| events += 1);
            assert!(codec.buffered() <= max);
        }
        assert_eq!(events, 0);
        let seen = split(&mut codec, &[b"\n{\"type\":\"going_idle_ack\"}\n"]);
        assert_eq!(
            seen,
            [Seen::TooLong(1, 100 * 1024 * 1024), Seen::Line(2, b"{\"type\":\"going_idle_ack\"}".to_vec())]
        );
    }

    fn chunked(stream: &[u8], cuts: &[usize]) -> Vec<Seen> {
        let mut points: Vec<usize> = cuts.iter().map(|c| c % (stream.len() + 1)).collect();
        points.sort_unstable();
        let mut chunks = Vec::new();
        let mut start = 0;
        for p in points {
            chunks.push(&stream[start..p]);
            start = p;
        }
        chunks.push(&stream[start..]);
        split(&mut LineCodec::new(16), &chunks)
    }

    quickcheck! {
        fn any_split_gives_the_same_lines(stream: Vec<u8>, cuts: Vec<usize>) -> bool {
            chunked(&stream, &cuts) == split(&mut LineCodec::new(16), &[&stream])
        }

        fn byte_at_a_time_gives_the_same_lines(stream: Vec<u8>) -> bool {
            let bytes: Vec<&[u8]> = stream.chunks(1).collect();
            split(&mut LineCodec::new(16), &bytes) == split(&mut LineCodec::new(16), &[&stream])
        }
    }
}
