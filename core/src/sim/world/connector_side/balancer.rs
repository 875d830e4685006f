//! The load balancer in front of the fleet: every dial goes to one
//! instance until that one refuses a dial (it is down: the balancer's
//! health check notices) or the gateway is moved; then to another one.

use rand::Rng as _;

use super::ConnectorSide;
use crate::sim::world::Ctx;
use crate::sim::world::network::DropKind;
use crate::sim::world::transcript::Side;

impl ConnectorSide {
    /// The balancer sends the next dials to another instance, at random.
    pub(super) fn turn_balancer(&mut self, cx: &mut Ctx<'_>) {
        let count = self.instances.len();
        if count < 2 {
            return;
        }
        self.balancer = (self.balancer + self.fleet_rng.random_range(1..count)) % count;
        cx.note(Side::Connector, format!("load balancer: dials go to i{} now", self.balancer));
    }

    /// The gateway moves: every live link fails and its next dial lands on
    /// another instance (the same one for a lone instance).
    pub(crate) fn move_gateway(&mut self, cx: &mut Ctx<'_>, kind: DropKind) {
        cx.bump("gateway moves");
        self.turn_balancer(cx);
        for conn in cx.net.live_links() {
            cx.net.fail(cx.now, conn, kind);
        }
    }
}
