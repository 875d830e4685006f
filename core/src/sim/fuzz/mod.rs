//! Fuzz harness functions. Each cargo-fuzz target in `fuzz/fuzz_targets/` is
//! a one-line call into this module, and `cargo test` replays the committed
//! corpus (`fuzz/corpus/<target>/`) through the same functions on stable.
//!
//! Every harness takes the fuzzer's bytes, never panics on any input except
//! through a deliberate assertion naming the broken property, reads no clock
//! beyond one [`epoch`](super::epoch) (only differences from it matter) and
//! iterates no hash map, so a crashing input replays identically.
//!
//! | target | what it feeds | what it checks |
//! | --- | --- | --- |
//! | [`codec`] | a byte stream, whole and re-split | same lines and diagnostics; buffer ≤ max line |
//! | [`frame_decode`] | one line | decoding never panics; decode → encode → decode is stable |
//! | [`gateway_bytes`] | a ready gateway: bytes, time, commands | the gateway contract; chunking-independence |
//! | [`gateway_ops`] | structured operations | the gateway agrees with a reference model |
//! | [`connector_bytes`] | a connector: upgrade token, bytes, time, commands | the connector contract |

mod codec;
mod connector;
mod connector_driver;
mod connector_replay;
mod connector_store;
mod driver;
mod frames;
mod gateway;
mod model;
mod ops;
mod peer_frames;
mod python;
mod script;
mod upgrade;

pub use codec::codec;
pub use connector::connector_bytes;
pub use frames::frame_decode;
pub use gateway::gateway_bytes;
pub use ops::gateway_ops;

/// A harness: runs one fuzz input, panicking only when a property breaks.
pub type Harness = fn(&[u8]);

/// Every harness by its fuzz target name, for tools that run them all (the
/// corpus replay test).
pub const TARGETS: &[(&str, Harness)] = &[
    ("codec", codec),
    ("frame_decode", frame_decode),
    ("gateway_bytes", gateway_bytes),
    ("gateway_ops", gateway_ops),
    ("connector_bytes", connector_bytes),
];

/// Actions one input may produce before the harness calls it a runaway drain.
const MAX_ACTIONS_PER_STEP: usize = 100_000;
