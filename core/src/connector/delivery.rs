//! Live versus buffered delivery, and the ack-gated replay (PROTOCOL §8).
//!
//! After the handshake the backlog comes first: the machine replays it in
//! order, at most `window` frames without an `inbound_ack`, and only when the
//! store has nothing left and nothing is in flight does delivery go live.
//! Pushes meanwhile go to the store behind the replayed entries, which is
//! what keeps the order. Because acks only remove entries and appends only
//! add at the end, the frames in flight are always a prefix of what remains
//! in the store, so a cursor (the last id sent) is all the replay needs.

use std::collections::BTreeSet;

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
    /// The last listing came back short, and nothing changed since.
    exhausted: bool,
    /// A read of the store is outstanding, for at most this many entries.
    reading: Option<usize>,
    /// A push was handed back for appending while the read was out: the
    /// listing may predate it, so a short one does not end the replay.
    appended_during_read: bool,
}

impl Delivery {
    pub(crate) fn new(window: usize) -> Self {
        Self {
            mode: Mode::Handshaking,
            window: window.max(1),
            in_flight: BTreeSet::new(),
            cursor: None,
            exhausted: false,
            reading: None,
            appended_during_read: false,
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

    pub(crate) fn is_reading(&self) -> bool {
        self.reading.is_some()
    }

    /// How many entries the outstanding read asked for (0 when none is out).
    pub(crate) fn asked(&self) -> usize {
        self.reading.unwrap_or(0)
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
                self.appended_during_read |= self.reading.is_some();
                Route::Backlog
            }
            Mode::Idle => Route::Backlog,
        }
    }

    /// Someone else (another connector instance on a shared store) appended
    /// to this gateway's backlog: a live delivery replays the new entries
    /// first, a replay lists again.
    pub(crate) fn appended_elsewhere(&mut self) {
        match self.mode {
            Mode::Live | Mode::Replaying => {
                self.mode = Mode::Replaying;
                self.exhausted = false;
                self.appended_during_read |= self.reading.is_some();
            }
            Mode::Handshaking | Mode::Idle => {}
        }
    }

    /// An `inbound_ack`; true when it acknowledges a frame replayed here
    /// (the caller removes it from the store). A freed slot is worth a read.
    pub(crate) fn on_ack(&mut self, buffer_id: &str) -> bool {
        let replayed = self.in_flight.remove(buffer_id);
        if replayed {
            self.exhausted = false;
        }
        replayed
    }

    /// What to read from the store now, if anything: entries after this
    /// cursor, at most this many. Marks the read outstanding.
    pub(crate) fn start_read(&mut self) -> Option<(Option<String>, usize)> {
        let free = self.free();
        if self.mode != Mode::Replaying || self.reading.is_some() || self.exhausted || free == 0 {
            return None;
        }
        self.reading = Some(free);
        self.appended_during_read = false;
        Some((self.cursor.clone(), free))
    }

    /// Whether a replayed entry may be sent now (the replay still runs).
    pub(crate) fn may_replay(&self) -> bool {
        self.mode == Mode::Replaying
    }

    /// One entry was replayed.
    pub(crate) fn sent(&mut self, buffer_id: &str) {
        self.in_flight.insert(buffer_id.to_owned());
        self.cursor = Some(buffer_id.to_owned());
    }

    /// The outstanding read returned `got` entries; true when the replay is
    /// over and delivery just went live.
    pub(crate) fn listed(&mut self, got: usize) -> bool {
        let asked = self.reading.take().unwrap_or(0);
        self.exhausted = got < asked && !self.appended_during_read;
        if self.exhausted && self.in_flight.is_empty() && self.mode == Mode::Replaying {
            self.mode = Mode::Live;
            return true;
        }
        false
    }

    /// The outstanding read failed; the next one starts from the same cursor.
    pub(crate) fn read_failed(&mut self) {
        self.reading = None;
        self.exhausted = false;
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
        assert_eq!(d.start_read(), Some((None, 2)));
        assert_eq!(d.start_read(), None, "one read at a time");
        d.sent("1");
        d.sent("2");
        assert!(!d.listed(2));
        assert_eq!(d.start_read(), None, "window full");
        assert!(d.on_ack("2"));
        assert!(!d.on_ack("2"), "a repeated ack is not a replayed frame");
        assert_eq!(d.start_read(), Some((Some("2".into()), 1)));
        assert!(!d.listed(0), "one frame still in flight");
        assert_eq!(d.start_read(), None, "the store is exhausted");
        assert_eq!(d.route_push(), Route::Backlog);
        assert_eq!(d.start_read(), Some((Some("2".into()), 1)), "an append may have added entries");
        d.sent("3");
        assert!(!d.listed(1) && d.start_read().is_none(), "window full again");
        d.on_ack("1");
        d.on_ack("3");
        assert_eq!(d.start_read(), Some((Some("3".into()), 2)));
        assert!(d.listed(0));
        assert_eq!(d.route_push(), Route::Live);
    }

    #[test]
    fn an_append_during_a_read_keeps_the_replay_going() {
        let mut d = Delivery::new(4);
        d.start();
        assert_eq!(d.start_read(), Some((None, 4)));
        assert_eq!(d.route_push(), Route::Backlog);
        assert!(!d.listed(0), "the listing may predate the append");
        assert_eq!(d.start_read(), Some((None, 4)));
        assert!(d.listed(0));
    }

    #[test]
    fn idle_stops_the_replay_but_keeps_taking_acks() {
        let mut d = Delivery::new(0);
        d.start();
        assert_eq!(d.start_read(), Some((None, 1)), "a zero window counts as one");
        d.sent("1");
        d.listed(1);
        d.go_idle();
        assert_eq!(d.route_push(), Route::Backlog);
        assert!(d.on_ack("1"));
        assert_eq!(d.start_read(), None);
        assert!(!d.may_replay());
        assert!(d.is_idle());
    }

    #[test]
    fn an_append_elsewhere_turns_live_delivery_back_into_a_replay() {
        let mut d = Delivery::new(4);
        d.appended_elsewhere();
        assert_eq!(d.route_push(), Route::NotReady, "before the handshake it changes nothing");
        d.start();
        d.start_read();
        d.sent("1");
        d.listed(1);
        d.on_ack("1");
        d.start_read();
        assert!(d.listed(0));
        d.appended_elsewhere();
        assert!(d.is_replaying());
        assert_eq!(d.route_push(), Route::Backlog, "local pushes queue behind the new entries");
        assert_eq!(d.start_read(), Some((Some("1".into()), 4)));
        d.go_idle();
        d.appended_elsewhere();
        assert!(d.is_idle(), "an idle gateway stays idle");
    }

    #[test]
    fn a_failed_read_is_asked_again_from_the_same_cursor() {
        let mut d = Delivery::new(2);
        d.start();
        d.start_read();
        d.read_failed();
        assert!(!d.is_reading());
        assert_eq!(d.start_read(), Some((None, 2)));
    }
}
