//! stdin of `relay dial` and `relay serve`: a reader thread that splits it
//! into lines (any chunking, bounded line length). A thread, not the
//! runtime's stdin: a read blocked on an open stdin must not keep the
//! process from exiting.

use std::io::{self, Read as _};

use relay_core::wire::{DEFAULT_MAX_LINE, LineCodec, LineEvent};
use tokio::sync::mpsc;

/// How many bytes one read of stdin asks for.
const READ_CHUNK: usize = 64 * 1024;
/// Lines read ahead of the session.
const READ_AHEAD: usize = 64;

/// What the reader thread hands on.
#[derive(Debug)]
pub(crate) enum Input {
    /// A non-blank line (1-based number; blank lines count but are not sent).
    Line { number: u64, bytes: Vec<u8> },
    /// A line longer than the maximum, discarded.
    TooLong { number: u64, len: u64 },
    /// Reading stdin failed; nothing follows.
    Failed(io::Error),
}

/// Starts the reader thread; the channel ends at end of input. The thread
/// stops when the receiver is dropped (or stays blocked in a read, which
/// does not keep the process alive).
pub(crate) fn spawn_reader() -> mpsc::Receiver<Input> {
    let (tx, rx) = mpsc::channel(READ_AHEAD);
    std::thread::spawn(move || read_stdin(&tx));
    rx
}

fn read_stdin(tx: &mpsc::Sender<Input>) {
    let mut codec = LineCodec::new(DEFAULT_MAX_LINE);
    let mut stdin = io::stdin().lock();
    let mut buf = vec![0; READ_CHUNK];
    let mut ends_with_newline = true;
    let feed = |codec: &mut LineCodec, bytes: &[u8]| {
        let mut lines = Vec::new();
        codec.feed(bytes, |event| {
            lines.push(match event {
                LineEvent::Line { number, bytes } => Input::Line { number, bytes: bytes.to_vec() },
                LineEvent::TooLong { number, len } => Input::TooLong { number, len },
            });
        });
        lines.into_iter().all(|input| tx.blocking_send(input).is_ok())
    };
    loop {
        let n = match stdin.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                let _ = tx.blocking_send(Input::Failed(e));
                return;
            }
        };
        ends_with_newline = buf[n - 1] == b'\n';
        if !feed(&mut codec, &buf[..n]) {
            return;
        }
    }
    if !ends_with_newline {
        // Terminate the unfinished last line so the codec reports it.
        feed(&mut codec, b"\n");
    }
}
