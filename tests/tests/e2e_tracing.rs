//! Tracing: a span per connection (side, connection number, gateway id,
//! identities) and per request (side, request id, op), with the same field
//! names on both sides; no secret and no message content in any of it.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use relay_core::connector::ConnectorConfig;
use relay_core::policy::{Secret, TokenVerifier};
use relay_driver::{ClientConfig, ServerConfig};
use support::{Replies, Rt, auto_connector};

/// Everything the subscriber writes, shared with the test.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn spans_name_connections_and_requests_never_contents(rt: Rt) {
    let secret = Secret::new("tr4ce-s3cret").unwrap();
    let config = ServerConfig {
        connector: ConnectorConfig::with_verifier(TokenVerifier::new([secret.clone()])),
        ..ServerConfig::default()
    };
    let (server, events) = rt.listen(config).await;
    let _seen = auto_connector(rt, server.clone(), events, Replies::Echo);
    let client_config = ClientConfig::default().with_auth("gw-traced", secret);
    let (client, _events) = rt.connect(&server.url(), client_config).await.unwrap();
    assert!(client.send("c1", "a private message").await.unwrap().success);
    client.close().await;
}

#[test]
fn spans_name_connections_and_requests() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    // Global: the connections run on the runtime's threads. This binary
    // holds this one test, so nothing else records into it.
    tracing::subscriber::set_global_default(subscriber).unwrap();
    support::run_on(
        "tokio",
        std::time::Duration::from_secs(30),
        spans_name_connections_and_requests_never_contents,
    );
    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    for side in ["gateway", "connector"] {
        let connection = format!("relay.connection{{side=\"{side}\" conn=1 gateway_id=\"gw-traced\"");
        assert!(text.contains(&connection), "{connection} in:\n{text}");
        assert!(
            text.contains(&format!("relay.request{{side=\"{side}\" request_id=")),
            "{side} request in:\n{text}"
        );
    }
    assert!(text.contains("op=\"send\""), "{text}");
    assert!(!text.contains("tr4ce-s3cret") && !text.contains("a private message"), "{text}");
}
