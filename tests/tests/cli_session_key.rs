//! `relay session-key`: SessionSource JSON lines → session keys (CLI.md, PROTOCOL §10).

mod common;

use common::run;
use serde_json::{Value, json};

/// Runs `relay session-key args` on `sources` (one JSON line each); returns (stdout, stderr, code).
fn keys(args: &[&str], stdin: &str) -> (String, String, i32) {
    let mut full = vec!["session-key"];
    full.extend_from_slice(args);
    run(&full, stdin)
}

/// Every vector row of PROTOCOL §10: (source, flags, key).
fn vectors() -> Vec<(Value, &'static [&'static str], &'static str)> {
    const DEFAULTS: &[&str] = &[];
    vec![
        (
            json!({"platform": "telegram", "chat_type": "dm", "chat_id": "111", "user_id": "111"}),
            DEFAULTS,
            "agent:main:telegram:dm:111",
        ),
        (
            json!({"platform": "telegram", "chat_type": "dm", "chat_id": "111", "thread_id": "9"}),
            DEFAULTS,
            "agent:main:telegram:dm:111:9",
        ),
        (
            json!({"platform": "telegram", "chat_type": "dm", "chat_id": "", "user_id": "u1"}),
            DEFAULTS,
            "agent:main:telegram:dm:u1",
        ),
        (json!({"platform": "telegram", "chat_type": "dm"}), DEFAULTS, "agent:main:telegram:dm"),
        (
            json!({"platform": "telegram", "chat_type": "group", "chat_id": "-100", "user_id": "u1"}),
            DEFAULTS,
            "agent:main:telegram:group:-100:u1",
        ),
        (
            json!({"platform": "telegram", "chat_type": "group", "chat_id": "-100", "user_id": "u1"}),
            &["--group-per-user", "false"],
            "agent:main:telegram:group:-100",
        ),
        (
            json!({"platform": "telegram", "chat_type": "forum", "chat_id": "-100", "thread_id": "42", "user_id": "u1"}),
            DEFAULTS,
            "agent:main:telegram:forum:-100:42",
        ),
        (
            json!({"platform": "telegram", "chat_type": "forum", "chat_id": "-100", "thread_id": "42", "user_id": "u1"}),
            &["--thread-per-user", "true"],
            "agent:main:telegram:forum:-100:42:u1",
        ),
        (
            json!({"platform": "discord", "chat_type": "group", "chat_id": "chan1", "user_id": "userX", "scope_id": "guildA"}),
            DEFAULTS,
            "agent:main:discord:group:chan1:userX",
        ),
        (
            json!({"platform": "discord", "chat_type": "thread", "chat_id": "parent", "thread_id": "th1", "user_id": "userX"}),
            DEFAULTS,
            "agent:main:discord:thread:parent:th1",
        ),
        (
            json!({"platform": "signal", "chat_type": "group", "chat_id": "grp", "user_id": "+15550001", "user_id_alt": "uuid:abcd"}),
            DEFAULTS,
            "agent:main:signal:group:grp:uuid:abcd",
        ),
        (
            json!({"platform": "slack", "chat_type": "group", "scope_id": "T1", "chat_id": "C1", "user_id": "U1"}),
            DEFAULTS,
            "agent:main:slack:group:T1:C1:U1",
        ),
        (
            json!({"platform": "discord", "chat_type": "group", "chat_id": "chan1", "user_id": "userX"}),
            &["--profile", "reviewer"],
            "agent:reviewer:discord:group:chan1:userX",
        ),
    ]
}

#[test]
fn every_protocol_vector() {
    for (source, flags, expected) in vectors() {
        let (stdout, stderr, code) = keys(flags, &format!("{source}\n"));
        assert_eq!(
            (stdout.as_str(), stderr.as_str(), code),
            (format!("{expected}\n").as_str(), "", 0),
            "{source} {flags:?}"
        );
    }
}

#[test]
fn one_key_per_line_in_order() {
    let defaults: Vec<_> = vectors().into_iter().filter(|(_, flags, _)| flags.is_empty()).collect();
    let stdin: String = defaults.iter().map(|(source, _, _)| format!("{source}\n")).collect();
    let expected: String = defaults.iter().map(|(_, _, key)| format!("{key}\n")).collect();
    assert_eq!(keys(&[], &stdin), (expected, String::new(), 0));
}

#[test]
fn flags_change_isolation() {
    let group = r#"{"platform":"telegram","chat_type":"group","chat_id":"-100","user_id":"u1"}"#;
    let forum =
        r#"{"platform":"telegram","chat_type":"forum","chat_id":"-100","thread_id":"42","user_id":"u1"}"#;
    let stdin = format!("{group}\n{forum}\n");
    let cases: [(&[&str], &str); 4] = [
        (&[], "agent:main:telegram:group:-100:u1\nagent:main:telegram:forum:-100:42\n"),
        (
            &["--group-per-user", "true", "--thread-per-user", "true"],
            "agent:main:telegram:group:-100:u1\nagent:main:telegram:forum:-100:42:u1\n",
        ),
        (
            &["--group-per-user", "false", "--thread-per-user", "true"],
            "agent:main:telegram:group:-100\nagent:main:telegram:forum:-100:42\n",
        ),
        (
            &["--group-per-user", "false", "--thread-per-user", "false"],
            "agent:main:telegram:group:-100\nagent:main:telegram:forum:-100:42\n",
        ),
    ];
    for (flags, expected) in cases {
        assert_eq!(keys(flags, &stdin), (expected.to_owned(), String::new(), 0), "{flags:?}");
    }
}

#[test]
fn profile_namespaces() {
    let source = r#"{"platform":"discord","chat_type":"group","chat_id":"chan1","user_id":"userX"}"#;
    let cases = [
        ("reviewer", "agent:reviewer:discord:group:chan1:userX\n"),
        ("main", "agent:main~:discord:group:chan1:userX\n"),
        ("default", "agent:main:discord:group:chan1:userX\n"),
        ("", "agent:main:discord:group:chan1:userX\n"),
    ];
    for (profile, expected) in cases {
        assert_eq!(
            keys(&["--profile", profile], source),
            (expected.to_owned(), String::new(), 0),
            "{profile:?}"
        );
    }
}

#[test]
fn the_sources_own_profile_field_is_ignored() {
    let source = r#"{"platform":"discord","chat_type":"group","chat_id":"chan1","user_id":"userX","profile":"reviewer"}"#;
    assert_eq!(keys(&[], source), ("agent:main:discord:group:chan1:userX\n".to_owned(), String::new(), 0));
    assert_eq!(
        keys(&["--profile", "ops"], source),
        ("agent:ops:discord:group:chan1:userX\n".to_owned(), String::new(), 0)
    );
}

#[test]
fn sources_are_read_leniently() {
    // Python-style separators, CRLF, numeric ids, an unknown platform name and unknown keys.
    let stdin = concat!(
        r#"{"platform": " Telegram ", "chat_type": "group", "chat_id": -100, "user_id": 7, "x": [1]}"#,
        "\r\n",
        r#"{"platform": "myspace", "chat_id": "c"}"#,
        "\n",
        r#"{"platform": "discord", "chat_type": null, "chat_id": "d", "guild_id": "g"}"#
    );
    assert_eq!(
        keys(&[], stdin),
        (
            "agent:main:telegram:group:-100:7\nagent:main:relay:dm:c\nagent:main:discord:dm:d\n".to_owned(),
            String::new(),
            0
        )
    );
}

#[test]
fn bad_lines_are_reported_and_skipped() {
    let stdin = concat!(
        r#"{"platform":"telegram","chat_type":"dm","chat_id":"111"}"#,
        "\n",
        "not json\n",
        "\n",
        "[1]\n",
        r#"{"platform":"telegram","chat_type":5}"#,
        "\n",
        "\u{FFFD}\n",
        r#"{"platform":"slack","chat_type":"group","scope_id":"T1","chat_id":"C1","user_id":"U1"}"#,
        "\n",
        "   \n",
        r#"{"platform":"telegram","user_id":{"a":1}}"#,
        "\n"
    );
    let (stdout, stderr, code) = keys(&[], stdin);
    assert_eq!(stdout, "agent:main:telegram:dm:111\nagent:main:slack:group:T1:C1:U1\n");
    assert_eq!(
        stderr,
        concat!(
            "line 2: not JSON (expected ident at line 1 column 2)\n",
            "line 4: not a JSON object; each line must be one SessionSource object\n",
            "line 5: chat_type: expected a string, got a number\n",
            "line 6: not JSON (expected value at line 1 column 1)\n",
            "line 9: user_id: expected a string, got an object\n",
        )
    );
    assert_eq!(code, 1);
}

#[test]
fn invalid_utf8_line_is_a_bad_line() {
    let output =
        common::relay().arg("session-key").write_stdin(&b"\xff{}\n{}\n"[..]).output().expect("relay runs");
    assert_eq!(String::from_utf8_lossy(&output.stdout), "agent:main:relay:dm\n");
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "line 1: not UTF-8 (invalid utf-8 sequence of 1 bytes from index 0)\n"
    );
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn blank_lines_and_a_last_line_without_newline() {
    assert_eq!(
        keys(&[], "\n\n{\"platform\":\"telegram\"}\n \n{\"platform\":\"signal\"}"),
        ("agent:main:telegram:dm\nagent:main:signal:dm\n".to_owned(), String::new(), 0)
    );
    assert_eq!(keys(&[], ""), (String::new(), String::new(), 0));
}

#[test]
fn bool_flags_take_true_or_false() {
    let (stdout, stderr, code) = keys(&["--group-per-user", "yes"], "{}\n");
    assert_eq!((stdout.as_str(), code), ("", 2));
    assert!(stderr.contains("invalid value 'yes' for '--group-per-user <BOOL>'"), "{stderr}");
}

#[test]
fn lone_surrogate_escapes_are_repaired_as_in_decode() {
    let (out, err, code) =
        keys(&[], "{\"platform\":\"telegram\",\"chat_type\":\"dm\",\"chat_id\":\"a\\ud83d\"}\n");
    assert_eq!((out.as_str(), err.as_str(), code), ("agent:main:telegram:dm:a\u{FFFD}\n", "", 0));
}
