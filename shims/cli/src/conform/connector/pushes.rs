//! The push checks (PROTOCOL §2, §4, §8), with `--expect-pushes`: live
//! inbound frames, then going idle and the backlog replayed on the next
//! handshakes. They run first and share one connection (parked in the
//! probe between them): a connector may push its traffic once per gateway,
//! starting at its first handshake.

use std::time::Duration;

use relay_core::wire::{Direction, Frame, Object};
use serde_json::{Value, json};

use super::Probe;
use super::session::{ANSWER_WAIT, Next, Session, close_text, frame_type};
use crate::conform::Verdict;

/// How long after the handshake the first live inbound may take.
const LIVE_WAIT: Duration = Duration::from_secs(4);
/// How long the kit stays connected after `going_idle_ack`, so traffic for
/// it is buffered.
const IDLE_DWELL: Duration = Duration::from_secs(2);
/// A replay is over when no buffered frame came for this long.
const REPLAY_QUIET: Duration = Duration::from_millis(800);
/// The longest one replay may take.
const REPLAY_WAIT: Duration = Duration::from_secs(3);

/// The skip of a push check run without `--expect-pushes`.
fn not_expected() -> Verdict {
    Verdict::skip("needs --expect-pushes (a connector that pushes traffic to this gateway; see CLI.md)")
}

/// Whether a frame is pushed traffic (what goes into a backlog).
fn is_push(frame: &Object) -> bool {
    matches!(frame_type(frame), Some("inbound" | "passthrough_forward"))
}

/// The frame's `bufferId`, when it is a string.
fn buffer_id(frame: &Object) -> Option<&str> {
    frame.get("bufferId").and_then(Value::as_str)
}

/// A live `inbound` (no `bufferId`, a well-formed event) arrives soon after
/// the handshake.
pub(super) async fn pushes_live(probe: &Probe) -> Verdict {
    if !probe.expect_pushes {
        return not_expected();
    }
    let (mut session, _) = match Session::handshake(probe).await {
        Ok(found) => found,
        Err(e) => return Verdict::fail(e),
    };
    let deadline = tokio::time::Instant::now() + LIVE_WAIT;
    let mut buffered = 0;
    let verdict = loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match session.next(left).await {
            Next::Frame(frame) if frame_type(&frame) == Some("inbound") => {
                if let Some(id) = buffer_id(&frame) {
                    // A backlog from an earlier run: take custody, wait for live traffic.
                    buffered += 1;
                    let ack = json!({"type": "inbound_ack", "bufferId": id}).to_string();
                    let _ = session.send_text(format!("{ack}\n")).await;
                    continue;
                }
                let line = Value::Object(frame).to_string();
                break match Frame::decode(line.as_bytes(), Some(Direction::ToGateway)) {
                    Ok(_) => {
                        Verdict::pass("a live `inbound` with a well-formed event arrived after the handshake")
                    }
                    Err(e) => Verdict::fail(format!("the first live `inbound` does not decode: {e}")),
                };
            }
            Next::Frame(_) => {}
            Next::Closed { code, reason } => {
                return Verdict::fail(format!(
                    "the connector closed the link ({}) before any `inbound`",
                    close_text(code, &reason)
                ));
            }
            Next::Silent if buffered > 0 => {
                break Verdict::fail(format!(
                    "{buffered} `inbound` frames arrived within {} s, all with a `bufferId` (live frames carry none)",
                    LIVE_WAIT.as_secs()
                ));
            }
            Next::Silent => {
                break Verdict::fail(format!(
                    "no `inbound` within {} s of the handshake",
                    LIVE_WAIT.as_secs()
                ));
            }
        }
    };
    *probe.parked.lock().await = Some(session);
    verdict
}

/// After `going_idle`/`going_idle_ack` and a disconnect, the next
/// handshake replays the buffered frames with `bufferId`s, again in the same
/// order while unacknowledged, and never again once acknowledged.
pub(super) async fn replay_after_idle(probe: &Probe) -> Verdict {
    if !probe.expect_pushes {
        return not_expected();
    }
    match replay(probe).await {
        Ok(verdict) | Err(verdict) => verdict,
    }
}

/// The steps of [`replay_after_idle`]; `Err` carries a failure found early.
async fn replay(probe: &Probe) -> Result<Verdict, Verdict> {
    let parked = probe.parked.lock().await.take();
    let mut session = match parked {
        Some(session) => session,
        None => Session::handshake(probe).await.map_err(Verdict::fail)?.0,
    };
    session.send_text("{\"type\":\"going_idle\"}\n".to_owned()).await.map_err(Verdict::fail)?;
    session
        .expect_type("going_idle_ack", ANSWER_WAIT)
        .await
        .map_err(|e| Verdict::fail(format!("after `going_idle`: {e}")))?;
    let (closed, frames) = session.closed_within(IDLE_DWELL).await;
    if let Some(live) = frames.iter().find(|f| is_push(f)) {
        let kind = frame_type(live).unwrap_or_default();
        return Err(Verdict::fail(format!("a `{kind}` was delivered live after `going_idle_ack`")));
    }
    if closed.is_none() {
        session.close().await;
    }
    let first = replayed(probe, false).await?;
    if first.is_empty() {
        return Err(Verdict::fail(format!(
            "nothing was replayed with a `bufferId` on the next handshake (traffic during the {} s idle must be buffered; see CLI.md)",
            IDLE_DWELL.as_secs()
        )));
    }
    let second = replayed(probe, true).await?;
    if !second.starts_with(&first) {
        return Err(Verdict::fail(format!(
            "unacknowledged frames were replayed as {first:?}, then as {second:?} on the next handshake (the same order expected)"
        )));
    }
    let third = replayed(probe, false).await?;
    if let Some(again) = third.iter().find(|id| second.contains(id)) {
        return Err(Verdict::fail(format!("bufferId {again:?} was replayed again after its `inbound_ack`")));
    }
    Ok(Verdict::pass(format!(
        "{} buffered frames replayed with bufferIds, again in order until acknowledged, then never again",
        first.len()
    )))
}

/// One handshake: the `bufferId`s replayed, in arrival order (each
/// acknowledged when `ack`), until the replay falls quiet or live traffic
/// resumes.
async fn replayed(probe: &Probe, ack: bool) -> Result<Vec<String>, Verdict> {
    let (mut session, _) =
        Session::handshake(probe).await.map_err(|e| Verdict::fail(format!("reconnecting: {e}")))?;
    let deadline = tokio::time::Instant::now() + REPLAY_WAIT;
    let mut ids = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now()).min(REPLAY_QUIET);
        match session.next(left).await {
            Next::Frame(frame) if is_push(&frame) => {
                let Some(id) = buffer_id(&frame) else { break };
                if ids.iter().any(|seen| seen == id) {
                    session.close().await;
                    return Err(Verdict::fail(format!(
                        "bufferId {id:?} was replayed twice on one connection"
                    )));
                }
                ids.push(id.to_owned());
                if ack {
                    let ack = json!({"type": "inbound_ack", "bufferId": id}).to_string();
                    session.send_text(format!("{ack}\n")).await.map_err(Verdict::fail)?;
                }
            }
            Next::Frame(_) => {}
            Next::Closed { code, reason } => {
                return Err(Verdict::fail(format!(
                    "the connector closed the link ({}) during the replay",
                    close_text(code, &reason)
                )));
            }
            Next::Silent => break,
        }
    }
    // Acks travel before the close: give them a moment to land.
    if ack {
        let _ = session.closed_within(Duration::from_millis(200)).await;
    }
    session.close().await;
    Ok(ids)
}
