//! What connecting to Redis and using it can fail with, in sentences.

use std::time::Duration;

use redis::RedisError;

/// Why a [`RedisStore`](crate::RedisStore) or [`RedisFabric`](crate::RedisFabric)
/// could not start. Each message is one sentence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The URL is not one of `redis://HOST[:PORT][/DB]` (or the other forms
    /// the `redis` crate reads).
    #[error("{url:?} is not a Redis URL (redis://HOST:PORT[/DB]): {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Nothing answered at the address, or it did not answer as Redis.
    #[error("cannot reach Redis at {address}: {reason}")]
    Unreachable {
        /// The address, without any password.
        address: String,
        /// The system's or the server's reason.
        reason: String,
    },
    /// The thread that talks to Redis could not be started.
    #[error("cannot start a thread for Redis at {address}: {reason}")]
    Thread {
        /// The address, without any password.
        address: String,
        /// The system's reason.
        reason: String,
    },
}

/// A [`RedisStore`](crate::RedisStore) operation that failed. Nothing of it
/// is reported done; the next operation reconnects if the connection broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot {action} in Redis at {address}: {reason}")]
pub struct RedisStoreError {
    action: String,
    address: String,
    reason: String,
}

impl RedisStoreError {
    pub(crate) fn new(action: String, address: &str, reason: String) -> Self {
        Self { action, address: address.to_owned(), reason }
    }

    /// The address of the Redis concerned, without any password.
    pub fn address(&self) -> &str {
        &self.address
    }
}

/// The end of a sentence saying why a Redis call failed: "connection
/// refused", "no answer within 2s", or the server's own error.
pub(crate) fn reason(error: &RedisError, timeout: Duration) -> String {
    if error.is_timeout() {
        return format!("no answer within {timeout:?}");
    }
    if error.is_io_error() { io_text(&error.to_string()) } else { error.to_string() }
}

/// An I/O error as the tail of a sentence: "connection refused" rather than
/// "Connection refused (os error 111)".
fn io_text(text: &str) -> String {
    let text = match text.find(" (os error ") {
        Some(end) => &text[..end],
        None => text,
    };
    let mut chars = text.chars();
    match (chars.next(), chars.clone().next()) {
        // Lowercase a capitalised word, not an acronym such as "I/O".
        (Some(first), Some(second)) if first.is_uppercase() && second.is_lowercase() => {
            first.to_lowercase().chain(chars).collect()
        }
        _ => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::io;

    use super::*;

    #[test]
    fn io_errors_read_as_the_end_of_a_sentence() {
        assert_eq!(io_text(&io::Error::from_raw_os_error(111).to_string()), "connection refused");
        assert_eq!(io_text("I/O trouble"), "I/O trouble");
    }

    #[test]
    fn a_timeout_says_how_long_it_waited() {
        let error = RedisError::from(io::Error::from(io::ErrorKind::WouldBlock));
        assert_eq!(reason(&error, Duration::from_millis(1500)), "no answer within 1.5s");
    }

    #[test]
    fn errors_are_one_sentence_naming_the_address() {
        let error = ConnectError::Unreachable {
            address: "redis://127.0.0.1:6390/".into(),
            reason: "connection refused".into(),
        };
        assert_eq!(error.to_string(), "cannot reach Redis at redis://127.0.0.1:6390/: connection refused");
        let error = RedisStoreError::new(
            "count the backlog of gateway gw".into(),
            "redis://h:1/",
            "no answer within 2s".into(),
        );
        assert_eq!(
            error.to_string(),
            "cannot count the backlog of gateway gw in Redis at redis://h:1/: no answer within 2s"
        );
    }
}
