//! The fake's pushed traffic and per-gateway backlog (PROTOCOL §8), as
//! CLI.md asks of a connector checked with `--expect-pushes`: from a
//! gateway's first handshake an `inbound` every 300 ms, live while it is
//! connected and live, into its backlog while it is idle or away, until
//! 1.5 s after it first went idle. A handshake replays the backlog with
//! `bufferId`s; `inbound_ack` removes an entry. The push defects break one
//! step each.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::mpsc::UnboundedSender;
use tokio::time::Instant;

use super::Defect;

/// Time between two pushes.
const PUSH_EVERY: Duration = Duration::from_millis(300);
/// How long pushes go on after the gateway first went idle.
const AFTER_IDLE: Duration = Duration::from_millis(1500);
/// Pushes at most, whatever happens.
const MAX_PUSHES: u64 = 40;

/// Everything the fake knows about the gateways, shared by its connections.
pub(crate) struct Traffic {
    defect: Defect,
    pushing: bool,
    gateways: Mutex<HashMap<String, Gateway>>,
}

/// One gateway (by its token's gateway id).
#[derive(Default)]
struct Gateway {
    /// Pushes were started for it.
    played: bool,
    /// Where live frames go, while it is connected and not idle.
    live: Option<UnboundedSender<Value>>,
    /// When it first went idle.
    idle_since: Option<Instant>,
    /// Buffered frames, oldest first, with their `bufferId`s.
    backlog: Vec<(String, Value)>,
    /// Pushes made so far (numbers the events and the `bufferId`s).
    pushed: u64,
}

impl Traffic {
    /// The traffic of a fake with `defect`; nothing is pushed unless `pushing`.
    pub(crate) fn new(defect: Defect, pushing: bool) -> Arc<Self> {
        Arc::new(Self { defect, pushing, gateways: Mutex::new(HashMap::new()) })
    }

    /// The gateways, locked (a panicked holder changes nothing here).
    fn gateways(&self) -> std::sync::MutexGuard<'_, HashMap<String, Gateway>> {
        self.gateways.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `key` completed a handshake on the connection writing to `out`: its
    /// backlog is replayed there, it goes live, and the first time its
    /// pushes start.
    pub(crate) fn on_handshake(self: &Arc<Self>, key: &str, out: &UnboundedSender<Value>) {
        let start = {
            let mut gateways = self.gateways();
            let gateway = gateways.entry(key.to_owned()).or_default();
            for (id, frame) in &gateway.backlog {
                let mut frame = frame.clone();
                frame["bufferId"] = json!(id);
                let _ = out.send(frame);
            }
            gateway.live = Some(out.clone());
            let start = self.pushing && !gateway.played;
            gateway.played = true;
            start
        };
        if start {
            tokio::spawn(Arc::clone(self).play(key.to_owned()));
        }
    }

    /// `key` sent `going_idle`: nothing more goes out live.
    pub(crate) fn on_idle(&self, key: &str) {
        let mut gateways = self.gateways();
        let gateway = gateways.entry(key.to_owned()).or_default();
        gateway.live = None;
        gateway.idle_since.get_or_insert_with(Instant::now);
    }

    /// `key` took custody of `buffer_id`.
    pub(crate) fn on_ack(&self, key: &str, buffer_id: &str) {
        if self.defect == Defect::ReplaysAckedFrames {
            return;
        }
        if let Some(gateway) = self.gateways().get_mut(key) {
            gateway.backlog.retain(|(id, _)| id != buffer_id);
        }
    }

    /// The connection writing to `out` ended.
    pub(crate) fn on_close(&self, key: &str, out: &UnboundedSender<Value>) {
        if let Some(gateway) = self.gateways().get_mut(key) {
            if gateway.live.as_ref().is_some_and(|live| live.same_channel(out)) {
                gateway.live = None;
            }
        }
    }

    /// The pushes for `key`, one every [`PUSH_EVERY`].
    async fn play(self: Arc<Self>, key: String) {
        for _ in 0..MAX_PUSHES {
            let over = {
                let mut gateways = self.gateways();
                let gateway = gateways.entry(key.clone()).or_default();
                gateway.pushed += 1;
                let n = gateway.pushed;
                let mut frame = json!({"type": "inbound", "event": {"text": format!("push {n}"),
                    "message_id": format!("m{n}"), "source": {"platform": "relay", "chat_id": "c1"}}});
                match &gateway.live {
                    Some(out) => {
                        if self.defect == Defect::PushesCarryBufferId {
                            frame["bufferId"] = json!(format!("live-{n}"));
                        }
                        let _ = out.send(frame);
                    }
                    None if self.defect == Defect::ForgetsBacklog => {}
                    None => gateway.backlog.push((n.to_string(), frame)),
                }
                gateway.idle_since.is_some_and(|since| since.elapsed() >= AFTER_IDLE)
            };
            if over {
                return;
            }
            tokio::time::sleep(PUSH_EVERY).await;
        }
    }
}
