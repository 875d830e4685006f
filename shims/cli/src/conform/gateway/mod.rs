//! `relay conform gateway --listen ADDR`: play a connector for a gateway.

use std::process::ExitCode;

use super::Common;
use crate::stdio::Failure;

/// `relay conform gateway` flags.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Where to listen (`host:port`; port 0 picks one, printed on stderr).
    #[arg(long)]
    pub(crate) listen: String,
    #[command(flatten)]
    pub(crate) common: Common,
}

/// Runs the scripted session and judges it.
pub(crate) fn run(args: Args) -> Result<ExitCode, Failure> {
    Err(Failure::Usage(format!("relay conform gateway is not available yet (--listen {})", args.listen)))
}
