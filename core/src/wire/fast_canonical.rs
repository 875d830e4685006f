//! The two lines of every request's round trip, read by their exact shape.
//!
//! relay writes an `outbound` with a `send` action and an `outbound_result`
//! in one compact form (`encode_fast.rs`). A line in exactly that form —
//! keys in that order, no whitespace, strings without escapes — is read here
//! by matching its literal parts and copying the strings between them: a
//! few hundred instructions where a JSON parser spends thousands. Anything
//! else is `None` and goes on to the serde fast path, and from there to the
//! strict decoder, so what is read here must be exactly the frame the strict
//! decoder reads: the fuzz oracle (`check_against_reference`) and the tests
//! below compare the two.

use crate::wire::frame::{Outbound, OutboundResult};
use crate::wire::json::{Extra, Object};
use crate::wire::{ActionResult, Direction, Frame, OutboundAction, SendMessage};

/// The frame on `line` when it is one of the two shapes, else `None`.
pub(super) fn decode(line: &[u8], expect: Option<Direction>) -> Option<Frame> {
    let rest = line.strip_prefix(br#"{"type":"outbound"#)?;
    // The form has no control character anywhere (JSON forbids them raw in
    // strings, and it has no whitespace): checked once for the line, as its
    // UTF-8 is, rather than once per string.
    if rest.iter().fold(false, |control, &b| control | (b < 0x20)) {
        return None;
    }
    let mut at = Cursor { rest: std::str::from_utf8(rest).ok()? };
    if at.literal(r#"","requestId":"#) {
        if expect == Some(Direction::ToGateway) {
            return None;
        }
        return outbound(at);
    }
    if at.literal(r#"_result","requestId":"#) {
        if expect == Some(Direction::ToConnector) {
            return None;
        }
        return outbound_result(at);
    }
    None
}

/// `…"requestId":` onwards of an `outbound`.
fn outbound(mut at: Cursor<'_>) -> Option<Frame> {
    let request_id = at.string()?;
    at.expect(r#","action":{"op":"send","chat_id":"#)?;
    let chat_id = at.string()?;
    at.expect(r#","content":"#)?;
    let content = at.string()?;
    at.expect(r#","reply_to":"#)?;
    let reply_to = at.string_or_null()?;
    at.expect(r#","metadata":{}}"#)?;
    let platform = at.optional_field(r#","platform":"#)?;
    let bot_id = at.optional_field(r#","botId":"#)?;
    at.expect("}")?;
    at.at_end()?;
    let send = SendMessage {
        chat_id: chat_id.to_owned(),
        content: content.to_owned(),
        reply_to: reply_to.map(str::to_owned),
        metadata: Object::new(),
        extra: Extra::new(),
    };
    Some(Frame::Outbound(Outbound {
        request_id: request_id.to_owned(),
        action: OutboundAction::Send(send),
        platform: platform.map(str::to_owned),
        bot_id: bot_id.map(str::to_owned),
        extra: Extra::new(),
    }))
}

/// `…"requestId":` onwards of an `outbound_result`.
fn outbound_result(mut at: Cursor<'_>) -> Option<Frame> {
    let request_id = at.string()?;
    at.expect(r#","result":{"success":"#)?;
    let success = if at.literal("true") {
        true
    } else {
        at.expect("false")?;
        false
    };
    let message_id = at.optional_field(r#","message_id":"#)?;
    let error = at.optional_field(r#","error":"#)?;
    let code = at.optional_field(r#","code":"#)?;
    at.expect("}}")?;
    at.at_end()?;
    let result = ActionResult {
        success,
        message_id: message_id.map(str::to_owned),
        error: error.map(str::to_owned),
        code: code.map(str::to_owned),
        extra: Extra::new(),
    };
    Some(Frame::OutboundResult(OutboundResult {
        request_id: request_id.to_owned(),
        result,
        extra: Extra::new(),
    }))
}

/// What is left of the line to match.
struct Cursor<'a> {
    rest: &'a str,
}

impl<'a> Cursor<'a> {
    /// Consumes `literal` when the line goes on with it.
    fn literal(&mut self, literal: &str) -> bool {
        match self.rest.strip_prefix(literal) {
            Some(rest) => {
                self.rest = rest;
                true
            }
            None => false,
        }
    }

    fn expect(&mut self, literal: &str) -> Option<()> {
        self.literal(literal).then_some(())
    }

    fn at_end(&self) -> Option<()> {
        self.rest.is_empty().then_some(())
    }

    /// A string without escapes, as it sits in the line.
    fn string(&mut self) -> Option<&'a str> {
        let body = self.rest.strip_prefix('"')?;
        let end = memchr::memchr2(b'"', b'\\', body.as_bytes())?;
        // A quote, not a backslash, and ASCII: both halves are whole characters.
        let (text, rest) = body.split_at_checked(end)?;
        self.rest = rest.strip_prefix('"')?;
        Some(text)
    }

    /// A string, or `null` (absent).
    fn string_or_null(&mut self) -> Option<Option<&'a str>> {
        if self.literal("null") { Some(None) } else { self.string().map(Some) }
    }

    /// `key` and its string when the line goes on with `key`; a `null`
    /// value is left to the other decoders.
    fn optional_field(&mut self, key: &str) -> Option<Option<&'a str>> {
        if self.literal(key) { self.string().map(Some) } else { Some(None) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines of both shapes and near misses: wherever the shape matcher
    /// reads one, the strict decoder reads the same frame.
    const LINES: &[&str] = &[
        r#"{"type":"outbound","requestId":"r1","action":{"op":"send","chat_id":"c1","content":"hi","reply_to":null,"metadata":{}}}"#,
        r#"{"type":"outbound","requestId":"","action":{"op":"send","chat_id":"","content":"","reply_to":"","metadata":{}}}"#,
        r#"{"type":"outbound","requestId":"r1","action":{"op":"send","chat_id":"c1","content":"café 😀","reply_to":"m9","metadata":{}},"platform":"telegram","botId":"b1"}"#,
        r#"{"type":"outbound","requestId":"r1","action":{"op":"send","chat_id":"c1","content":"hi","reply_to":null,"metadata":{}},"botId":"b1"}"#,
        r#"{"type":"outbound","requestId":"r1","action":{"op":"send","chat_id":"c1","content":"a\nb","reply_to":null,"metadata":{}}}"#,
        r#"{"type":"outbound","requestId":"r1","action":{"op":"send","chat_id":"c1","content":"hi","reply_to":null,"metadata":{"k":1}}}"#,
        r#"{"type":"outbound","requestId":"r1","action":{"op":"send","chat_id":7,"content":"hi","reply_to":null,"metadata":{}}}"#,
        r#"{"type":"outbound","requestId":"r1","action":{"op":"send","chat_id":"c1","content":"hi","reply_to":null,"metadata":{}},"platform":null}"#,
        r#"{"type":"outbound","requestId":"r1","action":{"op":"send","chat_id":"c1","content":"hi","reply_to":null,"metadata":{}},"x":1}"#,
        r#"{"type":"outbound","requestId":"r1","action":{"op":"send","chat_id":"c1","content":"hi","reply_to":null,"metadata":{}}} "#,
        r#"{"type":"outbound_result","requestId":"r1","result":{"success":true}}"#,
        r#"{"type":"outbound_result","requestId":"r1","result":{"success":false,"message_id":"m1","error":"no","code":"egress_declined"}}"#,
        r#"{"type":"outbound_result","requestId":"r1","result":{"success":false,"code":""}}"#,
        r#"{"type":"outbound_result","requestId":"r1","result":{"success":true,"message_id":5}}"#,
        r#"{"type":"outbound_result","requestId":"r1","result":{"success":true,"error":null}}"#,
        r#"{"type":"outbound_result","requestId":"r1","result":{"success":true}}}"#,
        r#"{"type":"outbound_result","requestId":"r1","result":{"success":true},"requestId":"r2"}"#,
    ];

    #[test]
    fn whatever_the_shape_matcher_reads_the_strict_decoder_reads_too() {
        let mut read = 0;
        for line in LINES {
            for expect in [None, Some(Direction::ToGateway), Some(Direction::ToConnector)] {
                if let Some(frame) = decode(line.as_bytes(), expect) {
                    read += 1;
                    let strict = Frame::decode_strict(line, expect);
                    assert_eq!(strict.as_ref(), Ok(&frame), "{line}");
                    assert_eq!(
                        frame.encode_line().trim_end(),
                        *line,
                        "our own shape re-encodes byte for byte"
                    );
                }
            }
        }
        // Each of the seven lines in the shape is read with no expectation and with its own direction.
        assert_eq!(read, 7 * 2);
    }

    #[test]
    fn near_misses_are_left_to_the_other_decoders() {
        let misses = [
            r#"{"type":"outbound","requestId":"r\"1","action":{"op":"send","chat_id":"c1","content":"hi","reply_to":null,"metadata":{}}}"#,
            r#"{"type":"outbound","requestId":"r1","action":{"op":"send","chat_id":"c1","content":"a	b","reply_to":null,"metadata":{}}}"#,
            r#"{"type": "outbound","requestId":"r1","action":{"op":"send","chat_id":"c1","content":"hi","reply_to":null,"metadata":{}}}"#,
            r#"{"type":"outbound","requestId":"r1","action":{"op":"typing","chat_id":"c1"}}"#,
            r#"{"type":"outbound_result","requestId":"r1","result":{"success":1}}"#,
            r#"{"type":"outbound_result","requestId":"r1"}"#,
        ];
        for line in misses {
            assert_eq!(decode(line.as_bytes(), None), None, "{line}");
        }
        let invalid_utf8 =
            b"{\"type\":\"outbound_result\",\"requestId\":\"\xff\",\"result\":{\"success\":true}}";
        assert_eq!(decode(invalid_utf8, None), None);
        let wrong_way = LINES[10].as_bytes();
        assert_eq!(decode(wrong_way, Some(Direction::ToConnector)), None);
        assert_eq!(decode(LINES[0].as_bytes(), Some(Direction::ToGateway)), None);
    }
}
