//! `relay conform gateway` against gateways: every conforming one passes
//! every check (the relay CLI, the library client on both runtimes, the
//! Python gateway), and each deliberately broken one fails exactly the
//! check named for its defect. Loopback only; every run is bounded.

mod cli_net;
mod common;
#[path = "conform_gateway/drivers.rs"]
mod drivers;
#[path = "conform_gateway/fake.rs"]
mod fake;
mod interop;
#[path = "conform_gateway/kit.rs"]
mod kit;
mod support;

use std::time::{Duration, Instant};

use fake::{Auth, Defect};
use kit::{Kit, RUN_LIMIT};

/// The checks that skip against a conforming gateway no one shuts down.
const ALWAYS_SKIPPED: [&str; 1] = ["going_idle_on_close"];

/// The flags of a strict run.
const STRICT: [&str; 2] = ["--expect-requests", "--expect-acks"];

#[test]
fn relay_dial_passes_every_check() {
    let (kit, started) = Kit::start(&STRICT);
    drivers::relay_dial(&kit.url, false);
    kit.finish(started).assert_passes(&ALWAYS_SKIPPED, "relay dial");
}

#[test]
fn relay_dial_with_upgrade_auth_passes_every_check() {
    let (kit, started) = Kit::start(&["--expect-requests", "--expect-acks", "--secret", drivers::SECRET]);
    drivers::relay_dial(&kit.url, true);
    let report = kit.finish(started);
    report.assert_passes(&ALWAYS_SKIPPED, "relay dial with auth");
    assert!(report.checks["upgrade_token"].1.contains("verifies"), "{:?}", report.checks["upgrade_token"]);
}

#[test]
fn relay_dial_without_reconnect_fails_the_ladder_and_reaches_no_4401() {
    let (kit, started) = Kit::start(&STRICT);
    drivers::relay_dial_with(&kit.url, &["--no-reconnect"], "lost");
    let report = kit.finish(started);
    assert_eq!(report.with("fail"), ["redial_ladder"], "{}", report.stdout);
    assert_eq!(
        report.with("skip"),
        ["expired_4401", "going_idle_on_close", "revoked_4401"],
        "{}",
        report.stdout
    );
    let (_, detail) = &report.checks["redial_ladder"];
    assert_eq!(detail, "the gateway did not dial again within 5 s after drop 1.");
    assert!(report.checks["revoked_4401"].1.starts_with("not reached: the gateway did not dial again"));
    assert_eq!(report.code, 1);
}

#[test]
fn library_client_on_tokio_passes_every_check() {
    let (kit, started) = Kit::start(&["--expect-requests", "--expect-acks", "--secret", drivers::SECRET]);
    drivers::library("tokio", &kit.url, true);
    kit.finish(started).assert_passes(&ALWAYS_SKIPPED, "the tokio client");
}

#[test]
fn library_client_on_smol_passes_every_check() {
    let (kit, started) = Kit::start(&STRICT);
    drivers::library("smol", &kit.url, false);
    kit.finish(started).assert_passes(&ALWAYS_SKIPPED, "the smol client");
}

#[test]
fn python_gateway_passes_every_check() {
    let (kit, started) = Kit::start(&["--expect-requests", "--expect-acks", "--secret", drivers::SECRET]);
    let gateway = drivers::python(&kit.url, true);
    let report = kit.finish(started);
    drivers::python_report(gateway);
    report.assert_passes(&ALWAYS_SKIPPED, "the Python gateway");
    assert!(report.checks["hello_shape"].1.contains("discord:py-1, telegram:py-2"), "{:?}", report.checks);
}

/// Runs the fake with `defect` (auth on) under a strict kit.
fn run_fake(defect: Defect) -> kit::Report {
    let (kit, started) = Kit::start(&["--expect-requests", "--expect-acks", "--secret", "fake-secret"]);
    let auth = Auth { gateway_id: "gw-fake".into(), secret: "fake-secret".into() };
    let url = kit.url.clone();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    let gateway = std::thread::spawn(move || {
        rt.block_on(async move {
            let _ = tokio::time::timeout(RUN_LIMIT, fake::run(url, defect, Some(auth))).await;
        });
    });
    let report = kit.finish(started);
    gateway.join().expect("the fake gateway ran");
    report
}

#[test]
fn the_defect_free_fake_passes_every_check() {
    run_fake(Defect::None).assert_passes(&ALWAYS_SKIPPED, "the defect-free fake");
}

#[test]
fn each_defect_fails_exactly_its_check() {
    let table: [(Defect, &str); 11] = [
        (Defect::ReusesRequestId, "request_ids_unique"),
        (Defect::NoBackoff, "redial_ladder"),
        (Defect::IgnoresRevocation, "revoked_4401"),
        (Defect::RequestBeforeDescriptor, "requests_held"),
        (Defect::ClosesOnUnknownType, "pushes_tolerated"),
        (Defect::DuplicateHello, "hello_shape"),
        (Defect::NeverAcks, "buffered_acked"),
        (Defect::ReusesToken, "upgrade_token"),
        (Defect::AcksLiveFrames, "buffered_acked"),
        (Defect::ExpiredAsStrike, "expired_4401"),
        (Defect::UnauthorizedAsDrop, "revoked_4401"),
    ];
    // All at once: each run mostly waits on the ladder.
    let runs: Vec<_> = table
        .into_iter()
        .map(|(defect, check)| (defect, check, std::thread::spawn(move || run_fake(defect))))
        .collect();
    for (defect, check, run) in runs {
        let report = run.join().expect("the run completed");
        assert_eq!(report.with("fail"), [check], "{defect:?}:\n{}", report.stdout);
        assert_eq!(report.code, 1, "{defect:?}");
    }
}

#[test]
fn no_gateway_dialling_fails_every_check_within_the_budget() {
    common::relay_path();
    let started = Instant::now();
    let (stdout, _, code) = common::run(&["conform", "gateway", "--listen", "127.0.0.1:0", "--json"], "");
    assert!(started.elapsed() < RUN_LIMIT, "{:?}", started.elapsed());
    assert_eq!(code, 1, "{stdout}");
    let lines: Vec<serde_json::Value> =
        stdout.lines().map(|l| serde_json::from_str(l).expect("JSON")).collect();
    assert_eq!(lines.len(), 13, "{stdout}");
    for check in &lines[1..12] {
        assert_eq!(check["outcome"], "fail", "{check}");
        assert!(
            check["detail"].as_str().is_some_and(|d| d.contains("no gateway dialled ws://127.0.0.1:")),
            "{check}"
        );
    }
    assert_eq!(lines[12]["summary"]["fail"], 11);
}

#[test]
fn a_hostile_gateway_gets_verdicts_not_a_crash() {
    let (kit, started) = Kit::start(&[]);
    let url = kit.url.clone();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    rt.block_on(async move {
        use async_tungstenite::tungstenite::Message;
        use futures::StreamExt as _;
        let (mut ws, _) = async_tungstenite::tokio::connect_async(url.as_str()).await.expect("the kit accepts");
        let garbage = [
            Message::binary(vec![0xff, 0xfe, b'\n', 0xc3]),
            Message::text("x".repeat(3 << 20)),
            Message::text("\n{\"type\":\"hello\",\"platform\":7}\n[]\n"),
            Message::text("{\"type\":\"outbound\",\"requestId\":null}\n{\"type\":\"hello\",\"platform\":\"relay\",\"botId\":\"\"}\n"),
        ];
        for message in garbage {
            ws.send(message).await.expect("the kit reads");
        }
        let _ = tokio::time::timeout(Duration::from_secs(2), ws.next()).await;
    });
    let report = kit.finish(started);
    assert_eq!(report.checks.len(), 11, "{}", report.stdout);
    assert_eq!(report.code, 1, "{}", report.stdout);
    assert_eq!(report.checks["hello_shape"].0, "fail", "{}", report.stdout);
}

#[test]
fn usage_problems_exit_2() {
    let bad: [&[&str]; 6] = [
        &["conform", "gateway"],
        &["conform", "gateway", "--listen", "not an address"],
        &["conform", "gateway", "--listen", "127.0.0.1:0", "--only", "nonesuch"],
        &["conform", "gateway", "--listen", "127.0.0.1:0", "--wait-secs", "0"],
        &["conform", "gateway", "--listen", "127.0.0.1:0", "--wait-secs", "31"],
        &["conform", "gateway", "--listen", "127.0.0.1:0", "--secret", " "],
    ];
    common::relay_path(); // built before the clock starts
    for args in bad {
        let started = Instant::now();
        let (stdout, stderr, code) = common::run(args, "");
        assert_eq!((code, stdout.as_str()), (2, ""), "{args:?}: {stderr}");
        assert!(stderr.contains("error"), "{args:?}: {stderr}");
        assert!(started.elapsed() < Duration::from_secs(10), "{args:?}");
    }
}

#[test]
fn list_prints_every_check_without_listening() {
    let (stdout, _, code) = common::run(&["conform", "gateway", "--list", "--json"], "");
    assert_eq!(code, 0);
    let names: Vec<String> = stdout
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).expect("JSON")["check"]
                .as_str()
                .expect("a name")
                .to_owned()
        })
        .collect();
    assert_eq!(
        names,
        [
            "upgrade_token",
            "hello_shape",
            "requests_held",
            "request_ids_unique",
            "results_ignored",
            "pushes_tolerated",
            "buffered_acked",
            "redial_ladder",
            "expired_4401",
            "revoked_4401",
            "going_idle_on_close",
        ]
    );
}
