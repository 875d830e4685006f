//! The connector checks, one entry per rule, and the small ones themselves
//! (the upgrade, the handshake, going idle, keepalive); the others live in
//! files of their concern.

use relay_core::wire::Object;

use super::session::{ANSWER_WAIT, Chunking, LINGER, Next, Session, Token, close_text, frame_type};
use super::shape::descriptor_problems;
use super::{Judge, Probe, auth, framing, ops, pushes};
use crate::conform::{Check, Verdict};

/// The path `upgrade_path` expects to be refused.
const WRONG_PATH: &str = "/not-relay";

/// Every connector check, in the order they run. The push checks come
/// first: a connector may push its traffic only at a gateway's first
/// handshake.
pub(crate) const TABLE: &[Check<Judge>] = &[
    Check {
        name: "pushes_live",
        section: "§2",
        passes: "with --expect-pushes: a live `inbound` (no `bufferId`, a well-formed event) arrives within 4 s of the handshake",
        judge: |probe| Box::pin(pushes::pushes_live(probe)),
    },
    Check {
        name: "replay_after_idle",
        section: "§8",
        passes: "with --expect-pushes: after `going_idle_ack` and a disconnect, the next handshake replays the traffic buffered meanwhile with `bufferId`s, again in order while unacknowledged, never after `inbound_ack`",
        judge: |probe| Box::pin(pushes::replay_after_idle(probe)),
    },
    Check {
        name: "upgrade_path",
        section: "§8",
        passes: "the upgrade on the URL's path (`/relay`) is accepted; one on `/not-relay` is refused or closed unanswered",
        judge: |probe| Box::pin(upgrade_path(probe)),
    },
    Check {
        name: "auth_no_token",
        section: "§8",
        passes: "with auth: an upgrade without a token is closed with 4401 `unauthorized`",
        judge: |probe| Box::pin(auth::auth_no_token(probe)),
    },
    Check {
        name: "auth_bad_signature",
        section: "§8",
        passes: "with auth: a token signed with another secret is closed with 4401 `unauthorized`",
        judge: |probe| Box::pin(auth::auth_bad_signature(probe)),
    },
    Check {
        name: "auth_expired",
        section: "§8",
        passes: "with auth: a correctly signed token that expired is closed with 4401 `expired`",
        judge: |probe| Box::pin(auth::auth_expired(probe)),
    },
    Check {
        name: "auth_good_token",
        section: "§8",
        passes: "with auth: a freshly minted token is accepted and the hello answered",
        judge: |probe| Box::pin(auth::auth_good_token(probe)),
    },
    Check {
        name: "descriptor_per_hello",
        section: "§3",
        passes: "N hellos get exactly N descriptors, in hello order, none extra",
        judge: |probe| Box::pin(descriptor_per_hello(probe)),
    },
    Check {
        name: "descriptor_shape",
        section: "§3",
        passes: "every descriptor has each required field with its type, optional ones typed, `supported_ops` a list of non-empty strings",
        judge: |probe| Box::pin(descriptor_shape(probe)),
    },
    Check {
        name: "supported_ops_complete",
        section: "§3",
        passes: "a non-empty `supported_ops` names every op accepted: each legacy op it leaves out is not accepted",
        judge: |probe| Box::pin(ops::supported_ops_complete(probe)),
    },
    Check {
        name: "unlisted_op_answered",
        section: "§5",
        passes: "an op outside the supported set (`conform_probe`) gets an `outbound_result` with success:false",
        judge: |probe| Box::pin(ops::unlisted_op_answered(probe)),
    },
    Check {
        name: "results_exactly_once",
        section: "§5",
        passes: "requests in flight together are each answered exactly once, by `requestId`, with a result object holding a bool `success`",
        judge: |probe| Box::pin(ops::results_exactly_once(probe)),
    },
    Check {
        name: "unknown_identity",
        section: "§8",
        passes: "a request tagged with an identity that did not hello fails with code `unknown_identity`",
        judge: |probe| Box::pin(ops::unknown_identity(probe)),
    },
    Check {
        name: "going_idle_ack",
        section: "§8",
        passes: "`going_idle` is answered with `going_idle_ack`",
        judge: |probe| Box::pin(going_idle_ack(probe)),
    },
    Check {
        name: "chunking_invariance",
        section: "§1",
        passes: "the same hellos and requests get the same answers sent one frame per message, one byte per message, and in two halves",
        judge: |probe| Box::pin(framing::chunking_invariance(probe)),
    },
    Check {
        name: "bad_lines_skipped",
        section: "§1",
        passes: "bad lines (not JSON, not an object, no or unknown `type`, wrong direction, bad fields, blank) are skipped: the request after each is answered",
        judge: |probe| Box::pin(framing::bad_lines_skipped(probe)),
    },
    Check {
        name: "keepalive_ping",
        section: "§8",
        passes: "a WebSocket ping is answered with a pong",
        judge: |probe| Box::pin(keepalive_ping(probe)),
    },
];

/// Only the URL's path is upgraded.
async fn upgrade_path(probe: &Probe) -> Verdict {
    match Session::open(probe, Token::Good).await {
        Ok(session) => session.close().await,
        Err(e) => return Verdict::fail(e),
    }
    let wrong = probe.target.with_path(WRONG_PATH);
    let mut session = match Session::open_at(probe, &wrong, Token::Good).await {
        Ok(session) => session,
        Err(e) => return Verdict::pass(format!("the upgrade on `{WRONG_PATH}` was refused ({e})")),
    };
    // A connector may accept the upgrade and close at once: that is a refusal too.
    let _ = session.send_frames(&probe.hellos(), Chunking::Whole).await;
    let (closed, frames) = session.closed_within(ANSWER_WAIT).await;
    if frames.iter().any(|f| frame_type(f) == Some("descriptor")) {
        return Verdict::fail(format!("an upgrade on `{WRONG_PATH}` was accepted and its hello answered"));
    }
    match closed {
        Some((code, reason)) => Verdict::pass(format!(
            "the upgrade on `{WRONG_PATH}` was closed unanswered ({})",
            close_text(code, &reason)
        )),
        None => {
            session.close().await;
            Verdict::fail(format!("an upgrade on `{WRONG_PATH}` was accepted and kept open"))
        }
    }
}

/// Every descriptor one connection got for the probe's hellos within
/// [`ANSWER_WAIT`] (and a [`LINGER`] after the last one expected), and how
/// the link ended when it did.
async fn descriptors(probe: &Probe) -> Result<(Vec<Object>, Option<String>), String> {
    let mut session = Session::open(probe, Token::Good).await?;
    session.send_frames(&probe.hellos(), Chunking::Whole).await?;
    let expected = probe.identities.len();
    let mut deadline = tokio::time::Instant::now() + ANSWER_WAIT;
    let mut found = Vec::new();
    let ended = loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match session.next(left).await {
            Next::Frame(frame) if frame_type(&frame) == Some("descriptor") => {
                found.push(frame);
                if found.len() == expected {
                    deadline = tokio::time::Instant::now() + LINGER;
                }
            }
            Next::Frame(_) => {}
            Next::Closed { code, reason } => {
                break Some(format!("{}{}", close_text(code, &reason), session.refusal_hint(probe)));
            }
            Next::Silent => break None,
        }
    };
    if ended.is_none() {
        session.close().await;
    }
    Ok((found, ended))
}

/// Exactly one descriptor per hello, in order.
async fn descriptor_per_hello(probe: &Probe) -> Verdict {
    let (found, ended) = match descriptors(probe).await {
        Ok(found) => found,
        Err(e) => return Verdict::fail(e),
    };
    let hellos = probe.identities.len();
    let closed = ended.map(|e| format!(" before the link closed ({e})")).unwrap_or_default();
    if found.len() != hellos {
        return Verdict::fail(format!(
            "{} got {}{closed}",
            count(hellos, "hello"),
            count(found.len(), "descriptor")
        ));
    }
    if let Some(n) = out_of_order(&probe.identities, &found) {
        return Verdict::fail(format!(
            "descriptor {n} names another hello's platform: descriptors answered out of order"
        ));
    }
    let more = if hellos == 1 { " (pass two --identity flags to check several)" } else { "" };
    Verdict::pass(format!("{} got {}, in order{more}", count(hellos, "hello"), count(hellos, "descriptor")))
}

/// The 1-based index of the first descriptor whose platform is another
/// hello's, when every descriptor names the platform of some hello (the
/// only case where order can be told from the outside).
fn out_of_order(identities: &[(String, String)], found: &[Object]) -> Option<usize> {
    let platform = |frame: &Object| {
        frame
            .get("descriptor")
            .and_then(|d| d.get("platform"))
            .and_then(|p| p.as_str())
            .map(|p| p.trim().to_lowercase())
    };
    let hellos: Vec<String> = identities.iter().map(|(p, _)| p.trim().to_lowercase()).collect();
    let named: Vec<Option<String>> = found.iter().map(platform).collect();
    if !named.iter().all(|p| p.as_ref().is_some_and(|p| hellos.contains(p))) {
        return None;
    }
    named.iter().zip(&hellos).position(|(got, hello)| got.as_ref() != Some(hello)).map(|i| i + 1)
}

/// Every descriptor received has the §3 shape.
async fn descriptor_shape(probe: &Probe) -> Verdict {
    let (found, ended) = match descriptors(probe).await {
        Ok(found) => found,
        Err(e) => return Verdict::fail(e),
    };
    if found.is_empty() {
        let why = ended.map_or_else(
            || format!("within {} s", ANSWER_WAIT.as_secs()),
            |e| format!("before the link closed ({e})"),
        );
        return Verdict::fail(format!("no descriptor {why}"));
    }
    for (i, frame) in found.iter().enumerate() {
        let problems = descriptor_problems(frame);
        if !problems.is_empty() {
            return Verdict::fail(format!("descriptor {} {}", i + 1, problems.join("; ")));
        }
    }
    Verdict::pass(format!("{}, each with every required field typed", count(found.len(), "descriptor")))
}

/// "1 hello", "2 hellos".
fn count(n: usize, noun: &str) -> String {
    if n == 1 { format!("1 {noun}") } else { format!("{n} {noun}s") }
}

/// `going_idle` gets `going_idle_ack`.
async fn going_idle_ack(probe: &Probe) -> Verdict {
    let (mut session, _) = match Session::handshake(probe).await {
        Ok(found) => found,
        Err(e) => return Verdict::fail(e),
    };
    let verdict = match session.send_text("{\"type\":\"going_idle\"}\n".to_owned()).await {
        Err(e) => Verdict::fail(e),
        Ok(()) => match session.expect_type("going_idle_ack", ANSWER_WAIT).await {
            Ok(_) => Verdict::pass("`going_idle` was answered with `going_idle_ack`"),
            Err(e) => Verdict::fail(format!("after `going_idle`: {e}")),
        },
    };
    session.close().await;
    verdict
}

/// A ping gets its pong. The hellos go out first (a connector may close a
/// link that never says hello), but the descriptor is not awaited: the
/// handshake is other checks' concern.
async fn keepalive_ping(probe: &Probe) -> Verdict {
    const PAYLOAD: &[u8] = b"relay-conform";
    let mut session = match Session::open(probe, Token::Good).await {
        Ok(session) => session,
        Err(e) => return Verdict::fail(e),
    };
    let sent = match session.send_frames(&probe.hellos(), Chunking::Whole).await {
        Ok(()) => session.ping(PAYLOAD).await,
        Err(e) => Err(e),
    };
    let verdict = match sent {
        Err(e) => Verdict::fail(e),
        Ok(()) if session.pong(PAYLOAD, ANSWER_WAIT).await => {
            Verdict::pass("a ping was answered with its pong")
        }
        Ok(()) => Verdict::fail(format!("no pong for a ping within {} s", ANSWER_WAIT.as_secs())),
    };
    session.close().await;
    verdict
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn descriptor(platform: &str) -> Object {
        let Value::Object(frame) = json!({"type": "descriptor", "descriptor": {"platform": platform}}) else {
            unreachable!()
        };
        frame
    }

    #[test]
    fn order_is_judged_only_when_every_descriptor_names_a_hello() {
        let hellos = [("discord".to_owned(), "d1".to_owned()), ("telegram".to_owned(), String::new())];
        assert_eq!(out_of_order(&hellos, &[descriptor("discord"), descriptor("Telegram")]), None);
        assert_eq!(out_of_order(&hellos, &[descriptor("telegram"), descriptor("discord")]), Some(1));
        assert_eq!(out_of_order(&hellos, &[descriptor("relay"), descriptor("discord")]), None, "undecidable");
    }

    #[test]
    fn check_names_are_unique_snake_case() {
        let names: std::collections::BTreeSet<&str> = TABLE.iter().map(|c| c.name).collect();
        assert_eq!(names.len(), TABLE.len());
        assert!(names.iter().all(|n| n.chars().all(|c| c.is_ascii_lowercase() || c == '_')));
    }
}
