//! The connector's half of the handshake (PROTOCOL §3): every `hello` gets one
//! answer, in arrival order; the first descriptor sent completes the
//! handshake, and gateway frames arriving before that wait (bounded).

use std::collections::{BTreeSet, VecDeque};

use crate::gateway::Identity;
use crate::wire::Frame;

#[derive(Debug)]
pub(crate) struct Hellos {
    /// Distinct identities announced, in hello order; the first is the default.
    announced: Vec<Identity>,
    announced_set: BTreeSet<Identity>,
    /// Hellos waiting for a descriptor (or a refusal), oldest first.
    unanswered: VecDeque<Identity>,
    received: usize,
    max_hellos: usize,
    complete: bool,
    held: Vec<(u64, Frame)>,
    max_held: usize,
}

impl Hellos {
    pub(crate) fn new(max_hellos: usize, max_held: usize) -> Self {
        Self {
            announced: Vec::new(),
            announced_set: BTreeSet::new(),
            unanswered: VecDeque::new(),
            received: 0,
            max_hellos,
            complete: false,
            held: Vec::new(),
            max_held,
        }
    }

    /// Records a hello; false when it is one too many.
    pub(crate) fn on_hello(&mut self, identity: Identity) -> bool {
        if self.received >= self.max_hellos {
            return false;
        }
        self.received += 1;
        // A repeated hello still needs its own answer (the gateway pairs
        // descriptors with hellos by position), but announces nothing new.
        if self.announced_set.insert(identity.clone()) {
            self.announced.push(identity.clone());
        }
        self.unanswered.push_back(identity);
        true
    }

    /// The identity the next answer belongs to.
    pub(crate) fn oldest_unanswered(&self) -> Option<&Identity> {
        self.unanswered.front()
    }

    /// Marks the oldest hello answered; returns its identity.
    pub(crate) fn answer(&mut self) -> Option<Identity> {
        let identity = self.unanswered.pop_front()?;
        self.complete = true;
        Some(identity)
    }

    pub(crate) fn is_complete(&self) -> bool {
        self.complete
    }

    pub(crate) fn announced(&self) -> &[Identity] {
        &self.announced
    }

    pub(crate) fn is_announced(&self, identity: &Identity) -> bool {
        self.announced_set.contains(identity)
    }

    pub(crate) fn default_identity(&self) -> Option<&Identity> {
        self.announced.first()
    }

    /// Holds a frame until the handshake completes; false when the bound is reached.
    pub(crate) fn hold(&mut self, line: u64, frame: Frame) -> bool {
        if self.held.len() >= self.max_held {
            return false;
        }
        self.held.push((line, frame));
        true
    }

    pub(crate) fn take_held(&mut self) -> Vec<(u64, Frame)> {
        std::mem::take(&mut self.held)
    }
}
