//! The conforming gateways the kit is run against, each driven the way an
//! application would: requests sent once connected, every buffered frame
//! acked once "in custody".

use std::process::Stdio;
use std::time::Duration;

use relay_core::gateway::Identity;
use relay_core::policy::Secret;
use relay_driver::{ClientConfig, ClientEvent, ConnectionEvent};
use serde_json::Value;

use super::cli_net::{Running, relay_command};
use super::interop;
use super::support::{self, Rt};

/// Gateway id and secret of the runs with upgrade auth.
pub(crate) const GATEWAY_ID: &str = "gw-conform";
/// The secret of those runs.
pub(crate) const SECRET: &str = "conform-s3cret";

/// The two actions every driver sends once connected.
const ACTIONS: [&str; 2] = [
    r#"{"op":"send","chat_id":"conform-chat","content":"hello","reply_to":null,"metadata":{}}"#,
    r#"{"op":"typing","chat_id":"conform-chat"}"#,
];

/// `relay dial URL` with its stdin driven: the actions once connected, an
/// `ack` for every `bufferId` it prints; returns when it stops (revoked).
pub(crate) fn relay_dial(url: &str, auth: bool) {
    let mut args = vec![];
    if auth {
        args.extend(["--gateway-id", GATEWAY_ID, "--secret", SECRET]);
    }
    relay_dial_with(url, &args, "revoked");
}

/// As [`relay_dial`], with `extra` flags, until it prints `{"connection": last}`.
pub(crate) fn relay_dial_with(url: &str, extra: &[&str], last: &str) {
    let mut args = vec!["dial", url];
    args.extend_from_slice(extra);
    let mut dial = Running::spawn(relay_command(&args, &[]));
    loop {
        let line = dial.next_line("relay dial's output");
        let Ok(value) = serde_json::from_str::<Value>(&line) else { continue };
        if value["connection"] == "connected" {
            for action in ACTIONS {
                dial.send(action);
            }
        }
        let buffer_id = value["inbound"]["bufferId"].as_str().or(value["passthrough"]["bufferId"].as_str());
        if let Some(id) = buffer_id {
            dial.send(&serde_json::json!({ "ack": id }).to_string());
        }
        if value["connection"] == last {
            break;
        }
    }
    // Stdin stays open: the revocation (or the lost connection) alone must end it.
    let finished = dial.wait();
    assert_eq!(finished.code, 1, "relay dial stops for good: {}", finished.stderr);
}

/// The library client on `rt` with a small application: two requests once
/// connected, an ack for every buffered event; returns when revoked.
pub(crate) fn library(runtime: &str, url: &str, auth: bool) {
    let url = url.to_owned();
    support::run_on(runtime, Duration::from_secs(70), move |rt: Rt| async move {
        let mut config = ClientConfig::default().with_identities([Identity::new("discord", "lib")]);
        if auth {
            config = config.with_auth(GATEWAY_ID, Secret::new(SECRET).expect("a secret"));
        }
        let (client, mut events) = rt.connect(&url, config).await.expect("the library client connects");
        client.send("conform-chat", "hello").await.expect("the kit answers");
        client.typing("conform-chat", None).await.expect("the kit answers");
        while let Some(event) = events.next().await {
            match event {
                ClientEvent::Inbound { buffer_id: Some(id), .. }
                | ClientEvent::Passthrough { buffer_id: Some(id), .. } => {
                    client.ack(&id).await.expect("the ack goes out");
                }
                ClientEvent::Connection(ConnectionEvent::Revoked | ConnectionEvent::Stopped { .. }) => break,
                _ => {}
            }
        }
    });
}

/// Starts `tests/python/gateway.py conform`, the reference-style Python
/// gateway, with two identities.
pub(crate) fn python(url: &str, auth: bool) -> Running {
    let python = interop::python();
    let mut command = python.script("gateway.py");
    command.args(["conform", "--url", url, "--identity", "discord:py-1", "--identity", "telegram:py-2"]);
    if auth {
        command.args(["--gateway-id", GATEWAY_ID, "--secret", SECRET]);
    }
    command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    Running::spawn(command)
}

/// Checks the Python gateway's report once the session is over: revoked,
/// having ignored the duplicate and the unknown result.
pub(crate) fn python_report(mut gateway: Running) {
    let report = gateway.expect("the Python gateway's report", |v| v["event"] == "report");
    assert_eq!(report["revoked"], true, "{report}");
    assert!(report["ignored_results"].as_u64() >= Some(2), "the duplicate and the unknown result: {report}");
    let finished = gateway.finish();
    assert_eq!(finished.code, 0, "{}", finished.stderr);
}
