//! The frames a backlog holds: typed, as the application pushes them, or as
//! a store keeps them (their wire line), replayed without being decoded.

use crate::wire::{Forward, Frame, Inbound, MessageEvent, PassthroughForward};

/// A frame that can wait in a backlog: the two kinds that carry a `bufferId`.
#[derive(Debug, Clone, PartialEq)]
pub enum BufferedFrame {
    /// An `inbound` event.
    Inbound(Box<MessageEvent>),
    /// A `passthrough_forward` webhook.
    Forward(Box<Forward>),
    /// Either kind as a store read it back: its wire line, checked but not
    /// decoded, so that a replay costs no decode and no encode.
    Stored(StoredFrame),
}

impl BufferedFrame {
    /// The line to send (compact JSON plus `\n`), carrying `buffer_id` when given.
    pub fn into_line(self, buffer_id: Option<String>) -> String {
        match self {
            Self::Stored(stored) => stored.into_line(buffer_id),
            Self::Inbound(event) => inbound(event, buffer_id).encode_line(),
            Self::Forward(forward) => passthrough(*forward, buffer_id).encode_line(),
        }
    }

    /// Appends the line a store keeps to `out`: the frame's wire line
    /// without a `bufferId` and without the `\n`.
    pub fn encode_into(self, out: &mut Vec<u8>) {
        let frame = match self {
            Self::Stored(stored) => return out.extend_from_slice(stored.line.as_bytes()),
            Self::Inbound(event) => inbound(event, None),
            Self::Forward(forward) => passthrough(*forward, None),
        };
        frame.encode_into(out);
        out.pop();
    }

    /// The typed frame: a stored one decoded, the others as they are.
    ///
    /// # Errors
    ///
    /// Why a stored line does not decode as an `inbound` or
    /// `passthrough_forward` frame.
    pub fn decoded(self) -> Result<Self, String> {
        let Self::Stored(stored) = self else { return Ok(self) };
        match Frame::decode(stored.line.as_bytes(), None) {
            Ok(Frame::Inbound(inbound)) => Ok(Self::Inbound(inbound.event)),
            Ok(Frame::PassthroughForward(forward)) => Ok(Self::Forward(Box::new(forward.forward))),
            Ok(other) => Err(format!("`{}` frames are never buffered", other.frame_type().as_str())),
            Err(e) => Err(e.to_string()),
        }
    }
}

fn inbound(event: Box<MessageEvent>, buffer_id: Option<String>) -> Frame {
    Frame::Inbound(Inbound { event, buffer_id, extra: Default::default() })
}

fn passthrough(forward: Forward, buffer_id: Option<String>) -> Frame {
    Frame::PassthroughForward(PassthroughForward { forward, buffer_id, extra: Default::default() })
}

/// The wire line of an `inbound` or `passthrough_forward` frame as a store
/// keeps it (what [`BufferedFrame::encode_into`] wrote): compact JSON with
/// `type` first, no `bufferId`, no `\n`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFrame {
    line: String,
}

impl StoredFrame {
    /// Checks a line a store read back: UTF-8, a JSON object, of one of the
    /// two buffered types. The check is syntax only (a full decode is what
    /// keeping the line saves); a line with a wrong field is the gateway's to
    /// skip and report, like any line it receives.
    ///
    /// # Errors
    ///
    /// What is wrong with the line, as a sentence.
    pub fn from_line(line: &[u8]) -> Result<Self, String> {
        let line = std::str::from_utf8(line).map_err(|e| format!("the line is not UTF-8: {e}"))?;
        let buffered = line.starts_with(r#"{"type":"inbound","#)
            || line.starts_with(r#"{"type":"passthrough_forward","#);
        if !buffered || !line.ends_with('}') {
            return Err("the line is not an inbound or passthrough_forward frame".to_owned());
        }
        serde_json::from_str::<serde::de::IgnoredAny>(line)
            .map_err(|e| format!("the line is not JSON: {e}"))?;
        Ok(Self { line: line.to_owned() })
    }

    /// The line.
    pub fn as_str(&self) -> &str {
        &self.line
    }

    /// The line to send. A `bufferId` goes last: should the stored line
    /// carry one of its own, the last of duplicate keys wins (PROTOCOL §1).
    fn into_line(self, buffer_id: Option<String>) -> String {
        let mut line = self.line;
        if let Some(id) = buffer_id {
            line.pop();
            line.push_str(",\"bufferId\":");
            // A string always serializes.
            line.push_str(&serde_json::to_string(&id).unwrap_or_default());
            line.push('}');
        }
        line.push('\n');
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Platform, SessionSource};

    fn event(text: &str) -> BufferedFrame {
        let source = SessionSource::new(Platform::Telegram, "c1", "dm");
        BufferedFrame::Inbound(Box::new(MessageEvent::text(source, text)))
    }

    fn stored(frame: BufferedFrame) -> StoredFrame {
        let mut line = Vec::new();
        frame.encode_into(&mut line);
        StoredFrame::from_line(&line).unwrap()
    }

    #[test]
    fn a_stored_frame_is_sent_as_the_typed_one_would_be() {
        for id in [None, Some("7".to_owned()), Some("1733500000000-0".to_owned())] {
            let typed = event("hi ☀️ \"quoted\"").into_line(id.clone());
            assert_eq!(BufferedFrame::Stored(stored(event("hi ☀️ \"quoted\""))).into_line(id), typed);
        }
        let forward =
            BufferedFrame::Forward(Box::new(Forward { body: vec![0, 255, 10], ..Forward::default() }));
        let line = BufferedFrame::Stored(stored(forward.clone())).into_line(Some("2".into()));
        assert_eq!(line, forward.into_line(Some("2".into())));
        assert!(
            line.starts_with(r#"{"type":"passthrough_forward""#) && line.ends_with(",\"bufferId\":\"2\"}\n")
        );
    }

    #[test]
    fn a_stored_frame_decodes_to_the_typed_one() {
        assert_eq!(BufferedFrame::Stored(stored(event("x"))).decoded(), Ok(event("x")));
        assert_eq!(event("y").decoded(), Ok(event("y")));
    }

    #[test]
    fn lines_that_are_not_buffered_frames_are_refused() {
        for line in [
            &b"{\"type\":\"inbound_ack\",\"bufferId\":\"1\"}"[..],
            b"{\"type\":\"inbound\",\"event\":",
            b"{\"type\":\"inbound\",\"event\":{}",
            b"{\"type\":\"inbound\",\"event\":{}}}",
            b"{\"type\":\"inbound\",\"event\":{\"text\":\"\xff\"}}",
            b"",
        ] {
            assert!(StoredFrame::from_line(line).is_err(), "{}", String::from_utf8_lossy(line));
        }
    }

    #[test]
    fn a_buffer_id_of_the_stored_line_is_overridden_by_the_one_sent() {
        let line = br#"{"type":"inbound","event":{"text":"t","source":{"platform":"telegram","chat_id":"c"}},"bufferId":"old"}"#;
        let sent = BufferedFrame::Stored(StoredFrame::from_line(line).unwrap()).into_line(Some("new".into()));
        let Ok(Frame::Inbound(inbound)) = Frame::decode(sent.trim_end().as_bytes(), None) else {
            panic!("{sent}")
        };
        assert_eq!(inbound.buffer_id.as_deref(), Some("new"));
    }
}
