//! `relay conform`: checks another implementation of the protocol over the
//! wire and says, check by check, where it departs from `core/PROTOCOL.md`.
//!
//! - `relay conform connector URL` plays a gateway against a connector
//!   ([`connector`]): each check opens its own connections and probes one
//!   rule.
//! - `relay conform gateway --listen ADDR` plays a connector and waits for a
//!   gateway to dial ([`gateway`]): one scripted session, whose transcript
//!   every check then judges.
//!
//! Each mode keeps its checks in one table (`checks.rs`), one entry per rule:
//! a name, the PROTOCOL section, what passes, and the function that decides.
//! Adding a check is adding an entry. [`report`] prints the verdicts; the
//! formats are in `shims/cli/CLI.md`.

mod check;
mod connector;
mod gateway;
mod report;

use std::process::ExitCode;
use std::time::Duration;

use clap::Subcommand;

use crate::stdio::Failure;

pub(crate) use check::Check;
pub(crate) use report::{Reporter, Verdict};

/// The longest a whole run may take, against any peer, including one that
/// never answers (the contract promises 60 s; the rest is slack for start-up
/// and output).
pub(crate) const RUN_BUDGET: Duration = Duration::from_secs(55);

/// The `--help` examples.
pub(crate) const EXAMPLES: &str = "Examples:
  relay conform connector ws://127.0.0.1:8080/relay
  relay conform connector https://connector.example.com --identity discord:bot-1 --gateway-id gw-1 --secret \"$SECRET\"
  relay conform connector ws://127.0.0.1:8080 --expect-pushes --json
  relay conform connector ws://127.0.0.1:8080 --only auth_no_token,descriptor_shape
  relay conform gateway --listen 127.0.0.1:9000 --secret \"$SECRET\"   # then start the gateway against ws://127.0.0.1:9000/relay
Exit codes: 0 nothing failed, 1 a check failed, 2 a usage problem.";

/// The two modes of `relay conform`.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Act as a gateway and check a connector at URL.
    #[command(after_help = EXAMPLES)]
    Connector(connector::Args),
    /// Act as a connector on ADDR and check the gateway that dials it.
    #[command(after_help = EXAMPLES)]
    Gateway(gateway::Args),
}

/// Options both modes take.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct Common {
    /// One JSON line per check and a summary line, instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
    /// Run only these checks (comma-separated names; see `shims/cli/CLI.md`).
    #[arg(long, value_delimiter = ',', value_name = "CHECK,…")]
    pub(crate) only: Vec<String>,
    /// Print the checks (name, section, what passes) and exit without running any.
    #[arg(long)]
    pub(crate) list: bool,
}

/// Runs one mode; exit 0 when no check failed, 1 when one did.
pub(crate) fn run(command: Command) -> Result<ExitCode, Failure> {
    match command {
        Command::Connector(args) => connector::run(args),
        Command::Gateway(args) => gateway::run(args),
    }
}
