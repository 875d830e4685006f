//! `--record FILE`: one JSON line per frame received from a gateway,
//! `{"conn": <n>, "frame": <frame>}`, and `{"conn": <n>, "diagnostic":
//! {"kind", "line", "detail"}}` per skipped line.
//!
//! The driver hands the application interpreted events, not the lines it
//! read, so frames are rebuilt from them: as `relay decode` would print
//! them (defaults filled), minus keys the protocol does not know, and every
//! `outbound` names the identity it was attributed to (`platform`/`botId`,
//! also when the gateway left it untagged). Frames the connector consumes
//! without telling the application do not occur gateway → connector.

use relay_core::wire::{Frame, Hello, InboundAck, Interrupt, Outbound};
use relay_driver::ServerEvent;

use crate::lines::JsonObject;

/// The record line of `event`, when it stands for a received frame or a skipped line.
pub(crate) fn record_line(event: &ServerEvent) -> Option<JsonObject> {
    let (conn, frame) = match event {
        ServerEvent::Hello { conn, identity, command_manifest } => {
            let hello = Hello {
                platform: identity.platform.clone(),
                bot_id: identity.bot_id.clone(),
                command_manifest: command_manifest.clone(),
                ..Hello::default()
            };
            (conn, Frame::Hello(hello))
        }
        ServerEvent::Request { conn, request_id, identity, action } => {
            let outbound = Outbound {
                request_id: request_id.clone(),
                action: (**action).clone(),
                platform: Some(identity.platform.clone()),
                bot_id: Some(identity.bot_id.clone()),
                extra: Default::default(),
            };
            (conn, Frame::Outbound(outbound))
        }
        ServerEvent::Interrupt { conn, session_key, reason } => {
            let interrupt = Interrupt {
                session_key: session_key.clone(),
                reason: reason.clone(),
                ..Interrupt::default()
            };
            (conn, Frame::Interrupt(interrupt))
        }
        ServerEvent::InboundAck { conn, buffer_id } => {
            (conn, Frame::InboundAck(InboundAck { buffer_id: buffer_id.clone(), ..InboundAck::default() }))
        }
        ServerEvent::GoingIdle { conn } => (conn, Frame::GoingIdle(Default::default())),
        ServerEvent::Diagnostic { conn, diagnostic } => {
            let inner = JsonObject::new()
                .field("kind", diagnostic.kind.as_str())
                .field("line", &diagnostic.line)
                .field("detail", &diagnostic.detail);
            return Some(JsonObject::new().field("conn", conn).object("diagnostic", inner));
        }
        _ => return None,
    };
    Some(JsonObject::new().field("conn", conn).field("frame", &frame))
}
