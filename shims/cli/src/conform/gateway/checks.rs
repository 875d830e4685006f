//! The gateway checks, one entry per rule; each judges the session's
//! transcript and nothing else, so it can be tested on a hand-made one.

use std::collections::BTreeMap;
use std::time::Duration;

use super::observation::{Connection, EndedBy, Observation, Step};
use super::{Judge, timing, upgrade};
use crate::conform::{Check, Verdict};

/// Every gateway check, in the order they are reported.
pub(crate) const TABLE: &[Check<Judge>] = &[
    Check {
        name: "upgrade_token",
        section: "§8",
        passes: "every upgrade is on a path ending in /relay; with --secret each carries `Bearer <token>` minted for that dial (verifies, exp = now + 300 s); without, none or well-formed fresh ones",
        judge: upgrade::upgrade_token,
    },
    Check {
        name: "hello_shape",
        section: "§3",
        passes: "every connection opens with its hellos, each with a string platform and botId, one per identity, the same on every connection",
        judge: hello_shape,
    },
    Check {
        name: "requests_held",
        section: "§3",
        passes: "nothing but hellos is sent before the first descriptor (held 500 ms on the first connection)",
        judge: requests_held,
    },
    Check {
        name: "request_ids_unique",
        section: "§2",
        passes: "request ids are UUIDv4 in simple form (32 lowercase hex, version nibble 4), never repeated across connections",
        judge: request_ids_unique,
    },
    Check {
        name: "results_ignored",
        section: "§5",
        passes: "after a second result for a request and a result for an unknown id, the link stays up and nothing is resent",
        judge: results_ignored,
    },
    Check {
        name: "pushes_tolerated",
        section: "§1",
        passes: "every connector frame type in every chunking, bad lines and unknown types among them, leaves the link up; a ping after them is answered",
        judge: pushes_tolerated,
    },
    Check {
        name: "buffered_acked",
        section: "§8",
        passes: "every buffered frame gets an inbound_ack with its bufferId, and no ack names anything else",
        judge: buffered_acked,
    },
    Check {
        name: "redial_ladder",
        section: "§8",
        passes: "after two drops the re-dials wait within [b/2, b] of attempts 0 and 1 (0.5–1 s, 1–2 s; −50/+500 ms tolerance)",
        judge: timing::redial_ladder,
    },
    Check {
        name: "expired_4401",
        section: "§8",
        passes: "after 4401 expired the gateway re-dials on the ladder (attempt 2: 2–4 s)",
        judge: timing::expired_4401,
    },
    Check {
        name: "revoked_4401",
        section: "§8",
        passes: "after 4401 unauthorized one immediate re-dial; after a second 4401 on it, no dial for 9 s",
        judge: timing::revoked_4401,
    },
    Check {
        name: "going_idle_on_close",
        section: "§8",
        passes: "a gateway that offers going_idle sends it before every clean close",
        judge: going_idle_on_close,
    },
];

/// `Err` with the verdict of a check owning `step` when the session did not
/// get through it: a failure at the step it stopped in, a skip for the steps
/// after, a failure everywhere when no gateway dialled at all.
pub(super) fn reached(obs: &Observation, step: Step) -> Result<(), Verdict> {
    match &obs.cut {
        Some(cut) if cut.step == Step::Dial || cut.step == step => {
            Err(Verdict::fail(format!("{}.", cut.detail)))
        }
        Some(cut) if cut.step < step => Err(Verdict::skip(format!("not reached: {}.", cut.detail))),
        _ if obs.connections.is_empty() => Err(Verdict::fail("no gateway dialled.")),
        _ => Ok(()),
    }
}

/// The silence of the gateway's application: a failure when the flag says
/// to expect it, else a skip saying what to drive.
fn silent(expected: bool, what: &str, drive: &str) -> Verdict {
    if expected { Verdict::fail(format!("{what}.")) } else { Verdict::skip(format!("{what}; {drive}.")) }
}

/// `hello_shape`: a connector answers hellos in order, so an identity announced
/// twice, or a hello after other frames, shifts which descriptor means what.
fn hello_shape(obs: &Observation) -> Verdict {
    if let Err(verdict) = reached(obs, Step::Handshake) {
        return verdict;
    }
    let mut first: Option<Vec<String>> = None;
    for (i, conn) in obs.connections.iter().enumerate() {
        let n = i + 1;
        let mut announced: Vec<String> = Vec::new();
        let mut other_seen = false;
        for frame in &conn.frames {
            if frame.kind() != Some("hello") {
                other_seen = true;
                continue;
            }
            if other_seen {
                return Verdict::fail(format!(
                    "connection {n} sent a hello after other frames; hellos come first (§3)."
                ));
            }
            let (Some(platform), Some(bot_id)) = (frame.str_field("platform"), frame.str_field("botId"))
            else {
                return Verdict::fail(format!(
                    "connection {n} sent a hello without a string platform and botId: {}",
                    frame.line
                ));
            };
            let identity = format!("{platform}:{bot_id}");
            if announced.contains(&identity) {
                return Verdict::fail(format!(
                    "connection {n} sent two hellos for {identity}; one per identity (§3)."
                ));
            }
            announced.push(identity);
        }
        // A connection refused before its handshake may end mid-hellos.
        if conn.descriptor_at.is_none() {
            continue;
        }
        match &first {
            None => first = Some(announced),
            Some(expected) if *expected != announced => {
                return Verdict::fail(format!(
                    "connection {n} announced {} where connection 1 announced {}; every connection sends one hello per identity, in configured order (§3).",
                    list(&announced),
                    list(expected)
                ));
            }
            Some(_) => {}
        }
    }
    Verdict::pass(format!(
        "{} opened with the same hellos, one per identity ({}).",
        plural(obs.connections.len(), "connection"),
        list(first.as_deref().unwrap_or_default())
    ))
}

/// Identities for a detail: `discord:b1, slack:b2`, or `none`.
fn list(identities: &[String]) -> String {
    if identities.is_empty() { "none".to_owned() } else { identities.join(", ") }
}

/// `requests_held`: until the first descriptor the gateway does not know which
/// ops the connector accepts, so anything but a hello is premature.
fn requests_held(obs: &Observation) -> Verdict {
    if let Err(verdict) = reached(obs, Step::Handshake) {
        return verdict;
    }
    for (i, conn) in obs.connections.iter().enumerate() {
        let early = conn
            .frames
            .iter()
            .find(|f| f.kind() != Some("hello") && conn.descriptor_at.is_none_or(|d| f.at < d));
        if let Some(frame) = early {
            let what = frame.kind().map_or_else(|| "a line".to_owned(), |k| format!("a {k:?} frame"));
            let when = match conn.descriptor_at {
                Some(d) => format!("{} ms before its first descriptor", millis(d.saturating_sub(frame.at))),
                None => "although no descriptor was sent".to_owned(),
            };
            return Verdict::fail(format!(
                "connection {} got {what} {when}; frames wait for the handshake (§3).",
                i + 1
            ));
        }
    }
    Verdict::pass(format!(
        "nothing but hellos came before the first descriptor on any of {}.",
        plural(obs.connections.len(), "connection")
    ))
}

/// `request_ids_unique`: a connector may key results and dedupe by request id,
/// across connections and gateways, so ids must never repeat.
fn request_ids_unique(obs: &Observation) -> Verdict {
    if let Err(verdict) = reached(obs, Step::Handshake) {
        return verdict;
    }
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (conn, frame) in obs.frames().filter(|(_, f)| f.kind() == Some("outbound")) {
        let Some(id) = frame.str_field("requestId") else {
            return Verdict::fail(format!(
                "an outbound on connection {} has no string requestId: {}",
                conn + 1,
                frame.line
            ));
        };
        if !is_uuid4_simple(id) {
            return Verdict::fail(format!(
                "request id {id:?} is not a UUIDv4 in simple form (32 lowercase hex digits, version nibble 4)."
            ));
        }
        if let Some(first) = seen.insert(id, conn) {
            let place = if first == conn {
                format!("on connection {}", conn + 1)
            } else {
                format!("on connections {} and {}", first + 1, conn + 1)
            };
            return Verdict::fail(format!("request id {id} was used twice ({place})."));
        }
    }
    if seen.is_empty() {
        return silent(
            obs.expect_requests,
            "the gateway sent no request",
            "have its application send some (or pass --expect-requests)",
        );
    }
    Verdict::pass(format!("{}, all distinct UUIDv4s in simple form.", plural(seen.len(), "request id")))
}

/// 32 lowercase hex digits with `4` as the version nibble.
fn is_uuid4_simple(id: &str) -> bool {
    id.len() == 32
        && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        && id.as_bytes().get(12) == Some(&b'4')
}

/// `results_ignored`: a connector may answer twice or answer what it never got;
/// the gateway must settle each request once and carry on.
fn results_ignored(obs: &Observation) -> Verdict {
    if let Err(verdict) = reached(obs, Step::Requests) {
        return verdict;
    }
    let Some(results) = &obs.results else {
        return silent(
            obs.expect_requests,
            "the gateway sent no request within 3 s of its handshake",
            "have its application send one (or pass --expect-requests)",
        );
    };
    let resent = obs.frames().find(|(_, f)| {
        f.kind() == Some("outbound")
            && f.str_field("requestId") == Some(&results.request_id)
            && f.at > results.at
    });
    if let Some((conn, _)) = resent {
        return Verdict::fail(format!(
            "request id {} was sent again (connection {}) after its duplicate result.",
            results.request_id,
            conn + 1
        ));
    }
    Verdict::pass(format!(
        "after a second result for {} and a result for an unknown id on connection {}, the link stayed up and nothing was resent.",
        results.request_id,
        results.conn + 1
    ))
}

/// `pushes_tolerated`: message boundaries carry no meaning and bad lines are
/// skipped, so no chunking or garbage may cost the connection.
fn pushes_tolerated(obs: &Observation) -> Verdict {
    if let Err(verdict) = reached(obs, Step::Pushes) {
        return verdict;
    }
    let Some(pushes) = &obs.pushes else { return Verdict::skip("the pushes were not sent.") };
    let conn = &obs.connections[pushes.conn];
    match conn.pong_at {
        Some(pong) if pong >= pushes.ping_at => Verdict::pass(format!(
            "{} messages (whole, several per message, byte by byte, split mid-line, binary; bad lines and unknown types among them) left the link up, and the ping after them was answered in {} ms.",
            pushes.messages,
            millis(pong - pushes.ping_at)
        )),
        _ => Verdict::fail(
            "the link stayed up after the pushes, but the ping after them got no pong within 1 s.",
        ),
    }
}

/// `buffered_acked`: the connector keeps a buffered frame until it is acked, so a
/// missing ack replays it forever and a stray ack names nothing.
fn buffered_acked(obs: &Observation) -> Verdict {
    if let Err(verdict) = reached(obs, Step::Buffered) {
        return verdict;
    }
    let Some(buffered) = &obs.buffered else { return Verdict::skip("no buffered frame was sent.") };
    let acks: Vec<(usize, Option<&str>)> = obs
        .frames()
        .filter(|(_, f)| f.kind() == Some("inbound_ack"))
        .map(|(c, f)| (c, f.str_field("bufferId")))
        .collect();
    if let Some((conn, id)) =
        acks.iter().find(|(_, id)| id.is_none_or(|id| !buffered.buffer_ids.iter().any(|b| b == id)))
    {
        return Verdict::fail(format!(
            "connection {} acked {}, which no frame carried; live frames need no ack (§8).",
            conn + 1,
            id.map_or_else(|| "without a string bufferId".to_owned(), |id| format!("{id:?}"))
        ));
    }
    let missing: Vec<&str> = buffered
        .buffer_ids
        .iter()
        .filter(|id| !acks.iter().any(|(c, a)| *c == buffered.conn && *a == Some(id.as_str())))
        .map(String::as_str)
        .collect();
    let sent = buffered.buffer_ids.len();
    if missing.len() == sent {
        return silent(
            obs.expect_acks,
            &format!("none of the {sent} buffered frames was acked within 3 s"),
            "acks wait for the application's custody: have it confirm each bufferId (or pass --expect-acks)",
        );
    }
    if !missing.is_empty() {
        return Verdict::fail(format!(
            "{} of {sent} buffered frames were acked; no inbound_ack for {}.",
            sent - missing.len(),
            missing.join(", ")
        ));
    }
    Verdict::pass(format!("all {sent} buffered frames were acked by bufferId, and nothing else was."))
}

/// `going_idle_on_close`: a gateway that buffers through `going_idle` loses live
/// frames when it closes without it.
fn going_idle_on_close(obs: &Observation) -> Verdict {
    if let Err(verdict) = reached(obs, Step::Handshake) {
        return verdict;
    }
    let offered = obs.frames().find(|(_, f)| f.kind() == Some("going_idle")).map(|(c, _)| c);
    let closes: Vec<(usize, &Connection)> = obs
        .connections
        .iter()
        .enumerate()
        .filter(|(_, c)| c.end.as_ref().is_some_and(|e| matches!(e.by, EndedBy::GatewayClose { .. })))
        .collect();
    if closes.is_empty() {
        return Verdict::skip(
            "the gateway never closed a connection itself (shutting it down is not part of the session; going_idle is optional, §8).",
        );
    }
    let bare = closes.iter().find(|(_, c)| !c.frames.iter().any(|f| f.kind() == Some("going_idle")));
    match (bare, offered) {
        (None, _) => Verdict::pass(format!(
            "each of the gateway's {} came after going_idle.",
            plural(closes.len(), "clean close")
        )),
        (Some((i, _)), Some(offer)) => Verdict::fail(format!(
            "connection {} was closed cleanly without going_idle, though the gateway sent going_idle on connection {}.",
            i + 1,
            offer + 1
        )),
        (Some((i, _)), None) => Verdict::skip(format!(
            "the gateway closed connection {} without going_idle and never sent one; going_idle is optional (§8).",
            i + 1
        )),
    }
}

/// `n` and `word`, with an `s` unless `n` is 1.
pub(super) fn plural(n: usize, word: &str) -> String {
    if n == 1 { format!("1 {word}") } else { format!("{n} {word}s") }
}

/// Whole milliseconds, for details.
pub(super) fn millis(d: Duration) -> u128 {
    d.as_millis()
}

#[cfg(test)]
#[path = "checks_tests.rs"]
mod tests;
