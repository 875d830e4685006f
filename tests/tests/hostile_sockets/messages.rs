//! WebSocket-message-level hostility from a connector, as a table: each
//! entry is what a raw connector sends while a request is in flight, and
//! whether the gateway's connection survives it (the request still
//! resolves; a diagnostic or event where the table says so) or fails it
//! (the request fails as lost and ambiguous, `Lost` names the close code,
//! a reconnect follows, and no partial frame was decoded).

use std::time::Duration;

use async_tungstenite::tungstenite::Bytes;
use async_tungstenite::tungstenite::Message;
use async_tungstenite::tungstenite::protocol::frame::coding::{Control, Data, OpCode};
use async_tungstenite::tungstenite::protocol::frame::{Frame, FrameHeader};
use futures::SinkExt as _;
use relay_core::gateway::RequestErrorKind;
use relay_core::wire::DiagnosticKind::{self, *};
use relay_driver::{ClientConfig, ClientEvent, ConnectionEvent};

use crate::rawpeer::{
    RawServer, closed_by_peer, connect_ready, expect, inbound_line, next_request, result_line, run,
    send_in_background, within,
};

/// The maximum line (and so WebSocket message) of the gateway under test.
const MAX_LINE: usize = 1 << 20;

#[derive(Debug, Clone, Copy)]
enum Outcome {
    /// The connection stays up: an optional diagnostic, an optional inbound
    /// text, and the request in flight still gets its result.
    Survives { diagnostic: Option<DiagnosticKind>, inbound: Option<&'static str> },
    /// The connection fails with this close code (as the gateway records it).
    Fails { code: Option<u16> },
}

const fn survives(diagnostic: Option<DiagnosticKind>, inbound: Option<&'static str>) -> Outcome {
    Outcome::Survives { diagnostic, inbound }
}

fn data(opcode: Data, bytes: impl Into<Bytes>, is_final: bool) -> Message {
    Message::Frame(Frame::message(bytes.into(), OpCode::Data(opcode), is_final))
}

fn raw(header: FrameHeader, payload: impl Into<Bytes>) -> Message {
    Message::Frame(Frame::from_payload(header, payload.into()))
}

fn header(opcode: OpCode) -> FrameHeader {
    FrameHeader { opcode, ..FrameHeader::default() }
}

fn bytes(text: &str) -> Bytes {
    Bytes::copy_from_slice(text.as_bytes())
}

type Entry = (&'static str, Vec<Message>, Outcome);

fn entries() -> Vec<Entry> {
    use Data::{Binary, Continue, Text};
    let line = |text: &str| inbound_line(text);
    let split = |text: &str, at: &[usize]| -> Vec<String> {
        let l = line(text);
        let mut parts = Vec::new();
        let mut from = 0;
        for &to in at.iter().chain([l.len()].iter()) {
            parts.push(l[from..to].to_owned());
            from = to;
        }
        parts
    };
    let frag = split("fragmented", &[10, 25]);
    let inter = split("interleaved", &[5, 30]);
    let binfrag = split("binfrag", &[3, 20]);
    let e_acute = line("é").into_bytes();
    let at = e_acute.iter().position(|&b| b == 0xc3).unwrap() + 1;
    let mut bad_text = line("bad").into_bytes();
    bad_text.insert(37, 0xff);
    let mut masked = header(OpCode::Data(Text));
    masked.mask = Some([1, 2, 3, 4]);
    let mut rsv = header(OpCode::Data(Text));
    rsv.rsv2 = true;
    let mut fragmented_ping = header(OpCode::Control(Control::Ping));
    fragmented_ping.is_final = false;
    let close_with =
        |payload: &[u8]| raw(header(OpCode::Control(Control::Close)), Bytes::copy_from_slice(payload));
    let many_small: Vec<Message> =
        (0..40).map(|i| data(if i == 0 { Text } else { Continue }, vec![b' '; 32 * 1024], i == 39)).collect();
    vec![
        (
            "invalid UTF-8 mid-line in a binary message",
            vec![Message::binary(bad_text.clone())],
            survives(Some(InvalidUtf8), None),
        ),
        (
            "a whole frame in a binary message",
            vec![Message::binary(line("bin").into_bytes())],
            survives(None, Some("bin")),
        ),
        (
            "one frame split over three messages",
            vec![
                Message::text(&frag[0]),
                Message::binary(frag[1].clone().into_bytes()),
                Message::text(&frag[2]),
            ],
            survives(None, Some("fragmented")),
        ),
        (
            "a bad line and a good one in one message",
            vec![Message::text(format!("{{nope\n{}", line("second")))],
            survives(Some(InvalidJson), Some("second")),
        ),
        (
            "a frame in WebSocket continuation frames",
            vec![
                data(Text, bytes(&frag[0]), false),
                data(Continue, bytes(&frag[1]), false),
                data(Continue, bytes(&frag[2]), true),
            ],
            survives(None, Some("fragmented")),
        ),
        (
            "pings between continuation frames",
            vec![
                data(Text, bytes(&inter[0]), false),
                Message::Ping(Bytes::new()),
                data(Continue, bytes(&inter[1]), false),
                Message::Pong(Bytes::new()),
                data(Continue, bytes(&inter[2]), true),
            ],
            survives(None, Some("interleaved")),
        ),
        (
            "binary continuation frames",
            vec![
                data(Binary, bytes(&binfrag[0]), false),
                data(Continue, bytes(&binfrag[1]), false),
                data(Continue, bytes(&binfrag[2]), true),
            ],
            survives(None, Some("binfrag")),
        ),
        (
            "a character split across continuation frames",
            vec![
                data(Text, Bytes::copy_from_slice(&e_acute[..at]), false),
                data(Continue, Bytes::copy_from_slice(&e_acute[at..]), true),
            ],
            survives(None, Some("é")),
        ),
        (
            "a flood of 10,000 pings",
            (0..10_000).map(|i| Message::Ping(Bytes::from(format!("{i}")))).collect(),
            survives(None, None),
        ),
        (
            "a flood of 10,000 unsolicited pongs",
            (0..10_000).map(|_| Message::Pong(Bytes::new())).collect(),
            survives(None, None),
        ),
        (
            "a thousand empty messages",
            (0..1000)
                .map(|i| if i % 2 == 0 { Message::text("") } else { Message::binary(Vec::new()) })
                .collect(),
            survives(None, None),
        ),
        (
            "a hello arriving at the gateway",
            vec![Message::text("{\"type\":\"hello\",\"platform\":\"x\",\"botId\":\"\"}\n")],
            survives(Some(WrongDirection), None),
        ),
        (
            "an outbound arriving at the gateway",
            vec![Message::text("{\"type\":\"outbound\",\"requestId\":\"r\",\"action\":{\"op\":\"send\"}}\n")],
            survives(Some(WrongDirection), None),
        ),
        (
            "a bufferId that is not a string",
            vec![Message::text("{\"type\":\"inbound\",\"event\":{},\"bufferId\":[1]}\n")],
            survives(Some(BadField), None),
        ),
        (
            "NaN in a frame",
            vec![Message::text("{\"type\":\"inbound\",\"event\":{\"x\":NaN}}\n")],
            survives(Some(InvalidJson), None),
        ),
        ("a lone surrogate", vec![Message::text(line("a\\ud83d"))], survives(None, Some("a\u{FFFD}"))),
        (
            "CRLF line endings",
            vec![Message::text(line("crlf").replace('\n', "\r\n"))],
            survives(None, Some("crlf")),
        ),
        (
            "invalid UTF-8 in a text message",
            vec![data(Text, bad_text.clone(), true)],
            Outcome::Fails { code: Some(1007) },
        ),
        (
            "invalid UTF-8 across text continuation frames",
            vec![
                data(Text, Bytes::copy_from_slice(&bad_text[..30]), false),
                data(Continue, Bytes::copy_from_slice(&bad_text[30..]), true),
            ],
            Outcome::Fails { code: Some(1007) },
        ),
        (
            "a message over the maximum",
            vec![Message::text(" ".repeat(MAX_LINE + 10))],
            Outcome::Fails { code: Some(1009) },
        ),
        (
            "small fragments adding up to more than the maximum",
            many_small,
            Outcome::Fails { code: Some(1009) },
        ),
        (
            "a continuation frame with nothing to continue",
            vec![data(Continue, bytes(&line("x")), true)],
            Outcome::Fails { code: None },
        ),
        (
            "a new message inside a fragmented one",
            vec![data(Text, bytes("{"), false), data(Text, bytes(&line("x")), true)],
            Outcome::Fails { code: None },
        ),
        (
            "a reserved data opcode",
            vec![raw(header(OpCode::Data(Data::Reserved(3))), bytes(&line("x")))],
            Outcome::Fails { code: None },
        ),
        (
            "a reserved control opcode",
            vec![raw(header(OpCode::Control(Control::Reserved(11))), Bytes::new())],
            Outcome::Fails { code: None },
        ),
        (
            "a masked frame from the server",
            vec![raw(masked, bytes(&line("masked")))],
            Outcome::Fails { code: None },
        ),
        ("reserved bits set", vec![raw(rsv, bytes(&line("rsv")))], Outcome::Fails { code: None }),
        (
            "a ping over 125 bytes",
            vec![Message::Ping(Bytes::from(vec![b'p'; 200]))],
            Outcome::Fails { code: None },
        ),
        ("a fragmented ping", vec![raw(fragmented_ping, Bytes::new())], Outcome::Fails { code: None }),
        (
            "a close frame with a forbidden code",
            vec![close_with(&1005u16.to_be_bytes())],
            Outcome::Fails { code: Some(1002) },
        ),
        (
            "a close frame whose reason is not UTF-8",
            vec![close_with(b"\x03\xe8\xff\xfe")],
            Outcome::Fails { code: Some(1007) },
        ),
        ("a one-byte close frame", vec![close_with(b"\x03")], Outcome::Fails { code: None }),
        (
            "half a line, then a normal close",
            vec![Message::text("{\"type\":\"outbound_result\",\"requestId\":"), Message::Close(None)],
            Outcome::Fails { code: None },
        ),
    ]
}

async fn run_entry(name: &'static str, messages: Vec<Message>, outcome: Outcome) {
    let server = RawServer::bind().await;
    let mut config = ClientConfig::default();
    config.gateway.max_line = MAX_LINE;
    let (mut gw, mut ws) = connect_ready(&server, config).await;
    let pending = send_in_background(&gw.client, "in flight");
    let (id, _) = next_request(&mut ws).await;
    for message in messages {
        // Once the gateway gave up, sending may fail: that is its right.
        if ws.feed(message).await.is_err() {
            break;
        }
    }
    let _ = ws.flush().await;
    match outcome {
        Outcome::Survives { diagnostic, inbound } => {
            crate::rawpeer::send_text(&mut ws, &result_line(&id, "m1")).await;
            let result = within("the result", pending).await.unwrap().expect("the request resolves");
            assert_eq!(result.message_id.as_deref(), Some("m1"), "{name}");
            if let Some(kind) = diagnostic {
                expect(&mut gw.events, name, |e| match e {
                    ClientEvent::Diagnostic(d) if d.kind == kind => Some(()),
                    ClientEvent::Connection(c) => panic!("{name}: {c:?}"),
                    _ => None,
                })
                .await;
            }
            if let Some(text) = inbound {
                let got = expect(&mut gw.events, name, |e| match e {
                    ClientEvent::Inbound { event, .. } => Some(event.text.clone()),
                    ClientEvent::Connection(c) => panic!("{name}: {c:?}"),
                    _ => None,
                })
                .await;
                assert_eq!(got, text, "{name}");
            }
            gw.client.close().await;
        }
        Outcome::Fails { code } => {
            let error = within("the failure", pending).await.unwrap().expect_err("the request fails");
            assert_eq!((error.kind, error.ambiguous), (RequestErrorKind::ConnectionLost, true), "{name}");
            let mut before = Vec::new();
            let reason = expect(&mut gw.events, name, |e| match e {
                ClientEvent::Connection(ConnectionEvent::Lost { reason }) => Some(reason.clone()),
                // The connect's descriptor is old news; anything else came from the bad input.
                ClientEvent::Descriptor { .. } => None,
                other => {
                    before.push(format!("{other:?}"));
                    None
                }
            })
            .await;
            assert!(before.is_empty(), "{name}: nothing decoded from the bad input: {before:?}");
            let seen_code = reason.close_frame().map(|c| c.code);
            if let Some(code) = code {
                assert_eq!(seen_code, Some(code), "{name}: {reason}");
            }
            let peer_saw = tokio::time::timeout(Duration::from_secs(3), closed_by_peer(&mut ws))
                .await
                .unwrap_or_else(|_| panic!("{name}: the gateway did not end the socket"));
            if let Some(code) = code {
                // The gateway fails the WebSocket with the code it recorded.
                assert_eq!(peer_saw.map(|(c, _)| c), Some(code), "{name}");
            }
            // The reconnect policy takes over: a new connection, and it works.
            let mut ws = server.accept_ready().await;
            expect(&mut gw.events, "reconnected", |e| {
                matches!(e, ClientEvent::Connection(ConnectionEvent::Reconnected)).then_some(())
            })
            .await;
            let again = send_in_background(&gw.client, "again");
            let (id, _) = next_request(&mut ws).await;
            crate::rawpeer::send_text(&mut ws, &result_line(&id, "m2")).await;
            assert!(within("the new result", again).await.unwrap().is_ok(), "{name}");
            gw.client.close().await;
        }
    }
}

#[test]
fn message_level_catalogue() {
    run(Duration::from_secs(30), async {
        let entries = entries();
        assert!(entries.len() >= 30, "the catalogue shrank");
        crate::all_concurrently(
            entries
                .into_iter()
                .map(|(name, messages, outcome)| (name, run_entry(name, messages, outcome)))
                .collect(),
        )
        .await;
    });
}
