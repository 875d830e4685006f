//! The gateway's catalogue: lines a hostile connector sends, and what a
//! gateway machine must do with each (PROTOCOL §1 table, §2, §7).

use relay_core::gateway::{CloseReason, Event};
use relay_core::wire::DiagnosticKind::*;

use super::{Case, Expect, line};

type E = Expect<Event, CloseReason>;

fn skipped(kind: relay_core::wire::DiagnosticKind) -> E {
    Expect::Skipped(kind)
}

fn inbound_text(e: &Event) -> Option<&str> {
    match e {
        Event::Inbound { event, .. } => Some(&event.text),
        _ => None,
    }
}

fn kept_inbound(e: &Event) -> bool {
    inbound_text(e).is_some()
}

fn forward(e: &Event) -> Option<&relay_core::wire::Forward> {
    match e {
        Event::Passthrough { forward, .. } => Some(forward),
        _ => None,
    }
}

/// `{"type":"inbound","event":{"text":<json>}}` with `json` spliced in raw.
fn inbound_with_text(json: &str) -> String {
    format!("{{\"type\":\"inbound\",\"event\":{{\"text\":{json}}}}}")
}

/// An inbound line carrying `json` raw under an unknown key.
fn inbound_with_extra(json: &str) -> String {
    format!("{{\"type\":\"inbound\",\"event\":{{\"text\":\"t\"}},\"x\":{json}}}")
}

fn nested(depth: usize, open: &str, close: &str) -> String {
    format!("{}1{}", open.repeat(depth), close.repeat(depth))
}

fn bytes_line(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

pub(crate) fn cases() -> Vec<Case<Event, CloseReason>> {
    let text_start: &[u8] = b"{\"type\":\"inbound\",\"event\":{\"text\":\"a";
    let text_end: &[u8] = b"b\"}}";
    let bad_utf8 =
        |name, bytes: &[u8]| line(name, bytes_line(&[text_start, bytes, text_end]), skipped(InvalidUtf8));
    let many_keys: String = (0..100_000).map(|i| format!("\"k{i}\":{i},")).collect();
    vec![
        // -- not UTF-8 (binary messages) --
        bad_utf8("invalid UTF-8 byte mid-line", b"\xff"),
        bad_utf8("truncated UTF-8 sequence", b"\xe2\x82"),
        bad_utf8("overlong UTF-8 encoding", b"\xc0\xaf"),
        bad_utf8("UTF-8-encoded surrogate", b"\xed\xa0\x80"),
        bad_utf8("code point beyond U+10FFFF", b"\xf4\x90\x80\x80"),
        bad_utf8("lone continuation byte", b"\x80"),
        // -- not JSON --
        line("not JSON at all", "hello world", skipped(InvalidJson)),
        line("truncated object", "{\"type\":\"inbound\",\"event\":{", skipped(InvalidJson)),
        line("garbage after the object", "{\"type\":\"going_idle_ack\"} x", skipped(InvalidJson)),
        line(
            "two objects on one line",
            "{\"type\":\"going_idle_ack\"}{\"type\":\"going_idle_ack\"}",
            skipped(InvalidJson),
        ),
        line("Python repr quotes", "{'type': 'inbound'}", skipped(InvalidJson)),
        line("trailing comma", "{\"type\":\"going_idle_ack\",}", skipped(InvalidJson)),
        line("raw control character in a string", inbound_with_text("\"a\u{1}b\""), skipped(InvalidJson)),
        line("NUL byte", b"{\"type\":\"inbound\"\0}", skipped(InvalidJson)),
        line(
            "UTF-8 byte order mark",
            b"\xef\xbb\xbf{\"type\":\"inbound\",\"event\":{}}",
            skipped(InvalidJson),
        ),
        line(
            "arrays nested 10,000 deep",
            inbound_with_extra(&nested(10_000, "[", "]")),
            skipped(InvalidJson),
        ),
        line(
            "objects nested 10,000 deep",
            inbound_with_extra(&nested(10_000, "{\"a\":", "}").replace(":1}", ":{}}")),
            skipped(InvalidJson),
        ),
        line(
            "nesting just past the parser's limit",
            inbound_with_extra(&nested(200, "[", "]")),
            skipped(InvalidJson),
        ),
        line(
            "nesting within the limit is kept",
            inbound_with_extra(&nested(100, "[", "]")),
            Expect::Kept(kept_inbound),
        ),
        // -- numbers --
        line("float beyond f64", inbound_with_extra("1e400"), skipped(InvalidJson)),
        line("negative float beyond f64", inbound_with_extra("-1e400"), skipped(InvalidJson)),
        line("NaN", inbound_with_extra("NaN"), skipped(InvalidJson)),
        line("Infinity", inbound_with_extra("Infinity"), skipped(InvalidJson)),
        line("-Infinity", inbound_with_extra("-Infinity"), skipped(InvalidJson)),
        line(
            "integer beyond i64 and u64 in an unknown key",
            inbound_with_extra("123456789012345678901234567890"),
            Expect::Kept(kept_inbound),
        ),
        line(
            "integer beyond i64 in a later descriptor's int field",
            "{\"type\":\"descriptor\",\"descriptor\":{\"contract_version\":1,\"platform\":\"x\",\"label\":\"x\",\"max_message_length\":99999999999999999999,\"supports_draft_streaming\":false,\"supports_edit\":false,\"supports_threads\":false,\"markdown_dialect\":\"plain\",\"len_unit\":\"chars\"}}",
            skipped(BadField),
        ),
        line(
            "integer beyond u64 as a message id",
            "{\"type\":\"inbound\",\"event\":{\"message_id\":99999999999999999999999}}",
            skipped(BadField),
        ),
        line(
            "integer message id read as text",
            "{\"type\":\"inbound\",\"event\":{\"text\":\"n\",\"message_id\":-9223372036854775808}}",
            Expect::Kept(
                |e| matches!(e, Event::Inbound { event, .. } if event.message_id.as_deref() == Some("-9223372036854775808")),
            ),
        ),
        // -- duplicate keys: last one wins, as in Python --
        line(
            "duplicate keys",
            "{\"type\":\"inbound\",\"event\":{\"text\":\"a\",\"text\":\"b\"}}",
            Expect::Kept(|e| inbound_text(e) == Some("b")),
        ),
        line(
            "duplicate type keys",
            "{\"type\":\"hello\",\"type\":\"inbound\",\"event\":{\"text\":\"t\"}}",
            Expect::Kept(kept_inbound),
        ),
        // -- the type --
        line("no type", "{\"event\":{}}", skipped(MissingType)),
        line("type is a number", "{\"type\":5}", skipped(MissingType)),
        line("type is null", "{\"type\":null,\"event\":{}}", skipped(MissingType)),
        line("type is an object", "{\"type\":{\"name\":\"inbound\"}}", skipped(MissingType)),
        line("type is a list", "{\"type\":[\"inbound\"]}", skipped(MissingType)),
        line("type is a boolean", "{\"type\":true}", skipped(MissingType)),
        line("unknown type", "{\"type\":\"teleport\"}", skipped(UnknownType)),
        line("empty type", "{\"type\":\"\"}", skipped(UnknownType)),
        line("type in the wrong case", "{\"type\":\"Inbound\",\"event\":{}}", skipped(UnknownType)),
        line("type with padding", "{\"type\":\" inbound\",\"event\":{}}", skipped(UnknownType)),
        line(
            "type spelled with an escape",
            "{\"type\":\"\\u0069nbound\",\"event\":{\"text\":\"t\"}}",
            Expect::Kept(kept_inbound),
        ),
        // -- frames going the wrong way --
        line(
            "hello arriving at a gateway",
            "{\"type\":\"hello\",\"platform\":\"x\",\"botId\":\"\"}",
            skipped(WrongDirection),
        ),
        line(
            "outbound arriving at a gateway",
            "{\"type\":\"outbound\",\"requestId\":\"r\",\"action\":{\"op\":\"send\"}}",
            skipped(WrongDirection),
        ),
        line(
            "interrupt arriving at a gateway",
            "{\"type\":\"interrupt\",\"session_key\":\"k\",\"reason\":null}",
            skipped(WrongDirection),
        ),
        line("going_idle arriving at a gateway", "{\"type\":\"going_idle\"}", skipped(WrongDirection)),
        line(
            "inbound_ack arriving at a gateway",
            "{\"type\":\"inbound_ack\",\"bufferId\":\"b\"}",
            skipped(WrongDirection),
        ),
        // -- known frames with missing or mistyped fields --
        line("inbound without event", "{\"type\":\"inbound\"}", skipped(BadField)),
        line("inbound event is a string", "{\"type\":\"inbound\",\"event\":\"hi\"}", skipped(BadField)),
        line("bufferId is a number", "{\"type\":\"inbound\",\"event\":{},\"bufferId\":7}", skipped(BadField)),
        line(
            "bufferId is an object",
            "{\"type\":\"inbound\",\"event\":{},\"bufferId\":{\"id\":\"b\"}}",
            skipped(BadField),
        ),
        line(
            "bufferId is a boolean",
            "{\"type\":\"passthrough_forward\",\"forward\":{},\"bufferId\":true}",
            skipped(BadField),
        ),
        line(
            "event text is a list",
            "{\"type\":\"inbound\",\"event\":{\"text\":[\"a\"]}}",
            skipped(BadField),
        ),
        line(
            "outbound_result requestId is a number",
            "{\"type\":\"outbound_result\",\"requestId\":1,\"result\":{}}",
            skipped(BadField),
        ),
        line(
            "outbound_result result is a list",
            "{\"type\":\"outbound_result\",\"requestId\":\"r\",\"result\":[]}",
            skipped(BadField),
        ),
        line(
            "interrupt_inbound without session_key",
            "{\"type\":\"interrupt_inbound\",\"chat_id\":\"1\"}",
            skipped(BadField),
        ),
        line(
            "interrupt_inbound chat_id is a float",
            "{\"type\":\"interrupt_inbound\",\"session_key\":\"k\",\"chat_id\":1.5}",
            skipped(BadField),
        ),
        line(
            "interrupt_inbound integer chat_id read as text",
            "{\"type\":\"interrupt_inbound\",\"session_key\":\"k\",\"chat_id\":123}",
            Expect::Kept(|e| matches!(e, Event::Interrupt { chat_id, .. } if chat_id == "123")),
        ),
        line(
            "later descriptor with wrong types",
            "{\"type\":\"descriptor\",\"descriptor\":{\"contract_version\":\"1\",\"platform\":5,\"label\":null,\"max_message_length\":\"4096\",\"supports_draft_streaming\":\"no\",\"supports_edit\":1,\"supports_threads\":[],\"markdown_dialect\":{},\"len_unit\":0}}",
            skipped(BadField),
        ),
        line(
            "later descriptor that is not an object",
            "{\"type\":\"descriptor\",\"descriptor\":\"discord\"}",
            skipped(BadField),
        ),
        line(
            "a descriptor beyond the hellos sent",
            super::descriptor_line("relay").trim_end(),
            skipped(Unexpected),
        ),
        line("going_idle_ack nobody asked for", "{\"type\":\"going_idle_ack\"}", skipped(Unexpected)),
        // -- passthrough (§7) --
        line(
            "forward is not an object",
            "{\"type\":\"passthrough_forward\",\"forward\":[]}",
            skipped(BadField),
        ),
        line(
            "base64 garbage body reads as empty",
            "{\"type\":\"passthrough_forward\",\"forward\":{\"method\":\"POST\",\"bodyB64\":\"!!not*base64==\"}}",
            Expect::Kept(|e| forward(e).is_some_and(|f| f.body.is_empty() && f.method == "POST")),
        ),
        line(
            "truncated base64 body reads as empty",
            "{\"type\":\"passthrough_forward\",\"forward\":{\"bodyB64\":\"aGVsbG8gd29ybG\"}}",
            Expect::Kept(|e| forward(e).is_some_and(|f| f.body.is_empty())),
        ),
        line(
            "body that is not a string reads as empty",
            "{\"type\":\"passthrough_forward\",\"forward\":{\"bodyB64\":{\"x\":1}}}",
            Expect::Kept(|e| forward(e).is_some_and(|f| f.body.is_empty())),
        ),
        line(
            "unpadded base64 body decodes exactly",
            "{\"type\":\"passthrough_forward\",\"forward\":{\"bodyB64\":\"AP8A/w\"}}",
            Expect::Kept(|e| forward(e).is_some_and(|f| f.body == [0, 255, 0, 255])),
        ),
        line(
            "malformed headers are dropped, order kept",
            "{\"type\":\"passthrough_forward\",\"forward\":{\"headers\":[[\"B\",\"1\"],[\"x\"],[1,2],\"h\",null,[\"a\",\"2\",\"3\"],[\"A\",\"3\"]]}}",
            Expect::Kept(|e| {
                forward(e).is_some_and(|f| f.headers == [("B".into(), "1".into()), ("A".into(), "3".into())])
            }),
        ),
        line(
            "headers that are not a list read as none",
            "{\"type\":\"passthrough_forward\",\"forward\":{\"headers\":{\"a\":\"b\"},\"path\":\"/p\"}}",
            Expect::Kept(|e| forward(e).is_some_and(|f| f.headers.is_empty() && f.path == "/p")),
        ),
        // -- strings --
        line(
            "lone high surrogate is repaired",
            inbound_with_text("\"a\\ud83db\""),
            Expect::Kept(|e| inbound_text(e) == Some("a\u{FFFD}b")),
        ),
        line(
            "lone low surrogate is repaired",
            inbound_with_text("\"a\\ude00b\""),
            Expect::Kept(|e| inbound_text(e) == Some("a\u{FFFD}b")),
        ),
        line(
            "reversed surrogate pair is repaired",
            inbound_with_text("\"\\ude00\\ud83d\""),
            Expect::Kept(|e| inbound_text(e) == Some("\u{FFFD}\u{FFFD}")),
        ),
        line(
            "surrogate at the end of a string",
            inbound_with_text("\"\\ud83d\""),
            Expect::Kept(|e| inbound_text(e) == Some("\u{FFFD}")),
        ),
        line(
            "escaped surrogate pair decodes",
            inbound_with_text("\"\\ud83d\\ude00\""),
            Expect::Kept(|e| inbound_text(e) == Some("😀")),
        ),
        line(
            "escaped NUL is kept",
            inbound_with_text("\"a\\u0000b\""),
            Expect::Kept(|e| inbound_text(e) == Some("a\0b")),
        ),
        line(
            "CRLF line ending",
            format!("{}\r", inbound_with_text("\"crlf\"")),
            Expect::Kept(|e| inbound_text(e) == Some("crlf")),
        ),
        line(
            "two CRs before the newline",
            format!("{}\r\r", inbound_with_text("\"cr\"")),
            Expect::Kept(|e| inbound_text(e) == Some("cr")),
        ),
        line("whitespace-only line", " \t \r", Expect::Ignored),
        line(
            "explicit nulls read as absent",
            "{\"type\":\"inbound\",\"event\":{\"text\":null,\"source\":null,\"media_urls\":null},\"bufferId\":null}",
            Expect::Kept(
                |e| matches!(e, Event::Inbound { event, buffer_id: None } if event.text.is_empty() && event.source.chat_type == "dm"),
            ),
        ),
        line(
            "100,000 unknown keys are kept",
            format!("{{{many_keys}\"type\":\"inbound\",\"event\":{{\"text\":\"k\"}}}}"),
            Expect::Kept(|e| inbound_text(e) == Some("k")),
        ),
        line(
            "an 8 MiB string is kept",
            inbound_with_text(&format!("\"{}\"", "é".repeat(4 << 20))),
            Expect::Kept(|e| inbound_text(e).is_some_and(|t| t.len() == 8 << 20)),
        ),
        // -- results the gateway has no request for (§5: ignored, counted) --
        line(
            "result for an unknown request id",
            "{\"type\":\"outbound_result\",\"requestId\":\"0123456789abcdef0123456789abcdef\",\"result\":{\"success\":true}}",
            Expect::Ignored,
        ),
        line(
            "result whose id is not a UUID",
            "{\"type\":\"outbound_result\",\"requestId\":\"../../etc\",\"result\":{\"success\":true}}",
            Expect::Ignored,
        ),
    ]
}
