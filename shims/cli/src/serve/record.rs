//! `--record FILE`: one JSON line per frame received from a gateway,
//! `{"conn": <n>, "frame": <frame>}`, and `{"conn": <n>, "diagnostic":
//! {"kind", "line", "detail"}}` per line that does not decode.
//!
//! The recorder taps the raw messages of every connection (before the
//! connector machine sees them) and decodes them with its own line codec per
//! connection, so a frame is recorded as `relay decode` would print it,
//! unknown keys included.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter, Write as _};
use std::sync::mpsc::{SyncSender, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use relay_core::wire::{DEFAULT_MAX_LINE, Direction, Frame, LineCodec, LineEvent};
use relay_driver::{ConnId, Tap};

use crate::lines::JsonObject;
use crate::stdio::Failure;

/// Record lines waiting for the file before the connection that produced them waits.
const QUEUE: usize = 4096;

/// Decodes tapped traffic and writes record lines on a thread of its own.
pub(crate) struct Recorder {
    codecs: Mutex<BTreeMap<ConnId, LineCodec>>,
    lines: SyncSender<String>,
}

/// The writer thread of a [`Recorder`].
pub(crate) struct RecordThread(JoinHandle<io::Result<()>>);

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder").finish_non_exhaustive()
    }
}

impl Recorder {
    /// A recorder writing to `file`; the tap goes into the server configuration.
    pub(crate) fn start(file: File) -> (Tap, RecordThread) {
        let (lines, thread) = spawn_writer(file, QUEUE);
        let recorder = Arc::new(Self { codecs: Mutex::default(), lines });
        let tap: Tap = Arc::new(move |conn, bytes| recorder.record(conn, bytes));
        (tap, RecordThread(thread))
    }

    fn record(&self, conn: ConnId, bytes: &[u8]) {
        let mut records = Vec::new();
        {
            let mut codecs = self.codecs.lock().unwrap_or_else(PoisonError::into_inner);
            let codec = codecs.entry(conn).or_insert_with(|| LineCodec::new(DEFAULT_MAX_LINE));
            codec.feed(bytes, |event| records.push(record_line(conn, event)));
        }
        for line in records {
            // The writer thread only stops once every tap is gone.
            let _ = self.lines.send(line);
        }
    }
}

fn record_line(conn: ConnId, event: LineEvent<'_>) -> String {
    let head = || JsonObject::new().field("conn", &conn);
    let diagnostic = |kind: &str, line: u64, detail: String| {
        let inner = JsonObject::new().field("kind", kind).field("line", &line).field("detail", &detail);
        head().object("diagnostic", inner).finish()
    };
    match event {
        LineEvent::Line { number, bytes } => match Frame::decode(bytes, Some(Direction::ToConnector)) {
            Ok(frame) => head().field("frame", &frame).finish(),
            Err(e) => diagnostic(e.kind.as_str(), number, e.detail),
        },
        LineEvent::TooLong { number, len } => diagnostic(
            "line_too_long",
            number,
            format!("line of {len} bytes exceeds the maximum of {DEFAULT_MAX_LINE} bytes"),
        ),
    }
}

impl RecordThread {
    /// Waits for every queued line to be written (after the server stopped).
    pub(crate) fn finish(self) -> Result<(), Failure> {
        match self.0.join() {
            Ok(result) => result.map_err(Failure::Write),
            Err(_) => Err(Failure::Runtime("the record writer stopped unexpectedly".into())),
        }
    }
}

/// A thread writing the lines sent to it into `file`, flushing after each
/// burst; it ends once every sender is gone. At most `queue` lines wait.
pub(crate) fn spawn_writer(file: File, queue: usize) -> (SyncSender<String>, JoinHandle<io::Result<()>>) {
    let (lines, rx) = sync_channel::<String>(queue);
    let thread = std::thread::spawn(move || {
        let mut out = BufWriter::new(file);
        while let Ok(line) = rx.recv() {
            writeln!(out, "{line}")?;
            while let Ok(line) = rx.try_recv() {
                writeln!(out, "{line}")?;
            }
            out.flush()?;
        }
        out.flush()
    });
    (lines, thread)
}
