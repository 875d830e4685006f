//! Connection management end to end: drops, reconnects, 4401 strikes,
//! buffered replay, TLS, shutdown, backpressure — on tokio and on smol.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use relay_core::connector::{BacklogKey, ConnectorConfig};
use relay_core::gateway::Identity;
use relay_core::policy::{Secret, TokenVerifier};
use relay_core::wire::{MessageEvent, Platform, SessionSource};
use relay_driver::rustls;
use relay_driver::{
    ClientConfig, ClientEvent, ConnectError, ConnectionEvent, Delivery, ServerConfig, ServerEvent, TlsRoots,
};
use support::{Replies, Rt, auto_connector, expect};

fn connected(e: &ServerEvent) -> Option<u64> {
    match e {
        ServerEvent::Connected { conn, .. } => Some(*conn),
        _ => None,
    }
}

fn event(text: &str) -> MessageEvent {
    MessageEvent::text(SessionSource::new(Platform::Telegram, "42", "group"), text)
}

async fn drop_fails_pending_then_reconnects(rt: Rt) {
    let (server, events) = rt.listen(ServerConfig::default()).await;
    let mut seen = auto_connector(rt, server.clone(), events, Replies::Silent);
    let (client, mut events) = rt.connect(&server.url(), ClientConfig::default()).await.unwrap();
    let first = expect(rt, &mut seen, "connected", connected).await;
    let pending = {
        let client = client.clone();
        let task = async move { client.send("c", "lost in flight").await };
        let (tx, rx) = futures::channel::oneshot::channel();
        rt.spawn(async move {
            let _ = tx.send(task.await);
        });
        rx
    };
    expect(rt, &mut seen, "the request", |e| matches!(e, ServerEvent::Request { .. }).then_some(())).await;
    server.close(first).await.unwrap();
    let error = pending.await.unwrap().unwrap_err();
    assert_eq!(error.to_string(), "relay transport connection lost");
    assert!(error.ambiguous, "the frame had left");
    expect(rt, &mut events, "lost", |e| {
        matches!(e, ClientEvent::Connection(ConnectionEvent::Lost { .. })).then_some(())
    })
    .await;
    let started = Instant::now();
    expect(rt, &mut events, "reconnected", |e| {
        matches!(e, ClientEvent::Connection(ConnectionEvent::Reconnected)).then_some(())
    })
    .await;
    assert!(started.elapsed() < Duration::from_secs(3), "first re-dial waits at most 1 s");
    let second = expect(rt, &mut seen, "second connection", connected).await;
    assert_ne!(first, second);
    client.close().await;
}

async fn requests_fail_fast_during_an_outage(rt: Rt) {
    let (server, events) = rt.listen(ServerConfig::default()).await;
    let mut seen = auto_connector(rt, server.clone(), events, Replies::Echo);
    let (client, mut events) = rt.connect(&server.url(), ClientConfig::default()).await.unwrap();
    let conn = expect(rt, &mut seen, "connected", connected).await;
    // Refuse new connections from now on: the client stays in an outage.
    server.set_verifier(TokenVerifier::new([Secret::new("nobody has this").unwrap()]));
    server.close(conn).await.unwrap();
    expect(rt, &mut events, "lost", |e| {
        matches!(e, ClientEvent::Connection(ConnectionEvent::Lost { .. })).then_some(())
    })
    .await;
    rt.sleep(Duration::from_millis(50)).await;
    let started = Instant::now();
    let error = client.send("c", "x").await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(1), "fails fast, does not wait for a connection");
    assert!(!error.ambiguous);
    assert!(
        ["relay transport not connected", "relay transport connection lost"]
            .contains(&error.to_string().as_str()),
        "{error}"
    );
    client.close().await;
}

async fn second_4401_after_a_strike_revokes(rt: Rt) {
    let secret = Secret::new("s3cret").unwrap();
    let config = ServerConfig {
        connector: ConnectorConfig::with_verifier(TokenVerifier::new([secret.clone()])),
        ..ServerConfig::default()
    };
    let (server, events) = rt.listen(config).await;
    let mut seen = auto_connector(rt, server.clone(), events, Replies::Echo);
    let client_config = ClientConfig::default().with_auth("gw-1", secret);
    let (client, mut events) = rt.connect(&server.url(), client_config).await.unwrap();
    let conn = expect(rt, &mut seen, "connected", |e| match e {
        ServerEvent::Connected { conn, gateway_id } => Some((*conn, gateway_id.clone())),
        _ => None,
    })
    .await;
    assert_eq!(conn.1.as_deref(), Some("gw-1"));
    // The connector revokes the secret and drops the connection.
    server.set_verifier(TokenVerifier::new([Secret::new("rotated").unwrap()]));
    server.close(conn.0).await.unwrap();
    expect(rt, &mut events, "revoked", |e| {
        matches!(e, ClientEvent::Connection(ConnectionEvent::Revoked)).then_some(())
    })
    .await;
    let rejections = expect(rt, &mut seen, "two rejections", {
        let mut count = 0;
        move |e| {
            if matches!(
                e,
                ServerEvent::Closed { reason: relay_core::connector::CloseReason::Rejected(_), .. }
            ) {
                count += 1;
            }
            (count == 2).then_some(count)
        }
    })
    .await;
    assert_eq!(rejections, 2);
    // Terminal: no further dial, calls fail definitely.
    rt.sleep(Duration::from_millis(1500)).await;
    assert!(server.connections().is_empty());
    let error = client.send("c", "x").await.unwrap_err();
    assert_eq!((error.to_string().as_str(), error.ambiguous), ("relay transport not connected", false));
}

async fn buffered_events_replay_after_a_reconnect_with_acks(rt: Rt) {
    buffered_replay_with_acks(rt, ServerConfig::default()).await;
}

async fn buffered_events_replay_after_a_reconnect_with_acks_on_a_file_store(rt: Rt) {
    let dir = tempfile::tempdir().unwrap();
    buffered_replay_with_acks(rt, file_store_config(&dir.path().join("backlog.redb"))).await;
}

/// A server whose backlog lives in a `relay_store::FileStore` at `path`.
fn file_store_config(path: &std::path::Path) -> ServerConfig {
    let store = relay_store::FileStore::open(path).unwrap();
    let store = relay_store::StoreHandle::spawn(store, relay_store::StoreOptions::default());
    ServerConfig { store: Some(store), ..ServerConfig::default() }
}

/// Five pushes buffered while the gateway is idle come back in order after
/// it reconnects, and its acks empty the backlog of the store `config` names.
async fn buffered_replay_with_acks(rt: Rt, config: ServerConfig) {
    let (server, events) = rt.listen(config).await;
    let mut seen = auto_connector(rt, server.clone(), events, Replies::Echo);
    let (client, mut events) = rt.connect(&server.url(), ClientConfig::default()).await.unwrap();
    let conn = expect(rt, &mut seen, "connected", connected).await;
    assert_eq!(client.go_idle().await, relay_driver::IdleOutcome::Acknowledged);
    let mut buffered = Vec::new();
    for i in 0..5 {
        match server.push_inbound(conn, event(&format!("while asleep {i}"))).await.unwrap() {
            Delivery::Buffered { buffer_id } => buffered.push(buffer_id),
            other => panic!("expected buffering, got {other:?}"),
        }
    }
    let key = BacklogKey::Identity(Identity::default_relay());
    assert_eq!(server.backlog_len(&key).await, Ok(5));
    // The gateway's host suspends: the connection drops, the gateway re-dials.
    server.close(conn).await.unwrap();
    let mut received = Vec::new();
    while received.len() < 5 {
        let (text, buffer_id) = expect(rt, &mut events, "replayed event", |e| match e {
            ClientEvent::Inbound { event, buffer_id: Some(id) } => Some((event.text.clone(), id.clone())),
            _ => None,
        })
        .await;
        client.ack(&buffer_id).await.unwrap();
        received.push((text, buffer_id));
    }
    let texts: Vec<&str> = received.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(texts, (0..5).map(|i| format!("while asleep {i}")).collect::<Vec<_>>());
    let ids: Vec<String> = received.into_iter().map(|(_, id)| id).collect();
    assert_eq!(ids, buffered);
    // The replay ends when the new connection goes live. An empty backlog
    // alone does not mean that: the removals can finish before the replay's
    // last read does, and a push in between is still buffered.
    let conn2 = expect(rt, &mut seen, "live on the new connection", |e| match e {
        ServerEvent::Live { conn: live } if *live != conn => Some(*live),
        _ => None,
    })
    .await;
    // Every removal was queued before `live`, so a count queued now sees them.
    assert_eq!(server.backlog_len(&key).await, Ok(0), "the acks emptied the backlog");
    // Live delivery resumes.
    assert_eq!(server.push_inbound(conn2, event("awake")).await.unwrap(), Delivery::Sent);
    client.close().await;
}

fn tls_pair() -> (Arc<rustls::ServerConfig>, TlsRoots) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let cert_der = cert.cert.der().clone();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.signing_key.serialize_der().into());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert_der.clone()], key)
        .unwrap();
    (Arc::new(server), TlsRoots::default().with_ca(cert_der).only_extra())
}

async fn wss_with_a_test_ca(rt: Rt) {
    let (server_tls, roots) = tls_pair();
    let (server, events) = rt.listen(ServerConfig { tls: Some(server_tls), ..ServerConfig::default() }).await;
    let _seen = auto_connector(rt, server.clone(), events, Replies::Echo);
    let url = format!("wss://localhost:{}/relay", server.local_addr().port());
    let (client, _events) =
        rt.connect(&url, ClientConfig { tls: roots, ..ClientConfig::default() }).await.unwrap();
    assert!(client.send("c", "over tls").await.unwrap().success);
    client.close().await;
    // Without the CA the certificate is refused and connect gives up within its budget.
    let config = ClientConfig { connect_budget: Duration::from_millis(800), ..ClientConfig::default() };
    let error = rt.connect(&url, config).await.unwrap_err();
    assert!(error.to_string().contains("TLS"), "{error}");
}

async fn close_stays_within_its_budget(rt: Rt) {
    let (server, events) = rt.listen(ServerConfig::default()).await;
    let _seen = auto_connector(rt, server.clone(), events, Replies::Silent);
    let config = ClientConfig { shutdown_budget: Duration::from_millis(500), ..ClientConfig::default() };
    let (client, _events) = rt.connect(&server.url(), config).await.unwrap();
    let waiting = {
        let client = client.clone();
        let (tx, rx) = futures::channel::oneshot::channel();
        rt.spawn(async move {
            let _ = tx.send(client.send("c", "never answered").await);
        });
        rx
    };
    rt.sleep(Duration::from_millis(50)).await;
    let started = Instant::now();
    client.close().await;
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(400) && took < Duration::from_secs(3), "close took {took:?}");
    let error = waiting.await.unwrap().unwrap_err();
    assert_eq!((error.to_string().as_str(), error.ambiguous), ("relay transport closed", true));
    let after = client.send("c", "after close").await.unwrap_err();
    assert!(!after.ambiguous);
}

async fn slow_consumer_pushes_back_instead_of_buffering(rt: Rt) {
    let (server, events) = rt.listen(ServerConfig::default()).await;
    let mut seen = auto_connector(rt, server.clone(), events, Replies::Echo);
    let config = ClientConfig { event_capacity: 4, ..ClientConfig::default() };
    let (client, mut events) = rt.connect(&server.url(), config).await.unwrap();
    let conn = expect(rt, &mut seen, "connected", connected).await;
    // Pushes before the (empty) backlog was read would be buffered, not live.
    expect(rt, &mut seen, "live", |e| matches!(e, ServerEvent::Live { conn: c } if *c == conn).then_some(()))
        .await;
    let total = 20_000;
    let pushed = Arc::new(AtomicUsize::new(0));
    {
        let (server, pushed) = (server.clone(), Arc::clone(&pushed));
        rt.spawn(async move {
            for i in 0..total {
                if server.push_inbound(conn, event(&format!("{i:05} {}", "x".repeat(200)))).await.is_err() {
                    return;
                }
                pushed.fetch_add(1, Ordering::SeqCst);
            }
        });
    }
    rt.sleep(Duration::from_millis(1500)).await;
    let stalled_at = pushed.load(Ordering::SeqCst);
    assert!(stalled_at < total, "the pusher should be held back while nobody reads");
    let mut next = 0;
    while next < total {
        let text = expect(rt, &mut events, "inbound", |e| match e {
            ClientEvent::Inbound { event, .. } => Some(event.text.clone()),
            _ => None,
        })
        .await;
        assert!(text.starts_with(&format!("{next:05} ")), "out of order at {next}: {}", &text[..5]);
        next += 1;
    }
    client.close().await;
}

async fn connect_gives_up_within_its_budget(rt: Rt) {
    // A port nobody listens on: bind one, note it, drop it.
    let (server, _events) = rt.listen(ServerConfig::default()).await;
    let url = server.url();
    drop(server);
    rt.sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    let config = ClientConfig { connect_budget: Duration::from_millis(1500), ..ClientConfig::default() };
    let error = rt.connect(&url, config).await.unwrap_err();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(4), "took {took:?}");
    assert!(matches!(error, ConnectError::Failed(_)), "{error:?}");
    assert!(error.to_string().contains("refused") || error.to_string().contains("failed"), "{error}");
    let bad = rt.connect("ftp://example.com", ClientConfig::default()).await.unwrap_err();
    assert!(matches!(bad, ConnectError::BadUrl(_)), "{bad:?}");
}

async fn other_paths_are_refused(rt: Rt) {
    let (server, _events) = rt.listen(ServerConfig::default()).await;
    let url = format!("ws://{}/elsewhere", server.local_addr());
    let config = ClientConfig { connect_budget: Duration::from_millis(600), ..ClientConfig::default() };
    let error = rt.connect(&url, config).await.unwrap_err();
    assert!(error.to_string().contains("400"), "{error}");
}

on_both_runtimes!(
    drop_fails_pending_then_reconnects,
    requests_fail_fast_during_an_outage,
    second_4401_after_a_strike_revokes,
    buffered_events_replay_after_a_reconnect_with_acks,
    buffered_events_replay_after_a_reconnect_with_acks_on_a_file_store,
    wss_with_a_test_ca,
    close_stays_within_its_budget,
    slow_consumer_pushes_back_instead_of_buffering,
    connect_gives_up_within_its_budget,
    other_paths_are_refused,
);
