//! The upgrade secret, kept out of every log line (PROTOCOL §9).
//!
//! The only secret a gateway holds is its own upgrade secret, and it must
//! never appear in logs, `Debug` output, errors or CLI output. Wrapping it in
//! a type whose `Debug` is redacted and which has no `Display` makes leaking
//! it by formatting impossible without an explicit [`Secret::expose`].

use std::fmt;

/// An upgrade secret. `Debug` prints `Secret(<redacted>)`, and there is no
/// `Display`: the text is only reachable through [`expose`](Self::expose).
///
/// ```
/// use relay_core::policy::Secret;
///
/// let secret = Secret::new("s3cret").unwrap();
/// assert_eq!(format!("{secret:?}"), "Secret(<redacted>)");
/// assert_eq!(secret.expose(), "s3cret");
/// assert!(Secret::new("  \t").is_none());
/// ```
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// Wraps `secret`, or `None` when it is empty or whitespace-only (an unset
    /// secret, PROTOCOL §8). The text is kept verbatim, surrounding whitespace
    /// included: it is the HMAC key byte for byte.
    pub fn new(secret: impl Into<String>) -> Option<Self> {
        let secret = secret.into();
        if secret.trim().is_empty() { None } else { Some(Self(secret)) }
    }

    /// The secret text, for keying the HMAC. Never format it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_whitespace_secrets_are_unset() {
        for text in ["", " ", "\t\n", "\u{3000}"] {
            assert!(Secret::new(text).is_none(), "{text:?}");
        }
    }

    #[test]
    fn text_is_kept_verbatim() {
        let secret = Secret::new(" padded ").unwrap();
        assert_eq!(secret.expose(), " padded ");
        assert_eq!(Secret::new(String::from("owned")).unwrap().expose(), "owned");
    }

    #[test]
    fn debug_never_shows_the_text() {
        let secret = Secret::new("hunter2").unwrap();
        assert_eq!(format!("{secret:?}"), "Secret(<redacted>)");
        assert!(!format!("{secret:#?}").contains("hunter2"));
        assert!(!format!("{:?}", Some(secret)).contains("hunter2"));
    }
}
