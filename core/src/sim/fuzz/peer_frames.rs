//! Connector → gateway lines for `gateway_ops`: valid frames with fuzzed ids
//! and fields, broken descriptors, and garbage.

use arbitrary::Arbitrary;
use base64::Engine as _;
use serde_json::{Map, Value, json};

use super::python::python_json;
use crate::gateway::RequestId;
use crate::wire::{ActionResult, Descriptor};

/// The descriptor's required fields (PROTOCOL §3), for breaking one on purpose.
const REQUIRED: [&str; 9] = [
    "contract_version",
    "platform",
    "label",
    "max_message_length",
    "supports_draft_streaming",
    "supports_edit",
    "supports_threads",
    "markdown_dialect",
    "len_unit",
];

/// Extension ops a fuzzed descriptor may list.
const EXT_OPS: [&str; 6] = ["react", "draft", "send_media", "thread_create", "prompt", "custom"];

/// One line from the connector.
#[derive(Debug, Arbitrary)]
pub(super) enum PeerFrame {
    Descriptor(FuzzDescriptor),
    Result {
        target: Target,
        result: FuzzResult,
    },
    Inbound {
        text: String,
        chat_id: String,
        buffer_id: Option<String>,
    },
    Forward {
        path: String,
        body: Vec<u8>,
        buffer_id: Option<String>,
    },
    InterruptInbound {
        session_key: String,
        chat_id: String,
    },
    GoingIdleAck,
    /// Any bytes (newlines become spaces) as one line.
    Garbage(Vec<u8>),
}

/// Which request an `outbound_result` names.
#[derive(Debug, Arbitrary)]
pub(super) enum Target {
    /// One handed out so far (pending or already settled), by position.
    Issued(u8),
    /// A well-formed id nobody handed out (if the fuzzer can guess one, fine).
    Random(u128),
    /// Any text.
    Text(String),
}

/// The fields of a fuzzed result.
#[derive(Debug, Arbitrary)]
pub(super) struct FuzzResult {
    success: bool,
    message_id: Option<String>,
    error: Option<String>,
    code: Option<String>,
}

/// A descriptor, well-formed or broken in one way.
#[derive(Debug, Arbitrary)]
pub(super) struct FuzzDescriptor {
    shape: Shape,
    /// Bit mask over [`EXT_OPS`].
    ops: u8,
    draft_streaming: bool,
    newer_contract: bool,
}

#[derive(Debug, Arbitrary)]
enum Shape {
    Valid,
    Missing(u8),
    Mistyped(u8),
    NotAnObject,
}

impl PeerFrame {
    /// The line, with its `\n`; `issued` resolves [`Target::Issued`].
    pub(super) fn line(&self, issued: &[RequestId], python: bool) -> Vec<u8> {
        let value = match self {
            Self::Garbage(bytes) => {
                let mut line: Vec<u8> = bytes.iter().map(|&b| if b == b'\n' { b' ' } else { b }).collect();
                line.push(b'\n');
                return line;
            }
            Self::Descriptor(d) => json!({"type": "descriptor", "descriptor": d.value()}),
            Self::Result { target, result } => {
                let request_id = match target {
                    Target::Issued(i) if !issued.is_empty() => {
                        issued[usize::from(*i) % issued.len()].to_string()
                    }
                    Target::Issued(i) => i.to_string(),
                    Target::Random(n) => format!("{n:032x}"),
                    Target::Text(text) => text.clone(),
                };
                json!({"type": "outbound_result", "requestId": request_id, "result": result.value()})
            }
            Self::Inbound { text, chat_id, buffer_id } => {
                let event = json!({"text": text, "source": {"platform": "telegram", "chat_id": chat_id}});
                with_buffer(json!({"type": "inbound", "event": event}), buffer_id)
            }
            Self::Forward { path, body, buffer_id } => {
                let body = base64::engine::general_purpose::STANDARD.encode(body);
                let forward = json!({"platform": "slack", "botId": "b", "method": "POST", "path": path,
                                     "headers": [["content-type", "application/json"]], "bodyB64": body});
                with_buffer(json!({"type": "passthrough_forward", "forward": forward}), buffer_id)
            }
            Self::InterruptInbound { session_key, chat_id } => {
                json!({"type": "interrupt_inbound", "session_key": session_key, "chat_id": chat_id})
            }
            Self::GoingIdleAck => json!({"type": "going_idle_ack"}),
        };
        let mut line = if python { python_json(&value) } else { value.to_string() };
        line.push('\n');
        line.into_bytes()
    }
}

fn with_buffer(mut frame: Value, buffer_id: &Option<String>) -> Value {
    if let (Some(id), Value::Object(fields)) = (buffer_id, &mut frame) {
        fields.insert("bufferId".to_owned(), id.clone().into());
    }
    frame
}

impl FuzzResult {
    fn value(&self) -> Value {
        let result = ActionResult {
            success: self.success,
            message_id: self.message_id.clone(),
            error: self.error.clone(),
            code: self.code.clone(),
            extra: Map::new(),
        };
        serde_json::to_value(result).unwrap_or(Value::Null)
    }
}

impl FuzzDescriptor {
    fn value(&self) -> Value {
        let mut descriptor = Descriptor::new("telegram", "Telegram");
        descriptor.supports_draft_streaming = self.draft_streaming;
        descriptor.contract_version = if self.newer_contract { 2 } else { 1 };
        descriptor.supported_ops = EXT_OPS
            .iter()
            .enumerate()
            .filter(|(i, _)| self.ops & (1 << i) != 0)
            .map(|(_, op)| (*op).to_owned())
            .collect();
        let mut value = serde_json::to_value(descriptor).unwrap_or(Value::Null);
        let Value::Object(fields) = &mut value else { return value };
        match self.shape {
            Shape::Valid => {}
            Shape::Missing(i) => {
                fields.remove(REQUIRED[usize::from(i) % REQUIRED.len()]);
            }
            Shape::Mistyped(i) => {
                let key = REQUIRED[usize::from(i) % REQUIRED.len()];
                let wrong = if fields.get(key).is_some_and(Value::is_string) { json!(5) } else { json!("x") };
                fields.insert(key.to_owned(), wrong);
            }
            Shape::NotAnObject => return json!([1]),
        }
        value
    }
}
