//! How frames are written into stream entries: as their wire lines, the
//! same way the file store keeps them.

use relay_core::connector::{BufferedFrame, StoredFrame};

/// The stream entry field holding the line.
pub(crate) const LINE_FIELD: &str = "line";

/// `frame` as its wire line without the `\n`, so what is stored is exactly
/// what a gateway would be sent.
pub(crate) fn encode_frame(frame: BufferedFrame) -> Vec<u8> {
    let mut line = Vec::with_capacity(1024);
    frame.encode_into(&mut line);
    line
}

/// The buffered frame a stored line holds, or why it holds none. The line
/// is checked, not decoded: a replay sends it as it is, with its `bufferId`.
pub(crate) fn decode_frame(line: &[u8]) -> Result<BufferedFrame, String> {
    StoredFrame::from_line(line).map(BufferedFrame::Stored)
}

#[cfg(test)]
mod tests {
    use relay_core::wire::{MessageEvent, Platform, SessionSource};

    use super::*;

    #[test]
    fn a_frame_comes_back_from_its_line() {
        let source = SessionSource::new(Platform::Telegram, "c1", "dm");
        let frame = BufferedFrame::Inbound(Box::new(MessageEvent::text(source, "hi")));
        let line = encode_frame(frame.clone());
        assert!(line.starts_with(br#"{"type":"inbound""#) && !line.ends_with(b"\n"));
        assert_eq!(decode_frame(&line).and_then(BufferedFrame::decoded), Ok(frame));
    }

    #[test]
    fn a_line_of_another_frame_type_is_refused() {
        let err = decode_frame(br#"{"type":"inbound_ack","bufferId":"1"}"#).unwrap_err();
        assert_eq!(err, "the line is not an inbound or passthrough_forward frame");
        assert!(decode_frame(b"{not json").is_err());
    }
}
