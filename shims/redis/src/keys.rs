//! The names relay uses in Redis, and how a backlog key is spelled in them.
//!
//! A backlog key is written as `g:<id>` or `i:<platform>:<bot id>`, each
//! part percent-escaped (`%`, `:`, spaces and control characters), so no
//! two keys spell alike whatever characters their ids hold, and the
//! spelling reads back into the key (announcements carry it).

use relay_core::connector::BacklogKey;
use relay_core::gateway::Identity;

/// The channel announcements of appends are published on.
pub(crate) const APPENDED_CHANNEL: &str = "relay:appended";
/// The channel interrupts for gateways held elsewhere are published on.
pub(crate) const INTERRUPT_CHANNEL: &str = "relay:interrupt";

/// The stream holding `key`'s backlog.
pub(crate) fn backlog_stream(key: &BacklogKey) -> String {
    format!("relay:backlog:{}", encode(key))
}

/// The string key holding the claim on `key`.
pub(crate) fn holder_key(key: &BacklogKey) -> String {
    format!("relay:holder:{}", encode(key))
}

/// The string key naming the gateway that owns `session`.
pub(crate) fn session_key(session: &str) -> String {
    format!("relay:session:{}", escape(session))
}

/// `key`'s spelling in Redis names and announcements.
pub(crate) fn encode(key: &BacklogKey) -> String {
    match key {
        BacklogKey::Gateway(id) => format!("g:{}", escape(id)),
        BacklogKey::Identity(identity) => {
            format!("i:{}:{}", escape(&identity.platform), escape(&identity.bot_id))
        }
    }
}

/// The key an [`encode`]d spelling names, or `None` for anything else.
pub(crate) fn decode(spelling: &[u8]) -> Option<BacklogKey> {
    if let Some(id) = spelling.strip_prefix(b"g:") {
        return Some(BacklogKey::Gateway(unescape(id)?));
    }
    let rest = spelling.strip_prefix(b"i:")?;
    let colon = rest.iter().position(|&b| b == b':')?;
    let (platform, bot_id) = (&rest[..colon], &rest[colon + 1..]);
    Some(BacklogKey::Identity(Identity::new(unescape(platform)?, unescape(bot_id)?)))
}

fn needs_escape(byte: u8) -> bool {
    matches!(byte, b'%' | b':' | b' ' | 0x7f) || byte < 0x20
}

/// `part` with `%`, `:`, spaces and control characters percent-escaped.
pub(crate) fn escape(part: &str) -> String {
    let mut out = String::with_capacity(part.len());
    for ch in part.chars() {
        match u8::try_from(ch) {
            Ok(byte) if needs_escape(byte) => out.push_str(&format!("%{byte:02X}")),
            _ => out.push(ch),
        }
    }
    out
}

/// The text an escaped part stands for; `None` if it is not one (a bare
/// `:` or `%`, a bad escape, bytes that are not UTF-8).
pub(crate) fn unescape(part: &[u8]) -> Option<String> {
    let mut out = Vec::with_capacity(part.len());
    let mut bytes = part.iter();
    while let Some(&byte) = bytes.next() {
        match byte {
            b'%' => {
                let hex = [*bytes.next()?, *bytes.next()?];
                out.push(u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?);
            }
            b':' => return None,
            _ => out.push(byte),
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Vec<BacklogKey> {
        vec![
            BacklogKey::Gateway("gw-1".into()),
            BacklogKey::Gateway("ab".into()),
            BacklogKey::Gateway("i:a:b".into()),
            BacklogKey::Gateway("50%:x y\n\u{7f}é🦀".into()),
            BacklogKey::Gateway(String::new()),
            BacklogKey::Identity(Identity::new("a", "b")),
            BacklogKey::Identity(Identity::new("a:b", "")),
            BacklogKey::Identity(Identity::new("a", ":b")),
            BacklogKey::Identity(Identity::new("", "a:b")),
            BacklogKey::Identity(Identity::new("%3A", "")),
        ]
    }

    #[test]
    fn every_key_reads_back_and_no_two_spell_alike() {
        let keys = keys();
        let spellings: Vec<String> = keys.iter().map(encode).collect();
        for (key, spelling) in keys.iter().zip(&spellings) {
            assert_eq!(decode(spelling.as_bytes()).as_ref(), Some(key), "{spelling}");
        }
        for (i, a) in spellings.iter().enumerate() {
            assert!(!spellings[i + 1..].contains(a), "{a} spelled twice");
        }
    }

    #[test]
    fn spellings_are_readable_and_names_carry_their_role() {
        assert_eq!(backlog_stream(&BacklogKey::Gateway("gw-1".into())), "relay:backlog:g:gw-1");
        let key = BacklogKey::Identity(Identity::new("slack", "B 1:x"));
        assert_eq!(holder_key(&key), "relay:holder:i:slack:B%201%3Ax");
        assert_eq!(session_key("agent:main:telegram:dm:1"), "relay:session:agent%3Amain%3Atelegram%3Adm%3A1");
    }

    #[test]
    fn anything_else_is_no_key() {
        for junk in [&b"x:gw"[..], b"g", b"g:a:b", b"i:slack", b"g:%4", b"g:%zz", b"g:%FF", b"i:a:b:c"] {
            assert_eq!(decode(junk), None, "{}", String::from_utf8_lossy(junk));
        }
    }
}
