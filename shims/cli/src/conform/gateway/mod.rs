//! `relay conform gateway --listen ADDR`: play a connector for a gateway.
//!
//! One scripted session ([`scenario`]) drives the gateway through every
//! stimulus and records a transcript ([`observation`]); every check
//! ([`checks`]) then judges that transcript. The connector's side of each
//! connection is in [`link`], the frames it writes in [`frames`].

mod checks;
mod frames;
mod link;
mod observation;
mod scenario;
mod timing;
mod tokens;
mod upgrade;

use std::net::ToSocketAddrs as _;
use std::process::ExitCode;
use std::time::Duration;

use relay_core::policy::{Secret, TokenVerifier};

use super::{Common, RUN_BUDGET, Reporter, check};
use crate::stdio::Failure;
use observation::Observation;

/// `relay conform gateway` flags.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Where to listen (`host:port`; port 0 picks one, printed on stderr).
    #[arg(long, value_name = "ADDR")]
    pub(crate) listen: Option<String>,
    /// An upgrade secret the gateway's tokens must verify with (repeatable: a rotation list).
    #[arg(long, value_name = "S")]
    pub(crate) secret: Vec<String>,
    /// How long to wait for the gateway's first dial, in seconds (1–30).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=30), value_name = "N")]
    pub(crate) wait_secs: u64,
    /// Fail, rather than skip, when the gateway's application sends no request.
    #[arg(long)]
    pub(crate) expect_requests: bool,
    /// Fail, rather than skip, when buffered frames are never acked.
    #[arg(long)]
    pub(crate) expect_acks: bool,
    #[command(flatten)]
    pub(crate) common: Common,
}

/// The part of [`RUN_BUDGET`] kept for judging and printing after the session.
const OUTPUT_SLACK: Duration = Duration::from_secs(1);

/// How a check decides: a judgement of the transcript.
pub(crate) type Judge = fn(&Observation) -> crate::conform::Verdict;

/// Listens, runs the session, judges it check by check.
pub(crate) fn run(args: Args) -> Result<ExitCode, Failure> {
    if args.common.list {
        return super::report::list(checks::TABLE, args.common.json);
    }
    let selected = check::select(checks::TABLE, &args.common.only)?;
    let Some(listen) = &args.listen else {
        return Err(Failure::Usage("--listen ADDR is required, for example --listen 127.0.0.1:9000".into()));
    };
    let addr = listen.to_socket_addrs().ok().and_then(|mut addrs| addrs.next()).ok_or_else(|| {
        Failure::Usage(format!(
            "--listen {listen:?} is not an address to listen on; pass host:port, for example 127.0.0.1:0"
        ))
    })?;
    let mut secrets = Vec::new();
    for secret in &args.secret {
        secrets.push(
            Secret::new(secret.as_str()).ok_or_else(|| {
                Failure::Usage("--secret is empty; pass the gateway's upgrade secret".into())
            })?,
        );
    }
    let obs = Observation {
        wait: Duration::from_secs(args.wait_secs),
        verifier: (!secrets.is_empty()).then(|| TokenVerifier::new(secrets)),
        expect_requests: args.expect_requests,
        expect_acks: args.expect_acks,
        ..Observation::default()
    };
    let mut reporter = Reporter::new(args.common.json);
    crate::lines::runtime()?.block_on(async {
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
            Failure::Runtime(format!("could not listen on {addr}: {e}; pick another --listen address"))
        })?;
        let bound = listener
            .local_addr()
            .map_err(|e| Failure::Runtime(format!("could not read the bound address: {e}")))?;
        let url = format!("ws://{bound}/relay");
        eprintln!("listening on {url}");
        if args.common.json {
            reporter.preamble(&crate::lines::JsonObject::new().field("listening", &url).finish())?;
        }
        let obs = scenario::run(listener, &url, obs, RUN_BUDGET.saturating_sub(OUTPUT_SLACK)).await;
        for check in selected {
            reporter.verdict::<Judge>(check, &(check.judge)(&obs))?;
        }
        reporter.finish()
    })
}
