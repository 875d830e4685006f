//! Sans-IO core of the relay protocol.
//!
//! The protocol contract this crate implements is in
//! [`PROTOCOL.md`](https://docs.rs/crate/relay-core/latest/source/PROTOCOL.md)
//! beside this crate.
//!
//! - [`wire`]: frames and their payloads, the line codec, diagnostics.
//! - [`adapter`]: what a gateway author needs beyond the transport (interaction
//!   conversion, prompt tokens, capabilities, reply routing, dedupe, environment config).
//! - [`connector`]: [`ConnectorMachine`](connector::ConnectorMachine), the peer of a gateway.
//! - [`gateway`]: [`RelayMachine`](gateway::RelayMachine), one gateway-side connection.
//! - [`policy`]: session keys, dial URLs, upgrade tokens, the reconnect policy.
//! - `sim` (feature `sim`): the test rig and fuzz harness functions.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod adapter;
#[cfg(feature = "bench")]
pub mod bench;
pub mod connector;
pub mod gateway;
pub mod policy;
#[cfg(feature = "sim")]
pub mod sim;
mod socket_machine;
mod timer_table;
pub mod wire;

pub use socket_machine::SocketMachine;
