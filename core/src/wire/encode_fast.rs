//! The lines of a request's round trip, written by hand: an `outbound` with
//! a `send` action and an `outbound_result`, each frame of the two taking
//! serde's map machinery a few thousand instructions for a hundred bytes.
//!
//! The bytes are exactly the serde encoding's ([`Frame::encode`]): keys in
//! the same order, strings escaped as `serde_json` escapes them. Anything
//! else (unknown keys, other ops) is left to serde. `Frame::encode` stays
//! on serde, so the fuzz harness that compares it with `encode_line` checks
//! this file on every frame it makes, as the property test below does.

use super::scan::clean_prefix;
use super::{ActionResult, Frame, OutboundAction};

/// `frame` as a line (with its `\n`), when it is one written here.
pub(crate) fn line(frame: &Frame) -> Option<String> {
    match frame {
        Frame::Outbound(f) if f.extra.is_empty() => {
            let OutboundAction::Send(send) = &f.action else { return None };
            if !send.extra.is_empty() {
                return None;
            }
            // The literal parts take 114 bytes; the optional ones are sized as they come.
            let strings = f.request_id.len() + send.chat_id.len() + send.content.len();
            let optional_len = [send.reply_to.as_ref(), f.platform.as_ref(), f.bot_id.as_ref()]
                .into_iter()
                .flatten()
                .map(|s| s.len() + 16)
                .sum::<usize>();
            let mut out = String::with_capacity(128 + strings + optional_len);
            out.push_str(r#"{"type":"outbound","requestId":"#);
            string(&mut out, &f.request_id);
            out.push_str(r#","action":{"op":"send","chat_id":"#);
            string(&mut out, &send.chat_id);
            out.push_str(r#","content":"#);
            string(&mut out, &send.content);
            out.push_str(r#","reply_to":"#);
            optional(&mut out, send.reply_to.as_deref());
            out.push_str(r#","metadata":"#);
            if send.metadata.is_empty() {
                out.push_str("{}");
            } else {
                out.push_str(&serde_json::to_string(&send.metadata).ok()?);
            }
            out.push('}');
            if let Some(platform) = &f.platform {
                out.push_str(r#","platform":"#);
                string(&mut out, platform);
            }
            if let Some(bot_id) = &f.bot_id {
                out.push_str(r#","botId":"#);
                string(&mut out, bot_id);
            }
            out.push_str("}\n");
            Some(out)
        }
        Frame::OutboundResult(f) if f.extra.is_empty() && f.result.extra.is_empty() => {
            let ActionResult { success, message_id, error, code, .. } = &f.result;
            let mut out = String::with_capacity(96 + f.request_id.len());
            out.push_str(r#"{"type":"outbound_result","requestId":"#);
            string(&mut out, &f.request_id);
            out.push_str(if *success {
                r#","result":{"success":true"#
            } else {
                r#","result":{"success":false"#
            });
            for (key, value) in
                [(r#","message_id":"#, message_id), (r#","error":"#, error), (r#","code":"#, code)]
            {
                if let Some(value) = value {
                    out.push_str(key);
                    string(&mut out, value);
                }
            }
            out.push_str("}}\n");
            Some(out)
        }
        _ => None,
    }
}

fn optional(out: &mut String, value: Option<&str>) {
    match value {
        Some(value) => string(out, value),
        None => out.push_str("null"),
    }
}

/// `text` as a JSON string, escaped as `serde_json` escapes: `"` and `\`,
/// the short forms `\b \f \n \r \t`, other control characters as `\u00xx`
/// (lowercase hex), everything else as it is.
pub(super) fn string(out: &mut String, text: &str) {
    // Room for the usual case, no escapes, at once.
    out.reserve(text.len() + 2);
    out.push('"');
    let bytes = text.as_bytes();
    let mut start = 0;
    loop {
        let clean = start + clean_prefix(&bytes[start..]);
        // Every escaped byte is ASCII, so `start..clean` ends on a character boundary.
        out.push_str(&text[start..clean]);
        let Some(&byte) = bytes.get(clean) else { break };
        let short = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            _ => "",
        };
        if short.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0xf)]));
        } else {
            out.push_str(short);
        }
        start = clean + 1;
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use quickcheck::{Arbitrary, Gen, QuickCheck};
    use serde_json::Value;

    use super::*;
    use crate::wire::frame::{Outbound, OutboundResult};
    use crate::wire::{Object, SendMessage};

    #[test]
    fn strings_escape_as_serde_json_escapes_them() {
        let every_ascii: String = (0u8..128).map(char::from).collect();
        let long = "0123456789abcdef\"0123456\\789abcdef\u{1}01234567é日😀\u{7f}89abcdef".repeat(3);
        for text in
            [every_ascii.as_str(), "", "plain", "é日😀\u{7f}\u{2028}", "\"\\/", "a\u{0}b\u{1f}", &long]
        {
            let mut ours = String::new();
            string(&mut ours, text);
            assert_eq!(ours, serde_json::to_string(text).unwrap(), "{text:?}");
        }
    }

    #[test]
    fn other_frames_are_left_to_serde() {
        let mut result = ActionResult::ok();
        result.extra.insert("chat_info".into(), Value::Null);
        let frame =
            Frame::OutboundResult(OutboundResult { request_id: "r".into(), result, ..Default::default() });
        assert_eq!(line(&frame), None);
        assert_eq!(line(&Frame::GoingIdle(Default::default())), None);
    }

    /// A frame of the kinds written here, with awkward text in every string.
    #[derive(Debug, Clone)]
    struct RoundTripFrame(Frame);

    fn text(g: &mut Gen) -> String {
        let pool =
            ["", "c1", "hi \"there\"", "tab\tnew\nline\r\u{8}\u{c}", "\u{1}\u{1f}\u{7f}", "café 😀", "\\"];
        let mut text = (*g.choose(&pool).unwrap_or(&"")).to_owned();
        if bool::arbitrary(g) {
            text.push_str(&String::arbitrary(g));
        }
        text
    }

    fn maybe(g: &mut Gen) -> Option<String> {
        bool::arbitrary(g).then(|| text(g))
    }

    impl Arbitrary for RoundTripFrame {
        fn arbitrary(g: &mut Gen) -> Self {
            if bool::arbitrary(g) {
                let mut metadata = Object::new();
                if bool::arbitrary(g) {
                    metadata.insert(text(g), Value::String(text(g)));
                }
                let send = SendMessage {
                    chat_id: text(g),
                    content: text(g),
                    reply_to: maybe(g),
                    metadata,
                    ..Default::default()
                };
                let frame = Outbound {
                    request_id: text(g),
                    action: OutboundAction::Send(send),
                    platform: maybe(g),
                    bot_id: maybe(g),
                    extra: Default::default(),
                };
                return Self(Frame::Outbound(frame));
            }
            let result = ActionResult {
                success: bool::arbitrary(g),
                message_id: maybe(g),
                error: maybe(g),
                code: maybe(g),
                extra: Default::default(),
            };
            Self(Frame::OutboundResult(OutboundResult {
                request_id: text(g),
                result,
                extra: Default::default(),
            }))
        }
    }

    #[test]
    fn the_lines_are_the_serde_encoding() {
        fn prop(frame: RoundTripFrame) -> bool {
            let ours = line(&frame.0).expect("a frame written here");
            assert_eq!(ours.as_bytes(), frame.0.encode(), "{:?}", frame.0);
            true
        }
        QuickCheck::new().tests(2000).quickcheck(prop as fn(RoundTripFrame) -> bool);
    }
}
