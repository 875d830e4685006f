//! End to end over real loopback WebSockets, on tokio and on smol.

mod support;

use std::time::Duration;

use relay_core::gateway::Identity;
use relay_core::wire::{Forward, MessageEvent, Platform, SessionSource};
use relay_driver::{ClientConfig, ClientEvent, ServerConfig, ServerEvent};
use support::{Replies, Rt, auto_connector, expect};

async fn handshake_and_request(rt: Rt) {
    let (server, events) = rt.listen(ServerConfig::default()).await;
    let _seen = auto_connector(rt, server.clone(), events, Replies::Echo);
    let config = ClientConfig::default()
        .with_identities([Identity::new("discord", "d1"), Identity::new("telegram", "t1")]);
    let (client, _events) = rt.connect(&server.url(), config).await.expect("connects");
    assert_eq!(client.descriptor().unwrap().platform, "discord");
    let result = client.send("c1", "hello").await.expect("a result");
    assert!(result.success);
    assert_eq!(result.message_id.as_deref(), Some("srv-send"));
    let info = client.get_chat_info("c9").await;
    assert_eq!((info.name.as_str(), info.chat_type.as_str()), ("c9", "group"));
    client.close().await;
}

async fn many_concurrent_requests(rt: Rt) {
    let (server, events) = rt.listen(ServerConfig::default()).await;
    let _seen = auto_connector(rt, server.clone(), events, Replies::Echo);
    let (client, _events) = rt.connect(&server.url(), ClientConfig::default()).await.unwrap();
    let calls = (0..500).map(|i| {
        let client = client.clone();
        async move { client.send("c", &format!("m{i}")).await }
    });
    let results = futures::future::join_all(calls).await;
    assert!(results.iter().all(|r| r.as_ref().is_ok_and(|r| r.success)), "{results:?}");
    client.close().await;
}

async fn inbound_ack_and_interrupt_routing(rt: Rt) {
    let (server, events) = rt.listen(ServerConfig::default()).await;
    let mut seen = auto_connector(rt, server.clone(), events, Replies::Echo);
    let (client, mut events) = rt.connect(&server.url(), ClientConfig::default()).await.unwrap();
    // A push before `live` is buffered behind the (empty) backlog read.
    let conn = expect(rt, &mut seen, "live", |e| match e {
        ServerEvent::Live { conn } => Some(*conn),
        _ => None,
    })
    .await;
    let mut source = SessionSource::new(Platform::Telegram, "111", "dm");
    source.user_id = Some("111".into());
    server.push_inbound(conn, MessageEvent::text(source, "hi there")).await.unwrap();
    let text = expect(rt, &mut events, "inbound", |e| match e {
        ClientEvent::Inbound { event, buffer_id: None } => Some(event.text.clone()),
        _ => None,
    })
    .await;
    assert_eq!(text, "hi there");
    // The connection that received the session's event owns its interrupts.
    server.push_interrupt("agent:main:telegram:dm:111", "111").await.unwrap();
    let key = expect(rt, &mut events, "interrupt", |e| match e {
        ClientEvent::Interrupt { session_key, .. } => Some(session_key.clone()),
        _ => None,
    })
    .await;
    assert_eq!(key, "agent:main:telegram:dm:111");
    client.interrupt("agent:main:telegram:dm:111", Some("stop")).await.unwrap();
    let reason = expect(rt, &mut seen, "gateway interrupt", |e| match e {
        ServerEvent::Interrupt { reason, .. } => Some(reason.clone()),
        _ => None,
    })
    .await;
    assert_eq!(reason.as_deref(), Some("stop"));
    client.close().await;
}

async fn passthrough_bytes_are_exact(rt: Rt) {
    let (server, events) = rt.listen(ServerConfig::default()).await;
    let mut seen = auto_connector(rt, server.clone(), events, Replies::Echo);
    let (client, mut events) = rt.connect(&server.url(), ClientConfig::default()).await.unwrap();
    // A push before `live` is buffered behind the (empty) backlog read.
    let conn = expect(rt, &mut seen, "live", |e| match e {
        ServerEvent::Live { conn } => Some(*conn),
        _ => None,
    })
    .await;
    let body: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let forward = Forward {
        platform: "discord".into(),
        method: "POST".into(),
        body: body.clone(),
        ..Forward::default()
    };
    server.push_forward(conn, forward).await.unwrap();
    let got = expect(rt, &mut events, "passthrough", |e| match e {
        ClientEvent::Passthrough { forward, .. } => Some(forward.body.clone()),
        _ => None,
    })
    .await;
    assert_eq!(got, body);
    client.close().await;
}

async fn requests_time_out_when_the_connector_is_silent(rt: Rt) {
    let (server, events) = rt.listen(ServerConfig::default()).await;
    let _seen = auto_connector(rt, server.clone(), events, Replies::Silent);
    let mut config = ClientConfig::default();
    config.gateway.request_timeout = Duration::from_millis(300);
    let (client, _events) = rt.connect(&server.url(), config).await.unwrap();
    let error = client.send("c", "x").await.unwrap_err();
    assert_eq!(error.to_string(), "relay outbound timed out");
    assert!(error.ambiguous);
    client.close().await;
}

on_both_runtimes!(
    handshake_and_request,
    many_concurrent_requests,
    inbound_ack_and_interrupt_routing,
    passthrough_bytes_are_exact,
    requests_time_out_when_the_connector_is_silent,
);
