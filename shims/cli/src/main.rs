//! The `relay` command line.
//!
//! Offline tools around the relay protocol (`core/PROTOCOL.md`):
//!
//! - `relay decode`: a raw frame stream on stdin → one JSON line per frame or diagnostic;
//! - `relay session-key`: SessionSource JSON lines → session keys (PROTOCOL §10);
//! - `relay token mint|verify`: upgrade-auth tokens (PROTOCOL §8);
//! - `relay url`: the normalized dial URL (PROTOCOL §8).
//!
//! The exact input and output formats are a contract other programs parse; they
//! are specified in `shims/cli/CLI.md`. Machine output is JSON Lines (or bare
//! values) on stdout; human messages go to stderr.
//!
//! Exit codes: `0` success; `1` a negative answer (a rejected token, a bad
//! session-key input line) or an I/O error; `2` a usage problem (bad flags,
//! an empty secret, a bad URL), reported as one sentence on stderr. A closed
//! stdout (`relay decode | head`) ends the command quietly with exit code 1.
//!
//! This file only parses arguments and dispatches; each subcommand lives in
//! its own module with an `Args` type and a `run` function. To add one, add
//! a module, a variant to [`Command`] and an arm to [`Command::run`].

mod decode;
mod session_key;
mod stdio;
mod token;
mod url;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The `--help` examples of `relay` itself.
const EXAMPLES: &str = "Examples:
  echo '{\"type\":\"going_idle\"}' | relay decode
  relay url https://connector.example.com
  relay token mint --gateway-id gw-1 --secret \"$GATEWAY_RELAY_SECRET\"
  relay <COMMAND> --help";

/// Command-line tools for the relay protocol.
#[derive(Debug, Parser)]
#[command(name = "relay", version, about, propagate_version = true, after_help = EXAMPLES)]
struct Cli {
    /// The subcommand to run.
    #[command(subcommand)]
    command: Command,
}

/// Every subcommand of `relay`.
#[derive(Debug, Subcommand)]
enum Command {
    /// Decode a raw frame stream from stdin into one JSON line per frame or diagnostic.
    #[command(after_help = decode::EXAMPLES)]
    Decode(decode::Args),
    /// Derive the session key of each SessionSource JSON line on stdin.
    #[command(after_help = session_key::EXAMPLES)]
    SessionKey(session_key::Args),
    /// Mint or verify upgrade-auth tokens.
    #[command(subcommand, after_help = token::EXAMPLES)]
    Token(token::Command),
    /// Print the normalized dial URL for a connector address.
    #[command(after_help = url::EXAMPLES)]
    Url(url::Args),
}

impl Command {
    /// Runs the subcommand; its outcome decides the exit code.
    fn run(self) -> Result<ExitCode, stdio::Failure> {
        match self {
            Self::Decode(args) => decode::run(args),
            Self::SessionKey(args) => session_key::run(args),
            Self::Token(command) => token::run(command),
            Self::Url(args) => url::run(args),
        }
    }
}

fn main() -> ExitCode {
    Cli::parse().command.run().unwrap_or_else(stdio::Failure::report)
}
