//! The runtime-independent part of relay's async layer: it puts
//! `relay-core` machines on async-tungstenite WebSockets.
//!
//! Applications use `relay-smol` or `relay-tokio`, which implement
//! [`Runtime`] and re-export this crate's API. Everything here is a thin
//! loop: protocol rules live in `relay-core`.
//!
//! - [`connect`] dials a connector and returns a [`Client`] (cheap to clone;
//!   every call is bounded) and an [`Events`] stream.
//! - [`listen`] runs a connector server: a [`ServerHandle`] to answer hellos
//!   and requests and push frames, and a stream of [`ServerEvent`]s.
//! - Reconnecting follows `relay_core::policy::Reconnect`: a fresh machine per
//!   connection, calls failing fast during an outage, [`ConnectionEvent`]s for
//!   the application.
//! - Backpressure: events wait in a bounded channel; when the application
//!   falls behind, the connection stops reading from its socket until it
//!   catches up, so memory stays bounded.

mod client;
mod command_sender;
mod connector_side;
mod dial;
mod events;
mod fabric;
mod gateway_side;
mod metrics;
mod recording;
mod runtime;
mod server;
mod server_events;
mod server_fabric;
mod socket;
mod store_timeout;
mod stream;
mod supervisor;
mod tls;
mod wake;

use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;
use futures::channel::{mpsc, oneshot};

pub use client::{Client, ClientConfig, IdleOutcome};
pub use dial::{DialError, DialTarget, open_websocket, websocket_config};
pub use events::{ClientEvent, ConnectionEvent};
pub use fabric::{Fabric, Holder, News, NewsListener};
pub use recording::{Direction, Recorded, Recorder};
pub use runtime::{BoxFuture, Runtime, os_seed, unix_now};
pub use server::{Delivery, ServerConfig, ServerError, ServerEvents, ServerHandle, Tap, listen};
pub use server_events::{ConnId, ServerEvent};
pub use stream::MaybeTls;
pub use supervisor::ConnectError;
pub use tls::TlsRoots;
pub use wake::Wake;

/// Re-exported for building TLS configurations (server certificates, extra roots).
pub use futures_rustls::rustls;
/// Re-exported so applications need not depend on relay-core directly.
pub use relay_core;

/// The events of one client, in arrival order; ends when the client stopped.
#[derive(Debug)]
pub struct Events(mpsc::Receiver<ClientEvent>);

impl Events {
    /// The next event, or `None` once the client stopped.
    pub async fn next(&mut self) -> Option<ClientEvent> {
        futures::StreamExt::next(&mut self.0).await
    }
}

impl Stream for Events {
    type Item = ClientEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<ClientEvent>> {
        Pin::new(&mut self.0).poll_next(cx)
    }
}

/// Dials the connector at `url` (normalized per PROTOCOL §8) and returns once
/// the handshake completed, or fails with the last cause once the connect
/// budget (default 30 s) runs out. It never waits longer than that.
pub async fn connect<R: Runtime>(
    rt: R,
    url: &str,
    config: ClientConfig,
) -> Result<(Client, Events), ConnectError> {
    let target = DialTarget::parse(url).map_err(|e| ConnectError::BadUrl(e.to_string()))?;
    let (commands_tx, commands) = mpsc::channel(config.command_capacity.max(1));
    let (control_tx, control) = mpsc::unbounded();
    let (events_tx, events) = mpsc::channel(config.event_capacity.max(1));
    let shared = client::Shared::default();
    let client = Client::new(commands_tx, control_tx, shared.clone(), &config);
    let supervisor = supervisor::Supervisor {
        rt: rt.clone(),
        config,
        target,
        commands,
        control,
        events: events_tx,
        shared,
    };
    let (connected_tx, connected) = oneshot::channel();
    rt.spawn(supervisor.run(connected_tx));
    match connected.await {
        Ok(Ok(())) => Ok((client, Events(events))),
        Ok(Err(error)) => Err(error),
        Err(_) => Err(ConnectError::Closed),
    }
}
