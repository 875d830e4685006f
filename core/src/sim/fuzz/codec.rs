//! The `codec` target: the line splitter and frame decoder must not care
//! how a byte stream is chunked.

use crate::wire::{Frame, LineCodec, LineEvent};

/// What the codec and decoder made of a stream: one entry per line.
#[derive(Debug, PartialEq)]
enum Decoded {
    Frame(u64, Vec<u8>),
    Refused(u64, &'static str),
}

fn decode_stream<'a>(max_line: usize, chunks: impl IntoIterator<Item = &'a [u8]>) -> Vec<Decoded> {
    let mut codec = LineCodec::new(max_line);
    let mut out = Vec::new();
    for chunk in chunks {
        codec.feed(chunk, |event| match event {
            LineEvent::Line { number, bytes } => out.push(match Frame::decode(bytes, None) {
                Ok(frame) => {
                    let encoded = frame.encode();
                    let again = Frame::decode(&encoded, None).expect("an encoded frame decodes");
                    assert_eq!(again, frame, "re-encoding changed the frame");
                    Decoded::Frame(number, encoded)
                }
                Err(e) => Decoded::Refused(number, e.kind.as_str()),
            }),
            LineEvent::TooLong { number, .. } => out.push(Decoded::Refused(number, "line_too_long")),
        });
        assert!(codec.buffered() <= max_line, "codec buffer exceeded the maximum line");
    }
    out
}

/// Feeds `data` to the codec and decoder whole and split at points chosen by
/// its first bytes; both must give the same frames and diagnostics, every
/// decoded frame must re-encode to itself, and the buffer must stay bounded.
pub fn codec(data: &[u8]) {
    const MAX_LINE: usize = 4096;
    let (cuts, stream) = data.split_at(data.len().min(8));
    let whole = decode_stream(MAX_LINE, [stream]);
    let mut points: Vec<usize> = cuts.iter().map(|&c| usize::from(c) * stream.len() / 256).collect();
    points.sort_unstable();
    let mut chunks = Vec::with_capacity(points.len() + 1);
    let mut start = 0;
    for p in points {
        chunks.push(&stream[start..p]);
        start = p;
    }
    chunks.push(&stream[start..]);
    assert_eq!(decode_stream(MAX_LINE, chunks), whole, "chunking changed the outcome");
    assert_eq!(decode_stream(MAX_LINE, stream.chunks(1)), whole, "byte-at-a-time changed the outcome");
}
