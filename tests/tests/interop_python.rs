//! Interop with Python peers built on the `websockets` package, speaking the
//! reference wire format (Python `json.dumps` spelling, one frame per text
//! message, permessage-deflate offered by default):
//!
//! - our gateway (the library, on tokio and on smol) against
//!   `tests/python/connector.py`;
//! - `tests/python/gateway.py` against our connector, `relay serve`.
//!
//! The Python side checks what we send and reports it as JSON; the Rust side
//! checks what we decoded. See `interop/mod.rs` for how Python is set up
//! (a private venv in the target dir; these tests fail, never skip, when it
//! cannot be had).

mod common;
mod interop;
mod support;

use std::path::Path;
use std::time::Duration;

use relay_core::gateway::{Identity, OutboundRequest};
use relay_core::policy::{SessionKeyOptions, session_key};
use relay_core::wire::{LenUnit, OutboundAction, Platform, React, SendMessage};
use relay_driver::{ClientConfig, ClientEvent, IdleOutcome};
use serde_json::{Value, json};
use support::Rt;

use interop::{Proc, Python};

/// Budget of one scenario on a runtime (Python setup happens before it).
const SCENARIO_LIMIT: Duration = Duration::from_secs(90);
/// Budget for a child to print a line we wait for.
const LINE_LIMIT: Duration = Duration::from_secs(20);

// What tests/python/connector.py pushes; spelled here as Rust strings.
const INBOUND_TEXT: &str =
    "Grüße aus Köln — 你好 👋🏽 \"quoted\" \\ back\\slash\ttab\nnew line \u{2028} nul:\u{0} end";
const BUFFERED_TEXT: &str = "😀 buffered 🇩🇪 Алиса";
const SESSION_KEY: &str = "agent:main:discord:group:chan-1:u-1";

/// The passthrough body connector.py sends (every byte value, then non-UTF-8).
fn forward_body() -> Vec<u8> {
    let mut body: Vec<u8> = (0..=255u8).cycle().take(256 * 3).collect();
    body.extend_from_slice(b"\r\n\xff\xfe\x00\xc3(");
    body
}

// ---------------------------------------------------------------------------
// Our gateway against a Python connector.

#[test]
fn tokio_gateway_against_python_connector() {
    let python = interop::python();
    support::run_on("tokio", SCENARIO_LIMIT, move |rt| gateway_against_python_connector(rt, python));
}

#[test]
fn smol_gateway_against_python_connector() {
    let python = interop::python();
    support::run_on("smol", SCENARIO_LIMIT, move |rt| gateway_against_python_connector(rt, python));
}

/// The next event that is not a descriptor; a diagnostic means we could not
/// read a frame the reference wrote, which is a failure.
async fn next_payload(rt: Rt, events: &mut relay_driver::Events, what: &str) -> ClientEvent {
    let event = support::expect(rt, events, what, |e| match e {
        ClientEvent::Descriptor { .. } => None,
        other => Some(other.clone()),
    })
    .await;
    if let ClientEvent::Diagnostic(d) = &event {
        panic!("the gateway skipped a frame written by the Python connector: {d:?}");
    }
    event
}

async fn gateway_against_python_connector(rt: Rt, python: Python) {
    let mut command = python.script("connector.py");
    command.args(["--hellos", "2", "--deadline", "60", "--ping-interval", "0.2", "--ping-timeout", "1"]);
    let mut connector = Proc::spawn("connector.py", command);
    let listening = connector.json_line(LINE_LIMIT, "the listening line", |v| v["event"] == "listening");
    let port = listening["port"].as_u64().expect("connector.py prints its port");

    let discord = Identity::new("discord", "d1");
    let telegram = Identity::new("telegram", "t1");
    let mut config = ClientConfig::default().with_identities([discord.clone(), telegram.clone()]);
    config.gateway.command_manifest = Some(vec![json!({"name": "frage", "description": "Frag mich 🤖"})]);
    config.reconnect = false;
    config.connect_budget = Duration::from_secs(15);
    // Keepalive both ways, fast: we ping every 200 ms and give up after
    // 1.5 s of silence; connector.py pings every 200 ms and gives up after
    // 1 s without a pong. While nothing else is sent (below), only pongs
    // keep the link up.
    config.gateway.ping_interval = Duration::from_millis(200);
    config.gateway.dead_link_timeout = Duration::from_millis(1500);
    config.gateway.request_timeout = Duration::from_secs(10);
    // No path: URL normalization must add /relay (connector.py checks).
    let url = format!("ws://127.0.0.1:{port}");
    let (client, mut events) = rt.connect(&url, config).await.expect("connects to the Python connector");

    // Descriptors: Python spelling with \uXXXX escapes and surrogate pairs.
    let d = client.descriptor().expect("a default descriptor");
    assert_eq!(d.platform, "discord");
    assert_eq!(d.label, "Discord ✨ (Python)");
    assert_eq!(d.emoji, "🎮");
    assert_eq!(d.platform_hint, "Réponds brièvement");
    assert_eq!(d.max_message_length, 2000);
    assert_eq!(d.len_unit, LenUnit::Chars);
    assert!(d.supports_edit && d.supports_threads && !d.supports_draft_streaming);
    assert_eq!(
        d.supported_ops,
        ["edit", "follow_up", "get_chat_info", "react", "send", "thread_create", "typing"],
        "non-strings and empty strings dropped"
    );
    assert_eq!(d.extra.get("x_future_field"), Some(&json!({"nested": [1, 2, "très"]})));
    // The second descriptor may land just after `connect` returned.
    let t = support::expect(rt, &mut events, "the second descriptor", |e| match e {
        ClientEvent::Descriptor { identity, descriptor } if *identity == telegram => Some(descriptor.clone()),
        _ => None,
    })
    .await;
    assert_eq!(client.descriptor_for(&telegram).as_ref(), Some(&*t));
    assert_eq!((t.platform.as_str(), t.len_unit), ("telegram", LenUnit::Utf16));
    assert_eq!(t.emoji, "✈\u{fe0f}");
    assert_eq!(t.markdown_dialect, "markdown_v2");
    assert!(t.supports_draft_streaming);

    // The pushed sequence, in order.
    let ClientEvent::Inbound { event, buffer_id: None } = next_payload(rt, &mut events, "inbound 1").await
    else {
        panic!("expected the live inbound first");
    };
    assert_eq!(event.text, INBOUND_TEXT);
    assert_eq!(event.message_id.as_deref(), Some("m-1"));
    let s = &event.source;
    assert_eq!(
        (s.platform, s.chat_id.as_str(), s.chat_type.as_str()),
        (Platform::Discord, "chan-1", "group")
    );
    assert_eq!(s.chat_name.as_deref(), Some("général"));
    assert_eq!(s.user_name.as_deref(), Some("Zoë 🦊"));
    assert_eq!(s.scope_id.as_deref(), Some("guild-9"));
    assert_eq!(session_key(s, SessionKeyOptions::default(), None), SESSION_KEY);
    assert_eq!(event.media_urls, ["https://cdn.example/a.png", "https://cdn.example/b.ogg"]);
    let png = event.media_for("https://cdn.example/a.png").expect("media joined by url");
    assert_eq!((png.mime.as_deref(), png.caption.as_deref()), (Some("image/png"), Some("schön")));
    assert_eq!(png.filename.as_deref(), Some("ä.png"));
    let ogg = event.media_for("https://cdn.example/b.ogg").expect("media joined by url");
    assert_eq!((ogg.kind.as_deref(), ogg.size), (Some("voice"), Some(1234)));
    assert_eq!(event.extra.get("x_reference_extra"), Some(&json!({"k": "vé"})), "unknown keys kept");

    let ClientEvent::Inbound { event, buffer_id } = next_payload(rt, &mut events, "inbound 2").await else {
        panic!("expected the buffered inbound second");
    };
    assert_eq!(buffer_id.as_deref(), Some("buf-7"));
    assert_eq!(event.text, BUFFERED_TEXT);
    assert_eq!((event.source.platform, event.source.chat_type.as_str()), (Platform::Telegram, "dm"));
    assert_eq!(event.source.user_name.as_deref(), Some("Алиса"));
    assert_eq!(event.effective_message_id(), Some("tg-5"));

    let ClientEvent::Passthrough { forward, buffer_id } = next_payload(rt, &mut events, "passthrough").await
    else {
        panic!("expected the passthrough third");
    };
    assert_eq!(buffer_id.as_deref(), Some("buf-9"));
    assert_eq!(forward.body, forward_body(), "bodyB64 decodes to the exact bytes");
    assert_eq!((forward.platform.as_str(), forward.bot_id.as_str()), ("discord", "d1"));
    assert_eq!((forward.method.as_str(), forward.path.as_str()), ("POST", "/interactions?q=é"));
    let headers: Vec<(&str, &str)> = forward.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    assert_eq!(
        headers,
        [("Content-Type", "application/json"), ("X-Multi", "1"), ("X-Multi", "2"), ("X-Name", "Zoë")]
    );

    let ClientEvent::Interrupt { session_key, chat_id } = next_payload(rt, &mut events, "interrupt").await
    else {
        panic!("expected the interrupt_inbound fourth");
    };
    assert_eq!((session_key.as_str(), chat_id.as_str()), (SESSION_KEY, "chan-1"));

    // Custody of the buffered frames, then requests, all in flight at once.
    client.ack("buf-7").await.expect("ack sent");
    client.ack("buf-9").await.expect("ack sent");
    let send_text = "Réponse ✅ 👍🏽 \"q\" \\ \n fin";
    let tagged = OutboundRequest::from(OutboundAction::Send(SendMessage::new("111", "Привет 😀")))
        .for_identity(telegram.clone());
    let react =
        React {
            chat_id: "chan-1".into(), message_id: "m-1".into(), emoji: "👍🏽".into(), ..React::default()
        };
    let (send, tagged, info, edit, react, typing, follow_up) = futures::join!(
        client.send("chan-1", send_text),
        client.request(tagged),
        client.get_chat_info("chan-1"),
        client.edit("chan-1", "py-send:chan-1", "edited ✏️"),
        client.react(react),
        client.typing("chan-1", Some("")),
        client.follow_up(SESSION_KEY, "ephemeral_reply", "done ✅"),
    );
    let send = send.expect("send resolves");
    assert!(send.success);
    assert_eq!(send.message_id.as_deref(), Some("py-send:chan-1"));
    assert_eq!(tagged.expect("tagged send resolves").message_id.as_deref(), Some("py-send:111"));
    assert_eq!((info.name.as_str(), info.chat_type.as_str()), ("Chât chan-1 🏠", "group"));
    let edit = edit.expect("a refusal is a result, not an error");
    assert!(!edit.success);
    assert_eq!(edit.error.as_deref(), Some("édition refusée ✋"));
    assert_eq!(edit.code.as_deref(), Some("egress_declined"));
    assert_eq!(edit.extra.get("retry_after"), Some(&json!(1.5)), "unknown result keys kept");
    assert_eq!(react.expect("react resolves").message_id.as_deref(), Some("py-react:👍🏽"));
    assert!(typing.expect("typing resolves").success);
    assert_eq!(follow_up.expect("follow_up resolves").message_id.as_deref(), Some("py-follow_up"));

    client.interrupt(SESSION_KEY, Some("stop ✋")).await.expect("interrupt sent");
    client.interrupt("agent:main:telegram:dm:111", None).await.expect("interrupt sent");

    // Keepalive: nothing but pings and pongs for twice the dead-link window.
    rt.sleep(Duration::from_millis(3000)).await;
    let late = client.send("chan-1", "still here").await.expect("the link survived on pongs alone");
    assert_eq!(late.message_id.as_deref(), Some("py-send:chan-1"));

    assert_eq!(client.go_idle().await, IdleOutcome::Acknowledged);
    client.close().await;

    // What the Python connector saw.
    let status = connector.wait(Duration::from_secs(15));
    let report = connector.json_line(LINE_LIMIT, "the report", |v| v["event"] == "report");
    eprintln!("connector.py report: {report}");
    assert!(
        status.success(),
        "connector.py found mismatches ({status}):\n{}\nreport: {report:#}",
        connector.stderr()
    );
    assert_eq!(report["mismatches"], json!([]));
    assert_eq!(report["path"], "/relay");
    assert_eq!(report["negotiated_extensions"], Value::Null, "no permessage-deflate");
    assert_eq!(
        report["hellos"],
        json!([
            {"platform": "discord", "botId": "d1",
             "command_manifest": [{"name": "frage", "description": "Frag mich 🤖"}]},
            {"platform": "telegram", "botId": "t1"},
        ]),
        "the command manifest goes with the Discord hello only"
    );
    let mut acks: Vec<&str> = report["acks"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    acks.sort_unstable();
    assert_eq!(acks, ["buf-7", "buf-9"]);
    assert_eq!(
        report["interrupts"],
        json!([
            {"type": "interrupt", "session_key": SESSION_KEY, "reason": "stop ✋"},
            {"type": "interrupt", "session_key": "agent:main:telegram:dm:111", "reason": null},
        ])
    );
    assert_eq!(report["going_idle"], 1);
    assert_eq!(report["close_code"], 1000);
    assert!(report["ping_latency"].as_f64().is_some_and(|l| l > 0.0), "we answered Python's pings");

    let outbound = report["outbound"].as_array().expect("outbound list");
    assert_eq!(outbound.len(), 8, "{outbound:#?}");
    let find = |op: &str, chat: &str| -> &Value {
        outbound
            .iter()
            .find(|o| o["action"]["op"] == op && o["action"]["chat_id"] == chat)
            .unwrap_or_else(|| panic!("no {op} to {chat} in {outbound:#?}"))
    };
    let first = outbound
        .iter()
        .find(|o| o["action"]["content"] == send_text)
        .unwrap_or_else(|| panic!("the first send is missing: {outbound:#?}"));
    assert_eq!(
        first["action"],
        json!({"op": "send", "chat_id": "chan-1", "content": send_text, "reply_to": null, "metadata": {}}),
        "send carries reply_to: null and metadata: {{}}"
    );
    let tagged = find("send", "111");
    assert_eq!((&tagged["platform"], &tagged["botId"]), (&json!("telegram"), &json!("t1")));
    assert_eq!(tagged["action"]["content"], "Привет 😀");
    for o in outbound.iter().filter(|o| !std::ptr::eq(*o, tagged)) {
        // Untagged requests go to the first identity; a tag, if any, names it.
        if o.get("platform").is_some() {
            assert_eq!((&o["platform"], &o["botId"]), (&json!("discord"), &json!("d1")), "{o}");
        }
    }
    assert_eq!(find("edit", "chan-1")["action"]["content"], "edited ✏️");
    assert_eq!(find("react", "chan-1")["action"]["emoji"], "👍🏽");
    assert_eq!(find("typing", "chan-1")["action"]["content"], "");
    assert_eq!(
        find("get_chat_info", "chan-1")["action"],
        json!({"op": "get_chat_info", "chat_id": "chan-1"})
    );
    let follow_up = outbound.iter().find(|o| o["action"]["op"] == "follow_up").expect("a follow_up");
    assert_eq!(follow_up["action"]["session_key"], SESSION_KEY);
    assert_eq!(follow_up["action"]["metadata"], json!({}));
}

// ---------------------------------------------------------------------------
// A Python gateway against our connector, `relay serve`.

/// Runs `relay serve --listen 127.0.0.1:0 <args>` and waits for its URL.
fn relay_serve(args: &[&str]) -> (Proc, String) {
    let help = interop::run_bounded(
        {
            let mut c = common::relay_std();
            c.args(["serve", "--help"]);
            c
        },
        Duration::from_secs(30),
    )
    .expect("relay runs");
    assert!(
        help.status.success(),
        "`relay serve` is not available in this build ({}); the Python gateway tests need it \
         (shims/cli/CLI.md). relay said:\n{}",
        help.status,
        help.stderr.trim()
    );
    let mut command = common::relay_std();
    command.args(["serve", "--listen", "127.0.0.1:0"]).args(args);
    let serve = Proc::spawn("relay serve", command);
    let listening = serve.json_line(LINE_LIMIT, "the listening line", |v| v["event"] == "listening");
    let url = listening["url"].as_str().expect("the listening line has a url").to_owned();
    assert!(url.starts_with("ws://127.0.0.1:") && url.ends_with("/relay"), "{url}");
    (serve, url)
}

/// JSON Lines in `path`, waiting (bounded) until `done` holds for them.
fn read_jsonl_until(path: &Path, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let lines: Vec<Value> = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        if done(&lines) {
            return lines;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what} in {}:\n{text}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A scratch directory for one test, removed when dropped.
struct Scratch(std::path::PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("relay-interop-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Self(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The script of `relay serve --script`: three frames pushed live, then,
/// once the Python gateway has gone idle, two that the connector buffers.
fn serve_script() -> Vec<Value> {
    let b64 = base64_standard(&forward_body());
    vec![
        json!({"type": "inbound", "event": {
            "text": INBOUND_TEXT, "message_type": "text",
            "source": {"platform": "discord", "chat_id": "chan-1", "chat_type": "group",
                       "user_id": "u-1", "user_name": "Zoë 🦊", "scope_id": "guild-9", "guild_id": "guild-9"},
            "message_id": "m-1"}}),
        json!({"sleep_ms": 20}),
        json!({"type": "passthrough_forward", "forward": {
            "platform": "discord", "botId": "d1", "method": "POST", "path": "/interactions",
            "headers": [["X-Multi", "1"], ["X-Multi", "2"]], "bodyB64": b64}}),
        json!({"type": "interrupt_inbound", "session_key": SESSION_KEY, "chat_id": "chan-1"}),
        // The Python gateway goes idle within this pause (it needs ~0.1 s).
        json!({"sleep_ms": 3000}),
        json!({"type": "inbound", "event": {
            "text": BUFFERED_TEXT,
            "source": {"platform": "telegram", "chat_id": "111", "chat_type": "dm", "user_id": "111"}}}),
        json!({"type": "passthrough_forward", "forward": {
            "platform": "discord", "botId": "d1", "method": "POST", "path": "/later", "bodyB64": b64}}),
    ]
}

/// Standard base64 with padding (a few lines instead of a dependency).
fn base64_standard(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn python_gateway_against_relay_serve() {
    // Known answers (RFC 4648), so the body comparisons below mean something.
    assert_eq!(base64_standard(b"Many hands make light work."), "TWFueSBoYW5kcyBtYWtlIGxpZ2h0IHdvcmsu");
    assert_eq!(base64_standard(b"\xff\xfe\xfd\x00"), "//79AA==");
    assert_eq!(base64_standard(b"ab"), "YWI=");
    let python = interop::python();
    let scratch = Scratch::new("serve");
    let script = scratch.0.join("script.jsonl");
    let record = scratch.0.join("record.jsonl");
    let frames = serve_script();
    std::fs::write(&script, frames.iter().map(|f| format!("{f}\n")).collect::<String>()).unwrap();
    // Script line numbers (1-based) of the frames pushed after the pause.
    let pause = frames.iter().position(|f| f["sleep_ms"] == 3000).unwrap();
    let later_lines: Vec<u64> = (pause + 2..=frames.len()).map(|l| l as u64).collect();
    let pushed: Vec<&Value> = frames.iter().filter(|f| f.get("type").is_some()).collect();
    let (live, later) = pushed.split_at(pushed.len() - later_lines.len());

    let (serve, url) = relay_serve(&[
        "--script",
        script.to_str().unwrap(),
        "--record",
        record.to_str().unwrap(),
        "--reply",
        "echo",
    ]);
    let mut command = python.script("gateway.py");
    command.args(["session", "--url", &url, "--ping-interval", "0.2", "--ping-timeout", "1"]);
    command.args(["--expect-live", &live.len().to_string(), "--expect-replayed", &later.len().to_string()]);
    let mut gateway = Proc::spawn("gateway.py", command);

    // relay serve buffers the later frames for the idle gateway.
    let mut serve_events = Vec::new();
    let mut first_conn = None;
    let mut buffered = Vec::new();
    while buffered.len() < later.len() {
        let line = match serve.try_line(LINE_LIMIT) {
            Ok(Some(line)) => line,
            problem => panic!(
                "relay serve did not report buffering the frames for the idle gateway ({problem:?}).\n\
                 gateway.py stderr:\n{}\nrelay serve stderr:\n{}",
                gateway.stderr(),
                serve.stderr()
            ),
        };
        let event: Value = serde_json::from_str(&line).expect("relay serve prints JSON lines");
        serve_events.push(event.clone());
        if event["event"] != "pushed" {
            continue;
        }
        let conn = first_conn.get_or_insert_with(|| event["conn"].clone());
        assert_eq!(event["conn"], *conn, "{event}");
        let line_no = event["line"].as_u64().expect("pushed events name the script line");
        if later_lines.contains(&line_no) {
            assert_eq!(
                event["delivery"], "buffered",
                "a frame after the pause went out live: the Python gateway had not gone idle ({event})"
            );
            buffered.push(event["bufferId"].as_str().expect("a buffered push has a bufferId").to_owned());
        } else {
            assert_eq!(event["delivery"], "sent", "{event}");
        }
    }
    gateway.send_line("go");

    let status = gateway.wait(Duration::from_secs(60));
    let report = gateway.json_line(LINE_LIMIT, "the report", |v| v["event"] == "report");
    eprintln!("gateway.py report: {report}");
    if !status.success() {
        panic!(
            "gateway.py found mismatches ({status}):\n{}\nreport: {report:#}\n\
             relay serve printed since:\n{}\nrelay serve stderr:\n{}",
            gateway.stderr(),
            serve.rest(Duration::from_millis(500)).join("\n"),
            serve.stderr()
        );
    }
    assert_eq!(report["mismatches"], json!([]));
    assert_eq!(report["negotiated_extensions"], Value::Null, "permessage-deflate declined");
    assert!(
        report["offered_extensions"].as_str().is_some_and(|e| e.contains("permessage-deflate")),
        "the Python client offered permessage-deflate: {report}"
    );
    let descriptors = report["descriptors"].as_array().expect("descriptors");
    assert_eq!(descriptors.len(), 2);
    assert_eq!(
        (&descriptors[0]["platform"], &descriptors[1]["platform"]),
        (&json!("discord"), &json!("telegram"))
    );
    assert_eq!((&report["close_code"], &report["close_code_2"]), (&json!(1000), &json!(1000)));
    assert!(report["ping_latency"].as_f64().is_some_and(|l| l > 0.0), "relay serve answered pings");

    // Live frames arrive as the script has them (compact UTF-8 JSON from us).
    let got = report["pushed"].as_array().expect("pushed frames");
    assert_eq!(got.len(), live.len(), "{got:#?}");
    assert_eq!(got[0]["event"]["text"], INBOUND_TEXT);
    assert_eq!(got[0]["event"]["source"]["user_name"], "Zoë 🦊");
    assert_eq!(report["forward_body_b64"], base64_standard(&forward_body()), "bodyB64 bytes exact");
    assert_eq!(got[2], *live[2]);
    assert!(got.iter().all(|f| f.get("bufferId").is_none()), "live frames carry no bufferId");

    // The backlog is replayed first on the next connection, with its bufferIds.
    let replayed = report["replayed"].as_array().expect("replayed frames");
    assert_eq!(replayed[0]["bufferId"], buffered[0]);
    assert_eq!(replayed[0]["event"]["text"], BUFFERED_TEXT);
    assert_eq!(replayed[1]["bufferId"], buffered[1]);
    assert_eq!(replayed[1]["forward"]["path"], "/later");
    assert_eq!(report["replayed_forward_body_b64"], base64_standard(&forward_body()));
    assert_eq!(replayed.len(), buffered.len(), "the script plays once per gateway: {replayed:#?}");
    let acked: Vec<&str> = report["acked"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert_eq!(acked, buffered, "every replayed frame acknowledged");

    // What relay serve recorded from the Python gateway.
    let recorded = read_jsonl_until(&record, "the acks", |lines| {
        let acks = lines.iter().filter(|l| l["frame"]["type"] == "inbound_ack").count();
        acks >= acked.len()
    });
    assert!(
        recorded.iter().all(|l| l.get("diagnostic").is_none()),
        "relay serve could not read: {recorded:#?}"
    );
    let frames_of = |kind: &str| -> Vec<&Value> {
        recorded.iter().filter(|l| l["frame"]["type"] == kind).map(|l| &l["frame"]).collect()
    };
    let hellos = frames_of("hello");
    assert_eq!(hellos.len(), 4, "two hellos per connection");
    assert_eq!((&hellos[0]["platform"], &hellos[0]["botId"]), (&json!("discord"), &json!("d1")));
    let sends = frames_of("outbound");
    let send = sends
        .iter()
        .find(|f| f["action"]["op"] == "send" && f["action"]["chat_id"] == "chan-1")
        .expect("the Python send");
    assert_eq!(send["action"]["content"], report["sent_text"], "\\uXXXX escapes decode exactly");
    let interrupts = frames_of("interrupt");
    assert_eq!(interrupts.len(), 2, "{interrupts:#?}");
    assert_eq!(interrupts[0]["reason"], "stop ✋");
    assert_eq!(interrupts[1]["reason"], Value::Null);
    assert_eq!(frames_of("going_idle").len(), 1);
    let recorded_acks: Vec<&str> =
        frames_of("inbound_ack").iter().filter_map(|f| f["bufferId"].as_str()).collect();
    assert_eq!(recorded_acks, acked);

    // relay serve's own account (CLI.md event lines), up to the second close.
    let first_conn = first_conn.expect("a pushed event named the connection");
    loop {
        let event = serve.json_line(LINE_LIMIT, "the second connection's closed event", |_| true);
        let done = event["event"] == "closed" && event["conn"] != first_conn;
        serve_events.push(event);
        if done {
            break;
        }
    }
    let events_of =
        |name: &str| -> Vec<&Value> { serve_events.iter().filter(|e| e["event"] == name).collect() };
    let closed = events_of("closed");
    assert_eq!(closed.len(), 2, "{serve_events:#?}");
    for c in &closed {
        assert_eq!((&c["reason"], &c["code"]), (&json!("transport_closed"), &json!(1000)), "{c}");
    }
    let idle = events_of("going_idle");
    assert_eq!(idle.len(), 1, "{serve_events:#?}");
    assert_eq!(idle[0]["conn"], first_conn);
    let reasons: Vec<&Value> = events_of("interrupt").iter().map(|e| &e["reason"]).collect();
    assert_eq!(reasons, [&json!("stop ✋"), &Value::Null]);
    let acks: Vec<&str> = events_of("inbound_ack").iter().filter_map(|e| e["bufferId"].as_str()).collect();
    assert_eq!(acks, buffered);
    let second_conn = &closed[1]["conn"];
    assert!(
        events_of("live").iter().any(|e| e["conn"] == *second_conn),
        "delivery went live after the replay: {serve_events:#?}"
    );
}

#[test]
fn python_gateway_upgrade_auth_against_relay_serve() {
    let python = interop::python();
    let (serve, url) = relay_serve(&["--secret", "old-secret", "--secret", "s3cret-ü"]);
    let mut command = python.script("gateway.py");
    command.args(["auth", "--url", &url, "--gateway-id", "gw:py-1", "--secret", "s3cret-ü"]);
    command.args(["--old-secret", "old-secret", "--wrong-secret", "nope"]);
    let mut gateway = Proc::spawn("gateway.py", command);
    let status = gateway.wait(Duration::from_secs(60));
    let report = gateway.json_line(LINE_LIMIT, "the report", |v| v["event"] == "report");
    assert!(
        status.success(),
        "gateway.py found mismatches ({status}):\n{}\nreport: {report:#}\nrelay serve stderr:\n{}",
        gateway.stderr(),
        serve.stderr()
    );
    let outcomes: Vec<(String, String)> = report["attempts"]
        .as_array()
        .expect("attempts")
        .iter()
        .map(|a| (a["name"].as_str().unwrap().to_owned(), a["outcome"].as_str().unwrap().to_owned()))
        .collect();
    let expected = [
        ("bearer", "accepted"),
        ("bare-token", "accepted"),
        ("padded-base64", "accepted"),
        ("rotated-old-secret", "accepted"),
        ("wrong-secret", "closed 4401 unauthorized"),
        ("no-header", "closed 4401 unauthorized"),
        ("expired", "closed 4401 expired"),
        ("beyond-max-lifetime", "closed 4401 unauthorized"),
        ("exp-zero", "closed 4401 unauthorized"),
        ("uppercase-signature", "closed 4401 unauthorized"),
    ];
    let expected: Vec<(String, String)> = expected.iter().map(|(a, b)| ((*a).into(), (*b).into())).collect();
    assert_eq!(outcomes, expected, "report: {report:#}");

    // relay serve's account: accepted upgrades name the gateway id, refused
    // ones say why (CLI.md event lines), in dial order.
    let mut verdicts = Vec::new();
    while verdicts.len() < expected.len() {
        let event = serve.json_line(LINE_LIMIT, "connected/rejected events", |v| {
            v["event"] == "connected" || v["event"] == "rejected"
        });
        verdicts.push(match event["event"].as_str() {
            Some("connected") => format!("connected {}", event["gateway_id"].as_str().unwrap_or("<none>")),
            _ => format!("rejected {}", event["reason"].as_str().unwrap_or("<none>")),
        });
    }
    let want: Vec<&str> = expected
        .iter()
        .map(|(_, outcome)| match outcome.as_str() {
            "accepted" => "connected gw:py-1",
            "closed 4401 expired" => "rejected expired",
            _ => "rejected unauthorized",
        })
        .collect();
    assert_eq!(verdicts, want);
}
