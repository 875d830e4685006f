//! `relay conform connector URL`: play a gateway against a connector.

mod checks;

use std::process::ExitCode;
use std::time::Duration;

use super::{Common, RUN_BUDGET, Reporter, Verdict, check};
use crate::stdio::Failure;

/// `relay conform connector` flags.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The connector's URL (normalized as a gateway does: `https://` → `wss://`, `/relay` appended).
    pub(crate) url: String,
    #[command(flatten)]
    pub(crate) common: Common,
}

/// What every probe knows about the connector under test.
#[derive(Debug)]
pub(crate) struct Probe {
    /// The normalized URL.
    pub(crate) url: String,
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
    let probe = Probe { url: args.url };
    let mut reporter = Reporter::new(args.common.json);
    crate::lines::runtime()?.block_on(async {
        let start = tokio::time::Instant::now();
        for check in selected {
            let left = RUN_BUDGET.saturating_sub(start.elapsed()).min(CHECK_BUDGET);
            let verdict = match tokio::time::timeout(left, (check.judge)(&probe)).await {
                Ok(verdict) => verdict,
                Err(_) => Verdict::fail(format!("no verdict within {} s: the connector stopped answering", left.as_secs())),
            };
            reporter.verdict::<Judge>(check, &verdict)?;
        }
        reporter.finish()
    })
}
