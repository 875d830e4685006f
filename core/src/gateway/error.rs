//! Request failures, with the reference's error texts (PROTOCOL §5).

use std::fmt;

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestErrorKind {
    /// No connection: outage, never connected, or after close.
    NotConnected,
    /// The descriptor does not allow this op.
    OpNotSupported(String),
    /// Too many requests in flight or held.
    TooManyInFlight,
    /// Local close or shutdown.
    Closed,
    /// The socket write failed.
    SendFailed(String),
    /// The connection was lost while waiting.
    ConnectionLost,
    /// No result within the request timeout.
    TimedOut,
}

/// A request failure: what happened, and whether the connector may have applied it.
///
/// A request is *ambiguous* when its frame left the machine and no result came
/// back; it is *definite* when the frame never left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestError {
    /// What happened.
    pub kind: RequestErrorKind,
    /// Whether the connector may have applied the request.
    pub ambiguous: bool,
}

impl RequestError {
    /// A failure of a request whose frame never left: the connector did not see it.
    pub fn definite(kind: RequestErrorKind) -> Self {
        Self { kind, ambiguous: false }
    }

    pub(crate) fn new(kind: RequestErrorKind, ambiguous: bool) -> Self {
        Self { kind, ambiguous }
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            RequestErrorKind::NotConnected => f.write_str("relay transport not connected"),
            RequestErrorKind::OpNotSupported(op) => write!(f, "relay op not supported by connector: {op}"),
            RequestErrorKind::TooManyInFlight => f.write_str("relay too many requests in flight"),
            RequestErrorKind::Closed => f.write_str("relay transport closed"),
            RequestErrorKind::SendFailed(detail) => write!(f, "relay send failed: {detail}"),
            RequestErrorKind::ConnectionLost => f.write_str("relay transport connection lost"),
            RequestErrorKind::TimedOut => f.write_str("relay outbound timed out"),
        }
    }
}

impl std::error::Error for RequestError {}

#[cfg(test)]
mod tests {
    use super::*;
    use RequestErrorKind::*;

    #[test]
    fn texts_match_the_reference() {
        let cases = [
            (NotConnected, "relay transport not connected"),
            (OpNotSupported("react".into()), "relay op not supported by connector: react"),
            (TooManyInFlight, "relay too many requests in flight"),
            (Closed, "relay transport closed"),
            (SendFailed("broken pipe".into()), "relay send failed: broken pipe"),
            (ConnectionLost, "relay transport connection lost"),
            (TimedOut, "relay outbound timed out"),
        ];
        for (kind, text) in cases {
            assert_eq!(RequestError::definite(kind).to_string(), text);
        }
    }
}
