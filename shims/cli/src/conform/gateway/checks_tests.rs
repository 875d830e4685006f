//! The judging functions on hand-made transcripts: a conforming session,
//! then one departure at a time.

use std::time::Duration;

use relay_core::policy::{Secret, TokenVerifier, mint_token};
use serde_json::json;

use super::super::observation::{
    BufferedStimulus, Connection, Cut, End, EndedBy, Observation, PushStimulus, Received, ResultsStimulus,
    Step, Stimulus,
};
use super::TABLE;
use crate::conform::report::Outcome;

const UNIX: u64 = 1_700_000_000;
const ID_A: &str = "9f1c2b3a4d5e4f60a1b2c3d4e5f60718";
const ID_B: &str = "0a1b2c3d4e5f4a6b8c7d6e5f4a3b2c1d";

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn frame(at: u64, value: serde_json::Value) -> Received {
    Received::new(ms(at), value.to_string())
}

fn hello(at: u64) -> Received {
    frame(at, json!({"type": "hello", "platform": "discord", "botId": "b1"}))
}

fn outbound(at: u64, id: &str) -> Received {
    frame(at, json!({"type": "outbound", "requestId": id, "action": {"op": "send"}}))
}

fn ack(at: u64, id: &str) -> Received {
    frame(at, json!({"type": "inbound_ack", "bufferId": id}))
}

fn bearer(exp: u64) -> Option<String> {
    let secret = Secret::new("s3cret").expect("a secret");
    Some(format!("Bearer {}", mint_token("gw", exp, &secret)))
}

/// A connection accepted at `at` ms, ended by the conformer with `how` at `end` ms.
fn conn(at: u64, descriptor: Option<u64>, end: u64, how: Stimulus) -> Connection {
    let unix = UNIX + at / 1000;
    let mut frames = Vec::new();
    if how != Stimulus::Refused {
        frames.push(hello(at + 5));
    }
    Connection {
        accepted_at: ms(at),
        accepted_unix: unix,
        path: "/relay".into(),
        authorization: bearer(unix + 300),
        descriptor_at: descriptor.map(ms),
        frames,
        pong_at: None,
        end: Some(End { at: ms(end), by: EndedBy::Conformer(how) }),
    }
}

/// What a conforming gateway leaves: requests held, acks for every
/// bufferId, the ladder after the drops, the 4401 policy.
fn conforming() -> Observation {
    let buffer_ids: Vec<String> = (1..=4).map(|n| format!("b{n}")).collect();
    let mut first = conn(100, Some(600), 5000, Stimulus::Drop);
    first.frames.extend([outbound(610, ID_A), outbound(611, ID_B)]);
    first.frames.extend(buffer_ids.iter().map(|id| ack(3500, id)));
    first.pong_at = Some(ms(2901));
    Observation {
        wait: Duration::from_secs(20),
        verifier: Some(TokenVerifier::new(Secret::new("s3cret"))),
        expect_requests: true,
        expect_acks: true,
        connections: vec![
            first,
            conn(5800, Some(5960), 6000, Stimulus::Drop),
            conn(7500, Some(7660), 7700, Stimulus::Expired),
            conn(10_500, Some(10_660), 10_700, Stimulus::Unauthorized),
            conn(10_703, None, 10_704, Stimulus::Refused),
        ],
        results: Some(ResultsStimulus { conn: 0, at: ms(620), request_id: ID_A.into() }),
        pushes: Some(PushStimulus { conn: 0, messages: 244, ping_at: ms(2900) }),
        buffered: Some(BufferedStimulus { conn: 0, buffer_ids }),
        cut: None,
    }
}

/// The outcome and detail of check `name` on `obs`.
fn judge(obs: &Observation, name: &str) -> (Outcome, String) {
    let check = TABLE.iter().find(|c| c.name == name).expect("a check of that name");
    let verdict = (check.judge)(obs);
    (verdict.outcome, verdict.detail)
}

/// Asserts check `name` fails on `obs` with a detail containing `words`.
fn assert_fails(obs: &Observation, name: &str, words: &str) {
    let (outcome, detail) = judge(obs, name);
    assert_eq!(outcome, Outcome::Fail, "{name}: {detail}");
    assert!(detail.contains(words), "{name}: {detail:?} lacks {words:?}");
}

/// Asserts check `name` fails on `obs`, and every other check passes (or skips as on a conforming run).
fn assert_only(obs: &Observation, name: &str, words: &str) {
    assert_fails(obs, name, words);
    let baseline = conforming();
    for check in TABLE.iter().filter(|c| c.name != name) {
        assert_eq!(judge(obs, check.name).0, judge(&baseline, check.name).0, "{}", check.name);
    }
}

#[test]
fn a_conforming_session_passes_everything_but_the_unprompted_shutdown() {
    let obs = conforming();
    for check in TABLE {
        let (outcome, detail) = judge(&obs, check.name);
        let expected = if check.name == "going_idle_on_close" { Outcome::Skip } else { Outcome::Pass };
        assert_eq!(outcome, expected, "{}: {detail}", check.name);
        assert!(detail.ends_with('.'), "{}: {detail}", check.name);
    }
    assert!(judge(&obs, "redial_ladder").1.contains("800 ms after drop 1 (attempt 0 waits 500–1000 ms)"));
}

#[test]
fn no_dial_fails_every_check_naming_the_wait() {
    let obs = Observation {
        cut: Some(Cut { step: Step::Dial, detail: "no gateway dialled ws://x/relay within 20 s".into() }),
        ..Observation::default()
    };
    for check in TABLE {
        assert_fails(&obs, check.name, "no gateway dialled ws://x/relay within 20 s.");
    }
}

#[test]
fn a_cut_fails_its_step_and_skips_the_later_ones() {
    let mut obs = conforming();
    obs.connections.truncate(1);
    obs.connections[0].end =
        Some(End { at: ms(2950), by: EndedBy::GatewayClose { code: 1000, reason: String::new() } });
    obs.buffered = None;
    obs.cut =
        Some(Cut { step: Step::Pushes, detail: "the gateway ended connection 1 during the pushes".into() });
    assert_fails(&obs, "pushes_tolerated", "during the pushes");
    for later in ["buffered_acked", "redial_ladder", "expired_4401", "revoked_4401"] {
        let (outcome, detail) = judge(&obs, later);
        assert_eq!(outcome, Outcome::Skip, "{later}");
        assert!(detail.starts_with("not reached: the gateway ended connection 1"), "{detail}");
    }
    assert_eq!(judge(&obs, "hello_shape").0, Outcome::Pass);
    assert_eq!(judge(&obs, "going_idle_on_close").0, Outcome::Skip, "going_idle was never offered");
}

#[test]
fn tokens_must_verify_and_be_minted_for_each_dial() {
    let mut obs = conforming();
    obs.connections[3].authorization = obs.connections[0].authorization.clone();
    assert_only(&obs, "upgrade_token", "dial 4 expires at 1700000300, 10 s before");

    let mut obs = conforming();
    obs.connections[1].authorization = None;
    assert_only(&obs, "upgrade_token", "dial 2 carried no Authorization header");

    let mut obs = conforming();
    obs.connections[1].authorization = bearer(UNIX - 1);
    assert_only(&obs, "upgrade_token", "dial 2 had expired");

    let mut obs = conforming();
    obs.verifier = Some(TokenVerifier::new(Secret::new("another")));
    assert_fails(&obs, "upgrade_token", "does not verify with any --secret");

    let mut obs = conforming();
    obs.connections[2].authorization = bearer(0);
    assert_fails(&obs, "upgrade_token", "never expires");

    let mut obs = conforming();
    obs.connections[2].authorization = bearer(u64::MAX);
    assert_fails(&obs, "upgrade_token", "s after now + 300 s");

    let mut obs = conforming();
    obs.connections[0].path = "/".into();
    assert_fails(&obs, "upgrade_token", "dial 1 upgraded on \"/\"");
}

#[test]
fn without_a_secret_tokens_are_optional_but_all_or_none() {
    let mut obs = conforming();
    obs.verifier = None;
    assert!(judge(&obs, "upgrade_token").1.contains("signatures not verified"));
    obs.connections[4].authorization = None;
    assert_fails(&obs, "upgrade_token", "4 of 5 dials carried a token");
    for c in &mut obs.connections {
        c.authorization = None;
    }
    let (outcome, detail) = judge(&obs, "upgrade_token");
    assert_eq!(outcome, Outcome::Pass, "{detail}");
    assert!(detail.contains("as expected without --secret"));
}

#[test]
fn hellos_come_first_one_per_identity() {
    let mut obs = conforming();
    obs.connections[1].frames.push(hello(5806));
    assert_only(&obs, "hello_shape", "connection 2 sent two hellos for discord:b1");

    let mut obs = conforming();
    obs.connections[0]
        .frames
        .push(frame(700, json!({"type": "hello", "platform": "telegram", "botId": "t"})));
    assert_fails(&obs, "hello_shape", "connection 1 sent a hello after other frames");

    let mut obs = conforming();
    obs.connections[2].frames[0] = frame(7505, json!({"type": "hello", "platform": "discord"}));
    assert_fails(&obs, "hello_shape", "without a string platform and botId");

    let mut obs = conforming();
    obs.connections[3]
        .frames
        .push(frame(10_506, json!({"type": "hello", "platform": "slack", "botId": "s"})));
    assert_only(
        &obs,
        "hello_shape",
        "connection 4 announced discord:b1, slack:s where connection 1 announced discord:b1",
    );
}

#[test]
fn nothing_but_hellos_before_the_descriptor() {
    let mut obs = conforming();
    obs.connections[0].frames.insert(1, outbound(300, "1c2b3a4d5e6f4a7b8c9d0e1f2a3b4c5d"));
    assert_only(
        &obs,
        "requests_held",
        "connection 1 got a \"outbound\" frame 300 ms before its first descriptor",
    );

    let mut obs = conforming();
    obs.connections[4].frames.push(ack(10_703, "b1"));
    assert_fails(&obs, "requests_held", "although no descriptor was sent");
}

#[test]
fn request_ids_are_fresh_uuid4s() {
    let mut obs = conforming();
    obs.connections[1].frames.push(outbound(5970, ID_B));
    assert_only(
        &obs,
        "request_ids_unique",
        &format!("request id {ID_B} was used twice (on connections 1 and 2)"),
    );

    let mut obs = conforming();
    obs.connections[0].frames[2] = outbound(611, "0a1b2c3d-4e5f-4a6b-8c7d-6e5f4a3b2c1d");
    assert_fails(&obs, "request_ids_unique", "is not a UUIDv4 in simple form");

    let mut obs = conforming();
    obs.connections[0].frames[2] = outbound(611, "0a1b2c3d4e5f1a6b8c7d6e5f4a3b2c1d");
    assert_fails(&obs, "request_ids_unique", "version nibble 4");
}

#[test]
fn silence_of_the_application_skips_unless_expected() {
    let mut obs = conforming();
    obs.connections[0].frames.retain(|f| f.kind() != Some("outbound"));
    obs.results = None;
    assert_fails(&obs, "request_ids_unique", "the gateway sent no request.");
    assert_fails(&obs, "results_ignored", "no request within 3 s");
    obs.expect_requests = false;
    for name in ["request_ids_unique", "results_ignored"] {
        let (outcome, detail) = judge(&obs, name);
        assert_eq!(outcome, Outcome::Skip, "{name}");
        assert!(detail.contains("--expect-requests"), "{detail}");
    }

    let mut obs = conforming();
    obs.connections[0].frames.retain(|f| f.kind() != Some("inbound_ack"));
    assert_only(&obs, "buffered_acked", "none of the 4 buffered frames was acked within 3 s.");
    obs.expect_acks = false;
    let (outcome, detail) = judge(&obs, "buffered_acked");
    assert_eq!(outcome, Outcome::Skip);
    assert!(detail.contains("--expect-acks"), "{detail}");
}

#[test]
fn a_duplicate_result_must_not_resend_the_request() {
    let mut obs = conforming();
    obs.connections[0].frames.push(outbound(700, ID_A));
    assert_fails(&obs, "results_ignored", &format!("request id {ID_A} was sent again (connection 1)"));
}

#[test]
fn the_ping_after_the_pushes_needs_its_pong() {
    let mut obs = conforming();
    obs.connections[0].pong_at = None;
    assert_only(&obs, "pushes_tolerated", "got no pong within 1 s");
}

#[test]
fn acks_name_exactly_the_buffered_frames() {
    let mut obs = conforming();
    obs.connections[0].frames.retain(|f| f.str_field("bufferId") != Some("b3"));
    assert_only(&obs, "buffered_acked", "3 of 4 buffered frames were acked; no inbound_ack for b3.");

    let mut obs = conforming();
    obs.connections[0].frames.push(ack(3600, "live"));
    assert_only(&obs, "buffered_acked", "connection 1 acked \"live\", which no frame carried");
}

#[test]
fn redials_follow_the_ladder() {
    let mut obs = conforming();
    obs.connections[1].accepted_at = ms(5012);
    assert_only(&obs, "redial_ladder", "re-dialled 12 ms after drop 1; attempt 0 waits 500–1000 ms.");

    let mut obs = conforming();
    obs.connections[2].accepted_at = ms(6000 + 2600);
    assert_fails(&obs, "redial_ladder", "re-dialled 2600 ms after drop 2; attempt 1 waits 1000–2000 ms.");

    let mut obs = conforming();
    obs.connections[2].accepted_at = ms(6000 + 960);
    assert_eq!(judge(&obs, "redial_ladder").0, Outcome::Pass, "50 ms early is tolerated");
}

#[test]
fn expired_is_a_normal_reconnect() {
    let mut obs = conforming();
    obs.connections[3].accepted_at = ms(7703);
    assert_only(&obs, "expired_4401", "re-dialled 3 ms after 4401 expired; attempt 2 waits 2000–4000 ms.");
}

#[test]
fn a_first_strike_redials_at_once_and_a_second_stops() {
    let mut obs = conforming();
    obs.connections[4].accepted_at = ms(10_700 + 4100);
    obs.connections[4].end = Some(End { at: ms(14_801), by: EndedBy::Conformer(Stimulus::Refused) });
    assert_only(&obs, "revoked_4401", "re-dialled 4100 ms after the first 4401 unauthorized");

    let mut obs = conforming();
    obs.connections.push(conn(10_716, None, 10_717, Stimulus::Refused));
    assert_fails(&obs, "revoked_4401", "dialled again 12 ms after the second 4401 unauthorized");
}

#[test]
fn going_idle_before_every_clean_close_once_offered() {
    let close =
        |at| Some(End { at: ms(at), by: EndedBy::GatewayClose { code: 1000, reason: String::new() } });
    let mut obs = conforming();
    obs.connections[0].frames.push(frame(4000, json!({"type": "going_idle"})));
    obs.connections[0].end = close(4100);
    let (outcome, detail) = judge(&obs, "going_idle_on_close");
    assert_eq!(outcome, Outcome::Pass, "{detail}");

    obs.connections[1].end = close(5990);
    assert_fails(&obs, "going_idle_on_close", "connection 2 was closed cleanly without going_idle");

    let mut obs = conforming();
    obs.connections[1].end = close(5990);
    let (outcome, detail) = judge(&obs, "going_idle_on_close");
    assert_eq!(outcome, Outcome::Skip, "never offered: {detail}");
}
