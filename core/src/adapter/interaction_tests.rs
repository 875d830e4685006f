use serde_json::json;

use super::*;
use crate::policy::{SessionKeyOptions, session_key};

fn forward(platform: &str, body: &Value) -> Forward {
    Forward {
        platform: platform.into(),
        bot_id: "B1".into(),
        method: "POST".into(),
        path: "/interactions".into(),
        body: serde_json::to_vec(body).unwrap(),
        profile: Some("reviewer".into()),
        ..Forward::default()
    }
}

fn convert(body: Value) -> Result<MessageEvent, NotConvertible> {
    convert_interaction(&forward("discord", &body))
}

fn guild_command(options: Value) -> Value {
    json!({
        "id": "i1", "type": 2, "token": "SECRET-TOKEN", "guild_id": "g1", "channel_id": "c1",
        "member": {"user": {"id": "u1", "username": "ada", "global_name": "Ada L."}},
        "data": {"id": "cmd", "name": "ask", "type": 1, "options": options}
    })
}

#[test]
fn command_text_from_options() {
    let cases = [
        (json!(null), "/ask"),
        (json!([]), "/ask"),
        (json!([{"name": "q", "type": 3, "value": "why is the sky"}]), "/ask why is the sky"),
        (
            json!([{"name": "n", "type": 4, "value": -3}, {"name": "x", "type": 10, "value": 2.5}]),
            "/ask -3 2.5",
        ),
        (
            json!([{"name": "b", "type": 5, "value": true}, {"name": "c", "type": 5, "value": false}]),
            "/ask true false",
        ),
        (json!([{"name": "who", "type": 6, "value": "123456789012345678"}]), "/ask 123456789012345678"),
        (
            json!([{"name": "sub", "type": 1, "options": [{"name": "q", "type": 3, "value": "hi"}]}]),
            "/ask sub hi",
        ),
        (json!([{"name": "sub", "type": 1}]), "/ask sub"),
        (
            json!([{"name": "admin", "type": 2, "options": [
                {"name": "ban", "type": 1, "options": [
                    {"name": "user", "type": 6, "value": "u9"},
                    {"name": "days", "type": 4, "value": 7},
                    {"name": "silent", "type": 5, "value": true}
                ]}
            ]}]),
            "/ask admin ban u9 7 true",
        ),
        // Empty, null and non-scalar values, and junk entries, are skipped.
        (
            json!([{"name": "a", "type": 3, "value": ""}, {"name": "b", "type": 3, "value": null},
                   {"name": "c", "type": 3, "value": [1]}, 5, "x", {"name": "d", "type": 3, "value": "ok"}]),
            "/ask ok",
        ),
        // Options that are not a list are ignored.
        (json!({"name": "q"}), "/ask"),
    ];
    for (options, expected) in cases {
        let event = convert(guild_command(options.clone())).unwrap();
        assert_eq!(event.text, expected, "{options}");
        assert_eq!(event.message_type, MessageType::Command);
        assert_eq!(event.prompt_response, None);
    }
}

#[test]
fn absurd_nesting_is_cut_off_without_failing() {
    let mut options = json!([{"name": "leaf", "type": 3, "value": "deep"}]);
    for i in 0..40 {
        options = json!([{"name": format!("g{i}"), "type": 2, "options": options}]);
    }
    let text = convert(guild_command(options)).unwrap().text;
    assert!(text.starts_with("/ask g39 g38 g37 g36 g35"), "{text}");
    assert!(!text.contains("deep") && !text.contains("g34"), "{text}");
}

#[test]
fn guild_source_and_ids() {
    let event = convert(guild_command(json!([]))).unwrap();
    let s = &event.source;
    assert_eq!(s.platform, Platform::Discord);
    assert_eq!((s.chat_id.as_str(), s.chat_type.as_str()), ("c1", "group"));
    assert_eq!(s.scope_id.as_deref(), Some("g1"));
    assert_eq!((s.user_id.as_deref(), s.user_name.as_deref()), (Some("u1"), Some("Ada L.")));
    assert_eq!((s.thread_id.as_deref(), s.parent_chat_id.as_deref()), (None, None));
    assert_eq!(s.profile.as_deref(), Some("reviewer"));
    assert_eq!(event.message_id.as_deref(), Some("i1"));
    let text = serde_json::to_string(&event).unwrap();
    assert!(!text.contains("SECRET-TOKEN"), "the interaction token must not travel on: {text}");
    let key = session_key(s, SessionKeyOptions::default(), None);
    assert_eq!(key, "agent:main:discord:group:c1:u1");
}

#[test]
fn dms_use_the_top_level_user_and_username_fallback() {
    let body = json!({
        "id": 99, "type": 2, "channel": {"id": "dm1", "type": 1},
        "user": {"id": "u2", "username": "bob", "global_name": null},
        "data": {"name": "help"}
    });
    let event = convert(body).unwrap();
    let s = &event.source;
    assert_eq!((s.chat_id.as_str(), s.chat_type.as_str()), ("dm1", "dm"));
    assert_eq!((s.scope_id.as_deref(), s.user_id.as_deref()), (None, Some("u2")));
    assert_eq!(s.user_name.as_deref(), Some("bob"));
    assert_eq!(event.message_id.as_deref(), Some("99"));
    // A group DM has several users but no guild.
    let body =
        json!({"type": 2, "channel": {"id": "gdm", "type": 3}, "user": {"id": "u2"}, "data": {"name": "h"}});
    assert_eq!(convert(body).unwrap().source.chat_type, "group");
}

#[test]
fn threads_key_on_their_parent() {
    for thread_type in [10, 11, 12] {
        let body = json!({
            "id": "i", "type": 2, "guild_id": "g", "channel_id": "th1",
            "channel": {"id": "th1", "type": thread_type, "parent_id": "parent", "name": "bugs"},
            "member": {"user": {"id": "userX", "username": "x"}}, "data": {"name": "ask"}
        });
        let s = convert(body).unwrap().source;
        assert_eq!(s.chat_type, "thread", "{thread_type}");
        assert_eq!(s.chat_id, "parent");
        assert_eq!((s.thread_id.as_deref(), s.parent_chat_id.as_deref()), (Some("th1"), Some("parent")));
        assert_eq!(s.chat_name.as_deref(), Some("bugs"));
        // PROTOCOL §10 vector: discord, thread, chat parent, thread th1.
        assert_eq!(
            session_key(&s, SessionKeyOptions::default(), None),
            "agent:main:discord:thread:parent:th1"
        );
    }
    // Not thread types: a text channel (0) and a forum (15) are ordinary chats.
    for other in [0, 5, 15] {
        let body = json!({"type": 2, "guild_id": "g", "channel": {"id": "c", "type": other, "parent_id": "cat"},
                          "data": {"name": "a"}});
        let s = convert(body).unwrap().source;
        assert_eq!((s.chat_id.as_str(), s.chat_type.as_str(), s.thread_id), ("c", "group", None), "{other}");
    }
    // A thread without its parent in the body keeps its own id as chat.
    let body =
        json!({"type": 2, "guild_id": "g", "channel": {"id": "th2", "type": 11}, "data": {"name": "a"}});
    let s = convert(body).unwrap().source;
    assert_eq!((s.chat_id.as_str(), s.thread_id.as_deref(), s.parent_chat_id), ("th2", Some("th2"), None));
}

fn component(custom_id: &str) -> Value {
    json!({
        "id": "i3", "type": 3, "guild_id": "g", "channel_id": "c",
        "member": {"user": {"id": "u", "username": "u"}},
        "message": {"id": "prompt-msg", "components": [
            {"type": 1, "components": [
                {"type": 2, "custom_id": "hp1:p7:yes", "label": "Approve"},
                {"type": 2, "custom_id": "hp1:p7:no", "label": "Deny"}
            ]}
        ]},
        "data": {"component_type": 2, "custom_id": custom_id}
    })
}

#[test]
fn components_plain_and_prompt_tokens() {
    let plain = convert(component("refresh_page")).unwrap();
    assert_eq!((plain.text.as_str(), plain.message_type), ("refresh_page", MessageType::Text));
    assert_eq!(plain.prompt_response, None);

    let answer = convert(component("hp1:p7:no")).unwrap();
    assert_eq!((answer.text.as_str(), answer.message_type), ("", MessageType::Text));
    let response = answer.prompt_response.unwrap();
    assert_eq!((response.prompt_id.as_str(), response.option_id.as_str()), ("p7", "no"));
    assert_eq!(response.label.as_deref(), Some("Deny"));
    assert_eq!(response.prompt_message_id.as_deref(), Some("prompt-msg"));

    // A token whose button is not in the body still answers, without a label.
    let response = convert(component("hp1:p8:maybe")).unwrap().prompt_response.unwrap();
    assert_eq!((response.option_id.as_str(), response.label), ("maybe", None));
    // Near-tokens are plain text, not answers.
    for near in ["hp1:p7", "hp2:p7:no", "hp1:p7:no:x", "hp1:p 7:no"] {
        let event = convert(component(near)).unwrap();
        assert_eq!((event.text.as_str(), event.prompt_response.is_none()), (near, true));
    }
}

#[test]
fn pings_and_other_types_have_empty_text() {
    for kind in [1, 4, 5, 99] {
        let event =
            convert(json!({"id": "i", "type": kind, "data": {"custom_id": "modal", "name": "x"}})).unwrap();
        assert_eq!((event.text.as_str(), event.message_type), ("", MessageType::Text), "{kind}");
        assert_eq!(event.source.chat_type, "dm");
    }
}

#[test]
fn platform_name_is_trimmed_and_lower_cased() {
    for name in ["discord", " Discord ", "DISCORD\n"] {
        assert!(convert_interaction(&forward(name, &guild_command(json!([])))).is_ok(), "{name:?}");
    }
    for name in ["", "twilio", "discord2", "relay"] {
        assert_eq!(
            convert_interaction(&forward(name, &guild_command(json!([])))),
            Err(NotConvertible::NotDiscord { platform: name.into() })
        );
    }
}

#[test]
fn malformed_bodies_are_typed_errors() {
    let raw = |bytes: &[u8]| {
        let f = Forward { platform: "discord".into(), body: bytes.to_vec(), ..Forward::default() };
        convert_interaction(&f)
    };
    for bytes in [&b""[..], b"{", b"not json", b"{\"type\":2,}", b"\xff\xfe", b"{\"type\": NaN}"] {
        assert!(
            matches!(raw(bytes), Err(NotConvertible::InvalidJson(_))),
            "{:?}",
            String::from_utf8_lossy(bytes)
        );
    }
    for body in [json!([]), json!("x"), json!(2), json!(null)] {
        assert_eq!(convert(body), Err(NotConvertible::NotAnObject));
    }
    let missing_type = NotConvertible::MissingField("type");
    let bad_type = NotConvertible::BadField { field: "type", expected: "an integer" };
    let cases = [
        (json!({}), missing_type.clone()),
        (json!({"type": null}), missing_type),
        (json!({"type": "2"}), bad_type.clone()),
        (json!({"type": -2}), bad_type.clone()),
        (json!({"type": 2.5}), bad_type),
        (json!({"type": 2}), NotConvertible::MissingField("data")),
        (json!({"type": 3, "data": null}), NotConvertible::MissingField("data")),
        (json!({"type": 2, "data": []}), NotConvertible::BadField { field: "data", expected: "an object" }),
        (json!({"type": 2, "data": {}}), NotConvertible::MissingField("data.name")),
        (
            json!({"type": 2, "data": {"name": ""}}),
            NotConvertible::BadField { field: "data.name", expected: "a non-empty string" },
        ),
        (
            json!({"type": 3, "data": {"custom_id": 5}}),
            NotConvertible::BadField { field: "data.custom_id", expected: "a non-empty string" },
        ),
        (json!({"type": 3, "data": {}}), NotConvertible::MissingField("data.custom_id")),
    ];
    for (body, expected) in cases {
        assert_eq!(convert(body.clone()), Err(expected), "{body}");
    }
}

#[test]
fn mistyped_optional_fields_read_as_absent() {
    let body = json!({
        "id": [1], "type": 2, "guild_id": false, "channel_id": {"x": 1}, "channel": "c",
        "member": {"user": "u"}, "user": {"id": 5, "username": 7}, "data": {"name": "a"}
    });
    let event = convert(body).unwrap();
    assert_eq!(event.message_id, None);
    let s = &event.source;
    assert_eq!((s.chat_id.as_str(), s.chat_type.as_str(), s.scope_id.as_deref()), ("", "dm", None));
    assert_eq!((s.user_id.as_deref(), s.user_name.as_deref()), (Some("5"), None));
}

#[test]
fn error_messages() {
    assert_eq!(NotConvertible::MissingField("data.name").to_string(), "the interaction has no data.name");
    assert_eq!(
        NotConvertible::NotDiscord { platform: "twilio".into() }.to_string(),
        "the forward is for \"twilio\", not discord"
    );
}

#[test]
fn any_body_converts_or_fails_without_panicking() {
    fn bytes(body: Vec<u8>) -> bool {
        let f = Forward { platform: "discord".into(), body, ..Forward::default() };
        let _ = convert_interaction(&f);
        true
    }
    quickcheck::quickcheck(bytes as fn(Vec<u8>) -> bool);

    // Structurally plausible bodies: the text is always `/name` then the rendered parts.
    fn command(name: String, words: Vec<String>, numbers: Vec<i64>, nested: bool) -> bool {
        let mut options: Vec<Value> =
            words.iter().map(|w| json!({"name": "w", "type": 3, "value": w})).collect();
        options.extend(numbers.iter().map(|n| json!({"name": "n", "type": 4, "value": n})));
        if nested {
            options = vec![json!({"name": "sub", "type": 1, "options": options})];
        }
        let body = json!({"type": 2, "data": {"name": name, "options": options}});
        match convert(body) {
            Err(e) => {
                name.is_empty()
                    && e == NotConvertible::BadField { field: "data.name", expected: "a non-empty string" }
            }
            Ok(event) => {
                let mut expected = vec![format!("/{name}")];
                expected.extend(nested.then(|| "sub".to_owned()));
                expected.extend(words.into_iter().filter(|w| !w.is_empty()));
                expected.extend(numbers.iter().map(i64::to_string));
                event.text == expected.join(" ")
            }
        }
    }
    quickcheck::quickcheck(command as fn(String, Vec<String>, Vec<i64>, bool) -> bool);
}
