//! The wire model (PROTOCOL §1–§7): frames, their payloads, and the line codec.
//!
//! Decoding yields the *interpreted* view (defaults filled, fallbacks applied,
//! unknown enum values mapped); keys a type does not know are kept in its
//! `extra` map and written back on encode, so a tool built on this crate can
//! relay what it does not understand. Encoding writes compact UTF-8 JSON, one
//! object per line.

mod action;
mod codec;
mod descriptor;
mod diagnostic;
mod encode_fast;
mod event;
mod fast;
mod forward;
mod frame;
mod json;
mod line_serializer;
mod node;
mod ops;
mod ops_ext;
mod platform;
mod repair;
mod result;
mod scan;
mod source;

pub use action::{OutboundAction, RawAction};
pub use codec::{DEFAULT_MAX_LINE, LineCodec, LineEvent};
pub use descriptor::{ALWAYS_ALLOWED_OP, CONTRACT_VERSION, Descriptor, LEGACY_OPS, LenUnit};
pub use diagnostic::{Diagnostic, DiagnosticKind};
pub use event::{ContextItem, Media, MessageEvent, MessageType, PromptResponse, ReplyTo};
#[cfg(feature = "sim")]
pub(crate) use fast::check_against_reference;
pub use forward::Forward;
pub use frame::{
    DescriptorFrame, Direction, Frame, FrameError, FrameType, Hello, Inbound, InboundAck, Interrupt,
    InterruptInbound, Outbound, OutboundResult, PassthroughForward, read_json_object,
};
pub use json::{Extra, FieldError, Object};
pub use ops::{EditMessage, FollowUp, GetChatInfo, SendMessage, Typing};
pub use ops_ext::{
    Draft, MediaKind, Prompt, PromptKind, PromptOption, React, SendMedia, ThreadCreate, ThreadRename,
};
pub use platform::Platform;
pub use result::{ActionResult, ChatInfo};
pub use source::SessionSource;
