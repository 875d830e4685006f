//! `--script FILE`: frames pushed to every gateway right after its handshake.
//!
//! JSON Lines; each non-blank line is an `inbound`, `passthrough_forward` or
//! `interrupt_inbound` frame, or a step `{"sleep_ms": N}`. The whole file is
//! checked when `serve` starts, so a typo fails at once rather than when a
//! gateway connects.

use std::path::Path;
use std::time::Duration;

use relay_core::wire::{
    DEFAULT_MAX_LINE, Direction, Forward, Frame, LineCodec, LineEvent, MessageEvent, read_json_object,
};
use relay_driver::{ConnId, Delivery, ServerError, ServerHandle};
use serde_json::Value;

use crate::lines::{JsonObject, LineSink};
use crate::stdio::Failure;

/// One line of a script.
#[derive(Debug, Clone)]
pub(crate) enum Step {
    /// Wait before the next step.
    Sleep(Duration),
    /// Push a frame; `line` is its line number in the file.
    Push { line: u64, push: Push },
}

/// A frame to push.
#[derive(Debug, Clone)]
pub(crate) enum Push {
    Inbound(Box<MessageEvent>),
    Forward(Box<Forward>),
    Interrupt { session_key: String, chat_id: String },
}

impl Push {
    pub(crate) fn frame_type(&self) -> &'static str {
        match self {
            Self::Inbound(_) => "inbound",
            Self::Forward(_) => "passthrough_forward",
            Self::Interrupt { .. } => "interrupt_inbound",
        }
    }
}

/// Reads and checks a script file.
pub(crate) fn load(path: &Path) -> Result<Vec<Step>, Failure> {
    let shown = path.display();
    let bytes = std::fs::read(path).map_err(|e| {
        Failure::Usage(format!("could not read the script {shown}: {e}; pass a readable JSON Lines file"))
    })?;
    let mut steps = Vec::new();
    let mut problem = None;
    let mut codec = LineCodec::new(DEFAULT_MAX_LINE);
    let mut on_line = |event: LineEvent<'_>| {
        if problem.is_some() {
            return;
        }
        match event {
            LineEvent::Line { number, bytes } => match parse_step(number, bytes) {
                Ok(step) => steps.push(step),
                Err(p) => problem = Some(format!("line {number}: {p}")),
            },
            LineEvent::TooLong { number, .. } => {
                problem = Some(format!("line {number}: the line is too long"))
            }
        }
    };
    codec.feed(&bytes, &mut on_line);
    if !bytes.ends_with(b"\n") {
        codec.feed(b"\n", &mut on_line);
    }
    match problem {
        Some(p) => Err(Failure::Usage(format!(
            "the script {shown} has a bad {p}; each line must be an inbound, passthrough_forward or \
             interrupt_inbound frame, or {{\"sleep_ms\": N}}"
        ))),
        None => Ok(steps),
    }
}

fn parse_step(line: u64, bytes: &[u8]) -> Result<Step, String> {
    let object = read_json_object(bytes).map_err(|e| e.to_string())?;
    if let Some(ms) = object.get("sleep_ms") {
        if object.len() != 1 {
            return Err("a sleep step has only the key `sleep_ms`".to_owned());
        }
        return match ms {
            Value::Number(n) if n.as_u64().is_some() => {
                Ok(Step::Sleep(Duration::from_millis(n.as_u64().unwrap_or_default())))
            }
            _ => Err("`sleep_ms` is not a whole number of milliseconds".to_owned()),
        };
    }
    Ok(Step::Push { line, push: parse_push(bytes)? })
}

/// An `inbound`, `passthrough_forward` or `interrupt_inbound` frame, read as
/// `relay decode --direction to-gateway` would (its own `bufferId` ignored).
pub(crate) fn parse_push(bytes: &[u8]) -> Result<Push, String> {
    Ok(match Frame::decode(bytes, Some(Direction::ToGateway)).map_err(|e| e.to_string())? {
        Frame::Inbound(f) => Push::Inbound(f.event),
        Frame::PassthroughForward(f) => Push::Forward(Box::new(f.forward)),
        Frame::InterruptInbound(f) => Push::Interrupt { session_key: f.session_key, chat_id: f.chat_id },
        other => return Err(format!("relay serve cannot push `{}` frames", other.frame_type().as_str())),
    })
}

/// Plays `steps` on connection `conn`, printing a `pushed` or `push_failed`
/// event per frame. Stops quietly when the connection is gone.
pub(crate) async fn play(handle: ServerHandle, conn: ConnId, steps: Vec<Step>, out: LineSink) {
    for step in steps {
        let (line, push) = match step {
            Step::Sleep(d) => {
                tokio::time::sleep(d).await;
                continue;
            }
            Step::Push { line, push } => (line, push),
        };
        let frame_type = push.frame_type();
        let outcome = match push {
            Push::Inbound(event) => handle.push_inbound(conn, *event).await,
            Push::Forward(forward) => handle.push_forward(conn, *forward).await,
            Push::Interrupt { session_key, chat_id } => {
                handle.push_interrupt_to(conn, &session_key, &chat_id).await
            }
        };
        let head = |event: &str| {
            JsonObject::new()
                .field("event", event)
                .field("conn", &conn)
                .field("line", &line)
                .field("type", frame_type)
        };
        let printed = match outcome {
            Ok(delivery) => {
                let (name, buffer_id) = match &delivery {
                    Delivery::Sent => ("sent", None),
                    // A push through a connection of this instance is never routed elsewhere.
                    Delivery::Buffered { buffer_id } | Delivery::Routed { buffer_id, .. } => {
                        ("buffered", Some(buffer_id))
                    }
                    Delivery::Forwarded { .. } => ("forwarded", None),
                    Delivery::Dropped => ("dropped", None),
                };
                out.json(head("pushed").field("delivery", name).opt("bufferId", buffer_id)).await
            }
            Err(ServerError::NoConnection(c)) if c == conn => return,
            Err(error) => out.json(head("push_failed").field("error", &error.to_string())).await,
        };
        if printed.is_err() {
            return;
        }
    }
}
