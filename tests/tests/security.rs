//! Security properties (PROTOCOL §8, §9): the connector refuses every bad
//! upgrade token with close 4401 and the right reason over real sockets; a
//! rotated secret list accepts old and new; the signature check is the
//! constant-time one; no outbound action carries a credential; the upgrade
//! secret never shows in logs, `Debug`, errors or `relay dial` output; every
//! crate forbids unsafe code.
//!
//! Timing is not asserted (the project's tests assert no timings of
//! cryptographic code): constant-time comparison is checked by the code
//! path it takes and by refusing signatures that differ only in their first
//! or only in their last byte.

mod cli_net;
mod common;
#[path = "security/leaks.rs"]
mod leaks;
#[path = "rawpeer/mod.rs"]
mod rawpeer;

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use relay_core::connector::{CloseReason, ConnectorConfig};
use relay_core::policy::{Secret, TokenRejection, TokenVerifier, mint_token, token_signature};
use relay_core::wire::{
    Draft, EditMessage, FollowUp, GetChatInfo, MediaKind, OutboundAction, Prompt, PromptKind, PromptOption,
    RawAction, React, SendMedia, SendMessage, ThreadCreate, ThreadRename, Typing,
};
use relay_driver::{ServerConfig, ServerEvent};
use serde_json::Value;

use async_tungstenite::tungstenite::Message;
use rawpeer::{auto_server, expect_on, raw_gateway, run, send_text};

fn secret(text: &str) -> Secret {
    Secret::new(text).unwrap()
}

fn now() -> u64 {
    relay_driver::unix_now()
}

/// `token` with one hex digit of its signature changed: the first digit, or the last.
fn tamper(token: &str, first: bool) -> String {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(token).unwrap()).unwrap();
    let (signed, sig) = text.rsplit_once(':').unwrap();
    let mut sig: Vec<u8> = sig.bytes().collect();
    let at = if first { 0 } else { sig.len() - 1 };
    sig[at] = if sig[at] == b'0' { b'1' } else { b'0' };
    URL_SAFE_NO_PAD.encode(format!("{signed}:{}", String::from_utf8(sig).unwrap()))
}

/// The close (code, reason) an upgrade ended with; `None` when it was accepted.
type Refusal = Option<(u16, String)>;

const HELLO: &str = "{\"type\":\"hello\",\"platform\":\"relay\",\"botId\":\"\"}\n";

/// Dials `server` with `authorization`; returns the close (code, reason) or
/// `None` when the connection was accepted (a hello got its descriptor).
async fn upgrade_with(url: &str, authorization: Option<&str>) -> Refusal {
    use futures::StreamExt as _;
    let mut ws = raw_gateway(url, authorization).await.expect("the upgrade itself completes");
    send_text(&mut ws, HELLO).await;
    loop {
        match rawpeer::within("an answer", ws.next()).await {
            Some(Ok(Message::Text(text))) => {
                assert!(text.as_str().contains("\"descriptor\""), "{text}");
                return None;
            }
            Some(Ok(Message::Close(Some(frame)))) => {
                return Some((u16::from(frame.code), frame.reason.to_string()));
            }
            Some(Ok(_)) => {}
            other => panic!("no close frame: {other:?}"),
        }
    }
}

#[test]
fn the_connector_refuses_bad_tokens_with_4401_and_the_right_reason() {
    run(Duration::from_secs(30), async {
        let verifier = TokenVerifier::new([secret("s3cret")]).with_max_lifetime(3600);
        let config =
            ServerConfig { connector: ConnectorConfig::with_verifier(verifier), ..ServerConfig::default() };
        let (server, mut events) = auto_server(config).await;
        let url = server.url();
        let s3cret = secret("s3cret");
        let valid = mint_token("gw-1", now() + 300, &s3cret);
        let sig_b = token_signature("gw-b", now() + 300, &s3cret);
        let unpadded_ok = URL_SAFE.encode(URL_SAFE_NO_PAD.decode(&valid).unwrap());
        let bearer = |t: &str| format!("Bearer {t}");
        let unauthorized = Some((4401, "unauthorized".to_owned()));
        let cases: Vec<(&str, Option<String>, Refusal)> = vec![
            ("no Authorization header", None, unauthorized.clone()),
            ("an empty bearer", Some("Bearer ".into()), unauthorized.clone()),
            ("a Basic credential", Some("Basic Z3ctMTpzM2NyZXQ=".into()), unauthorized.clone()),
            ("not base64", Some(bearer("!!!not-a-token!!!")), unauthorized.clone()),
            (
                "base64 without colons",
                Some(bearer(&URL_SAFE_NO_PAD.encode("just-text"))),
                unauthorized.clone(),
            ),
            (
                "an upper-case signature",
                Some(bearer(
                    &URL_SAFE_NO_PAD
                        .encode(format!("gw-1:0:{}", token_signature("gw-1", 0, &s3cret).to_uppercase())),
                )),
                unauthorized.clone(),
            ),
            ("a truncated token", Some(bearer(&valid[..valid.len() - 4])), unauthorized.clone()),
            (
                "forged with another secret",
                Some(bearer(&mint_token("gw-1", now() + 300, &secret("guess")))),
                unauthorized.clone(),
            ),
            (
                "expired",
                Some(bearer(&mint_token("gw-1", now() - 60, &s3cret))),
                Some((4401, "expired".to_owned())),
            ),
            (
                "expired and forged",
                Some(bearer(&mint_token("gw-1", now() - 60, &secret("guess")))),
                unauthorized.clone(),
            ),
            (
                "exp beyond the maximum lifetime",
                Some(bearer(&mint_token("gw-1", now() + 7200, &s3cret))),
                unauthorized.clone(),
            ),
            (
                "exp 0 while a maximum lifetime is configured",
                Some(bearer(&mint_token("gw-1", 0, &s3cret))),
                unauthorized.clone(),
            ),
            (
                "signature differing in its first byte",
                Some(bearer(&tamper(&valid, true))),
                unauthorized.clone(),
            ),
            (
                "signature differing in its last byte",
                Some(bearer(&tamper(&valid, false))),
                unauthorized.clone(),
            ),
            (
                "another gateway's signature",
                Some(bearer(&URL_SAFE_NO_PAD.encode(format!("gw-1:{}:{sig_b}", now() + 300)))),
                unauthorized.clone(),
            ),
            ("a valid token", Some(bearer(&valid)), None),
            ("a padded token with a lower-case scheme", Some(format!("bearer {unpadded_ok}")), None),
        ];
        let mut problems = Vec::new();
        for (name, authorization, expected) in &cases {
            let got = upgrade_with(&url, authorization.as_deref()).await;
            if got != *expected {
                problems.push(format!("{name}: expected {expected:?}, got {got:?}"));
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
        // The server reported each refusal as such, and never as a connection.
        let refused = cases.iter().filter(|c| c.2.is_some()).count();
        let accepted = cases.len() - refused;
        let (mut rejected, mut connected) = (0, 0);
        while rejected < refused || connected < accepted {
            expect_on(&mut events, "the server's account", |e| {
                match e {
                    ServerEvent::Closed { reason: CloseReason::Rejected(_), .. } => rejected += 1,
                    ServerEvent::Connected { gateway_id, .. } => {
                        assert_eq!(gateway_id.as_deref(), Some("gw-1"));
                        connected += 1;
                    }
                    _ => {}
                }
                Some(())
            })
            .await;
        }
        assert_eq!((rejected, connected), (refused, accepted));
    });
}

#[test]
fn a_rotated_secret_list_accepts_old_and_new_and_rotation_at_runtime_takes_effect() {
    run(Duration::from_secs(20), async {
        let verifier = TokenVerifier::new([secret("old-secret"), secret("new-secret")]);
        let config =
            ServerConfig { connector: ConnectorConfig::with_verifier(verifier), ..ServerConfig::default() };
        let (server, _events) = auto_server(config).await;
        let url = server.url();
        let with = |s: &str| format!("Bearer {}", mint_token("gw-r", now() + 300, &secret(s)));
        assert_eq!(
            upgrade_with(&url, Some(&with("old-secret"))).await,
            None,
            "the old secret still verifies"
        );
        assert_eq!(upgrade_with(&url, Some(&with("new-secret"))).await, None, "the new secret verifies");
        let refused = Some((4401, "unauthorized".to_owned()));
        assert_eq!(upgrade_with(&url, Some(&with("older-secret"))).await, refused);
        // The rotation completes: the old secret is dropped without a restart.
        server.set_verifier(TokenVerifier::new([secret("new-secret")]));
        assert_eq!(upgrade_with(&url, Some(&with("old-secret"))).await, refused);
        assert_eq!(upgrade_with(&url, Some(&with("new-secret"))).await, None);
    });
}

#[test]
fn token_verification_takes_the_constant_time_path() {
    // The signature is checked by hmac's `verify_slice` (constant time), and
    // every configured secret is tried (no early exit revealing which one
    // matched). Timing itself is not asserted, per the project rules.
    let token_rs = include_str!("../../core/src/policy/token.rs");
    let signed_by = token_rs.split("fn signed_by").nth(1).expect("signed_by exists");
    let body = &signed_by[..signed_by.find("\n    }\n").expect("its end")];
    assert!(body.contains(".verify_slice(&self.signature)"), "{body}");
    assert!(!body.contains("=="), "no plain comparison: {body}");
    let verifier_rs = include_str!("../../core/src/policy/verifier.rs");
    assert!(verifier_rs.contains("fold(false, |found, secret| token.signed_by(secret) | found)"));
    // And the behaviour: a signature off by its first or last byte fails.
    let verifier = TokenVerifier::new([secret("k")]);
    let token = mint_token("gw", 0, &secret("k"));
    assert!(verifier.verify(&token, 5).is_ok());
    for first in [true, false] {
        assert_eq!(verifier.verify(&tamper(&token, first), 5), Err(TokenRejection::Unauthorized));
    }
}

/// Every outbound action, with every optional field filled.
fn every_action() -> Vec<OutboundAction> {
    let metadata: serde_json::Map<String, Value> =
        serde_json::from_str(r#"{"thread_id":"t","nested":{"deeper":[{"x":1}]}}"#).unwrap();
    let option = PromptOption {
        id: "yes".into(),
        label: "Yes".into(),
        style: Some("primary".into()),
        ..Default::default()
    };
    vec![
        OutboundAction::Send(SendMessage {
            reply_to: Some("m0".into()),
            metadata: metadata.clone(),
            ..SendMessage::new("c", "hi")
        }),
        OutboundAction::Edit(EditMessage {
            chat_id: "c".into(),
            message_id: "m".into(),
            content: "x".into(),
            metadata: Some(metadata.clone()),
            ..Default::default()
        }),
        OutboundAction::Typing(Typing {
            chat_id: "c".into(),
            content: Some(String::new()),
            metadata: Some(metadata.clone()),
            ..Default::default()
        }),
        OutboundAction::FollowUp(FollowUp {
            session_key: "agent:main:discord:group:c:u".into(),
            kind: "interaction".into(),
            content: "done".into(),
            metadata: metadata.clone(),
            ..Default::default()
        }),
        OutboundAction::GetChatInfo(GetChatInfo { chat_id: "c".into(), ..Default::default() }),
        OutboundAction::SendMedia(SendMedia {
            chat_id: "c".into(),
            media_kind: MediaKind::Image,
            source_url: "https://x/y.png".into(),
            content: Some("cap".into()),
            filename: Some("y.png".into()),
            reply_to: Some("m".into()),
            metadata: Some(metadata.clone()),
            extra: Default::default(),
        }),
        OutboundAction::Prompt(Prompt {
            chat_id: "c".into(),
            prompt_kind: PromptKind::Approval,
            prompt_id: "p".into(),
            content: "ok?".into(),
            options: vec![option],
            timeout_s: Some(30.0),
            reply_to: Some("m".into()),
            metadata: Some(metadata.clone()),
            extra: Default::default(),
        }),
        OutboundAction::React(React {
            chat_id: "c".into(),
            message_id: "m".into(),
            emoji: "👍".into(),
            remove: Some(true),
            metadata: Some(metadata.clone()),
            ..Default::default()
        }),
        OutboundAction::ThreadCreate(ThreadCreate {
            chat_id: "c".into(),
            thread_name: "t".into(),
            message_id: Some("m".into()),
            metadata: Some(metadata.clone()),
            ..Default::default()
        }),
        OutboundAction::ThreadRename(ThreadRename {
            chat_id: "c".into(),
            message_id: "m".into(),
            thread_name: "t".into(),
            only_if_current_name: Some("s".into()),
            metadata: Some(metadata.clone()),
            ..Default::default()
        }),
        OutboundAction::Draft(Draft {
            chat_id: "c".into(),
            draft_id: 7,
            content: "d".into(),
            r#final: true,
            metadata,
            ..Default::default()
        }),
        OutboundAction::Other(RawAction {
            op: "pin".into(),
            fields: serde_json::from_str(r#"{"chat_id":"c"}"#).unwrap(),
        }),
    ]
}

const CREDENTIAL_WORDS: [&str; 8] =
    ["token", "secret", "credential", "authorization", "password", "api_key", "apikey", "bearer"];

/// Every key at any depth of `value` that names a credential.
fn credential_keys(value: &Value, path: &str, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                let lower = key.to_lowercase().replace('-', "_");
                if CREDENTIAL_WORDS.iter().any(|w| lower.contains(w)) {
                    found.push(format!("{path}.{key}"));
                }
                credential_keys(inner, &format!("{path}.{key}"), found);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| credential_keys(v, path, found)),
        _ => {}
    }
}

#[test]
fn no_outbound_action_carries_a_credential_field() {
    let actions = every_action();
    let ops: Vec<&str> = actions.iter().map(OutboundAction::op).collect();
    assert!(ops.contains(&"follow_up") && ops.len() == 12, "every variant: {ops:?}");
    for action in &actions {
        let frame = relay_core::wire::Frame::Outbound(relay_core::wire::Outbound {
            request_id: "0".repeat(32),
            action: action.clone(),
            platform: Some("discord".into()),
            bot_id: Some("b".into()),
            extra: Default::default(),
        });
        let value: Value = serde_json::from_str(&frame.encode_line()).unwrap();
        let mut found = Vec::new();
        credential_keys(&value, "", &mut found);
        assert!(found.is_empty(), "{}: {found:?}", action.op());
    }
    // The follow_up a gateway builds names a session and a kind, nothing more.
    let follow_up = serde_json::to_value(OutboundAction::FollowUp(FollowUp::default())).unwrap();
    let keys: Vec<&String> = follow_up.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["content", "kind", "metadata", "op", "session_key"]);
}

#[test]
fn a_follow_up_on_the_wire_carries_no_credential() {
    run(Duration::from_secs(10), async {
        let server = rawpeer::RawServer::bind().await;
        let config = relay_driver::ClientConfig::default().with_auth("gw-f", secret("follow-up-secret"));
        let (gw, mut ws) = rawpeer::connect_ready(&server, config).await;
        let client = gw.client.clone();
        let call = tokio::spawn(async move {
            client.follow_up("agent:main:slack:group:T:C:U", "interaction", "done").await
        });
        let (id, frame) = rawpeer::next_request(&mut ws).await;
        let mut found = Vec::new();
        credential_keys(&frame, "", &mut found);
        assert!(found.is_empty(), "{frame}: {found:?}");
        assert!(!frame.to_string().contains("follow-up-secret"));
        assert_eq!(frame["action"]["op"], "follow_up");
        send_text(&mut ws, &rawpeer::result_line(&id, "f1")).await;
        assert!(rawpeer::within("the follow_up", call).await.unwrap().is_ok());
        gw.client.close().await;
    });
}

#[test]
fn every_crate_forbids_unsafe_code() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let manifest = std::fs::read_to_string(format!("{root}/Cargo.toml")).unwrap();
    let lints = manifest
        .split("[workspace.lints.rust]")
        .nth(1)
        .expect("workspace lints")
        .split("\n[")
        .next()
        .unwrap();
    assert!(lints.lines().any(|l| l.replace(' ', "") == "unsafe_code=\"forbid\""), "{lints}");
    let members = manifest.split("members = [").nth(1).unwrap().split(']').next().unwrap();
    let members: Vec<&str> =
        members.split(',').map(|m| m.trim().trim_matches('"')).filter(|m| !m.is_empty()).collect();
    assert!(members.len() >= 6, "{members:?}");
    let (attribute, block, function, implementation, allow) = (
        format!("#![forbid({}_code)]", "unsafe"),
        format!("{} {{", "unsafe"),
        format!("{} fn ", "unsafe"),
        format!("{} impl", "unsafe"),
        format!("allow({}_code)", "unsafe"),
    );
    for member in members {
        let dir = format!("{root}/{member}");
        let crate_manifest = std::fs::read_to_string(format!("{dir}/Cargo.toml")).unwrap();
        let inherits = crate_manifest.split("[lints]").nth(1).is_some_and(|rest| {
            rest.lines()
                .skip(1)
                .take_while(|l| !l.starts_with('['))
                .any(|l| l.replace(' ', "") == "workspace=true")
        });
        let roots = ["src/lib.rs", "src/main.rs"]
            .map(|r| std::fs::read_to_string(format!("{dir}/{r}")).unwrap_or_default());
        let attributed = roots.iter().any(|r| r.contains(&attribute));
        assert!(
            inherits || attributed,
            "{member} neither inherits the workspace lints nor forbids unsafe code"
        );
        for file in rust_files(std::path::Path::new(&dir)) {
            let text = std::fs::read_to_string(&file).unwrap();
            for pattern in [&block, &function, &implementation, &allow] {
                assert!(!text.contains(pattern.as_str()), "{} contains `{pattern}`", file.display());
            }
        }
    }
}

fn rust_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if path.is_dir() && name != "target" && name != "python" {
            found.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
    found
}
