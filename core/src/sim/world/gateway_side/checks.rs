//! What the gateway side checks after every step: the driver and the policy
//! agree, and the machine's timers fire when PROTOCOL §3, §5 and §8 say.

use std::time::Instant;

use super::{Connection, GatewaySide, SHUTDOWN_BUDGET};

impl GatewaySide {
    /// The per-step consistency of driver and policy.
    pub(crate) fn check(&self, now: Instant) {
        if let Some(at) = self.deadline() {
            assert!(at >= now, "gateway machine: deadline {:?} before now", now - at);
        }
        assert!(
            self.dial.is_none() || self.conn.is_none(),
            "gateway has a dial in flight and a connection up at once"
        );
        let busy = self.dial.is_some() || self.conn.is_some();
        assert_eq!(
            busy,
            self.policy.is_dialing() || self.policy.is_connected(),
            "reconnect policy out of step with the driver: {}",
            self.describe()
        );
        if self.stopped.is_some() {
            assert!(!busy, "gateway dials or is connected after a terminal stop");
        }
        if let Some(c) = &self.conn {
            self.check_timers(c, now);
        }
    }

    /// The machine's timers (PROTOCOL §3, §5, §8) at the defaults, seen from outside.
    fn check_timers(&self, c: &Connection, now: Instant) {
        let conn = c.id;
        let defaults = &self.template;
        if !c.machine.is_ready() {
            assert!(now <= c.handshake_by, "gateway {conn}: still no descriptor after the handshake timeout");
        }
        let silent = now - c.last_heard;
        assert!(
            silent <= defaults.dead_link_timeout,
            "gateway {conn}: {silent:?} without traffic, link not declared dead"
        );
        let quiet = now - c.last_ping;
        assert!(quiet <= defaults.ping_interval, "gateway {conn}: no ping for {quiet:?}");
        if let Some(plan) = self.idle.filter(|p| p.conn == conn) {
            let waited = now - plan.since;
            assert!(
                plan.answered || waited <= defaults.going_idle_timeout,
                "gateway {conn}: neither going_idle_ack nor its timeout after {waited:?}"
            );
            assert!(
                !plan.shutdown || waited <= SHUTDOWN_BUDGET,
                "gateway {conn}: the orderly shutdown outlived its deadline ({waited:?})"
            );
        }
    }
}
