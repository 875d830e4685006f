//! `relay serve`'s pushes on stdin (CLI.md): one event line per push, in
//! input order, live to a connected gateway and buffered for one that is
//! idle, offline or never seen.

mod cli_net;
mod common;

use cli_net::{Serve, dial};
use serde_json::{Value, json};

const TELEGRAM: &str = r#"{"platform":"telegram","botId":"b1"}"#;

/// A push line of an inbound event with `text` to `to`.
fn inbound(to: &str, text: &str) -> String {
    format!(
        r#"{{"to":{to},"frame":{{"type":"inbound","event":{{"text":"{text}","message_id":"{text}","source":{{"platform":"telegram","chat_id":"c1"}}}}}}}}"#
    )
}

/// The event line serve printed for stdin line `line`.
fn outcome(serve: &mut Serve, line: u64) -> Value {
    serve.run.expect("the line's outcome", |v| v["line"] == line && v.get("conn").is_none())
}

#[test]
fn pushes_to_a_gateway_never_seen_are_buffered_and_replayed_on_its_handshake_in_order() {
    let mut serve = Serve::start(&[]);
    for i in 1..=3 {
        serve.run.send(&inbound(TELEGRAM, &format!("m{i}")));
    }
    for i in 1..=3 {
        assert_eq!(
            outcome(&mut serve, i),
            json!({"event": "pushed", "line": i, "to": {"platform": "telegram", "botId": "b1"},
                   "type": "inbound", "delivery": "buffered", "bufferId": i.to_string()})
        );
    }
    let mut gateway = dial(&[&serve.url, "--platform", "telegram", "--bot-id", "b1"], &[]);
    let texts: Vec<Value> = (1..=3)
        .map(|i| {
            let line =
                gateway.expect("a replayed inbound", |v| v["inbound"]["bufferId"] == json!(i.to_string()));
            gateway.send(&json!({"ack": i.to_string()}).to_string());
            line["inbound"]["event"]["text"].clone()
        })
        .collect();
    assert_eq!(texts, [json!("m1"), json!("m2"), json!("m3")]);
    serve.expect("live", |_| true);

    serve.run.send(&inbound(TELEGRAM, "now"));
    let pushed = outcome(&mut serve, 4);
    assert_eq!((pushed["delivery"].clone(), pushed.get("bufferId")), (json!("sent"), None), "{pushed}");
    let live = gateway.expect("the live inbound", |v| v["inbound"]["event"]["text"] == "now");
    assert_eq!(live["inbound"].get("bufferId"), None, "live frames carry no bufferId");
}

#[test]
fn an_idle_gateway_gets_its_pushes_buffered_and_interrupts_fail() {
    let mut serve = Serve::start(&[]);
    let mut gateway = dial(&[&serve.url, "--platform", "telegram", "--bot-id", "b1"], &[]);
    serve.expect("live", |_| true);
    gateway.send(r#"{"go_idle": true}"#);
    serve.expect("going_idle", |_| true);
    serve.run.send(&inbound(TELEGRAM, "asleep"));
    assert_eq!(outcome(&mut serve, 1)["delivery"], "buffered");
    let interrupt = format!(
        r#"{{"to":{TELEGRAM},"frame":{{"type":"interrupt_inbound","session_key":"k","chat_id":"c1"}}}}"#
    );
    serve.run.send(&interrupt);
    let failed = outcome(&mut serve, 2);
    assert_eq!(failed["event"], "push_failed", "{failed}");
    assert!(failed["error"].as_str().is_some_and(|e| e.contains("idle")), "{failed}");
}

#[test]
fn bad_lines_get_an_input_error_and_processing_continues() {
    let mut serve = Serve::start(&[]);
    let bad = [
        "not json",
        r#"{"frame":{"type":"inbound","event":{"text":"x","source":{"platform":"telegram","chat_id":"c"}}}}"#,
        r#"{"to":{"gateway_id":1},"frame":{}}"#,
        r#"{"to":{"platform":"telegram"},"frame":{"type":"inbound"}}"#,
        r#"{"to":{"gateway_id":"g"},"frame":{"type":"outbound_result","requestId":"r","result":{"success":true}}}"#,
    ];
    for line in bad {
        serve.run.send(line);
    }
    serve.run.send("");
    serve.run.send(&inbound(r#"{"gateway_id":"g1"}"#, "fine"));
    for line in 1..=5 {
        let error = outcome(&mut serve, line);
        assert_eq!(error["event"], "input_error", "line {line}: {error}");
        assert!(error["error"].as_str().is_some_and(|e| !e.is_empty()), "{error}");
    }
    let pushed = outcome(&mut serve, 7);
    assert_eq!(pushed["to"], json!({"gateway_id": "g1"}));
    assert_eq!(pushed["delivery"], "buffered", "the blank line 6 printed nothing: {pushed}");
}

#[test]
fn a_full_backlog_fails_the_push_instead_of_growing() {
    let mut serve = Serve::start(&["--max-backlog", "2"]);
    for i in 1..=3 {
        serve.run.send(&inbound(TELEGRAM, &format!("m{i}")));
    }
    assert_eq!(outcome(&mut serve, 2)["delivery"], "buffered");
    let full = outcome(&mut serve, 3);
    assert_eq!(full["event"], "push_failed", "{full}");
    assert!(full["error"].as_str().is_some_and(|e| e.contains("full")), "{full}");
}

#[test]
fn the_end_of_stdin_does_not_stop_serve() {
    let mut serve = Serve::start(&[]);
    serve.run.send(&inbound(TELEGRAM, "last"));
    assert_eq!(outcome(&mut serve, 1)["delivery"], "buffered");
    serve.run.close_stdin();
    let mut gateway = dial(&[&serve.url, "--platform", "telegram", "--bot-id", "b1"], &[]);
    gateway.expect("the replayed inbound", |v| v["inbound"]["event"]["text"] == "last");
}
