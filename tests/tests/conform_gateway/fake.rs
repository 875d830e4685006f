//! One small configurable gateway written on raw frames (tokio and
//! async-tungstenite, no relay client code), following PROTOCOL §3–§8 the
//! way the reference does, unless a [`Defect`] says where to depart. Each
//! defect breaks exactly one rule, so `relay conform gateway` must catch it
//! with the check named for it and with no other.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_tungstenite::tungstenite::Message;
use async_tungstenite::tungstenite::client::IntoClientRequest as _;
use futures::StreamExt as _;
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{RngCore as _, SeedableRng as _};
use relay_core::policy::{Secret, mint_token};
use serde_json::{Value, json};

/// Where the fake departs from the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Defect {
    /// None: the fake conforms.
    None,
    /// Sends a later request under the id of an earlier one.
    ReusesRequestId,
    /// Re-dials at once after a dropped connection.
    NoBackoff,
    /// Takes the second 4401 for another first strike and keeps re-dialing.
    IgnoresRevocation,
    /// Sends a request right after its hello, before the descriptor.
    RequestBeforeDescriptor,
    /// Closes the connection on a frame of unknown type.
    ClosesOnUnknownType,
    /// Sends two hellos for its one identity.
    DuplicateHello,
    /// Never sends inbound_ack.
    NeverAcks,
    /// Mints one token at start and sends it on every dial.
    ReusesToken,
    /// Acks live frames too, under a made-up bufferId.
    AcksLiveFrames,
    /// Takes every 4401 for a dropped connection: the ladder, no strikes.
    UnauthorizedAsDrop,
    /// Takes 4401 expired for an unauthorized strike and re-dials at once.
    ExpiredAsStrike,
}

/// The frame types a connector sends (PROTOCOL §2).
const CONNECTOR_FRAMES: [&str; 6] = [
    "descriptor",
    "inbound",
    "outbound_result",
    "interrupt_inbound",
    "passthrough_forward",
    "going_idle_ack",
];

/// Upgrade auth of the fake.
#[derive(Debug, Clone)]
pub(crate) struct Auth {
    /// Its gateway id.
    pub(crate) gateway_id: String,
    /// Its secret.
    pub(crate) secret: String,
}

/// How one connection ended, as the reconnect policy needs it.
enum Ended {
    /// The fake stops for good.
    Stop,
    /// A 4401 with this reason, and whether the handshake had completed.
    Rejected(String, bool),
    /// Anything else (a drop).
    Lost,
}

/// Runs the fake against `url` until it stops (revoked, the kit gone, or a defect makes it quit).
pub(crate) async fn run(url: String, defect: Defect, auth: Option<Auth>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed());
    let once = auth.as_ref().map(token);
    let mut attempt = 0u32;
    let mut strike_redial = false;
    let mut dials = 0;
    let mut sent = Vec::new();
    let mut redials_after_revocation = 0;
    loop {
        let authorization = match (&auth, defect) {
            (Some(_), Defect::ReusesToken) => once.clone(),
            (Some(a), _) => Some(token(a)),
            (None, _) => None,
        };
        dials += 1;
        let ended = connection(&url, authorization, defect, dials, &mut sent, &mut rng).await;
        let delay = match ended {
            Ended::Stop => return,
            Ended::Rejected(reason, ready)
                if defect != Defect::UnauthorizedAsDrop
                    && (reason != "expired" || defect == Defect::ExpiredAsStrike) =>
            {
                if strike_redial && !ready {
                    if defect != Defect::IgnoresRevocation || redials_after_revocation == 3 {
                        return;
                    }
                    redials_after_revocation += 1;
                }
                strike_redial = true;
                Duration::ZERO
            }
            Ended::Rejected(..) | Ended::Lost => {
                strike_redial = false;
                let delay = ladder(attempt, &mut rng);
                attempt += 1;
                if defect == Defect::NoBackoff && matches!(ended, Ended::Lost) {
                    Duration::ZERO
                } else {
                    delay
                }
            }
        };
        tokio::time::sleep(delay).await;
    }
}

/// Attempt `n` of the ladder: uniform in `[b/2, b]`, `b = 1 s · 2ⁿ`.
fn ladder(attempt: u32, rng: &mut ChaCha8Rng) -> Duration {
    let b = 1000u64 << attempt.min(4);
    Duration::from_millis(b / 2 + rng.next_u64() % (b / 2 + 1))
}

/// A seed from the clock: ids must differ between runs.
fn seed() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(7, |d| d.as_nanos() as u64)
}

/// `Bearer <token>` minted now (PROTOCOL §8).
fn token(auth: &Auth) -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let secret = Secret::new(auth.secret.as_str()).expect("a non-empty secret");
    format!("Bearer {}", mint_token(&auth.gateway_id, now + 300, &secret))
}

/// A UUIDv4 in simple form.
fn request_id(rng: &mut ChaCha8Rng) -> String {
    let mut bytes = [0u8; 16];
    rng.fill_bytes(&mut bytes);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One frame per text message, as the reference writes.
fn line(frame: &Value) -> Message {
    Message::text(format!("{frame}\n"))
}

/// A `send` request under `id`.
fn outbound(id: &str) -> Message {
    line(&json!({"type": "outbound", "requestId": id,
        "action": {"op": "send", "chat_id": "c", "content": "fake", "reply_to": null, "metadata": {}}}))
}

/// One connection, from the dial to its end.
async fn connection(
    url: &str,
    authorization: Option<String>,
    defect: Defect,
    dial: usize,
    sent: &mut Vec<String>,
    rng: &mut ChaCha8Rng,
) -> Ended {
    let Ok(mut request) = url.into_client_request() else { return Ended::Stop };
    if let Some(value) = authorization {
        let Ok(value) = value.parse() else { return Ended::Stop };
        request.headers_mut().insert("authorization", value);
    }
    // A refused dial means the kit has finished: nothing is left to test.
    let Ok((mut ws, _)) = async_tungstenite::tokio::connect_async(request).await else { return Ended::Stop };
    let hello = line(&json!({"type": "hello", "platform": "discord", "botId": "fake"}));
    let mut opening = vec![hello.clone()];
    if defect == Defect::DuplicateHello {
        opening.push(hello);
    }
    if defect == Defect::RequestBeforeDescriptor && dial == 1 {
        opening.push(outbound(&request_id(rng)));
    }
    for message in opening {
        if ws.send(message).await.is_err() {
            return Ended::Lost;
        }
    }
    let mut ready = false;
    let mut pending = String::new();
    while let Some(message) = ws.next().await {
        let text = match message {
            Ok(Message::Text(text)) => text.to_string(),
            Ok(Message::Binary(bytes)) => String::from_utf8_lossy(&bytes).into_owned(),
            Ok(Message::Close(frame)) => {
                return match frame {
                    Some(f) if u16::from(f.code) == 4401 => Ended::Rejected(f.reason.to_string(), ready),
                    _ => Ended::Lost,
                };
            }
            Ok(_) => continue,
            Err(_) => return Ended::Lost,
        };
        pending.push_str(&text);
        while let Some(end) = pending.find('\n') {
            let raw: String = pending.drain(..=end).collect();
            let Ok(frame) = serde_json::from_str::<Value>(raw.trim()) else { continue };
            let mut replies = Vec::new();
            match frame.get("type").and_then(Value::as_str) {
                Some("descriptor") if !ready => {
                    ready = true;
                    if dial == 1 {
                        sent.extend([request_id(rng), request_id(rng)]);
                        replies.extend(sent.iter().map(|id| outbound(id)));
                    }
                }
                // A new request, under the id of an earlier one (not the one answered twice).
                Some("interrupt_inbound") if defect == Defect::ReusesRequestId && sent.len() == 2 => {
                    sent.push(sent[1].clone());
                    replies.push(outbound(&sent[1]));
                }
                Some("inbound" | "passthrough_forward") => {
                    match frame.get("bufferId").and_then(Value::as_str) {
                        Some(id) if defect != Defect::NeverAcks => {
                            replies.push(line(&json!({"type": "inbound_ack", "bufferId": id})));
                        }
                        None if defect == Defect::AcksLiveFrames => {
                            replies.push(line(&json!({"type": "inbound_ack", "bufferId": "live"})));
                        }
                        _ => {}
                    }
                }
                Some(kind) if defect == Defect::ClosesOnUnknownType && !CONNECTOR_FRAMES.contains(&kind) => {
                    let _ = ws.close(None).await;
                    return Ended::Stop;
                }
                _ => {}
            }
            for reply in replies {
                if ws.send(reply).await.is_err() {
                    return Ended::Lost;
                }
            }
        }
    }
    Ended::Lost
}
