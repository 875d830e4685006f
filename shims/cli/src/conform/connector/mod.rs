//! `relay conform connector URL`: play a gateway against a connector.
//!
//! Each check opens its own connections ([`session`]) and probes one rule;
//! the table is in [`checks`]. The push checks share one connection
//! ([`pushes`]) because a connector may push its traffic only once per
//! gateway.

mod actions;
mod auth;
mod checks;
mod framing;
mod ops;
mod pushes;
mod session;
mod shape;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use relay_core::policy::{DEFAULT_TOKEN_TTL_SECS, Secret, mint_token};
use relay_tokio::{DialTarget, TlsRoots};
use serde_json::{Value, json};

use super::{Common, RUN_BUDGET, Reporter, Verdict, check};
use crate::stdio::Failure;

/// `relay conform connector` flags.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The connector's URL (normalized as a gateway does: `https://` → `wss://`, `/relay` appended).
    pub(crate) url: String,
    /// An identity to announce, `PLATFORM:BOT_ID` (split at the first `:`; repeat for several; default `relay:`).
    #[arg(long = "identity", value_name = "P:B")]
    pub(crate) identities: Vec<String>,
    /// The gateway id for upgrade auth (needs --secret; enables the auth checks).
    #[arg(long, value_name = "ID")]
    pub(crate) gateway_id: Option<String>,
    /// The connector's upgrade secret (needs --gateway-id; never printed).
    #[arg(long, value_name = "S")]
    pub(crate) secret: Option<String>,
    /// Read the secret from the file's first non-blank line instead (kept out of the process list).
    #[arg(long, value_name = "PATH", conflicts_with = "secret")]
    pub(crate) secret_file: Option<PathBuf>,
    /// Trust this CA certificate (PEM) for `wss://`, besides the bundled web roots.
    #[arg(long, value_name = "PEM")]
    pub(crate) ca: Option<PathBuf>,
    /// The connector pushes inbound traffic to this gateway (see CLI.md); enables the push checks.
    #[arg(long)]
    pub(crate) expect_pushes: bool,
    #[command(flatten)]
    pub(crate) common: Common,
}

/// Upgrade auth as a gateway does it (PROTOCOL §8).
#[derive(Debug)]
pub(crate) struct Auth {
    /// The gateway id the tokens name.
    pub(crate) gateway_id: String,
    /// The shared secret (its `Debug` hides it).
    pub(crate) secret: Secret,
}

/// What every probe knows about the connector under test.
#[derive(Debug)]
pub(crate) struct Probe {
    /// The normalized URL, parsed.
    pub(crate) target: DialTarget,
    /// The identities announced, in hello order (never empty).
    pub(crate) identities: Vec<(String, String)>,
    /// Upgrade auth, when configured.
    pub(crate) auth: Option<Auth>,
    /// Whether the connector is expected to push traffic.
    pub(crate) expect_pushes: bool,
    /// The roots `wss://` certificates are checked against.
    pub(crate) roots: TlsRoots,
    /// The push checks' shared connection, parked between them.
    parked: tokio::sync::Mutex<Option<session::Session>>,
    /// Seeds the request ids, so they differ across runs (PROTOCOL §2).
    seed: u64,
    /// Request ids issued so far.
    issued: AtomicU64,
}

impl Probe {
    /// The probe for `args`, or a usage problem (bad URL, bad identity,
    /// half-configured auth).
    fn new(args: &Args) -> Result<Self, Failure> {
        let target = DialTarget::parse(&args.url).map_err(|e| Failure::Usage(format!("bad URL: {e}")))?;
        let mut identities = Vec::new();
        for text in &args.identities {
            let (platform, bot_id) = text.split_once(':').unwrap_or((text, ""));
            if platform.trim().is_empty() {
                return Err(Failure::Usage(format!(
                    "--identity {text:?} names no platform; write it like discord:123456"
                )));
            }
            identities.push((platform.trim().to_owned(), bot_id.to_owned()));
        }
        if identities.is_empty() {
            identities.push(("relay".to_owned(), String::new()));
        }
        let secret = match &args.secret_file {
            Some(path) => crate::secrets::read_secret_file(path)?.into_iter().next(),
            None => args.secret.clone(),
        };
        let auth = match (&args.gateway_id, &secret) {
            (None, None) => None,
            (Some(gateway_id), Some(secret)) => {
                let secret = Secret::new(secret.clone()).ok_or_else(|| {
                    Failure::Usage("--secret is empty; pass the connector's secret".to_owned())
                })?;
                Some(Auth { gateway_id: gateway_id.clone(), secret })
            }
            _ => {
                return Err(Failure::Usage(
                    "auth needs both --gateway-id and --secret (or neither, to skip the auth checks)"
                        .to_owned(),
                ));
            }
        };
        let roots = match &args.ca {
            Some(path) => TlsRoots::default().with_ca(crate::secrets::read_ca(path)?),
            None => TlsRoots::default(),
        };
        Ok(Self {
            target,
            identities,
            auth,
            expect_pushes: args.expect_pushes,
            roots,
            parked: tokio::sync::Mutex::new(None),
            seed: relay_tokio::os_seed(),
            issued: AtomicU64::new(0),
        })
    }

    /// One `hello` per identity, in order.
    pub(crate) fn hellos(&self) -> Vec<Value> {
        self.identities
            .iter()
            .map(|(platform, bot_id)| json!({"type": "hello", "platform": platform, "botId": bot_id}))
            .collect()
    }

    /// A token valid for the next 300 s, when auth is configured.
    pub(crate) fn fresh_token(&self) -> Option<String> {
        let auth = self.auth.as_ref()?;
        Some(mint_token(&auth.gateway_id, relay_tokio::unix_now() + DEFAULT_TOKEN_TTL_SECS, &auth.secret))
    }

    /// A fresh request id in a gateway's form (PROTOCOL §2: simple-form
    /// UUIDv4), never repeated within the run.
    pub(crate) fn request_id(&self) -> String {
        let n = self.issued.fetch_add(1, Ordering::Relaxed);
        let high = mix(self.seed ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let low = mix(high ^ self.seed.rotate_left(17));
        let high = (high & !0xf000) | 0x4000;
        let low = (low & !(0xc << 60)) | (0x8 << 60);
        format!("{high:016x}{low:016x}")
    }
}

/// SplitMix64's finalizer: spreads a counter over all 64 bits.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A probe: one check's way of deciding, given the connector.
pub(crate) type Judge = for<'a> fn(&'a Probe) -> futures::future::BoxFuture<'a, Verdict>;

/// How long one check may take at most, within [`RUN_BUDGET`].
const CHECK_BUDGET: Duration = Duration::from_secs(10);

/// Runs the selected checks in table order, each bounded, and reports them.
pub(crate) fn run(args: Args) -> Result<ExitCode, Failure> {
    if args.common.list {
        return super::report::list(checks::TABLE, args.common.json);
    }
    let selected = check::select(checks::TABLE, &args.common.only)?;
    let probe = Probe::new(&args)?;
    let mut reporter = Reporter::new(args.common.json);
    crate::lines::runtime()?.block_on(async {
        let start = tokio::time::Instant::now();
        for check in selected {
            let left = RUN_BUDGET.saturating_sub(start.elapsed()).min(CHECK_BUDGET);
            let verdict = if left.is_zero() {
                Verdict::fail(format!(
                    "not run: the run's {} s were spent on the checks before",
                    RUN_BUDGET.as_secs()
                ))
            } else {
                match tokio::time::timeout(left, (check.judge)(&probe)).await {
                    Ok(verdict) => verdict,
                    Err(_) => Verdict::fail(format!(
                        "no verdict within {} s: the connector stopped answering",
                        left.as_secs()
                    )),
                }
            };
            reporter.verdict::<Judge>(check, &verdict)?;
        }
        if let Some(parked) = probe.parked.lock().await.take() {
            parked.close().await;
        }
        reporter.finish()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_simple_form_uuid_v4_and_distinct() {
        let args = Args {
            url: "ws://127.0.0.1:1".to_owned(),
            identities: Vec::new(),
            gateway_id: None,
            secret: None,
            secret_file: None,
            ca: None,
            expect_pushes: false,
            common: Common { json: false, only: Vec::new(), list: false },
        };
        let probe = Probe::new(&args).expect("a valid probe");
        let ids: Vec<String> = (0..50).map(|_| probe.request_id()).collect();
        for id in &ids {
            let bytes = id.as_bytes();
            assert_eq!(bytes.len(), 32, "{id}");
            assert!(id.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()), "{id}");
            assert_eq!(bytes[12], b'4', "{id}");
            assert!(matches!(bytes[16], b'8' | b'9' | b'a' | b'b'), "{id}");
        }
        let distinct: std::collections::HashSet<&String> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len());
        assert_eq!(probe.identities, [("relay".to_owned(), String::new())]);
    }
}
