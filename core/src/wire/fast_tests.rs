//! The fast decode against the strict one: wherever the fast path takes a
//! line it must read the frame the strict path reads, for every direction.

use quickcheck::{Arbitrary, Gen, QuickCheck};

use super::{check_against_reference, decode};
use crate::wire::Direction;

/// Whether the fast path took `line` (with no expected direction); panics
/// where it took a line and read something else than the strict path.
fn agrees(line: &str) -> bool {
    check_against_reference(line);
    decode(line.as_bytes(), None).is_some()
}

fn inbound(event: &str) -> String {
    format!(r#"{{"type":"inbound","event":{event}}}"#)
}

#[test]
fn plain_lines_take_the_fast_path() {
    let lines = [
        inbound(r#"{"text":"hi","source":{"platform":"telegram","chat_id":-100123,"user_id":42}}"#),
        inbound(r#"{"text":"caf\u00e9 \ud83d\ude00","message_type":"hologram","source":null,"x":{"a":[1,2.5,-3]}}"#),
        inbound(r#"{"x":[-0.0,0.0,1e-300],"message_type":[[{}]]}"#),
        inbound(&format!(r#"{{"x":{}{}}}"#, "[".repeat(62), "]".repeat(62))),
        inbound(r#"{"text":null,"media_urls":["u"],"media":[{"url":"u","size":10,"y":null}],"context":[{"text":"c","source":{"platform":" Slack "}}]}"#),
        inbound(r#"{"text":"a","text":"b","message_type":5,"message_type":"photo","source":{"chat_type":"group","chat_type":null}}"#),
        inbound(r#"{"source":{"user_display_name":"","user_handle":"H","guild_id":"g","message_id":"","x":1,"x":2}}"#),
        inbound(r#"{"prompt_response":{"prompt_id":"p","option_id":"o","prompt_message_id":7},"reply_to":{"is_own":true}}"#),
        r#"{"type": "inbound", "event": {"text": "t"}, "bufferId": "b1", "x_new": [1, {"z": null}]}"#.to_owned(),
        r#"{"type":"outbound_result","requestId":"r1","result":{"success":false,"retry_after":2.5}}"#.to_owned(),
        r#"{"type":"outbound","requestId":"r1","action":{"op":"send","chat_id":"c1","content":"hi","metadata":{}}}"#.to_owned(),
        r#"{"type":"going_idle","x":1,"x":2}"#.to_owned(),
        r#"{"type":"hello","platform":"discord","botId":"b1"}"#.to_owned(),
    ];
    for line in &lines {
        assert!(agrees(line), "left to the strict path: {line}");
    }
}

#[test]
fn lines_the_fast_path_cannot_read_exactly_go_to_the_strict_path() {
    let deep = |levels: usize| inbound(&format!(r#"{{"x":{}{}}}"#, "[".repeat(levels), "]".repeat(levels)));
    let lines = [
        // Lone surrogates: the strict path repairs them.
        inbound(r#"{"text":"\ud83d alone"}"#),
        inbound(r#"{"x":"\udc00"}"#),
        // An integer negative zero, integers beyond 64 bits.
        inbound(r#"{"x":-0}"#),
        inbound(r#"{"x":18446744073709551616}"#),
        // Mistyped or missing fields: the strict path names them.
        inbound(r#"{"source":{"chat_type":5}}"#),
        inbound(r#"{"media":[{"size":-1}]}"#),
        inbound(r#"{"source":{"chat_id":1.5}}"#),
        inbound(r#"{"prompt_response":{"prompt_id":"p"}}"#),
        inbound(r#"{"source":{"platform":"tele\u0067ram"}}"#),
        r#"{"type":"inbound"}"#.to_owned(),
        r#"{"type":"inbound","event":null}"#.to_owned(),
        // `type` not first, twice, unknown or the wrong way.
        r#"{"event":{},"type":"inbound"}"#.to_owned(),
        r#"{"type":"inbound","event":{},"type":"going_idle_ack"}"#.to_owned(),
        r#"{"type":"going_idle_ack","type":"inbound_ack","bufferId":"b"}"#.to_owned(),
        r#"{"type":"nope"}"#.to_owned(),
        r#"{"type":5}"#.to_owned(),
        // Not JSON, not an object, out of range, too deep for the fast path.
        r#"{"type":"inbound","event":{}"#.to_owned(),
        "[1]".to_owned(),
        inbound(r#"{"x":1e400}"#),
        deep(63),
        deep(127),
        deep(100_000),
    ];
    for line in &lines {
        assert!(!agrees(line), "taken by the fast path: {line}");
    }
    assert!(!agrees(&inbound("{}").replace("inbound", "descriptor")), "a bad descriptor");
}

#[test]
fn a_wrong_direction_is_left_to_the_strict_path() {
    let line = inbound("{}");
    assert!(decode(line.as_bytes(), Some(Direction::ToConnector)).is_none());
    assert!(decode(line.as_bytes(), Some(Direction::ToGateway)).is_some());
}

#[cfg(feature = "bench")]
#[test]
fn the_bench_corpora_take_the_fast_path_and_agree() {
    let mut generator = crate::bench::Generator::new(7);
    let mut lines = generator.inbound_corpus(300);
    lines.extend(generator.mixed_stream(300));
    lines.extend(generator.outbound_corpus(100));
    lines.extend(generator.result_corpus(100));
    for line in &lines {
        assert!(agrees(line.trim_end()), "left to the strict path: {line}");
    }
}

/// A line built from the keys the typed readers know, unknown keys, `type`,
/// and values that are awkward for a JSON reader: mostly of the field's
/// type, so that many lines decode, sometimes anything at all.
#[derive(Debug, Clone)]
struct Line(String);

const EVENT: &[&str] = &[
    "text",
    "message_type",
    "source",
    "message_id",
    "reply_to_message_id",
    "media_urls",
    "media",
    "reply_to",
    "context",
    "context_error",
    "prompt_response",
    "x",
    "y",
];
const SOURCE: &[&str] = &[
    "platform",
    "chat_id",
    "chat_type",
    "user_id",
    "user_name",
    "user_display_name",
    "user_handle",
    "scope_id",
    "guild_id",
    "message_id",
    "user_id_alt",
    "auto_thread_created",
    "profile",
    "x",
    "y",
];
const MEDIA: &[&str] = &["url", "mime", "size", "caption", "x"];
const ACTION: &[&str] = &["chat_id", "content", "reply_to", "metadata", "message_id", "emoji", "op", "x"];
const RESULT: &[&str] = &["success", "message_id", "error", "code", "chat_info", "x"];
const OPS: &[&str] = &[r#""send""#, r#""send""#, r#""edit""#, r#""react""#, r#""made_up""#, "5", "null"];
const REPLY_TO: &[&str] = &["text", "author", "is_own", "x"];
const CONTEXT: &[&str] = &["text", "source", "x"];
const PROMPT: &[&str] = &["prompt_id", "option_id", "label", "prompt_message_id", "x"];
const STRINGS: &[&str] = &[
    r#""""#,
    r#""s""#,
    r#""Discord""#,
    r#"" slack ""#,
    r#""telegram""#,
    r#""photo""#,
    r#""caf\u00e9""#,
    r#""\ud83d\ude00""#,
    r#""a\"b\\n\/\t""#,
    r#""\\ud83d""#,
    r#""é日😀""#,
    "null",
];
const INTEGERS: &[&str] =
    &["0", "42", "-7", "18446744073709551615", "-9223372036854775808", "9223372036854775808", "null"];
const AWKWARD: &[&str] = &[
    "null",
    "true",
    "false",
    "-0",
    "0.0",
    "-0.0",
    "-0e3",
    "1.5",
    "-2.5e-3",
    "1e400",
    "18446744073709551616",
    "-9223372036854775809",
    r#""\ud83d""#,
    r#""\udc00x""#,
    "[]",
    r#"["u",null]"#,
    "{}",
    r#"{"k":[1,-0.0,0.5]}"#,
    r#"{"k":{"k":null},"k":1}"#,
];

fn pick<'a>(g: &mut Gen, items: &[&'a str]) -> &'a str {
    g.choose(items).copied().unwrap_or("null")
}

fn one_in(g: &mut Gen, n: u8) -> bool {
    u8::arbitrary(g) % n == 0
}

fn object(g: &mut Gen, keys: &[&str], depth: usize) -> String {
    let members = usize::arbitrary(g) % 7;
    let mut out = String::from("{");
    for i in 0..members {
        if i > 0 {
            out.push_str(if bool::arbitrary(g) { "," } else { ", " });
        }
        let key = pick(g, keys);
        out.push_str(&format!("\"{key}\":{}", value(g, key, depth)));
    }
    out.push('}');
    out
}

fn value(g: &mut Gen, key: &str, depth: usize) -> String {
    if one_in(g, 12) {
        return pick(g, AWKWARD).to_owned();
    }
    let nested = |g: &mut Gen, keys| if depth < 3 { object(g, keys, depth + 1) } else { "null".to_owned() };
    match key {
        "source" => nested(g, SOURCE),
        // An object in an event, an id in a `send` action: either, anywhere.
        "reply_to" if bool::arbitrary(g) => nested(g, REPLY_TO),
        "prompt_response" => nested(g, PROMPT),
        "media" => format!("[{}]", nested(g, MEDIA)),
        "context" => format!("[{},{}]", nested(g, CONTEXT), nested(g, CONTEXT)),
        "media_urls" => format!("[{},{}]", pick(g, STRINGS), pick(g, STRINGS)).replace("null", r#""n""#),
        "chat_id" | "user_id" | "scope_id" | "guild_id" | "message_id" | "user_id_alt" | "size"
        | "prompt_message_id" | "reply_to" => {
            let pool = if bool::arbitrary(g) { INTEGERS } else { STRINGS };
            pick(g, pool).to_owned()
        }
        "context_error" | "auto_thread_created" | "is_own" | "success" => {
            pick(g, &["true", "false", "null"]).to_owned()
        }
        "metadata" | "chat_info" => nested(g, &["scope_id", "x", "y"]),
        "op" => pick(g, OPS).to_owned(),
        "x" | "y" if one_in(g, 8) => {
            let levels = 28 + usize::arbitrary(g) % 8;
            format!("{}{}", "[".repeat(levels), "]".repeat(levels))
        }
        "x" | "y" => {
            let pool = if bool::arbitrary(g) { AWKWARD } else { STRINGS };
            pick(g, pool).to_owned()
        }
        _ => pick(g, STRINGS).to_owned(),
    }
}

impl Arbitrary for Line {
    fn arbitrary(g: &mut Gen) -> Self {
        let frame_type = pick(
            g,
            &["inbound", "inbound", "inbound", "outbound", "outbound", "outbound_result", "inbound_ack"],
        );
        let body = match frame_type {
            "inbound" => format!(r#""event":{}"#, object(g, EVENT, 0)),
            "outbound" => format!(r#""requestId":{},"action":{}"#, pick(g, STRINGS), action(g)),
            "outbound_result" => {
                format!(r#""requestId":{},"result":{}"#, pick(g, STRINGS), object(g, RESULT, 1))
            }
            _ => format!(r#""bufferId":{}"#, pick(g, STRINGS)),
        };
        let mut line = format!(r#"{{"type":"{frame_type}",{body}"#);
        for _ in 0..usize::arbitrary(g) % 3 {
            let key =
                pick(g, &["bufferId", "x", "x", "event", "type", "platform", "botId", "action", "result"]);
            let value = match key {
                "type" => pick(g, &[r#""inbound""#, r#""inbound_ack""#]).to_owned(),
                "event" => object(g, EVENT, 0),
                "action" => action(g),
                "result" => object(g, RESULT, 1),
                _ => value(g, key, 0),
            };
            line.push_str(&format!(r#","{key}":{value}"#));
        }
        line.push('}');
        Self(line)
    }
}

/// An `action` object: mostly `op` first, as encoders write it.
fn action(g: &mut Gen) -> String {
    let rest = object(g, ACTION, 1);
    if one_in(g, 6) {
        return rest;
    }
    let op = format!(r#""op":{}"#, pick(g, OPS));
    if rest == "{}" { format!("{{{op}}}") } else { format!("{{{op},{}", &rest[1..]) }
}

#[test]
fn fast_and_strict_agree_on_awkward_lines() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    // Lines of each kind the fast path took: the property says nothing about
    // a kind it always leaves to the strict path.
    static TAKEN: [AtomicUsize; 3] = [AtomicUsize::new(0), AtomicUsize::new(0), AtomicUsize::new(0)];
    fn prop(line: Line) -> bool {
        if agrees(&line.0) {
            let kind = ["\"inbound\"", "\"outbound\"", "\"outbound_result\""]
                .iter()
                .position(|t| line.0.starts_with(&format!("{{\"type\":{t},")));
            if let Some(kind) = kind {
                TAKEN[kind].fetch_add(1, Ordering::Relaxed);
            }
        }
        true
    }
    QuickCheck::new().tests(3000).quickcheck(prop as fn(Line) -> bool);
    let taken: Vec<usize> = TAKEN.iter().map(|n| n.load(Ordering::Relaxed)).collect();
    assert!(
        taken.iter().all(|&n| n >= 10),
        "fast-path lines (inbound, outbound, outbound_result): {taken:?}"
    );
}
