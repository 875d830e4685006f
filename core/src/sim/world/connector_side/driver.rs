//! The connector driver: dials accepted with a fresh machine each, the
//! network's deliveries and the machines' deadlines fed in, and every
//! action drained and acted on (contract points 1, 2 and 4).

use super::{Connection, ConnectorSide, Life};
use crate::connector::{Action, ConnectorMachine};
use crate::sim::world::Ctx;
use crate::sim::world::agenda::Task;
use crate::sim::world::network::{Arrival, ConnId, End, Msg, SendOutcome};
use crate::sim::world::transcript::{Side, short};

impl ConnectorSide {
    /// A dial reaches the instance the load balancer picks: refused when
    /// that one is down (and the balancer turns to another), else
    /// accepted, with the token checked by a fresh machine.
    pub(crate) fn on_dial(&mut self, cx: &mut Ctx<'_>, conn: ConnId, authorization: Option<&str>) {
        let instance = self.balancer;
        if !self.instances[instance].up {
            let at = cx.now + cx.net.latency(cx.now);
            cx.agenda.at(at, Task::DialRefused { conn });
            self.turn_balancer(cx);
            return;
        }
        let (config, unix) = self.auth.admit(cx.now, cx.unix_now(), self.window);
        cx.net.connect(cx.now, conn);
        let on = if self.is_fleet() { format!(" by i{instance}") } else { String::new() };
        cx.note(Side::Connector, format!("{conn} accepted{on}"));
        let machine = ConnectorMachine::new(config, authorization, cx.now, unix);
        self.machines.insert(conn, Connection::new(machine, instance, cx.now));
        self.drain(cx, conn);
    }

    pub(crate) fn on_arrival(&mut self, cx: &mut Ctx<'_>, conn: ConnId, arrival: Arrival) {
        match arrival {
            Arrival::Data(chunks) => {
                for chunk in chunks {
                    let Some(c) = self.open(conn) else { return };
                    c.last_heard = cx.now;
                    c.machine.handle_input(cx.now, &chunk);
                    self.drain(cx, conn);
                }
            }
            Arrival::Ping => {
                if let Some(c) = self.open(conn) {
                    c.last_heard = cx.now;
                    c.machine.handle_keepalive(cx.now);
                    // The WebSocket layer answers pings by itself.
                    cx.net.send(cx.now, conn, End::Gateway, Msg::Pong);
                    self.drain(cx, conn);
                }
            }
            Arrival::Close(frame) => {
                if let Some(c) = self.open(conn) {
                    cx.note(Side::Network, format!("{conn} closed towards the connector: {frame:?}"));
                    c.machine.handle_transport_closed(cx.now, frame);
                    self.drain(cx, conn);
                }
            }
            Arrival::Open | Arrival::Pong => {}
        }
    }

    pub(crate) fn on_write_failed(&mut self, cx: &mut Ctx<'_>, conn: ConnId, life: Life) {
        if !self.is_current(life) {
            return;
        }
        if let Some(c) = self.open(conn) {
            cx.bump("connector write failures");
            c.machine.handle_write_failed(cx.now, "broken pipe");
            self.drain(cx, conn);
        }
    }

    pub(crate) fn on_timeout(&mut self, cx: &mut Ctx<'_>, conn: ConnId) {
        let Some(c) = self.machines.get_mut(&conn) else { return };
        c.machine.handle_timeout(cx.now);
        if let Some(at) = c.machine.poll_timeout() {
            assert!(
                at > cx.now,
                "connector machine {conn}: deadline not after handle_timeout({:?})",
                cx.elapsed()
            );
        }
        self.drain(cx, conn);
    }

    pub(super) fn open(&mut self, conn: ConnId) -> Option<&mut Connection> {
        self.machines.get_mut(&conn).filter(|c| !c.machine.is_closed())
    }

    /// Drains `conn`'s machine, then lets an inline store perform what was
    /// asked meanwhile (and drains whichever machine its answers go to).
    pub(super) fn drain(&mut self, cx: &mut Ctx<'_>, conn: ConnId) {
        self.drain_machine(cx, conn);
        self.settle_inline(cx);
    }

    /// Polls `conn`'s actions until there are none (contract point 2) and
    /// checks what that leaves; a closed machine is forgotten once drained
    /// (what it asked of the store is still performed).
    pub(super) fn drain_machine(&mut self, cx: &mut Ctx<'_>, conn: ConnId) {
        loop {
            let Some(c) = self.machines.get_mut(&conn) else { return };
            if let Some(action) = c.machine.poll_action() {
                c.contract.observe(conn, &action);
                self.on_action(cx, conn, action);
                continue;
            }
            c.contract.check(conn, &c.machine, cx.now);
            assert!(
                c.awaiting_removal.is_empty(),
                "connector machine {conn}: entries {:?} were acknowledged, but their removal was never asked",
                c.awaiting_removal
            );
            if c.contract.is_closed() {
                self.machines.remove(&conn);
            }
            return;
        }
    }

    fn on_action(&mut self, cx: &mut Ctx<'_>, conn: ConnId, action: Action) {
        match action {
            Action::SendFrame(line) => {
                let replayed = cx.ledger.connector_sent(conn, &line);
                if let (Some(buffer_id), Some(c)) = (replayed, self.machines.get_mut(&conn)) {
                    c.cursor = Some(buffer_id);
                }
                cx.note(Side::Connector, format!("{conn} send {}", short(&line)));
                if cx.net.send(cx.now, conn, End::Gateway, Msg::Data(line.into_bytes()))
                    == SendOutcome::WriteFailed
                {
                    if let Some(life) = self.life_of(conn) {
                        cx.agenda.at(cx.now, Task::ConnectorWriteFailed { conn, life });
                    }
                }
            }
            Action::Deliver(event) => self.on_event(cx, conn, event),
            Action::Store(request) => self.on_store_request(cx, conn, request),
            Action::Closed(reason) => {
                cx.note(Side::Connector, format!("{conn} closed: {reason}"));
                self.unregister(cx, conn);
                if let Some(frame) = reason.close_to_send() {
                    cx.net.send(cx.now, conn, End::Gateway, Msg::Close(Some(frame)));
                }
                cx.net.close_end(conn, End::Connector);
            }
        }
    }
}
