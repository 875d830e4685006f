//! `relay url` (CLI.md, PROTOCOL §8).

mod common;

use common::run;

fn url(arg: &str) -> (String, String, i32) {
    run(&["url", arg], "")
}

#[test]
fn protocol_examples() {
    let cases = [
        ("https://connector.example.com", "wss://connector.example.com/relay"),
        ("http://localhost:8080/api", "ws://localhost:8080/api/relay"),
        ("wss://x/relay", "wss://x/relay"),
    ];
    for (input, expected) in cases {
        assert_eq!(url(input), (format!("{expected}\n"), String::new(), 0), "{input}");
    }
}

#[test]
fn whitespace_and_trailing_slashes() {
    assert_eq!(
        url("  https://c.example.com/ \n"),
        ("wss://c.example.com/relay\n".to_owned(), String::new(), 0)
    );
    assert_eq!(url("ws://h:1/relay/"), ("ws://h:1/relay\n".to_owned(), String::new(), 0));
}

#[test]
fn normalizing_twice_changes_nothing() {
    for input in
        ["https://connector.example.com", "http://localhost:8080/api/", "wss://x/relay", "ws://h/a/relay//"]
    {
        let (once, _, code) = url(input);
        assert_eq!(code, 0, "{input}");
        assert_eq!(url(once.trim_end()), (once.clone(), String::new(), 0), "{input}");
    }
}

#[test]
fn bad_urls_are_one_sentence_on_stderr() {
    let cases = [
        (
            "ftp://files.example.com",
            "error: unsupported URL scheme in \"ftp://files.example.com\": use ws://, wss://, http:// or https://.\n",
        ),
        (
            "connector.example.com",
            "error: unsupported URL scheme in \"connector.example.com\": use ws://, wss://, http:// or https://.\n",
        ),
        ("   ", "error: the connector URL is empty: give a ws://, wss://, http:// or https:// URL.\n"),
        ("https://", "error: the connector URL has no host: write it like wss://connector.example.com.\n"),
    ];
    for (input, sentence) in cases {
        assert_eq!(url(input), (String::new(), sentence.to_owned(), 2), "{input:?}");
    }
}

#[test]
fn missing_url_is_a_usage_error() {
    let (stdout, stderr, code) = run(&["url"], "");
    assert_eq!((stdout.as_str(), code), ("", 2));
    assert!(stderr.contains("<URL>"), "{stderr}");
}
