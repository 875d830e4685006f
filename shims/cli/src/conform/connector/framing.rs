//! The framing checks (PROTOCOL §1): message boundaries carry no meaning,
//! and bad lines are skipped without harming the link.

use serde_json::{Value, json};

use super::Probe;
use super::actions::{STRANGER, valid_action};
use super::ops::{ask_on, exchange};
use super::session::{Chunking, Session, Token, outbound};
use super::shape::{Answer, accepted_ops, first_difference};
use crate::conform::Verdict;

/// The chunkings compared with one frame per message, and how details name them.
const VARIANTS: [(Chunking, &str); 2] = [
    (Chunking::Bytes, "one byte per message"),
    (Chunking::Halves, "several frames per message and a frame split across two"),
];

/// The same hellos and requests sent whole, byte by byte, and in halves get
/// the same answers.
pub(super) async fn chunking_invariance(probe: &Probe) -> Verdict {
    let reference = match answers(probe, Chunking::Whole).await {
        Ok(answers) => answers,
        Err(e) => return Verdict::fail(format!("sent one frame per message: {e}")),
    };
    for (chunking, name) in VARIANTS {
        match answers(probe, chunking).await {
            Ok(got) => {
                if let Some(difference) = first_difference(&reference, &got) {
                    return Verdict::fail(format!("sent {name}: {difference}"));
                }
            }
            Err(e) => return Verdict::fail(format!("sent {name}: {e}")),
        }
    }
    Verdict::pass(format!(
        "{} requests got the same answers sent whole, byte by byte, and in halves",
        reference.len()
    ))
}

/// One connection: hellos and then requests cut as `chunking` says; the
/// answers in request order.
async fn answers(probe: &Probe, chunking: Chunking) -> Result<Vec<Answer>, String> {
    let mut session = Session::open(probe, Token::Good).await?;
    session.send_frames(&probe.hellos(), chunking).await?;
    let descriptor = session.first_descriptor(probe).await?;
    let mut actions: Vec<Value> = valid_action("get_chat_info").into_iter().collect();
    actions.extend(accepted_ops(&descriptor).iter().find_map(|op| valid_action(op)));
    let ids: Vec<String> = (0..=actions.len()).map(|_| probe.request_id()).collect();
    let mut frames: Vec<Value> = ids.iter().zip(actions).map(|(id, action)| outbound(id, action)).collect();
    if let (Some(id), Some(action)) = (ids.last(), valid_action("get_chat_info")) {
        let mut tagged = outbound(id, action);
        tagged["platform"] = json!(STRANGER.0);
        tagged["botId"] = json!(STRANGER.1);
        frames.push(tagged);
    }
    let seen = exchange(&mut session, &ids, &frames, chunking).await;
    session.close().await;
    let seen = seen?;
    Ok((0..ids.len()).map(|i| seen.first(i).map_or(Answer::Missing, Answer::of)).collect())
}

/// The bad lines sent, each with how details name it (PROTOCOL §1's table).
fn bad_lines() -> Vec<(&'static str, String)> {
    let descriptor = json!({"type": "descriptor", "descriptor": {"contract_version": 1, "platform": "relay",
        "label": "x", "max_message_length": 1, "supports_draft_streaming": false, "supports_edit": false,
        "supports_threads": false, "markdown_dialect": "plain", "len_unit": "chars"}});
    vec![
        ("a line that is not JSON", r#"{"type": "outbound", "#.to_owned()),
        ("JSON that is not an object", r#"["outbound"]"#.to_owned()),
        ("an object without `type`", r#"{"requestId": "conform-no-type"}"#.to_owned()),
        ("an unknown `type`", r#"{"type": "conform_unknown_type"}"#.to_owned()),
        ("a frame going the wrong way (`descriptor`)", descriptor.to_string()),
        (
            "an `outbound` without `requestId`",
            r#"{"type": "outbound", "action": {"op": "get_chat_info", "chat_id": "c"}}"#.to_owned(),
        ),
        (
            "an `outbound` whose `action` is a string",
            r#"{"type": "outbound", "requestId": "conform-bad-action", "action": "send"}"#.to_owned(),
        ),
        ("a blank line", "   ".to_owned()),
    ]
}

/// Each bad line is skipped: a valid request after it is still answered.
pub(super) async fn bad_lines_skipped(probe: &Probe) -> Verdict {
    let (mut session, _) = match Session::handshake(probe).await {
        Ok(found) => found,
        Err(e) => return Verdict::fail(e),
    };
    let lines = bad_lines();
    for (name, line) in &lines {
        if let Err(e) = session.send_text(format!("{line}\n")).await {
            return Verdict::fail(format!("after {name}: {e}"));
        }
        let Some(action) = valid_action("get_chat_info") else { return Verdict::fail("no probe action") };
        if let Err(e) = ask_on(probe, &mut session, action, None).await {
            session.close().await;
            return Verdict::fail(format!("after {name}, {e}"));
        }
    }
    session.close().await;
    Verdict::pass(format!("{} bad lines were skipped; the request after each was answered", lines.len()))
}
