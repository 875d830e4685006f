//! Frames (PROTOCOL §2): one JSON object per line, discriminated by `type`.

use serde::ser::SerializeMap;
use serde_json::Value;

use super::fast;
use super::json::{Extra, FieldError, Object, Reader, Writer};
use super::node::{Node, parse_node};
use super::repair::repair_lone_surrogates;
use super::{ActionResult, Descriptor, DiagnosticKind, Forward, MessageEvent, OutboundAction};

/// Which way a frame travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Connector → gateway.
    ToGateway,
    /// Gateway → connector.
    ToConnector,
}

macro_rules! frame_types {
    ($($variant:ident => $name:literal, $dir:ident;)*) => {
        /// The `type` of a frame.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum FrameType {
            $(
                #[doc = concat!("`", $name, "`")]
                $variant,
            )*
        }

        impl FrameType {
            /// Every frame type.
            pub const ALL: &'static [FrameType] = &[$(FrameType::$variant,)*];

            /// The wire name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(FrameType::$variant => $name,)*
                }
            }

            /// Which way frames of this type travel.
            pub fn direction(self) -> Direction {
                match self {
                    $(FrameType::$variant => Direction::$dir,)*
                }
            }

            /// The type with this wire name.
            pub fn from_name(name: &str) -> Option<Self> {
                match name {
                    $($name => Some(FrameType::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

frame_types! {
    Hello => "hello", ToConnector;
    Descriptor => "descriptor", ToGateway;
    Inbound => "inbound", ToGateway;
    Outbound => "outbound", ToConnector;
    OutboundResult => "outbound_result", ToGateway;
    Interrupt => "interrupt", ToConnector;
    InterruptInbound => "interrupt_inbound", ToGateway;
    PassthroughForward => "passthrough_forward", ToGateway;
    GoingIdle => "going_idle", ToConnector;
    GoingIdleAck => "going_idle_ack", ToGateway;
    InboundAck => "inbound_ack", ToConnector;
}

impl FrameType {
    /// The type a line names in its leading `type` field, as every sender
    /// writes it (`{"type":"…"` first, no whitespace); `None` for any other
    /// line. Cheaper than a decode: for counting lines by type.
    ///
    /// It guesses the type from the name's first letter and, where names
    /// share it, from their third letter or where the name ends (the
    /// closing quote at `ends(n)`), then confirms the guess with one
    /// comparison instead of trying each name in turn.
    ///
    /// ```
    /// use relay_core::wire::FrameType;
    /// assert_eq!(FrameType::leading(br#"{"type":"inbound","event":{}}"#), Some(FrameType::Inbound));
    /// assert_eq!(FrameType::leading(br#"{"event":{},"type":"inbound"}"#), None);
    /// ```
    pub fn leading(line: &[u8]) -> Option<Self> {
        let rest = line.strip_prefix(br#"{"type":""#)?;
        let ends = |n: usize| rest.get(n) == Some(&b'"');
        let guess = match rest.first()? {
            b'h' => Self::Hello,
            b'd' => Self::Descriptor,
            b'g' if ends(10) => Self::GoingIdle,
            b'g' => Self::GoingIdleAck,
            b'i' if rest.get(2) == Some(&b'b') && ends(7) => Self::Inbound,
            b'i' if rest.get(2) == Some(&b'b') => Self::InboundAck,
            b'i' if ends(9) => Self::Interrupt,
            b'i' => Self::InterruptInbound,
            b'o' if ends(8) => Self::Outbound,
            b'o' => Self::OutboundResult,
            b'p' => Self::PassthroughForward,
            _ => return None,
        };
        let name = guess.as_str().as_bytes();
        (rest.get(..name.len()) == Some(name) && ends(name.len())).then_some(guess)
    }
}

/// `hello`: a gateway announces one identity it fronts.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Hello {
    /// Platform of the identity.
    pub platform: String,
    /// Bot id of the identity (may be `""`).
    pub bot_id: String,
    /// Slash commands to register (ext, Discord only).
    pub command_manifest: Option<Vec<Value>>,
    /// Unknown keys.
    pub extra: Extra,
}

/// `descriptor`: the connector's answer to one `hello`.
#[derive(Debug, Clone, PartialEq)]
pub struct DescriptorFrame {
    /// The capabilities.
    pub descriptor: Descriptor,
    /// Unknown keys.
    pub extra: Extra,
}

/// `inbound`: an event for the gateway, live or (with `buffer_id`) from the backlog.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Inbound {
    /// The event, boxed: it is the largest part of any frame (768 bytes),
    /// and boxed it keeps every `Frame` at 296 bytes instead of 816, moves
    /// straight into the gateway's `Event::Inbound` and the connector's
    /// `BufferedFrame::Inbound`, which hold it boxed too, and costs no
    /// allocation either of them did not make already.
    pub event: Box<MessageEvent>,
    /// Backlog entry to acknowledge with `inbound_ack`.
    pub buffer_id: Option<String>,
    /// Unknown keys.
    pub extra: Extra,
}

/// `outbound`: a request from the gateway.
#[derive(Debug, Clone, PartialEq)]
pub struct Outbound {
    /// Correlates the `outbound_result`.
    pub request_id: String,
    /// What to do.
    pub action: OutboundAction,
    /// Identity the action is for (ext); untagged goes to the first identity.
    pub platform: Option<String>,
    /// Identity the action is for (ext).
    pub bot_id: Option<String>,
    /// Unknown keys.
    pub extra: Extra,
}

/// `outbound_result`: the connector's answer to one `outbound`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OutboundResult {
    /// The request answered.
    pub request_id: String,
    /// The answer.
    pub result: ActionResult,
    /// Unknown keys.
    pub extra: Extra,
}

/// `interrupt`: the gateway asks to stop a session's turn.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Interrupt {
    /// The session.
    pub session_key: String,
    /// Why; the key is always written, `null` when absent.
    pub reason: Option<String>,
    /// Unknown keys.
    pub extra: Extra,
}

/// `interrupt_inbound`: the connector asks the gateway to stop a session's turn.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct InterruptInbound {
    /// The session.
    pub session_key: String,
    /// The chat it happened in.
    pub chat_id: String,
    /// Unknown keys.
    pub extra: Extra,
}

/// `passthrough_forward`: a webhook forwarded to the gateway (ext).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PassthroughForward {
    /// The request.
    pub forward: Forward,
    /// Backlog entry to acknowledge with `inbound_ack`.
    pub buffer_id: Option<String>,
    /// Unknown keys.
    pub extra: Extra,
}

/// `inbound_ack`: the gateway took custody of a buffered frame (ext).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct InboundAck {
    /// The backlog entry.
    pub buffer_id: String,
    /// Unknown keys.
    pub extra: Extra,
}

/// One frame of the protocol.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Frame {
    /// `hello` (G→C)
    Hello(Hello),
    /// `descriptor` (C→G)
    Descriptor(DescriptorFrame),
    /// `inbound` (C→G)
    Inbound(Inbound),
    /// `outbound` (G→C)
    Outbound(Outbound),
    /// `outbound_result` (C→G)
    OutboundResult(OutboundResult),
    /// `interrupt` (G→C)
    Interrupt(Interrupt),
    /// `interrupt_inbound` (C→G)
    InterruptInbound(InterruptInbound),
    /// `passthrough_forward` (C→G, ext)
    PassthroughForward(PassthroughForward),
    /// `going_idle` (G→C, ext); only unknown keys.
    GoingIdle(Extra),
    /// `going_idle_ack` (C→G, ext); only unknown keys.
    GoingIdleAck(Extra),
    /// `inbound_ack` (G→C, ext)
    InboundAck(InboundAck),
}

/// Why a line did not decode to a frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {detail}")]
pub struct FrameError {
    /// The diagnostic kind.
    pub kind: DiagnosticKind,
    /// The frame type, when the line got far enough to name a known one.
    pub frame_type: Option<FrameType>,
    /// Human-readable detail.
    pub detail: String,
}

impl FrameError {
    fn new(kind: DiagnosticKind, frame_type: Option<FrameType>, detail: impl Into<String>) -> Self {
        Self { kind, frame_type, detail: detail.into() }
    }
}

impl Frame {
    /// This frame's type.
    pub fn frame_type(&self) -> FrameType {
        match self {
            Self::Hello(_) => FrameType::Hello,
            Self::Descriptor(_) => FrameType::Descriptor,
            Self::Inbound(_) => FrameType::Inbound,
            Self::Outbound(_) => FrameType::Outbound,
            Self::OutboundResult(_) => FrameType::OutboundResult,
            Self::Interrupt(_) => FrameType::Interrupt,
            Self::InterruptInbound(_) => FrameType::InterruptInbound,
            Self::PassthroughForward(_) => FrameType::PassthroughForward,
            Self::GoingIdle(_) => FrameType::GoingIdle,
            Self::GoingIdleAck(_) => FrameType::GoingIdleAck,
            Self::InboundAck(_) => FrameType::InboundAck,
        }
    }

    /// Decodes one line (without its `\n`; a trailing `\r` is tolerated).
    ///
    /// With `expect`, a known frame travelling the other way is refused as
    /// [`DiagnosticKind::WrongDirection`] before its fields are read.
    ///
    /// ```
    /// use relay_core::wire::{Direction, Frame};
    /// let frame = Frame::decode(br#"{"type": "hello", "platform": "discord", "botId": "b1"}"#, None).unwrap();
    /// assert_eq!(frame.encode(), b"{\"type\":\"hello\",\"platform\":\"discord\",\"botId\":\"b1\"}\n");
    /// let err = Frame::decode(br#"{"type":"hello","platform":"x","botId":""}"#, Some(Direction::ToGateway)).unwrap_err();
    /// assert_eq!(err.kind.as_str(), "wrong_direction");
    /// ```
    pub fn decode(line: &[u8], expect: Option<Direction>) -> Result<Self, FrameError> {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        fast::decode(line, expect).map_or_else(|| Self::decode_strict(line_text(line)?, expect), Ok)
    }

    /// The reference decode, for the lines the fast one leaves: every
    /// diagnostic comes from here, and lone surrogates are repaired first.
    pub(super) fn decode_strict(text: &str, expect: Option<Direction>) -> Result<Self, FrameError> {
        let repaired = repair_lone_surrogates(text);
        let mut r = match parse_node(&repaired) {
            Ok(Node::Object(entries)) => Reader::from_entries(entries),
            Ok(_) => {
                return Err(FrameError::new(
                    DiagnosticKind::NotAnObject,
                    None,
                    "a frame must be a JSON object",
                ));
            }
            Err(e) => return Err(FrameError::new(DiagnosticKind::InvalidJson, None, e.to_string())),
        };
        let frame_type = match r.take_node("type") {
            Some(Node::Str(name)) => FrameType::from_name(&name).ok_or_else(|| {
                FrameError::new(DiagnosticKind::UnknownType, None, format!("unknown frame type {name:?}"))
            })?,
            Some(_) => {
                return Err(FrameError::new(DiagnosticKind::MissingType, None, "`type` is not a string"));
            }
            None => return Err(FrameError::new(DiagnosticKind::MissingType, None, "no `type`")),
        };
        if let Some(expected) = expect.filter(|d| *d != frame_type.direction()) {
            let detail = format!("`{}` does not travel {}", frame_type.as_str(), direction_text(expected));
            return Err(FrameError::new(DiagnosticKind::WrongDirection, Some(frame_type), detail));
        }
        Self::from_fields(frame_type, r)
            .map_err(|e| FrameError::new(DiagnosticKind::BadField, Some(frame_type), e.to_string()))
    }

    pub(super) fn from_fields(frame_type: FrameType, mut r: Reader<'_>) -> Result<Self, FieldError> {
        let frame = match frame_type {
            FrameType::Hello => Self::Hello(Hello {
                platform: r.required_string("platform")?,
                bot_id: r.required_string("botId")?,
                command_manifest: r.list("command_manifest")?,
                extra: r.finish(),
            }),
            FrameType::Descriptor => Self::Descriptor(DescriptorFrame {
                descriptor: Descriptor::from_reader(r.required_object_reader("descriptor")?)
                    .map_err(|e| e.within("descriptor"))?,
                extra: r.finish(),
            }),
            FrameType::Inbound => Self::Inbound(Inbound {
                event: Box::new(
                    MessageEvent::from_reader(r.required_object_reader("event")?)
                        .map_err(|e| e.within("event"))?,
                ),
                buffer_id: r.string("bufferId")?,
                extra: r.finish(),
            }),
            FrameType::Outbound => Self::Outbound(Outbound {
                request_id: r.required_string("requestId")?,
                action: OutboundAction::from_reader(r.required_object_reader("action")?)
                    .map_err(|e| e.within("action"))?,
                platform: r.string("platform")?,
                bot_id: r.string("botId")?,
                extra: r.finish(),
            }),
            FrameType::OutboundResult => Self::OutboundResult(OutboundResult {
                request_id: r.required_string("requestId")?,
                result: ActionResult::from_reader(r.required_object_reader("result")?)
                    .map_err(|e| e.within("result"))?,
                extra: r.finish(),
            }),
            FrameType::Interrupt => Self::Interrupt(Interrupt {
                session_key: r.required_string("session_key")?,
                reason: r.string("reason")?,
                extra: r.finish(),
            }),
            FrameType::InterruptInbound => Self::InterruptInbound(InterruptInbound {
                session_key: r.required_string("session_key")?,
                chat_id: r.required_id("chat_id")?,
                extra: r.finish(),
            }),
            FrameType::PassthroughForward => Self::PassthroughForward(PassthroughForward {
                forward: Forward::from_reader(r.required_object_reader("forward")?)
                    .map_err(|e| e.within("forward"))?,
                buffer_id: r.string("bufferId")?,
                extra: r.finish(),
            }),
            FrameType::GoingIdle => Self::GoingIdle(r.finish()),
            FrameType::GoingIdleAck => Self::GoingIdleAck(r.finish()),
            FrameType::InboundAck => {
                Self::InboundAck(InboundAck { buffer_id: r.required_string("bufferId")?, extra: r.finish() })
            }
        };
        Ok(frame)
    }

    fn write<M: SerializeMap>(&self, w: &mut Writer<M>) -> Result<(), M::Error> {
        const TYPE: &[&str] = &["type"];
        w.field("type", self.frame_type().as_str())?;
        match self {
            Self::Hello(f) => {
                w.field("platform", &f.platform)?
                    .field("botId", &f.bot_id)?
                    .opt("command_manifest", &f.command_manifest)?
                    .extra(&f.extra, &["type", "platform", "botId", "command_manifest"])?;
            }
            Self::Descriptor(f) => {
                w.field("descriptor", &f.descriptor)?.extra(&f.extra, &["type", "descriptor"])?;
            }
            Self::Inbound(f) => {
                w.field("event", &f.event)?
                    .opt("bufferId", &f.buffer_id)?
                    .extra(&f.extra, &["type", "event", "bufferId"])?;
            }
            Self::Outbound(f) => {
                w.field("requestId", &f.request_id)?
                    .field("action", &f.action)?
                    .opt("platform", &f.platform)?
                    .opt("botId", &f.bot_id)?
                    .extra(&f.extra, &["type", "requestId", "action", "platform", "botId"])?;
            }
            Self::OutboundResult(f) => {
                w.field("requestId", &f.request_id)?
                    .field("result", &f.result)?
                    .extra(&f.extra, &["type", "requestId", "result"])?;
            }
            Self::Interrupt(f) => {
                w.field("session_key", &f.session_key)?
                    .field("reason", &f.reason)?
                    .extra(&f.extra, &["type", "session_key", "reason"])?;
            }
            Self::InterruptInbound(f) => {
                w.field("session_key", &f.session_key)?
                    .field("chat_id", &f.chat_id)?
                    .extra(&f.extra, &["type", "session_key", "chat_id"])?;
            }
            Self::PassthroughForward(f) => {
                w.field("forward", &f.forward)?
                    .opt("bufferId", &f.buffer_id)?
                    .extra(&f.extra, &["type", "forward", "bufferId"])?;
            }
            Self::GoingIdle(extra) | Self::GoingIdleAck(extra) => {
                w.extra(extra, TYPE)?;
            }
            Self::InboundAck(f) => {
                w.field("bufferId", &f.buffer_id)?.extra(&f.extra, &["type", "bufferId"])?;
            }
        }
        Ok(())
    }

    /// Appends this frame as compact JSON plus `\n` to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        // Writing to a Vec cannot fail, and every wire type (including the
        // `serde_json::Value`s in `extra`) has a JSON representation.
        serde_json::to_writer(&mut *out, self).expect("wire frames always serialize");
        out.push(b'\n');
    }

    /// This frame as a compact JSON line (with its `\n`), ready for a WebSocket text message.
    pub fn encode_line(&self) -> String {
        if let Some(line) = super::encode_fast::line(self) {
            return line;
        }
        // An event is mostly its text: room for that and the rest of a typical frame.
        let text = if let Self::Inbound(f) = self { f.event.text.len() } else { 0 };
        let mut line = String::with_capacity(512 + 2 * text);
        if super::line_serializer::write(&mut line, self).is_err() {
            // `to_string` knows its output is UTF-8 and skips the validation a
            // `String::from_utf8` of our own buffer would repeat over every byte.
            line = serde_json::to_string(self).expect("wire frames always serialize");
        }
        line.push('\n');
        line
    }

    /// This frame as compact JSON plus `\n`.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        self.encode_into(&mut out);
        out
    }
}

/// Reads one line as a JSON object the way every receiver does (PROTOCOL §1):
/// a trailing `\r` is dropped, lone surrogate escapes are repaired to U+FFFD,
/// duplicate keys keep the last value; the error names the diagnostic kind.
pub fn read_json_object(line: &[u8]) -> Result<Object, FrameError> {
    let text = line_text(line)?;
    let value: Value = serde_json::from_str(&repair_lone_surrogates(text))
        .map_err(|e| FrameError::new(DiagnosticKind::InvalidJson, None, e.to_string()))?;
    match value {
        Value::Object(object) => Ok(object),
        _ => Err(FrameError::new(DiagnosticKind::NotAnObject, None, "a frame must be a JSON object")),
    }
}

/// The line without a trailing `\r`, as UTF-8 text.
fn line_text(line: &[u8]) -> Result<&str, FrameError> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    std::str::from_utf8(line).map_err(|e| FrameError::new(DiagnosticKind::InvalidUtf8, None, e.to_string()))
}

fn direction_text(d: Direction) -> &'static str {
    match d {
        Direction::ToGateway => "connector → gateway",
        Direction::ToConnector => "gateway → connector",
    }
}

impl serde::Serialize for Frame {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut w = Writer::new(s.serialize_map(None)?);
        self.write(&mut w)?;
        w.end()
    }
}
