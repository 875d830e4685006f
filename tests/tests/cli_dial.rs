//! `relay dial` against an in-process connector, and how `dial` and `serve`
//! fail (CLI.md: one sentence on stderr, non-zero exit, never a panic).

mod cli_net;
mod common;

use std::time::{Duration, Instant};

use cli_net::{WAIT, dial, dial_all, relay_command};
use relay_core::connector::{BacklogKey, BufferedFrame, ConnectorConfig};
use relay_core::connector::{descriptor_for, echo_result};
use relay_core::gateway::Identity;
use relay_core::policy::{Secret, TokenVerifier};
use relay_core::wire::{MessageEvent, OutboundAction, Platform, SessionSource};
use relay_driver::{Delivery, ServerConfig, ServerEvent, ServerEvents, ServerHandle};
use serde_json::json;

/// Asserts a failure: exit `code`, nothing on stdout, one `error: …` sentence on stderr.
fn assert_one_sentence(stdout_lines: usize, stderr: &str, code: i32, expected_code: i32, mentions: &[&str]) {
    assert_eq!((code, stdout_lines), (expected_code, 0), "{stderr}");
    assert!(stderr.starts_with("error: ") && stderr.ends_with(".\n"), "{stderr:?}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(!stderr.contains("panicked") && !stderr.contains("backtrace"), "{stderr}");
    for word in mentions {
        assert!(stderr.contains(word), "{word:?} missing from {stderr}");
    }
}

#[test]
fn a_closed_port_fails_within_the_connect_budget() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("address").port()
    };
    let url = format!("ws://127.0.0.1:{port}");
    common::relay_path(); // built before the clock starts
    let started = Instant::now();
    let (lines, stderr, code) = dial_all(&[&url, "--connect-timeout-ms", "1000"], &[], &[]);
    assert!(started.elapsed() < Duration::from_secs(8), "{:?}", started.elapsed());
    assert_one_sentence(
        lines.len(),
        &stderr,
        code,
        1,
        &[&format!("127.0.0.1:{port}"), "connector is running"],
    );
}

#[test]
fn a_missing_or_bad_url_is_a_usage_error() {
    let (lines, stderr, code) = dial_all(&[], &[], &[]);
    assert_one_sentence(lines.len(), &stderr, code, 2, &["GATEWAY_RELAY_URL"]);
    let (lines, stderr, code) = dial_all(&["ftp://example.com"], &[], &[]);
    assert_one_sentence(lines.len(), &stderr, code, 2, &["ftp://example.com", "ws://"]);
    let (lines, stderr, code) = dial_all(&[], &[("GATEWAY_RELAY_URL", "ftp://example.com")], &[]);
    assert_one_sentence(lines.len(), &stderr, code, 2, &["GATEWAY_RELAY_URL"]);
}

#[test]
fn half_configured_auth_is_a_usage_error_that_never_shows_the_secret() {
    let (lines, stderr, code) = dial_all(&["ws://127.0.0.1:9", "--secret", "hunter2"], &[], &[]);
    assert_one_sentence(lines.len(), &stderr, code, 2, &["--gateway-id"]);
    assert!(!stderr.contains("hunter2"));
    let (lines, stderr, code) =
        dial_all(&["ws://127.0.0.1:9", "--gateway-id", "gw", "--secret", "  "], &[], &[]);
    assert_one_sentence(lines.len(), &stderr, code, 2, &["--secret"]);
}

#[test]
fn serve_reports_unusable_arguments_before_listening() {
    let dir = std::env::temp_dir().join(format!("relay-cli-serve-args-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temporary directory");
    let script = dir.join("bad-script.jsonl");
    std::fs::write(
        &script,
        "{\"sleep_ms\":1}\n{\"type\":\"outbound_result\",\"requestId\":\"r\",\"result\":{}}\n",
    )
    .expect("write");
    let script = script.to_str().expect("UTF-8 path");
    let descriptor = dir.join("bad-descriptor.json");
    std::fs::write(&descriptor, "[1]").expect("write");
    let descriptor = descriptor.to_str().expect("UTF-8 path");
    let cases: [(&[&str], &[&str]); 5] = [
        (&["--listen", "not-an-address"], &["--listen"]),
        (&["--listen", "127.0.0.1:0", "--script", script], &["line 2", "outbound_result"]),
        (&["--listen", "127.0.0.1:0", "--script", "/nonexistent/script.jsonl"], &["script"]),
        (&["--listen", "127.0.0.1:0", "--descriptor", descriptor], &["descriptor file"]),
        (&["--listen", "127.0.0.1:0", "--secret", " "], &["--secret"]),
    ];
    for (args, mentions) in cases {
        let mut full = vec!["serve"];
        full.extend_from_slice(args);
        let output = relay_command(&full, &[]).output().expect("relay runs");
        let stderr = String::from_utf8(output.stderr).expect("UTF-8");
        let code = output.status.code().expect("exit code");
        assert_one_sentence(output.stdout.len(), &stderr, code, 2, mentions);
    }
}

/// Runs a connector application in `rt`: answers hellos with the built-in
/// descriptors, echoes requests, and hands every event to the test.
fn answer_everything(
    rt: &tokio::runtime::Runtime,
    server: ServerHandle,
    mut events: ServerEvents,
) -> std::sync::mpsc::Receiver<ServerEvent> {
    let (seen_tx, seen) = std::sync::mpsc::channel();
    rt.spawn(async move {
        while let Some(event) = events.next().await {
            match &event {
                ServerEvent::Hello { conn, identity, .. } => {
                    let _ = server.answer_hello(*conn, descriptor_for(&identity.platform)).await;
                }
                ServerEvent::Request { conn, request_id, action, .. } => {
                    let _ = server.respond(*conn, request_id, echo_result(action)).await;
                }
                _ => {}
            }
            let _ = seen_tx.send(event);
        }
    });
    seen
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
}

/// A connector in this process (it can do what `relay serve` cannot: buffer
/// before the gateway connects, rotate its secret).
#[test]
fn dial_against_an_in_process_server_routes_replies_and_acks_buffered_events() {
    dial_routes_replies_and_acks_buffered_events(ServerConfig::default());
}

/// The same with the backlog in a `relay_store::FileStore`.
#[test]
fn dial_against_an_in_process_server_routes_replies_and_acks_buffered_events_on_a_file_store() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = relay_store::FileStore::open(dir.path().join("backlog.redb")).expect("a new store file");
    let store = relay_store::StoreHandle::spawn(store, relay_store::StoreOptions::default());
    dial_routes_replies_and_acks_buffered_events(ServerConfig {
        store: Some(store),
        ..ServerConfig::default()
    });
}

/// A buffered event waits for a gateway that was never seen, `dial` gets it
/// with its bufferId and acks it, and a reply is routed with the event's
/// metadata; `config` names the store.
fn dial_routes_replies_and_acks_buffered_events(config: ServerConfig) {
    let rt = runtime();
    let (handle, events) =
        rt.block_on(relay_tokio::listen("127.0.0.1:0".parse().expect("address"), config)).expect("listen");
    // Waiting for the gateway before it connects: replayed with a bufferId on its handshake.
    let mut source = SessionSource::new(Platform::Slack, "C1", "group");
    source.scope_id = Some("T1".into());
    source.user_id = Some("U1".into());
    let event = MessageEvent::text(source, "queued while offline");
    let key = BacklogKey::Identity(Identity::new("slack", "S1"));
    let pushed = rt.block_on(handle.push(&key, BufferedFrame::Inbound(Box::new(event))));
    let Ok(Delivery::Buffered { buffer_id }) = pushed else {
        panic!("buffered for an unseen gateway: {pushed:?}")
    };

    let seen = answer_everything(&rt, handle.clone(), events);

    let mut run = dial(&[&handle.url(), "--identity", "slack:S1", "--identity", "discord:D1"], &[]);
    let inbound = run.expect("the replayed inbound", |v| v.get("inbound").is_some());
    assert_eq!(inbound["inbound"]["bufferId"], buffer_id.as_str());
    assert_eq!(inbound["inbound"]["event"]["text"], "queued while offline");
    run.send(&json!({"ack": buffer_id}).to_string());
    run.send(r#"{"op":"send","chat_id":"C1","content":"answer"}"#);
    let finished = run.finish();
    assert_eq!((finished.code, finished.stderr.as_str()), (0, ""), "{:?}", finished.lines);
    let lines = finished.json();
    assert!(lines.contains(&json!({"result": {"success": true}, "line": 1})), "{lines:?}");
    assert!(
        lines.contains(&json!({"result": {"success": true, "message_id": "srv-send"}, "line": 2})),
        "{lines:?}"
    );

    let deadline = Instant::now() + WAIT;
    let (mut acked, mut routed) = (false, None);
    while !(acked && routed.is_some()) {
        let left = deadline.saturating_duration_since(Instant::now());
        match seen.recv_timeout(left).expect("the server saw the ack and the request") {
            ServerEvent::InboundAck { buffer_id: id, .. } => acked |= id == buffer_id,
            ServerEvent::Request { identity, action, .. } => routed = Some((identity, action)),
            _ => {}
        }
    }
    let (identity, action) = routed.expect("a request");
    assert_eq!(identity, Identity::new("slack", "S1"));
    let OutboundAction::Send(send) = *action else { panic!("a send: {action:?}") };
    assert_eq!(send.metadata.get("scope_id"), Some(&json!("T1")));
    assert_eq!(send.metadata.get("user_id"), Some(&json!("U1")));
    let deadline = Instant::now() + WAIT;
    while rt.block_on(handle.backlog_len(&key)).expect("the store answers") > 0 {
        assert!(Instant::now() < deadline, "the ack did not empty the backlog");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_revoked_secret_stops_dial_with_one_sentence() {
    revoked_secret_stops_dial(false);
}

#[test]
fn a_revoked_secret_is_exit_1_also_when_stdin_ends_right_after() {
    revoked_secret_stops_dial(true);
}

fn revoked_secret_stops_dial(close_stdin_after: bool) {
    let rt = runtime();
    let verifier = |secret: &str| TokenVerifier::new(Secret::new(secret)).with_max_lifetime(3600);
    let config =
        ServerConfig { connector: ConnectorConfig::with_verifier(verifier("s3cret")), ..Default::default() };
    let (handle, events) =
        rt.block_on(relay_tokio::listen("127.0.0.1:0".parse().expect("address"), config)).expect("listen");
    let seen = answer_everything(&rt, handle.clone(), events);

    let mut run = dial(&[&handle.url(), "--gateway-id", "gw-1", "--secret", "s3cret"], &[]);
    run.expect("the descriptor", |v| v.get("descriptor").is_some());
    let deadline = Instant::now() + WAIT;
    let conn = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if let ServerEvent::Connected { conn, .. } = seen.recv_timeout(left).expect("the gateway connected") {
            break conn;
        }
    };
    // The connector rotates to a secret this gateway does not have, and drops it.
    handle.set_verifier(verifier("rotated"));
    rt.block_on(handle.close(conn)).expect("close the connection");
    run.expect("lost", |v| v["connection"] == "lost");
    run.expect("revoked", |v| v == &json!({"connection": "revoked"}));
    if close_stdin_after {
        run.close_stdin();
    }
    let finished = run.wait();
    assert_eq!(finished.code, 1, "{:?}", finished.lines);
    let stderr = finished.stderr;
    assert!(stderr.starts_with("error: ") && stderr.lines().count() == 1, "{stderr}");
    assert!(stderr.contains("revoked") && stderr.contains("--secret"), "{stderr}");
    assert!(!stderr.contains("s3cret") && !finished.lines.iter().any(|l| l.contains("s3cret")));
}
