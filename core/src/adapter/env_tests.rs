use super::*;

const URL: (&str, &str) = (ENV_URL, "wss://c.example");

/// Variables to set, as name/value pairs.
type Vars<'a> = &'a [(&'a str, &'a str)];

fn read(vars: Vars) -> Result<EnvConfig, EnvError> {
    EnvConfig::from_lookup(|name| vars.iter().rev().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned()))
}

fn ids(config: &EnvConfig) -> Vec<(&str, &str)> {
    config.identities.iter().map(|i| (i.platform.as_str(), i.bot_id.as_str())).collect()
}

#[test]
fn url_is_required_trimmed_and_normalized() {
    for blank in [None, Some(""), Some("   \t")] {
        let vars: Vec<(&str, &str)> = blank.map(|v| (ENV_URL, v)).into_iter().collect();
        let err = read(&vars).unwrap_err();
        assert_eq!(err, EnvError::MissingUrl);
        let message = err.to_string();
        assert!(message.contains("GATEWAY_RELAY_URL") && !message.contains(". "), "one sentence: {message}");
    }
    let cases = [
        ("https://c.example", "wss://c.example/relay"),
        ("  http://localhost:8080/api/ \n", "ws://localhost:8080/api/relay"),
        ("wss://c.example/relay/", "wss://c.example/relay"),
        ("wss://c.example/relay", "wss://c.example/relay"),
    ];
    for (raw, expected) in cases {
        assert_eq!(read(&[(ENV_URL, raw)]).unwrap().url, expected, "{raw:?}");
    }
    let err = read(&[(ENV_URL, "ftp://c.example")]).unwrap_err();
    assert!(matches!(err, EnvError::BadUrl(UrlError::UnsupportedScheme(_))), "{err:?}");
    assert!(err.to_string().starts_with("GATEWAY_RELAY_URL is not a usable connector URL"));
}

#[test]
fn single_identity_defaults_and_overrides() {
    let cases: [(Vars, (&str, &str)); 5] = [
        (&[], ("relay", "")),
        (&[(ENV_BOT_ID, " 42 ")], ("relay", "42")),
        (&[(ENV_PLATFORM, " discord ")], ("discord", "")),
        (&[(ENV_PLATFORM, "  "), (ENV_BOT_ID, "")], ("relay", "")),
        (&[(ENV_PLATFORM, "telegram"), (ENV_BOT_ID, "bot7")], ("telegram", "bot7")),
    ];
    for (vars, expected) in cases {
        let mut all = vec![URL];
        all.extend_from_slice(vars);
        let config = read(&all).unwrap();
        assert_eq!(ids(&config), [expected], "{vars:?}");
        assert!(config.warnings.is_empty(), "{:?}", config.warnings);
    }
}

#[test]
fn platforms_list_with_bot_ids() {
    let config = read(&[
        URL,
        (ENV_PLATFORMS, " discord, ,telegram ,, Slack,"),
        (ENV_BOT_IDS, r#"{"discord": {"botId": "d1"}, "slack": {"botId": 99}, "matrix": {"botId": "m"}}"#),
    ])
    .unwrap();
    // Order kept, empties dropped, a platform missing from the map gets "", keys matched case-insensitively.
    assert_eq!(ids(&config), [("discord", "d1"), ("telegram", ""), ("Slack", "99")]);
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);
}

#[test]
fn platforms_win_over_the_single_identity() {
    let config = read(&[
        URL,
        (ENV_PLATFORM, "telegram"),
        (ENV_BOT_ID, "t1"),
        (ENV_PLATFORMS, "discord"),
        (ENV_BOT_IDS, r#"{"discord": {"botId": "d1"}}"#),
    ])
    .unwrap();
    assert_eq!(ids(&config), [("discord", "d1")]);
    assert_eq!(config.warnings.len(), 2, "{:?}", config.warnings);
    assert!(config.warnings[0].contains(ENV_PLATFORM) && config.warnings[1].contains(ENV_BOT_ID));
}

#[test]
fn malformed_bot_id_maps_give_empty_ids_and_a_warning() {
    for bad in [
        "not json",
        r#"["discord"]"#,
        r#"{"discord": "d1"}"#,
        r#"{"discord": {"id": "d1"}}"#,
        r#"{"discord": {"botId": true}}"#,
        r#"{"telegram": {"botId": "t"}, "discord": {"botId": null}}"#,
    ] {
        let config = read(&[URL, (ENV_PLATFORMS, "discord,telegram"), (ENV_BOT_IDS, bad)]).unwrap();
        assert_eq!(ids(&config), [("discord", ""), ("telegram", "")], "{bad}");
        assert_eq!(config.warnings.len(), 1, "{bad}");
        assert!(config.warnings[0].starts_with("GATEWAY_RELAY_BOT_IDS is "), "{:?}", config.warnings);
    }
}

#[test]
fn empty_platforms_list_falls_back_with_warnings() {
    let config = read(&[
        URL,
        (ENV_PLATFORMS, " , ,"),
        (ENV_PLATFORM, "discord"),
        (ENV_BOT_IDS, "{}"),
        (ENV_BOT_ID, "b"),
    ])
    .unwrap();
    assert_eq!(ids(&config), [("discord", "b")]);
    assert_eq!(config.warnings.len(), 2, "{:?}", config.warnings);
}

#[test]
fn auth_needs_both_id_and_a_non_blank_secret() {
    let on = read(&[URL, (ENV_GATEWAY_ID, " gw-test "), (ENV_SECRET, " s3cret ")]).unwrap();
    let auth = on.auth.as_ref().unwrap();
    assert_eq!(auth.gateway_id, "gw-test");
    assert_eq!(auth.secret.expose(), " s3cret ", "the secret is the HMAC key verbatim");
    assert!(on.warnings.is_empty());

    let cases: [(Vars, usize); 6] = [
        (&[], 0),
        (&[(ENV_GATEWAY_ID, "gw")], 1),
        (&[(ENV_SECRET, "s")], 1),
        (&[(ENV_GATEWAY_ID, "gw"), (ENV_SECRET, " \t\n")], 1),
        (&[(ENV_GATEWAY_ID, "  "), (ENV_SECRET, "s")], 1),
        (&[(ENV_GATEWAY_ID, ""), (ENV_SECRET, "")], 0),
    ];
    for (vars, warnings) in cases {
        let mut all = vec![URL];
        all.extend_from_slice(vars);
        let config = read(&all).unwrap();
        assert!(config.auth.is_none(), "{vars:?}");
        assert_eq!(config.warnings.len(), warnings, "{vars:?}: {:?}", config.warnings);
    }
}

#[test]
fn debug_never_prints_the_secret() {
    let config = read(&[URL, (ENV_GATEWAY_ID, "gw"), (ENV_SECRET, "hunter2-very-secret")]).unwrap();
    for text in [format!("{config:?}"), format!("{config:#?}"), format!("{:?}", config.auth)] {
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("redacted"), "{text}");
    }
}

#[test]
fn from_env_reads_the_process_environment_without_failing_oddly() {
    // The process environment is shared by parallel tests, so only check that
    // from_env agrees with a lookup over the same environment.
    let direct = EnvConfig::from_env();
    let via_lookup = EnvConfig::from_lookup(|name| std::env::var(name).ok());
    assert_eq!(direct.as_ref().err(), via_lookup.as_ref().err());
    assert_eq!(direct.map(|c| c.url).ok(), via_lookup.map(|c| c.url).ok());
}
