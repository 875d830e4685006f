//! How bytes arriving at the same instant are cut into `handle_input` calls.

use rand::{Rng as _, SeedableRng as _};
use rand_chacha::ChaCha8Rng;

/// A way of re-chunking the messages that arrive at one instant. Every
/// scenario must give the same transcript under each of them.
#[derive(Debug, Clone)]
pub enum Chunking {
    /// Each WebSocket message as sent.
    Whole,
    /// One byte per call.
    ByteAtATime,
    /// All bytes due at an instant joined, then cut at seeded random points
    /// (so messages are both split and merged).
    Seeded(Box<ChaCha8Rng>),
}

impl Chunking {
    /// The three chunkings every scenario runs under.
    pub fn all() -> [Self; 3] {
        [Self::Whole, Self::ByteAtATime, Self::seeded(0x5eed)]
    }

    /// Seeded random splits and merges.
    pub fn seeded(seed: u64) -> Self {
        Self::Seeded(Box::new(ChaCha8Rng::seed_from_u64(seed)))
    }

    /// Re-chunks `messages` (all due at the same instant).
    pub fn apply(&mut self, messages: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
        match self {
            Self::Whole => messages,
            Self::ByteAtATime => messages.concat().into_iter().map(|b| vec![b]).collect(),
            Self::Seeded(rng) => {
                let joined = messages.concat();
                let mut chunks = Vec::new();
                let mut rest = joined.as_slice();
                while !rest.is_empty() {
                    let take = rng.random_range(1..=rest.len().min(64));
                    chunks.push(rest[..take].to_vec());
                    rest = &rest[take..];
                }
                chunks
            }
        }
    }

    /// A short name for test messages.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Whole => "whole",
            Self::ByteAtATime => "byte-at-a-time",
            Self::Seeded(_) => "seeded",
        }
    }
}
