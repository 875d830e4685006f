//! Reading an upgrade token without its secret (PROTOCOL §8), so its form
//! and `exp` can be judged whether or not `--secret` was given; the
//! signature itself is verified by `relay_core::policy::TokenVerifier`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// What a well-formed token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Token {
    /// The token itself, without `Bearer `.
    pub(super) text: String,
    /// Its expiry, unix seconds.
    pub(super) exp: u64,
}

/// Reads an `Authorization` header: `Bearer <token>`, the token unpadded
/// base64url of `<gateway_id>:<exp>:<64 lowercase hex>`. `Err` says what is wrong.
pub(super) fn parse(header: &str) -> Result<Token, String> {
    let Some(text) = header.strip_prefix("Bearer ") else {
        return Err("is not `Bearer <token>`".into());
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| "holds a token that is not unpadded base64url".to_owned())?;
    let decoded =
        String::from_utf8(bytes).map_err(|_| "holds a token that does not decode to text".to_owned())?;
    let mut parts = decoded.rsplitn(3, ':');
    let (Some(sig), Some(exp), Some(_gateway_id)) = (parts.next(), parts.next(), parts.next()) else {
        return Err("holds a token that is not `<gateway_id>:<exp>:<sig>`".into());
    };
    let exp: u64 = exp.parse().map_err(|_| format!("holds a token whose exp {exp:?} is not unix seconds"))?;
    if sig.len() != 64 || !sig.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return Err("holds a token whose signature is not 64 lowercase hex digits".into());
    }
    Ok(Token { text: text.to_owned(), exp })
}

#[cfg(test)]
mod tests {
    use super::*;

    const VECTOR: &str = "Z3ctdGVzdDoxNzAwMDAwMzAwOmZkMGI1YmUzYTMxMDNhNDU0YWEwMDkyYmM3NjU4OWZmZjAwY2ZjYWQ3YjFiMmI4Njk4ZTVkMjgyZTc2YThiOTc";

    #[test]
    fn reads_the_protocol_vector() {
        assert_eq!(parse(&format!("Bearer {VECTOR}")), Ok(Token { text: VECTOR.into(), exp: 1_700_000_300 }));
    }

    #[test]
    fn says_what_is_wrong() {
        assert!(parse(VECTOR).unwrap_err().contains("Bearer"));
        assert!(parse(&format!("Bearer {VECTOR}=")).unwrap_err().contains("base64url"));
        let unsigned = URL_SAFE_NO_PAD.encode("gw:1700000300:ABC");
        assert!(parse(&format!("Bearer {unsigned}")).unwrap_err().contains("64 lowercase hex"));
        let no_exp = URL_SAFE_NO_PAD.encode("gw:soon:".to_owned() + &"a".repeat(64));
        assert!(parse(&format!("Bearer {no_exp}")).unwrap_err().contains("unix seconds"));
        assert!(parse("Bearer !!").is_err());
    }
}
