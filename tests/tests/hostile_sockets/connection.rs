//! Connection-level hostility from a connector: handshakes that never end
//! or go wrong, descriptor floods, refusals, a peer that stops reading,
//! resets mid-frame, results after the end.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_tungstenite::tungstenite::Message;
use async_tungstenite::tungstenite::protocol::CloseFrame;
use async_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use futures::StreamExt as _;
use relay_core::gateway::RequestErrorKind;
use relay_core::wire::DiagnosticKind;
use relay_driver::{ClientConfig, ClientEvent, ConnectError, ConnectionEvent};

use crate::rawpeer::{
    RawServer, Ws, closed_by_peer, connect, connect_ready, descriptor_line, expect, next_frame, next_request,
    reset, result_line, run, send_in_background, send_text, settle, within, write_raw,
};

/// Accepts and upgrades every connection in the background, handing each
/// to `serve`; returns how many were accepted so far.
fn serve_every_connection<F, Fut>(server: RawServer, serve: F) -> Arc<AtomicUsize>
where
    F: Fn(Ws) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let count = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&count);
    tokio::spawn(async move {
        loop {
            let tcp = server.accept_tcp().await;
            let accepted = async_tungstenite::tokio::accept_async(tcp).await;
            if let Ok(ws) = accepted {
                counted.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(serve(ws));
            }
        }
    });
    count
}

fn budget(ms: u64) -> ClientConfig {
    ClientConfig { connect_budget: Duration::from_millis(ms), ..ClientConfig::default() }
}

#[test]
fn a_connector_that_never_sends_a_descriptor_fails_connect_within_its_budget() {
    run(Duration::from_secs(10), async {
        let server = RawServer::bind().await;
        let url = server.url.clone();
        let (seen_tx, mut seen) = futures::channel::mpsc::unbounded();
        serve_every_connection(server, move |mut ws| {
            let seen_tx = seen_tx.clone();
            async move {
                // Reads the hello and says nothing; reports how the gateway closed.
                let _hello = next_frame(&mut ws).await;
                let _ = seen_tx.unbounded_send(closed_by_peer(&mut ws).await);
            }
        });
        let started = Instant::now();
        let error = within("connect", connect(&url, budget(1500))).await.unwrap().expect_err("no descriptor");
        let took = started.elapsed();
        assert!(matches!(error, ConnectError::Failed(_)), "{error:?}");
        assert!(error.to_string().ends_with("relay handshake timed out"), "{error}");
        assert!(took >= Duration::from_millis(1400) && took < Duration::from_secs(3), "took {took:?}");
        let close = within("the close", seen.next()).await.unwrap();
        assert_eq!(close, Some((1002, "handshake timed out".to_owned())));
    });
}

#[test]
fn ten_thousand_descriptors_are_skipped_with_diagnostics() {
    run(Duration::from_secs(20), async {
        let server = RawServer::bind().await;
        let (mut gw, mut ws) = connect_ready(&server, ClientConfig::default()).await;
        let started = Instant::now();
        let flood = descriptor_line("discord").repeat(1000);
        for _ in 0..10 {
            send_text(&mut ws, &flood).await;
        }
        let mut skipped = 0;
        while skipped < 10_000 {
            expect(&mut gw.events, "a diagnostic", |e| match e {
                ClientEvent::Diagnostic(d) if d.kind == DiagnosticKind::Unexpected => Some(()),
                other => panic!("{other:?}"),
            })
            .await;
            skipped += 1;
        }
        assert_eq!(gw.client.descriptor().unwrap().platform, "relay", "the first stays the default");
        let pending = send_in_background(&gw.client, "after the flood");
        let (id, _) = next_request(&mut ws).await;
        send_text(&mut ws, &result_line(&id, "ok")).await;
        assert!(within("the result", pending).await.unwrap().is_ok());
        eprintln!("10,000 descriptors: {:?}", started.elapsed());
        gw.client.close().await;
    });
}

const BAD_DESCRIPTOR: &str = "{\"type\":\"descriptor\",\"descriptor\":{\"contract_version\":1,\"platform\":\"x\",\"label\":\"x\",\"max_message_length\":10,\"supports_draft_streaming\":false,\"supports_edit\":\"yes\",\"supports_threads\":false,\"markdown_dialect\":\"plain\",\"len_unit\":\"chars\"}}\n";

#[test]
fn a_bad_first_descriptor_fails_connect_and_a_bad_later_one_is_skipped() {
    run(Duration::from_secs(15), async {
        let server = RawServer::bind().await;
        let url = server.url.clone();
        let (seen_tx, mut seen) = futures::channel::mpsc::unbounded();
        let dials = serve_every_connection(server, move |mut ws| {
            let seen_tx = seen_tx.clone();
            async move {
                let _hello = next_frame(&mut ws).await;
                send_text(&mut ws, BAD_DESCRIPTOR).await;
                let _ = seen_tx.unbounded_send(closed_by_peer(&mut ws).await);
            }
        });
        let error =
            within("connect", connect(&url, budget(1200))).await.unwrap().expect_err("bad descriptor");
        let text = error.to_string();
        assert!(text.contains("relay bad descriptor: descriptor.supports_edit"), "{text}");
        assert_eq!(within("a close", seen.next()).await.unwrap(), Some((1002, "bad descriptor".to_owned())));
        assert!(dials.load(Ordering::SeqCst) >= 2, "retried within the budget");

        let server = RawServer::bind().await;
        let (mut gw, mut ws) = connect_ready(&server, ClientConfig::default()).await;
        send_text(&mut ws, BAD_DESCRIPTOR).await;
        let kind = expect(&mut gw.events, "a diagnostic", |e| match e {
            ClientEvent::Diagnostic(d) => Some(d.kind),
            _ => None,
        })
        .await;
        assert_eq!(kind, DiagnosticKind::BadField);
        let pending = send_in_background(&gw.client, "still up");
        let (id, _) = next_request(&mut ws).await;
        send_text(&mut ws, &result_line(&id, "ok")).await;
        assert!(within("the result", pending).await.unwrap().is_ok());
        gw.client.close().await;
    });
}

#[test]
fn a_1008_refusal_before_the_first_handshake_is_retried_until_the_budget() {
    run(Duration::from_secs(15), async {
        let server = RawServer::bind().await;
        let url = server.url.clone();
        let dials = serve_every_connection(server, |mut ws| async move {
            let _hello = next_frame(&mut ws).await;
            let close = CloseFrame { code: CloseCode::Policy, reason: "identity refused: relay:".into() };
            let _ = ws.send(Message::Close(Some(close))).await;
            let _ = closed_by_peer(&mut ws).await;
        });
        let started = Instant::now();
        let error = within("connect", connect(&url, budget(2500))).await.unwrap().expect_err("refused");
        assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
        assert!(error.to_string().contains("close code 1008: identity refused: relay:"), "{error}");
        assert!(dials.load(Ordering::SeqCst) >= 2, "retryable before the first handshake");
    });
}

#[test]
fn a_connector_that_stops_reading_cannot_hang_requests_or_close() {
    run(Duration::from_secs(30), async {
        let server = RawServer::bind().await;
        let config = ClientConfig {
            shutdown_budget: Duration::from_millis(500),
            gateway: relay_core::gateway::GatewayConfig {
                request_timeout: Duration::from_secs(1),
                ..Default::default()
            },
            ..ClientConfig::default()
        };
        let (mut gw, ws) = connect_ready(&server, config).await;
        // The connector never reads again: the socket's buffers fill up.
        let big = "x".repeat(16 * 1024);
        let started = Instant::now();
        let calls: Vec<_> = (0..1500).map(|_| send_in_background(&gw.client, &big)).collect();
        let mut outcomes = std::collections::BTreeMap::<String, usize>::new();
        for call in calls {
            let error = within("a request to settle", call).await.unwrap().expect_err("no result can come");
            *outcomes.entry(format!("{error} (ambiguous: {})", error.ambiguous)).or_default() += 1;
        }
        let settled = started.elapsed();
        eprintln!("a peer that stops reading: 1500 requests settled in {settled:?}: {outcomes:?}");
        assert!(settled < Duration::from_secs(5), "requests are bounded by their timeout: {settled:?}");
        assert!(outcomes.keys().all(|k| k.starts_with("relay outbound timed out")), "{outcomes:?}");
        // Timers still fire (the requests above timed out); close stays within its budget.
        let closing = Instant::now();
        within("close", gw.client.close()).await;
        let took = closing.elapsed();
        assert!(took < Duration::from_secs(4), "close took {took:?}");
        let after = gw.client.send("c", "after").await.unwrap_err();
        assert_eq!((after.kind, after.ambiguous), (RequestErrorKind::NotConnected, false));
        let rest = settle(&mut gw.events, Duration::from_millis(200)).await;
        assert!(
            rest.iter().all(|e| matches!(e, ClientEvent::Connection(ConnectionEvent::Stopped { .. }))),
            "{rest:?}"
        );
        drop(ws);
    });
}

/// How a connector drops the connection in the middle of something.
#[derive(Debug, Clone, Copy)]
enum Cut {
    /// Half a WebSocket frame (header and part of the payload), then RST.
    FrameThenReset,
    /// A complete message holding half a line, then RST.
    LineThenReset,
    /// Half a frame, then a clean TCP close (FIN).
    FrameThenEof,
}

async fn dropped_mid_frame(how: Cut) {
    let server = RawServer::bind().await;
    let (mut gw, mut ws) = connect_ready(&server, ClientConfig::default()).await;
    let pending = send_in_background(&gw.client, "in flight");
    let (id, _) = next_request(&mut ws).await;
    let line = result_line(&id, "never");
    match how {
        Cut::FrameThenReset | Cut::FrameThenEof => {
            // A text frame announcing the whole line, with only half of it written.
            let mut frame = vec![0x81, 126];
            frame.extend_from_slice(&(line.len() as u16).to_be_bytes());
            frame.extend_from_slice(&line.as_bytes()[..line.len() / 2]);
            write_raw(&mut ws, &frame).await;
        }
        Cut::LineThenReset => send_text(&mut ws, &line[..line.len() / 2]).await,
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    match how {
        Cut::FrameThenEof => drop(ws),
        _ => reset(ws),
    }
    let error = within("the failure", pending).await.unwrap().expect_err("no result came");
    assert_eq!((error.kind, error.ambiguous), (RequestErrorKind::ConnectionLost, true), "{how:?}");
    let mut before = Vec::new();
    expect(&mut gw.events, "lost", |e| match e {
        ClientEvent::Connection(ConnectionEvent::Lost { .. }) => Some(()),
        // The connect's descriptor is old news; anything else came from the bad input.
        ClientEvent::Descriptor { .. } => None,
        other => {
            before.push(format!("{other:?}"));
            None
        }
    })
    .await;
    assert!(before.is_empty(), "{how:?}: no partial frame decoded: {before:?}");
    let _ws = server.accept_ready().await;
    expect(&mut gw.events, "reconnected", |e| {
        matches!(e, ClientEvent::Connection(ConnectionEvent::Reconnected)).then_some(())
    })
    .await;
    gw.client.close().await;
}

#[test]
fn a_reset_mid_frame_fails_pending_requests_as_ambiguous_and_decodes_nothing() {
    run(Duration::from_secs(20), async {
        crate::all_concurrently(vec![
            ("half a frame, then RST", dropped_mid_frame(Cut::FrameThenReset)),
            ("half a line, then RST", dropped_mid_frame(Cut::LineThenReset)),
            ("half a frame, then EOF", dropped_mid_frame(Cut::FrameThenEof)),
        ])
        .await;
    });
}

#[test]
fn a_result_arriving_after_the_gateway_closed_is_ignored() {
    run(Duration::from_secs(10), async {
        let server = RawServer::bind().await;
        let config = ClientConfig { shutdown_budget: Duration::ZERO, ..ClientConfig::default() };
        let (mut gw, mut ws) = connect_ready(&server, config).await;
        let pending = send_in_background(&gw.client, "in flight");
        let (id, _) = next_request(&mut ws).await;
        let client = gw.client.clone();
        let closing = tokio::spawn(async move { client.close().await });
        // The gateway's close frame arrives first; the result comes after it.
        let close = within("the close frame", ws.next()).await;
        assert!(matches!(close, Some(Ok(Message::Close(_)))), "{close:?}");
        let _ = ws.send(Message::text(result_line(&id, "late"))).await;
        let _ = ws.close(None).await;
        within("close", closing).await.unwrap();
        let error = within("the failure", pending).await.unwrap().expect_err("closed first");
        assert_eq!((error.kind, error.ambiguous), (RequestErrorKind::Closed, true));
        let rest = settle(&mut gw.events, Duration::from_millis(300)).await;
        assert!(
            rest.iter().all(|e| matches!(e, ClientEvent::Connection(ConnectionEvent::Stopped { .. }))),
            "{rest:?}"
        );
    });
}

#[test]
fn requests_made_during_a_slow_upgrade_are_held_and_sent_after_the_handshake() {
    run(Duration::from_secs(15), async {
        let server = RawServer::bind().await;
        let (mut gw, ws) = connect_ready(&server, ClientConfig::default()).await;
        drop(ws);
        expect(&mut gw.events, "lost", |e| {
            matches!(e, ClientEvent::Connection(ConnectionEvent::Lost { .. })).then_some(())
        })
        .await;
        // The re-dial's TCP connection is open; its upgrade is answered slowly.
        let tcp = server.accept_tcp().await;
        let held = send_in_background(&gw.client, "held during the dial");
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut ws = within("the upgrade", async_tungstenite::tokio::accept_async(tcp)).await.unwrap();
        crate::rawpeer::handshake(&mut ws).await;
        let (id, frame) = next_request(&mut ws).await;
        assert_eq!(frame["action"]["content"], "held during the dial");
        send_text(&mut ws, &result_line(&id, "held")).await;
        let result = within("the held request", held).await.unwrap().expect("held, then sent");
        assert_eq!(result.message_id.as_deref(), Some("held"));
        gw.client.close().await;
    });
}
