//! The upgrade secret never appears in logs, `Debug` output, errors or CLI
//! output (PROTOCOL §9).

use std::io::Write;
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Duration;

use relay_core::adapter::EnvConfig;
use relay_core::connector::ConnectorConfig;
use relay_core::policy::{Secret, TokenVerifier};
use relay_driver::{ClientConfig, ClientEvent, ConnectionEvent, ServerConfig, ServerEvent};

use crate::cli_net::{Serve, dial_all};
use crate::rawpeer::{auto_server, expect_on, run};

/// Everything every `tracing` event (and `log` record) of this process wrote.
static LOG: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct Capture;

impl Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        LOG.lock().unwrap_or_else(PoisonError::into_inner).extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the capturing subscriber once, at the most verbose level.
fn capture_logs() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        tracing_subscriber::fmt()
            .with_max_level(tracing_subscriber::filter::LevelFilter::TRACE)
            .with_writer(|| Capture)
            .with_ansi(false)
            .try_init()
            .expect("the only subscriber");
    });
}

fn logged() -> String {
    String::from_utf8_lossy(&LOG.lock().unwrap_or_else(PoisonError::into_inner)).into_owned()
}

#[test]
fn the_secret_never_reaches_the_logs_even_through_4401s_and_a_revocation() {
    capture_logs();
    const SERVER_SECRET: &str = "log-probe-server-secret-5c1a";
    const WRONG_SECRET: &str = "log-probe-wrong-secret-77e2";
    run(Duration::from_secs(30), async {
        let verifier = TokenVerifier::new(Secret::new(SERVER_SECRET));
        let config =
            ServerConfig { connector: ConnectorConfig::with_verifier(verifier), ..ServerConfig::default() };
        let (server, mut seen) = auto_server(config).await;
        // A wrong secret: 4401 after 4401 until the connect budget runs out.
        let wrong = ClientConfig { connect_budget: Duration::from_millis(1500), ..ClientConfig::default() }
            .with_auth("gw-logs", Secret::new(WRONG_SECRET).unwrap());
        let error = relay_tokio::connect(&server.url(), wrong.clone()).await.expect_err("refused");
        assert!(error.to_string().contains("4401"), "{error}");
        for text in [error.to_string(), format!("{error:?}"), format!("{wrong:?}"), format!("{wrong:#?}")] {
            assert!(!text.contains(WRONG_SECRET), "{text}");
        }
        // The right secret, then a revocation: two more 4401s, then Revoked.
        let right = ClientConfig::default().with_auth("gw-logs", Secret::new(SERVER_SECRET).unwrap());
        let (client, events) = relay_tokio::connect(&server.url(), right).await.expect("accepted");
        let mut events = Box::pin(events);
        let conn = expect_on(&mut seen, "connected", |e| match e {
            ServerEvent::Connected { conn, gateway_id: Some(_) } => Some(*conn),
            _ => None,
        })
        .await;
        server.set_verifier(TokenVerifier::new(Secret::new("log-probe-rotated-9d3f")));
        server.close(conn).await.unwrap();
        expect_on(&mut events, "revoked", |e| {
            matches!(e, ClientEvent::Connection(ConnectionEvent::Revoked)).then_some(())
        })
        .await;
        drop(client);
    });
    let text = logged();
    assert!(text.contains("relay_driver"), "the subscriber captured the driver's logs");
    for secret in [SERVER_SECRET, WRONG_SECRET, "log-probe-rotated-9d3f"] {
        assert!(!text.contains(secret), "{secret} was logged");
    }
    // Only tungstenite's own TRACE dump of the upgrade request shows the
    // (short-lived, per-dial) token; relay's own lines never do.
    for line in text.lines().filter(|l| l.contains("Bearer ")) {
        assert!(line.contains("tungstenite"), "{line}");
    }
}

#[test]
fn debug_output_and_errors_never_show_the_secret() {
    const SECRET: &str = "debug-probe-secret-0b7e";
    let secret = Secret::new(SECRET).unwrap();
    let client = ClientConfig::default().with_auth("gw", secret.clone());
    let verifier = TokenVerifier::new([secret.clone()]).with_gateway_secrets("gw-2", [secret.clone()]);
    let connector = ConnectorConfig::with_verifier(verifier.clone());
    let server = ServerConfig { connector: connector.clone(), ..ServerConfig::default() };
    let vars = [
        ("GATEWAY_RELAY_URL", "wss://c.example"),
        ("GATEWAY_RELAY_ID", "gw"),
        ("GATEWAY_RELAY_SECRET", SECRET),
    ];
    let env =
        EnvConfig::from_lookup(|n| vars.iter().find(|(k, _)| *k == n).map(|(_, v)| (*v).to_owned())).unwrap();
    let half = EnvConfig::from_lookup(|n| {
        vars.iter()
            .filter(|(k, _)| *k != "GATEWAY_RELAY_ID")
            .find(|(k, _)| *k == n)
            .map(|(_, v)| (*v).to_owned())
    })
    .unwrap();
    let texts = [
        format!("{secret:?} {secret:#?} {:?}", Some(&secret)),
        format!("{client:?} {client:#?}"),
        format!("{verifier:?} {verifier:#?}"),
        format!("{connector:?} {server:?}"),
        format!("{env:?} {env:#?} {:?}", env.auth),
        format!("{half:?} {}", half.warnings.join(" ")),
    ];
    for text in texts {
        assert!(!text.contains(SECRET), "{text}");
    }
}

#[test]
fn relay_dial_never_prints_the_secret() {
    const SERVE_SECRET: &str = "cli-probe-serve-secret-41aa";
    const DIAL_SECRET: &str = "cli-probe-dial-secret-c3d9";
    let mut serve = Serve::start(&["--secret", SERVE_SECRET]);
    let send = r#"{"op":"send","chat_id":"c1","content":"hi"}"#;
    let args =
        [&serve.url, "--gateway-id", "gw-cli", "--secret", DIAL_SECRET, "--connect-timeout-ms", "1500"];
    let (lines, stderr, code) = dial_all(&args, &[], &[send]);
    assert_eq!(code, 1, "{lines:?} {stderr}");
    assert!(stderr.contains("4401"), "{stderr}");
    // The same secret through the environment.
    let env = [("GATEWAY_RELAY_ID", "gw-env"), ("GATEWAY_RELAY_SECRET", DIAL_SECRET)];
    let (env_lines, env_stderr, _) = dial_all(&[&serve.url, "--connect-timeout-ms", "1500"], &env, &[send]);
    serve.expect("rejected", |_| true);
    let outputs =
        [format!("{lines:?}"), stderr, format!("{env_lines:?}"), env_stderr, serve.run.seen.join("\n")];
    for output in outputs {
        assert!(!output.contains(DIAL_SECRET) && !output.contains(SERVE_SECRET), "{output}");
    }
}
