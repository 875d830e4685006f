//! Opening a WebSocket to a connector: TCP, optional TLS, the upgrade with
//! its `Authorization` header.

use std::sync::Arc;

use async_tungstenite::WebSocketStream;
use async_tungstenite::tungstenite::client::IntoClientRequest as _;
use async_tungstenite::tungstenite::http::{HeaderValue, Uri, header::AUTHORIZATION};
use async_tungstenite::tungstenite::protocol::WebSocketConfig;
use futures_rustls::TlsConnector;
use futures_rustls::rustls::pki_types::ServerName;
use relay_core::policy::normalize_url;

use crate::stream::MaybeTls;
use crate::{Runtime, TlsRoots};

/// Where to dial, parsed once.
#[derive(Debug, Clone)]
pub struct DialTarget {
    /// The normalized URL (PROTOCOL §8).
    pub url: String,
    host: String,
    port: u16,
    tls: bool,
}

/// Why a dial failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DialError {
    /// The URL cannot be dialed.
    #[error("{0}")]
    BadUrl(String),
    /// TCP connection failed (refused, unreachable, …).
    #[error("connection to {address} failed: {detail}")]
    Refused {
        /// `host:port`.
        address: String,
        /// The operating system's words.
        detail: String,
    },
    /// The TLS handshake failed.
    #[error("TLS handshake with {host} failed: {detail}")]
    Tls {
        /// The server name.
        host: String,
        /// What went wrong.
        detail: String,
    },
    /// The WebSocket upgrade failed (HTTP error status, bad response, …).
    #[error("WebSocket upgrade failed: {0}")]
    Upgrade(String),
    /// The open timeout passed.
    #[error("opening the connection timed out")]
    TimedOut,
}

impl DialTarget {
    /// Normalizes and parses `url` (`https://` becomes `wss://`, `/relay` is appended, …).
    pub fn parse(url: &str) -> Result<Self, DialError> {
        let url = normalize_url(url).map_err(|e| DialError::BadUrl(e.to_string()))?;
        let uri: Uri = url.parse().map_err(|e| DialError::BadUrl(format!("invalid URL {url:?}: {e}")))?;
        let tls = uri.scheme_str() == Some("wss");
        let host = uri
            .host()
            .ok_or_else(|| DialError::BadUrl(format!("URL {url:?} has no host")))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
        Ok(Self { url, host, port, tls })
    }

    /// The same host and port with `path` in place of the URL's path, for a
    /// tool that probes how a connector treats other paths (e.g. a
    /// conformance check that only `/relay` is upgraded).
    pub fn with_path(&self, path: &str) -> Self {
        let scheme = if self.tls { "wss" } else { "ws" };
        let host = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        let path = if path.starts_with('/') { path.to_owned() } else { format!("/{path}") };
        Self { url: format!("{scheme}://{host}:{}{path}", self.port), ..self.clone() }
    }
}

/// Opens the socket, negotiates TLS for `wss://`, and performs the upgrade
/// with `authorization` as its `Authorization` header. The client uses it for
/// every dial; tools that speak the wire themselves (a conformance checker)
/// use it to get the same TCP, TLS and upgrade.
pub async fn open_websocket<R: Runtime>(
    rt: &R,
    target: &DialTarget,
    authorization: Option<String>,
    roots: &TlsRoots,
    config: WebSocketConfig,
) -> Result<WebSocketStream<MaybeTls<R::Tcp>>, DialError> {
    let address = format!("{}:{}", target.host, target.port);
    let tcp = rt
        .connect_tcp(&target.host, target.port)
        .await
        .map_err(|e| DialError::Refused { address: address.clone(), detail: e.to_string() })?;
    let stream = if target.tls {
        let tls_error = |detail: String| DialError::Tls { host: target.host.clone(), detail };
        let client_config = roots.client_config().map_err(|e| tls_error(e.to_string()))?;
        let name = ServerName::try_from(target.host.clone()).map_err(|e| tls_error(e.to_string()))?;
        let tls = TlsConnector::from(Arc::clone(&client_config))
            .connect(name, tcp)
            .await
            .map_err(|e| tls_error(e.to_string()))?;
        MaybeTls::Tls(Box::new(futures_rustls::TlsStream::Client(tls)))
    } else {
        MaybeTls::Plain(tcp)
    };
    let mut request =
        target.url.as_str().into_client_request().map_err(|e| DialError::Upgrade(e.to_string()))?;
    if let Some(value) = authorization {
        let header = HeaderValue::from_str(&value).map_err(|e| DialError::Upgrade(e.to_string()))?;
        request.headers_mut().insert(AUTHORIZATION, header);
    }
    let (ws, _response) = async_tungstenite::client_async_with_config(request, stream, Some(config))
        .await
        .map_err(|e| DialError::Upgrade(e.to_string()))?;
    Ok(ws)
}

/// The WebSocket settings for a given maximum line: a message may carry one
/// whole line, no more (PROTOCOL §1), and a small read buffer (allocated
/// per connection up front) keeps idle connections cheap. The write buffer
/// keeps tungstenite's threshold (128 KiB): it takes memory only while a
/// burst is written, and a burst of one-frame messages goes out in one
/// write instead of one per few kilobytes.
pub fn websocket_config(max_line: usize, read_buffer_size: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(max_line.saturating_add(2)))
        .max_frame_size(Some(max_line.saturating_add(2)))
        .read_buffer_size(read_buffer_size)
}
