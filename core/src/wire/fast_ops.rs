//! The request frames the fast decode reads field by field (PROTOCOL §5):
//! `outbound`, its `send` action, and `outbound_result`, the frames of every
//! request's round trip. Other ops are read into an object and handed to
//! their strict readers, as before.

use serde::de::{DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};

use super::{InPlace, KeySeed, Typed, ValueSeed, give_up, id, keep};
use crate::wire::frame::{Outbound, OutboundResult};
use crate::wire::json::Extra;
use crate::wire::{ActionResult, Frame, OutboundAction, SendMessage};

/// The members of an `outbound` frame after its `type`, into `frame`.
pub(super) fn read_outbound<'de, A: MapAccess<'de>>(
    mut map: A,
    frame: &mut Option<Frame>,
) -> Result<(), A::Error> {
    let outbound = Outbound {
        request_id: String::new(),
        action: OutboundAction::Send(SendMessage::default()),
        platform: None,
        bot_id: None,
        extra: Extra::new(),
    };
    let Frame::Outbound(f) = frame.insert(Frame::Outbound(outbound)) else {
        unreachable!("an outbound frame was just put there")
    };
    let (mut has_id, mut has_action) = (false, false);
    while let Some(key) = map.next_key_seed(KeySeed)? {
        match &*key {
            "requestId" => has_id = required_string(&mut map, &mut f.request_id)?,
            "action" => has_action = map.next_value_seed(ActionSeed(&mut f.action))?,
            "platform" => f.platform = map.next_value()?,
            "botId" => f.bot_id = map.next_value()?,
            "type" => return Err(give_up()),
            _ => keep(&mut f.extra, key, &mut map)?,
        }
    }
    if has_id && has_action { Ok(()) } else { Err(give_up()) }
}

/// The members of an `outbound_result` frame after its `type`, into `frame`.
pub(super) fn read_outbound_result<'de, A: MapAccess<'de>>(
    mut map: A,
    frame: &mut Option<Frame>,
) -> Result<(), A::Error> {
    let Frame::OutboundResult(f) = frame.insert(Frame::OutboundResult(OutboundResult::default())) else {
        unreachable!("an outbound_result frame was just put there")
    };
    let (mut has_id, mut has_result) = (false, false);
    while let Some(key) = map.next_key_seed(KeySeed)? {
        match &*key {
            "requestId" => has_id = required_string(&mut map, &mut f.request_id)?,
            "result" => has_result = map.next_value_seed(InPlace(&mut f.result))?,
            "type" => return Err(give_up()),
            _ => keep(&mut f.extra, key, &mut map)?,
        }
    }
    if has_id && has_result { Ok(()) } else { Err(give_up()) }
}

/// A required string into `slot`; whether it is there (`null` is not).
fn required_string<'de, A: MapAccess<'de>>(map: &mut A, slot: &mut String) -> Result<bool, A::Error> {
    match map.next_value::<Option<String>>()? {
        Some(text) => {
            *slot = text;
            Ok(true)
        }
        None => Ok(false),
    }
}

impl Typed for ActionResult {
    fn read<'de, A: MapAccess<'de>>(&mut self, mut map: A) -> Result<(), A::Error> {
        let r = self;
        while let Some(key) = map.next_key_seed(KeySeed)? {
            match &*key {
                "success" => r.success = map.next_value::<Option<bool>>()?.unwrap_or(false),
                "message_id" => r.message_id = id(&mut map)?,
                "error" => r.error = map.next_value()?,
                "code" => r.code = map.next_value()?,
                _ => keep(&mut r.extra, key, &mut map)?,
            }
        }
        Ok(())
    }
}

impl Typed for SendMessage {
    fn read<'de, A: MapAccess<'de>>(&mut self, mut map: A) -> Result<(), A::Error> {
        let (s, mut chat_id, mut content) = (self, None, None);
        while let Some(key) = map.next_key_seed(KeySeed)? {
            match &*key {
                "chat_id" => chat_id = id(&mut map)?,
                "content" => content = map.next_value()?,
                "reply_to" => s.reply_to = id(&mut map)?,
                "metadata" => {
                    s.metadata = match map.next_value_seed(ValueSeed)? {
                        Value::Object(object) => object,
                        Value::Null => Map::new(),
                        _ => return Err(give_up()),
                    }
                }
                "op" => return Err(give_up()),
                _ => keep(&mut s.extra, key, &mut map)?,
            }
        }
        s.chat_id = chat_id.ok_or_else(give_up)?;
        s.content = content.ok_or_else(give_up)?;
        Ok(())
    }
}

/// An `action` object into its slot; `null` reads as absent (`false`). Its
/// `op` must come first (every encoder writes it there) to pick the reader.
struct ActionSeed<'a>(&'a mut OutboundAction);

impl<'de> DeserializeSeed<'de> for ActionSeed<'_> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for ActionSeed<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an action object or null")
    }

    fn visit_none<E>(self) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_map(self)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        let op = match map.next_key_seed(KeySeed)? {
            Some(key) if key == "op" => map.next_value::<Option<String>>()?.ok_or_else(give_up)?,
            _ => return Err(give_up()),
        };
        if op == "send" {
            let mut send = SendMessage::fresh();
            send.read(map)?;
            *self.0 = OutboundAction::Send(send);
            return Ok(true);
        }
        let mut object = Map::new();
        object.insert("op".to_owned(), Value::String(op));
        while let Some(key) = map.next_key_seed(KeySeed)? {
            if key == "op" {
                return Err(give_up());
            }
            keep(&mut object, key, &mut map)?;
        }
        *self.0 = OutboundAction::from_object(object).map_err(|_| give_up::<A::Error>())?;
        Ok(true)
    }
}
