//! `relay --help` and every subcommand's `--help` (CLI.md: every subcommand has examples).

mod common;

use common::run;

#[test]
fn relay_and_every_subcommand_have_help_with_examples() {
    let cases: [(&[&str], &str); 7] = [
        (&["--help"], "relay url https://connector.example.com"),
        (&["decode", "--help"], "relay decode"),
        (&["session-key", "--help"], "relay session-key"),
        (&["token", "--help"], "relay token mint"),
        (&["token", "mint", "--help"], "relay token mint --gateway-id gw-test --secret s3cret --ttl 60"),
        (
            &["token", "verify", "--help"],
            "relay token verify \"$TOKEN\" --secret s3cret --now 1700000301\n      expired",
        ),
        (&["url", "--help"], "relay url https://connector.example.com"),
    ];
    for (args, example) in cases {
        let (stdout, stderr, code) = run(args, "");
        assert_eq!((stderr.as_str(), code), ("", 0), "{args:?}");
        let examples = stdout
            .split_once("\nExamples:\n")
            .map(|(_, e)| e)
            .unwrap_or_else(|| panic!("{args:?}: {stdout}"));
        assert!(examples.contains(example), "{args:?}: {examples}");
    }
}

#[test]
fn top_level_help_lists_the_subcommands() {
    let (stdout, _, code) = run(&["--help"], "");
    assert_eq!(code, 0);
    for name in ["decode", "session-key", "token", "url"] {
        assert!(stdout.lines().any(|l| l.trim_start().starts_with(name)), "{name}: {stdout}");
    }
}

#[test]
fn no_subcommand_is_a_usage_error() {
    let (stdout, stderr, code) = run(&[], "");
    assert_eq!((stdout.as_str(), code), ("", 2));
    assert!(stderr.contains("Usage: relay <COMMAND>"), "{stderr}");
}
