//! The upgrade half of `connector_bytes`: which verifier the connector has,
//! which `Authorization` header arrives, at which wall time, and what the
//! verdict must be (PROTOCOL §8, "Verifying").

use super::script::{number, text};
use crate::policy::{Secret, TokenRejection, TokenVerifier, mint_token};

/// The secret fuzzed connectors verify with.
const SECRET: &str = "fuzz-secret";

/// Wall time used when the input does not choose one.
const DEFAULT_NOW_UNIX: u64 = 1_700_000_000;

/// Maximum token lifetime of mode `m`.
const MAX_LIFETIME: u64 = 3_600;

/// One upgrade: the verifier, the header, the wall time, and the expected
/// verdict when the harness knows it independently of the verifier.
#[derive(Debug)]
pub(super) struct Upgrade {
    pub(super) verifier: TokenVerifier,
    pub(super) header: Option<String>,
    pub(super) now_unix: u64,
    pub(super) expected: Verdict,
}

/// What the upgrade must lead to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Accepted, vouching for this gateway id (`None`: auth is off).
    Accepted(Option<String>),
    /// Refused: `Closed` (4401) is the first and only action.
    Rejected(TokenRejection),
    /// A raw header: whatever the verifier says, the machine must follow.
    VerifierDecides,
}

/// Reads the upgrade from the first segment of a `connector_bytes` input:
/// a mode letter, then its parameters.
///
/// - `n`: auth off (no secret configured, no header);
/// - `v<exp>,<now>,<gateway id>`: a correctly minted `Bearer` token, no lifetime limit;
/// - `m<exp>,<now>,<gateway id>`: the same, with a maximum lifetime of 3600 s;
/// - `h<header>`: auth on, this raw header value;
/// - any other byte picks one of these by its value.
pub(super) fn upgrade(segment: &[u8]) -> Upgrade {
    let (mode, params) = match segment {
        [mode, params @ ..] => (*mode, params),
        [] => (b'n', segment),
    };
    let mode = if b"nvmh".contains(&mode) { mode } else { b"nvmh"[usize::from(mode) % 4] };
    let verifier = TokenVerifier::new(Secret::new(SECRET));
    match mode {
        b'n' => Upgrade {
            verifier: TokenVerifier::default(),
            header: None,
            now_unix: DEFAULT_NOW_UNIX,
            expected: Verdict::Accepted(None),
        },
        b'h' => Upgrade {
            verifier,
            header: Some(text(params)),
            now_unix: DEFAULT_NOW_UNIX,
            expected: Verdict::VerifierDecides,
        },
        _ => {
            let mut parts = params.splitn(3, |&b| b == b',');
            let exp = number(parts.next().unwrap_or_default(), u64::MAX);
            let now_unix = number(parts.next().unwrap_or_default(), u64::MAX);
            let gateway_id = text(parts.next().unwrap_or_default());
            let lifetime = (mode == b'm').then_some(MAX_LIFETIME);
            let verifier = match lifetime {
                Some(secs) => verifier.with_max_lifetime(secs),
                None => verifier,
            };
            let token = Secret::new(SECRET).map(|s| mint_token(&gateway_id, exp, &s)).unwrap_or_default();
            let expected = verdict(&gateway_id, exp, now_unix, lifetime);
            Upgrade { verifier, header: Some(format!("Bearer {token}")), now_unix, expected }
        }
    }
}

/// PROTOCOL §8's outcome for a correctly signed token, in its order.
fn verdict(gateway_id: &str, exp: u64, now: u64, lifetime: Option<u64>) -> Verdict {
    if gateway_id.is_empty() {
        // The token format needs a gateway id: an empty one is malformed.
        return Verdict::Rejected(TokenRejection::Unauthorized);
    }
    match lifetime {
        None if exp == 0 => {}
        Some(_) if exp == 0 => return Verdict::Rejected(TokenRejection::Unauthorized),
        _ if exp < now => return Verdict::Rejected(TokenRejection::Expired),
        Some(secs) if exp > now.saturating_add(secs) => {
            return Verdict::Rejected(TokenRejection::Unauthorized);
        }
        _ => {}
    }
    Verdict::Accepted(Some(gateway_id.to_owned()))
}
