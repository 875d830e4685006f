//! `relay bench` runs every measurement on both runtimes and reports each one
//! with the documented JSON fields. Figures are checked for shape and sanity
//! only (positive, ordered percentiles): timing is never asserted.

mod common;

use serde_json::Value;

fn bench(args: &[&str]) -> Vec<Value> {
    let mut all = vec!["bench", "--json"];
    all.extend_from_slice(args);
    let (out, err, code) = common::run(&all, "");
    assert_eq!(code, 0, "relay bench failed: {err}");
    out.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"))).collect()
}

fn positive(m: &Value, field: &str) -> f64 {
    let v = m[field].as_f64().unwrap_or_else(|| panic!("{field} missing in {m}"));
    assert!(v > 0.0, "{field} is not positive in {m}");
    v
}

#[test]
fn load_measurements_on_both_runtimes_beside_the_raw_baseline() {
    let lines = bench(&[
        "--runtime",
        "tokio,smol",
        "--concurrency",
        "1,16",
        "--duration",
        // Long enough that a loaded machine's scheduling stall does not
        // leave a window without a frame.
        "0.6",
        "--baseline",
        "raw",
    ]);
    // Per runtime: 2 concurrencies × (relay, raw) + inbound × (relay, raw).
    assert_eq!(lines.len(), 12, "{lines:?}");
    for runtime in ["tokio", "smol"] {
        for imp in ["relay", "raw"] {
            for c in [1, 16] {
                let m = lines
                    .iter()
                    .find(|m| {
                        m["kind"] == "round_trips"
                            && m["impl"] == imp
                            && m["runtime"] == runtime
                            && m["concurrency"] == c
                    })
                    .unwrap_or_else(|| panic!("no round_trips {imp} {runtime} c={c}"));
                positive(m, "round_trips_per_s");
                let (p50, p90, p99, max) = (
                    positive(m, "p50_us"),
                    positive(m, "p90_us"),
                    positive(m, "p99_us"),
                    positive(m, "max_us"),
                );
                assert!(p50 <= p90 && p90 <= p99 && p99 <= max, "{m}");
                positive(m, "rss_kib");
                positive(m, "connector_rss_kib");
            }
            let m = lines
                .iter()
                .find(|m| m["kind"] == "inbound" && m["impl"] == imp && m["runtime"] == runtime)
                .unwrap_or_else(|| panic!("no inbound {imp} {runtime}"));
            let (frames, mb) = (positive(m, "frames_per_s"), positive(m, "mb_per_s"));
            // The corpus frames are 300 B to 4 KB.
            let mean = mb * 1e6 / frames;
            assert!((300.0..=4096.0).contains(&mean), "mean frame {mean} B in {m}");
        }
    }
}

#[test]
fn idle_connections_are_held_by_a_child_and_measured_at_the_connector() {
    let lines = bench(&["--connections", "200", "--skip-load"]);
    assert_eq!(lines.len(), 1, "{lines:?}");
    let m = &lines[0];
    assert_eq!((m["kind"].as_str(), m["impl"].as_str()), (Some("idle_connections"), Some("relay")));
    assert_eq!(m["connections"], 200);
    positive(m, "rss_kib");
    positive(m, "client_rss_kib");
    assert!(m["rss_per_connection_kib"].as_f64().is_some(), "{m}");
}

#[test]
fn bad_arguments_are_usage_errors() {
    for args in [
        &["bench", "--concurrency", "0"][..],
        &["bench", "--duration", "0"],
        &["bench", "--runs", "0"],
        &["bench", "--gateways", "0"],
    ] {
        let (_, err, code) = common::run(args, "");
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains("must be positive"), "{err}");
    }
}

#[test]
fn runs_report_one_median_per_measurement() {
    let lines = bench(&["--measure", "inbound", "--runs", "3", "--duration", "0.2", "--baseline", "raw"]);
    assert_eq!(lines.len(), 2, "{lines:?}");
    for (m, imp) in lines.iter().zip(["relay", "raw"]) {
        assert_eq!(
            (m["kind"].as_str(), m["impl"].as_str(), m["runs"].as_u64()),
            (Some("inbound"), Some(imp), Some(3))
        );
        positive(m, "frames_per_s");
    }
}

#[test]
fn many_gateways_and_cpu_per_op_beside_the_baseline() {
    let lines = bench(&[
        "--gateways",
        "20",
        "--concurrency",
        "2",
        "--measure",
        "round-trips",
        "--duration",
        "0.6",
        "--baseline",
        "raw",
        "--cpu",
    ]);
    assert_eq!(lines.len(), 2, "{lines:?}");
    for imp in ["relay", "raw"] {
        let m = lines.iter().find(|m| m["impl"] == imp).unwrap_or_else(|| panic!("no {imp} in {lines:?}"));
        assert_eq!((m["gateways"].as_u64(), m["concurrency"].as_u64()), (Some(20), Some(2)), "{m}");
        positive(m, "round_trips_per_s");
        // Both processes spent CPU on every round trip; a figure of a
        // millisecond or more per round trip would mean the sum went wrong.
        let cpu = positive(m, "cpu_us_per_op");
        assert!(cpu < 1000.0, "cpu_us_per_op {cpu} in {m}");
    }
    let inbound = bench(&["--measure", "inbound", "--duration", "0.6", "--cpu"]);
    assert_eq!(inbound.len(), 1, "{inbound:?}");
    positive(&inbound[0], "cpu_us_per_op");
    let without = bench(&["--measure", "inbound", "--duration", "0.3"]);
    assert!(without[0].get("cpu_us_per_op").is_none(), "cpu figures only with --cpu: {without:?}");
}
