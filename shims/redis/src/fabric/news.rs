//! The messages instances publish to each other: which gateway an
//! announcement is about, and what an interrupt carries.
//!
//! An announcement of an append is the gateway's key spelling (see
//! `keys`). An interrupt is `<key> <session> <chat>`: the key spelling,
//! then the session key and the chat id percent-escaped, so no part holds
//! a space.

use relay_core::connector::BacklogKey;
use relay_driver::News;

use crate::keys::{APPENDED_CHANNEL, INTERRUPT_CHANNEL, decode, encode, escape, unescape};

/// The message that hands an interrupt to the instance holding `key`.
pub(super) fn interrupt_message(key: &BacklogKey, session: &str, chat_id: &str) -> String {
    format!("{} {} {}", encode(key), escape(session), escape(chat_id))
}

/// The news a message on `channel` carries, or `None` when it is not one
/// of ours (another program's message on the channel, a damaged one).
pub(super) fn read(channel: &str, payload: &[u8]) -> Option<News> {
    match channel {
        APPENDED_CHANNEL => decode(payload).map(News::Appended),
        INTERRUPT_CHANNEL => {
            let mut parts = payload.split(|&b| b == b' ');
            let (to, session, chat) = (parts.next()?, parts.next()?, parts.next()?);
            if parts.next().is_some() {
                return None;
            }
            Some(News::Interrupt {
                to: decode(to)?,
                session_key: unescape(session)?,
                chat_id: unescape(chat)?,
            })
        }
        _ => None,
    }
}

/// The gateway a piece of news is about.
pub(super) fn about(news: &News) -> &BacklogKey {
    match news {
        News::Appended(key) | News::Interrupt { to: key, .. } => key,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_interrupt_reads_back_whatever_its_parts_hold() {
        let key = BacklogKey::Gateway("gw 1:x".into());
        let message = interrupt_message(&key, "agent:main:slack:group:C1 x", "C1\n%");
        let news = read(INTERRUPT_CHANNEL, message.as_bytes());
        let expected = News::Interrupt {
            to: key.clone(),
            session_key: "agent:main:slack:group:C1 x".into(),
            chat_id: "C1\n%".into(),
        };
        assert_eq!(news, Some(expected));
        assert_eq!(read(APPENDED_CHANNEL, encode(&key).as_bytes()), Some(News::Appended(key)));
    }

    #[test]
    fn anything_else_is_no_news() {
        for (channel, junk) in [
            (INTERRUPT_CHANNEL, &b"g:gw s"[..]),
            (INTERRUPT_CHANNEL, b"g:gw s c extra"),
            (INTERRUPT_CHANNEL, b"x:gw s c"),
            (APPENDED_CHANNEL, b"nonsense"),
            ("elsewhere", b"g:gw"),
        ] {
            assert_eq!(read(channel, junk), None, "{}", String::from_utf8_lossy(junk));
        }
    }
}
