//! The fabric's record of which instance holds the gateway, kept the way
//! the Redis fabric keeps it: an instance *holds* once a connection of the
//! gateway is ready there, and writes its claim outright (instance, live or
//! not); when that connection goes live or idle it rewrites the claim only
//! while it is its own or lapsed; it refreshes its claim every third of the
//! lease (`fabric.rs` ticks), taking it back when it lapsed or was released, never from another
//! instance; it releases the claim, while the claim is still its own, when
//! its last ready connection closes. A dead instance refreshes nothing, so
//! its claim lapses within a lease. Interrupts for a gateway an instance
//! does not hold go to the instance the claim names (`pushes.rs`); at the
//! end, the claim must name the instance serving the gateway, live.

use std::time::{Duration, Instant};

use super::ConnectorSide;
use crate::sim::world::Ctx;
use crate::sim::world::network::ConnId;
use crate::sim::world::transcript::Side;

/// How long a claim stays in force unless refreshed (the Redis fabric's default).
const LEASE: Duration = Duration::from_secs(10);

/// The gateway's claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Claim {
    instance: usize,
    live: bool,
    expires: Instant,
}

impl ConnectorSide {
    /// The instance the claim names, if one is in force.
    pub(super) fn holder(&self, now: Instant) -> Option<usize> {
        self.claim.filter(|c| c.expires > now).map(|c| c.instance)
    }

    /// `conn` became ready: its instance holds the gateway.
    pub(super) fn register(&mut self, cx: &mut Ctx<'_>, conn: ConnId) {
        let fleet = self.is_fleet();
        let Some(c) = self.machines.get_mut(&conn) else { return };
        if !fleet || c.registered || !c.machine.is_ready() {
            return;
        }
        c.registered = true;
        let (instance, live) = (c.instance, c.machine.is_live());
        self.hold(cx, instance, live);
    }

    /// A registered `conn` went live or idle: its instance says so, in its
    /// own claim or one that lapsed, never in another instance's (an old
    /// connection that missed its gateway's move must not take it back).
    pub(super) fn reclaim(&mut self, cx: &mut Ctx<'_>, conn: ConnId, live: bool) {
        if let Some(c) = self.machines.get(&conn).filter(|c| c.registered) {
            let instance = c.instance;
            self.instances[instance].held = Some(live);
            self.refresh_claim(cx, instance, live);
        }
    }

    /// A registered `conn` closed: its instance lets go of the gateway
    /// when that was its last ready connection.
    pub(super) fn unregister(&mut self, cx: &mut Ctx<'_>, conn: ConnId) {
        let Some(c) = self.machines.get_mut(&conn) else { return };
        if !std::mem::take(&mut c.registered) {
            return;
        }
        let instance = c.instance;
        if self.machines.values().any(|c| c.instance == instance && c.registered) {
            return;
        }
        self.instances[instance].held = None;
        if self.claim.is_some_and(|claim| claim.instance == instance) {
            cx.note(Side::Connector, format!("i{instance} releases its claim"));
            self.claim = None;
        }
    }

    fn hold(&mut self, cx: &mut Ctx<'_>, instance: usize, live: bool) {
        self.instances[instance].held = Some(live);
        self.start_ticking(cx, instance);
        let claim = Claim { instance, live, expires: cx.now + LEASE };
        if self.claim.is_none_or(|c| (c.instance, c.live) != (instance, live)) {
            cx.note(Side::Connector, format!("i{instance} claims the gateway (live {live})"));
        }
        self.claim = Some(claim);
    }

    /// `instance`, holding the gateway (`live` or not), refreshes its
    /// claim: its own, or one that lapsed or was released.
    pub(super) fn refresh_claim(&mut self, cx: &mut Ctx<'_>, instance: usize, live: bool) {
        let free = self.claim.is_none_or(|c| c.expires <= cx.now || c.instance == instance);
        if free {
            if self.claim.is_none_or(|c| c.instance != instance) {
                cx.bump("claims taken back by a refresh");
            }
            self.claim = Some(Claim { instance, live, expires: cx.now + LEASE });
        }
    }

    /// Whether the claim names the instance serving `conn`, live (always
    /// so for a lone instance, which has no fabric).
    pub(crate) fn claim_settled(&self, conn: ConnId, now: Instant) -> bool {
        if !self.is_fleet() {
            return true;
        }
        let serving = self.machines.get(&conn).map(|c| c.instance);
        self.claim.is_some_and(|c| c.live && c.expires > now && Some(c.instance) == serving)
    }
}
