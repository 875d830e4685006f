//! Frames and keys the tests share.

#![allow(dead_code)] // each test binary uses a part of it

use relay_core::bench::Generator;
use relay_core::connector::{BacklogKey, BufferedFrame};
use relay_core::gateway::Identity;
use relay_core::wire::{Forward, Frame, MessageEvent, Platform, SessionSource};

pub(crate) fn gateway(id: &str) -> BacklogKey {
    BacklogKey::Gateway(id.to_owned())
}

pub(crate) fn identity(platform: &str, bot_id: &str) -> BacklogKey {
    BacklogKey::Identity(Identity::new(platform, bot_id))
}

pub(crate) fn text(text: &str) -> BufferedFrame {
    let source = SessionSource::new(Platform::Telegram, "c1", "dm");
    BufferedFrame::Inbound(Box::new(MessageEvent::text(source, text)))
}

/// A webhook whose body is every byte value, not valid UTF-8.
pub(crate) fn webhook(path: &str) -> BufferedFrame {
    BufferedFrame::Forward(Box::new(Forward {
        platform: "slack".into(),
        bot_id: "B1".into(),
        method: "POST".into(),
        path: path.into(),
        headers: vec![("Content-Type".into(), "application/octet-stream".into()), ("X-B".into(), "2".into())],
        body: (0..=255u8).rev().chain(0..=255).collect(),
        profile: Some("ops".into()),
        extra: Default::default(),
    }))
}

/// `n` realistic inbound events (unicode, media, nested metadata, unknown keys).
pub(crate) fn realistic(seed: u64, n: usize) -> Vec<BufferedFrame> {
    Generator::new(seed)
        .inbound_corpus(n)
        .iter()
        .map(|line| match Frame::decode(line.trim_end().as_bytes(), None) {
            Ok(Frame::Inbound(inbound)) => BufferedFrame::Inbound(inbound.event),
            other => panic!("the generator made {other:?}"),
        })
        .collect()
}

/// The text or path that tells frames apart in assertions (a stored frame decoded).
pub(crate) fn label(frame: &BufferedFrame) -> String {
    match frame.clone().decoded() {
        Ok(BufferedFrame::Inbound(event)) => event.text,
        Ok(BufferedFrame::Forward(forward)) => forward.path,
        other => panic!("a stored frame that does not decode: {other:?}"),
    }
}
