//! What the connector side checks after every step: each machine's
//! contract, its timers (handshake, dead link) and replay window at the
//! defaults, seen from outside, and a replay that always has something
//! under way.

use std::time::Instant;

use super::ConnectorSide;
use crate::connector::ConnectorConfig;

impl ConnectorSide {
    pub(crate) fn check(&self, now: Instant) {
        let defaults = ConnectorConfig::default();
        for (id, c) in &self.machines {
            c.contract.check(*id, &c.machine, now);
            let m = &c.machine;
            if m.is_closed() {
                continue;
            }
            if !m.is_ready() {
                let waited = now - c.opened;
                assert!(
                    waited <= defaults.handshake_timeout,
                    "connector {id}: no descriptor sent after {waited:?}"
                );
            }
            let silent = now - c.last_heard;
            assert!(
                silent <= defaults.dead_link_timeout,
                "connector {id}: {silent:?} without traffic, link not declared dead"
            );
            let in_flight = m.replay_in_flight();
            assert!(
                in_flight <= self.window.max(1),
                "connector {id}: {in_flight} replayed frames unacked, window {}",
                self.window
            );
            assert_eq!(
                m.is_reading_backlog(),
                c.reading,
                "connector {id}: is_reading_backlog disagrees with the reads it asked for"
            );
            // With nothing in flight only a read (or its retry) can move
            // the replay on; without one it would wait forever.
            let retry_due = c.retry_at.is_some_and(|at| at >= now);
            let stalled = m.is_replaying() && in_flight == 0 && !c.reading && !retry_due;
            assert!(
                !stalled,
                "connector {id}: the replay stalled: nothing in flight, no read out, no retry due"
            );
        }
    }
}
