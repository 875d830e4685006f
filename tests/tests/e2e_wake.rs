//! The wake hook (`ServerConfig::wake`): called when frames start waiting
//! for a gateway that is idle or offline, once per cooldown per gateway,
//! never for a gateway that takes its frames live.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use relay_core::connector::{BacklogKey, BufferedFrame};
use relay_core::gateway::Identity;
use relay_core::wire::{MessageEvent, Platform, SessionSource};
use relay_driver::{ClientConfig, Delivery, IdleOutcome, ServerConfig, ServerEvent, Wake};
use support::{Replies, Rt, auto_connector, expect};

fn event(text: &str) -> BufferedFrame {
    BufferedFrame::Inbound(Box::new(MessageEvent::text(
        SessionSource::new(Platform::Telegram, "1", "dm"),
        text,
    )))
}

/// A hook that records the gateways it is called for.
fn recording(cooldown: Duration) -> (Wake, Arc<Mutex<Vec<BacklogKey>>>) {
    let woken = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&woken);
    let wake = Wake { cooldown, ..Wake::new(move |key| record.lock().unwrap().push(key.clone())) };
    (wake, woken)
}

async fn an_idle_gateway_is_woken_once_per_cooldown(rt: Rt) {
    let (wake, woken) = recording(Duration::from_millis(400));
    let (server, events) = rt.listen(ServerConfig { wake: Some(wake), ..ServerConfig::default() }).await;
    let mut seen = auto_connector(rt, server.clone(), events, Replies::Echo);
    let (client, _events) = rt.connect(&server.url(), ClientConfig::default()).await.unwrap();
    expect(rt, &mut seen, "live", |e| matches!(e, ServerEvent::Live { .. }).then_some(())).await;
    let key = BacklogKey::Identity(Identity::default_relay());
    assert_eq!(server.push(&key, event("live")).await.unwrap(), Delivery::Sent);
    assert!(woken.lock().unwrap().is_empty(), "a live gateway is not woken");

    assert_eq!(client.go_idle().await, IdleOutcome::Acknowledged);
    for i in 0..5 {
        let delivery = server.push(&key, event(&format!("asleep {i}"))).await.unwrap();
        assert!(matches!(delivery, Delivery::Buffered { .. }), "{delivery:?}");
    }
    assert_eq!(woken.lock().unwrap().as_slice(), std::slice::from_ref(&key), "once for the five");
    rt.sleep(Duration::from_millis(500)).await;
    server.push(&key, event("after the cooldown")).await.unwrap();
    assert_eq!(woken.lock().unwrap().len(), 2, "again after the cooldown");

    // A gateway never seen is offline: woken too.
    let offline = BacklogKey::Gateway("never-connected".into());
    server.push(&offline, event("for later")).await.unwrap();
    assert_eq!(woken.lock().unwrap().last(), Some(&offline));
    client.close().await;
}

async fn a_hook_that_calls_back_into_the_server_does_not_deadlock(rt: Rt) {
    let handle = Arc::new(std::sync::OnceLock::<relay_driver::ServerHandle>::new());
    let (tx, rx) = std::sync::mpsc::channel();
    let inside = Arc::clone(&handle);
    // The hook asks the server something: it must not run under the server's lock.
    let wake =
        Wake::new(move |key| drop(tx.send((key.clone(), inside.get().map(|h| h.connections().len())))));
    let (server, events) = rt.listen(ServerConfig { wake: Some(wake), ..ServerConfig::default() }).await;
    handle.set(server.clone()).unwrap();
    let _seen = auto_connector(rt, server.clone(), events, Replies::Echo);
    let key = BacklogKey::Gateway("gw".into());
    server.push(&key, event("one")).await.unwrap();
    assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), (key.clone(), Some(0)));
    assert_eq!(server.backlog_len(&key).await, Ok(1));
}

on_both_runtimes!(
    an_idle_gateway_is_woken_once_per_cooldown,
    a_hook_that_calls_back_into_the_server_does_not_deadlock
);
