//! `--metrics` on `relay serve` and `relay dial`: Prometheus text on
//! `/metrics` whose counters move by exactly the traffic sent, and
//! `/healthz`.

mod cli_net;
mod common;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::Duration;

use cli_net::{Serve, dial, dial_all};
use prometheus_parse::{Scrape, Value};
use serde_json::Value as Json;

const SEND: &str = r#"{"op":"send","chat_id":"c1","content":"hi"}"#;
const CHAT_INFO: &str = r#"{"op":"get_chat_info","chat_id":"c9"}"#;

/// `GET path` on the `http://host:port/metrics` URL's server: (status line, body).
fn get(metrics_url: &str, path: &str) -> (String, String) {
    let host = metrics_url.strip_prefix("http://").and_then(|rest| rest.strip_suffix("/metrics")).unwrap();
    let mut stream = TcpStream::connect(host).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    (head.lines().next().unwrap().to_owned(), body.to_owned())
}

/// The parsed exposition of a `/metrics` URL.
fn scrape(metrics_url: &str) -> Scrape {
    let (status, body) = get(metrics_url, "/metrics");
    assert_eq!(status, "HTTP/1.1 200 OK");
    Scrape::parse(body.lines().map(|l| Ok(l.to_owned()))).expect("Prometheus text")
}

/// The value of the counter `name` with exactly these labels (0 when absent).
fn counter(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    let found = scrape.samples.iter().find(|s| {
        s.metric == name
            && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v))
            && s.labels.len() == labels.len()
    });
    match found.map(|s| &s.value) {
        Some(Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v)) => *v,
        Some(other) => panic!("{name} is not a counter: {other:?}"),
        None => 0.0,
    }
}

#[test]
fn counters_move_by_exactly_the_traffic_sent() {
    let mut serve = Serve::start(&["--secret", "s3cret", "--metrics", "127.0.0.1:0"]);
    let serve_metrics = serve.run.seen[0].clone();
    let serve_metrics: Json = serde_json::from_str(&serve_metrics).unwrap();
    let serve_metrics =
        serve_metrics["metrics"].as_str().expect("the listening line names the metrics URL").to_owned();

    let mut gateway =
        dial(&[&serve.url, "--gateway-id", "gw", "--secret", "s3cret", "--metrics", "127.0.0.1:0"], &[]);
    let connected: Json = serde_json::from_str(&gateway.next_line("the connected line")).unwrap();
    let dial_metrics =
        connected["metrics"].as_str().expect("the connected line names the metrics URL").to_owned();
    for line in [SEND, SEND, SEND, CHAT_INFO] {
        gateway.send(line);
    }
    for n in 1..=4 {
        gateway.expect("a result", |v| v["line"] == n && v["result"]["success"] == true);
    }
    // A gateway with the wrong secret is refused (4401).
    let (_, _, code) = dial_all(
        &[&serve.url, "--gateway-id", "gw", "--secret", "wrong", "--connect-timeout-ms", "1000"],
        &[],
        &[],
    );
    assert_eq!(code, 1);
    serve.expect("rejected", |_| true);
    // Going idle, then two pushes that are buffered.
    gateway.send(r#"{"go_idle":true}"#);
    serve.expect("going_idle", |_| true);
    let push = r#"{"to":{"gateway_id":"gw"},"frame":{"type":"inbound","event":{"text":"x","source":{"platform":"relay","chat_id":"c1"}}}}"#;
    serve.run.send(push);
    serve.run.send(push);
    serve.expect("pushed", |v| v["line"] == 2 && v["delivery"] == "buffered");

    let g = scrape(&dial_metrics);
    let ok = |op| counter(&g, "relay_requests_total", &[("op", op), ("outcome", "ok")]);
    assert_eq!((ok("send"), ok("get_chat_info")), (3.0, 1.0));
    let frames = |s: &Scrape, side, direction, kind| {
        counter(s, "relay_frames_total", &[("side", side), ("direction", direction), ("type", kind)])
    };
    assert_eq!(frames(&g, "gateway", "out", "hello"), 1.0);
    assert_eq!(frames(&g, "gateway", "out", "outbound"), 4.0);
    assert_eq!(frames(&g, "gateway", "out", "going_idle"), 1.0);
    assert_eq!(frames(&g, "gateway", "in", "descriptor"), 1.0);
    assert_eq!(frames(&g, "gateway", "in", "outbound_result"), 4.0);
    assert_eq!(counter(&g, "relay_connections_opened_total", &[("side", "gateway")]), 1.0);
    assert_eq!(counter(&g, "relay_connections_open", &[("side", "gateway")]), 1.0);
    assert_eq!(counter(&g, "relay_handshakes_total", &[("side", "gateway")]), 1.0);

    let c = scrape(&serve_metrics);
    assert_eq!(frames(&c, "connector", "in", "outbound"), 4.0);
    assert_eq!(frames(&c, "connector", "out", "outbound_result"), 4.0);
    assert_eq!(frames(&c, "connector", "out", "going_idle_ack"), 1.0);
    // The refused gateway may have re-dialed within its budget (PROTOCOL §8):
    // every refusal is counted, each as one connection opened and closed.
    let refusals = serve.run.seen.iter().filter(|l| l.contains(r#""event":"rejected""#)).count() as f64;
    assert!(refusals >= 1.0);
    assert_eq!(counter(&c, "relay_upgrades_rejected_total", &[("reason", "unauthorized")]), refusals);
    assert_eq!(counter(&c, "relay_connections_opened_total", &[("side", "connector")]), 1.0 + refusals);
    assert_eq!(
        counter(&c, "relay_connections_closed_total", &[("side", "connector"), ("reason", "rejected")]),
        refusals
    );
    assert_eq!(counter(&c, "relay_connections_open", &[("side", "connector")]), 1.0);
    assert_eq!(counter(&c, "relay_handshakes_total", &[("side", "connector")]), 1.0);
    assert_eq!(counter(&c, "relay_backlog_buffered_total", &[]), 2.0);
    assert_eq!(counter(&c, "relay_backlog_entries", &[]), 2.0);
    assert!(c.samples.iter().any(|s| s.metric.starts_with("relay_store_operation_duration_seconds")));

    assert_eq!(get(&serve_metrics, "/healthz"), ("HTTP/1.1 200 OK".to_owned(), "ok\n".to_owned()));
    assert_eq!(get(&serve_metrics, "/nope").0, "HTTP/1.1 404 Not Found");
    let finished = gateway.finish();
    assert_eq!(finished.code, 0, "{}", finished.stderr);

    // The gateway comes back: both entries are replayed, and acked.
    let mut back = dial(&[&serve.url, "--gateway-id", "gw", "--secret", "s3cret"], &[]);
    let mut acked: Vec<String> = Vec::new();
    while acked.len() < 2 {
        let inbound = back.expect("a replayed entry", |v| {
            v["inbound"]["bufferId"].as_str().is_some_and(|id| !acked.iter().any(|a| a == id))
        });
        let id = inbound["inbound"]["bufferId"].as_str().unwrap().to_owned();
        back.send(&format!(r#"{{"ack":"{id}"}}"#));
        serve.expect("inbound_ack", |v| v["bufferId"] == id.as_str());
        acked.push(id);
    }
    let c = scrape(&serve_metrics);
    assert_eq!(counter(&c, "relay_backlog_replayed_total", &[]), 2.0);
    assert_eq!(counter(&c, "relay_backlog_acked_total", &[]), 2.0);
    // The removals follow the acks.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while counter(&scrape(&serve_metrics), "relay_backlog_entries", &[]) != 0.0 {
        assert!(std::time::Instant::now() < deadline, "the acked entries were not removed");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(back.finish().code, 0);
}

#[test]
fn a_bad_metrics_address_is_a_usage_error() {
    let (_, stderr, code) = common::run(&["serve", "--listen", "127.0.0.1:0", "--metrics", "nowhere"], "");
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.starts_with("error: --metrics \"nowhere\" is not an address"), "{stderr}");
}
