//! `relay url`: the normalized dial URL of a connector address (PROTOCOL §8).

use std::process::ExitCode;

use relay_core::policy::normalize_url;

use crate::stdio::{Failure, Out};

/// The `--help` examples.
pub(crate) const EXAMPLES: &str = "Examples:
  relay url https://connector.example.com
      wss://connector.example.com/relay
  relay url http://localhost:8080/api
      ws://localhost:8080/api/relay
  relay url wss://x/relay
      wss://x/relay";

/// Arguments of `relay url`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The connector URL (ws://, wss://, http:// or https://).
    #[arg(value_name = "URL", allow_hyphen_values = true)]
    url: String,
}

/// Prints the normalized URL, or explains on stderr why there is none (exit 2).
pub(crate) fn run(args: Args) -> Result<ExitCode, Failure> {
    let url = normalize_url(&args.url).map_err(|e| Failure::Usage(e.to_string()))?;
    let mut out = Out::new();
    out.line(&url)?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
