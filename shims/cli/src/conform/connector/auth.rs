//! The upgrade auth checks (PROTOCOL §8): a missing, forged or expired token
//! is closed with 4401 and the right reason; a fresh one is accepted.

use relay_core::policy::{Secret, TokenRejection, UNAUTHORIZED_CLOSE_CODE, mint_token};

use super::session::{ANSWER_WAIT, Chunking, Session, Token, close_text, frame_type};
use super::{Auth, Probe};
use crate::conform::Verdict;

/// Seconds in the past the expired token's `exp` lies.
const EXPIRED_BY_SECS: u64 = 120;

/// The auth settings, or the skip saying which flags the check needs.
fn configured(probe: &Probe) -> Result<&Auth, Verdict> {
    probe.auth.as_ref().ok_or_else(|| {
        Verdict::skip("needs --gateway-id and --secret (the connector's secret) to mint tokens")
    })
}

/// Dials with `token`, sends the hellos, and expects a 4401 close with
/// `reason`; `what` names the token in details.
async fn rejected(probe: &Probe, token: Token, what: &str, reason: TokenRejection) -> Verdict {
    let expected = format!("close {UNAUTHORIZED_CLOSE_CODE} `{}`", reason.as_str());
    let mut session = match Session::open(probe, token).await {
        Ok(session) => session,
        Err(e) => {
            return Verdict::fail(format!("the upgrade with {what} was refused ({e}) instead of {expected}"));
        }
    };
    // The connector may already be closing: a failed send changes nothing.
    let _ = session.send_frames(&probe.hellos(), Chunking::Whole).await;
    let (closed, frames) = session.closed_within(ANSWER_WAIT).await;
    let answered = frames.iter().any(|f| frame_type(f) == Some("descriptor"));
    match closed {
        Some((Some(code), got)) if code == UNAUTHORIZED_CLOSE_CODE && got == reason.as_str() && !answered => {
            Verdict::pass(format!("{what}: {expected}"))
        }
        _ if answered => Verdict::fail(format!("the connector accepted {what}: its hello was answered")),
        Some((code, got)) => {
            Verdict::fail(format!("{what} got {} instead of {expected}", close_text(code, &got)))
        }
        None => Verdict::fail(format!(
            "{what} was neither closed nor answered within {} s ({expected} expected)",
            ANSWER_WAIT.as_secs()
        )),
    }
}

/// No `Authorization` header → 4401 `unauthorized`.
pub(super) async fn auth_no_token(probe: &Probe) -> Verdict {
    if let Err(skip) = configured(probe) {
        return skip;
    }
    rejected(probe, Token::Absent, "an upgrade without a token", TokenRejection::Unauthorized).await
}

/// A token signed with another secret → 4401 `unauthorized`.
pub(super) async fn auth_bad_signature(probe: &Probe) -> Verdict {
    let auth = match configured(probe) {
        Ok(auth) => auth,
        Err(skip) => return skip,
    };
    let Some(wrong) = Secret::new(format!("{}-not-the-secret", auth.secret.expose())) else {
        return Verdict::fail("could not derive a wrong secret");
    };
    let token = mint_token(&auth.gateway_id, relay_tokio::unix_now() + 300, &wrong);
    rejected(probe, Token::Exactly(token), "a token with a wrong signature", TokenRejection::Unauthorized)
        .await
}

/// A correctly signed token whose `exp` passed → 4401 `expired`.
pub(super) async fn auth_expired(probe: &Probe) -> Verdict {
    let auth = match configured(probe) {
        Ok(auth) => auth,
        Err(skip) => return skip,
    };
    let exp = relay_tokio::unix_now().saturating_sub(EXPIRED_BY_SECS);
    let token = mint_token(&auth.gateway_id, exp, &auth.secret);
    rejected(probe, Token::Exactly(token), "a token expired 120 s ago", TokenRejection::Expired).await
}

/// A freshly minted token → accepted, and the hello answered.
pub(super) async fn auth_good_token(probe: &Probe) -> Verdict {
    if let Err(skip) = configured(probe) {
        return skip;
    }
    match Session::handshake(probe).await {
        Ok((session, _)) => {
            session.close().await;
            Verdict::pass("a freshly minted token was accepted and the hello answered")
        }
        Err(e) => Verdict::fail(format!("with a freshly minted token: {e}")),
    }
}
