//! Upgrade-level hostility over raw TCP: connectors that answer the
//! upgrade wrongly (the gateway's connect fails with a typed error within
//! its budget), and clients that attack the connector server's upgrade
//! (slowloris, oversized headers, wrong paths: each dropped or refused in
//! bounded time, the server unharmed).

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use relay_driver::{ClientConfig, ConnectError, ServerConfig};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::rawpeer::{
    RawServer, auto_server, exchange, raw_gateway, read_until_closed, run, upgrade_request, within,
};

type Scenario = Pin<Box<dyn Future<Output = ()> + Send>>;

/// What a fake connector does with an upgrade request.
#[derive(Clone, Copy)]
enum Answer {
    /// Reads the request, writes these bytes, closes.
    Bytes(&'static str),
    /// Reads the request, then streams header lines forever (bounded by the test).
    EndlessHeaders,
    /// Accepts the TCP connection and says nothing.
    Silent,
    /// Closes right after accepting.
    Hangup,
}

async fn answer_upgrades(server: RawServer, answer: Answer) {
    loop {
        let mut tcp = server.accept_tcp().await;
        tokio::spawn(async move {
            let mut request = [0u8; 4096];
            match answer {
                Answer::Hangup => drop(tcp),
                Answer::Silent => tokio::time::sleep(Duration::from_secs(30)).await,
                Answer::Bytes(text) => {
                    let _ = tcp.read(&mut request).await;
                    let _ = tcp.write_all(text.as_bytes()).await;
                }
                Answer::EndlessHeaders => {
                    let _ = tcp.read(&mut request).await;
                    let _ = tcp.write_all(b"HTTP/1.1 101 Switching Protocols\r\n").await;
                    for i in 0..100_000 {
                        if tcp
                            .write_all(format!("X-Padding-{i}: {}\r\n", "p".repeat(100)).as_bytes())
                            .await
                            .is_err()
                        {
                            return;
                        }
                    }
                }
            }
        });
    }
}

async fn connect_fails(name: &'static str, answer: Answer, expect: &'static [&'static str]) {
    let server = RawServer::bind().await;
    let url = server.url.clone();
    tokio::spawn(answer_upgrades(server, answer));
    let config = ClientConfig {
        connect_budget: Duration::from_millis(1500),
        open_timeout: Duration::from_millis(500),
        ..ClientConfig::default()
    };
    let started = Instant::now();
    let error = within(name, relay_tokio::connect(&url, config)).await.expect_err("connect fails");
    let took = started.elapsed();
    assert!(matches!(error, ConnectError::Failed(_)), "{name}: {error:?}");
    let text = error.to_string();
    assert!(text.starts_with("relay connect failed within its budget"), "{name}: {text}");
    assert!(expect.iter().any(|e| text.contains(e)), "{name}: {text}");
    assert!(took < Duration::from_secs(3), "{name}: took {took:?}");
}

#[test]
fn bad_upgrade_answers_fail_connect_with_a_typed_error_within_its_budget() {
    let entries: Vec<(&'static str, Answer, &'static [&'static str])> = vec![
        (
            "an HTTP 200 page instead of an upgrade",
            Answer::Bytes("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"),
            &["200"],
        ),
        (
            "a redirect",
            Answer::Bytes("HTTP/1.1 302 Found\r\nLocation: ws://127.0.0.1:9/relay\r\n\r\n"),
            &["302"],
        ),
        (
            "a 101 with a wrong accept key",
            Answer::Bytes(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: bm9wZQ==\r\n\r\n",
            ),
            &["upgrade", "Sec-WebSocket-Accept", "Key"],
        ),
        ("not HTTP at all", Answer::Bytes("SSH-2.0-OpenSSH_9.6\r\n"), &["upgrade", "HTTP", "parse"]),
        ("endless response headers", Answer::EndlessHeaders, &["upgrade", "Attack", "attack"]),
        ("a server that never answers", Answer::Silent, &["timed out"]),
        ("a server that hangs up at once", Answer::Hangup, &["upgrade", "reset", "closed", "Handshake"]),
    ];
    run(Duration::from_secs(20), async move {
        let scenarios: Vec<(&'static str, Scenario)> = entries
            .into_iter()
            .map(|(name, answer, expect)| (name, Box::pin(connect_fails(name, answer, expect)) as Scenario))
            .collect();
        crate::all_concurrently(scenarios).await;
    });
}

/// What the server's answer to a hostile upgrade must look like.
#[derive(Clone, Copy, Debug)]
enum Refusal {
    /// Dropped without any answer.
    Dropped,
    /// An HTTP answer with this status line prefix, then the connection ends.
    Status(&'static str),
    /// Anything but a 101, and the connection ends.
    NotUpgraded,
}

async fn upgrade_refused(addr: std::net::SocketAddr, name: &'static str, request: Vec<u8>, refusal: Refusal) {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let started = Instant::now();
    let (answer, closed) = exchange(&mut tcp, &request, Duration::from_secs(3)).await;
    let answer = String::from_utf8_lossy(&answer).into_owned();
    assert!(closed, "{name}: the server must end the connection (got {answer:?})");
    assert!(started.elapsed() < Duration::from_secs(2), "{name}: took {:?}", started.elapsed());
    match refusal {
        Refusal::Dropped => assert!(answer.is_empty(), "{name}: {answer:?}"),
        Refusal::Status(prefix) => assert!(answer.starts_with(prefix), "{name}: {answer:?}"),
        Refusal::NotUpgraded => assert!(!answer.contains(" 101 "), "{name}: {answer:?}"),
    }
}

async fn slowloris(addr: std::net::SocketAddr) {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let started = Instant::now();
    let request = upgrade_request(&addr.to_string(), "/relay", "");
    for byte in request.as_bytes()[..request.len() - 2].iter() {
        if tcp.write_all(&[*byte]).await.is_err() {
            break;
        }
        // Still readable? A closed connection ends the attack.
        let mut probe = [0u8; 1];
        if let Ok(read) = tokio::time::timeout(Duration::from_millis(50), tcp.read(&mut probe)).await {
            assert!(matches!(read, Ok(0) | Err(_)), "the server answered a half request");
            break;
        }
    }
    let (_, closed) = read_until_closed(&mut tcp, Duration::from_secs(2)).await;
    let took = started.elapsed();
    assert!(closed, "the slow client was not dropped");
    assert!(
        took >= Duration::from_millis(450) && took < Duration::from_millis(2000),
        "dropped after {took:?}"
    );
}

#[test]
fn hostile_upgrades_are_refused_in_bounded_time_and_the_server_stays_healthy() {
    run(Duration::from_secs(20), async {
        let config = ServerConfig { upgrade_timeout: Duration::from_millis(500), ..ServerConfig::default() };
        let (server, _events) = auto_server(config).await;
        let addr = server.local_addr();
        let host = addr.to_string();
        let big_header = format!("X-Big: {}\r\n", "b".repeat(100 * 1024));
        let many_headers: String = (0..200).map(|i| format!("X-H{i}: v\r\n")).collect();
        let entries: Vec<(&'static str, Vec<u8>, Refusal)> = vec![
            (
                "an upgrade for another path",
                upgrade_request(&host, "/other", "").into_bytes(),
                Refusal::Status("HTTP/1.1 400"),
            ),
            (
                "an upgrade for /relay/ with a slash",
                upgrade_request(&host, "/relay/", "").into_bytes(),
                Refusal::Status("HTTP/1.1 400"),
            ),
            (
                "a 100 KiB header",
                upgrade_request(&host, "/relay", &big_header).into_bytes(),
                Refusal::NotUpgraded,
            ),
            (
                "200 headers",
                upgrade_request(&host, "/relay", &many_headers).into_bytes(),
                Refusal::NotUpgraded,
            ),
            (
                "a plain HTTP GET",
                format!("GET /relay HTTP/1.1\r\nHost: {host}\r\n\r\n").into_bytes(),
                Refusal::NotUpgraded,
            ),
            (
                "a POST upgrade",
                upgrade_request(&host, "/relay", "").replacen("GET", "POST", 1).into_bytes(),
                Refusal::NotUpgraded,
            ),
            (
                "WebSocket version 8",
                upgrade_request(&host, "/relay", "").replace("Version: 13", "Version: 8").into_bytes(),
                Refusal::NotUpgraded,
            ),
            (
                "no Sec-WebSocket-Key",
                upgrade_request(&host, "/relay", "").replace("Sec-WebSocket-Key", "X-Nope").into_bytes(),
                Refusal::NotUpgraded,
            ),
            ("binary garbage", (0..=255u8).cycle().take(8192).collect(), Refusal::NotUpgraded),
            (
                "a TLS ClientHello on a plain port",
                vec![0x16, 0x03, 0x01, 0x00, 0x40, 0x01, 0x00, 0x00, 0x3c, 0x03, 0x03],
                Refusal::Dropped,
            ),
            ("a connection that sends nothing", Vec::new(), Refusal::Dropped),
        ];
        let mut scenarios: Vec<(&'static str, Scenario)> = entries
            .into_iter()
            .map(|(name, request, refusal)| {
                (name, Box::pin(upgrade_refused(addr, name, request, refusal)) as Scenario)
            })
            .collect();
        scenarios.push(("slowloris", Box::pin(slowloris(addr))));
        crate::all_concurrently(scenarios).await;
        // Unharmed: a real gateway still gets in.
        let mut ws = raw_gateway(&server.url(), None).await.expect("the server still upgrades");
        crate::rawpeer::send_text(&mut ws, "{\"type\":\"hello\",\"platform\":\"relay\",\"botId\":\"\"}\n")
            .await;
        let descriptor = crate::rawpeer::next_frame(&mut ws).await.expect("a descriptor");
        assert_eq!(descriptor["type"], "descriptor");
    });
}
