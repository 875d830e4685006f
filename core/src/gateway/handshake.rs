//! The handshake (PROTOCOL §3): descriptors answer hellos in order, the first
//! completes the handshake, and frames arriving before it wait (bounded).

use std::collections::BTreeMap;

use super::Identity;
use crate::wire::{Descriptor, Frame};

#[derive(Debug)]
pub(crate) struct Handshake {
    /// Identities announced, in hello order.
    identities: Vec<Identity>,
    /// How many descriptor frames arrived (well-formed or not).
    answered: usize,
    default: Option<Descriptor>,
    by_identity: BTreeMap<Identity, Descriptor>,
    held: Vec<(u64, Frame)>,
    max_held: usize,
}

impl Handshake {
    pub(crate) fn new(identities: Vec<Identity>, max_held: usize) -> Self {
        Self {
            identities,
            answered: 0,
            default: None,
            by_identity: BTreeMap::new(),
            held: Vec::new(),
            max_held,
        }
    }

    pub(crate) fn is_complete(&self) -> bool {
        self.default.is_some()
    }

    pub(crate) fn identities(&self) -> &[Identity] {
        &self.identities
    }

    pub(crate) fn default_descriptor(&self) -> Option<&Descriptor> {
        self.default.as_ref()
    }

    pub(crate) fn descriptor_for(&self, identity: &Identity) -> Option<&Descriptor> {
        self.by_identity.get(identity)
    }

    /// Matches the next descriptor to its hello; `None` when every hello was already answered.
    pub(crate) fn accept_descriptor(&mut self, descriptor: Descriptor) -> Option<Identity> {
        let identity = self.identities.get(self.answered)?.clone();
        self.answered += 1;
        self.default.get_or_insert_with(|| descriptor.clone());
        self.by_identity.insert(identity.clone(), descriptor);
        Some(identity)
    }

    /// A malformed descriptor still uses up its hello, so later ones keep their pairing.
    pub(crate) fn skip_descriptor(&mut self) {
        self.answered += 1;
    }

    /// Holds a frame until the handshake completes; false when the bound is reached.
    pub(crate) fn hold(&mut self, line: u64, frame: Frame) -> bool {
        if self.held.len() >= self.max_held {
            return false;
        }
        self.held.push((line, frame));
        true
    }

    pub(crate) fn take_held_frames(&mut self) -> Vec<(u64, Frame)> {
        std::mem::take(&mut self.held)
    }
}
