//! The `relay` command line.
//!
//! Offline tools around the relay protocol (`core/PROTOCOL.md`):
//!
//! - `relay decode`: a raw frame stream on stdin → one JSON line per frame or diagnostic;
//! - `relay session-key`: SessionSource JSON lines → session keys (PROTOCOL §10);
//! - `relay token mint|verify`: upgrade-auth tokens (PROTOCOL §8);
//! - `relay url`: the normalized dial URL (PROTOCOL §8).
//!
//! And two networked ones, on tokio (`relay-tokio`), for testing either side
//! of a deployment:
//!
//! - `relay serve`: a connector that answers hellos and requests, pushes a
//!   script of frames, records what gateways send and prints one JSON line
//!   per event; runs until SIGINT/SIGTERM;
//! - `relay dial`: a gateway that prints what the connector sends and runs
//!   the commands read from stdin (actions, acks, interrupts, going idle)
//!   concurrently, one `result` line each; configured by flags or the
//!   `GATEWAY_RELAY_*` variables.
//!
//! The exact input and output formats are a contract other programs parse; they
//! are specified in `shims/cli/CLI.md`. Machine output is JSON Lines (or bare
//! values) on stdout; human messages go to stderr.
//!
//! Exit codes: `0` success; `1` a negative answer (a rejected token, a bad
//! session-key input line) or an I/O error; `2` a usage problem (bad flags,
//! an empty secret, a bad URL), reported as one sentence on stderr. A closed
//! stdout (`relay decode | head`) ends the command quietly with exit code 1.
//! `serve` and `dial` add: `1` for what fails outside the command (a port in
//! use, a refused connection, a revoked secret) and, for `dial`, `2` when a
//! stdin line was not a valid command (see CLI.md).
//!
//! And `relay bench`, load figures on loopback beside a bare async-tungstenite
//! baseline (see `shims/cli/PERFORMANCE.md`); `relay conform`, a conformance
//! kit that checks another implementation over the wire, rule by rule.
//!
//! This file only parses arguments and dispatches; each subcommand lives in
//! its own module with an `Args` type and a `run` function. To add one, add
//! a module, a variant to [`Command`] and an arm to [`Command::run`].

mod bench;
mod conform;
mod decode;
mod demo;
mod dial;
mod lines;
mod metrics_http;
mod raw_record;
mod replay;
mod secrets;
mod serve;
mod session_key;
mod stdin_lines;
mod stdio;
mod token;
mod url;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc for every subcommand: the networked ones allocate a few times
/// per frame (strings of decoded frames, encoded lines, queue nodes), which
/// glibc's allocator served with a slow path of its own.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    /// Play a short session between an embedded connector and a gateway, stage by stage.
    #[command(after_help = demo::EXAMPLES)]
    Demo(demo::Args),
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
    /// Run a connector for testing a gateway: answers hellos and requests, prints events.
    #[command(after_help = serve::EXAMPLES)]
    Serve(serve::Args),
    /// Run a gateway on the command line: actions on stdin, events and results on stdout.
    #[command(after_help = dial::EXAMPLES)]
    Dial(dial::Args),
    /// Replay one connection of a `--record-raw` recording through a fresh machine, printing what it did.
    #[command(after_help = replay::EXAMPLES)]
    Replay(replay::Args),
    /// Measure round trips, inbound delivery and idle-connection memory on loopback, beside a raw baseline.
    #[command(after_help = bench::EXAMPLES)]
    Bench(bench::Args),
    /// Check another implementation over the wire, rule by rule, against the protocol.
    #[command(subcommand, after_help = conform::EXAMPLES)]
    Conform(conform::Command),
}

impl Command {
    /// Runs the subcommand; its outcome decides the exit code.
    fn run(self) -> Result<ExitCode, stdio::Failure> {
        match self {
            Self::Demo(args) => demo::run(args),
            Self::Decode(args) => decode::run(args),
            Self::SessionKey(args) => session_key::run(args),
            Self::Token(command) => token::run(command),
            Self::Url(args) => url::run(args),
            Self::Serve(args) => serve::run(args),
            Self::Dial(args) => dial::run(args),
            Self::Replay(args) => replay::run(args),
            Self::Bench(args) => bench::run(args),
            Self::Conform(command) => conform::run(command),
        }
    }
}

fn main() -> ExitCode {
    Cli::parse().command.run().unwrap_or_else(stdio::Failure::report)
}
