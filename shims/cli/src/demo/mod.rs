//! `relay demo`: an embedded connector and a gateway on loopback play a short
//! realistic session, and the transcript shows each step.

mod report;
mod script;

use std::process::ExitCode;

use crate::stdio::Failure;

/// The `--help` examples.
pub(crate) const EXAMPLES: &str = "Examples:
  relay demo
  relay demo --json | jq -c 'select(.stage == \"summary\")'
  relay demo --runtime smol";

/// Which async runtime runs the demo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum RuntimeChoice {
    /// tokio (multi-threaded)
    Tokio,
    /// smol
    Smol,
}

/// Arguments of `relay demo`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Print each stage as a JSON line with a `stage` field (the last is `summary`).
    #[arg(long)]
    json: bool,
    /// The async runtime to run on.
    #[arg(long, value_enum, default_value_t = RuntimeChoice::Tokio)]
    runtime: RuntimeChoice,
}

/// Plays the demo; any stage that does not happen fails it with one sentence.
pub(crate) fn run(args: Args) -> Result<ExitCode, Failure> {
    let reporter = report::Reporter::new(args.json);
    let outcome = match args.runtime {
        RuntimeChoice::Tokio => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| Failure::Runtime(format!("could not start the tokio runtime: {e}")))?
            .block_on(script::play(relay_tokio::Tokio, &reporter)),
        RuntimeChoice::Smol => smol::block_on(script::play(relay_smol::Smol, &reporter)),
    };
    outcome
        .map(|()| ExitCode::SUCCESS)
        .map_err(|problem| Failure::Runtime(format!("the demo stopped: {problem}")))
}
