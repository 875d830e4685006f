//! relay on smol: a gateway client that dials a connector, and a connector
//! server that accepts gateways. The API is the same as `relay-tokio`'s; only
//! the runtime differs.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use relay_smol::{ClientConfig, ClientEvent, connect};
//!
//! smol::block_on(async {
//!     let (client, mut events) = connect("http://localhost:8080", ClientConfig::default()).await?;
//!     while let Some(event) = events.next().await {
//!         if let ClientEvent::Inbound { event, buffer_id } = event {
//!             client.send(&event.source.chat_id, &format!("echo: {}", event.text)).await?;
//!             if let Some(id) = buffer_id {
//!                 client.ack(&id).await?;
//!             }
//!         }
//!     }
//!     Ok(())
//! })
//! # }
//! ```

use std::io;
use std::net::SocketAddr;
use std::time::Instant;

pub use relay_driver::*;

/// The smol [`Runtime`]: tasks run on smol's global executor.
#[derive(Debug, Clone, Copy, Default)]
pub struct Smol;

impl Runtime for Smol {
    type Tcp = smol::net::TcpStream;
    type Listener = smol::net::TcpListener;

    fn now(&self) -> Instant {
        Instant::now()
    }

    fn sleep_until(&self, at: Instant) -> BoxFuture<()> {
        Box::pin(async move {
            smol::Timer::at(at).await;
        })
    }

    fn spawn(&self, future: impl Future<Output = ()> + Send + 'static) {
        smol::spawn(future).detach();
    }

    async fn connect_tcp(&self, host: &str, port: u16) -> io::Result<Self::Tcp> {
        let stream = smol::net::TcpStream::connect((host, port)).await?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }

    async fn bind(&self, addr: SocketAddr) -> io::Result<Self::Listener> {
        smol::net::TcpListener::bind(addr).await
    }

    fn local_addr(listener: &Self::Listener) -> io::Result<SocketAddr> {
        listener.local_addr()
    }

    async fn accept(listener: &Self::Listener) -> io::Result<(Self::Tcp, SocketAddr)> {
        let (stream, peer) = listener.accept().await?;
        stream.set_nodelay(true)?;
        Ok((stream, peer))
    }
}

/// Dials the connector at `url` on smol; see [`relay_driver::connect`].
pub async fn connect(url: &str, config: ClientConfig) -> Result<(Client, Events), ConnectError> {
    relay_driver::connect(Smol, url, config).await
}

/// Runs a connector server on smol; see [`relay_driver::listen`].
pub async fn listen(addr: SocketAddr, config: ServerConfig) -> io::Result<(ServerHandle, ServerEvents)> {
    relay_driver::listen(Smol, addr, config).await
}
