//! The upgrade check (PROTOCOL §8): the path each dial asks for, and the
//! token it carries, verified with `--secret` and judged for freshness.

use relay_core::policy::TokenRejection;

use super::checks::{plural, reached};
use super::observation::{Connection, Observation, Step};
use super::tokens;
use crate::conform::Verdict;

/// How far a token's `exp` may fall short of dial time + 300 s
/// (clocks tick in whole seconds, and the upgrade takes a moment).
const EXP_EARLY: u64 = 3;
/// How far it may exceed it.
const EXP_LATE: u64 = 2;
/// The lifetime §8 gives a token.
const TOKEN_LIFETIME: u64 = 300;

/// `upgrade_token`: a connector verifies every upgrade; a reused token expires
/// mid-fleet and a missing one is refused.
pub(super) fn upgrade_token(obs: &Observation) -> Verdict {
    if let Err(verdict) = reached(obs, Step::Handshake) {
        return verdict;
    }
    let mut with_token = 0;
    for (i, conn) in obs.connections.iter().enumerate() {
        let dial = i + 1;
        if !conn.path.ends_with("/relay") {
            return Verdict::fail(format!(
                "dial {dial} upgraded on {:?}; the dial URL ends in /relay (§8).",
                conn.path
            ));
        }
        let Some(header) = &conn.authorization else {
            if obs.verifier.is_some() {
                return Verdict::fail(format!(
                    "dial {dial} carried no Authorization header although --secret was given."
                ));
            }
            continue;
        };
        with_token += 1;
        if let Err(problem) = judge_token(obs, dial, conn, header) {
            return Verdict::fail(problem);
        }
    }
    let dials = obs.connections.len();
    let counted = plural(dials, "dial");
    match (with_token, obs.verifier.is_some()) {
        (0, _) => Verdict::pass(format!(
            "{counted}, none with an Authorization header, as expected without --secret (pass --secret to check upgrade auth)."
        )),
        (n, false) if n < dials => Verdict::fail(format!(
            "{n} of {dials} dials carried a token and the others none; a gateway with auth sends one on every dial."
        )),
        (_, true) => {
            Verdict::pass(format!("{counted}, each with a token that verifies, minted for that dial."))
        }
        (_, false) => Verdict::pass(format!(
            "{counted}, each with a well-formed token minted for that dial; signatures not verified (pass --secret)."
        )),
    }
}

/// The problem with dial `dial`'s `Authorization` header, if any.
fn judge_token(obs: &Observation, dial: usize, conn: &Connection, header: &str) -> Result<(), String> {
    let token = tokens::parse(header)
        .map_err(|problem| format!("the Authorization header of dial {dial} {problem}."))?;
    if let Some(verifier) = &obs.verifier {
        match verifier.verify(&token.text, conn.accepted_unix) {
            Ok(_) => {}
            Err(TokenRejection::Expired) => {
                return Err(format!(
                    "the token of dial {dial} had expired (exp {}) when it was sent.",
                    token.exp
                ));
            }
            Err(TokenRejection::Unauthorized) => {
                return Err(format!("the token of dial {dial} does not verify with any --secret."));
            }
        }
    }
    let due = conn.accepted_unix.saturating_add(TOKEN_LIFETIME);
    if token.exp == 0 {
        return Err(format!("the token of dial {dial} never expires (exp 0); §8 mints exp = now + 300 s."));
    }
    if token.exp.saturating_add(EXP_EARLY) < due {
        return Err(format!(
            "the token of dial {dial} expires at {}, {} s before one minted for that dial would (now + 300 s): is one token reused across dials?",
            token.exp,
            due - token.exp
        ));
    }
    if token.exp > due.saturating_add(EXP_LATE) {
        return Err(format!(
            "the token of dial {dial} expires at {}, {} s after now + 300 s.",
            token.exp,
            token.exp - due
        ));
    }
    Ok(())
}
