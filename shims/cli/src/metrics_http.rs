//! `--metrics ADDR`: Prometheus text on `http://ADDR/metrics` and a health
//! check on `/healthz`, for `relay serve` and `relay dial`.
//!
//! The exporter crate renders; this serves the two paths with the least
//! HTTP that scrapers and probes need: one `GET` per connection, answered
//! and closed, every read and write bounded in time.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

use crate::stdio::Failure;

/// How long a client may take to send its request, or to read the answer.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);
/// The most bytes of a request head read.
const MAX_HEAD: usize = 8 * 1024;

/// Whether the process is healthy (for `serve`: its store answers).
pub(crate) type Health = Arc<dyn Fn() -> bool + Send + Sync>;

/// Installs the Prometheus recorder and serves it on `addr`; returns the
/// `/metrics` URL. Call once per process, inside the runtime.
pub(crate) async fn start(addr: &str, health: Health) -> Result<String, Failure> {
    let addr: SocketAddr = addr.parse().map_err(|_| {
        Failure::Usage(format!(
            "--metrics {addr:?} is not an address to listen on; pass host:port, e.g. 127.0.0.1:9100"
        ))
    })?;
    let handle = PrometheusBuilder::new()
        .install_recorder()
        .map_err(|e| Failure::Runtime(format!("could not install the metrics recorder: {e}")))?;
    let listener = TcpListener::bind(addr).await.map_err(|e| {
        Failure::Runtime(format!(
            "could not listen for metrics on {addr}: {e}; pick another address or port 0"
        ))
    })?;
    let bound = listener.local_addr().map_err(|e| Failure::Runtime(format!("the metrics address: {e}")))?;
    tokio::spawn(accept(listener, handle, health));
    Ok(format!("http://{bound}/metrics"))
}

async fn accept(listener: TcpListener, handle: PrometheusHandle, health: Health) {
    while let Ok((stream, _)) = listener.accept().await {
        let (handle, health) = (handle.clone(), Arc::clone(&health));
        tokio::spawn(async move {
            // A client that is slow or goes away gets nothing more.
            let _ = tokio::time::timeout(CLIENT_TIMEOUT, answer(stream, &handle, &health)).await;
        });
    }
}

async fn answer(mut stream: TcpStream, handle: &PrometheusHandle, health: &Health) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_HEAD {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&chunk[..n]);
    }
    let request_line = head.split(|&b| b == b'\r').next().unwrap_or_default();
    let mut parts = request_line.split(|&b| b == b' ');
    let (method, path) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
    let (status, content_type, body) = match (method, path) {
        (b"GET", b"/metrics") => {
            handle.run_upkeep();
            ("200 OK", "text/plain; version=0.0.4; charset=utf-8", handle.render())
        }
        (b"GET", b"/healthz") if health() => ("200 OK", "text/plain; charset=utf-8", "ok\n".to_owned()),
        (b"GET", b"/healthz") => {
            ("503 Service Unavailable", "text/plain; charset=utf-8", "the store does not answer\n".to_owned())
        }
        (b"GET", _) => {
            ("404 Not Found", "text/plain; charset=utf-8", "try /metrics or /healthz\n".to_owned())
        }
        _ => ("405 Method Not Allowed", "text/plain; charset=utf-8", "only GET\n".to_owned()),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}
