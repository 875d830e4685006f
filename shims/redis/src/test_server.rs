//! [`RedisServer`]: a real `redis-server` of a test's own (feature
//! `test-server`).

use std::fmt;
use std::io::ErrorKind;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// How long a server may take to start or to stop.
const PATIENCE: Duration = Duration::from_secs(5);
/// Starts tried before giving up: a free port may be taken before the
/// server binds it.
const ATTEMPTS: usize = 5;

/// A `redis-server` on a free loopback port, in a fresh directory, with
/// the strongest persistence (`appendonly yes`, `appendfsync always`, no
/// RDB snapshots). Never the one a machine may run on 6379.
///
/// It stops when dropped. Test helpers panic on failure, with the reason.
///
/// ```no_run
/// use relay_redis::test_server::RedisServer;
///
/// let mut server = RedisServer::start();
/// let url = server.url(); // redis://127.0.0.1:PORT/
/// server.kill(); // a crash: every acknowledged write is in the AOF
/// server.restart(); // the same port and directory, the AOF loaded
/// # let _ = url;
/// ```
pub struct RedisServer {
    port: u16,
    dir: TempDir,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts a server, and returns once it answers.
    ///
    /// # Panics
    ///
    /// When `redis-server` is not on `PATH` (the message says how to
    /// install it), or when no server starts.
    pub fn start() -> Self {
        let dir = tempfile::Builder::new().prefix("relay-redis-").tempdir().expect("a temporary directory");
        let mut last_log = String::new();
        for _ in 0..ATTEMPTS {
            let port = free_port();
            match launch(port, dir.path()) {
                Ok(child) => return Self { port, dir, child: Some(child) },
                Err(log) => last_log = log,
            }
        }
        panic!("redis-server did not start in {ATTEMPTS} attempts; its log ends:\n{last_log}");
    }

    /// `redis://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        url(self.port)
    }

    /// The port it listens on, the same across restarts.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its directory: the append-only files and its log (`redis.log`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Whether it is running (not stopped or killed).
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Stops it cleanly (`SHUTDOWN`: it syncs its files first), or kills
    /// it if it does not exit in time. Nothing happens if it is not running.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        if let Ok(mut conn) = connect(self.port) {
            // The server closes the connection instead of answering.
            let _: redis::RedisResult<()> = redis::cmd("SHUTDOWN").query(&mut conn);
        }
        if !exited_within(&mut child, PATIENCE) {
            kill(&mut child);
        }
    }

    /// Kills it with SIGKILL, as a crash would: it gets no chance to write
    /// anything more.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill(&mut child);
        }
    }

    /// Stops it if it runs, then starts it again on the same port and
    /// directory, so it loads what it persisted; returns once it answers.
    ///
    /// # Panics
    ///
    /// When it does not start again.
    pub fn restart(&mut self) {
        self.stop();
        let mut last_log = String::new();
        // The port is ours only while a server listens on it: another
        // process may hold it for a moment.
        for _ in 0..ATTEMPTS {
            match launch(self.port, self.dir.path()) {
                Ok(child) => {
                    self.child = Some(child);
                    return;
                }
                Err(log) => last_log = log,
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("redis-server did not start again on port {}; its log ends:\n{last_log}", self.port);
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        // Its directory goes with it: nothing is worth a clean stop.
        self.kill();
    }
}

impl fmt::Debug for RedisServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisServer")
            .field("port", &self.port)
            .field("dir", &self.dir.path())
            .field("running", &self.is_running())
            .finish()
    }
}

/// Spawns a server on `port` in `dir` and waits until it answers with its
/// data loaded; on failure, the end of its log.
fn launch(port: u16, dir: &Path) -> Result<Child, String> {
    let spawned = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .arg("--dir")
        .arg(dir)
        .args(["--appendonly", "yes", "--appendfsync", "always", "--save", ""])
        .arg("--logfile")
        .arg(dir.join(LOG))
        .args(["--daemonize", "no"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            panic!("redis-server not found: install it (Debian: apt-get install redis-server)")
        }
        Err(e) => panic!("cannot run redis-server: {e}"),
    };
    let deadline = Instant::now() + PATIENCE;
    while Instant::now() < deadline {
        if !matches!(child.try_wait(), Ok(None)) {
            return Err(log_tail(dir));
        }
        if is_loaded(port) {
            return Ok(child);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    kill(&mut child);
    Err(format!("(no answer within {PATIENCE:?})\n{}", log_tail(dir)))
}

fn url(port: u16) -> String {
    format!("redis://127.0.0.1:{port}/")
}

fn connect(port: u16) -> redis::RedisResult<redis::Connection> {
    let conn = redis::Client::open(url(port))?.get_connection_with_timeout(Duration::from_millis(500))?;
    conn.set_read_timeout(Some(PATIENCE))?;
    Ok(conn)
}

/// Whether the server answers and has loaded its files: while loading it
/// answers `INFO` but refuses reads and writes.
fn is_loaded(port: u16) -> bool {
    let Ok(mut conn) = connect(port) else { return false };
    let info: redis::RedisResult<String> = redis::cmd("INFO").arg("persistence").query(&mut conn);
    info.is_ok_and(|info| info.lines().any(|line| line.trim() == "loading:0"))
}

/// A port nothing listens on now; not 6379, where a machine's own Redis
/// may run.
fn free_port() -> u16 {
    loop {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let port = listener.local_addr().expect("its address").port();
        if port != 6379 {
            return port;
        }
    }
}

fn exited_within(child: &mut Child, patience: Duration) -> bool {
    let deadline = Instant::now() + patience;
    while Instant::now() < deadline {
        if !matches!(child.try_wait(), Ok(None)) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

fn kill(child: &mut Child) {
    // It may have exited already; either way it is reaped here.
    let _ = child.kill();
    let _ = child.wait();
}

const LOG: &str = "redis.log";

/// The last lines of the server's log, for a failure message.
fn log_tail(dir: &Path) -> String {
    let log = std::fs::read_to_string(dir.join(LOG)).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}
