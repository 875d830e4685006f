//! `--record-raw FILE` (`relay serve`, `relay dial`): every WebSocket
//! message of every connection, as it was sent or received, one JSON line
//! each, with its time in seconds since recording started, for
//! `relay replay`:
//!
//! - `{"conn":1,"t":0.0,"open":{"side":"gateway","identities":["discord:B1"],"seed":"42"}}`
//!   — a connection started (`seed` and `identities` on the gateway side);
//! - `{"conn":1,"t":0.0012,"dir":"in","text":"…"}` — a text message (`dir`:
//!   `in` received, `out` sent); `"binary_b64":"…"` for a binary one;
//! - `{"conn":1,"t":…,"dir":"in","keepalive":true}` — a ping or pong;
//! - `{"conn":1,"t":…,"dir":"out","close":{"code":1000,"reason":""}}` — a
//!   close frame (`"close":null` without a code).

use std::fs::File;
use std::io::{self, Write as _};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::TrySendError;
use std::thread::JoinHandle;
use std::time::Instant;

use base64::Engine as _;
use relay_driver::{Direction, Recorded, Recorder};
use serde_json::{Value, json};

use crate::stdio::Failure;

/// Lines waiting for the file at most; past that, lines are dropped (and
/// counted) rather than slowing the connections down.
const QUEUE: usize = 65_536;

/// The writer thread, and how many lines it had to drop.
#[derive(Debug)]
pub(crate) struct RawRecording {
    thread: JoinHandle<io::Result<()>>,
    dropped: Arc<AtomicU64>,
}

/// Creates `path` and starts recording into it; `side` is `gateway` or
/// `connector`. The recorder goes into the client or server configuration.
pub(crate) fn start(path: &Path, side: &'static str) -> Result<(Recorder, RawRecording), Failure> {
    let file = File::create(path).map_err(|e| {
        Failure::Usage(format!(
            "could not create the record file {}: {e}; pass a writable path",
            path.display()
        ))
    })?;
    let (lines, thread) = crate::serve::record::spawn_writer(file, QUEUE);
    let dropped = Arc::new(AtomicU64::new(0));
    let count = Arc::clone(&dropped);
    let start = Instant::now();
    let recorder = Recorder::new(move |conn, at, what| {
        let t = at.saturating_duration_since(start).as_secs_f64();
        let line = record_line(conn, t, side, what).to_string();
        if let Err(TrySendError::Full(_)) = lines.try_send(line) {
            count.fetch_add(1, Ordering::Relaxed);
        }
    });
    Ok((recorder, RawRecording { thread, dropped }))
}

fn record_line(conn: u64, t: f64, side: &str, what: Recorded<'_>) -> Value {
    let dir = |direction: Direction| match direction {
        Direction::In => "in",
        Direction::Out => "out",
    };
    match what {
        Recorded::Opened { identities, seed } => {
            let mut open = json!({"side": side});
            if let Some(seed) = seed {
                // As a string: JSON numbers lose precision past 2^53.
                open["seed"] = json!(seed.to_string());
                open["identities"] = json!(identities.iter().map(ToString::to_string).collect::<Vec<_>>());
            }
            json!({"conn": conn, "t": t, "open": open})
        }
        Recorded::Text(d, text) => json!({"conn": conn, "t": t, "dir": dir(d), "text": text}),
        Recorded::Binary(d, bytes) => json!({
            "conn": conn, "t": t, "dir": dir(d),
            "binary_b64": base64::engine::general_purpose::STANDARD.encode(bytes),
        }),
        Recorded::Keepalive(d) => json!({"conn": conn, "t": t, "dir": dir(d), "keepalive": true}),
        Recorded::Close(d, frame) => json!({
            "conn": conn, "t": t, "dir": dir(d),
            "close": frame.map(|(code, reason)| json!({"code": code, "reason": reason})),
        }),
    }
}

impl RawRecording {
    /// Waits, off the runtime's threads and at most 5 s, for every queued
    /// line to be written once the connections are gone (they hold the
    /// recorder), and says on stderr how many were dropped, if any.
    pub(crate) async fn finish(self) -> Result<(), Failure> {
        let joined = tokio::task::spawn_blocking(move || self.join());
        match tokio::time::timeout(std::time::Duration::from_secs(5), joined).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(Failure::Runtime("the raw record writer stopped unexpectedly".into())),
            Err(_) => Err(Failure::Runtime("the raw recording did not finish within 5 s".into())),
        }
    }

    fn join(self) -> Result<(), Failure> {
        let dropped = self.dropped.load(Ordering::Relaxed);
        if dropped > 0 {
            let _ = writeln!(
                io::stderr(),
                "warning: the raw recording dropped {dropped} lines: the disk was too slow."
            );
        }
        match self.thread.join() {
            Ok(result) => result.map_err(Failure::Write),
            Err(_) => Err(Failure::Runtime("the raw record writer stopped unexpectedly".into())),
        }
    }
}
