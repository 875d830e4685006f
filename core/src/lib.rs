//! Sans-IO core of the relay protocol.
//!
//! The protocol contract this crate implements is in
//! [`PROTOCOL.md`](https://docs.rs/crate/relay-core/latest/source/PROTOCOL.md)
//! beside this crate.
//!
//! - [`wire`]: frames and their payloads, the line codec, diagnostics.
//! - [`policy`]: pure functions for session keys, dial URLs, upgrade tokens.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod policy;
pub mod wire;
