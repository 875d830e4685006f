//! Instances dying and coming back, and the other faults the connector
//! side is dealt: hellos refused, tokens rejected or read as expired, the
//! secret revoked; and the final heal.

use std::time::{Duration, Instant};

use super::{ArmedCrash, ConnectorSide};
use crate::sim::world::Ctx;
use crate::sim::world::agenda::Task;
use crate::sim::world::fleet_plan::Target;
use crate::sim::world::network::{DropKind, End};
use crate::sim::world::transcript::Side;

impl ConnectorSide {
    /// The instance a fault aimed at `target` hits.
    pub(super) fn resolve(&self, target: Target) -> usize {
        match target {
            Target::Instance(instance) => instance.min(self.instances.len() - 1),
            Target::Holder => {
                let newest = self.machines.values().rev().find(|c| !c.machine.is_closed());
                newest.map_or(0, |c| c.instance)
            }
        }
    }

    /// An instance dies: its connections drop (reset, or the host vanishes
    /// without one); its machines, its driver's state and its store queue
    /// are gone (a prefix of that queue may have been applied), the store's
    /// contents stay. The other instances keep running.
    pub(crate) fn crash(&mut self, cx: &mut Ctx<'_>, target: Target, down_for: Duration, vanish: bool) {
        let instance = self.resolve(target);
        cx.bump("connector restarts");
        let in_flight = self.store.queued_on(instance);
        let tag = if self.is_fleet() { format!("i{instance} ") } else { String::new() };
        cx.note(
            Side::Connector,
            format!(
                "{tag}crash (vanish {vanish}) with {in_flight} store operations in flight; back in {down_for:?}"
            ),
        );
        let kind = if vanish { DropKind::Blackhole } else { DropKind::Reset };
        let dead: Vec<_> =
            self.machines.iter().filter(|(_, c)| c.instance == instance).map(|(id, _)| *id).collect();
        for conn in dead {
            self.machines.remove(&conn);
            cx.net.fail(cx.now, conn, kind);
            cx.net.close_end(conn, End::Connector);
        }
        let crashed = self.store.crash(instance);
        self.settle_crashed(cx, crashed);
        let state = &mut self.instances[instance];
        state.up = false;
        state.life += 1;
        state.deaf_until = None;
        state.held = None;
        state.ticking = false;
        let life = self.life(instance);
        cx.agenda.at(cx.now + down_for, Task::ConnectorUp { life });
    }

    /// The instance will die right after its `after_ops`-th next store operation.
    pub(crate) fn arm_crash(&mut self, target: Target, after_ops: u32, down_for: Duration, vanish: bool) {
        let instance = self.resolve(target);
        self.instances[instance].armed_crash =
            Some(ArmedCrash { after_ops: after_ops.max(1), down_for, vanish });
    }

    /// An armed crash is due (scheduled by the submission that triggered it).
    pub(crate) fn on_crash_due(&mut self, cx: &mut Ctx<'_>, life: super::Life) {
        if !self.is_current(life) {
            return;
        }
        let state = &mut self.instances[life.instance];
        if let Some(armed) = state.armed_crash.take_if(|armed| armed.after_ops == 0) {
            cx.bump("connector restarts amid store traffic");
            self.crash(cx, Target::Instance(life.instance), armed.down_for, armed.vanish);
        }
    }

    pub(crate) fn on_up(&mut self, cx: &mut Ctx<'_>, life: super::Life) {
        let state = &self.instances[life.instance];
        if state.life == life.number && !state.up {
            self.come_up(cx, life.instance);
        }
    }

    fn come_up(&mut self, cx: &mut Ctx<'_>, instance: usize) {
        self.instances[instance].up = true;
        let deferred = std::mem::take(&mut self.instances[instance].deferred);
        let tag = if self.is_fleet() { format!("i{instance} ") } else { String::new() };
        cx.note(Side::Connector, format!("{tag}up; {} platform events waited", deferred.len()));
        for chat in deferred {
            self.push(cx, chat, instance);
        }
    }

    pub(crate) fn refuse_hellos(&mut self, count: u32) {
        self.refuse_next += count;
    }

    pub(crate) fn reject_tokens(&mut self, count: u32) {
        self.auth.reject_next += count;
    }

    pub(crate) fn expire_tokens(&mut self, until: Instant) {
        self.auth.clock_ahead_until = Some(until);
    }

    /// Revokes the gateway's secret and kicks it off every connection.
    pub(crate) fn revoke(&mut self, cx: &mut Ctx<'_>) {
        self.auth.revoked = true;
        for conn in cx.net.live_links() {
            cx.net.fail(cx.now, conn, DropKind::Reset);
        }
    }

    /// The final quiet period: every instance is up and subscribed, accepts
    /// valid tokens and no longer waits to crash.
    pub(crate) fn heal(&mut self, cx: &mut Ctx<'_>) {
        self.refuse_next = 0;
        self.auth.reject_next = 0;
        self.auth.clock_ahead_until = None;
        for instance in 0..self.instances.len() {
            self.instances[instance].armed_crash = None;
            if !self.instances[instance].up {
                self.come_up(cx, instance);
            } else if self.instances[instance].deaf_until.take().is_some() {
                self.resubscribed(cx, instance);
            }
        }
    }
}
