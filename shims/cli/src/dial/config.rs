//! What `relay dial` connects to and as whom: flags first, then the
//! `GATEWAY_RELAY_*` environment (through `adapter::EnvConfig`), and the
//! sentence for each way connecting can fail.

use std::io::Write as _;
use std::time::Duration;

use relay_core::adapter::{
    ENV_BOT_ID, ENV_BOT_IDS, ENV_GATEWAY_ID, ENV_PLATFORM, ENV_PLATFORMS, ENV_SECRET, ENV_URL, EnvConfig,
    EnvError,
};
use relay_core::gateway::Identity;
use relay_core::policy::{ConnectCause, ReconnectError};
use relay_driver::{ClientConfig, ConnectError};

use super::Args;
use crate::stdio::Failure;

/// A checked `dial` configuration.
#[derive(Debug)]
pub(crate) struct Settings {
    /// The normalized URL.
    pub(crate) url: String,
    /// The identities announced, in order.
    pub(crate) identities: Vec<Identity>,
    /// How the client connects.
    pub(crate) client: ClientConfig,
    /// Time a request waits for its result.
    pub(crate) request_timeout: Duration,
    /// Where to serve metrics (`--metrics`).
    pub(crate) metrics: Option<String>,
    /// Where to record raw traffic (`--record-raw`).
    pub(crate) record_raw: Option<std::path::PathBuf>,
}

/// Builds the settings; every problem is a usage error naming the fix.
pub(crate) fn settings(mut args: Args) -> Result<Settings, Failure> {
    let flag_identities = flag_identities(&args)?;
    if let Some(path) = &args.secret_file {
        args.secret = crate::secrets::read_secret_file(path)?.into_iter().next();
    }
    for (value, flag) in [(&args.gateway_id, "--gateway-id"), (&args.secret, "--secret")] {
        if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
            return Err(Failure::Usage(format!("{flag} is empty or whitespace-only; pass the real value")));
        }
    }
    let flag_auth = args.gateway_id.is_some() || args.secret.is_some();
    let lookup = |name: &str| -> Option<String> {
        let flag = match name {
            ENV_URL => args.url.clone(),
            ENV_GATEWAY_ID => args.gateway_id.clone(),
            ENV_SECRET => args.secret.clone(),
            // Identities from flags: the environment's are not read (nor warned about).
            ENV_PLATFORMS | ENV_BOT_IDS | ENV_PLATFORM | ENV_BOT_ID if flag_identities.is_some() => {
                return None;
            }
            _ => None,
        };
        flag.or_else(|| std::env::var(name).ok())
    };
    let env = EnvConfig::from_lookup(lookup).map_err(|e| url_problem(args.url.as_deref(), &e))?;
    if flag_auth && env.auth.is_none() {
        return Err(Failure::Usage(format!(
            "upgrade auth needs both a gateway id and a secret; pass --gateway-id and --secret \
             (or set {ENV_GATEWAY_ID} and {ENV_SECRET})"
        )));
    }
    for warning in &env.warnings {
        let _ = writeln!(std::io::stderr(), "warning: {warning}.");
    }
    let identities = flag_identities.unwrap_or(env.identities);
    let request_timeout = Duration::from_millis(args.request_timeout_ms);
    let mut client = ClientConfig::default().with_identities(identities.clone());
    client.reconnect = !args.no_reconnect;
    client.connect_budget = Duration::from_millis(args.connect_timeout_ms);
    client.open_timeout = client.open_timeout.min(client.connect_budget);
    client.gateway.request_timeout = request_timeout;
    if let Some(auth) = env.auth {
        client = client.with_auth(auth.gateway_id, auth.secret);
    }
    if let Some(path) = &args.ca {
        client.tls = client.tls.with_ca(crate::secrets::read_ca(path)?);
    }
    Ok(Settings {
        url: env.url,
        identities,
        client,
        request_timeout,
        metrics: args.metrics,
        record_raw: args.record_raw,
    })
}

/// The identities given by `--platform`/`--bot-id` or `--identity`, if any.
fn flag_identities(args: &Args) -> Result<Option<Vec<Identity>>, Failure> {
    if let Some(platform) = &args.platform {
        let platform = non_empty_platform(platform, "--platform")?;
        return Ok(Some(vec![Identity::new(platform, args.bot_id.clone().unwrap_or_default())]));
    }
    if args.identities.is_empty() {
        return Ok(None);
    }
    let parsed = args
        .identities
        .iter()
        .map(|text| {
            let (platform, bot_id) = text.split_once(':').unwrap_or((text, ""));
            Ok(Identity::new(non_empty_platform(platform, "--identity")?, bot_id))
        })
        .collect::<Result<Vec<_>, Failure>>()?;
    Ok(Some(parsed))
}

fn non_empty_platform(platform: &str, flag: &str) -> Result<String, Failure> {
    let platform = platform.trim();
    if platform.is_empty() {
        return Err(Failure::Usage(format!("{flag} names no platform; write it like discord:123456")));
    }
    Ok(platform.to_owned())
}

/// The usage error of a missing or unusable URL.
fn url_problem(flag: Option<&str>, error: &EnvError) -> Failure {
    Failure::Usage(match (error, flag) {
        (EnvError::MissingUrl, _) => format!(
            "no connector URL; pass one (for example `relay dial ws://127.0.0.1:8080`) or set {ENV_URL}"
        ),
        (EnvError::BadUrl(e), Some(url)) => format!("{url:?} is not a usable connector URL: {e}"),
        (EnvError::BadUrl(e), None) => format!("{ENV_URL} is not a usable connector URL: {e}"),
        (other, _) => other.to_string(),
    })
}

/// The sentence for a failed first connection (exit 1; 2 for an undialable URL).
pub(crate) fn connect_failure(url: &str, error: ConnectError) -> Failure {
    let cause = match error {
        ConnectError::BadUrl(detail) => {
            return Failure::Usage(format!(
                "{url:?} cannot be dialed ({detail}); pass a ws:// or wss:// URL"
            ));
        }
        ConnectError::Failed(ReconnectError::BudgetExhausted { last_cause }) => last_cause,
        ConnectError::Failed(ReconnectError::Revoked) => {
            return Failure::Runtime(format!(
                "{url} revoked this gateway's upgrade secret (close 4401); {SECRET_FIX}"
            ));
        }
        ConnectError::Failed(ReconnectError::Disabled { reason }) => {
            return Failure::Runtime(format!(
                "the connector at {url} ended the connection ({reason}) and --no-reconnect is set; check its \
                 logs (it may refuse one of the identities)"
            ));
        }
        other => return Failure::Runtime(format!("could not connect to {url}: {other}")),
    };
    Failure::Runtime(match cause {
        ConnectCause::Refused(detail) => format!(
            "could not connect to {url} ({detail}); check that the connector is running and the URL is right"
        ),
        ConnectCause::DialTimedOut(_) => format!(
            "connecting to {url} timed out; check the URL and the network, or raise --connect-timeout-ms"
        ),
        ConnectCause::Unauthorized => {
            format!(
                "the connector at {url} refused the upgrade token (close 4401 unauthorized); {SECRET_FIX}"
            )
        }
        ConnectCause::Expired => format!(
            "the connector at {url} found the upgrade token expired (close 4401 expired); check this \
             machine's clock"
        ),
        ConnectCause::HandshakeTimedOut => format!(
            "the connector at {url} sent no descriptor in time; check that it speaks the relay protocol, \
             or raise --connect-timeout-ms"
        ),
        ConnectCause::BadDescriptor(detail) => {
            format!(
                "the connector at {url} sent an unusable descriptor ({detail}); fix the connector's descriptor"
            )
        }
        other => format!(
            "the connector at {url} ended the connection during the handshake ({other}); check its logs \
             (it may refuse one of the identities)"
        ),
    })
}

/// How to fix a refused secret.
pub(crate) const SECRET_FIX: &str = "check --gateway-id and --secret (or GATEWAY_RELAY_ID and GATEWAY_RELAY_SECRET) against the connector's secrets";
