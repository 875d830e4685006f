//! Standard streams shared by the subcommands: chunked line input, buffered
//! output, and how a failure is reported.

use std::io::{self, BufWriter, Read, StdoutLock, Write};
use std::process::ExitCode;

use relay_core::wire::{LineCodec, LineEvent};

/// How many bytes one read of stdin asks for.
const READ_CHUNK: usize = 64 * 1024;

/// Why a subcommand stopped without an answer of its own.
#[derive(Debug)]
pub(crate) enum Failure {
    /// A problem the person running the command can fix: one sentence (its final
    /// period is added when missing), exit 2.
    Usage(String),
    /// Reading stdin failed.
    Read(io::Error),
    /// Writing stdout failed.
    Write(io::Error),
    /// Something outside the command failed (a refused connection, a port in
    /// use): one sentence naming the problem and the fix, exit 1.
    Runtime(String),
}

impl Failure {
    /// Prints the failure on stderr (nothing for a closed stdout) and picks the exit code.
    pub(crate) fn report(self) -> ExitCode {
        let (message, code) = match self {
            Self::Usage(sentence) => (sentence, 2),
            // Whoever read our output has gone (`relay decode | head`): stop quietly.
            Self::Write(e) if e.kind() == io::ErrorKind::BrokenPipe => return ExitCode::from(1),
            Self::Write(e) => (format!("could not write to standard output: {e}"), 1),
            Self::Read(e) => (format!("could not read standard input: {e}"), 1),
            Self::Runtime(sentence) => (sentence, 1),
        };
        let end = if message.ends_with('.') { "" } else { "." };
        // Nothing sensible is left to do if stderr is gone too.
        let _ = writeln!(io::stderr(), "error: {message}{end}");
        ExitCode::from(code)
    }
}

/// Buffered stdout; every write error becomes [`Failure::Write`].
#[derive(Debug)]
pub(crate) struct Out {
    inner: BufWriter<StdoutLock<'static>>,
}

impl Out {
    /// Locks stdout for the rest of the process.
    pub(crate) fn new() -> Self {
        Self { inner: BufWriter::with_capacity(64 * 1024, io::stdout().lock()) }
    }

    /// Writes `text` and a newline.
    pub(crate) fn line(&mut self, text: &str) -> Result<(), Failure> {
        self.inner
            .write_all(text.as_bytes())
            .and_then(|()| self.inner.write_all(b"\n"))
            .map_err(Failure::Write)
    }

    /// Writes `value` as one compact JSON line.
    pub(crate) fn json_line(&mut self, value: &impl serde::Serialize) -> Result<(), Failure> {
        // serde_json hands back the underlying io::Error unchanged (so a broken pipe stays one).
        serde_json::to_writer(&mut self.inner, value).map_err(|e| Failure::Write(e.into()))?;
        self.inner.write_all(b"\n").map_err(Failure::Write)
    }

    /// Flushes everything written so far.
    pub(crate) fn flush(&mut self) -> Result<(), Failure> {
        self.inner.flush().map_err(Failure::Write)
    }
}

/// Streams stdin through a [`LineCodec`] in fixed-size reads (never reading it
/// whole), calling `on_event` for every non-blank or over-long line.
///
/// `out` is flushed after each read, so output keeps up with a live stream
/// without a write per line, and once more at the end. A last line without
/// `\n` at end of input still counts as a line, numbered one past the
/// `\n`-terminated lines before it. `on_event` may stop the stream by
/// returning an error.
pub(crate) fn for_each_line(
    max_line: usize,
    out: &mut Out,
    mut on_event: impl FnMut(&mut Out, LineEvent<'_>) -> Result<(), Failure>,
) -> Result<(), Failure> {
    let mut codec = LineCodec::new(max_line);
    let mut stdin = io::stdin().lock();
    let mut buf = vec![0; READ_CHUNK];
    let mut ends_with_newline = true;
    let mut feed = |codec: &mut LineCodec, bytes: &[u8]| {
        let mut outcome = Ok(());
        codec.feed(bytes, |event| {
            if outcome.is_ok() {
                outcome = on_event(out, event);
            }
        });
        outcome.and_then(|()| out.flush())
    };
    loop {
        let n = match stdin.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Failure::Read(e)),
        };
        ends_with_newline = buf[n - 1] == b'\n';
        feed(&mut codec, &buf[..n])?;
    }
    if !ends_with_newline {
        // Terminate the unfinished last line so the codec reports it.
        feed(&mut codec, b"\n")?;
    }
    out.flush()
}

/// The `line_too_long` detail text.
pub(crate) fn too_long_detail(len: u64, max_line: usize) -> String {
    format!("line of {len} bytes exceeds the maximum of {max_line} bytes")
}
