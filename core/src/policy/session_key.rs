//! Session keys (PROTOCOL §10).
//!
//! The gateway's derivation is the conformance oracle: connectors normalize
//! their events so that this function puts each conversation in the right
//! session. Keeping it a pure function of its inputs (never of the source's
//! own `profile` field) is what lets both sides test against the same vectors.

use crate::wire::{Platform, SessionSource};

/// The two switches that decide whose messages share a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionKeyOptions {
    /// Outside DMs, give each participant their own session (default `true`).
    pub group_sessions_per_user: bool,
    /// Keep per-participant isolation inside threads too (default `false`:
    /// a thread is one shared session).
    pub thread_sessions_per_user: bool,
}

impl Default for SessionKeyOptions {
    /// `group_sessions_per_user = true`, `thread_sessions_per_user = false`.
    fn default() -> Self {
        Self { group_sessions_per_user: true, thread_sessions_per_user: false }
    }
}

/// Derives the session key for `source` exactly as PROTOCOL §10 specifies.
///
/// `profile` is the agent profile the caller routes to; the source's own
/// `profile` field is deliberately ignored. Empty values are skipped and
/// values are joined raw with `:` (ids containing `:` appear verbatim).
///
/// ```
/// use relay_core::policy::{session_key, SessionKeyOptions};
/// use relay_core::wire::{Platform, SessionSource};
///
/// let mut source = SessionSource::new(Platform::Slack, "C1", "group");
/// source.scope_id = Some("T1".into());
/// source.user_id = Some("U1".into());
/// let key = session_key(&source, SessionKeyOptions::default(), None);
/// assert_eq!(key, "agent:main:slack:group:T1:C1:U1");
///
/// let key = session_key(&source, SessionKeyOptions::default(), Some("reviewer"));
/// assert_eq!(key, "agent:reviewer:slack:group:T1:C1:U1");
/// ```
pub fn session_key(source: &SessionSource, options: SessionKeyOptions, profile: Option<&str>) -> String {
    let is_dm = source.is_dm();
    let thread_id = non_empty(source.thread_id.as_deref());
    let prospective = if is_dm { None } else { non_empty(source.prospective_thread_id.as_deref()) };
    let thread = thread_id.or(prospective);
    let type_slot = if thread_id.is_none() && prospective.is_some() { "thread" } else { &source.chat_type };
    let participant = non_empty(source.user_id_alt.as_deref()).or(non_empty(source.user_id.as_deref()));
    let isolate = if is_dm {
        source.chat_id.is_empty()
    } else {
        options.group_sessions_per_user && (thread.is_none() || options.thread_sessions_per_user)
    };
    let participant = participant.filter(|_| isolate);

    let mut parts: Vec<&str> = vec![source.platform.as_str(), type_slot];
    if source.platform == Platform::Slack {
        parts.extend(source.known_scope());
    }
    parts.extend(non_empty(Some(&source.chat_id)));
    if is_dm {
        parts.extend(participant);
        parts.extend(thread);
    } else {
        parts.extend(thread);
        parts.extend(participant);
    }
    let mut key = namespace(profile);
    // One allocation for the whole key, not one per growth.
    key.reserve(parts.iter().map(|part| part.len() + 1).sum());
    for part in parts {
        key.push(':');
        key.push_str(part);
    }
    key
}

/// The key's namespace: `agent:main` for no/empty/`default` profile,
/// `agent:main~` for a profile literally named `main` (so it cannot collide
/// with the default), else `agent:<profile>`.
fn namespace(profile: Option<&str>) -> String {
    match profile {
        None | Some("" | "default") => "agent:main".to_owned(),
        Some("main") => "agent:main~".to_owned(),
        Some(other) => format!("agent:{other}"),
    }
}

/// `value` when it is present and non-empty.
fn non_empty(value: Option<&str>) -> Option<&str> {
    value.filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One row of a vector table: a source, the options and profile, and the expected key.
    struct Row {
        platform: Platform,
        chat_type: &'static str,
        chat_id: &'static str,
        user_id: Option<&'static str>,
        user_id_alt: Option<&'static str>,
        thread_id: Option<&'static str>,
        prospective_thread_id: Option<&'static str>,
        scope_id: Option<&'static str>,
        options: SessionKeyOptions,
        profile: Option<&'static str>,
        key: &'static str,
    }

    const DEFAULTS: SessionKeyOptions =
        SessionKeyOptions { group_sessions_per_user: true, thread_sessions_per_user: false };

    /// A row with only platform, chat type and chat id set; fill the rest with struct update syntax.
    const fn row(
        platform: Platform,
        chat_type: &'static str,
        chat_id: &'static str,
        key: &'static str,
    ) -> Row {
        Row {
            platform,
            chat_type,
            chat_id,
            user_id: None,
            user_id_alt: None,
            thread_id: None,
            prospective_thread_id: None,
            scope_id: None,
            options: DEFAULTS,
            profile: None,
            key,
        }
    }

    fn check(rows: &[Row]) {
        for (i, r) in rows.iter().enumerate() {
            let mut source = SessionSource::new(r.platform, r.chat_id, r.chat_type);
            source.user_id = r.user_id.map(str::to_owned);
            source.user_id_alt = r.user_id_alt.map(str::to_owned);
            source.thread_id = r.thread_id.map(str::to_owned);
            source.prospective_thread_id = r.prospective_thread_id.map(str::to_owned);
            source.scope_id = r.scope_id.map(str::to_owned);
            assert_eq!(session_key(&source, r.options, r.profile), r.key, "row {i}");
        }
    }

    use Platform::{Discord, Signal, Slack, Telegram};

    #[test]
    fn protocol_vectors() {
        check(&[
            Row { user_id: Some("111"), ..row(Telegram, "dm", "111", "agent:main:telegram:dm:111") },
            Row { thread_id: Some("9"), ..row(Telegram, "dm", "111", "agent:main:telegram:dm:111:9") },
            Row { user_id: Some("u1"), ..row(Telegram, "dm", "", "agent:main:telegram:dm:u1") },
            row(Telegram, "dm", "", "agent:main:telegram:dm"),
            Row {
                user_id: Some("u1"),
                ..row(Telegram, "group", "-100", "agent:main:telegram:group:-100:u1")
            },
            Row {
                user_id: Some("u1"),
                options: SessionKeyOptions { group_sessions_per_user: false, ..DEFAULTS },
                ..row(Telegram, "group", "-100", "agent:main:telegram:group:-100")
            },
            Row {
                thread_id: Some("42"),
                user_id: Some("u1"),
                ..row(Telegram, "forum", "-100", "agent:main:telegram:forum:-100:42")
            },
            Row {
                thread_id: Some("42"),
                user_id: Some("u1"),
                options: SessionKeyOptions { thread_sessions_per_user: true, ..DEFAULTS },
                ..row(Telegram, "forum", "-100", "agent:main:telegram:forum:-100:42:u1")
            },
            Row {
                user_id: Some("userX"),
                scope_id: Some("guildA"),
                ..row(Discord, "group", "chan1", "agent:main:discord:group:chan1:userX")
            },
            Row {
                thread_id: Some("th1"),
                user_id: Some("userX"),
                ..row(Discord, "thread", "parent", "agent:main:discord:thread:parent:th1")
            },
            Row {
                user_id: Some("+15550001"),
                user_id_alt: Some("uuid:abcd"),
                ..row(Signal, "group", "grp", "agent:main:signal:group:grp:uuid:abcd")
            },
            Row {
                scope_id: Some("T1"),
                user_id: Some("U1"),
                ..row(Slack, "group", "C1", "agent:main:slack:group:T1:C1:U1")
            },
            Row {
                user_id: Some("userX"),
                profile: Some("reviewer"),
                ..row(Discord, "group", "chan1", "agent:reviewer:discord:group:chan1:userX")
            },
        ]);
    }

    #[test]
    fn prospective_thread_in_a_group_sets_the_type_slot_to_thread() {
        check(&[
            Row {
                prospective_thread_id: Some("p1"),
                user_id: Some("u1"),
                ..row(Discord, "group", "chan1", "agent:main:discord:thread:chan1:p1")
            },
            Row {
                prospective_thread_id: Some("p1"),
                user_id: Some("u1"),
                options: SessionKeyOptions { thread_sessions_per_user: true, ..DEFAULTS },
                ..row(Discord, "group", "chan1", "agent:main:discord:thread:chan1:p1:u1")
            },
            // A real thread id wins, and the type slot stays the chat type.
            Row {
                thread_id: Some("t1"),
                prospective_thread_id: Some("p1"),
                ..row(Discord, "channel", "chan1", "agent:main:discord:channel:chan1:t1")
            },
            // An empty thread id counts as absent, so the prospective one is used.
            Row {
                thread_id: Some(""),
                prospective_thread_id: Some("p1"),
                ..row(Discord, "channel", "chan1", "agent:main:discord:thread:chan1:p1")
            },
            // An empty prospective thread is no thread at all.
            Row {
                prospective_thread_id: Some(""),
                user_id: Some("u1"),
                ..row(Discord, "channel", "chan1", "agent:main:discord:channel:chan1:u1")
            },
        ]);
    }

    #[test]
    fn prospective_thread_is_ignored_in_dms() {
        check(&[
            Row {
                prospective_thread_id: Some("p1"),
                user_id: Some("u1"),
                ..row(Telegram, "dm", "111", "agent:main:telegram:dm:111")
            },
            Row {
                prospective_thread_id: Some("p1"),
                user_id: Some("u1"),
                ..row(Telegram, "dm", "", "agent:main:telegram:dm:u1")
            },
        ]);
    }

    #[test]
    fn dm_without_chat_id_puts_participant_before_thread() {
        check(&[Row {
            user_id: Some("u1"),
            thread_id: Some("9"),
            ..row(Telegram, "dm", "", "agent:main:telegram:dm:u1:9")
        }]);
    }

    #[test]
    fn profile_namespaces() {
        let cases = [
            (None, "agent:main:discord:group:c"),
            (Some(""), "agent:main:discord:group:c"),
            (Some("default"), "agent:main:discord:group:c"),
            (Some("main"), "agent:main~:discord:group:c"),
            (Some("Main"), "agent:Main:discord:group:c"),
            (Some("ops:night"), "agent:ops:night:discord:group:c"),
        ];
        for (profile, key) in cases {
            let source = SessionSource::new(Discord, "c", "group");
            assert_eq!(session_key(&source, DEFAULTS, profile), key, "{profile:?}");
        }
    }

    #[test]
    fn the_sources_own_profile_field_is_ignored() {
        let mut source = SessionSource::new(Discord, "c", "group");
        source.profile = Some("reviewer".into());
        assert_eq!(session_key(&source, DEFAULTS, None), "agent:main:discord:group:c");
    }

    #[test]
    fn scope_is_a_slack_only_segment() {
        check(&[
            Row { user_id: Some("U1"), ..row(Slack, "group", "C1", "agent:main:slack:group:C1:U1") },
            Row {
                scope_id: Some(""),
                user_id: Some("U1"),
                ..row(Slack, "group", "C1", "agent:main:slack:group:C1:U1")
            },
            Row { scope_id: Some("T1"), ..row(Slack, "dm", "D1", "agent:main:slack:dm:T1:D1") },
            Row {
                scope_id: Some("guildA"),
                user_id: Some("u1"),
                ..row(Discord, "group", "chan1", "agent:main:discord:group:chan1:u1")
            },
            Row { scope_id: Some("T1"), ..row(Telegram, "group", "-100", "agent:main:telegram:group:-100") },
        ]);
    }

    #[test]
    fn empty_user_ids_are_skipped() {
        check(&[
            Row {
                user_id: Some(""),
                user_id_alt: Some(""),
                ..row(Telegram, "group", "-100", "agent:main:telegram:group:-100")
            },
            Row {
                user_id: Some("u1"),
                user_id_alt: Some(""),
                ..row(Telegram, "group", "-100", "agent:main:telegram:group:-100:u1")
            },
            Row {
                user_id_alt: Some("alt"),
                ..row(Telegram, "group", "-100", "agent:main:telegram:group:-100:alt")
            },
            Row { user_id: Some(""), ..row(Telegram, "dm", "", "agent:main:telegram:dm") },
        ]);
    }

    #[test]
    fn other_chat_types_are_kept_verbatim_and_unknown_platforms_read_as_relay() {
        let source = SessionSource::new(Platform::from_name("myspace"), "c", "Channel");
        assert_eq!(session_key(&source, DEFAULTS, None), "agent:main:relay:Channel:c");
    }

    #[test]
    fn default_options_match_the_protocol() {
        assert_eq!(SessionKeyOptions::default(), DEFAULTS);
    }
}
