//! Dial URL normalization (PROTOCOL §8).
//!
//! Operators paste connector URLs in whatever form their dashboard shows
//! (`https://…`, a trailing slash, with or without `/relay`). Normalizing
//! them once, idempotently, means the gateway always dials the same
//! WebSocket endpoint and a config value can be normalized again safely.
//! A URL that cannot be dialled at all is rejected with an error saying how
//! to fix it, instead of failing later with a vaguer connect error.

/// The path every connector serves the relay on.
const RELAY_PATH: &str = "/relay";

/// Why a connector URL cannot be normalized.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UrlError {
    /// The URL is empty or whitespace-only.
    #[error("the connector URL is empty: give a ws://, wss://, http:// or https:// URL")]
    Empty,
    /// The URL has no `scheme://` or a scheme other than ws, wss, http, https;
    /// holds the (trimmed) URL.
    #[error("unsupported URL scheme in {0:?}: use ws://, wss://, http:// or https://")]
    UnsupportedScheme(String),
    /// Nothing (or no host) follows `scheme://`.
    #[error("the connector URL has no host: write it like wss://connector.example.com")]
    MissingHost,
}

/// Normalizes a connector URL into the WebSocket URL to dial (PROTOCOL §8).
///
/// Trims whitespace, maps `https://` to `wss://` and `http://` to `ws://`
/// (the scheme is matched case-insensitively and written lower-case), strips
/// every trailing `/`, and appends `/relay` unless the URL already ends with
/// it. Normalizing a normalized URL returns it unchanged.
///
/// ```
/// use relay_core::policy::{normalize_url, UrlError};
///
/// assert_eq!(normalize_url("https://connector.example.com").unwrap(), "wss://connector.example.com/relay");
/// assert_eq!(normalize_url("http://localhost:8080/api").unwrap(), "ws://localhost:8080/api/relay");
/// assert_eq!(normalize_url("wss://x/relay").unwrap(), "wss://x/relay");
/// assert_eq!(normalize_url("  "), Err(UrlError::Empty));
/// ```
///
/// # Errors
///
/// [`UrlError::Empty`] for an empty or whitespace-only URL,
/// [`UrlError::UnsupportedScheme`] when there is no `scheme://` or the scheme
/// is not ws, wss, http or https, and [`UrlError::MissingHost`] when no host
/// follows the scheme.
pub fn normalize_url(url: &str) -> Result<String, UrlError> {
    let url = url.trim();
    if url.is_empty() {
        return Err(UrlError::Empty);
    }
    let unsupported = || UrlError::UnsupportedScheme(url.to_owned());
    let (scheme, rest) = url.split_once("://").ok_or_else(unsupported)?;
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "wss" | "https" => "wss",
        "ws" | "http" => "ws",
        _ => return Err(unsupported()),
    };
    let rest = rest.trim_end_matches('/');
    if rest.is_empty() || rest.starts_with('/') {
        return Err(UrlError::MissingHost);
    }
    let suffix = if rest.ends_with(RELAY_PATH) { "" } else { RELAY_PATH };
    Ok(format!("{scheme}://{rest}{suffix}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_examples() {
        assert_eq!(
            normalize_url("https://connector.example.com").unwrap(),
            "wss://connector.example.com/relay"
        );
        assert_eq!(normalize_url("http://localhost:8080/api").unwrap(), "ws://localhost:8080/api/relay");
        assert_eq!(normalize_url("wss://x/relay").unwrap(), "wss://x/relay");
    }

    #[test]
    fn whitespace_trailing_slashes_and_scheme_case() {
        let cases = [
            ("  wss://x  \n", "wss://x/relay"),
            ("ws://x///", "ws://x/relay"),
            ("wss://x/relay/", "wss://x/relay"),
            ("wss://x/relay//", "wss://x/relay"),
            ("HTTPS://Host.Example", "wss://Host.Example/relay"),
            ("Http://x/a/", "ws://x/a/relay"),
            ("WS://x", "ws://x/relay"),
            // A host named `relay` is not the relay path.
            ("wss://relay", "wss://relay/relay"),
            ("wss://x/relayed", "wss://x/relayed/relay"),
        ];
        for (input, expected) in cases {
            assert_eq!(normalize_url(input).as_deref(), Ok(expected), "{input:?}");
        }
    }

    #[test]
    fn normalizing_twice_changes_nothing() {
        for input in
            ["https://connector.example.com", "http://localhost:8080/api/", "wss://x/relay", "WSS://a"]
        {
            let once = normalize_url(input).unwrap();
            assert_eq!(normalize_url(&once).unwrap(), once, "{input:?}");
        }
    }

    #[test]
    fn empty_urls() {
        assert_eq!(normalize_url(""), Err(UrlError::Empty));
        assert_eq!(normalize_url(" \t\r\n"), Err(UrlError::Empty));
    }

    #[test]
    fn unsupported_schemes_say_how_to_fix_them() {
        for input in ["ftp://x", "connector.example.com", "://x", "wss:/x", "wss//x", "mailto:a@b"] {
            assert_eq!(normalize_url(input), Err(UrlError::UnsupportedScheme(input.to_owned())), "{input:?}");
        }
        let message = normalize_url(" ftp://x ").unwrap_err().to_string();
        assert_eq!(message, "unsupported URL scheme in \"ftp://x\": use ws://, wss://, http:// or https://");
    }

    #[test]
    fn missing_hosts() {
        for input in ["wss://", "https://", "ws:///", "wss:///relay", "http:////path"] {
            assert_eq!(normalize_url(input), Err(UrlError::MissingHost), "{input:?}");
        }
        assert!(UrlError::MissingHost.to_string().contains("wss://connector.example.com"));
    }

    #[test]
    fn idempotence_property() {
        fn prop(scheme: u8, rest: String) -> bool {
            let schemes = ["ws://", "wss://", "http://", "https://", "HTTPS://", "ftp://", ""];
            let input = format!("{}{rest}", schemes[usize::from(scheme) % schemes.len()]);
            match normalize_url(&input) {
                Ok(once) => normalize_url(&once) == Ok(once.clone()) && once.ends_with(RELAY_PATH),
                Err(_) => true,
            }
        }
        quickcheck::quickcheck(prop as fn(u8, String) -> bool);
    }

    #[test]
    fn arbitrary_text_never_panics_and_stays_idempotent() {
        fn prop(input: String) -> bool {
            normalize_url(&input).map_or(true, |once| normalize_url(&once) == Ok(once.clone()))
        }
        quickcheck::quickcheck(prop as fn(String) -> bool);
    }
}
