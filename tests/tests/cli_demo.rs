//! `relay demo --json` plays every stage of the scripted session, on both runtimes.

mod common;

use serde_json::Value;

const STAGES: [&str; 11] = [
    "listening",
    "handshake",
    "inbound",
    "reply",
    "edit",
    "follow_up",
    "interrupt",
    "passthrough",
    "idle",
    "reconnect",
    "summary",
];

fn play(runtime: &str) -> Vec<Value> {
    let (out, err, code) = common::run(&["demo", "--json", "--runtime", runtime], "");
    assert_eq!(code, 0, "demo failed on {runtime}: {err}");
    out.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"))).collect()
}

fn check(runtime: &str) {
    let lines = play(runtime);
    let stages: Vec<&str> = lines.iter().map(|l| l["stage"].as_str().unwrap()).collect();
    for stage in STAGES {
        assert!(stages.contains(&stage), "stage {stage} missing on {runtime}: {stages:?}");
    }
    assert_eq!(stages.iter().filter(|s| **s == "handshake").count(), 2, "one per identity");
    let summary = lines.last().unwrap();
    assert_eq!(summary["stage"], "summary");
    assert_eq!((summary["replayed"].as_u64(), summary["duplicates"].as_u64()), (Some(3), Some(0)));
    assert_eq!(summary["requests"].as_u64(), Some(5));
    let passthrough = lines.iter().find(|l| l["stage"] == "passthrough").unwrap();
    assert_eq!(passthrough["exact"], true);
    assert_eq!(passthrough["converted"], "/ask tides today");
    let follow_up = lines.iter().find(|l| l["stage"] == "follow_up").unwrap();
    assert_eq!(follow_up["fields"], "content, kind, metadata, op, session_key");
    let reconnect = lines.iter().find(|l| l["stage"] == "reconnect").unwrap();
    assert_eq!(reconnect["backlog_left"], 0);
}

#[test]
fn demo_plays_every_stage_on_tokio() {
    check("tokio");
}

#[test]
fn demo_plays_every_stage_on_smol() {
    check("smol");
}
