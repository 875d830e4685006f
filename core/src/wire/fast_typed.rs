//! The wire types the fast decode reads field by field (PROTOCOL §4): each
//! occurrence of a key overwrites its field, so the last of duplicates wins;
//! the rules that span keys are the strict decoder's own
//! ([`SessionSource::settle`]).

use serde::de::MapAccess;

use super::{InPlace, KeySeed, Lenient, Typed, give_up, id, keep, nested, objects};
use crate::wire::json::Extra;
use crate::wire::{
    ContextItem, Media, MessageEvent, MessageType, Platform, PromptResponse, ReplyTo, SessionSource,
};

impl Typed for MessageEvent {
    fn fresh() -> Self {
        Self {
            text: String::new(),
            message_type: MessageType::Text,
            source: SessionSource::blank(),
            message_id: None,
            reply_to_message_id: None,
            media_urls: Vec::new(),
            media: Vec::new(),
            reply_to: None,
            context: Vec::new(),
            context_error: false,
            prompt_response: None,
            extra: Extra::new(),
        }
    }

    fn read<'de, A: MapAccess<'de>>(&mut self, mut map: A) -> Result<(), A::Error> {
        let (e, mut has_source) = (self, false);
        while let Some(key) = map.next_key_seed(KeySeed)? {
            match &*key {
                "text" => e.text = map.next_value::<Option<String>>()?.unwrap_or_default(),
                // Lenient: anything that is not a known name reads as text.
                "message_type" => e.message_type = map.next_value_seed(Lenient)?,
                "source" => has_source = map.next_value_seed(InPlace(&mut e.source))?,
                "message_id" => e.message_id = id(&mut map)?,
                "reply_to_message_id" => e.reply_to_message_id = id(&mut map)?,
                "media_urls" => e.media_urls = map.next_value::<Option<_>>()?.unwrap_or_default(),
                "media" => objects(&mut map, &mut e.media)?,
                "reply_to" => nested(&mut map, &mut e.reply_to)?,
                "context" => objects(&mut map, &mut e.context)?,
                "context_error" => e.context_error = map.next_value::<Option<_>>()?.unwrap_or(false),
                "prompt_response" => nested(&mut map, &mut e.prompt_response)?,
                _ => keep(&mut e.extra, key, &mut map)?,
            }
        }
        if !has_source {
            e.source = SessionSource::default();
        }
        Ok(())
    }
}

impl Typed for SessionSource {
    fn fresh() -> Self {
        Self::blank()
    }

    fn read<'de, A: MapAccess<'de>>(&mut self, mut map: A) -> Result<(), A::Error> {
        let (s, mut chat_type) = (self, None);
        let (mut names, mut scope_id, mut guild_id) = ([None, None, None], None, None);
        while let Some(key) = map.next_key_seed(KeySeed)? {
            match &*key {
                "platform" => {
                    let name = map.next_value::<Option<&'de str>>()?;
                    s.platform = name.map(Platform::from_name).unwrap_or_default();
                }
                "chat_id" => s.chat_id = id(&mut map)?.unwrap_or_default(),
                "chat_name" => s.chat_name = map.next_value()?,
                "chat_type" => chat_type = map.next_value()?,
                "user_id" => s.user_id = id(&mut map)?,
                "user_display_name" => names[0] = map.next_value()?,
                "user_name" => names[1] = map.next_value()?,
                "user_handle" => names[2] = map.next_value()?,
                "thread_id" => s.thread_id = id(&mut map)?,
                "chat_topic" => s.chat_topic = map.next_value()?,
                "user_id_alt" => s.user_id_alt = id(&mut map)?,
                "chat_id_alt" => s.chat_id_alt = id(&mut map)?,
                "scope_id" => scope_id = id(&mut map)?,
                "guild_id" => guild_id = id(&mut map)?,
                "parent_chat_id" => s.parent_chat_id = id(&mut map)?,
                "message_id" => s.message_id = id(&mut map)?,
                "profile" => s.profile = map.next_value()?,
                "auto_thread_created" => {
                    s.auto_thread_created = map.next_value::<Option<_>>()?.unwrap_or(false)
                }
                "auto_thread_initial_name" => s.auto_thread_initial_name = map.next_value()?,
                "prospective_thread_id" => s.prospective_thread_id = id(&mut map)?,
                _ => keep(&mut s.extra, key, &mut map)?,
            }
        }
        s.chat_type = chat_type.unwrap_or_else(|| "dm".to_owned());
        s.settle(names, scope_id, guild_id);
        Ok(())
    }
}

impl Typed for Media {
    fn read<'de, A: MapAccess<'de>>(&mut self, mut map: A) -> Result<(), A::Error> {
        let m = self;
        while let Some(key) = map.next_key_seed(KeySeed)? {
            match &*key {
                "url" => m.url = map.next_value::<Option<String>>()?.unwrap_or_default(),
                "mime" => m.mime = map.next_value()?,
                "kind" => m.kind = map.next_value()?,
                // An integer of i64's range that is not negative, as the strict decoder takes it.
                "size" => {
                    let size = map.next_value::<Option<i64>>()?;
                    m.size = size.map(|n| u64::try_from(n).map_err(|_| give_up())).transpose()?;
                }
                "filename" => m.filename = map.next_value()?,
                "caption" => m.caption = map.next_value()?,
                _ => keep(&mut m.extra, key, &mut map)?,
            }
        }
        Ok(())
    }
}

impl Typed for ReplyTo {
    fn read<'de, A: MapAccess<'de>>(&mut self, mut map: A) -> Result<(), A::Error> {
        let r = self;
        while let Some(key) = map.next_key_seed(KeySeed)? {
            match &*key {
                "text" => r.text = map.next_value()?,
                "author" => r.author = map.next_value()?,
                "is_own" => r.is_own = map.next_value()?,
                _ => keep(&mut r.extra, key, &mut map)?,
            }
        }
        Ok(())
    }
}

impl Typed for ContextItem {
    fn read<'de, A: MapAccess<'de>>(&mut self, mut map: A) -> Result<(), A::Error> {
        let c = self;
        while let Some(key) = map.next_key_seed(KeySeed)? {
            match &*key {
                "text" => c.text = map.next_value::<Option<String>>()?.unwrap_or_default(),
                "source" => nested(&mut map, &mut c.source)?,
                _ => keep(&mut c.extra, key, &mut map)?,
            }
        }
        Ok(())
    }
}

impl Typed for PromptResponse {
    fn read<'de, A: MapAccess<'de>>(&mut self, mut map: A) -> Result<(), A::Error> {
        let (mut prompt_id, mut option_id, p) = (None, None, self);
        while let Some(key) = map.next_key_seed(KeySeed)? {
            match &*key {
                "prompt_id" => prompt_id = map.next_value()?,
                "option_id" => option_id = map.next_value()?,
                "label" => p.label = map.next_value()?,
                "prompt_message_id" => p.prompt_message_id = id(&mut map)?,
                _ => keep(&mut p.extra, key, &mut map)?,
            }
        }
        p.prompt_id = prompt_id.ok_or_else(give_up)?;
        p.option_id = option_id.ok_or_else(give_up)?;
        Ok(())
    }
}
