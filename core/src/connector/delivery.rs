//! Live versus buffered delivery, and the ack-gated replay (PROTOCOL §8).
//!
//! After the handshake the backlog comes first: the machine replays it in
//! order, at most `window` frames without an `inbound_ack`, and only when the
//! store has nothing left and nothing is in flight does delivery go live.
//! Pushes meanwhile go to the store behind the replayed entries, which is
//! what keeps the order. Because acks only remove entries and appends only
//! add at the end, the frames in flight are always a prefix of what remains
//! in the store, so a cursor (the last id sent) is all the replay needs.

use std::collections::{BTreeSet, VecDeque};

/// Where a push goes right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    /// The handshake is not complete.
    NotReady,
    /// Send it.
    Live,
    /// Replaying or idle: append it to the backlog.
    Backlog,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Handshaking,
    Replaying,
    Live,
    Idle,
}

#[derive(Debug)]
pub(crate) struct Delivery {
    mode: Mode,
    window: usize,
    /// Buffer ids replayed on this connection and not yet acknowledged.
    in_flight: BTreeSet<String>,
    /// The last buffer id replayed.
    cursor: Option<String>,
    /// Acknowledged ids not yet removed from the store, in ack order.
    acked: VecDeque<String>,
    /// The last listing came back short, and nothing was appended since.
    exhausted: bool,
}

impl Delivery {
    pub(crate) fn new(window: usize) -> Self {
        Self {
            mode: Mode::Handshaking,
            window: window.max(1),
            in_flight: BTreeSet::new(),
            cursor: None,
            acked: VecDeque::new(),
            exhausted: false,
        }
    }

    /// The handshake completed: the backlog goes first.
    pub(crate) fn start(&mut self) {
        if self.mode == Mode::Handshaking {
            self.mode = Mode::Replaying;
        }
    }

    /// `going_idle` arrived: nothing is live from now on, and the replay
    /// stops (what is left stays in the store for the next connection).
    pub(crate) fn go_idle(&mut self) {
        self.mode = Mode::Idle;
    }

    pub(crate) fn is_live(&self) -> bool {
        self.mode == Mode::Live
    }

    pub(crate) fn is_idle(&self) -> bool {
        self.mode == Mode::Idle
    }

    pub(crate) fn is_replaying(&self) -> bool {
        self.mode == Mode::Replaying
    }

    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Where a bufferable push goes; during a replay the caller will append
    /// it, so the store is no longer known to be exhausted.
    pub(crate) fn route_push(&mut self) -> Route {
        match self.mode {
            Mode::Handshaking => Route::NotReady,
            Mode::Live => Route::Live,
            Mode::Replaying => {
                self.exhausted = false;
                Route::Backlog
            }
            Mode::Idle => Route::Backlog,
        }
    }

    /// An `inbound_ack`; true when it acknowledges a frame replayed here.
    pub(crate) fn on_ack(&mut self, buffer_id: &str) -> bool {
        let replayed = self.in_flight.remove(buffer_id);
        if replayed {
            self.acked.push_back(buffer_id.to_owned());
        }
        replayed
    }

    /// Whether `sync_backlog` has work: removals, or room for more frames.
    pub(crate) fn wants_sync(&self) -> bool {
        !self.acked.is_empty() || (self.mode == Mode::Replaying && !self.exhausted && self.free() > 0)
    }

    /// The next acknowledged id to remove from the store.
    pub(crate) fn next_acked(&self) -> Option<&str> {
        self.acked.front().map(String::as_str)
    }

    /// The store removed the entry `next_acked` named.
    pub(crate) fn removed(&mut self) {
        self.acked.pop_front();
    }

    /// What to read from the store: entries after this cursor, at most this many.
    pub(crate) fn wanted(&self) -> Option<(Option<String>, usize)> {
        let free = self.free();
        (self.mode == Mode::Replaying && free > 0).then(|| (self.cursor.clone(), free))
    }

    /// One entry was replayed.
    pub(crate) fn sent(&mut self, buffer_id: &str) {
        self.in_flight.insert(buffer_id.to_owned());
        self.cursor = Some(buffer_id.to_owned());
    }

    /// The store returned `got` of the `asked` entries; true when the replay
    /// is over and delivery just went live.
    pub(crate) fn listed(&mut self, got: usize, asked: usize) -> bool {
        self.exhausted = got < asked;
        if self.exhausted && self.in_flight.is_empty() && self.mode == Mode::Replaying {
            self.mode = Mode::Live;
            return true;
        }
        false
    }

    fn free(&self) -> usize {
        self.window.saturating_sub(self.in_flight.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_then_live() {
        let mut d = Delivery::new(2);
        assert_eq!(d.route_push(), Route::NotReady);
        d.start();
        assert!(d.wants_sync());
        assert_eq!(d.wanted(), Some((None, 2)));
        d.sent("1");
        d.sent("2");
        assert!(!d.listed(2, 2));
        assert_eq!(d.wanted(), None, "window full");
        assert!(!d.wants_sync());
        assert!(d.on_ack("2"));
        assert!(!d.on_ack("2"), "a repeated ack is not a replayed frame");
        assert_eq!(d.next_acked(), Some("2"));
        d.removed();
        assert_eq!(d.wanted(), Some((Some("2".into()), 1)));
        assert!(!d.listed(0, 1), "one frame still in flight");
        assert!(!d.wants_sync());
        assert_eq!(d.route_push(), Route::Backlog);
        assert!(d.wants_sync(), "an append may have added entries");
        d.on_ack("1");
        d.removed();
        assert!(d.listed(0, 2));
        assert_eq!(d.route_push(), Route::Live);
    }

    #[test]
    fn idle_stops_the_replay_but_keeps_taking_acks() {
        let mut d = Delivery::new(0);
        d.start();
        assert_eq!(d.wanted(), Some((None, 1)), "a zero window counts as one");
        d.sent("1");
        d.go_idle();
        assert_eq!(d.route_push(), Route::Backlog);
        assert!(d.on_ack("1"));
        assert!(d.wants_sync());
        d.removed();
        assert_eq!(d.wanted(), None);
        assert!(!d.listed(0, 1));
        assert!(d.is_idle());
    }
}
