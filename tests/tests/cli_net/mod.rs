//! Running `relay serve` and `relay dial` as child processes, with bounded
//! waits everywhere: a test that goes wrong fails within seconds instead of
//! hanging. Children are killed when their handle is dropped.
#![allow(dead_code)] // each test file uses a different part

use std::io::Write as _;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::common::{read_output, relay_path};

/// How long any single wait may take.
pub(crate) const WAIT: Duration = Duration::from_secs(15);

/// The `GATEWAY_RELAY_*` variables, removed from every child so the
/// environment of whoever runs the tests cannot leak in.
const RELAY_ENV: [&str; 7] = [
    "GATEWAY_RELAY_URL",
    "GATEWAY_RELAY_PLATFORMS",
    "GATEWAY_RELAY_BOT_IDS",
    "GATEWAY_RELAY_PLATFORM",
    "GATEWAY_RELAY_BOT_ID",
    "GATEWAY_RELAY_ID",
    "GATEWAY_RELAY_SECRET",
];

/// A `relay` command with piped stdio and a clean relay environment.
pub(crate) fn relay_command(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(relay_path());
    command.args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    for name in RELAY_ENV {
        command.env_remove(name);
    }
    for (name, value) in env {
        command.env(name, value);
    }
    command
}

/// A running child whose stdout is read line by line in the background.
#[derive(Debug)]
pub(crate) struct Running {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    stderr: mpsc::Receiver<String>,
    /// Every stdout line seen so far, in order.
    pub(crate) seen: Vec<String>,
}

impl Running {
    pub(crate) fn spawn(mut command: Command) -> Self {
        let mut child = command.spawn().expect("relay starts");
        let (lines, stderr_rx) = read_output(&mut child);
        let stdin = child.stdin.take();
        Self { child, stdin, lines, stderr: stderr_rx, seen: Vec::new() }
    }

    /// Writes one line to the child's stdin.
    /// The OS process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(crate) fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin is still open");
        writeln!(stdin, "{line}").expect("the child reads stdin");
        stdin.flush().expect("the child reads stdin");
    }

    /// Closes the child's stdin (end of input).
    pub(crate) fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// The next stdout line, failing after [`WAIT`].
    pub(crate) fn next_line(&mut self, what: &str) -> String {
        match self.lines.recv_timeout(WAIT) {
            Ok(line) => {
                self.seen.push(line.clone());
                line
            }
            Err(_) => {
                panic!("no stdout line while waiting for {what}; seen so far:\n{}", self.seen.join("\n"))
            }
        }
    }

    /// The first stdout line (as JSON) that `pick` accepts, among the lines
    /// seen so far or, failing that, the next ones. Concurrent work prints
    /// in any order, so earlier lines count too.
    pub(crate) fn expect(&mut self, what: &str, pick: impl Fn(&Value) -> bool) -> Value {
        let earlier =
            self.seen.iter().filter_map(|l| serde_json::from_str::<Value>(l).ok()).find(|v| pick(v));
        if let Some(found) = earlier {
            return found;
        }
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match self.lines.recv_timeout(left) {
                Ok(line) => line,
                Err(_) => panic!("timed out waiting for {what}; seen so far:\n{}", self.seen.join("\n")),
            };
            self.seen.push(line.clone());
            let value: Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line}"));
            if pick(&value) {
                return value;
            }
        }
    }

    /// Waits for the child to exit by itself (stdin closed first).
    pub(crate) fn finish(mut self) -> Finished {
        self.close_stdin();
        self.wait()
    }

    /// Waits for the child to exit by itself, stdin left as it is.
    pub(crate) fn wait(self) -> Finished {
        self.wait_long(WAIT)
    }

    /// As [`wait`](Self::wait), for a child that may take up to `limit`.
    pub(crate) fn wait_long(mut self, limit: Duration) -> Finished {
        let status = self.wait_exit(limit);
        // The reader threads end with the child's pipes.
        while let Ok(line) = self.lines.recv_timeout(WAIT) {
            self.seen.push(line);
        }
        let stderr = self.stderr.recv_timeout(WAIT).unwrap_or_default();
        let code = status.code().expect("relay exited by itself");
        Finished { lines: std::mem::take(&mut self.seen), stderr, code }
    }

    fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for relay") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("relay did not exit in time; stdout so far:\n{}", self.seen.join("\n"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends SIGTERM and waits for the exit.
    /// SIGKILL (on unix), as a crash would; waits for the process to go.
    pub(crate) fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    #[cfg(unix)]
    pub(crate) fn terminate(self) -> Finished {
        let pid = self.child.id().to_string();
        let status = Command::new("kill").args(["-TERM", &pid]).status().expect("kill runs");
        assert!(status.success(), "kill -TERM {pid} failed");
        self.finish()
    }
}

/// How a child ended.
#[derive(Debug)]
pub(crate) struct Finished {
    /// Every stdout line, from the start.
    pub(crate) lines: Vec<String>,
    pub(crate) stderr: String,
    pub(crate) code: i32,
}

impl Finished {
    /// Every stdout line as JSON.
    pub(crate) fn json(&self) -> Vec<Value> {
        self.lines
            .iter()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {l}")))
            .collect()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `relay serve --listen 127.0.0.1:0 …` child and its URL.
#[derive(Debug)]
pub(crate) struct Serve {
    pub(crate) run: Running,
    pub(crate) url: String,
}

impl Serve {
    /// Starts `relay serve` with `args` and reads its `listening` line.
    pub(crate) fn start(args: &[&str]) -> Self {
        Self::start_with_env(args, &[])
    }

    /// Starts `relay serve` with `args` and `env`, and reads its `listening`
    /// line (a `ws://` or, with TLS, a `wss://` URL).
    pub(crate) fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut full = vec!["serve", "--listen", "127.0.0.1:0"];
        full.extend_from_slice(args);
        let mut run = Running::spawn(relay_command(&full, env));
        let first = run.next_line("the listening line");
        let value: Value = serde_json::from_str(&first).expect("the first line is JSON");
        assert_eq!(value["event"], "listening", "{first}");
        let url = value["url"].as_str().expect("a url").to_owned();
        let local = url.starts_with("ws://127.0.0.1:") || url.starts_with("wss://127.0.0.1:");
        assert!(local && url.ends_with("/relay"), "{url}");
        assert!(!url.contains("127.0.0.1:0/"), "the real port is printed: {url}");
        Self { run, url }
    }

    /// The process id, to look at its command line.
    pub(crate) fn pid(&self) -> u32 {
        self.run.pid()
    }

    /// Waits for a serve event named `event` that `pick` also accepts.
    pub(crate) fn expect(&mut self, event: &str, pick: impl Fn(&Value) -> bool) -> Value {
        self.run.expect(event, |v| v["event"] == event && pick(v))
    }
}

/// Starts `relay dial` with `args` (and `env`), stdin left open.
pub(crate) fn dial(args: &[&str], env: &[(&str, &str)]) -> Running {
    let mut full = vec!["dial"];
    full.extend_from_slice(args);
    Running::spawn(relay_command(&full, env))
}

/// Runs `relay dial` to completion with `stdin` lines; returns (every stdout line as JSON, stderr, code).
pub(crate) fn dial_all(args: &[&str], env: &[(&str, &str)], stdin: &[&str]) -> (Vec<Value>, String, i32) {
    let mut run = dial(args, env);
    for line in stdin {
        run.send(line);
    }
    let finished = run.finish();
    (finished.json(), finished.stderr, finished.code)
}
