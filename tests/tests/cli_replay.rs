//! `--record-raw` and `relay replay`: a recorded `relay dial` session —
//! requests, a pushed inbound event, a drop and a reconnect — replays to
//! the events and results `dial` printed; a cut-off or damaged recording
//! replays as far as it goes, reporting the lines it skipped.

mod cli_net;
mod common;

use std::time::{Duration, Instant};

use cli_net::{Running, Serve, dial, relay_command};
use serde_json::{Value, json};

const SEND: &str = r#"{"op":"send","chat_id":"c1","content":"hi"}"#;
const CHAT_INFO: &str = r#"{"op":"get_chat_info","chat_id":"c9"}"#;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn serve_on(port: u16, script: &std::path::Path) -> Serve {
    let listen = format!("127.0.0.1:{port}");
    let args = ["serve", "--listen", &listen, "--script", script.to_str().unwrap()];
    let mut run = Running::spawn(relay_command(&args, &[]));
    let first: Value = serde_json::from_str(&run.next_line("the listening line")).unwrap();
    Serve { url: first["url"].as_str().unwrap().to_owned(), run }
}

/// `relay replay` of `file` with `args`: its stdout lines.
fn replay(file: &std::path::Path, args: &[&str]) -> Vec<Value> {
    let mut full = vec!["replay", file.to_str().unwrap()];
    full.extend_from_slice(args);
    let (stdout, stderr, code) = common::run(&full, "");
    assert_eq!(code, 0, "{stderr}");
    stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// The lines that say what the application saw: descriptors, inbound
/// events and results, without their stdin line numbers or times.
fn seen(lines: &[Value]) -> Vec<Value> {
    let mut seen: Vec<Value> = lines
        .iter()
        .filter(|l| l.get("descriptor").is_some() || l.get("inbound").is_some() || l.get("result").is_some())
        .map(|l| {
            let mut l = l.clone();
            let object = l.as_object_mut().unwrap();
            object.remove("line");
            object.remove("t");
            l
        })
        .collect();
    seen.sort_by_key(Value::to_string);
    seen
}

#[test]
fn a_recorded_dial_session_replays_to_what_dial_printed() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("script.jsonl");
    let inbound = json!({"type": "inbound", "event": {"text": "pushed", "message_id": "m1", "source": {"platform": "relay", "chat_id": "c1"}}});
    std::fs::write(&script, format!("{inbound}\n")).unwrap();
    let recording = dir.path().join("session.jsonl");
    let port = free_port();
    let serve = serve_on(port, &script);
    let url = serve.url.clone();
    let mut gateway = dial(&[&url, "--record-raw", recording.to_str().unwrap()], &[]);
    gateway.send(SEND);
    gateway.send(CHAT_INFO);
    gateway.expect("the first results", |v| v["line"] == 2);
    gateway.expect("the pushed event", |v| v.get("inbound").is_some());
    // The connector dies; the gateway re-dials it once it is back.
    serve.run.kill();
    gateway.expect("lost", |v| v["connection"] == "lost");
    let mut again = serve_on(port, &script);
    gateway.expect("reconnected", |v| v["connection"] == "reconnected");
    gateway.send(SEND);
    gateway.expect("the third result", |v| v["line"] == 3);
    let finished = gateway.finish();
    assert_eq!(finished.code, 0, "{}", finished.stderr);
    again.expect("closed", |_| true);
    let printed = finished.json();

    let first = replay(&recording, &[]);
    let second = replay(&recording, &["--conn", "2"]);
    let mut replayed: Vec<Value> = first.iter().chain(&second).cloned().collect();
    replayed.retain(|l| l.get("skipped").is_none());
    assert_eq!(seen(&replayed), seen(&printed), "replay:\n{first:#?}\n{second:#?}");
    // The requests replayed with the recorded ids: each sent frame is the recorded one.
    let sent_ids: Vec<&str> = first.iter().filter_map(|l| l["send"]["requestId"].as_str()).collect();
    assert_eq!(sent_ids.len(), 2);
    let text = std::fs::read_to_string(&recording).unwrap();
    assert!(sent_ids.iter().all(|id| text.contains(id)), "{sent_ids:?}");

    // Cut off mid-line, with a garbage line in front: replays up to the cut.
    let cut = dir.path().join("cut.jsonl");
    let half = &text[..text.len() / 2];
    std::fs::write(&cut, format!("not a record\n{half}")).unwrap();
    let partial = replay(&cut, &[]);
    assert_eq!(partial[0]["skipped"]["line"], 1, "{partial:?}");
    assert!(partial.iter().any(|l| l.get("descriptor").is_some()), "{partial:?}");
}

#[test]
fn an_unreadable_recording_is_a_usage_error() {
    let (_, stderr, code) = common::run(&["replay", "/nonexistent/recording.jsonl"], "");
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.starts_with("error: could not read the recording /nonexistent/recording.jsonl"),
        "{stderr}"
    );
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.jsonl");
    std::fs::write(&empty, "garbage\n").unwrap();
    let (_, stderr, code) = common::run(&["replay", empty.to_str().unwrap()], "");
    assert_eq!(code, 2, "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(10));
}
