//! The connector checks, one entry per rule.

use super::{Judge, Probe};
use crate::conform::{Check, Verdict};

/// Every connector check, in the order they run.
pub(crate) const TABLE: &[Check<Judge>] = &[Check {
    name: "upgrade_path",
    section: "§8",
    passes: "the upgrade on `/relay` is accepted",
    judge: |probe| Box::pin(upgrade_path(probe)),
}];

async fn upgrade_path(probe: &Probe) -> Verdict {
    Verdict::skip(format!("not probed yet: {}", probe.url))
}
