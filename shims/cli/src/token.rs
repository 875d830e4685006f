//! `relay token mint|verify`: upgrade-auth tokens (PROTOCOL §8).
//!
//! The secret is never printed: not in output, not in error messages.

use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use relay_core::policy::{DEFAULT_TOKEN_TTL_SECS, Secret, TokenVerifier, mint_token};

use crate::stdio::{Failure, Out};

/// The `--help` examples of `relay token mint`.
const MINT_EXAMPLES: &str = "Examples:
  relay token mint --gateway-id gw-test --secret s3cret --exp 1700000300
      Z3ctdGVzdDoxNzAwMDAwMzAwOmZkMGI1YmUzYTMxMDNhNDU0YWEwMDkyYmM3NjU4OWZmZjAwY2ZjYWQ3YjFiMmI4Njk4ZTVkMjgyZTc2YThiOTc
  relay token mint --gateway-id gw-test --secret s3cret --ttl 60
  TOKEN=$(relay token mint --gateway-id gw-test --secret s3cret)";

/// The `--help` examples of `relay token verify`.
const VERIFY_EXAMPLES: &str = "Examples:
  relay token verify \"Bearer $TOKEN\" --secret s3cret --now 1700000000
      ok gw-test 1700000300
  relay token verify \"$TOKEN\" --secret s3cret --now 1700000301
      expired
  relay token verify \"$TOKEN\" --secret new-secret --secret old-secret --max-lifetime 3600";

/// The `--help` examples of `relay token`.
pub(crate) const EXAMPLES: &str = "Examples:
  relay token mint --gateway-id gw-test --secret s3cret --exp 1700000300
      Z3ctdGVzdDoxNzAwMDAwMzAwOmZkMGI1YmUzYTMxMDNhNDU0YWEwMDkyYmM3NjU4OWZmZjAwY2ZjYWQ3YjFiMmI4Njk4ZTVkMjgyZTc2YThiOTc
  relay token verify \"Bearer $TOKEN\" --secret s3cret --now 1700000000
      ok gw-test 1700000300";

/// The `token` subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Print a fresh token for a gateway id.
    #[command(after_help = MINT_EXAMPLES)]
    Mint(MintArgs),
    /// Check a token: prints `ok <gateway_id> <exp>` (exit 0), or `expired` / `unauthorized` (exit 1).
    #[command(after_help = VERIFY_EXAMPLES)]
    Verify(VerifyArgs),
}

/// Arguments of `relay token mint`.
#[derive(Debug, clap::Args)]
pub(crate) struct MintArgs {
    /// The gateway id the token names.
    #[arg(long, value_name = "ID")]
    gateway_id: String,
    /// The shared upgrade secret (must not be empty or whitespace-only).
    #[arg(long, value_name = "S")]
    secret: String,
    /// Expiry as unix seconds (`0` means the token never expires).
    #[arg(long, value_name = "UNIX", conflicts_with = "ttl")]
    exp: Option<u64>,
    /// Lifetime in seconds from now.
    #[arg(long, value_name = "SECS", default_value_t = DEFAULT_TOKEN_TTL_SECS)]
    ttl: u64,
}

/// Arguments of `relay token verify`.
#[derive(Debug, clap::Args)]
pub(crate) struct VerifyArgs {
    /// The token, bare or with a `Bearer ` prefix.
    #[arg(value_name = "TOKEN", allow_hyphen_values = true)]
    token: String,
    /// A secret that may have signed the token; repeat for a rotation list.
    #[arg(long = "secret", value_name = "S", required = true)]
    secrets: Vec<String>,
    /// The current time as unix seconds [default: the system clock].
    #[arg(long, value_name = "UNIX")]
    now: Option<u64>,
    /// Refuse tokens expiring more than this many seconds after now, and never-expiring ones.
    #[arg(long, value_name = "SECS")]
    max_lifetime: Option<u64>,
}

/// Runs `mint` or `verify`.
pub(crate) fn run(command: Command) -> Result<ExitCode, Failure> {
    match command {
        Command::Mint(args) => mint(args),
        Command::Verify(args) => verify(args),
    }
}

fn mint(args: MintArgs) -> Result<ExitCode, Failure> {
    if args.gateway_id.trim().is_empty() {
        return Err(Failure::Usage("the gateway id is empty; pass a non-empty --gateway-id.".to_owned()));
    }
    let secret = secret(args.secret)?;
    let exp = match args.exp {
        Some(exp) => exp,
        None => now()?.checked_add(args.ttl).ok_or_else(|| {
            Failure::Usage(format!(
                "--ttl {} puts the expiry beyond any time; pass a smaller --ttl.",
                args.ttl
            ))
        })?,
    };
    let mut out = Out::new();
    out.line(&mint_token(&args.gateway_id, exp, &secret))?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn verify(args: VerifyArgs) -> Result<ExitCode, Failure> {
    let secrets = args.secrets.into_iter().map(secret).collect::<Result<Vec<_>, _>>()?;
    let mut verifier = TokenVerifier::new(secrets);
    if let Some(secs) = args.max_lifetime {
        verifier = verifier.with_max_lifetime(secs);
    }
    let now = match args.now {
        Some(now) => now,
        None => now()?,
    };
    let mut out = Out::new();
    let code = match verifier.verify(&args.token, now) {
        Ok(token) => {
            out.line(&format!("ok {} {}", token.gateway_id, token.exp))?;
            ExitCode::SUCCESS
        }
        Err(rejection) => {
            out.line(rejection.as_str())?;
            ExitCode::FAILURE
        }
    };
    out.flush()?;
    Ok(code)
}

/// A usable secret, or the usage problem of an unset one.
fn secret(text: String) -> Result<Secret, Failure> {
    Secret::new(text).ok_or_else(|| {
        Failure::Usage("a --secret is empty or whitespace-only; pass the real shared secret.".to_owned())
    })
}

/// The system clock as unix seconds.
fn now() -> Result<u64, Failure> {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).map_err(|_| {
        Failure::Usage(
            "the system clock is set before 1970; fix the clock or pass the time explicitly.".to_owned(),
        )
    })
}
