//! Benchmarks of the hot paths: decode, encode, gateway machine
//! bytes → events, the in-memory request → result cycle, backlog replay.
//!
//! `cargo bench -p relay-core --features bench --bench wire` (add a filter,
//! e.g. `-- decode`, to run one group). Each figure is measured beside its
//! baseline in the same run, so ratios hold on a noisy machine.

// A benchmark times wall-clock work and machines need a start instant: reading
// the clock is the point here, unlike in core, which takes `now` as an input.
#![allow(clippy::disallowed_methods)]

use std::collections::VecDeque;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use relay_core::bench::Generator;
use relay_core::connector::{
    Action as CAction, Backlog as _, BacklogKey, BufferedFrame, ConnectorConfig, ConnectorMachine,
    MemoryBacklog, serve_request,
};
use relay_core::gateway::{Action, GatewayConfig, Identity, RelayMachine, RequestId};
use relay_core::wire::{Descriptor, Direction, Frame, OutboundAction, SendMessage};

const CORPUS: usize = 2_000;

#[path = "support/baselines.rs"]
mod baselines;
use baselines::{borrowed, naive};

fn corpus_bytes(lines: &[String]) -> u64 {
    lines.iter().map(|l| l.len() as u64).sum()
}

fn decode(c: &mut Criterion) {
    let lines = Generator::new(1).inbound_corpus(CORPUS);
    let trimmed: Vec<&[u8]> = lines.iter().map(|l| l.trim_end().as_bytes()).collect();
    let mut g = c.benchmark_group("decode_inbound");
    g.throughput(Throughput::Bytes(corpus_bytes(&lines)));
    g.bench_function("relay_frame_decode", |b| {
        b.iter(|| {
            for line in &trimmed {
                black_box(Frame::decode(line, Some(Direction::ToGateway)).unwrap());
            }
        })
    });
    g.bench_function("serde_owned_flatten_naive", |b| {
        b.iter(|| {
            for line in &trimmed {
                black_box(serde_json::from_slice::<naive::Inbound>(line).unwrap());
            }
        })
    });
    g.bench_function("serde_borrowed_ceiling", |b| {
        b.iter(|| {
            for line in &trimmed {
                black_box(serde_json::from_slice::<borrowed::Inbound<'_>>(line).unwrap());
            }
        })
    });
    // sonic-rs (SIMD) through the same serde structs: the lossy borrowed
    // decode and the naive lossless one, to see what a SIMD parser would buy.
    g.bench_function("sonic_rs_borrowed", |b| {
        b.iter(|| {
            for line in &trimmed {
                black_box(sonic_rs::from_slice::<borrowed::Inbound<'_>>(line).unwrap());
            }
        })
    });
    g.bench_function("sonic_rs_lossless", |b| {
        b.iter(|| {
            for line in &trimmed {
                black_box(sonic_rs::from_slice::<naive::Inbound>(line).unwrap());
            }
        })
    });
    g.bench_function("serde_value", |b| {
        b.iter(|| {
            for line in &trimmed {
                black_box(serde_json::from_slice::<serde_json::Value>(line).unwrap());
            }
        })
    });
    g.bench_function("serde_validate_only", |b| {
        b.iter(|| {
            for line in &trimmed {
                black_box(serde_json::from_slice::<serde::de::IgnoredAny>(line).unwrap());
            }
        })
    });
    g.finish();

    let mut generator = Generator::new(2);
    let mixed = generator.mixed_stream(CORPUS);
    let outbound = generator.outbound_corpus(CORPUS);
    for (name, corpus) in [("decode_mixed", &mixed), ("decode_outbound", &outbound)] {
        let trimmed: Vec<&[u8]> = corpus.iter().map(|l| l.trim_end().as_bytes()).collect();
        let mut g = c.benchmark_group(name);
        g.throughput(Throughput::Bytes(corpus_bytes(corpus)));
        g.bench_function("relay_frame_decode", |b| {
            b.iter(|| {
                for line in &trimmed {
                    black_box(Frame::decode(line, None).unwrap());
                }
            })
        });
        g.finish();
    }
}

fn encode(c: &mut Criterion) {
    let lines = Generator::new(1).inbound_corpus(CORPUS);
    let frames: Vec<Frame> =
        lines.iter().map(|l| Frame::decode(l.trim_end().as_bytes(), None).unwrap()).collect();
    let bytes: u64 = frames.iter().map(|f| f.encode().len() as u64).sum();
    let mut g = c.benchmark_group("encode_inbound");
    g.throughput(Throughput::Bytes(bytes));
    let mut out = Vec::with_capacity(8 << 20);
    g.bench_function("relay_encode_into", |b| {
        b.iter(|| {
            out.clear();
            for f in &frames {
                f.encode_into(&mut out);
            }
            black_box(out.len())
        })
    });
    // What the machines send: one owned line per frame.
    g.bench_function("relay_encode_line", |b| {
        b.iter(|| frames.iter().map(|f| f.encode_line().len()).sum::<usize>())
    });
    g.finish();
}

const DESCRIPTOR_LINE: &[u8] = br#"{"type":"descriptor","descriptor":{"contract_version":1,"platform":"relay","label":"Relay","max_message_length":4096,"supports_draft_streaming":false,"supports_edit":true,"supports_threads":false,"markdown_dialect":"plain","len_unit":"chars"}}
"#;

/// A gateway machine past its handshake.
fn ready_gateway(max_pending: usize) -> (RelayMachine, Instant) {
    let now = Instant::now();
    let config = GatewayConfig {
        max_pending,
        request_timeout: Duration::from_secs(3600),
        ping_interval: Duration::from_secs(3600),
        dead_link_timeout: Duration::from_secs(7200),
        ..GatewayConfig::default()
    };
    let mut m = RelayMachine::new(config, now);
    m.handle_input(now, DESCRIPTOR_LINE);
    while m.poll_action().is_some() {}
    assert!(m.is_ready());
    (m, now)
}

fn machine(c: &mut Criterion) {
    let lines = Generator::new(1).inbound_corpus(CORPUS);
    // WebSocket messages as a connector sends them: one frame each.
    let mut g = c.benchmark_group("gateway_bytes_to_events");
    g.throughput(Throughput::Bytes(corpus_bytes(&lines)));
    g.bench_function("relay_machine", |b| {
        b.iter_batched(
            || ready_gateway(10),
            |(mut m, now)| {
                let mut delivered = 0;
                for line in &lines {
                    m.handle_input(now, line.as_bytes());
                    while let Some(a) = m.poll_action() {
                        if matches!(a, Action::Deliver(_)) {
                            delivered += 1;
                        }
                    }
                }
                assert_eq!(delivered, lines.len());
                m
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("relay_frame_decode_same_lines", |b| {
        b.iter(|| {
            for line in &lines {
                black_box(Frame::decode(line.trim_end().as_bytes(), Some(Direction::ToGateway)).unwrap());
            }
        })
    });
    g.finish();
}

fn result_line(id: &str) -> String {
    format!(
        "{{\"type\":\"outbound_result\",\"requestId\":\"{id}\",\"result\":{{\"success\":true,\"message_id\":\"1234567\"}}}}\n"
    )
}

/// One cycle = `request()`, polling its outbound frame, feeding the matching
/// result bytes, polling the resolution — with `in_flight` requests pending.
fn cycle(c: &mut Criterion) {
    let mut g = c.benchmark_group("request_result_cycle");
    g.throughput(Throughput::Elements(1));
    for in_flight in [1usize, 1_000, 100_000] {
        g.bench_function(format!("in_flight_{in_flight}"), |b| {
            b.iter_custom(|iters| {
                let (mut m, now) = ready_gateway(in_flight + 10);
                let mut open = VecDeque::with_capacity(in_flight);
                // Ids are kept as numbers and written out when their result is
                // made, so the harness touches no memory that grows with the
                // number in flight (the machine's own tables are what is measured).
                let submit = |m: &mut RelayMachine, open: &mut VecDeque<RequestId>| {
                    let action = OutboundAction::Send(SendMessage::new("-1001234567", "hello there"));
                    let id = m.request(now, action).unwrap();
                    match m.poll_action() {
                        Some(Action::SendFrame(line)) => black_box(line),
                        other => panic!("{other:?}"),
                    };
                    open.push_back(id);
                };
                for _ in 0..in_flight - 1 {
                    submit(&mut m, &mut open);
                }
                let start = Instant::now();
                for _ in 0..iters {
                    submit(&mut m, &mut open);
                    let oldest = open.pop_front().unwrap();
                    m.handle_input(now, result_line(&oldest.to_string()).as_bytes());
                    match m.poll_action() {
                        Some(Action::Resolve { result, .. }) => assert!(result.success),
                        other => panic!("{other:?}"),
                    }
                }
                start.elapsed()
            })
        });
    }
    g.finish();
}

/// A connector replaying a 100k-entry backlog to a gateway that acks each window.
fn replay(c: &mut Criterion) {
    const ENTRIES: usize = 100_000;
    let key = BacklogKey::Identity(Identity::new("relay", ""));
    let mut backlog = MemoryBacklog::new();
    let lines = Generator::new(5).inbound_corpus(1_000);
    let events: Vec<_> = lines
        .iter()
        .map(|l| match Frame::decode(l.trim_end().as_bytes(), None).unwrap() {
            Frame::Inbound(f) => f.event,
            _ => unreachable!(),
        })
        .collect();
    for i in 0..ENTRIES {
        backlog.append(&key, BufferedFrame::Inbound(events[i % events.len()].clone())).unwrap();
    }
    let mut g = c.benchmark_group("connector_replay_100k");
    // One replay per sample: each iteration first clones the 100k-entry store (untimed).
    g.sample_size(10).sampling_mode(SamplingMode::Flat).measurement_time(Duration::from_secs(1));
    g.throughput(Throughput::Elements(ENTRIES as u64));
    g.bench_function("relay_connector", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let mut store = backlog.clone();
                let now = Instant::now();
                let start = Instant::now();
                let mut m = ConnectorMachine::new(ConnectorConfig::default(), None, now, 1_700_000_000);
                m.handle_input(now, b"{\"type\":\"hello\",\"platform\":\"relay\",\"botId\":\"\"}\n");
                while m.poll_action().is_some() {}
                m.answer_hello(now, Descriptor::new("relay", "Relay")).unwrap();
                let mut next_ack = 1u64;
                let mut replayed = 0;
                let mut live = false;
                while !live {
                    let mut sent = 0;
                    while let Some(a) = m.poll_action() {
                        match a {
                            CAction::SendFrame(line) => {
                                // The descriptor goes out first: not a replayed entry.
                                sent += usize::from(line.starts_with("{\"type\":\"inbound\""));
                                black_box(line);
                            }
                            CAction::Store(request) => {
                                serve_request(&mut m, now, request, &mut store).unwrap()
                            }
                            CAction::Deliver(relay_core::connector::Event::Live) => live = true,
                            _ => {}
                        }
                    }
                    replayed += sent;
                    let mut acks = String::new();
                    for _ in 0..sent {
                        acks.push_str(&format!("{{\"type\":\"inbound_ack\",\"bufferId\":\"{next_ack}\"}}\n"));
                        next_ack += 1;
                    }
                    if sent > 0 {
                        m.handle_input(now, acks.as_bytes());
                    }
                }
                assert!(replayed >= ENTRIES - 1, "{replayed}");
                total += start.elapsed();
            }
            total
        })
    });
    g.finish();
}

/// Short runs: a full pass of every group takes a few minutes, and each
/// ratio compares lines measured back to back, which matters more here than
/// a long sample of any one line.
fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20)
}

criterion_group! { name = benches; config = config(); targets = decode, encode, machine, cycle, replay }
criterion_main!(benches);
