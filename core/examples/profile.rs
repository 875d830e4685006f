//! A fixed workload for instruction-count profiling (`valgrind --tool=callgrind`),
//! which is repeatable where wall-clock benchmarks are noisy:
//!
//! ```text
//! cargo build --release -p relay-core --features bench --example profile
//! valgrind --tool=callgrind target/release/examples/profile decode 2000
//! ```
//!
//! Workloads: `setup` (generate the corpus only, to subtract), `small` (N
//! `outbound` + `outbound_result` pairs, no corpus), `decode`
//! (`Frame::decode` of N inbound lines), `decode-own` (the same events as
//! relay encodes them), `naive` and `borrowed` (the bench's
//! baseline decodes of the same lines), `value` (`serde_json::Value`),
//! `encode`, `cycle` (N request → result cycles; a third argument keeps that many in
//! flight), `replay`; `dump` prints the corpus.
//!
//! `compare N ROUNDS` times the decodes in interleaved rounds and prints each
//! one's median throughput and its median ratio to `Frame::decode` — a ratio
//! that holds on a machine whose load drifts between criterion's groups.

// A benchmark times wall-clock work and machines need a start instant: reading
// the clock is the point here, unlike in core, which takes `now` as an input.
#![allow(clippy::disallowed_methods)]

#[path = "../benches/support/baselines.rs"]
mod baselines;

use std::hint::black_box;
use std::time::{Duration, Instant};

use relay_core::bench::Generator;
use relay_core::gateway::{Action, GatewayConfig, RelayMachine};
use relay_core::wire::{Direction, Frame, OutboundAction, SendMessage};

fn main() {
    let mut args = std::env::args().skip(1);
    let what = args.next().unwrap_or_else(|| "decode".into());
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2000);
    // The cycle needs no corpus: generating one would dwarf it in the profile.
    let lines =
        if what == "cycle" || what == "small" { Vec::new() } else { Generator::new(1).inbound_corpus(n) };
    match what.as_str() {
        "setup" => {}
        // The two small frames of every request: what the connector and the gateway decode.
        "small" => {
            let outbound = br#"{"type":"outbound","requestId":"0123456789abcdef0123456789abcdef","action":{"op":"send","chat_id":"c1","content":"hi","reply_to":null,"metadata":{}}}"#;
            let result = br#"{"type":"outbound_result","requestId":"0123456789abcdef0123456789abcdef","result":{"success":true}}"#;
            for _ in 0..n {
                black_box(Frame::decode(black_box(outbound), Some(Direction::ToConnector)).unwrap());
                black_box(Frame::decode(black_box(result), Some(Direction::ToGateway)).unwrap());
            }
        }
        // The corpus itself, e.g. to time other parsers on the same bytes.
        "dump" => lines.iter().for_each(|l| print!("{l}")),
        "decode" => decode_all(&lines),
        // The same events as relay's connector writes them (what `relay bench` pushes).
        "decode-own" => {
            let own: Vec<String> = lines
                .iter()
                .map(|l| Frame::decode(l.trim_end().as_bytes(), None).unwrap().encode_line())
                .collect();
            decode_all(&own);
        }
        "naive" => {
            for l in &lines {
                black_box(serde_json::from_str::<baselines::naive::Inbound>(l).unwrap());
            }
        }
        "borrowed" => {
            for l in &lines {
                black_box(serde_json::from_str::<baselines::borrowed::Inbound<'_>>(l).unwrap());
            }
        }
        "compare" => {
            let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(15);
            compare(&lines, rounds);
        }
        "value" => {
            for l in &lines {
                black_box(serde_json::from_str::<serde_json::Value>(l).unwrap());
            }
        }
        "encode" => {
            let frames: Vec<Frame> =
                lines.iter().map(|l| Frame::decode(l.trim_end().as_bytes(), None).unwrap()).collect();
            encode_all(&frames);
        }
        "cycle" => {
            // A third argument keeps that many requests in flight; the oldest is answered each cycle.
            let in_flight: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1).max(1);
            let now = Instant::now();
            let config = GatewayConfig {
                request_timeout: Duration::from_secs(3600),
                max_pending: in_flight + 10,
                ..GatewayConfig::default()
            };
            let mut m = RelayMachine::new(config, now);
            m.handle_input(now, br#"{"type":"descriptor","descriptor":{"contract_version":1,"platform":"relay","label":"Relay","max_message_length":4096,"supports_draft_streaming":false,"supports_edit":true,"supports_threads":false,"markdown_dialect":"plain","len_unit":"chars"}}
"#);
            while m.poll_action().is_some() {}
            let mut open = std::collections::VecDeque::with_capacity(in_flight);
            let mut submit = |m: &mut RelayMachine| {
                let id = m
                    .request(now, OutboundAction::Send(SendMessage::new("-1001234567", "hello there")))
                    .unwrap();
                let Some(Action::SendFrame(line)) = m.poll_action() else { panic!() };
                black_box(line);
                open.push_back(id);
                if open.len() < in_flight {
                    return None;
                }
                open.pop_front()
            };
            for _ in 1..in_flight {
                submit(&mut m);
            }
            for _ in 0..n {
                let id = submit(&mut m).expect("the oldest request");
                let result = format!(
                    "{{\"type\":\"outbound_result\",\"requestId\":\"{id}\",\"result\":{{\"success\":true,\"message_id\":\"1234567\"}}}}\n"
                );
                m.handle_input(now, result.as_bytes());
                let Some(Action::Resolve { .. }) = m.poll_action() else { panic!() };
            }
        }
        "replay" => {
            use relay_core::connector::{
                Backlog as _, BacklogKey, BufferedFrame, ConnectorConfig, ConnectorMachine, MemoryBacklog,
            };
            let key = BacklogKey::Identity(relay_core::gateway::Identity::new("relay", ""));
            let mut store = MemoryBacklog::new();
            for l in &lines {
                let Ok(Frame::Inbound(f)) = Frame::decode(l.trim_end().as_bytes(), None) else { panic!() };
                store.append(&key, BufferedFrame::Inbound(f.event)).unwrap();
            }
            let now = Instant::now();
            let mut m = ConnectorMachine::new(ConnectorConfig::default(), None, now, 1_700_000_000);
            m.handle_input(now, b"{\"type\":\"hello\",\"platform\":\"relay\",\"botId\":\"\"}\n");
            while m.poll_action().is_some() {}
            m.answer_hello(now, relay_core::wire::Descriptor::new("relay", "Relay")).unwrap();
            let (mut next_ack, mut live, mut rounds) = (1u64, false, 0);
            while !live && rounds < 10 * n + 10 {
                rounds += 1;
                let mut acks = String::new();
                while let Some(a) = m.poll_action() {
                    match a {
                        relay_core::connector::Action::Store(request) => {
                            relay_core::connector::serve_request(&mut m, now, request, &mut store).unwrap()
                        }
                        relay_core::connector::Action::SendFrame(line) => {
                            if line.contains("bufferId") {
                                acks.push_str(&format!(
                                    "{{\"type\":\"inbound_ack\",\"bufferId\":\"{next_ack}\"}}\n"
                                ));
                                next_ack += 1;
                            }
                        }
                        relay_core::connector::Action::Deliver(relay_core::connector::Event::Live) => {
                            live = true
                        }
                        other => eprintln!("{other:?}"),
                    }
                }
                m.handle_input(now, acks.as_bytes());
            }
            eprintln!("replayed {} in {rounds} rounds, live {live}", next_ack - 1);
        }
        other => panic!("unknown workload {other}"),
    }
}

/// `Frame::decode` of every line: a function of its own, so that
/// `valgrind --toggle-collect=*decode_all*` counts it alone.
#[inline(never)]
fn decode_all(lines: &[String]) {
    for l in lines {
        black_box(Frame::decode(l.trim_end().as_bytes(), Some(Direction::ToGateway)).unwrap());
    }
}

/// Each frame to a line of its own, as the connector writes them
/// (`--toggle-collect=*encode_all*`).
#[inline(never)]
fn encode_all(frames: &[Frame]) {
    for f in frames {
        black_box(f.encode_line());
    }
}

/// A decode under comparison: name and one pass over the corpus.
type Decode = (&'static str, fn(&[&[u8]]));

fn compare(lines: &[String], rounds: usize) {
    let trimmed: Vec<&[u8]> = lines.iter().map(|l| l.trim_end().as_bytes()).collect();
    let bytes: usize = lines.iter().map(String::len).sum();
    let decodes: &[Decode] = &[
        ("relay Frame::decode", |ls| {
            for l in ls {
                black_box(Frame::decode(l, Some(Direction::ToGateway)).unwrap());
            }
        }),
        ("serde owned+flatten (naive lossless)", |ls| {
            for l in ls {
                black_box(serde_json::from_slice::<baselines::naive::Inbound>(l).unwrap());
            }
        }),
        ("serde borrowed (lossy ceiling)", |ls| {
            for l in ls {
                black_box(serde_json::from_slice::<baselines::borrowed::Inbound<'_>>(l).unwrap());
            }
        }),
        ("sonic-rs borrowed (lossy)", |ls| {
            for l in ls {
                black_box(sonic_rs::from_slice::<baselines::borrowed::Inbound<'_>>(l).unwrap());
            }
        }),
        ("sonic-rs owned+flatten (lossless)", |ls| {
            for l in ls {
                black_box(sonic_rs::from_slice::<baselines::naive::Inbound>(l).unwrap());
            }
        }),
        ("serde_json::Value", |ls| {
            for l in ls {
                black_box(serde_json::from_slice::<serde_json::Value>(l).unwrap());
            }
        }),
    ];
    let mut times = vec![Vec::with_capacity(rounds); decodes.len()];
    for _ in 0..rounds {
        for ((_, run), times) in decodes.iter().zip(&mut times) {
            let start = Instant::now();
            run(&trimmed);
            times.push(start.elapsed().as_secs_f64());
        }
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!("{} lines, {bytes} B, {rounds} interleaved rounds (medians)", lines.len());
    for ((name, _), t) in decodes.iter().zip(&times) {
        let ratio = median(times[0].iter().zip(t).map(|(ours, theirs)| theirs / ours).collect());
        println!("{name:40} {:8.1} MB/s   relay is {ratio:.2}x", bytes as f64 / median(t.clone()) / 1e6);
    }
}
