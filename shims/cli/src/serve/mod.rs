//! `relay serve`: a connector for testing any gateway.
//!
//! Accepts gateways on `ws://<addr>/relay`, answers every hello with a
//! descriptor and every request per `--reply`, pushes the `--script` to each
//! gateway after its handshake, pushes what stdin asks to any gateway
//! (buffered in `--store` while it is away), and prints one JSON line per
//! notable event (formats in CLI.md). Runs until SIGINT or SIGTERM, then
//! closes every connection (close 1000) and exits 0.

mod conn;
mod descriptors;
mod output;
mod pushes;
pub(crate) mod record;
mod replies;
mod script;
mod store;
mod wake;

use std::collections::BTreeMap;
use std::fs::File;
use std::net::{SocketAddr, ToSocketAddrs as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use relay_core::connector::ConnectorConfig;
use relay_core::policy::{Secret, TokenVerifier};
use relay_driver::{ConnId, ServerConfig, ServerEvent, ServerEvents};
use relay_store::StoreOptions;
use tokio::sync::mpsc::UnboundedSender;

use self::conn::{Job, Setup};
use self::descriptors::{Answer, Descriptors};
use self::replies::Reply;
use crate::lines::{self, JsonObject};
use crate::secrets;
use crate::stdio::Failure;

/// The environment variable holding more secrets to accept.
const SECRETS_ENV: &str = "RELAY_SECRETS";
/// The default `--max-token-lifetime`: one hour (PROTOCOL §8).
const DEFAULT_MAX_TOKEN_LIFETIME_SECS: u64 = 3600;
/// How long closing the connections may take once a signal arrived.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// The `--help` examples.
pub(crate) const EXAMPLES: &str = r#"Examples:
  relay serve --listen 127.0.0.1:0
      {"event":"listening","url":"ws://127.0.0.1:41237/relay"}
      {"event":"connected","conn":1,"gateway_id":null}
      {"event":"hello","conn":1,"platform":"discord","botId":"B1"}
  relay serve --listen 127.0.0.1:8080 --platform telegram --reply fail
  relay serve --listen 0.0.0.0:8080 --secret "$GATEWAY_RELAY_SECRET" --record frames.jsonl
  relay serve --listen 0.0.0.0:443 --tls-cert fullchain.pem --tls-key key.pem --secret-file secrets.txt
  relay serve --listen 127.0.0.1:0 --descriptor descriptors.json --script pushes.jsonl
      where pushes.jsonl holds lines such as
      {"type":"inbound","event":{"text":"hi","source":{"platform":"discord","chat_id":"c1"}}}
      {"sleep_ms":100}
  relay serve --listen 127.0.0.1:0 --store backlog.redb
      then, on stdin, a push for a gateway (live if it is connected and live,
      else buffered durably and replayed on its next handshake):
      {"to":{"platform":"telegram","botId":"b1"},"frame":{"type":"inbound","event":{"text":"hi","source":{"platform":"telegram","chat_id":"c1"}}}}
      {"event":"pushed","line":1,"to":{"botId":"b1","platform":"telegram"},"type":"inbound","delivery":"buffered","bufferId":"1"}
  relay serve --listen 127.0.0.1:8081 --store redis://127.0.0.1:6379 --instance-id a
  relay serve --listen 127.0.0.1:8082 --store redis://127.0.0.1:6379 --instance-id b
      two instances of one connector: a gateway may dial either, and a push
      on stdin of either reaches it wherever it is

Runs until SIGINT or SIGTERM (then closes every connection and exits 0); the end of stdin does not stop it."#;

/// Arguments of `relay serve`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Address to listen on, `host:port`; port 0 picks a free port (the
    /// first output line names it).
    #[arg(long, value_name = "ADDR")]
    listen: String,
    /// Answer hellos from this file: one descriptor object, or an object
    /// mapping platform names to descriptors (a platform it lacks is refused).
    #[arg(long, value_name = "FILE", conflicts_with = "platform")]
    descriptor: Option<PathBuf>,
    /// Answer every hello with the built-in descriptor of this platform
    /// [default: the built-in descriptor of each hello's platform].
    #[arg(long, value_name = "P")]
    platform: Option<String>,
    /// Frames to push to every gateway after its handshake (JSON Lines;
    /// `inbound`, `passthrough_forward`, `interrupt_inbound`, or `{"sleep_ms": N}`).
    #[arg(long, value_name = "FILE")]
    script: Option<PathBuf>,
    /// Write one JSON line per frame received to this file (created, or truncated).
    #[arg(long, value_name = "FILE")]
    record: Option<PathBuf>,
    /// Write every WebSocket message of every connection, sent and received,
    /// with its time, to this file (created, or truncated), for `relay replay`.
    #[arg(long, value_name = "FILE")]
    record_raw: Option<PathBuf>,
    /// Require upgrade tokens signed with this secret; repeat for a rotation list.
    #[arg(long = "secret", value_name = "S")]
    secrets: Vec<String>,
    /// Require upgrade tokens signed with one of the secrets in this file (one
    /// per line, in rotation order); also read from RELAY_SECRETS (separated
    /// by newlines or commas). Secrets from all three sources are accepted.
    #[arg(long, value_name = "PATH")]
    secret_file: Option<PathBuf>,
    /// Serve `wss://` with this PEM certificate chain (with --tls-key).
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Refuse tokens expiring more than this many seconds from now, and never-expiring ones.
    #[arg(long, value_name = "SECS", default_value_t = DEFAULT_MAX_TOKEN_LIFETIME_SECS)]
    max_token_lifetime: u64,
    /// How to answer requests.
    #[arg(long, value_enum, value_name = "MODE", default_value_t = Reply::Echo)]
    reply: Reply,
    /// Keep buffered frames in this file (created when missing), so they
    /// survive a restart or a crash; or in Redis (`redis://HOST:PORT[/DB]`),
    /// shared by every instance on it [default: in memory, lost on exit].
    #[arg(long, value_name = "PATH|URL")]
    store: Option<String>,
    /// This instance's id among those sharing a Redis store [default: a
    /// random one, printed in the `listening` line].
    #[arg(long, value_name = "ID")]
    instance_id: Option<String>,
    /// When frames start waiting for an idle or offline gateway (at most once
    /// a minute per gateway), GET this URL, `{gateway}` replaced by the
    /// percent-encoded gateway id (or `platform:botId`).
    #[arg(long, value_name = "URL")]
    wake_url: Option<String>,
    /// Serve Prometheus metrics on http://ADDR/metrics and a health check on
    /// /healthz (503 while the store does not answer); port 0 picks one
    /// (the `listening` line names it).
    #[arg(long, value_name = "ADDR")]
    metrics: Option<String>,
    /// Entries one gateway's backlog may hold; a push beyond it fails.
    #[arg(long, value_name = "N", default_value_t = StoreOptions::default().max_entries_per_gateway)]
    max_backlog: usize,
}

/// Everything `serve` needs once it runs.
#[derive(Debug)]
struct Plan {
    addr: SocketAddr,
    config: ServerConfig,
    descriptors: Descriptors,
    script: Vec<script::Step>,
    record: Option<File>,
    reply: Reply,
    store: store::Opened,
    wake: Option<wake::WakeUrl>,
    metrics: Option<String>,
    raw: Option<crate::raw_record::RawRecording>,
}

/// Checks the arguments, then serves until a signal arrives.
pub(crate) fn run(args: Args) -> Result<ExitCode, Failure> {
    let plan = plan(args)?;
    lines::runtime()?.block_on(serve(plan))
}

fn plan(args: Args) -> Result<Plan, Failure> {
    let addr = args.listen.to_socket_addrs().ok().and_then(|mut addrs| addrs.next()).ok_or_else(|| {
        Failure::Usage(format!(
            "--listen {:?} is not an address to listen on; pass host:port, for example 127.0.0.1:0",
            args.listen
        ))
    })?;
    let descriptors = match (args.descriptor, args.platform) {
        (Some(path), _) => Descriptors::load(&path)?,
        (None, Some(platform)) => Descriptors::Platform(platform),
        (None, None) => Descriptors::BuiltIn,
    };
    let script = args.script.map(|path| script::load(&path)).transpose()?.unwrap_or_default();
    let record = args
        .record
        .map(|path| {
            File::create(&path).map_err(|e| {
                Failure::Usage(format!(
                    "could not create the record file {}: {e}; pass a writable path",
                    path.display()
                ))
            })
        })
        .transpose()?;
    let mut secrets = args.secrets;
    if let Some(path) = &args.secret_file {
        secrets.extend(secrets::read_secret_file(path)?);
    }
    if let Ok(listed) = std::env::var(SECRETS_ENV) {
        secrets.extend(secrets::split_secret_list(&listed));
    }
    let secrets = secrets
        .into_iter()
        .map(|s| {
            Secret::new(s).ok_or_else(|| {
                Failure::Usage(
                    "a --secret is empty or whitespace-only; pass the real shared secret".to_owned(),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut config = ServerConfig::default();
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        config.tls = Some(secrets::server_tls(cert, key)?);
    }
    if !secrets.is_empty() {
        let verifier = TokenVerifier::new(secrets).with_max_lifetime(args.max_token_lifetime);
        config.connector = ConnectorConfig::with_verifier(verifier);
    }
    let options = StoreOptions { max_entries_per_gateway: args.max_backlog, ..StoreOptions::default() };
    let store = store::open(args.store.as_deref(), args.instance_id, options)?;
    config.store = Some(store.handle.clone());
    config.fabric = store.server_fabric();
    let wake = match args.wake_url.as_deref().map(wake::WakeUrl::new).transpose()? {
        Some((wake, hook)) => {
            config.wake = Some(hook);
            Some(wake)
        }
        None => None,
    };
    let raw = match &args.record_raw {
        Some(path) => {
            let (recorder, recording) = crate::raw_record::start(path, "connector")?;
            config.recorder = Some(recorder);
            Some(recording)
        }
        None => None,
    };
    Ok(Plan {
        addr,
        config,
        descriptors,
        script,
        record,
        reply: args.reply,
        store,
        wake,
        metrics: args.metrics,
        raw,
    })
}

async fn serve(plan: Plan) -> Result<ExitCode, Failure> {
    // Handlers first: a signal right after the `listening` line must not kill us.
    let mut stop = Box::pin(shutdown_signal()?);
    let metrics_url = match &plan.metrics {
        Some(addr) => {
            let store = plan.store.handle.clone();
            Some(crate::metrics_http::start(addr, std::sync::Arc::new(move || store.is_healthy())).await?)
        }
        None => None,
    };
    let mut config = plan.config;
    let record_thread = plan.record.map(|file| {
        let (tap, thread) = record::Recorder::start(file);
        config.tap = Some(tap);
        thread
    });
    let (handle, mut events) = relay_tokio::listen(plan.addr, config).await.map_err(|e| {
        Failure::Runtime(format!("could not listen on {}: {e}; pick another address or port 0", plan.addr))
    })?;
    let (out, out_thread) = lines::spawn(std::io::stdout());
    let mut state = State {
        setup: Arc::new(Setup {
            handle: handle.clone(),
            descriptors: plan.descriptors,
            script: plan.script,
            out: out.clone(),
            played: Mutex::default(),
        }),
        reply: plan.reply,
        conns: BTreeMap::new(),
    };
    let listening = JsonObject::new().field("event", "listening").field("url", &handle.url());
    let listening = listening.field("store", plan.store.kind);
    let listening = match plan.store.instance_id() {
        Some(instance) => listening.field("instance", instance),
        None => listening,
    };
    let listening = match &metrics_url {
        Some(url) => listening.field("metrics", url),
        None => listening,
    };
    out.json(listening).await?;
    let waking = plan.wake.map(|wake| tokio::spawn(wake.run(out.clone())));
    let mut stdin_pushes = tokio::spawn(pushes::run(handle.clone(), out.clone()));
    let mut stdin_done = false;
    let outcome = loop {
        tokio::select! {
            event = events.next() => match event {
                Some(event) => {
                    if let Err(failure) = state.handle(event).await {
                        break Err(failure);
                    }
                }
                None => break Ok(()),
            },
            () = &mut stop => break Ok(()),
            // The end of stdin does not stop `serve`; only a failure does.
            ended = &mut stdin_pushes, if !stdin_done => {
                stdin_done = true;
                if let Ok(Err(failure)) = ended {
                    break Err(failure);
                }
            }
        }
    };
    stdin_pushes.abort();
    if let Some(waking) = waking {
        waking.abort();
    }
    if outcome.is_ok() {
        // Close every connection and report how each ended, within the grace period.
        let closing = close_all(&mut state, &mut events);
        let _ = tokio::time::timeout(SHUTDOWN_GRACE, closing).await;
        // The removals of the last acks are queued: the store makes them
        // durable before the process ends.
        let _ = tokio::time::timeout(SHUTDOWN_GRACE, plan.store.handle.flush()).await;
    }
    drop(state);
    drop(handle);
    if let Some(raw) = plan.raw {
        // The connections hold the recorder; they ended within the grace period above.
        raw.finish().await?;
    }
    if let Some(thread) = record_thread {
        // The server's connections hold the tap; they end within the grace period above.
        thread.finish()?;
    }
    let finished = out_thread.finish().await;
    outcome.and(finished).map(|()| ExitCode::SUCCESS)
}

async fn close_all(state: &mut State, events: &mut ServerEvents) -> Result<(), Failure> {
    for conn in state.setup.handle.connections() {
        let _ = state.setup.handle.close(conn).await;
    }
    while !state.conns.is_empty() {
        let Some(event) = events.next().await else { break };
        state.handle(event).await?;
    }
    Ok(())
}

/// The event loop's state.
#[derive(Debug)]
struct State {
    setup: Arc<Setup>,
    reply: Reply,
    /// The task of every open connection.
    conns: BTreeMap<ConnId, UnboundedSender<Job>>,
}

impl State {
    /// Prints and records `event`, and hands the connection's task its job.
    async fn handle(&mut self, event: ServerEvent) -> Result<(), Failure> {
        for line in output::event_lines(&event) {
            self.setup.out.json(line).await?;
        }
        let job = match event {
            ServerEvent::Connected { conn, gateway_id } => {
                self.conns.insert(conn, conn::spawn(Arc::clone(&self.setup), conn, gateway_id));
                return Ok(());
            }
            ServerEvent::Closed { conn, .. } => {
                self.conns.remove(&conn);
                return Ok(());
            }
            ServerEvent::Hello { conn, identity, .. } => (conn, Job::Hello(identity)),
            ServerEvent::Live { conn } => (conn, Job::Live),
            ServerEvent::Request { conn, request_id, identity, action } => {
                let descriptor = match self.setup.descriptors.answer(&identity.platform) {
                    Answer::Descriptor(descriptor) => Some(descriptor),
                    Answer::Refuse(_) => None,
                };
                match self.reply.answer(&action, descriptor.as_deref()) {
                    Some(result) => (conn, Job::Respond { request_id, result }),
                    None => return Ok(()),
                }
            }
            _ => return Ok(()),
        };
        if let Some(tx) = self.conns.get(&job.0) {
            // A send error means the task ended: the connection is closing anyway.
            let _ = tx.send(job.1);
        }
        Ok(())
    }
}

/// Resolves on SIGINT or SIGTERM (Ctrl-C elsewhere). The handlers are
/// installed when this is called, not when it is first polled.
fn shutdown_signal() -> Result<impl Future<Output = ()>, Failure> {
    let failed = |e: std::io::Error| Failure::Runtime(format!("could not install a signal handler: {e}"));
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut interrupt = signal(SignalKind::interrupt()).map_err(failed)?;
        let mut terminate = signal(SignalKind::terminate()).map_err(failed)?;
        Ok(async move {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    {
        let _ = failed;
        Ok(async {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        })
    }
}
