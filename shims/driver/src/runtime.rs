//! What a runtime crate provides: time, sleeping, spawning and TCP.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Instant;

use futures::{AsyncRead, AsyncWrite};

/// A boxed, sendable future.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// The few things the driver needs from an async runtime. `relay-smol` and
/// `relay-tokio` implement it in a few dozen lines each; everything else is shared.
pub trait Runtime: Clone + Send + Sync + Unpin + 'static {
    /// A connected TCP stream.
    type Tcp: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    /// A bound TCP listener.
    type Listener: Send + 'static;

    /// The current time (a runtime with a paused test clock returns its own).
    fn now(&self) -> Instant;

    /// A future that completes at `at`.
    fn sleep_until(&self, at: Instant) -> BoxFuture<()>;

    /// Runs `future` in the background.
    fn spawn(&self, future: impl Future<Output = ()> + Send + 'static);

    /// Opens a TCP connection to `host:port`.
    fn connect_tcp(&self, host: &str, port: u16) -> impl Future<Output = io::Result<Self::Tcp>> + Send;

    /// Binds a listener on `addr` (port 0 picks a free one).
    fn bind(&self, addr: SocketAddr) -> impl Future<Output = io::Result<Self::Listener>> + Send;

    /// The address a listener is bound to.
    fn local_addr(listener: &Self::Listener) -> io::Result<SocketAddr>;

    /// Accepts the next connection.
    fn accept(listener: &Self::Listener) -> impl Future<Output = io::Result<(Self::Tcp, SocketAddr)>> + Send;
}

/// A seed from the operating system's randomness, for request ids and jitter
/// (PROTOCOL §2: ids must not repeat across connections or processes).
pub fn os_seed() -> u64 {
    // Falling back to the time keeps a machine without an entropy source
    // working; ids then still differ per process start.
    getrandom::u64().unwrap_or_else(|_| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64 ^ u64::from(std::process::id()))
            .unwrap_or(0)
    })
}

/// Seconds since the Unix epoch (for upgrade-token expiry).
pub fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}
