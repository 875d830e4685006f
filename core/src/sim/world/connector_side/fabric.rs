//! The fabric between the instances of a fleet, as far as appends go: an
//! instance that appended a push directly tells its own ready connections
//! of the gateway, or, with none, announces the append to every instance;
//! an instance hearing an announcement tells its ready connections
//! (`handle_backlog_appended`). Announcements take a seeded time, and an
//! instance whose subscription is down misses them; an instance holding
//! the gateway also sweeps (tells all its ready connections) every few
//! seconds, when it refreshes its claim (`claims.rs`), and right after it
//! resubscribes, so a missed announcement delays an entry, never strands
//! it. A lone instance has no fabric.

use std::time::Duration;

use rand::Rng as _;

use super::{ConnectorSide, Life};
use crate::sim::world::Ctx;
use crate::sim::world::agenda::Task;
use crate::sim::world::fleet_plan::Target;
use crate::sim::world::transcript::Side;

/// How often an instance holding the gateway refreshes its claim and
/// sweeps: a third of the Redis fabric's lease (its sweep, every 5 s, is
/// rounded down to the same tick).
const TICK: Duration = Duration::from_millis(3_333);

impl ConnectorSide {
    /// `instance` holds the gateway: its ticks run (from a seeded phase)
    /// until it holds nothing, which leaves them nothing to do.
    pub(super) fn start_ticking(&mut self, cx: &mut Ctx<'_>, instance: usize) {
        if std::mem::replace(&mut self.instances[instance].ticking, true) {
            return;
        }
        let micros = u64::try_from(TICK.as_micros()).unwrap_or(u64::MAX);
        let phase = Duration::from_micros(self.fleet_rng.random_range(0..micros));
        cx.agenda.at(cx.now + phase, Task::FabricTick { life: self.life(instance) });
    }

    pub(crate) fn on_fabric_tick(&mut self, cx: &mut Ctx<'_>, life: Life) {
        if !self.is_current(life) {
            return;
        }
        let Some(live) = self.instances[life.instance].held else {
            self.instances[life.instance].ticking = false;
            return;
        };
        self.refresh_claim(cx, life.instance, live);
        if self.tell(cx, life.instance) {
            cx.bump("sweeps that told a connection");
        }
        cx.agenda.at(cx.now + TICK, Task::FabricTick { life });
    }

    /// A push `instance` appended directly is durable: its ready
    /// connections of the gateway hear of it, or every instance does.
    pub(super) fn appended_directly(&mut self, cx: &mut Ctx<'_>, instance: usize) {
        if !self.is_fleet() {
            return;
        }
        if self.tell(cx, instance) {
            cx.bump("appends told to the instance's own connections");
            return;
        }
        cx.bump("appends announced");
        for to in 0..self.instances.len() {
            if self.instances[to].up {
                let latency = self.fleet_rng.random_range(Duration::ZERO..=self.news_latency);
                cx.agenda.at(cx.now + latency, Task::News { life: self.life(to) });
            }
        }
    }

    /// An announcement reaches `life`'s instance.
    pub(crate) fn on_news(&mut self, cx: &mut Ctx<'_>, life: Life) {
        if !self.is_current(life) {
            return;
        }
        if self.instances[life.instance].deaf_until.is_some() {
            cx.bump("announcements missed (subscription down)");
            return;
        }
        if self.tell(cx, life.instance) {
            cx.bump("announcements heard by a holder");
        }
    }

    /// The subscription of the targeted instance is down for `lasting`.
    pub(crate) fn fabric_outage(&mut self, cx: &mut Ctx<'_>, target: Target, lasting: Duration) {
        let instance = self.resolve(target);
        if !self.instances[instance].up {
            return;
        }
        cx.bump("fabric outages");
        let until = cx.now + lasting;
        let state = &mut self.instances[instance];
        state.deaf_until = Some(state.deaf_until.map_or(until, |before| before.max(until)));
        cx.agenda.at(until, Task::Resubscribe { life: self.life(instance) });
    }

    pub(crate) fn on_resubscribe(&mut self, cx: &mut Ctx<'_>, life: Life) {
        if !self.is_current(life) {
            return;
        }
        let state = &mut self.instances[life.instance];
        if state.deaf_until.is_some_and(|until| until <= cx.now) {
            state.deaf_until = None;
            self.resubscribed(cx, life.instance);
        }
    }

    /// Back on the subscription: announcements may have been missed, so
    /// every ready connection hears of appends.
    pub(super) fn resubscribed(&mut self, cx: &mut Ctx<'_>, instance: usize) {
        cx.note(Side::Connector, format!("i{instance} resubscribed: sweeping"));
        self.tell(cx, instance);
    }

    /// Tells every ready connection of `instance` that the backlog grew;
    /// whether there was any.
    fn tell(&mut self, cx: &mut Ctx<'_>, instance: usize) -> bool {
        if self.silent_fabric {
            return false;
        }
        let ready: Vec<_> = self
            .machines
            .iter()
            .filter(|(_, c)| c.instance == instance && c.machine.is_ready() && !c.machine.is_closed())
            .map(|(id, _)| *id)
            .collect();
        for conn in &ready {
            if let Some(c) = self.open(*conn) {
                c.machine.handle_backlog_appended(cx.now);
                self.drain(cx, *conn);
            }
        }
        !ready.is_empty()
    }
}
