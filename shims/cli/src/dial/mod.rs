//! `relay dial`: a gateway on the command line.
//!
//! Connects to a connector (flags, else `GATEWAY_RELAY_*`), prints what it
//! receives as JSON lines, runs the commands read from stdin concurrently
//! (an action, an ack, an interrupt, going idle) and prints one `result`
//! line per command. Formats in CLI.md.

mod config;
mod input;
pub(crate) mod output;

use std::process::ExitCode;
use std::time::Duration;

use futures::FutureExt as _;
use relay_core::adapter::ReplyRouter;
use relay_driver::{Client, ClientEvent, ConnectionEvent, Events};
use tokio::task::JoinSet;

use self::input::Command;
use crate::lines::{self, JsonObject, LineSink};
use crate::stdin_lines::{self, Input};
use crate::stdio::Failure;

/// Commands running at once before stdin is read no further.
const MAX_IN_FLIGHT: usize = 10_000;
/// Extra time, beyond the request timeout, in-flight commands get at end of input.
const SETTLE_SLACK: Duration = Duration::from_secs(2);
/// Time the client's close, and printing what follows it, may take.
const CLOSE_LIMIT: Duration = Duration::from_secs(7);

/// The `--help` examples.
pub(crate) const EXAMPLES: &str = r#"Examples:
  echo '{"op":"send","chat_id":"c1","content":"hi","reply_to":null,"metadata":{}}' \
    | relay dial ws://127.0.0.1:8080 --platform discord --bot-id B1
      {"connection":"connected","url":"ws://127.0.0.1:8080/relay"}
      {"descriptor":{…},"identity":"discord:B1"}
      {"result":{"success":true,"message_id":"srv-send"},"line":1}
  GATEWAY_RELAY_URL=https://connector.example.com GATEWAY_RELAY_ID=gw-1 \
    GATEWAY_RELAY_SECRET="$SECRET" relay dial < actions.jsonl
  relay dial ws://127.0.0.1:8080 --identity discord:B1 --identity telegram:T1 --no-reconnect
  printf '%s\n' '{"ack":"b-1"}' '{"interrupt":{"session_key":"agent:main:telegram:dm:1","reason":null}}' \
    '{"go_idle":true}' | relay dial ws://127.0.0.1:8080

Exit codes: 0 done; 1 could not connect, or the connection ended for good;
2 a usage problem, or some stdin line was not a valid command."#;

/// Arguments of `relay dial`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The connector's URL (normalized: `https://` → `wss://`, `/relay` appended)
    /// [default: GATEWAY_RELAY_URL].
    #[arg(value_name = "URL")]
    url: Option<String>,
    /// Announce one identity on this platform [default: GATEWAY_RELAY_PLATFORM(S), else `relay`].
    #[arg(long, value_name = "P", conflicts_with = "identities")]
    platform: Option<String>,
    /// The bot id of `--platform` [default: empty].
    #[arg(long, value_name = "B", requires = "platform")]
    bot_id: Option<String>,
    /// Announce this identity; repeat for several (one hello each, in order).
    #[arg(long = "identity", value_name = "P:B")]
    identities: Vec<String>,
    /// Gateway id for upgrade auth [default: GATEWAY_RELAY_ID].
    #[arg(long, value_name = "ID")]
    gateway_id: Option<String>,
    /// Upgrade secret [default: GATEWAY_RELAY_SECRET]; never printed.
    #[arg(long, value_name = "S", conflicts_with = "secret_file")]
    secret: Option<String>,
    /// Read the upgrade secret from this file (its first non-blank line),
    /// which keeps it out of the process list.
    #[arg(long, value_name = "PATH")]
    secret_file: Option<std::path::PathBuf>,
    /// Write every WebSocket message of every connection, sent and received,
    /// with its time, to this file (created, or truncated), for `relay replay`.
    #[arg(long, value_name = "FILE")]
    record_raw: Option<std::path::PathBuf>,
    /// Serve Prometheus metrics on http://ADDR/metrics and /healthz; port 0
    /// picks one (the `connected` line names it).
    #[arg(long, value_name = "ADDR")]
    metrics: Option<String>,
    /// Trust this CA certificate (PEM) for `wss://`, besides the web roots.
    #[arg(long, value_name = "PEM")]
    ca: Option<std::path::PathBuf>,
    /// When the connection drops, stop (exit 1) instead of reconnecting.
    #[arg(long)]
    no_reconnect: bool,
    /// Time the first connection (dials and handshake) may take, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 30_000, value_parser = clap::value_parser!(u64).range(1..))]
    connect_timeout_ms: u64,
    /// Time a request waits for its result, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 30_000, value_parser = clap::value_parser!(u64).range(1..))]
    request_timeout_ms: u64,
}

/// Connects, runs stdin's commands, and closes at end of input.
pub(crate) fn run(args: Args) -> Result<ExitCode, Failure> {
    let settings = config::settings(args)?;
    lines::runtime()?.block_on(dial(settings))
}

async fn dial(settings: config::Settings) -> Result<ExitCode, Failure> {
    let url = settings.url;
    // Before connecting, so that the first connection is counted.
    let metrics = match &settings.metrics {
        Some(addr) => Some(crate::metrics_http::start(addr, std::sync::Arc::new(|| true)).await?),
        None => None,
    };
    let mut client_config = settings.client;
    let raw = match &settings.record_raw {
        Some(path) => {
            let (recorder, recording) = crate::raw_record::start(path, "gateway")?;
            client_config.recorder = Some(recorder);
            Some(recording)
        }
        None => None,
    };
    let (client, mut events) =
        relay_tokio::connect(&url, client_config).await.map_err(|e| config::connect_failure(&url, e))?;
    let (out, out_thread) = lines::spawn(std::io::stdout());
    let mut session = Session {
        client,
        out,
        router: ReplyRouter::new(settings.identities),
        in_flight: JoinSet::new(),
        bad_lines: false,
        revoked: false,
    };
    let outcome = session.run(&mut events, &url, metrics.as_deref(), settings.request_timeout).await;
    // The connection task holds the recorder until it ends with the events.
    drop(session);
    drop(events);
    let recorded = match raw {
        Some(raw) => raw.finish().await,
        None => Ok(()),
    };
    let finished = out_thread.finish().await;
    let code = outcome?;
    finished?;
    recorded?;
    Ok(code)
}

/// Why the session stopped before the end of input.
#[derive(Debug)]
struct Stopped(String);

/// One connected gateway and what it is doing.
#[derive(Debug)]
struct Session {
    client: Client,
    out: LineSink,
    router: ReplyRouter,
    /// Commands from stdin that have not printed their result yet.
    in_flight: JoinSet<Result<(), Failure>>,
    bad_lines: bool,
    /// The connector revoked the secret.
    revoked: bool,
}

impl Session {
    async fn run(
        &mut self,
        events: &mut Events,
        url: &str,
        metrics: Option<&str>,
        request_timeout: Duration,
    ) -> Result<ExitCode, Failure> {
        let connected = output::connection("connected").field("url", url);
        let connected = match metrics {
            Some(metrics) => connected.field("metrics", metrics),
            None => connected,
        };
        self.out.json(connected).await?;
        // What the handshake already delivered (the first descriptor) comes
        // before anything stdin causes.
        while let Some(Some(event)) = events.next().now_or_never() {
            if let Some(stopped) = self.on_event(event).await? {
                return self.end(events, Some(stopped)).await;
            }
        }
        let mut stdin = stdin_lines::spawn_reader();
        let mut stdin_open = true;
        // Set at end of input: in-flight commands settle by then.
        let mut settle_by = None;
        let stopped = loop {
            if !stdin_open && self.in_flight.is_empty() {
                break None;
            }
            let settle = async {
                match settle_by {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                event = events.next() => match event {
                    Some(event) => {
                        if let Some(stopped) = self.on_event(event).await? {
                            break Some(stopped);
                        }
                    }
                    None => break Some(Stopped("the client stopped".to_owned())),
                },
                Some(joined) = self.in_flight.join_next(), if !self.in_flight.is_empty() => {
                    joined.unwrap_or(Ok(()))?;
                }
                read = stdin.recv(), if stdin_open && self.in_flight.len() < MAX_IN_FLIGHT => match read {
                    Some(read) => self.on_input(read).await?,
                    None => {
                        stdin_open = false;
                        settle_by = Some(tokio::time::Instant::now() + request_timeout + SETTLE_SLACK);
                    }
                },
                () = settle => break None,
            }
        };
        self.end(events, stopped).await
    }

    /// Closes (unless the client already stopped), prints what is still
    /// coming, and picks the exit code.
    async fn end(&mut self, events: &mut Events, stopped: Option<Stopped>) -> Result<ExitCode, Failure> {
        if stopped.is_none() {
            // Bounded by the client's shutdown budget; in-flight commands fail as closed.
            let _ = tokio::time::timeout(CLOSE_LIMIT, self.client.close()).await;
        }
        let _ = tokio::time::timeout(CLOSE_LIMIT, self.drain(events)).await;
        match stopped {
            // Revoked is final also when the end of stdin came first: the
            // secret is refused whatever was still being read.
            _ if self.revoked => Err(Failure::Runtime(format!(
                "the connector revoked this gateway's upgrade secret (close 4401 twice); {}",
                config::SECRET_FIX
            ))),
            Some(Stopped(reason)) => Err(Failure::Runtime(format!(
                "the connection ended for good ({reason}); dial again once the connector is back"
            ))),
            None if self.bad_lines => Ok(ExitCode::from(2)),
            None => Ok(ExitCode::SUCCESS),
        }
    }

    /// Prints the results of the commands still running and the events still coming.
    async fn drain(&mut self, events: &mut Events) -> Result<(), Failure> {
        while let Some(joined) = self.in_flight.join_next().await {
            joined.unwrap_or(Ok(()))?;
        }
        while let Some(event) = events.next().await {
            self.on_event(event).await?;
        }
        Ok(())
    }

    /// Prints an event; `Some` when the client stopped for good.
    async fn on_event(&mut self, event: ClientEvent) -> Result<Option<Stopped>, Failure> {
        let line = match event {
            ClientEvent::Descriptor { identity, descriptor } => output::descriptor(&identity, &descriptor),
            ClientEvent::Inbound { event, buffer_id } => {
                self.router.observe(&event);
                output::inbound(&event, buffer_id.as_ref())
            }
            ClientEvent::Passthrough { forward, buffer_id } => {
                let (line, converted) = output::passthrough(&forward, buffer_id.as_ref());
                if let Some(event) = converted {
                    self.router.observe(&event);
                }
                line
            }
            ClientEvent::Interrupt { session_key, chat_id } => output::interrupt(&session_key, &chat_id),
            ClientEvent::Diagnostic(diagnostic) => output::diagnostic(&diagnostic),
            ClientEvent::Connection(ConnectionEvent::Lost { reason }) => {
                output::connection("lost").field("reason", &reason.to_string())
            }
            ClientEvent::Connection(ConnectionEvent::Reconnected) => output::connection("reconnected"),
            ClientEvent::Connection(ConnectionEvent::Revoked) => {
                self.revoked = true;
                output::connection("revoked")
            }
            ClientEvent::Connection(ConnectionEvent::Stopped { reason }) => return Ok(Some(Stopped(reason))),
            // Events this version does not know.
            _ => return Ok(None),
        };
        self.out.json(line).await?;
        Ok(None)
    }

    /// Runs one stdin line's command in the background, or reports why it is not one.
    async fn on_input(&mut self, read: Input) -> Result<(), Failure> {
        let (number, command) = match read {
            Input::Failed(e) => return Err(Failure::Read(e)),
            Input::TooLong { number, len } => {
                (number, Err(crate::stdio::too_long_detail(len, relay_core::wire::DEFAULT_MAX_LINE)))
            }
            Input::Line { number, bytes } => (number, input::parse(&bytes)),
        };
        let command = match command {
            Ok(command) => command,
            Err(problem) => {
                self.bad_lines = true;
                return self.out.json(output::bad_line(number, &problem)).await;
            }
        };
        let (client, out) = (self.client.clone(), self.out.clone());
        let command = match command {
            Command::Request(request) => Command::Request(self.router.route(request)),
            other => other,
        };
        self.in_flight.spawn(async move {
            let line: JsonObject = match command {
                Command::Request(request) => output::request_result(number, client.request(request).await),
                Command::Ack(buffer_id) => output::unit_result(number, client.ack(&buffer_id).await),
                Command::Interrupt { session_key, reason } => {
                    output::unit_result(number, client.interrupt(&session_key, reason.as_deref()).await)
                }
                Command::GoIdle => output::idle_result(number, client.go_idle().await),
            };
            out.json(line).await
        });
        Ok(())
    }
}
