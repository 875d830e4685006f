//! The inputs from a socket that both machines take, as one trait, so an
//! async driver can run either machine with the same loop.

use std::time::Instant;

use crate::connector::ConnectorMachine;
use crate::gateway::{CloseFrame, RelayMachine};

/// A sans-IO machine serving one WebSocket connection. The methods mirror the
/// inherent ones of [`RelayMachine`] and [`ConnectorMachine`]; see their
/// driving contracts.
pub trait SocketMachine {
    /// Bytes of a received WebSocket message.
    fn handle_input(&mut self, now: Instant, bytes: &[u8]);
    /// A WebSocket ping or pong arrived.
    fn handle_keepalive(&mut self, now: Instant);
    /// The transport ended, with its close frame when there was one.
    fn handle_transport_closed(&mut self, now: Instant, close: Option<CloseFrame>);
    /// Writing to the socket failed.
    fn handle_write_failed(&mut self, now: Instant, detail: &str);
    /// The clock reached [`poll_timeout`](Self::poll_timeout).
    fn handle_timeout(&mut self, now: Instant);
    /// When to call [`handle_timeout`](Self::handle_timeout) next.
    fn poll_timeout(&self) -> Option<Instant>;
}

macro_rules! socket_machine {
    ($machine:ty) => {
        impl SocketMachine for $machine {
            fn handle_input(&mut self, now: Instant, bytes: &[u8]) {
                <$machine>::handle_input(self, now, bytes)
            }

            fn handle_keepalive(&mut self, now: Instant) {
                <$machine>::handle_keepalive(self, now)
            }

            fn handle_transport_closed(&mut self, now: Instant, close: Option<CloseFrame>) {
                <$machine>::handle_transport_closed(self, now, close)
            }

            fn handle_write_failed(&mut self, now: Instant, detail: &str) {
                <$machine>::handle_write_failed(self, now, detail)
            }

            fn handle_timeout(&mut self, now: Instant) {
                <$machine>::handle_timeout(self, now)
            }

            fn poll_timeout(&self) -> Option<Instant> {
                <$machine>::poll_timeout(self)
            }
        }
    };
}

socket_machine!(RelayMachine);
socket_machine!(ConnectorMachine);
