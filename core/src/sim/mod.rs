//! Test rig shared by the test suites and the fuzz targets (feature `sim`):
//! a simulated clock, a scriptable in-memory connector, a [`Pair`] harness
//! that steps both and checks the machine contract after every action, and
//! the fuzz harness functions.

mod chunking;
pub mod fuzz;
mod invariants;
mod pair;
mod peer;
pub mod world;

pub use chunking::Chunking;
pub use invariants::Invariants;
pub use pair::{Pair, TranscriptEntry};
pub use peer::{ReplyMode, ScriptedConnector, descriptor_for, echo_result};

use std::time::Instant;

/// An arbitrary starting instant for simulated time; only differences from
/// it ever matter, so reading the clock once here keeps runs deterministic.
#[allow(clippy::disallowed_methods)]
pub fn epoch() -> Instant {
    Instant::now()
}
