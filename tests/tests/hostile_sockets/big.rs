//! Volume over a real socket: a 1 GiB line with no newline, streamed in
//! 64 KiB binary messages, and a 50 MB passthrough body. These take the
//! memory lock exclusively, so the process's RSS measures them alone.

use std::time::{Duration, Instant};

use async_tungstenite::tungstenite::{Bytes, Message};
use futures::SinkExt as _;
use relay_core::wire::{DiagnosticKind, Forward};
use relay_driver::{ClientConfig, ClientEvent, ServerConfig, ServerEvent};

use crate::rawpeer::{
    HEAVY, RawServer, auto_server, connect_ready, expect, expect_on, inbound_line, next_request, result_line,
    rss_bytes, run_alone, send_in_background, send_text,
};

const GIB: usize = 1 << 30;
const MESSAGE: usize = 64 * 1024;

#[test]
fn a_gibibyte_line_streamed_in_64_kib_messages_is_discarded_in_bounded_memory() {
    let _alone = HEAVY.write().unwrap_or_else(std::sync::PoisonError::into_inner);
    run_alone(Duration::from_secs(60), async {
        let server = RawServer::bind().await;
        let (mut gw, mut ws) = connect_ready(&server, ClientConfig::default()).await;
        let pending = send_in_background(&gw.client, "across the flood");
        let (id, _) = next_request(&mut ws).await;
        let chunk = Bytes::from(vec![b'x'; MESSAGE]);
        let before = rss_bytes();
        let mut peak = before;
        let started = Instant::now();
        for i in 0..GIB / MESSAGE {
            ws.feed(Message::Binary(chunk.clone())).await.expect("the gateway keeps reading");
            if i % 256 == 0 {
                ws.flush().await.unwrap();
                peak = peak.max(rss_bytes());
            }
        }
        ws.flush().await.unwrap();
        send_text(&mut ws, "\n").await;
        send_text(&mut ws, &inbound_line("after the flood")).await;
        send_text(&mut ws, &result_line(&id, "survived")).await;
        let diagnostic = expect(&mut gw.events, "line_too_long", |e| match e {
            ClientEvent::Diagnostic(d) => Some(d.clone()),
            ClientEvent::Inbound { .. } => panic!("the over-long line must come first"),
            _ => None,
        })
        .await;
        let took = started.elapsed();
        peak = peak.max(rss_bytes());
        assert_eq!(diagnostic.kind, DiagnosticKind::LineTooLong);
        assert!(diagnostic.detail.contains(&GIB.to_string()), "{}", diagnostic.detail);
        let text = expect(&mut gw.events, "the next frame", |e| match e {
            ClientEvent::Inbound { event, .. } => Some(event.text.clone()),
            _ => None,
        })
        .await;
        assert_eq!(text, "after the flood");
        let result = pending.await.unwrap().expect("the request survived the flood");
        assert_eq!(result.message_id.as_deref(), Some("survived"));
        let growth = peak.saturating_sub(before);
        eprintln!(
            "1 GiB line over a socket: {took:?}, RSS {} MiB -> peak +{} MiB",
            before >> 20,
            growth >> 20
        );
        assert!(growth < 128 << 20, "RSS grew by {} MiB for a 1 GiB stream", growth >> 20);
        gw.client.close().await;
    });
}

#[test]
fn a_fifty_megabyte_passthrough_body_crosses_the_socket_exactly() {
    let _alone = HEAVY.write().unwrap_or_else(std::sync::PoisonError::into_inner);
    run_alone(Duration::from_secs(60), async {
        let (server, mut seen) = auto_server(ServerConfig::default()).await;
        let mut config = ClientConfig::default();
        config.gateway.max_line = 80 << 20;
        let (client, events) = relay_tokio::connect(&server.url(), config).await.unwrap();
        let mut events = Box::pin(events);
        let conn = expect_on(&mut seen, "connected", |e| match e {
            ServerEvent::Connected { conn, .. } => Some(*conn),
            _ => None,
        })
        .await;
        let body: Vec<u8> = (0..50_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        let started = Instant::now();
        let forward = Forward {
            platform: "discord".into(),
            method: "POST".into(),
            body: body.clone(),
            ..Forward::default()
        };
        server.push_forward(conn, forward).await.unwrap();
        let got = expect_on(&mut events, "the passthrough", |e| match e {
            ClientEvent::Passthrough { forward, .. } => Some(forward.body.clone()),
            _ => None,
        })
        .await;
        eprintln!("50 MB passthrough over a socket: {:?}", started.elapsed());
        assert_eq!(got.len(), body.len());
        assert!(got == body, "the body bytes differ");
        client.close().await;
    });
}
