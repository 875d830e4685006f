//! `relay serve` and `relay dial` against each other, as child processes
//! (CLI.md: formats are a contract other programs parse).

mod cli_net;
mod common;

use cli_net::{Finished, Serve, dial, dial_all};
use serde_json::{Value, json};

const SEND: &str = r#"{"op":"send","chat_id":"c1","content":"hi"}"#;
const CHAT_INFO: &str = r#"{"op":"get_chat_info","chat_id":"c9"}"#;

/// The `result` lines of a dial run, by stdin line number.
fn results(lines: &[Value]) -> Vec<(u64, Value)> {
    let mut found: Vec<(u64, Value)> = lines
        .iter()
        .filter(|l| l.get("result").is_some())
        .map(|l| (l["line"].as_u64().expect("a line number"), l["result"].clone()))
        .collect();
    found.sort_by_key(|(n, _)| *n);
    found
}

#[test]
fn echo_answers_send_and_get_chat_info_and_serve_reports_the_session() {
    let mut serve = Serve::start(&[]);
    let (lines, stderr, code) =
        dial_all(&[&serve.url, "--platform", "discord", "--bot-id", "B1"], &[], &[SEND, CHAT_INFO]);
    assert_eq!((code, stderr.as_str()), (0, ""), "{lines:?}");
    assert_eq!(lines[0], json!({"connection": "connected", "url": serve.url}));
    assert_eq!(lines[1]["identity"], "discord:B1");
    assert_eq!(lines[1]["descriptor"]["label"], "Discord");
    assert_eq!(lines[1]["descriptor"]["max_message_length"], 2000);
    assert_eq!(
        results(&lines),
        [
            (1, json!({"success": true, "message_id": "srv-send"})),
            (2, json!({"success": true, "chat_info": {"name": "c9", "type": "group"}})),
        ]
    );

    let connected = serve.expect("connected", |_| true);
    assert_eq!(connected, json!({"event": "connected", "conn": 1, "gateway_id": null}));
    let hello = serve.expect("hello", |_| true);
    assert_eq!(hello, json!({"event": "hello", "conn": 1, "platform": "discord", "botId": "B1"}));
    let send = serve.expect("request", |v| v["op"] == "send");
    assert_eq!(
        (send["conn"].clone(), send["platform"].clone(), send["botId"].clone()),
        (json!(1), json!("discord"), json!("B1"))
    );
    assert_eq!(send["requestId"].as_str().map(str::len), Some(32), "{send}");
    assert_eq!(
        send["action"],
        json!({"op": "send", "chat_id": "c1", "content": "hi", "reply_to": null, "metadata": {}})
    );
    serve.expect("request", |v| v["op"] == "get_chat_info");
    let closed = serve.expect("closed", |_| true);
    assert_eq!(
        (closed["conn"].clone(), closed["reason"].clone(), closed["code"].clone()),
        (json!(1), json!("transport_closed"), json!(1000))
    );
    assert!(closed["detail"].is_string(), "{closed}");
}

#[test]
fn reply_fail_is_a_result_not_an_error() {
    let serve = Serve::start(&["--reply", "fail"]);
    let (lines, stderr, code) = dial_all(&[&serve.url], &[], &[SEND]);
    assert_eq!((code, stderr.as_str()), (0, ""));
    assert_eq!(
        results(&lines),
        [(1, json!({"success": false, "error": "refused by relay serve", "code": "refused"}))]
    );
}

#[test]
fn reply_silent_times_out_as_an_ambiguous_failure() {
    let serve = Serve::start(&["--reply", "silent"]);
    common::relay_path(); // built before the clock starts
    let started = std::time::Instant::now();
    let (lines, stderr, code) = dial_all(&[&serve.url, "--request-timeout-ms", "300"], &[], &[SEND]);
    assert_eq!((code, stderr.as_str()), (0, ""));
    assert_eq!(
        results(&lines),
        [(1, json!({"success": false, "error": "relay outbound timed out", "ambiguous": true}))]
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "{:?}", started.elapsed());
}

#[test]
fn an_invalid_line_is_reported_and_the_rest_still_runs() {
    let serve = Serve::start(&[]);
    let stdin = ["not json", "", r#"{"hello":1}"#, SEND, r#"{"go_idle":false}"#];
    let (lines, stderr, code) = dial_all(&[&serve.url], &[], &stdin);
    assert_eq!((code, stderr.as_str()), (2, ""), "{lines:?}");
    let errors: Vec<&str> = lines.iter().filter_map(|l| l["error"].as_str()).collect();
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(errors[0].starts_with("line 1: not JSON"), "{errors:?}");
    assert!(errors[1].starts_with("line 3: not a command"), "{errors:?}");
    assert!(errors[2].starts_with("line 5: "), "{errors:?}");
    assert_eq!(results(&lines), [(4, json!({"success": true, "message_id": "srv-send"}))]);
}

#[test]
fn ack_interrupt_and_go_idle_get_results_and_reach_serve() {
    let mut serve = Serve::start(&[]);
    let stdin = [
        r#"{"ack":"b-1"}"#,
        r#"{"interrupt":{"session_key":"agent:main:telegram:dm:1","reason":"stop"}}"#,
        r#"{"go_idle":true}"#,
    ];
    let (lines, stderr, code) = dial_all(&[&serve.url], &[], &stdin);
    assert_eq!((code, stderr.as_str()), (0, ""));
    assert_eq!(
        results(&lines),
        [
            (1, json!({"success": true})),
            (2, json!({"success": true})),
            (3, json!({"success": true, "idle": "acknowledged"})),
        ]
    );
    // The three commands run concurrently: their frames may arrive in any order.
    serve.expect("closed", |_| true);
    let seen: Vec<Value> = serve.run.seen.iter().map(|l| serde_json::from_str(l).expect("JSON")).collect();
    for expected in [
        json!({"event": "inbound_ack", "conn": 1, "bufferId": "b-1"}),
        json!({"event": "interrupt", "conn": 1, "session_key": "agent:main:telegram:dm:1", "reason": "stop"}),
        json!({"event": "going_idle", "conn": 1}),
    ] {
        assert!(seen.contains(&expected), "{expected} missing from {seen:?}");
    }
}

/// A Discord slash command `/ask why` in guild g1, channel c1, by u1.
const INTERACTION: &str = r#"{"id":"i1","type":2,"guild_id":"g1","channel_id":"c1","member":{"user":{"id":"u1","username":"ada"}},"data":{"name":"ask","options":[{"name":"q","type":3,"value":"why"}]}}"#;

fn script_file(dir: &std::path::Path) -> std::path::PathBuf {
    let forward = relay_core::wire::Forward {
        platform: "discord".into(),
        bot_id: "B1".into(),
        method: "POST".into(),
        path: "/interactions".into(),
        headers: vec![("content-type".into(), "application/json".into())],
        body: INTERACTION.into(),
        ..Default::default()
    };
    let lines = [
        json!({"type": "inbound", "event": {"text": "hello", "source": {"platform": "telegram", "chat_id": "111", "chat_type": "dm", "user_id": "111"}, "message_id": "m1"}}),
        json!({"sleep_ms": 20}),
        json!({"type": "passthrough_forward", "forward": forward}),
        json!({"type": "interrupt_inbound", "session_key": "agent:main:telegram:dm:111", "chat_id": "111"}),
    ];
    let path = dir.join("script.jsonl");
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&path, text).expect("write the script");
    path
}

#[test]
fn script_pushes_reach_dial_with_a_converted_interaction() {
    let dir = tempdir("script");
    let script = script_file(&dir);
    let mut serve = Serve::start(&["--script", script.to_str().expect("UTF-8 path")]);
    let mut run = dial(&[&serve.url, "--identity", "telegram:T1", "--identity", "discord:B1"], &[]);
    let inbound = run.expect("inbound", |v| v.get("inbound").is_some());
    assert_eq!(inbound["inbound"]["event"]["text"], "hello");
    assert_eq!(inbound["inbound"]["event"]["source"]["chat_id"], "111");
    assert!(inbound["inbound"].get("bufferId").is_none(), "live frames carry no bufferId: {inbound}");
    let passthrough = run.expect("passthrough", |v| v.get("passthrough").is_some());
    assert_eq!(passthrough["passthrough"]["forward"]["path"], "/interactions");
    let converted = &passthrough["passthrough"]["converted"];
    assert_eq!(
        (converted["text"].clone(), converted["message_type"].clone()),
        (json!("/ask why"), json!("command"))
    );
    assert_eq!(converted["source"]["chat_id"], "c1");
    let interrupt = run.expect("interrupt", |v| v.get("interrupt").is_some());
    assert_eq!(
        interrupt,
        json!({"interrupt": {"session_key": "agent:main:telegram:dm:111", "chat_id": "111"}})
    );

    // Replies are routed from what the inbound events said (ReplyRouter).
    run.send(r#"{"op":"send","chat_id":"c1","content":"because"}"#);
    let result = run.expect("a result", |v| v.get("result").is_some());
    assert_eq!(result, json!({"result": {"success": true, "message_id": "srv-send"}, "line": 1}));
    let finished = run.finish();
    assert_eq!((finished.code, finished.stderr.as_str()), (0, ""));

    for (line, frame_type) in [(1, "inbound"), (3, "passthrough_forward"), (4, "interrupt_inbound")] {
        let pushed = serve.expect("pushed", |v| v["line"] == line);
        assert_eq!(
            pushed,
            json!({"event": "pushed", "conn": 1, "line": line, "type": frame_type, "delivery": "sent"})
        );
    }
    let request = serve.expect("request", |_| true);
    assert_eq!(
        (request["platform"].clone(), request["botId"].clone()),
        (json!("discord"), json!("B1")),
        "{request}"
    );
    assert_eq!(request["action"]["metadata"], json!({"scope_id": "g1", "user_id": "u1"}), "{request}");

    // The same gateway again (same first identity, no auth): no second script.
    let (lines, _, code) = dial_all(&[&serve.url, "--identity", "telegram:T1"], &[], &[SEND]);
    assert_eq!((code, results(&lines).len()), (0, 1));
    serve.expect("closed", |v| v["conn"] == 2);
    assert!(
        !serve.run.seen.iter().any(|l| l.contains(r#""event":"pushed","conn":2"#)),
        "{:?}",
        serve.run.seen
    );
    assert!(!lines.iter().any(|l| l.get("inbound").is_some()), "{lines:?}");
    // Another gateway gets it.
    let mut run = dial(&[&serve.url, "--identity", "slack:S9"], &[]);
    run.expect("inbound", |v| v.get("inbound").is_some());
    serve.expect("pushed", |v| v["conn"] == 3);
}

#[test]
fn record_holds_every_frame_received() {
    let dir = tempdir("record");
    let record = dir.join("frames.jsonl");
    let mut serve = Serve::start(&["--record", record.to_str().expect("UTF-8 path")]);
    let stdin = [SEND, r#"{"interrupt":{"session_key":"k1","reason":null}}"#];
    let (_, stderr, code) = dial_all(&[&serve.url, "--platform", "slack", "--bot-id", "S1"], &[], &stdin);
    assert_eq!((code, stderr.as_str()), (0, ""));
    serve.expect("closed", |_| true);
    // Closing serve flushes the record.
    #[cfg(unix)]
    {
        let finished = serve.run.terminate();
        assert_eq!(finished.code, 0, "{}", finished.stderr);
    }
    let text = std::fs::read_to_string(&record).expect("the record file exists");
    let frames: Vec<Value> =
        text.lines().map(|l| serde_json::from_str(l).expect("record lines are JSON")).collect();
    assert_eq!(frames[0], json!({"conn": 1, "frame": {"type": "hello", "platform": "slack", "botId": "S1"}}));
    let outbound = frames.iter().find(|f| f["frame"]["type"] == "outbound").expect("an outbound frame");
    assert_eq!(outbound["frame"]["action"]["op"], "send");
    // Recorded as received: dial sent it untagged, so it names no identity.
    assert_eq!(outbound["frame"].get("platform"), None);
    assert_eq!(outbound["frame"].get("botId"), None);
    assert!(
        frames.contains(
            &json!({"conn": 1, "frame": {"type": "interrupt", "session_key": "k1", "reason": null}})
        ),
        "{text}"
    );
}

#[test]
fn upgrade_auth_accepts_the_right_secret_and_rejects_a_wrong_one() {
    let mut serve = Serve::start(&["--secret", "old-secret", "--secret", "s3cret"]);
    let (lines, stderr, code) =
        dial_all(&[&serve.url, "--gateway-id", "gw-1", "--secret", "s3cret"], &[], &[SEND]);
    assert_eq!((code, stderr.as_str()), (0, ""));
    assert_eq!(results(&lines), [(1, json!({"success": true, "message_id": "srv-send"}))]);
    serve.expect("connected", |v| v["gateway_id"] == "gw-1");

    let started = std::time::Instant::now();
    let (lines, stderr, code) = dial_all(
        &[&serve.url, "--gateway-id", "gw-1", "--secret", "hunter2", "--connect-timeout-ms", "1500"],
        &[],
        &[SEND],
    );
    assert_eq!((code, lines.len()), (1, 0), "{stderr}");
    assert!(stderr.starts_with("error: ") && stderr.trim_end().ends_with('.'), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one sentence: {stderr}");
    assert!(stderr.contains("4401") && stderr.contains("--secret"), "{stderr}");
    assert!(!stderr.contains("hunter2") && !stderr.contains("panicked"), "{stderr}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    let rejected = serve.expect("rejected", |_| true);
    assert_eq!(rejected["reason"], "unauthorized");
    let closed = serve.expect("closed", |v| v["conn"] == rejected["conn"]);
    assert_eq!((closed["reason"].clone(), closed["code"].clone()), (json!("rejected"), json!(4401)));
    assert!(!serve.run.seen.iter().any(|l| l.contains("hunter2") || l.contains("s3cret")));
}

#[test]
fn dial_reads_url_identities_and_auth_from_the_environment() {
    let mut serve = Serve::start(&["--secret", "s3cret"]);
    let http_url = serve.url.replace("ws://", "http://").replace("/relay", "/");
    let env = [
        ("GATEWAY_RELAY_URL", http_url.as_str()),
        ("GATEWAY_RELAY_PLATFORMS", "discord, telegram"),
        ("GATEWAY_RELAY_BOT_IDS", r#"{"discord": {"botId": "123"}}"#),
        ("GATEWAY_RELAY_ID", "gw-env"),
        ("GATEWAY_RELAY_SECRET", "s3cret"),
    ];
    let tagged = r#"{"action":{"op":"send","chat_id":"t1","content":"x"},"platform":"telegram","botId":""}"#;
    let (lines, stderr, code) = dial_all(&[], &env, &[tagged]);
    assert_eq!((code, stderr.as_str()), (0, ""), "{lines:?}");
    assert_eq!(lines[0], json!({"connection": "connected", "url": serve.url}));
    let identities: Vec<&str> = lines.iter().filter_map(|l| l["identity"].as_str()).collect();
    assert_eq!(identities, ["discord:123", "telegram:"]);
    assert_eq!(results(&lines), [(1, json!({"success": true, "message_id": "srv-send"}))]);
    serve.expect("connected", |v| v["gateway_id"] == "gw-env");
    serve.expect("hello", |v| v["platform"] == "discord" && v["botId"] == "123");
    serve.expect("hello", |v| v["platform"] == "telegram" && v["botId"] == "");
    serve.expect("request", |v| v["platform"] == "telegram");
}

#[test]
fn a_descriptor_map_answers_by_platform_and_refuses_the_rest() {
    let dir = tempdir("descriptors");
    let path = dir.join("descriptors.json");
    let descriptor = json!({"contract_version": 1, "platform": "discord", "label": "Mine", "max_message_length": 10,
        "supports_draft_streaming": false, "supports_edit": false, "supports_threads": false,
        "markdown_dialect": "plain", "len_unit": "chars"});
    std::fs::write(&path, json!({"discord": descriptor}).to_string()).expect("write descriptors");
    let mut serve = Serve::start(&["--descriptor", path.to_str().expect("UTF-8 path")]);

    let (lines, stderr, code) = dial_all(
        &[&serve.url, "--platform", "discord"],
        &[],
        &[r#"{"op":"react","chat_id":"c","message_id":"m","emoji":"x"}"#],
    );
    assert_eq!((code, stderr.as_str()), (0, ""));
    assert_eq!(lines[1]["descriptor"]["label"], "Mine", "the first descriptor comes first: {lines:?}");
    assert_eq!(
        results(&lines),
        [(
            1,
            json!({"success": false, "error": "relay op not supported by connector: react", "ambiguous": false})
        )]
    );

    // The connection ends right after its handshake: whether `dial` saw it
    // up first is a race, so either way it must end with one sentence naming the refusal.
    let run = dial(&[&serve.url, "--identity", "discord:D", "--identity", "slack:S", "--no-reconnect"], &[]);
    let Finished { stderr, code, .. } = run.wait();
    assert_eq!(code, 1);
    assert!(stderr.starts_with("error: ") && stderr.lines().count() == 1, "{stderr}");
    assert!(stderr.contains("identity refused: slack:S"), "{stderr}");
    let closed = serve.expect("closed", |v| v["reason"] == "refused_identity");
    assert_eq!(closed["code"], 1008);
}

#[cfg(unix)]
#[test]
fn serve_closes_its_connections_on_sigterm_and_a_no_reconnect_dial_stops() {
    let mut serve = Serve::start(&[]);
    let mut run = dial(&[&serve.url, "--no-reconnect"], &[]);
    run.expect("the descriptor", |v| v.get("descriptor").is_some());
    serve.expect("hello", |_| true);
    let finished = serve.run.terminate();
    assert_eq!((finished.code, finished.stderr.as_str()), (0, ""));
    let last: Value = serde_json::from_str(finished.lines.last().expect("lines")).expect("JSON");
    assert_eq!(
        (last["event"].clone(), last["reason"].clone(), last["code"].clone()),
        (json!("closed"), json!("local"), json!(1000))
    );

    run.expect("lost", |v| v["connection"] == "lost");
    let finished = run.finish();
    assert_eq!(finished.code, 1);
    assert!(
        finished.stderr.starts_with("error: ") && finished.stderr.lines().count() == 1,
        "{}",
        finished.stderr
    );
}

#[test]
fn help_has_examples() {
    for (command, example) in
        [("serve", "relay serve --listen 127.0.0.1:0"), ("dial", "relay dial ws://127.0.0.1:8080")]
    {
        let (stdout, stderr, code) = common::run(&[command, "--help"], "");
        assert_eq!((code, stderr.as_str()), (0, ""));
        let examples =
            stdout.split_once("\nExamples:\n").map(|(_, e)| e).unwrap_or_else(|| panic!("{stdout}"));
        assert!(examples.contains(example), "{examples}");
    }
}

/// A fresh directory for one test's files.
fn tempdir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("relay-cli-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create a temporary directory");
    dir
}
