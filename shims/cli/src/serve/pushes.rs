//! Pushes on stdin: each line `{"to": <target>, "frame": <frame>}` pushes a
//! frame to a gateway, wherever it is — live when it is connected and live,
//! into its backlog otherwise — and gets exactly one event line once the
//! outcome is certain (`buffered` means durable). Lines are routed in input
//! order and their outcomes printed in that order; many may be in flight at
//! once, so the store commits pushes that arrive together with one sync.

use std::future::Future;
use std::pin::Pin;

use futures::StreamExt as _;
use futures::stream::FuturesOrdered;
use relay_core::connector::{BacklogKey, BufferedFrame};
use relay_core::gateway::Identity;
use relay_core::wire::read_json_object;
use relay_driver::{Delivery, ServerError, ServerHandle};
use serde_json::Value;

use super::script::{Push, parse_push};
use crate::lines::{JsonObject, LineSink};
use crate::stdin_lines::{self, Input};
use crate::stdio::Failure;

/// Pushes in flight before reading stdin waits for the oldest.
const MAX_IN_FLIGHT: usize = 4096;

type Outcome = Pin<Box<dyn Future<Output = JsonObject> + Send>>;

/// Reads pushes from stdin until it ends, printing one line per push.
/// Returns when stdin ended and every push has its line (`serve` goes on).
pub(crate) async fn run(handle: ServerHandle, out: LineSink) -> Result<(), Failure> {
    let mut stdin = stdin_lines::spawn_reader();
    let mut in_flight: FuturesOrdered<Outcome> = FuturesOrdered::new();
    loop {
        let input = tokio::select! {
            input = stdin.recv(), if in_flight.len() < MAX_IN_FLIGHT => input,
            Some(line) = in_flight.next() => {
                out.json(line).await?;
                continue;
            }
        };
        match input {
            Some(Input::Failed(e)) => return Err(Failure::Read(e)),
            Some(input) => in_flight.extend(accept(&handle, input)),
            None => break,
        }
    }
    while let Some(line) = in_flight.next().await {
        out.json(line).await?;
    }
    Ok(())
}

/// Routes one stdin line now (so the order of lines is the order of
/// pushes) and returns the future of its event line; `None` for a blank line.
fn accept(handle: &ServerHandle, input: Input) -> Option<Outcome> {
    let (line, bytes) = match input {
        Input::Line { number, bytes } => (number, bytes),
        Input::TooLong { number, len } => {
            return Some(ready(input_error(number, &format!("the line of {len} bytes is too long"))));
        }
        Input::Failed(_) => return None,
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    let (to, key, push) = match parse(&bytes) {
        Ok(parsed) => parsed,
        Err(problem) => return Some(ready(input_error(line, &problem))),
    };
    let frame_type = push.frame_type();
    let head =
        move |event: &str| JsonObject::new().field("event", event).field("line", &line).field("to", &to);
    let frame = match push {
        Push::Inbound(event) => BufferedFrame::Inbound(event),
        Push::Forward(forward) => BufferedFrame::Forward(forward),
        Push::Interrupt { session_key, chat_id } => {
            let handle = handle.clone();
            return Some(Box::pin(async move {
                let outcome = handle.push_interrupt_for(&key, &session_key, &chat_id).await;
                report(head, frame_type, outcome)
            }));
        }
    };
    let pushed = handle.push(&key, frame);
    Some(Box::pin(async move { report(head, frame_type, pushed.await) }))
}

fn report(
    head: impl Fn(&str) -> JsonObject,
    frame_type: &str,
    outcome: Result<Delivery, ServerError>,
) -> JsonObject {
    match outcome {
        Ok(Delivery::Sent) => head("pushed").field("type", frame_type).field("delivery", "sent"),
        Ok(Delivery::Buffered { buffer_id }) => head("pushed")
            .field("type", frame_type)
            .field("delivery", "buffered")
            .field("bufferId", &buffer_id),
        Ok(Delivery::Routed { instance, buffer_id }) => head("pushed")
            .field("type", frame_type)
            .field("delivery", "routed")
            .field("instance", &instance)
            .field("bufferId", &buffer_id),
        Ok(Delivery::Forwarded { instance }) => head("pushed")
            .field("type", frame_type)
            .field("delivery", "forwarded")
            .field("instance", &instance),
        Ok(Delivery::Dropped) => {
            head("push_failed").field("error", "the gateway is idle, and interrupts are never buffered")
        }
        Err(error) => head("push_failed").field("error", &error.to_string()),
    }
}

fn ready(line: JsonObject) -> Outcome {
    Box::pin(std::future::ready(line))
}

fn input_error(line: u64, problem: &str) -> JsonObject {
    JsonObject::new().field("event", "input_error").field("line", &line).field("error", problem)
}

/// `{"to": <target>, "frame": <frame>}` → the target as given, its backlog key, the push.
fn parse(bytes: &[u8]) -> Result<(Value, BacklogKey, Push), String> {
    let object = read_json_object(bytes).map_err(|e| e.to_string())?;
    let (Some(to), Some(frame)) = (object.get("to"), object.get("frame")) else {
        return Err("a push line is {\"to\": <target>, \"frame\": <frame>}".to_owned());
    };
    let key = target(to)?;
    let frame = serde_json::to_vec(frame).map_err(|e| e.to_string())?;
    let push = parse_push(&frame)?;
    Ok((to.clone(), key, push))
}

/// `{"gateway_id": "…"}` or `{"platform": "…", "botId": "…"}`.
fn target(to: &Value) -> Result<BacklogKey, String> {
    let text = |key: &str| to.get(key).and_then(Value::as_str);
    let fields = to.as_object().map_or(0, serde_json::Map::len);
    match (text("gateway_id"), text("platform"), text("botId")) {
        (Some(id), None, None) if fields == 1 => Ok(BacklogKey::Gateway(id.to_owned())),
        (None, Some(platform), Some(bot_id)) if fields == 2 => {
            Ok(BacklogKey::Identity(Identity::new(platform, bot_id)))
        }
        _ => Err("`to` is {\"gateway_id\": \"…\"} or {\"platform\": \"…\", \"botId\": \"…\"}".to_owned()),
    }
}
