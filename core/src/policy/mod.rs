//! Small, pure, deterministic policies.
//!
//! Each policy here is a plain function or value type with no I/O, no clock
//! and no randomness: wall time is passed in by the caller (`now_unix`), so
//! the same inputs always give the same answer and every rule of PROTOCOL §8
//! and §10 can be tested with fixed vectors.
//!
//! - [`session_key`]: which session an inbound event belongs to (§10).
//! - [`normalize_url`]: the WebSocket URL a gateway dials (§8).
//! - [`mint_token`] / [`TokenVerifier`]: the upgrade auth token (§8).
//! - [`Reconnect`]: when to dial next and when to give up (§8).

mod reconnect;
mod secret;
mod session_key;
mod token;
mod url;
mod verifier;

pub use reconnect::{
    ConnectCause, DialDecision, DialFailure, Reconnect, ReconnectConfig, ReconnectError, ReconnectMisuse,
};
pub use secret::Secret;
pub use session_key::{SessionKeyOptions, session_key};
pub use token::{
    DEFAULT_TOKEN_TTL_SECS, TokenRejection, UNAUTHORIZED_CLOSE_CODE, VerifiedToken, mint_token,
    token_signature,
};
pub use url::{UrlError, normalize_url};
pub use verifier::TokenVerifier;
