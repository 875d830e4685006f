//! relay on tokio: a gateway client that dials a connector, and a connector
//! server that accepts gateways. The API is the same as `relay-smol`'s; only
//! the runtime differs.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use relay_tokio::{ClientConfig, ClientEvent, connect};
//!
//! let (client, mut events) = connect("http://localhost:8080", ClientConfig::default()).await?;
//! while let Some(event) = events.next().await {
//!     if let ClientEvent::Inbound { event, buffer_id } = event {
//!         client.send(&event.source.chat_id, &format!("echo: {}", event.text)).await?;
//!         if let Some(id) = buffer_id {
//!             client.ack(&id).await?;
//!         }
//!     }
//! }
//! # Ok(())
//! # }
//! ```

use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use async_tungstenite::tokio::TokioAdapter;
pub use relay_driver::*;

/// The tokio [`Runtime`]: must be used from within a tokio runtime.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tokio;

impl Runtime for Tokio {
    type Tcp = TokioAdapter<tokio::net::TcpStream>;
    type Listener = tokio::net::TcpListener;

    fn now(&self) -> Instant {
        tokio::time::Instant::now().into_std()
    }

    fn sleep_until(&self, at: Instant) -> BoxFuture<()> {
        Box::pin(tokio::time::sleep_until(tokio::time::Instant::from_std(at)))
    }

    fn spawn(&self, future: impl Future<Output = ()> + Send + 'static) {
        drop(tokio::spawn(future));
    }

    async fn connect_tcp(&self, host: &str, port: u16) -> io::Result<Self::Tcp> {
        let stream = tokio::net::TcpStream::connect((host, port)).await?;
        stream.set_nodelay(true)?;
        Ok(TokioAdapter::new(stream))
    }

    async fn bind(&self, addr: SocketAddr) -> io::Result<Self::Listener> {
        tokio::net::TcpListener::bind(addr).await
    }

    fn local_addr(listener: &Self::Listener) -> io::Result<SocketAddr> {
        listener.local_addr()
    }

    async fn accept(listener: &Self::Listener) -> io::Result<(Self::Tcp, SocketAddr)> {
        let (stream, peer) = listener.accept().await?;
        stream.set_nodelay(true)?;
        Ok((TokioAdapter::new(stream), peer))
    }
}

/// Dials the connector at `url` on tokio; see [`relay_driver::connect`].
pub async fn connect(url: &str, config: ClientConfig) -> Result<(Client, Events), ConnectError> {
    relay_driver::connect(Tokio, url, config).await
}

/// Runs a connector server on tokio; see [`relay_driver::listen`].
pub async fn listen(addr: SocketAddr, config: ServerConfig) -> io::Result<(ServerHandle, ServerEvents)> {
    relay_driver::listen(Tokio, addr, config).await
}
