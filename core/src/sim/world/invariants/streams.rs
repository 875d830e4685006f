//! Frame streams: on one connection, what one side's application receives
//! is a prefix of what the other side's machine sent, in order — a drop may
//! cut the tail, never a frame in the middle, and nothing arrives twice or
//! out of order. The lines each machine hands out are decoded here, which
//! also feeds the request and replay records, and checks that nothing goes
//! out live after `going_idle_ack`.

use super::Ledger;
use crate::sim::world::network::ConnId;
use crate::wire::{Direction, Frame};

/// Which way a stream runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Dir {
    ToConnector,
    ToGateway,
}

/// What one machine sent on one connection, and how much of it the other
/// side's application got so far.
#[derive(Debug, Default)]
pub(super) struct Stream {
    sent: Vec<String>,
    received: usize,
}

/// How a stream item is named: the same text on both ends.
pub(crate) fn stream_item(kind: &str, id: &str, buffer_id: Option<&str>) -> String {
    match buffer_id {
        Some(buffer_id) => format!("{kind} {id} bufferId {buffer_id}"),
        None => format!("{kind} {id}"),
    }
}

impl Ledger {
    /// A line the gateway machine on `conn` handed out for sending.
    pub(crate) fn gateway_sent(&mut self, conn: ConnId, line: &str) {
        let frame = Frame::decode(line.trim_end().as_bytes(), Some(Direction::ToConnector))
            .unwrap_or_else(|e| panic!("gateway on {conn} sent a frame that does not decode: {e}: {line}"));
        let sent = match frame {
            Frame::Outbound(outbound) => {
                self.request_left(conn, &outbound.request_id);
                stream_item("request", &outbound.request_id, None)
            }
            Frame::Interrupt(interrupt) => {
                stream_item("interrupt", &interrupt.reason.unwrap_or_default(), None)
            }
            Frame::InboundAck(ack) => stream_item("ack", &ack.buffer_id, None),
            _ => return,
        };
        self.stream_sent(conn, Dir::ToConnector, sent);
    }

    /// A line the connector machine on `conn` handed out for sending; a
    /// replay sends each entry at most once per connection (PROTOCOL §8:
    /// acks only remove, appends only add at the end, so a replay only
    /// moves forward). Returns the entry id of a replayed frame.
    pub(crate) fn connector_sent(&mut self, conn: ConnId, line: &str) -> Option<String> {
        if line.starts_with("{\"type\":\"going_idle_ack\"") {
            self.idle_acked.insert(conn);
            return None;
        }
        let interesting =
            ["{\"type\":\"inbound\"", "{\"type\":\"passthrough_forward\"", "{\"type\":\"interrupt_inbound\""];
        if !interesting.iter().any(|prefix| line.starts_with(prefix)) {
            return None;
        }
        let frame = Frame::decode(line.trim_end().as_bytes(), Some(Direction::ToGateway))
            .unwrap_or_else(|e| panic!("connector on {conn} sent a frame that does not decode: {e}: {line}"));
        let (sent, buffer_id) = match frame {
            Frame::Inbound(f) => {
                let key = super::event_key(&f.event).unwrap_or_default();
                (stream_item("inbound", &key, f.buffer_id.as_deref()), f.buffer_id)
            }
            Frame::PassthroughForward(f) => {
                (stream_item("forward", &super::forward_key(&f.forward), f.buffer_id.as_deref()), f.buffer_id)
            }
            Frame::InterruptInbound(f) => {
                (stream_item("interrupt", &format!("{} {}", f.session_key, f.chat_id), None), None)
            }
            _ => return None,
        };
        // PROTOCOL §8: after going_idle_ack, nothing live for that gateway.
        assert!(
            buffer_id.is_some() || !self.idle_acked.contains(&conn),
            "connector {conn} delivered live after its going_idle_ack: {sent}"
        );
        if let Some(buffer_id) = &buffer_id {
            self.bump("backlog entries replayed");
            let first = self.replayed.insert((conn, buffer_id.clone()));
            assert!(first, "connector {conn} replayed entry {buffer_id} twice on the same connection");
        }
        self.stream_sent(conn, Dir::ToGateway, sent);
        buffer_id
    }

    fn stream_sent(&mut self, conn: ConnId, dir: Dir, item: String) {
        self.streams.entry((conn, dir)).or_default().sent.push(item);
    }

    /// The application at the end `dir` points to got `item` on `conn`.
    pub(crate) fn stream_received(&mut self, conn: ConnId, dir: Dir, item: &str) {
        let stream = self.streams.entry((conn, dir)).or_default();
        let Some(expected) = stream.sent.get(stream.received) else {
            panic!("{dir:?} on {conn}: received `{item}`, but nothing more was sent")
        };
        assert_eq!(
            expected, item,
            "{dir:?} on {conn}: frame #{} received out of turn (lost, repeated or reordered within the connection)",
            stream.received
        );
        stream.received += 1;
    }
}
