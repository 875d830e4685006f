//! `relay serve --store FILE|URL` as a child process that the tests can
//! feed pushes without blocking, read line by line with bounded waits, and
//! kill with SIGKILL at any moment.

use std::ffi::OsStr;
use std::io::Write as _;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::WAIT;
use crate::common::{read_output, relay_path};

/// The `GATEWAY_RELAY_*` variables, removed from every child.
const RELAY_ENV: [&str; 7] = [
    "GATEWAY_RELAY_URL",
    "GATEWAY_RELAY_PLATFORMS",
    "GATEWAY_RELAY_BOT_IDS",
    "GATEWAY_RELAY_PLATFORM",
    "GATEWAY_RELAY_BOT_ID",
    "GATEWAY_RELAY_ID",
    "GATEWAY_RELAY_SECRET",
];

/// `relay serve --listen 127.0.0.1:0 --store <store> <extra…>`, run through
/// `prefix` (e.g. `sh -c '…; exec "$0" "$@"'`) when it is not empty.
pub(crate) fn serve_command(prefix: &[&str], store: impl AsRef<OsStr>, extra: &[&str]) -> Command {
    let relay = relay_path();
    let mut command = match prefix.split_first() {
        Some((program, args)) => {
            let mut command = Command::new(program);
            command.args(args).arg(relay);
            command
        }
        None => Command::new(relay),
    };
    command.args(["serve", "--listen", "127.0.0.1:0", "--store"]).arg(store).args(extra);
    command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    for name in RELAY_ENV {
        command.env_remove(name);
    }
    command
}

/// A running `relay serve`.
#[derive(Debug)]
pub(crate) struct Serve {
    child: Child,
    /// Chunks for the stdin writer thread (dropped: end of input).
    stdin: Option<mpsc::Sender<Vec<u8>>>,
    lines: mpsc::Receiver<String>,
    stderr: mpsc::Receiver<String>,
    /// The `ws://…/relay` URL from the `listening` line.
    pub(crate) url: String,
    /// Stdin lines written so far (serve numbers them from 1).
    pub(crate) written: u64,
    /// Every stdout line read so far (the `listening` line included).
    pub(crate) seen: Vec<Value>,
}

/// How a child ended.
#[derive(Debug)]
pub(crate) struct Ended {
    /// Stdout lines read after the ones already handed out.
    pub(crate) rest: Vec<Value>,
    pub(crate) stderr: String,
    /// Exit code (`None`: killed by a signal).
    pub(crate) code: Option<i32>,
}

impl Serve {
    /// Starts `relay serve` on the file `store` and reads its `listening`
    /// line, which must name a file store.
    pub(crate) fn start(store: &std::path::Path) -> Self {
        Self::start_with(serve_command(&[], store, &[]))
    }

    /// Starts `command` (a `relay serve` with a file store) and reads its
    /// `listening` line.
    pub(crate) fn start_with(command: Command) -> Self {
        Self::start_on(command, "file")
    }

    /// Starts `command` and reads its `listening` line, which must name a
    /// store of `kind` (`file`, `redis`).
    pub(crate) fn start_on(command: Command, kind: &str) -> Self {
        let mut serve = Self::spawn(command);
        let first = match serve.lines.recv_timeout(WAIT) {
            Ok(line) => line,
            Err(_) => {
                let ended = serve.kill();
                panic!(
                    "relay serve printed no listening line (exit {:?}); stderr:\n{}",
                    ended.code, ended.stderr
                )
            }
        };
        let listening = parse(&first);
        assert_eq!(listening["event"], "listening", "the first line: {first}");
        assert_eq!(listening["store"], kind, "serve runs on a {kind} store: {first}");
        let url = listening["url"].as_str().expect("a url").to_owned();
        assert!(url.starts_with("ws://127.0.0.1:") && url.ends_with("/relay"), "{url}");
        serve.url = url;
        serve.seen.push(listening);
        serve
    }

    /// Starts `command` without reading anything.
    pub(crate) fn spawn(mut command: Command) -> Self {
        let mut child = command.spawn().expect("relay serve starts");
        let mut stdin = child.stdin.take().expect("piped stdin");
        let (lines, stderr_rx) = read_output(&mut child);
        // Writes happen on their own thread, so a test never blocks on a
        // full pipe and can kill serve while a burst is still being written.
        let (in_tx, chunks) = mpsc::channel::<Vec<u8>>();
        std::thread::spawn(move || {
            for chunk in chunks {
                // A killed serve closes the pipe: the rest is dropped.
                if stdin.write_all(&chunk).and_then(|()| stdin.flush()).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            stdin: Some(in_tx),
            lines,
            stderr: stderr_rx,
            url: String::new(),
            written: 0,
            seen: Vec::new(),
        }
    }

    /// The OS process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Queues `lines` for serve's stdin (each gets a newline); returns the
    /// stdin line number of the first.
    pub(crate) fn write_lines(&mut self, lines: &[String]) -> u64 {
        let first = self.written + 1;
        let mut bytes = Vec::new();
        for line in lines {
            bytes.extend_from_slice(line.as_bytes());
            bytes.push(b'\n');
        }
        self.written += lines.len() as u64;
        let stdin = self.stdin.as_ref().expect("stdin is still open");
        stdin.send(bytes).expect("the stdin writer runs");
        first
    }

    /// Ends serve's input (serve keeps running).
    pub(crate) fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// The next stdout line within `timeout`, or `None`.
    pub(crate) fn poll_line(&mut self, timeout: Duration) -> Option<Value> {
        match self.lines.recv_timeout(timeout) {
            Ok(line) => {
                let value = parse(&line);
                self.seen.push(value.clone());
                Some(value)
            }
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => {
                let tail = self.tail();
                let deadline = Instant::now() + WAIT;
                while self.is_running() && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(10));
                }
                let status = self.child.try_wait().ok().flatten();
                let stderr = self.stderr.recv_timeout(WAIT).unwrap_or_default();
                panic!(
                    "relay serve closed its stdout unasked (exit status {status:?}); seen:\n{tail}\nstderr:\n{stderr}"
                )
            }
        }
    }

    /// Whether the process is still running.
    pub(crate) fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("wait for relay serve").is_none()
    }

    /// SIGKILL (on unix), then every stdout line serve managed to write.
    pub(crate) fn kill(mut self) -> Ended {
        let _ = self.child.kill();
        self.collect()
    }

    /// SIGTERM, then waits (bounded) for the exit.
    #[cfg(unix)]
    pub(crate) fn terminate(self) -> Ended {
        let pid = self.pid().to_string();
        let status = Command::new("kill").args(["-TERM", &pid]).status().expect("kill runs");
        assert!(status.success(), "kill -TERM {pid} failed");
        self.wait_exit()
    }

    /// Waits (bounded by [`WAIT`]) for serve to exit by itself.
    pub(crate) fn wait_exit(mut self) -> Ended {
        let deadline = Instant::now() + WAIT;
        while self.is_running() {
            if Instant::now() > deadline {
                let tail = self.tail();
                let ended = self.kill();
                panic!("relay serve did not exit in time; stdout:\n{tail}\nstderr:\n{}", ended.stderr);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        self.collect()
    }

    fn collect(&mut self) -> Ended {
        let status = self.child.wait().expect("wait for relay serve");
        self.stdin = None;
        let mut rest = Vec::new();
        // The reader ends at the end of the pipe: everything serve wrote
        // before it died is read.
        while let Ok(line) = self.lines.recv_timeout(WAIT) {
            let value = parse(&line);
            self.seen.push(value.clone());
            rest.push(value);
        }
        let stderr = self.stderr.recv_timeout(WAIT).unwrap_or_default();
        Ended { rest, stderr, code: status.code() }
    }

    /// The last stdout lines, for failure messages.
    pub(crate) fn tail(&self) -> String {
        let from = self.seen.len().saturating_sub(20);
        self.seen[from..].iter().map(Value::to_string).collect::<Vec<_>>().join("\n")
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn parse(line: &str) -> Value {
    serde_json::from_str(line).unwrap_or_else(|e| panic!("a serve stdout line is not JSON ({e}): {line}"))
}
