//! The request checks (PROTOCOL §3 `supported_ops`, §5 results, §8
//! identities), and [`exchange`], which sends outbounds and gathers every
//! result that names them.

use relay_core::wire::{LEGACY_OPS, Object};
use serde_json::Value;

use super::Probe;
use super::actions::{STRANGER, UNLISTED_OP, unlisted_action, valid_action};
use super::session::{ANSWER_WAIT, Chunking, LINGER, Next, Session, close_text, frame_type, outbound};
use super::shape::{accepted_ops, listed_ops};
use crate::conform::Verdict;

/// What came back for a burst of requests.
#[derive(Debug, Default)]
pub(super) struct Exchange {
    /// Per request, in sending order: every `outbound_result` naming it.
    pub(super) answers: Vec<Vec<Object>>,
    /// `requestId`s of results that name no request sent.
    pub(super) strangers: Vec<String>,
    /// How the link ended, when it did.
    pub(super) ended: Option<String>,
}

impl Exchange {
    /// The first result for request `i`, if any.
    pub(super) fn first(&self, i: usize) -> Option<&Object> {
        self.answers.get(i).and_then(|a| a.first())
    }
}

/// Sends one outbound per frame in `frames` (each already carrying its
/// `requestId`, listed in `ids`), cut as `chunking` says, then reads until
/// every request is answered or [`ANSWER_WAIT`] passed, and [`LINGER`]s
/// after that to catch late duplicates.
pub(super) async fn exchange(
    session: &mut Session,
    ids: &[String],
    frames: &[Value],
    chunking: Chunking,
) -> Result<Exchange, String> {
    session.send_frames(frames, chunking).await?;
    let mut seen = Exchange { answers: vec![Vec::new(); ids.len()], ..Exchange::default() };
    let mut deadline = tokio::time::Instant::now() + ANSWER_WAIT;
    let mut lingering = false;
    loop {
        if !lingering && seen.answers.iter().all(|a| !a.is_empty()) {
            lingering = true;
            deadline = tokio::time::Instant::now() + LINGER;
        }
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match session.next(left).await {
            Next::Frame(frame) if frame_type(&frame) == Some("outbound_result") => {
                let id = frame.get("requestId").and_then(Value::as_str).unwrap_or_default().to_owned();
                match ids.iter().position(|sent| *sent == id) {
                    Some(i) => seen.answers[i].push(frame),
                    None => seen.strangers.push(id),
                }
            }
            Next::Frame(_) => {}
            Next::Closed { code, reason } => {
                seen.ended = Some(close_text(code, &reason));
                return Ok(seen);
            }
            Next::Silent => return Ok(seen),
        }
    }
}

/// Sends `action` (tagged with `identity` when given) on a fresh handshake
/// and returns the first result for it; the error says what happened
/// instead.
async fn ask(probe: &Probe, action: Value, identity: Option<(&str, &str)>) -> Result<Object, String> {
    let (mut session, _) = Session::handshake(probe).await?;
    let answer = ask_on(probe, &mut session, action, identity).await;
    session.close().await;
    answer
}

/// [`ask`] on an open session (other checks probe with it between their own lines).
pub(super) async fn ask_on(
    probe: &Probe,
    session: &mut Session,
    action: Value,
    identity: Option<(&str, &str)>,
) -> Result<Object, String> {
    let op = action.get("op").and_then(Value::as_str).unwrap_or_default().to_owned();
    let id = probe.request_id();
    let mut frame = outbound(&id, action);
    if let (Some((platform, bot_id)), Some(object)) = (identity, frame.as_object_mut()) {
        object.insert("platform".into(), platform.into());
        object.insert("botId".into(), bot_id.into());
    }
    let seen = exchange(session, std::slice::from_ref(&id), &[frame], Chunking::Whole).await?;
    match (seen.first(0), &seen.ended) {
        (Some(result), _) => Ok(result.clone()),
        (None, Some(ended)) => {
            Err(format!("the connector closed the link ({ended}) instead of answering `{op}`"))
        }
        (None, None) => Err(format!("no `outbound_result` for `{op}` within {} s", ANSWER_WAIT.as_secs())),
    }
}

/// `result.success` of a result frame, when it is a bool.
fn success(frame: &Object) -> Option<bool> {
    frame.get("result").and_then(|r| r.get("success")).and_then(Value::as_bool)
}

/// §3: every legacy op a non-empty `supported_ops` leaves out must not be
/// accepted.
pub(super) async fn supported_ops_complete(probe: &Probe) -> Verdict {
    let (mut session, descriptor) = match Session::handshake(probe).await {
        Ok(found) => found,
        Err(e) => return Verdict::fail(e),
    };
    let Some(listed) = listed_ops(&descriptor) else {
        session.close().await;
        return Verdict::pass("`supported_ops` is absent or empty: the legacy set");
    };
    let unlisted: Vec<&str> =
        LEGACY_OPS.iter().copied().filter(|op| !listed.iter().any(|l| l == op)).collect();
    let ids: Vec<String> = unlisted.iter().map(|_| probe.request_id()).collect();
    let frames: Vec<Value> =
        ids.iter().zip(&unlisted).filter_map(|(id, op)| Some(outbound(id, valid_action(op)?))).collect();
    let seen = exchange(&mut session, &ids, &frames, Chunking::Whole).await;
    session.close().await;
    let seen = match seen {
        Ok(seen) => seen,
        Err(e) => return Verdict::fail(e),
    };
    let accepted: Vec<&str> = unlisted
        .iter()
        .enumerate()
        .filter(|(i, _)| seen.first(*i).and_then(success) == Some(true))
        .map(|(_, op)| *op)
        .collect();
    if !accepted.is_empty() {
        return Verdict::fail(format!(
            "`supported_ops` {listed:?} leaves out {}, yet the connector accepted {} with success:true",
            quoted(&unlisted),
            quoted(&accepted)
        ));
    }
    if unlisted.is_empty() {
        Verdict::pass(format!("`supported_ops` {listed:?} lists every legacy op"))
    } else {
        Verdict::pass(format!("the unlisted legacy ops {} were refused", quoted(&unlisted)))
    }
}

/// §5: an op outside the supported set gets a failure result, not silence.
pub(super) async fn unlisted_op_answered(probe: &Probe) -> Verdict {
    match ask(probe, unlisted_action(), None).await {
        Ok(result) => match success(&result) {
            Some(false) => {
                Verdict::pass(format!("the unlisted op `{UNLISTED_OP}` was answered with success:false"))
            }
            Some(true) => {
                Verdict::fail(format!("the unlisted op `{UNLISTED_OP}` was answered with success:true"))
            }
            None => {
                Verdict::fail(format!("the result for the unlisted op `{UNLISTED_OP}` has no bool `success`"))
            }
        },
        Err(e) => Verdict::fail(e),
    }
}

/// §5: several requests in flight, each answered exactly once with its own
/// `requestId` and a result object holding a bool `success`.
pub(super) async fn results_exactly_once(probe: &Probe) -> Verdict {
    let (mut session, descriptor) = match Session::handshake(probe).await {
        Ok(found) => found,
        Err(e) => return Verdict::fail(e),
    };
    let mut actions: Vec<Value> =
        accepted_ops(&descriptor).iter().filter_map(|op| valid_action(op)).take(4).collect();
    actions.extend(valid_action("get_chat_info"));
    actions.extend(valid_action("get_chat_info"));
    let ids: Vec<String> = actions.iter().map(|_| probe.request_id()).collect();
    let frames: Vec<Value> = ids.iter().zip(actions).map(|(id, action)| outbound(id, action)).collect();
    let seen = exchange(&mut session, &ids, &frames, Chunking::Whole).await;
    session.close().await;
    let seen = match seen {
        Ok(seen) => seen,
        Err(e) => return Verdict::fail(e),
    };
    for (i, answers) in seen.answers.iter().enumerate() {
        let n = i + 1;
        let op = frames[i]["action"]["op"].as_str().unwrap_or_default();
        match answers.as_slice() {
            [] => {
                let why = seen.ended.as_ref().map_or_else(
                    || format!("within {} s", ANSWER_WAIT.as_secs()),
                    |ended| format!("before the link closed ({ended})"),
                );
                return Verdict::fail(format!("request {n} (`{op}`) was not answered {why}"));
            }
            [only] => {
                if !only.get("result").is_some_and(Value::is_object) {
                    return Verdict::fail(format!("the result of request {n} (`{op}`) is not an object"));
                }
                if success(only).is_none() {
                    return Verdict::fail(format!(
                        "the result of request {n} (`{op}`) has no bool `success`"
                    ));
                }
            }
            more => return Verdict::fail(format!("request {n} (`{op}`) was answered {} times", more.len())),
        }
    }
    if let Some(stranger) = seen.strangers.first() {
        return Verdict::fail(format!("a result names requestId {stranger:?}, which was never sent"));
    }
    Verdict::pass(format!("{} requests in flight, each answered exactly once", ids.len()))
}

/// §8: an outbound for an identity that did not hello fails with
/// `code: "unknown_identity"`.
pub(super) async fn unknown_identity(probe: &Probe) -> Verdict {
    let Some(action) = valid_action("get_chat_info") else { return Verdict::fail("no probe action") };
    let tag = format!("{}:{}", STRANGER.0, STRANGER.1);
    match ask(probe, action, Some(STRANGER)).await {
        Ok(result) => {
            let code = result.get("result").and_then(|r| r.get("code")).and_then(Value::as_str);
            match (success(&result), code) {
                (Some(false), Some("unknown_identity")) => Verdict::pass(format!(
                    "a request for {tag}, never announced, failed with `unknown_identity`"
                )),
                (Some(false), code) => Verdict::fail(format!(
                    "a request for {tag}, never announced, failed with code {code:?} instead of \"unknown_identity\""
                )),
                (_, _) => Verdict::fail(format!(
                    "a request for {tag}, never announced, did not fail (success:false expected)"
                )),
            }
        }
        Err(e) => Verdict::fail(e),
    }
}

/// `send`, `edit` for a sentence.
fn quoted(ops: &[&str]) -> String {
    ops.iter().map(|op| format!("`{op}`")).collect::<Vec<_>>().join(", ")
}
