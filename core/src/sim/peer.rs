//! A scriptable in-memory connector for gateway tests: it answers hellos,
//! answers or holds requests, and lets a test push any bytes.

pub use crate::connector::{descriptor_for, echo_result};
use crate::wire::{ActionResult, Direction, Frame, LineCodec, LineEvent, OutboundAction, OutboundResult};

/// How the scripted connector answers `outbound` frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyMode {
    /// Answer at once: `{"success":true,"message_id":"srv-<op>"}` (chat info for `get_chat_info`).
    Echo,
    /// Keep requests until the test answers them.
    Hold,
    /// Never answer.
    Silent,
}

/// A connector that follows a script instead of an application.
#[derive(Debug)]
pub struct ScriptedConnector {
    codec: LineCodec,
    auto_handshake: bool,
    reply: ReplyMode,
    received: Vec<Frame>,
    held: Vec<(String, OutboundAction)>,
    outbox: Vec<Vec<u8>>,
}

impl Default for ScriptedConnector {
    fn default() -> Self {
        Self::new()
    }
}

impl ScriptedConnector {
    /// Answers every hello with [`descriptor_for`] its platform and echoes every request.
    pub fn new() -> Self {
        Self {
            codec: LineCodec::default(),
            auto_handshake: true,
            reply: ReplyMode::Echo,
            received: Vec::new(),
            held: Vec::new(),
            outbox: Vec::new(),
        }
    }

    /// Leaves hellos unanswered: the test sends descriptors itself.
    pub fn manual_handshake(mut self) -> Self {
        self.auto_handshake = false;
        self
    }

    /// Sets how requests are answered.
    pub fn set_reply(&mut self, mode: ReplyMode) {
        self.reply = mode;
    }

    /// Frames received from the gateway, in order.
    pub fn received(&self) -> &[Frame] {
        &self.received
    }

    /// Requests held under [`ReplyMode::Hold`], oldest first: `(requestId, action)`.
    pub fn held(&self) -> &[(String, OutboundAction)] {
        &self.held
    }

    /// Bytes from the gateway (one WebSocket message).
    pub fn handle_input(&mut self, bytes: &[u8]) {
        let mut frames = Vec::new();
        self.codec.feed(bytes, |event| {
            if let LineEvent::Line { bytes, .. } = event {
                let frame = Frame::decode(bytes, Some(Direction::ToConnector))
                    .unwrap_or_else(|e| panic!("the gateway sent a bad frame: {e}"));
                frames.push(frame);
            }
        });
        for frame in frames {
            self.on_frame(&frame);
            self.received.push(frame);
        }
    }

    fn on_frame(&mut self, frame: &Frame) {
        match frame {
            Frame::Hello(hello) if self.auto_handshake => {
                self.push_frame(&Frame::Descriptor(crate::wire::DescriptorFrame {
                    descriptor: descriptor_for(&hello.platform),
                    extra: Default::default(),
                }));
            }
            Frame::Outbound(outbound) => match self.reply {
                ReplyMode::Echo => {
                    let result = echo_result(&outbound.action);
                    self.answer(&outbound.request_id, result);
                }
                ReplyMode::Hold => self.held.push((outbound.request_id.clone(), outbound.action.clone())),
                ReplyMode::Silent => {}
            },
            _ => {}
        }
    }

    /// Sends an `outbound_result` for `request_id`.
    pub fn answer(&mut self, request_id: &str, result: ActionResult) {
        self.push_frame(&Frame::OutboundResult(OutboundResult {
            request_id: request_id.to_owned(),
            result,
            extra: Default::default(),
        }));
    }

    /// Answers the held requests in the given order of indices (into [`held`](Self::held)),
    /// each with its echo result; every held request is dropped afterwards.
    pub fn answer_held_in_order(&mut self, order: &[usize]) {
        let held = std::mem::take(&mut self.held);
        for &i in order {
            let (id, action) = &held[i];
            self.answer(id, echo_result(action));
        }
    }

    /// Queues one frame for the gateway, as one WebSocket message.
    pub fn push_frame(&mut self, frame: &Frame) {
        self.outbox.push(frame.encode());
    }

    /// Queues raw bytes for the gateway, as one WebSocket message.
    pub fn push_raw(&mut self, bytes: impl Into<Vec<u8>>) {
        self.outbox.push(bytes.into());
    }

    /// Takes the messages queued for the gateway.
    pub fn take_outbox(&mut self) -> Vec<Vec<u8>> {
        std::mem::take(&mut self.outbox)
    }
}
