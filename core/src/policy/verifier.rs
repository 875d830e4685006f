//! Connector-side verification of upgrade tokens (PROTOCOL §8).
//!
//! The verifier is configuration plus one pure function: the caller passes
//! the current unix time, so the outcome for a given token is reproducible
//! and every boundary (`exp == now`, lifetime limits) is testable. Secrets
//! come as rotation lists so a secret can be replaced without a window in
//! which gateways holding either the old or the new one are refused.

use std::collections::BTreeMap;
use std::fmt;

use super::Secret;
use super::token::{TokenRejection, UnverifiedToken, VerifiedToken};

/// Checks upgrade tokens against configured secrets.
///
/// - [`new`](Self::new) sets the global rotation list: a token signed with
///   any listed secret verifies.
/// - [`with_gateway_secrets`](Self::with_gateway_secrets) gives one gateway
///   id its own list, which **replaces** the global list for that id: its
///   tokens are checked against its own secrets only.
/// - [`with_max_lifetime`](Self::with_max_lifetime) bounds how far in the
///   future `exp` may be, and forbids never-expiring tokens.
///
/// `Debug` shows how many secrets are configured, never their text.
///
/// ```
/// use relay_core::policy::{Secret, TokenRejection, TokenVerifier};
///
/// let token = "Z3ctdGVzdDowOjE4ZjkyNDk3NWM3MDk3NmQwYjQ3MzlhZWYwYzQxNWFmYjMxNmI5MjQ0M2RkZGQxMDVjYjJlNmNjNjZhNGM5NzA";
/// let verifier = TokenVerifier::new(Secret::new("s3cret"));
/// assert_eq!(verifier.verify(token, 1_700_000_000).unwrap().exp, 0); // never expires
///
/// let bounded = verifier.with_max_lifetime(3600);
/// assert_eq!(bounded.verify(token, 1_700_000_000), Err(TokenRejection::Unauthorized));
/// ```
#[derive(Clone, Default)]
pub struct TokenVerifier {
    /// Secrets for every gateway without its own list.
    secrets: Vec<Secret>,
    /// Per-gateway lists, each replacing `secrets` for its gateway id.
    gateway_secrets: BTreeMap<String, Vec<Secret>>,
    /// Largest allowed `exp - now`, in seconds, when configured.
    max_lifetime: Option<u64>,
}

impl TokenVerifier {
    /// A verifier whose global rotation list is `secrets` (any of them
    /// verifies), with no maximum lifetime.
    pub fn new(secrets: impl IntoIterator<Item = Secret>) -> Self {
        Self { secrets: secrets.into_iter().collect(), ..Self::default() }
    }

    /// Gives `gateway_id` its own rotation list. For that gateway id this list
    /// **replaces** the global one (global secrets no longer verify its
    /// tokens; an empty list locks it out). Calling it again for the same id
    /// replaces the earlier list.
    #[must_use]
    pub fn with_gateway_secrets(
        mut self,
        gateway_id: impl Into<String>,
        secrets: impl IntoIterator<Item = Secret>,
    ) -> Self {
        self.gateway_secrets.insert(gateway_id.into(), secrets.into_iter().collect());
        self
    }

    /// Refuses tokens whose `exp` is more than `secs` seconds after now, and
    /// never-expiring tokens (`exp == 0`).
    #[must_use]
    pub fn with_max_lifetime(mut self, secs: u64) -> Self {
        self.max_lifetime = Some(secs);
        self
    }

    /// Whether any secret is configured at all (globally or for some gateway).
    pub fn is_enabled(&self) -> bool {
        !self.secrets.is_empty() || self.gateway_secrets.values().any(|list| !list.is_empty())
    }

    /// Verifies `token` (bare or `Bearer <token>`) at unix time `now_unix`.
    ///
    /// Outcomes, in order (PROTOCOL §8): malformed or no secret matches →
    /// [`Unauthorized`](TokenRejection::Unauthorized); `exp == 0` → accepted
    /// unless a maximum lifetime is configured (then unauthorized);
    /// `exp < now_unix` → [`Expired`](TokenRejection::Expired) (`exp ==
    /// now_unix` is still valid); `exp` beyond `now_unix` plus the maximum
    /// lifetime → unauthorized. Never panics, whatever the input.
    ///
    /// # Errors
    ///
    /// The [`TokenRejection`] to close the upgrade with.
    pub fn verify(&self, token: &str, now_unix: u64) -> Result<VerifiedToken, TokenRejection> {
        let token = UnverifiedToken::parse(token).ok_or(TokenRejection::Unauthorized)?;
        let secrets = self.gateway_secrets.get(token.gateway_id()).unwrap_or(&self.secrets);
        // Check every secret, so timing does not reveal which one matched.
        let signed = secrets.iter().fold(false, |found, secret| token.signed_by(secret) | found);
        if !signed {
            return Err(TokenRejection::Unauthorized);
        }
        let exp = token.exp;
        match self.max_lifetime {
            None if exp == 0 => {}
            Some(_) if exp == 0 => return Err(TokenRejection::Unauthorized),
            _ if exp < now_unix => return Err(TokenRejection::Expired),
            Some(lifetime) if exp > now_unix.saturating_add(lifetime) => {
                return Err(TokenRejection::Unauthorized);
            }
            _ => {}
        }
        Ok(VerifiedToken { gateway_id: token.gateway_id().to_owned(), exp })
    }
}

impl fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let per_gateway: BTreeMap<&str, usize> =
            self.gateway_secrets.iter().map(|(id, list)| (id.as_str(), list.len())).collect();
        f.debug_struct("TokenVerifier")
            .field("secrets", &self.secrets.len())
            .field("gateway_secrets", &per_gateway)
            .field("max_lifetime", &self.max_lifetime)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::mint_token;
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    const TOKEN_1700000300: &str = "Z3ctdGVzdDoxNzAwMDAwMzAwOmZkMGI1YmUzYTMxMDNhNDU0YWEwMDkyYmM3NjU4OWZmZjAwY2ZjYWQ3YjFiMmI4Njk4ZTVkMjgyZTc2YThiOTc";
    const TOKEN_NEVER: &str =
        "Z3ctdGVzdDowOjE4ZjkyNDk3NWM3MDk3NmQwYjQ3MzlhZWYwYzQxNWFmYjMxNmI5MjQ0M2RkZGQxMDVjYjJlNmNjNjZhNGM5NzA";
    const EXP: u64 = 1_700_000_300;

    fn secret(text: &str) -> Secret {
        Secret::new(text).unwrap()
    }

    fn verifier(secrets: &[&str]) -> TokenVerifier {
        TokenVerifier::new(secrets.iter().map(|s| secret(s)))
    }

    fn accepted(gateway_id: &str, exp: u64) -> Result<VerifiedToken, TokenRejection> {
        Ok(VerifiedToken { gateway_id: gateway_id.to_owned(), exp })
    }

    #[test]
    fn protocol_vector_before_at_and_after_expiry() {
        let v = verifier(&["s3cret"]);
        assert_eq!(v.verify(TOKEN_1700000300, EXP - 300), accepted("gw-test", EXP));
        assert_eq!(v.verify(TOKEN_1700000300, EXP), accepted("gw-test", EXP));
        assert_eq!(v.verify(TOKEN_1700000300, EXP + 1), Err(TokenRejection::Expired));
    }

    #[test]
    fn never_expiring_vector_is_accepted_at_any_time() {
        let v = verifier(&["s3cret"]);
        assert_eq!(v.verify(TOKEN_NEVER, 0), accepted("gw-test", 0));
        assert_eq!(v.verify(TOKEN_NEVER, u64::MAX), accepted("gw-test", 0));
    }

    #[test]
    fn bearer_prefix_and_padding() {
        let v = verifier(&["s3cret"]);
        assert_eq!(v.verify(&format!("Bearer {TOKEN_1700000300}"), EXP), accepted("gw-test", EXP));
        assert_eq!(v.verify(&format!("  Bearer  {TOKEN_NEVER}\n"), EXP), accepted("gw-test", 0));
        assert_eq!(v.verify(&format!("{TOKEN_NEVER}="), EXP), accepted("gw-test", 0));
    }

    #[test]
    fn wrong_secret_is_unauthorized_even_when_expired() {
        let v = verifier(&["not-s3cret"]);
        assert_eq!(v.verify(TOKEN_1700000300, EXP), Err(TokenRejection::Unauthorized));
        assert_eq!(v.verify(TOKEN_1700000300, EXP + 1), Err(TokenRejection::Unauthorized));
    }

    #[test]
    fn any_secret_of_the_rotation_list_verifies() {
        let v = verifier(&["old", "new"]);
        assert_eq!(v.verify(&mint_token("gw", 10, &secret("old")), 5), accepted("gw", 10));
        assert_eq!(v.verify(&mint_token("gw", 10, &secret("new")), 5), accepted("gw", 10));
        assert_eq!(v.verify(&mint_token("gw", 10, &secret("older")), 5), Err(TokenRejection::Unauthorized));
    }

    #[test]
    fn per_gateway_secrets_replace_the_global_list_for_that_gateway() {
        let v = verifier(&["global"]).with_gateway_secrets("gw-a", [secret("a1"), secret("a2")]);
        assert_eq!(v.verify(&mint_token("gw-a", 10, &secret("a1")), 5), accepted("gw-a", 10));
        assert_eq!(v.verify(&mint_token("gw-a", 10, &secret("a2")), 5), accepted("gw-a", 10));
        assert_eq!(
            v.verify(&mint_token("gw-a", 10, &secret("global")), 5),
            Err(TokenRejection::Unauthorized)
        );
        // Other gateways still use the global list, and cannot borrow gw-a's secrets.
        assert_eq!(v.verify(&mint_token("gw-b", 10, &secret("global")), 5), accepted("gw-b", 10));
        assert_eq!(v.verify(&mint_token("gw-b", 10, &secret("a1")), 5), Err(TokenRejection::Unauthorized));
    }

    #[test]
    fn per_gateway_only_configuration_and_lockout() {
        let v = TokenVerifier::default().with_gateway_secrets("gw-a", [secret("a")]);
        assert!(v.is_enabled());
        assert_eq!(v.verify(&mint_token("gw-a", 0, &secret("a")), 5), accepted("gw-a", 0));
        assert_eq!(v.verify(&mint_token("gw-b", 0, &secret("a")), 5), Err(TokenRejection::Unauthorized));

        let locked = verifier(&["global"]).with_gateway_secrets("gw-a", []);
        assert_eq!(
            locked.verify(&mint_token("gw-a", 0, &secret("global")), 5),
            Err(TokenRejection::Unauthorized)
        );
    }

    #[test]
    fn a_later_gateway_list_replaces_an_earlier_one() {
        let v = TokenVerifier::default()
            .with_gateway_secrets("gw", [secret("first")])
            .with_gateway_secrets("gw", [secret("second")]);
        assert_eq!(v.verify(&mint_token("gw", 0, &secret("first")), 5), Err(TokenRejection::Unauthorized));
        assert_eq!(v.verify(&mint_token("gw", 0, &secret("second")), 5), accepted("gw", 0));
    }

    #[test]
    fn gateway_ids_may_contain_colons() {
        let v = verifier(&["k"]).with_gateway_secrets("tenant:gw", [secret("t")]);
        assert_eq!(v.verify(&mint_token("a:b:c", 10, &secret("k")), 5), accepted("a:b:c", 10));
        assert_eq!(v.verify(&mint_token("tenant:gw", 10, &secret("t")), 5), accepted("tenant:gw", 10));
    }

    #[test]
    fn malformed_tokens_are_unauthorized() {
        let v = verifier(&["s3cret"]);
        let sig = crate::policy::token_signature("gw-test", 0, &secret("s3cret"));
        let cases = [
            String::new(),
            "Bearer".to_owned(),
            "garbage".to_owned(),
            TOKEN_NEVER[..40].to_owned(),
            format!("{TOKEN_NEVER}=="),
            URL_SAFE_NO_PAD.encode(format!("gw-test:0:{}", sig.to_uppercase())),
            URL_SAFE_NO_PAD.encode(b"gw-\xfftest:0:00"),
            URL_SAFE_NO_PAD.encode(format!("gw-test:99999999999999999999999:{sig}")),
        ];
        for token in cases {
            assert_eq!(v.verify(&token, 0), Err(TokenRejection::Unauthorized), "{token:?}");
        }
    }

    #[test]
    fn max_lifetime_rules() {
        let v = verifier(&["k"]).with_max_lifetime(3600);
        let token = |exp| mint_token("gw", exp, &secret("k"));
        assert_eq!(v.verify(&token(0), 1000), Err(TokenRejection::Unauthorized));
        assert_eq!(v.verify(&token(1000 + 3600), 1000), accepted("gw", 4600));
        assert_eq!(v.verify(&token(1000 + 3601), 1000), Err(TokenRejection::Unauthorized));
        assert_eq!(v.verify(&token(999), 1000), Err(TokenRejection::Expired));
        // Near the end of time the bound saturates instead of overflowing.
        assert_eq!(v.verify(&token(u64::MAX), u64::MAX - 10), accepted("gw", u64::MAX));
        let huge = verifier(&["k"]).with_max_lifetime(u64::MAX);
        assert_eq!(huge.verify(&token(u64::MAX), 5), accepted("gw", u64::MAX));
        assert_eq!(huge.verify(&token(0), 5), Err(TokenRejection::Unauthorized));
    }

    #[test]
    fn without_max_lifetime_any_future_exp_is_accepted() {
        let v = verifier(&["k"]);
        assert_eq!(v.verify(&mint_token("gw", u64::MAX, &secret("k")), 5), accepted("gw", u64::MAX));
    }

    #[test]
    fn is_enabled_only_with_some_secret() {
        assert!(!TokenVerifier::default().is_enabled());
        assert!(!TokenVerifier::new([]).is_enabled());
        assert!(!TokenVerifier::new(Secret::new(" ")).is_enabled());
        assert!(!TokenVerifier::default().with_gateway_secrets("gw", []).is_enabled());
        assert!(verifier(&["k"]).is_enabled());
    }

    #[test]
    fn a_verifier_without_secrets_refuses_everything() {
        assert_eq!(TokenVerifier::default().verify(TOKEN_NEVER, 0), Err(TokenRejection::Unauthorized));
    }

    #[test]
    fn debug_never_shows_secrets() {
        let v = verifier(&["global-hunter2"])
            .with_gateway_secrets("gw-a", [secret("gateway-hunter2")])
            .with_max_lifetime(60);
        let text = format!("{v:?} {v:#?}");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("gw-a"), "{text}");
    }

    #[test]
    fn verify_never_panics_on_arbitrary_text() {
        fn prop(token: String, now: u64) -> bool {
            verifier(&["s3cret"]).verify(&token, now).is_err()
        }
        quickcheck::quickcheck(prop as fn(String, u64) -> bool);
    }

    #[test]
    fn verify_never_panics_on_arbitrary_decoded_bytes() {
        fn prop(bytes: Vec<u8>, tail: String, now: u64) -> bool {
            let mut decoded = bytes;
            decoded.extend_from_slice(tail.as_bytes());
            let token = URL_SAFE_NO_PAD.encode(&decoded);
            verifier(&["s3cret"]).with_max_lifetime(60).verify(&token, now).is_err()
        }
        quickcheck::quickcheck(prop as fn(Vec<u8>, String, u64) -> bool);
    }

    #[test]
    fn verify_accepts_what_mint_produces() {
        fn prop(gateway_id: String, exp: u64, now: u64) -> bool {
            let v = verifier(&["s3cret"]);
            let outcome = v.verify(&mint_token(&gateway_id, exp, &secret("s3cret")), now);
            match outcome {
                _ if gateway_id.is_empty() => outcome == Err(TokenRejection::Unauthorized),
                Ok(t) => t.gateway_id == gateway_id && t.exp == exp && (exp == 0 || exp >= now),
                Err(rejection) => rejection == TokenRejection::Expired && exp != 0 && exp < now,
            }
        }
        quickcheck::quickcheck(prop as fn(String, u64, u64) -> bool);
    }
}
