//! The connectors `relay conform connector` is run against, besides the
//! fake: a library connector on either runtime, and a peer that accepts TCP
//! and never says anything.

use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

use relay_core::connector::{ConnectorConfig, descriptor_for, echo_result};
use relay_core::policy::{Secret, TokenVerifier};
use relay_core::wire::ActionResult;
use relay_driver::{ServerConfig, ServerEvent};

use super::support::Rt;

/// A library connector (`relay_driver::listen`) on `rt`, answering as a
/// connector must: each hello with its platform's descriptor, each request
/// the descriptor allows with an echo, any other with a failure. Auth on
/// with `secret`. Runs on a thread of its own until the process ends.
pub(crate) fn library_connector(rt: Rt, secret: &str) -> String {
    let verifier = TokenVerifier::new(Secret::new(secret));
    let config =
        ServerConfig { connector: ConnectorConfig::with_verifier(verifier), ..ServerConfig::default() };
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let serve = async move {
            let (handle, mut events) = rt.listen(config).await;
            let _ = tx.send(handle.url());
            while let Some(event) = events.next().await {
                match event {
                    ServerEvent::Hello { conn, identity, .. } => {
                        let _ = handle.answer_hello(conn, descriptor_for(&identity.platform)).await;
                    }
                    ServerEvent::Request { conn, request_id, identity, action } => {
                        let result = if descriptor_for(&identity.platform).allows_op(action.op()) {
                            echo_result(&action)
                        } else {
                            ActionResult::failed(format!("op not supported: {}", action.op()))
                        };
                        let _ = handle.respond(conn, &request_id, result).await;
                    }
                    _ => {}
                }
            }
        };
        match rt {
            Rt::Tokio => tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("a tokio runtime")
                .block_on(serve),
            Rt::Smol => smol::block_on(serve),
        }
    });
    rx.recv_timeout(Duration::from_secs(10)).expect("the library connector listens")
}

/// A port that completes every WebSocket upgrade, on any path and with any
/// token, then never sends a byte and never reads (so no pong either).
/// Lives as long as the listener it returns.
pub(crate) fn mute_peer() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
    let url = format!("ws://{}/relay", listener.local_addr().expect("a bound address"));
    let accepting = listener.try_clone().expect("a second handle on the listener");
    std::thread::spawn(move || {
        for stream in accepting.incoming() {
            let Ok(stream) = stream else { break };
            // Each upgrade on a thread of its own, so that one the kit gave
            // up on never holds up the next; the socket is kept, unread,
            // until the kit's run is over (a failed upgrade drops it).
            std::thread::spawn(move || {
                if let Ok(ws) = async_tungstenite::tungstenite::accept(stream) {
                    std::thread::sleep(std::time::Duration::from_secs(70));
                    drop(ws);
                }
            });
        }
    });
    (listener, url)
}

/// A port that accepts TCP connections, holds them, and never sends a byte.
/// Lives as long as the listener it returns.
pub(crate) fn silent_peer() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
    let url = format!("ws://{}/relay", listener.local_addr().expect("a bound address"));
    let accepting = listener.try_clone().expect("a second handle on the listener");
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in accepting.incoming() {
            match stream {
                Ok(stream) => held.push(stream),
                Err(_) => break,
            }
        }
    });
    (listener, url)
}
