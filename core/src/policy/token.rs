//! Upgrade auth tokens: minting, and reading one back (PROTOCOL §8).
//!
//! A token is `base64url("<gateway_id>:<exp>:<sig>")` where `sig` is the
//! lowercase hex HMAC-SHA256 of `"<gateway_id>:<exp>"` keyed by the shared
//! secret. The gateway mints a fresh one per dial; the connector checks it
//! with a [`TokenVerifier`](super::TokenVerifier). Parsing lives here, beside
//! minting, so the two halves of the format cannot drift apart. The caller
//! supplies `exp` (wall time is an input, never read here).

use base64::Engine as _;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::Secret;

type HmacSha256 = Hmac<Sha256>;

/// Seconds a minted token stays valid: a gateway sets `exp = now + 300`.
pub const DEFAULT_TOKEN_TTL_SECS: u64 = 300;

/// WebSocket close code for a rejected upgrade; the reason is
/// [`TokenRejection::as_str`].
pub const UNAUTHORIZED_CLOSE_CODE: u16 = 4401;

/// Length of a SHA-256 digest in bytes.
const SIG_LEN: usize = 32;

/// Reads base64url with or without `=` padding, as verifiers must.
const LENIENT_URL_SAFE: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Lowercase hex HMAC-SHA256 of `"<gateway_id>:<exp>"`, keyed by `secret`.
///
/// ```
/// use relay_core::policy::{token_signature, Secret};
///
/// let secret = Secret::new("s3cret").unwrap();
/// assert_eq!(
///     token_signature("gw-test", 1_700_000_300, &secret),
///     "fd0b5be3a3103a454aa0092bc76589fff00cfcad7b1b2b8698e5d282e76a8b97",
/// );
/// ```
pub fn token_signature(gateway_id: &str, exp: u64, secret: &Secret) -> String {
    let mut mac = keyed_mac(secret);
    mac.update(format!("{gateway_id}:{exp}").as_bytes());
    lower_hex(&mac.finalize().into_bytes())
}

/// The upgrade token: unpadded base64url of `"<gateway_id>:<exp>:<sig>"`.
///
/// `exp` is unix seconds (usually now + [`DEFAULT_TOKEN_TTL_SECS`]); `0`
/// means "never expires".
///
/// ```
/// use relay_core::policy::{mint_token, Secret, TokenRejection, TokenVerifier, VerifiedToken};
///
/// let secret = Secret::new("s3cret").unwrap();
/// let token = mint_token("gw-test", 1_700_000_300, &secret);
/// assert_eq!(
///     token,
///     "Z3ctdGVzdDoxNzAwMDAwMzAwOmZkMGI1YmUzYTMxMDNhNDU0YWEwMDkyYmM3NjU4OWZmZjAwY2ZjYWQ3YjFiMmI4Njk4ZTVkMjgyZTc2YThiOTc",
/// );
///
/// let verifier = TokenVerifier::new([secret]);
/// let verified = verifier.verify(&format!("Bearer {token}"), 1_700_000_000);
/// assert_eq!(verified, Ok(VerifiedToken { gateway_id: "gw-test".into(), exp: 1_700_000_300 }));
/// assert_eq!(verifier.verify(&token, 1_700_000_301), Err(TokenRejection::Expired));
/// ```
pub fn mint_token(gateway_id: &str, exp: u64, secret: &Secret) -> String {
    let sig = token_signature(gateway_id, exp, secret);
    URL_SAFE_NO_PAD.encode(format!("{gateway_id}:{exp}:{sig}"))
}

/// What a valid token vouches for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedToken {
    /// The gateway the token was minted for.
    pub gateway_id: String,
    /// Expiry in unix seconds; `0` means "never expires".
    pub exp: u64,
}

/// Why an upgrade token was refused. [`as_str`](Self::as_str) is the
/// WebSocket close reason sent with [`UNAUTHORIZED_CLOSE_CODE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenRejection {
    /// Correctly signed, but `exp` is in the past: the gateway should simply
    /// reconnect with a fresh token.
    #[error("expired")]
    Expired,
    /// Malformed, signed with no configured secret, or outside the allowed
    /// lifetime.
    #[error("unauthorized")]
    Unauthorized,
}

impl TokenRejection {
    /// The close reason: `"expired"` or `"unauthorized"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Expired => "expired",
            Self::Unauthorized => "unauthorized",
        }
    }
}

/// A well-formed token whose signature has not been checked yet.
#[derive(Debug)]
pub(super) struct UnverifiedToken {
    /// The signed text, `"<gateway_id>:<exp>"` exactly as sent.
    signed: String,
    /// Length of the gateway id prefix of `signed`.
    gateway_len: usize,
    /// The expiry, parsed.
    pub(super) exp: u64,
    /// The signature, decoded from hex.
    signature: [u8; SIG_LEN],
}

impl UnverifiedToken {
    /// Reads `token` (bare or `Bearer <token>`, surrounding whitespace
    /// allowed); `None` when it is malformed in any way.
    pub(super) fn parse(token: &str) -> Option<Self> {
        let bytes = LENIENT_URL_SAFE.decode(strip_bearer(token.trim())).ok()?;
        let mut signed = String::from_utf8(bytes).ok()?;
        let (rest, sig_text) = signed.rsplit_once(':')?;
        let (gateway_id, exp_text) = rest.rsplit_once(':')?;
        if gateway_id.is_empty() || exp_text.is_empty() || !exp_text.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let exp = exp_text.parse().ok()?;
        let signature = decode_lower_hex(sig_text)?;
        let gateway_len = gateway_id.len();
        let signed_len = rest.len();
        signed.truncate(signed_len);
        Some(Self { signed, gateway_len, exp, signature })
    }

    /// The gateway id the token claims.
    pub(super) fn gateway_id(&self) -> &str {
        self.signed.get(..self.gateway_len).unwrap_or_default()
    }

    /// Whether `secret` produced the signature (compared in constant time).
    pub(super) fn signed_by(&self, secret: &Secret) -> bool {
        let mut mac = keyed_mac(secret);
        mac.update(self.signed.as_bytes());
        mac.verify_slice(&self.signature).is_ok()
    }
}

/// `token` without a leading `Bearer ` (any case, any whitespace after it).
fn strip_bearer(token: &str) -> &str {
    match (token.get(..6), token.get(6..)) {
        (Some(scheme), Some(rest))
            if scheme.eq_ignore_ascii_case("bearer") && rest.starts_with(char::is_whitespace) =>
        {
            rest.trim_start()
        }
        _ => token,
    }
}

/// An HMAC-SHA256 instance keyed by `secret`.
fn keyed_mac(secret: &Secret) -> HmacSha256 {
    // HMAC accepts keys of any length (longer ones are hashed first), so
    // `new_from_slice` cannot fail for `Hmac<Sha256>`; it only errs for MACs
    // with a fixed key size.
    HmacSha256::new_from_slice(secret.expose().as_bytes()).expect("HMAC takes keys of any length")
}

/// Lowercase hex of `bytes`.
fn lower_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        text.push(char::from(DIGITS[usize::from(b >> 4)]));
        text.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    text
}

/// Decodes exactly 64 lowercase hex digits; anything else (uppercase
/// included) is `None`.
fn decode_lower_hex(text: &str) -> Option<[u8; SIG_LEN]> {
    let text = text.as_bytes();
    if text.len() != SIG_LEN * 2 {
        return None;
    }
    let mut out = [0u8; SIG_LEN];
    for (byte, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
        let [hi, lo] = pair else { return None };
        *byte = (nibble(*hi)? << 4) | nibble(*lo)?;
    }
    Some(out)
}

/// The value of one lowercase hex digit.
fn nibble(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN_1700000300: &str = "Z3ctdGVzdDoxNzAwMDAwMzAwOmZkMGI1YmUzYTMxMDNhNDU0YWEwMDkyYmM3NjU4OWZmZjAwY2ZjYWQ3YjFiMmI4Njk4ZTVkMjgyZTc2YThiOTc";
    const TOKEN_NEVER: &str =
        "Z3ctdGVzdDowOjE4ZjkyNDk3NWM3MDk3NmQwYjQ3MzlhZWYwYzQxNWFmYjMxNmI5MjQ0M2RkZGQxMDVjYjJlNmNjNjZhNGM5NzA";

    fn s3cret() -> Secret {
        Secret::new("s3cret").unwrap()
    }

    #[test]
    fn protocol_signature_vector() {
        assert_eq!(
            token_signature("gw-test", 1_700_000_300, &s3cret()),
            "fd0b5be3a3103a454aa0092bc76589fff00cfcad7b1b2b8698e5d282e76a8b97"
        );
    }

    #[test]
    fn protocol_token_vectors() {
        assert_eq!(mint_token("gw-test", 1_700_000_300, &s3cret()), TOKEN_1700000300);
        assert_eq!(mint_token("gw-test", 0, &s3cret()), TOKEN_NEVER);
    }

    #[test]
    fn minted_tokens_are_unpadded_base64url() {
        for gateway_id in ["g", "gw", "gw-", "a?b>c~"] {
            let token = mint_token(gateway_id, 7, &s3cret());
            assert!(!token.contains(['=', '+', '/']), "{token}");
        }
    }

    #[test]
    fn parse_reads_back_what_was_minted() {
        let token = UnverifiedToken::parse(TOKEN_1700000300).unwrap();
        assert_eq!((token.gateway_id(), token.exp), ("gw-test", 1_700_000_300));
        assert!(token.signed_by(&s3cret()));
        assert!(!token.signed_by(&Secret::new("other").unwrap()));
    }

    #[test]
    fn parse_splits_at_the_last_two_colons() {
        let token = UnverifiedToken::parse(&mint_token("tenant:gw:1", 5, &s3cret())).unwrap();
        assert_eq!((token.gateway_id(), token.exp), ("tenant:gw:1", 5));
        assert!(token.signed_by(&s3cret()));
    }

    #[test]
    fn bearer_prefix_and_whitespace_are_tolerated() {
        for text in [
            format!("Bearer {TOKEN_NEVER}"),
            format!("  bearer \t{TOKEN_NEVER}\r\n"),
            format!("BEARER {TOKEN_NEVER}"),
            format!(" {TOKEN_NEVER} "),
        ] {
            assert!(UnverifiedToken::parse(&text).is_some(), "{text:?}");
        }
        assert!(UnverifiedToken::parse(&format!("Bearer{TOKEN_NEVER}")).is_none());
        assert!(UnverifiedToken::parse(&format!("Basic {TOKEN_NEVER}")).is_none());
    }

    #[test]
    fn padded_input_is_accepted() {
        let padded = base64::engine::general_purpose::URL_SAFE
            .encode(format!("gw-test:0:{}", token_signature("gw-test", 0, &s3cret())));
        assert!(padded.ends_with('='), "the vector should need padding: {padded}");
        assert_eq!(UnverifiedToken::parse(&padded).unwrap().gateway_id(), "gw-test");
    }

    /// Base64url of `text`, for building hand-made tokens.
    fn encode(text: &str) -> String {
        URL_SAFE_NO_PAD.encode(text)
    }

    #[test]
    fn malformed_tokens_do_not_parse() {
        let sig = token_signature("gw", 5, &s3cret());
        let cases = [
            String::new(),
            "   ".to_owned(),
            "Bearer ".to_owned(),
            "!!!not base64!!!".to_owned(),
            TOKEN_NEVER[..TOKEN_NEVER.len() - 3].to_owned(),
            encode("no colons at all"),
            encode(&format!("5:{sig}")),
            encode(&format!(":5:{sig}")),
            encode(&format!("gw::{sig}")),
            encode(&format!("gw:+5:{sig}")),
            encode(&format!("gw:-5:{sig}")),
            encode(&format!("gw: 5:{sig}")),
            encode(&format!("gw:5 :{sig}")),
            encode(&format!("gw:0x5:{sig}")),
            encode(&format!("gw:18446744073709551616:{sig}")),
            encode(&format!("gw:5:{}", sig.to_uppercase())),
            encode(&format!("gw:5:{}", &sig[..63])),
            encode(&format!("gw:5:{sig}0")),
            encode(&format!("gw:5:{sig} ")),
            encode("gw:5:"),
            URL_SAFE_NO_PAD.encode([b'g', 0xff, b':', b'5', b':', b'a']),
        ];
        for text in cases {
            assert!(UnverifiedToken::parse(&text).is_none(), "{text:?}");
        }
    }

    #[test]
    fn largest_exp_parses() {
        let token = mint_token("gw", u64::MAX, &s3cret());
        assert_eq!(UnverifiedToken::parse(&token).unwrap().exp, u64::MAX);
    }

    #[test]
    fn rejection_reasons_are_the_close_reasons() {
        assert_eq!(TokenRejection::Expired.as_str(), "expired");
        assert_eq!(TokenRejection::Unauthorized.as_str(), "unauthorized");
        assert_eq!(TokenRejection::Expired.to_string(), "expired");
        assert_eq!(TokenRejection::Unauthorized.to_string(), "unauthorized");
        assert_eq!(UNAUTHORIZED_CLOSE_CODE, 4401);
        assert_eq!(DEFAULT_TOKEN_TTL_SECS, 300);
    }

    #[test]
    fn hex_round_trip() {
        let bytes: [u8; SIG_LEN] = std::array::from_fn(|i| (i * 8) as u8);
        assert_eq!(decode_lower_hex(&lower_hex(&bytes)), Some(bytes));
    }
}
