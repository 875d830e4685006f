//! `relay conform connector` (CLI.md): every check passes against the
//! connectors of this workspace and the Python reference-style one, each
//! broken fake connector fails exactly the check named for its defect, and
//! a run ends within 60 s even against a peer that never answers.

mod cli_net;
mod common;
#[path = "conform_connector/fake.rs"]
mod fake;
mod interop;
#[path = "conform_connector/peers.rs"]
mod peers;
mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use cli_net::Serve;
use fake::{Defect, Fake};
use serde_json::Value;
use support::Rt;

/// Longer than any run may take (CLI.md promises 60 s).
const RUN_LIMIT: Duration = Duration::from_secs(70);

/// The checks that need `--expect-pushes`.
const PUSH_CHECKS: [&str; 2] = ["pushes_live", "replay_after_idle"];
/// The checks that need `--gateway-id` and `--secret`.
const AUTH_CHECKS: [&str; 4] = ["auth_no_token", "auth_bad_signature", "auth_expired", "auth_good_token"];

/// One finished run: its verdict lines, summary and exit code.
#[derive(Debug)]
struct Run {
    verdicts: Vec<Value>,
    code: i32,
    stderr: String,
}

impl Run {
    /// The names of the checks with `outcome`.
    fn with(&self, outcome: &str) -> BTreeSet<String> {
        self.verdicts
            .iter()
            .filter(|v| v["outcome"] == outcome)
            .filter_map(|v| v["check"].as_str().map(str::to_owned))
            .collect()
    }

    /// Every verdict, one per line, for failure messages.
    fn table(&self) -> String {
        self.verdicts.iter().map(Value::to_string).collect::<Vec<_>>().join("\n")
    }
}

/// Runs `relay conform connector URL --json ARGS…`.
fn conform(url: &str, args: &[&str]) -> Run {
    let output = common::relay()
        .args(["conform", "connector", url, "--json"])
        .args(args)
        .timeout(RUN_LIMIT)
        .output()
        .expect("relay runs");
    let stdout = String::from_utf8(output.stdout).expect("stdout is UTF-8");
    let mut lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect();
    let summary = lines.pop().unwrap_or_else(|| panic!("no output at all; stderr: {:?}", output.stderr));
    let counts = |outcome: &str| lines.iter().filter(|v| v["outcome"] == outcome).count();
    assert_eq!(
        summary["summary"],
        serde_json::json!({"pass": counts("pass"), "fail": counts("fail"), "skip": counts("skip")}),
        "the summary counts the verdicts"
    );
    Run {
        verdicts: lines,
        code: output.status.code().expect("relay exited by itself"),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Asserts that nothing failed and exactly `skipped` were skipped.
fn assert_passes(run: &Run, skipped: &[&str]) {
    let skipped: BTreeSet<String> = skipped.iter().map(|s| (*s).to_owned()).collect();
    assert_eq!(run.with("fail"), BTreeSet::new(), "no check fails:\n{}", run.table());
    assert_eq!(run.with("skip"), skipped, "only the documented skips:\n{}", run.table());
    assert_eq!(run.code, 0, "{}", run.stderr);
}

/// The auth flags matching the fake's secret (and `relay serve --secret` in these tests).
fn auth_args() -> Vec<&'static str> {
    vec!["--gateway-id", "gw-conform", "--secret", fake::SECRET]
}

#[test]
fn relay_serve_passes_every_check_without_auth() {
    let serve = Serve::start(&[]);
    let run = conform(&serve.url, &[]);
    let mut skipped = PUSH_CHECKS.to_vec();
    skipped.extend(AUTH_CHECKS);
    assert_passes(&run, &skipped);
    assert_eq!(run.verdicts.len(), 17, "{}", run.table());
}

#[test]
fn relay_serve_passes_every_check_with_auth_pushes_and_two_identities() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let script = dir.path().join("pushes.jsonl");
    let inbound = |n: u32| {
        format!(
            r#"{{"type":"inbound","event":{{"text":"push {n}","message_id":"m{n}","source":{{"platform":"discord","chat_id":"c1"}}}}}}"#
        )
    };
    let lines = [
        inbound(1),
        r#"{"sleep_ms":600}"#.to_owned(),
        inbound(2),
        r#"{"sleep_ms":600}"#.to_owned(),
        inbound(3),
    ];
    std::fs::write(&script, lines.join("\n")).expect("write the script");
    let script = script.to_str().expect("a UTF-8 path");
    let serve = Serve::start(&["--secret", fake::SECRET, "--script", script]);
    let mut args = auth_args();
    args.extend(["--expect-pushes", "--identity", "discord:d1", "--identity", "telegram:t1"]);
    let run = conform(&serve.url, &args);
    assert_passes(&run, &[]);
    assert!(
        !run.table().contains(fake::SECRET) && !run.stderr.contains(fake::SECRET),
        "the secret is never printed"
    );
}

#[test]
fn relay_serve_over_wss_passes_with_a_given_ca_and_a_secret_file() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).expect("a certificate");
    let (cert_path, key_path, secret_path) =
        (dir.path().join("cert.pem"), dir.path().join("key.pem"), dir.path().join("secret"));
    std::fs::write(&cert_path, cert.cert.pem()).expect("write the certificate");
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).expect("write the key");
    std::fs::write(&secret_path, format!("\n{}\n", fake::SECRET)).expect("write the secret");
    let path = |p: &std::path::Path| p.to_str().expect("a UTF-8 path").to_owned();
    let serve = Serve::start(&[
        "--tls-cert",
        &path(&cert_path),
        "--tls-key",
        &path(&key_path),
        "--secret",
        fake::SECRET,
    ]);
    let url = serve.url.replace("127.0.0.1", "localhost");
    assert!(url.starts_with("wss://localhost:"), "{url}");
    let args = ["--ca", &path(&cert_path), "--gateway-id", "gw-tls", "--secret-file", &path(&secret_path)];
    assert_passes(&conform(&url, &args), &PUSH_CHECKS);
}

#[test]
fn a_library_connector_on_smol_passes_every_check() {
    let url = peers::library_connector(Rt::Smol, fake::SECRET);
    assert_passes(&conform(&url, &auth_args()), &PUSH_CHECKS);
}

#[test]
fn a_library_connector_on_tokio_passes_every_check() {
    let url = peers::library_connector(Rt::Tokio, fake::SECRET);
    assert_passes(&conform(&url, &auth_args()), &PUSH_CHECKS);
}

#[test]
fn the_python_reference_style_connector_passes_every_check() {
    let python = interop::python();
    let mut command = python.script("connector.py");
    command.args(["--serve", "--deadline", "120"]);
    let connector = interop::Proc::spawn("connector.py --serve", command);
    let listening =
        connector.json_line(Duration::from_secs(20), "the listening line", |v| v["event"] == "listening");
    let port = listening["port"].as_u64().expect("connector.py prints its port");
    // No path: the kit normalizes the URL as a gateway does.
    let run = conform(
        &format!("ws://127.0.0.1:{port}"),
        &["--identity", "discord:d1", "--identity", "telegram:t1"],
    );
    let mut skipped = PUSH_CHECKS.to_vec();
    skipped.extend(AUTH_CHECKS);
    assert_passes(&run, &skipped);
}

#[test]
fn each_broken_connector_fails_exactly_the_check_named_for_its_defect() {
    let catalogue = [
        (Defect::None, None),
        (Defect::AnswersTwice, Some("results_exactly_once")),
        (Defect::ClosesOnBadLine, Some("bad_lines_skipped")),
        (Defect::DescriptorLacksLabel, Some("descriptor_shape")),
        (Defect::NoIdleAck, Some("going_idle_ack")),
        (Defect::ListsOnlyExtensions, Some("supported_ops_complete")),
        (Defect::SilentOnUnlisted, Some("unlisted_op_answered")),
        (Defect::AnyPath, Some("upgrade_path")),
        (Defect::AcceptsNoToken, Some("auth_no_token")),
        (Defect::AcceptsBadSignature, Some("auth_bad_signature")),
        (Defect::AcceptsExpired, Some("auth_expired")),
        (Defect::OneFramePerMessage, Some("chunking_invariance")),
        (Defect::UnknownIdentitySucceeds, Some("unknown_identity")),
        (Defect::OneDescriptorForManyHellos, Some("descriptor_per_hello")),
    ];
    // The runs mostly wait on the network: a few at a time keeps the whole
    // catalogue well inside a minute without loading the machine.
    let mut misbehaved = Vec::new();
    for batch in catalogue.chunks(5) {
        let runs: Vec<_> = batch
            .iter()
            .map(|&(defect, expected)| {
                std::thread::spawn(move || {
                    let fake = Fake::start(defect);
                    let mut args = auth_args();
                    args.extend(["--identity", "relay:", "--identity", "telegram:t1"]);
                    (defect, expected, conform(&fake.url, &args))
                })
            })
            .collect();
        for run in runs {
            let (defect, expected, run) = run.join().expect("a catalogue run");
            let expected: BTreeSet<String> = expected.iter().map(|s| (*s).to_owned()).collect();
            let skipped: BTreeSet<String> = PUSH_CHECKS.iter().map(|s| (*s).to_owned()).collect();
            let exit = if expected.is_empty() { 0 } else { 1 };
            if run.with("fail") != expected || run.with("skip") != skipped || run.code != exit {
                misbehaved.push(format!("{defect:?}: expected to fail {expected:?}, got:\n{}", run.table()));
            }
        }
    }
    assert!(misbehaved.is_empty(), "{}", misbehaved.join("\n\n"));
}

#[test]
fn each_broken_backlog_fails_exactly_its_push_check() {
    let catalogue = [
        (Defect::None, None),
        (Defect::PushesCarryBufferId, Some("pushes_live")),
        (Defect::ForgetsBacklog, Some("replay_after_idle")),
        (Defect::ReplaysAckedFrames, Some("replay_after_idle")),
    ];
    let runs: Vec<_> = catalogue
        .iter()
        .map(|&(defect, expected)| {
            std::thread::spawn(move || {
                let fake = Fake::start_pushing(defect);
                let mut args = auth_args();
                args.push("--expect-pushes");
                (defect, expected, conform(&fake.url, &args))
            })
        })
        .collect();
    let mut misbehaved = Vec::new();
    for run in runs {
        let (defect, expected, run) = run.join().expect("a catalogue run");
        let expected: BTreeSet<String> = expected.iter().map(|s| (*s).to_owned()).collect();
        if run.with("fail") != expected || !run.with("skip").is_empty() {
            misbehaved.push(format!("{defect:?}: expected to fail {expected:?}, got:\n{}", run.table()));
        }
        for verdict in run.verdicts.iter().filter(|v| v["outcome"] == "fail") {
            eprintln!("{defect:?}: {} {}", verdict["check"], verdict["detail"]);
        }
    }
    assert!(misbehaved.is_empty(), "{}", misbehaved.join("\n\n"));
}

#[test]
fn a_failing_check_names_what_departed() {
    let fake = Fake::start(Defect::DescriptorLacksLabel);
    let mut args = auth_args();
    args.extend(["--only", "descriptor_shape"]);
    let run = conform(&fake.url, &args);
    assert_eq!(run.code, 1);
    assert_eq!(run.verdicts.len(), 1, "{}", run.table());
    assert_eq!(run.verdicts[0]["detail"], "descriptor 1 lacks `label`");
    let fake = Fake::start(Defect::AnswersTwice);
    let mut args = auth_args();
    args.extend(["--only", "results_exactly_once"]);
    let run = conform(&fake.url, &args);
    let detail = run.verdicts[0]["detail"].as_str().unwrap_or_default();
    assert!(detail.starts_with("request 1 (`") && detail.ends_with("was answered 2 times"), "{detail}");
}

#[test]
fn a_silent_peer_fails_every_check_within_a_minute() {
    let (_listener, url) = peers::silent_peer();
    fails_every_check_within_a_minute(&url);
}

#[test]
fn a_peer_that_upgrades_and_then_stays_mute_fails_every_check_within_a_minute() {
    let (_listener, url) = peers::mute_peer();
    fails_every_check_within_a_minute(&url);
}

/// A run with every check asked for against a peer at `url` that never
/// answers: each check fails, exit 1, all within the minute the kit promises.
fn fails_every_check_within_a_minute(url: &str) {
    // Built before the clock starts: the first use of the binary may build it.
    common::relay_path();
    let started = Instant::now();
    let mut args = auth_args();
    args.push("--expect-pushes");
    let run = conform(url, &args);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(60), "the run took {took:?}");
    assert_eq!(run.code, 1);
    assert_eq!(run.verdicts.len(), 17, "{}", run.table());
    assert_eq!(run.with("fail").len(), 17, "{}", run.table());
}

#[test]
fn a_port_where_nothing_listens_fails_fast_with_the_dial_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
    let url = format!("ws://{}/relay", listener.local_addr().expect("a bound address"));
    drop(listener);
    let started = Instant::now();
    let run = conform(&url, &[]);
    assert!(started.elapsed() < Duration::from_secs(20), "took {:?}", started.elapsed());
    assert_eq!(run.code, 1);
    let detail =
        run.verdicts.iter().find(|v| v["check"] == "upgrade_path").expect("upgrade_path ran")["detail"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
    assert!(detail.starts_with("could not connect to ws://127.0.0.1:"), "{detail}");
}

#[test]
fn usage_problems_exit_2_with_one_sentence() {
    let cases: [&[&str]; 7] = [
        &["conform", "connector", "ftp://127.0.0.1:1"],
        &["conform", "connector", "ws://127.0.0.1:1", "--identity", ":bot"],
        &["conform", "connector", "ws://127.0.0.1:1", "--gateway-id", "gw"],
        &["conform", "connector", "ws://127.0.0.1:1", "--gateway-id", "gw", "--secret", "  "],
        &[
            "conform",
            "connector",
            "ws://127.0.0.1:1",
            "--gateway-id",
            "gw",
            "--secret-file",
            "/nonexistent/secret",
        ],
        &["conform", "connector", "ws://127.0.0.1:1", "--ca", "/nonexistent/ca.pem"],
        &["conform", "connector", "ws://127.0.0.1:1", "--only", "descriptor_shape,no_such_check"],
    ];
    for args in cases {
        let (stdout, stderr, code) = common::run(args, "");
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert_eq!(stdout, "", "{args:?}");
        assert!(stderr.starts_with("error: ") && stderr.trim().lines().count() == 1, "{args:?}: {stderr}");
    }
    let (_, stderr, _) = common::run(cases[6], "");
    assert!(stderr.contains("\"no_such_check\"") && stderr.contains("chunking_invariance"), "{stderr}");
}

#[test]
fn list_prints_every_check_without_running_any() {
    let (stdout, _, code) =
        common::run(&["conform", "connector", "ws://127.0.0.1:1", "--list", "--json"], "");
    assert_eq!(code, 0);
    let names: Vec<String> = stdout
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).expect("JSON")["check"].as_str().unwrap_or_default().to_owned()
        })
        .collect();
    let mut expected: Vec<&str> = PUSH_CHECKS.to_vec();
    expected.push("upgrade_path");
    expected.extend(AUTH_CHECKS);
    expected.extend([
        "descriptor_per_hello",
        "descriptor_shape",
        "supported_ops_complete",
        "unlisted_op_answered",
        "results_exactly_once",
        "unknown_identity",
        "going_idle_ack",
        "chunking_invariance",
        "bad_lines_skipped",
        "keepalive_ping",
    ]);
    assert_eq!(names, expected);
}
