//! Hostile gateways against the real connector server, as a table: raw
//! WebSocket clients send bad messages, and the server either stays up
//! (diagnostics, then a normal hello and request) or closes that one
//! connection cleanly with the documented reason.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use async_tungstenite::tungstenite::Bytes;
use async_tungstenite::tungstenite::Message;
use async_tungstenite::tungstenite::protocol::frame::Frame;
use async_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use futures::SinkExt as _;
use relay_core::connector::{CloseReason, ConnectorConfig};
use relay_core::wire::DiagnosticKind::{self, *};
use relay_driver::{ServerConfig, ServerEvent};

use crate::rawpeer::{
    auto_server, closed_by_peer, descriptor_line, expect_on, next_frame, raw_gateway, reset, run, send_text,
    write_raw,
};

const MAX_LINE: usize = 1 << 20;
const HELLO: &str = "{\"type\":\"hello\",\"platform\":\"relay\",\"botId\":\"\"}\n";

/// One step of a hostile gateway.
enum Step {
    Send(Message),
    /// Bytes written under the WebSocket layer.
    Raw(Vec<u8>),
    /// An RST instead of a close.
    Reset,
}

#[derive(Clone, Copy)]
enum Outcome {
    /// The connection stays up: `count` diagnostics of `kind`, then a hello
    /// and a request are answered as usual.
    Survives { count: usize, kind: Option<DiagnosticKind> },
    /// The server closes this connection for this reason; the gateway sees
    /// this close code (when there is a close frame to see).
    Closes { reason: fn(&CloseReason) -> bool, code: Option<u16> },
}

fn transport_closed_with(code: u16) -> fn(&CloseReason) -> bool {
    match code {
        1007 => |r| matches!(r, CloseReason::TransportClosed(Some(c)) if c.code == 1007),
        1009 => |r| matches!(r, CloseReason::TransportClosed(Some(c)) if c.code == 1009),
        _ => |r| matches!(r, CloseReason::TransportClosed(_)),
    }
}

fn text_frame(bytes: &[u8]) -> Step {
    Step::Send(Message::Frame(Frame::message(Bytes::copy_from_slice(bytes), OpCode::Data(Data::Text), true)))
}

fn entries() -> Vec<(&'static str, Vec<Step>, Outcome)> {
    let garbage: String = (0..10_000).map(|i| format!("garbage {i}\n")).collect();
    let hellos: String = HELLO.repeat(300);
    let held: String = "{\"type\":\"interrupt\",\"session_key\":\"k\",\"reason\":null}\n".repeat(1025);
    let half = HELLO.split_at(20);
    let survives = |count, kind| Outcome::Survives { count, kind };
    vec![
        (
            "invalid UTF-8 in a text message",
            vec![text_frame(b"{\"type\":\"hello\",\"platform\":\"\xff\"}\n")],
            Outcome::Closes { reason: transport_closed_with(1007), code: Some(1007) },
        ),
        (
            "a message over the maximum",
            vec![Step::Send(Message::text(" ".repeat(MAX_LINE + 10)))],
            Outcome::Closes { reason: transport_closed_with(1009), code: Some(1009) },
        ),
        (
            "an unmasked frame from a gateway",
            vec![Step::Raw(vec![0x81, 0x02, b'{', b'}'])],
            Outcome::Closes { reason: transport_closed_with(0), code: None },
        ),
        (
            "half a frame, then RST",
            vec![Step::Raw(vec![0x81, 0xFE, 0x01, 0x00, 1, 2, 3, 4, b'{']), Step::Reset],
            Outcome::Closes { reason: |r| matches!(r, CloseReason::TransportClosed(None)), code: None },
        ),
        (
            "a gateway that never says hello",
            vec![],
            Outcome::Closes { reason: |r| *r == CloseReason::HandshakeTimedOut, code: Some(1002) },
        ),
        (
            "300 hellos",
            vec![Step::Send(Message::text(hellos))],
            Outcome::Closes { reason: |r| *r == CloseReason::TooManyHellos, code: Some(1008) },
        ),
        (
            "1,025 frames before any hello",
            vec![Step::Send(Message::text(held))],
            Outcome::Closes { reason: |r| *r == CloseReason::TooManyHeldFrames, code: Some(1008) },
        ),
        (
            "10,000 garbage lines",
            vec![Step::Send(Message::text(garbage))],
            survives(10_000, Some(InvalidJson)),
        ),
        (
            "invalid UTF-8 in a binary message",
            vec![Step::Send(Message::binary(b"{\"x\":\"\xff\"}\n".to_vec()))],
            survives(1, Some(InvalidUtf8)),
        ),
        (
            "a descriptor sent to the connector",
            vec![Step::Send(Message::text(descriptor_line("relay")))],
            survives(1, Some(WrongDirection)),
        ),
        (
            "a hello split over two messages",
            vec![Step::Send(Message::text(half.0)), Step::Send(Message::binary(half.1.as_bytes().to_vec()))],
            survives(0, None),
        ),
        (
            "a flood of 10,000 pings",
            (0..10_000).map(|_| Step::Send(Message::Ping(Bytes::new()))).collect(),
            survives(0, None),
        ),
    ]
}

/// Steps that bring their own hello.
fn brings_hello(name: &str) -> bool {
    name == "a hello split over two messages"
}

async fn hostile_gateway(name: &'static str, steps: Vec<Step>, outcome: Outcome) {
    let connector = ConnectorConfig {
        max_line: MAX_LINE,
        handshake_timeout: Duration::from_millis(800),
        ..ConnectorConfig::default()
    };
    let (server, mut events) = auto_server(ServerConfig { connector, ..ServerConfig::default() }).await;
    let mut ws = raw_gateway(&server.url(), None).await.expect("the upgrade is accepted");
    let mut reset_done = false;
    for step in steps {
        match step {
            Step::Send(message) => {
                let _ = ws.feed(message).await;
            }
            Step::Raw(bytes) => {
                let _ = ws.flush().await;
                write_raw(&mut ws, &bytes).await;
            }
            Step::Reset => {
                let fresh = raw_gateway(&server.url(), None).await.expect("the server still accepts");
                reset(std::mem::replace(&mut ws, fresh));
                reset_done = true;
                break;
            }
        }
    }
    let _ = ws.flush().await;
    match outcome {
        Outcome::Survives { count, kind } => {
            if !brings_hello(name) {
                send_text(&mut ws, HELLO).await;
            }
            let descriptor = next_frame(&mut ws).await.expect("a descriptor");
            assert_eq!(descriptor["type"], "descriptor", "{name}");
            send_text(&mut ws, "{\"type\":\"outbound\",\"requestId\":\"r1\",\"action\":{\"op\":\"typing\",\"chat_id\":\"c\"}}\n").await;
            let result = next_frame(&mut ws).await.expect("a result");
            assert_eq!(
                (result["type"].as_str(), result["requestId"].as_str()),
                (Some("outbound_result"), Some("r1"))
            );
            let mut diagnostics = 0;
            while diagnostics < count {
                expect_on(&mut events, name, |e| match e {
                    ServerEvent::Diagnostic { diagnostic, .. } if Some(diagnostic.kind) == kind => Some(()),
                    ServerEvent::Closed { .. } => panic!("{name}: {e:?}"),
                    _ => None,
                })
                .await;
                diagnostics += 1;
            }
        }
        Outcome::Closes { reason, code } => {
            let closed = expect_on(&mut events, name, |e| match e {
                ServerEvent::Closed { reason, .. } => Some(reason.clone()),
                ServerEvent::Diagnostic { .. } => panic!("{name}: nothing decoded: {e:?}"),
                _ => None,
            })
            .await;
            assert!(reason(&closed), "{name}: closed with {closed:?}");
            if !reset_done {
                let seen = closed_by_peer(&mut ws).await.map(|(code, _)| code);
                match code {
                    Some(code) => assert_eq!(seen, Some(code), "{name}: the gateway saw {seen:?}"),
                    None => eprintln!("{name}: the gateway saw {seen:?}"),
                }
            }
            // The server itself is unharmed.
            let mut next = raw_gateway(&server.url(), None).await.expect("the server still accepts");
            send_text(&mut next, HELLO).await;
            assert_eq!(next_frame(&mut next).await.expect("a descriptor")["type"], "descriptor", "{name}");
        }
    }
}

type Scenario = Pin<Box<dyn Future<Output = ()> + Send>>;

#[test]
fn hostile_gateway_catalogue() {
    run(Duration::from_secs(30), async {
        let entries = entries();
        assert!(entries.len() >= 12, "the catalogue shrank");
        let scenarios: Vec<(&'static str, Scenario)> = entries
            .into_iter()
            .map(|(name, steps, outcome)| (name, Box::pin(hostile_gateway(name, steps, outcome)) as Scenario))
            .collect();
        crate::all_concurrently(scenarios).await;
    });
}
