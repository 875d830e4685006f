//! The two replays: a gateway machine or a connector machine fed the
//! records of one connection at their times, and what each did.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::time::Instant;

use relay_core::SocketMachine;
use relay_core::connector::{self, ConnectorConfig, ConnectorMachine, StoreRequest};
use relay_core::gateway::{self, GatewayConfig, OutboundRequest, RelayMachine, RequestId};
use relay_core::wire::{Direction, Frame};
use serde_json::Value;

use super::Side;
use super::recording::{Dir, Record, Timed};
use crate::dial::output;
use crate::lines::JsonObject;

/// The side the recording says recorded the connection.
pub(super) fn recorded_side(records: &[Timed]) -> Option<Side> {
    records.iter().find_map(|timed| match &timed.record {
        Record::Open { side, .. } if side == "gateway" => Some(Side::Gateway),
        Record::Open { side, .. } if side == "connector" => Some(Side::Connector),
        _ => None,
    })
}

/// Runs `apply` for every record at its time, firing the machine's timers
/// in between, and collects what `drain` makes of its actions, each line
/// with its time in seconds.
fn replay<M: SocketMachine>(
    machine: &mut M,
    base: Instant,
    records: &[Timed],
    mut apply: impl FnMut(&mut M, Instant, &Record),
    mut drain: impl FnMut(&mut M, Instant) -> Vec<JsonObject>,
) -> Vec<JsonObject> {
    let mut lines = Vec::new();
    let mut collect = |machine: &mut M, now: Instant, lines: &mut Vec<JsonObject>| {
        let t = now.saturating_duration_since(base).as_secs_f64();
        lines.extend(drain(machine, now).into_iter().map(|line| line.field("t", &t)));
    };
    collect(machine, base, &mut lines);
    for timed in records {
        let now = base + timed.at;
        while let Some(deadline) = machine.poll_timeout().filter(|deadline| *deadline <= now) {
            machine.handle_timeout(deadline);
            collect(machine, deadline, &mut lines);
        }
        apply(machine, now, &timed.record);
        collect(machine, now, &mut lines);
    }
    lines
}

/// What the peer sent, for either machine.
fn feed(machine: &mut impl SocketMachine, now: Instant, record: &Record) {
    match record {
        Record::Data(Dir::In, bytes) => machine.handle_input(now, bytes),
        Record::Keepalive(Dir::In) => machine.handle_keepalive(now),
        Record::Close(Dir::In, frame) => machine.handle_transport_closed(now, frame.clone()),
        _ => {}
    }
}

/// The frames of a message the recording side sent.
fn sent_frames(bytes: &[u8], direction: Direction) -> impl Iterator<Item = Frame> + '_ {
    bytes
        .split(|&b| b == b'\n')
        .filter(|line| !line.is_empty())
        .filter_map(move |line| Frame::decode(line, Some(direction)).ok())
}

fn sent(line: &str) -> JsonObject {
    let frame: Value = serde_json::from_str(line.trim_end()).unwrap_or(Value::Null);
    JsonObject::new().field("send", &frame)
}

/// The gateway replay: the recorded identities and seed, the
/// application's commands rebuilt from the frames it sent.
pub(super) fn gateway(records: &[Timed]) -> Vec<JsonObject> {
    let mut config = GatewayConfig::default();
    for timed in records {
        if let Record::Open { seed, identities, .. } = &timed.record {
            config.seed = seed.unwrap_or(config.seed);
            if !identities.is_empty() {
                config.identities = identities.clone();
            }
        }
    }
    let base = Instant::now();
    let mut machine = RelayMachine::new(config, base);
    // Each request's number, in the order they were made, for its result
    // line (`dial` numbers them by stdin line instead).
    let numbers: RefCell<BTreeMap<RequestId, u64>> = RefCell::new(BTreeMap::new());
    let apply = |machine: &mut RelayMachine, now: Instant, record: &Record| match record {
        Record::Data(Dir::Out, bytes) => {
            for frame in sent_frames(bytes, Direction::ToConnector) {
                match frame {
                    Frame::Outbound(outbound) => {
                        let identity = outbound
                            .platform
                            .map(|p| gateway::Identity::new(p, outbound.bot_id.unwrap_or_default()));
                        let request = OutboundRequest { action: outbound.action, identity };
                        if let Ok(id) = machine.request(now, request) {
                            let mut numbers = numbers.borrow_mut();
                            let number = numbers.len() as u64 + 1;
                            numbers.insert(id, number);
                        }
                    }
                    Frame::Interrupt(interrupt) => {
                        let _ = machine.interrupt(now, &interrupt.session_key, interrupt.reason.as_deref());
                    }
                    Frame::InboundAck(ack) => {
                        let _ = machine.ack(now, &ack.buffer_id);
                    }
                    Frame::GoingIdle(_) => {
                        let _ = machine.go_idle(now);
                    }
                    _ => {}
                }
            }
        }
        Record::Close(Dir::Out, _) => {
            let _ = machine.close(now);
        }
        other => feed(machine, now, other),
    };
    let drain = |machine: &mut RelayMachine, _now: Instant| {
        let number = |id: &RequestId| numbers.borrow().get(id).copied().unwrap_or_default();
        let mut lines = Vec::new();
        while let Some(action) = machine.poll_action() {
            match action {
                gateway::Action::SendFrame(line) => lines.push(sent(&line)),
                gateway::Action::Deliver(event) => lines.extend(gateway_event(event)),
                gateway::Action::Resolve { id, result } => {
                    lines.push(output::request_result(number(&id), Ok(result)))
                }
                gateway::Action::Fail { id, error } => {
                    lines.push(output::request_result(number(&id), Err(error)))
                }
                gateway::Action::Closed(reason) => {
                    lines.push(JsonObject::new().field("closed", reason.name()))
                }
                _ => {}
            }
        }
        lines
    };
    replay(&mut machine, base, records, apply, drain)
}

fn gateway_event(event: gateway::Event) -> Option<JsonObject> {
    Some(match event {
        gateway::Event::Ready { identity, descriptor }
        | gateway::Event::Descriptor { identity, descriptor } => output::descriptor(&identity, &descriptor),
        gateway::Event::Inbound { event, buffer_id } => output::inbound(&event, buffer_id.as_ref()),
        gateway::Event::Passthrough { forward, buffer_id } => {
            output::passthrough(&forward, buffer_id.as_ref()).0
        }
        gateway::Event::Interrupt { session_key, chat_id } => output::interrupt(&session_key, &chat_id),
        gateway::Event::Diagnostic(diagnostic) => output::diagnostic(&diagnostic),
        gateway::Event::IdleAcknowledged => JsonObject::new().field("idle", "acknowledged"),
        _ => return None,
    })
}

/// The connector replay: the application's answers rebuilt from the
/// frames it sent; the backlog store reads empty.
pub(super) fn connector(records: &[Timed]) -> Vec<JsonObject> {
    let base = Instant::now();
    let mut machine = ConnectorMachine::new(ConnectorConfig::default(), None, base, 0);
    let apply = |machine: &mut ConnectorMachine, now: Instant, record: &Record| match record {
        Record::Data(Dir::Out, bytes) => {
            for frame in sent_frames(bytes, Direction::ToGateway) {
                let _ = match frame {
                    Frame::Descriptor(descriptor) => {
                        machine.answer_hello(now, descriptor.descriptor).map(drop)
                    }
                    Frame::OutboundResult(result) => machine.respond(now, &result.request_id, result.result),
                    Frame::Inbound(inbound) => {
                        machine.push_inbound(now, *inbound.event, inbound.buffer_id).map(drop)
                    }
                    Frame::PassthroughForward(forward) => {
                        machine.push_forward(now, forward.forward, forward.buffer_id).map(drop)
                    }
                    _ => Ok(()),
                };
            }
        }
        Record::Close(Dir::Out, _) => {
            let _ = machine.close(now);
        }
        other => feed(machine, now, other),
    };
    let drain = |machine: &mut ConnectorMachine, now: Instant| {
        let mut lines = Vec::new();
        while let Some(action) = machine.poll_action() {
            match action {
                connector::Action::SendFrame(line) => lines.push(sent(&line)),
                connector::Action::Deliver(event) => {
                    lines.push(JsonObject::new().field("event", &format!("{event:?}")))
                }
                connector::Action::Store(StoreRequest::Read { .. }) => {
                    machine.handle_backlog_read(now, Ok(Vec::new()))
                }
                connector::Action::Closed(reason) => {
                    lines.push(JsonObject::new().field("closed", reason.name()))
                }
                _ => {}
            }
        }
        lines
    };
    replay(&mut machine, base, records, apply, drain)
}
