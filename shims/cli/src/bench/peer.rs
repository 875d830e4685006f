//! The connector side of a load measurement, in a child process of its own:
//! each side's peak RSS is then its own, and the two sides share no
//! allocator, as in a real deployment.
//!
//! The child (`relay bench --connector-for <role>`, hidden) starts the
//! server, prints `url <url>`, serves until its stdin closes, then prints
//! `rss <peak KiB>` and `cpu <user + system seconds>` and exits.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::process::{Child, ChildStdout, Command, Stdio};

use super::{RuntimeBox, RuntimeChoice, cpu, proc_kib, raw, relay};

/// What the child serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Role {
    /// relay's connector answering every request at once.
    RelayEcho,
    /// relay's connector pushing the inbound corpus.
    RelayPush,
    /// The bare async-tungstenite echo server.
    RawEcho,
    /// The bare async-tungstenite push server.
    RawPush,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Self::RelayEcho => "relay-echo",
            Self::RelayPush => "relay-push",
            Self::RawEcho => "raw-echo",
            Self::RawPush => "raw-push",
        }
    }
}

/// What the connector-side child reports when it ends.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PeerFigures {
    /// Its peak RSS.
    pub(crate) rss_kib: Option<u64>,
    /// Its CPU time, user + system.
    pub(crate) cpu_s: Option<f64>,
}

/// A running connector-side child.
pub(crate) struct Peer {
    child: Child,
    stdout: BufReader<ChildStdout>,
    pub(crate) url: String,
}

impl Peer {
    /// Starts the child and waits until it listens.
    pub(crate) fn spawn(role: Role, runtime: RuntimeChoice, websocket_buffer: usize) -> Result<Self, String> {
        let exe = std::env::current_exe().map_err(|e| format!("cannot find the relay binary: {e}"))?;
        let mut child = Command::new(exe)
            .args(["bench", "--connector-for", role.name(), "--runtime", runtime.name()])
            .args(["--websocket-buffer", &websocket_buffer.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start the connector process: {e}"))?;
        let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
        let mut line = String::new();
        let _ = stdout.read_line(&mut line);
        let Some(url) = line.trim().strip_prefix("url ").map(str::to_owned) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("the connector process did not start: {:?}", line.trim()));
        };
        Ok(Self { child, stdout, url })
    }

    /// Stops the child; its peak RSS and CPU time.
    pub(crate) fn finish(mut self) -> PeerFigures {
        drop(self.child.stdin.take());
        let mut figures = PeerFigures::default();
        let mut line = String::new();
        while matches!(self.stdout.read_line(&mut line), Ok(n) if n > 0) {
            if let Some(kib) = line.trim().strip_prefix("rss ") {
                figures.rss_kib = kib.parse().ok();
            } else if let Some(seconds) = line.trim().strip_prefix("cpu ") {
                figures.cpu_s = seconds.parse().ok();
            }
            line.clear();
        }
        let _ = self.child.wait();
        figures
    }
}

/// The child's side: serve `role` until stdin closes.
pub(crate) fn serve(rtb: RuntimeBox, role: Role, websocket_buffer: usize) -> Result<(), String> {
    let (url, stop): (String, Box<dyn FnOnce()>) = match role {
        Role::RelayEcho | Role::RelayPush => {
            let server = relay::BenchServer::start(rtb, role == Role::RelayPush, websocket_buffer)?;
            (server.url.clone(), Box::new(move || server.stop()))
        }
        Role::RawEcho | Role::RawPush => {
            let server = raw::RawServer::start(rtb, role == Role::RawPush)?;
            (server.url(), Box::new(move || server.stop()))
        }
    };
    let mut out = std::io::stdout();
    let _ = writeln!(out, "url {url}");
    let _ = out.flush();
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    stop();
    let _ = writeln!(out, "rss {}", proc_kib(None, "VmHWM").unwrap_or(0));
    if let Some(seconds) = cpu::process_seconds() {
        let _ = writeln!(out, "cpu {seconds}");
    }
    let _ = out.flush();
    Ok(())
}
