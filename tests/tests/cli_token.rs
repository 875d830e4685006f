//! `relay token mint|verify` (CLI.md, PROTOCOL §8).

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use common::run;

/// PROTOCOL §8 vector: gateway `gw-test`, secret `s3cret`, exp `1700000300`.
const TOKEN_1700000300: &str = "Z3ctdGVzdDoxNzAwMDAwMzAwOmZkMGI1YmUzYTMxMDNhNDU0YWEwMDkyYmM3NjU4OWZmZjAwY2ZjYWQ3YjFiMmI4Njk4ZTVkMjgyZTc2YThiOTc";
/// PROTOCOL §8 vector: gateway `gw-test`, secret `s3cret`, exp `0`.
const TOKEN_NEVER: &str =
    "Z3ctdGVzdDowOjE4ZjkyNDk3NWM3MDk3NmQwYjQ3MzlhZWYwYzQxNWFmYjMxNmI5MjQ0M2RkZGQxMDVjYjJlNmNjNjZhNGM5NzA";

fn token(args: &[&str]) -> (String, String, i32) {
    let mut full = vec!["token"];
    full.extend_from_slice(args);
    run(&full, "")
}

fn ok(stdout: &str) -> (String, String, i32) {
    (format!("{stdout}\n"), String::new(), 0)
}

fn rejected(reason: &str) -> (String, String, i32) {
    (format!("{reason}\n"), String::new(), 1)
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_secs()
}

#[test]
fn mint_reproduces_the_protocol_vectors() {
    assert_eq!(
        token(&["mint", "--gateway-id", "gw-test", "--secret", "s3cret", "--exp", "1700000300"]),
        ok(TOKEN_1700000300)
    );
    assert_eq!(
        token(&["mint", "--gateway-id", "gw-test", "--secret", "s3cret", "--exp", "0"]),
        ok(TOKEN_NEVER)
    );
}

#[test]
fn verify_before_at_and_after_expiry() {
    for now in ["1700000000", "1700000300"] {
        assert_eq!(
            token(&["verify", TOKEN_1700000300, "--secret", "s3cret", "--now", now]),
            ok("ok gw-test 1700000300")
        );
    }
    assert_eq!(
        token(&["verify", TOKEN_1700000300, "--secret", "s3cret", "--now", "1700000301"]),
        rejected("expired")
    );
}

#[test]
fn never_expiring_token_verifies_unless_a_maximum_lifetime_is_set() {
    assert_eq!(
        token(&["verify", TOKEN_NEVER, "--secret", "s3cret", "--now", "4000000000"]),
        ok("ok gw-test 0")
    );
    assert_eq!(
        token(&[
            "verify",
            TOKEN_NEVER,
            "--secret",
            "s3cret",
            "--now",
            "1700000000",
            "--max-lifetime",
            "3600"
        ]),
        rejected("unauthorized")
    );
}

#[test]
fn wrong_secret_is_unauthorized() {
    assert_eq!(
        token(&["verify", TOKEN_1700000300, "--secret", "other", "--now", "1700000000"]),
        rejected("unauthorized")
    );
    // Checked before expiry: a forged old token says nothing about its age.
    assert_eq!(
        token(&["verify", TOKEN_1700000300, "--secret", "other", "--now", "1800000000"]),
        rejected("unauthorized")
    );
}

#[test]
fn malformed_tokens_are_unauthorized() {
    for bad in ["", "Bearer", "not-a-token", "Z3ctdGVzdA", &TOKEN_1700000300[..TOKEN_1700000300.len() - 2]] {
        assert_eq!(
            token(&["verify", bad, "--secret", "s3cret", "--now", "1700000000"]),
            rejected("unauthorized"),
            "{bad:?}"
        );
    }
}

#[test]
fn bearer_prefix_is_accepted() {
    let bearer = format!("Bearer {TOKEN_1700000300}");
    assert_eq!(
        token(&["verify", &bearer, "--secret", "s3cret", "--now", "1700000000"]),
        ok("ok gw-test 1700000300")
    );
}

#[test]
fn any_secret_of_a_rotation_list_verifies() {
    for secrets in [["s3cret", "next"], ["next", "s3cret"]] {
        let args = [
            "verify",
            TOKEN_1700000300,
            "--secret",
            secrets[0],
            "--secret",
            secrets[1],
            "--now",
            "1700000000",
        ];
        assert_eq!(token(&args), ok("ok gw-test 1700000300"), "{secrets:?}");
    }
    let args = ["verify", TOKEN_1700000300, "--secret", "old", "--secret", "next", "--now", "1700000000"];
    assert_eq!(token(&args), rejected("unauthorized"));
}

#[test]
fn maximum_lifetime_bounds_exp() {
    let verify = |max: &str| {
        token(&[
            "verify",
            TOKEN_1700000300,
            "--secret",
            "s3cret",
            "--now",
            "1700000000",
            "--max-lifetime",
            max,
        ])
    };
    assert_eq!(verify("300"), ok("ok gw-test 1700000300"));
    assert_eq!(verify("299"), rejected("unauthorized"));
}

#[test]
fn gateway_id_with_colons_round_trips() {
    let (minted, stderr, code) =
        token(&["mint", "--gateway-id", "team:gw:1", "--secret", "k", "--exp", "1700000300"]);
    assert_eq!((stderr.as_str(), code), ("", 0));
    let minted = minted.trim_end();
    assert_eq!(
        token(&["verify", minted, "--secret", "k", "--now", "1700000000"]),
        ok("ok team:gw:1 1700000300")
    );
}

#[test]
fn default_ttl_mint_verifies_now() {
    let before = now();
    let (minted, stderr, code) = token(&["mint", "--gateway-id", "gw-now", "--secret", "s3cret"]);
    let after = now();
    assert_eq!((stderr.as_str(), code), ("", 0));
    let minted = minted.strip_suffix('\n').expect("token ends with a newline");
    let (stdout, _, code) = token(&["verify", minted, "--secret", "s3cret"]);
    assert_eq!(code, 0, "{stdout}");
    let exp: u64 =
        stdout.trim_end().strip_prefix("ok gw-now ").expect("ok line").parse().expect("exp is a number");
    assert!((before + 300..=after + 300).contains(&exp), "{exp} not 300 s after [{before}, {after}]");
    // Five minutes and a second later it has expired.
    let later = (exp + 1).to_string();
    assert_eq!(token(&["verify", minted, "--secret", "s3cret", "--now", &later]), rejected("expired"));
}

#[test]
fn ttl_sets_exp_relative_to_now() {
    let before = now();
    let (minted, _, code) = token(&["mint", "--gateway-id", "gw", "--secret", "s", "--ttl", "60"]);
    assert_eq!(code, 0);
    let (stdout, _, _) = token(&["verify", minted.trim_end(), "--secret", "s", "--now", &before.to_string()]);
    let exp: u64 =
        stdout.trim_end().strip_prefix("ok gw ").expect("ok line").parse().expect("exp is a number");
    assert!((before + 60..=now() + 60).contains(&exp), "{exp}");
}

#[test]
fn exp_and_ttl_conflict() {
    let (stdout, stderr, code) =
        token(&["mint", "--gateway-id", "gw", "--secret", "s", "--exp", "1", "--ttl", "5"]);
    assert_eq!((stdout.as_str(), code), ("", 2));
    assert!(stderr.contains("'--exp <UNIX>' cannot be used with '--ttl <SECS>'"), "{stderr}");
}

#[test]
fn blank_secrets_are_usage_errors_that_never_echo_the_secret() {
    let sentence = "error: a --secret is empty or whitespace-only; pass the real shared secret.\n";
    let cases: [&[&str]; 4] = [
        &["mint", "--gateway-id", "gw-test", "--secret", " \t "],
        &["mint", "--gateway-id", "gw-test", "--secret", ""],
        &["verify", TOKEN_1700000300, "--secret", "   "],
        &["verify", TOKEN_1700000300, "--secret", "s3cret", "--secret", " "],
    ];
    for args in cases {
        assert_eq!(token(args), (String::new(), sentence.to_owned(), 2), "{args:?}");
    }
}

#[test]
fn blank_gateway_id_is_a_usage_error() {
    assert_eq!(
        token(&["mint", "--gateway-id", " ", "--secret", "s3cret"]),
        (String::new(), "error: the gateway id is empty; pass a non-empty --gateway-id.\n".to_owned(), 2)
    );
}

#[test]
fn verify_needs_a_secret() {
    let (stdout, stderr, code) = token(&["verify", TOKEN_1700000300]);
    assert_eq!((stdout.as_str(), code), ("", 2));
    assert!(stderr.contains("--secret <S>"), "{stderr}");
}
