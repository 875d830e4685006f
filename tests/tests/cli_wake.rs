//! `relay serve --wake-url`: one GET per gateway when frames start waiting
//! for it (the cooldown is a minute), `{gateway}` percent-encoded, a `wake`
//! line with the outcome; an unreachable URL changes nothing else.

mod cli_net;
mod common;

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

use cli_net::Serve;
use serde_json::json;

/// An HTTP listener answering 204 to everything; it hands on each request line.
fn listener() -> (u16, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, requests) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            // The rest of the head, up to the blank line.
            let mut header = String::new();
            while reader.read_line(&mut header).is_ok_and(|n| n > 0) && header != "\r\n" {
                header.clear();
            }
            let _ = stream
                .write_all(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            if tx.send(request_line.trim_end().to_owned()).is_err() {
                return;
            }
        }
    });
    (port, requests)
}

fn push(serve: &mut Serve, text: &str) {
    let line = json!({
        "to": {"platform": "telegram", "botId": "b 1"},
        "frame": {"type": "inbound", "event": {"text": text, "source": {"platform": "telegram", "chat_id": "c1"}}},
    });
    serve.run.send(&line.to_string());
}

#[test]
fn frames_for_an_offline_gateway_wake_it_once() {
    let (port, requests) = listener();
    let url = format!("http://127.0.0.1:{port}/wake/{{gateway}}?from=relay");
    let mut serve = Serve::start(&["--wake-url", &url]);
    for i in 0..5 {
        push(&mut serve, &format!("asleep {i}"));
    }
    let wake = serve.expect("wake", |_| true);
    assert_eq!(wake, json!({"event": "wake", "to": {"platform": "telegram", "botId": "b 1"}, "status": 204}));
    assert_eq!(
        requests.recv_timeout(Duration::from_secs(10)).unwrap(),
        "GET /wake/telegram%3Ab%201?from=relay HTTP/1.1"
    );
    for n in 1..=5 {
        serve.expect("pushed", |v| v["line"] == n && v["delivery"] == "buffered");
    }
    assert!(requests.recv_timeout(Duration::from_millis(500)).is_err(), "once per cooldown");
    assert_eq!(serve.run.seen.iter().filter(|l| l.contains("\"wake\"")).count(), 1);
}

#[test]
fn an_unreachable_wake_url_is_reported_and_changes_nothing_else() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut serve = Serve::start(&["--wake-url", &format!("http://127.0.0.1:{port}/wake/{{gateway}}")]);
    push(&mut serve, "asleep");
    let wake = serve.expect("wake", |_| true);
    assert_eq!((&wake["status"], wake["error"].is_string()), (&serde_json::Value::Null, true), "{wake}");
    serve.expect("pushed", |v| v["delivery"] == "buffered");
    let finished = serve.run.terminate();
    assert_eq!(finished.code, 0, "{}", finished.stderr);
}

#[test]
fn a_wake_url_that_is_not_http_is_a_usage_error() {
    let (_, stderr, code) =
        common::run(&["serve", "--listen", "127.0.0.1:0", "--wake-url", "ftp://x/{gateway}"], "");
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.starts_with("error: --wake-url \"ftp://x/{gateway}\" is not an http:// or https:// URL"),
        "{stderr}"
    );
}
