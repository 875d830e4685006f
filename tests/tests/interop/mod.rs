//! Python peers for the interop tests: a private Python environment with the
//! `websockets` package, and child processes that are always cleaned up.
//!
//! The environment lives in `<target-dir>/interop-venv` (found from the test
//! executable's path, like `common::relay_path`). The first test that needs it
//! builds it in a temporary directory next to it — `python3 -m venv`, then
//! `pip install` of [`REQUIREMENT`] from PyPI — and renames it into place, so
//! concurrent test processes never see a half-built environment (the loser of
//! the race throws its copy away). Later runs reuse it after a quick check.
//! When the interpreter has no `venv` module, the fallback is
//! `python3 -m pip install --target <dir>/site` plus `PYTHONPATH`.
//!
//! Nothing is skipped: a machine without `python3` or without access to PyPI
//! fails these tests with a message saying what is missing and how to fix it.
//!
//! Knobs (environment): `RELAY_INTEROP_PYTHON` picks the interpreter (default
//! `python3`); `RELAY_INTEROP_PIP_TARGET=1` forces the `--target` fallback.
#![allow(dead_code)] // each test file uses a different part

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// What pip installs. The asyncio API used by the scripts exists since 14.
pub(crate) const REQUIREMENT: &str = "websockets>=14,<18";

/// Budget of `python3 -m venv` (it runs ensurepip).
const VENV_TIMEOUT: Duration = Duration::from_secs(180);
/// Budget of `pip install` (a download from PyPI).
const PIP_TIMEOUT: Duration = Duration::from_secs(300);
/// Budget of a quick interpreter check.
const CHECK_TIMEOUT: Duration = Duration::from_secs(30);

/// A ready Python: how to run a script with `websockets` importable.
#[derive(Debug, Clone)]
pub(crate) struct Python {
    /// The interpreter to run.
    exe: PathBuf,
    /// Extra import path (only for the `pip --target` fallback).
    pythonpath: Option<PathBuf>,
    /// The `websockets` version installed.
    pub(crate) websockets_version: String,
}

impl Python {
    /// A command running `tests/python/<script>` with `websockets` importable.
    pub(crate) fn script(&self, script: &str) -> Command {
        let path = scripts_dir().join(script);
        assert!(path.is_file(), "missing interop script {}", path.display());
        let mut command = Command::new(&self.exe);
        command.arg(path);
        if let Some(dir) = &self.pythonpath {
            command.env("PYTHONPATH", dir);
        }
        command
            .env("PYTHONUNBUFFERED", "1")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env("PYTHONIOENCODING", "utf-8")
            .env_remove("PYTHONHOME");
        command
    }
}

/// `tests/python`, where the peer scripts live.
pub(crate) fn scripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("python")
}

/// The Python environment, set up on first use (once per process); panics
/// with a clear message when it cannot be had.
pub(crate) fn python() -> Python {
    static PYTHON: OnceLock<Result<Python, String>> = OnceLock::new();
    match PYTHON.get_or_init(|| {
        let started = Instant::now();
        let python = setup();
        if let Ok(p) = &python {
            eprintln!(
                "interop: python with websockets {} ready in {:.1?} ({})",
                p.websockets_version,
                started.elapsed(),
                p.exe.display()
            );
        }
        python
    }) {
        Ok(python) => python.clone(),
        Err(problem) => panic!("Python interop tests cannot run: {problem}"),
    }
}

/// Where the environment goes: next to the build profiles in the target dir.
fn env_dir() -> PathBuf {
    // The test runs as <target-dir>/<profile>/deps/<test>-<hash>.
    let exe = std::env::current_exe().expect("the test knows its own path");
    let target_dir = exe
        .parent()
        .and_then(Path::parent)
        .and_then(Path::parent)
        .expect("test binary lives in <target-dir>/<profile>/deps");
    target_dir.join("interop-venv")
}

/// What the base interpreter says about itself.
struct Base {
    /// The interpreter's own path (`sys.executable`), for the fallback.
    executable: PathBuf,
    /// `major.minor.micro`.
    version: String,
    /// Whether `python -m venv` can be used.
    has_venv: bool,
}

fn setup() -> Result<Python, String> {
    let interpreter = std::env::var_os("RELAY_INTEROP_PYTHON").unwrap_or_else(|| "python3".into());
    let force_target = std::env::var_os("RELAY_INTEROP_PIP_TARGET").is_some_and(|v| v == "1");
    let base = probe(Path::new(&interpreter))?;
    let mode = if base.has_venv && !force_target { "venv" } else { "target" };
    // The marker says what the environment was built for; any change rebuilds it.
    let marker = format!(
        "requirement={REQUIREMENT}\nmode={mode}\npython={}\nversion={}\n",
        base.executable.display(),
        base.version
    );
    let dir = env_dir();
    if let Some(python) = ready(&dir, &marker, &base) {
        return Ok(python);
    }
    if dir.exists() {
        // Stale or half-made by hand: move it aside (atomic), then delete.
        let aside = sibling(&dir, "stale");
        if std::fs::rename(&dir, &aside).is_ok() {
            let _ = std::fs::remove_dir_all(&aside);
        }
    }
    let tmp = sibling(&dir, "tmp");
    let built = build(&tmp, mode, &base).and_then(|()| {
        std::fs::write(tmp.join(MARKER), &marker).map_err(|e| format!("cannot write {}: {e}", tmp.display()))
    });
    if let Err(problem) = built {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(problem);
    }
    if std::fs::rename(&tmp, &dir).is_err() {
        // Another test process finished first: use its environment.
        let _ = std::fs::remove_dir_all(&tmp);
    }
    ready(&dir, &marker, &base).ok_or_else(|| {
        format!(
            "the Python environment in {} is not usable after setting it up; delete that directory and re-run",
            dir.display()
        )
    })
}

const MARKER: &str = "relay-interop-ready";

/// A unique path next to `dir` (same file system, so `rename` is atomic).
fn sibling(dir: &Path, what: &str) -> PathBuf {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let name = format!(
        "{}.{what}.{}.{nanos}",
        dir.file_name().and_then(|n| n.to_str()).unwrap_or("interop-venv"),
        std::process::id()
    );
    dir.with_file_name(name)
}

fn probe(interpreter: &Path) -> Result<Base, String> {
    const CODE: &str = "import sys, importlib.util as u\n\
        print(sys.executable)\n\
        print('%d.%d.%d' % sys.version_info[:3])\n\
        print(int(sys.version_info >= (3, 9)))\n\
        print(int(u.find_spec('venv') is not None and u.find_spec('ensurepip') is not None))\n";
    let mut command = Command::new(interpreter);
    command.args(["-c", CODE]);
    let output = run_bounded(command, CHECK_TIMEOUT).map_err(|e| {
        format!(
            "cannot run `{}` ({e}). Install Python 3.9 or newer with its venv module \
             (Debian/Ubuntu: `apt-get install python3 python3-venv`), or point \
             RELAY_INTEROP_PYTHON at a Python 3 interpreter",
            interpreter.display()
        )
    })?;
    if !output.status.success() {
        return Err(format!(
            "`{} -c ...` failed ({}): {}",
            interpreter.display(),
            output.status,
            output.stderr.trim()
        ));
    }
    let lines: Vec<&str> = output.stdout.lines().collect();
    let [executable, version, new_enough, has_venv] = lines[..] else {
        return Err(format!("unexpected answer from `{}`: {:?}", interpreter.display(), output.stdout));
    };
    if new_enough != "1" {
        return Err(format!(
            "`{}` is Python {version}; the interop tests need Python 3.9 or newer \
             (install a newer python3 or point RELAY_INTEROP_PYTHON at one)",
            interpreter.display()
        ));
    }
    Ok(Base { executable: executable.into(), version: version.into(), has_venv: has_venv == "1" })
}

/// The interpreter inside a venv.
fn venv_python(dir: &Path) -> PathBuf {
    if cfg!(windows) { dir.join("Scripts").join("python.exe") } else { dir.join("bin").join("python") }
}

fn python_in(dir: &Path, marker: &str, base: &Base) -> Python {
    if marker.contains("\nmode=venv\n") {
        Python { exe: venv_python(dir), pythonpath: None, websockets_version: String::new() }
    } else {
        Python {
            exe: base.executable.clone(),
            pythonpath: Some(dir.join("site")),
            websockets_version: String::new(),
        }
    }
}

/// The environment in `dir`, if it was built for `marker` and imports websockets.
fn ready(dir: &Path, marker: &str, base: &Base) -> Option<Python> {
    if std::fs::read_to_string(dir.join(MARKER)).ok()? != marker {
        return None;
    }
    let mut python = python_in(dir, marker, base);
    python.websockets_version = websockets_version(&python).ok()?;
    Some(python)
}

fn websockets_version(python: &Python) -> Result<String, String> {
    let mut command = Command::new(&python.exe);
    command.args(["-c", "import websockets.asyncio.server, websockets; print(websockets.__version__)"]);
    if let Some(dir) = &python.pythonpath {
        command.env("PYTHONPATH", dir);
    }
    let output = run_bounded(command, CHECK_TIMEOUT)?;
    if output.status.success() {
        Ok(output.stdout.trim().to_owned())
    } else {
        Err(format!("importing websockets failed: {}", output.stderr.trim()))
    }
}

fn build(tmp: &Path, mode: &str, base: &Base) -> Result<(), String> {
    eprintln!("interop: setting up Python {} with {REQUIREMENT} in {}", base.version, tmp.display());
    let pip_args = ["-m", "pip", "install", "--disable-pip-version-check", "--no-input", REQUIREMENT];
    let pip = if mode == "venv" {
        let mut venv = Command::new(&base.executable);
        venv.args(["-m", "venv"]).arg(tmp);
        let output = run_bounded(venv, VENV_TIMEOUT).map_err(|e| format!("`python3 -m venv` {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "`{} -m venv {}` failed ({}): {}. Install the venv module \
                 (Debian/Ubuntu: `apt-get install python3-venv`) or set RELAY_INTEROP_PIP_TARGET=1",
                base.executable.display(),
                tmp.display(),
                output.status,
                output.stderr.trim()
            ));
        }
        let mut pip = Command::new(venv_python(tmp));
        pip.args(pip_args);
        pip
    } else {
        let mut pip = Command::new(&base.executable);
        pip.args(pip_args).arg("--target").arg(tmp.join("site"));
        pip
    };
    let output = run_bounded(pip, PIP_TIMEOUT).map_err(|e| format!("`pip install {REQUIREMENT}` {e}"))?;
    if !output.status.success() {
        let tail: Vec<&str> = output.stderr.lines().rev().take(12).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(format!(
            "`pip install {REQUIREMENT}` failed ({}). These tests install the `websockets` package \
             from PyPI on first use, so they need network access to PyPI (or pip configured with a \
             reachable index, e.g. PIP_INDEX_URL or PIP_FIND_LINKS){}. pip said:\n{}",
            output.status,
            if mode == "target" {
                "; without the venv module, also pip itself (`apt-get install python3-pip`)"
            } else {
                ""
            },
            tail.join("\n")
        ));
    }
    let python = python_in(tmp, &format!("\nmode={mode}\n"), base);
    websockets_version(&python).map(drop)
}

/// What a finished short command printed.
pub(crate) struct Output {
    pub(crate) status: ExitStatus,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

/// Runs `command` to completion, killing it after `limit`.
pub(crate) fn run_bounded(mut command: Command, limit: Duration) -> Result<Output, String> {
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = command.spawn().map_err(|e| format!("could not start: {e}"))?;
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let deadline = Instant::now() + limit;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("did not finish within {limit:?} and was killed"));
            }
            Err(e) => return Err(format!("could not be waited for: {e}")),
        }
    };
    let text = |handle: std::thread::JoinHandle<Vec<u8>>| {
        String::from_utf8_lossy(&handle.join().unwrap_or_default()).into_owned()
    };
    Ok(Output { status, stdout: text(stdout), stderr: text(stderr) })
}

fn drain(pipe: Option<impl std::io::Read + Send + 'static>) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        bytes
    })
}

/// A child process that is killed when the guard drops (also on panic), with
/// its stdout as lines to wait for and its stderr kept for messages.
#[derive(Debug)]
pub(crate) struct Proc {
    name: String,
    child: Child,
    /// Kept open: the Python peers exit when it closes (their parent died).
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    stderr: Arc<Mutex<String>>,
}

impl Proc {
    /// Starts `command` with piped stdio.
    pub(crate) fn spawn(name: &str, mut command: Command) -> Self {
        command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = command.spawn().unwrap_or_else(|e| panic!("could not start {name}: {e}"));
        let (tx, lines) = channel();
        let stdout = child.stdout.take().expect("piped stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&stderr);
        let pipe = child.stderr.take().expect("piped stderr");
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                let mut text = sink.lock().unwrap_or_else(PoisonError::into_inner);
                text.push_str(&line);
                text.push('\n');
            }
        });
        let stdin = child.stdin.take();
        Self { name: name.to_owned(), child, stdin, lines, stderr }
    }

    /// Writes one line to the child's stdin.
    pub(crate) fn send_line(&mut self, line: &str) {
        use std::io::Write as _;
        let stdin = self.stdin.as_mut().expect("stdin is open");
        writeln!(stdin, "{line}")
            .and_then(|()| stdin.flush())
            .unwrap_or_else(|e| panic!("could not write to {}: {e}; stderr:\n{}", self.name, self.stderr()));
    }

    /// What the child wrote on stderr so far.
    pub(crate) fn stderr(&self) -> String {
        self.stderr.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The next stdout line, waiting at most `limit`; `None` at end of output.
    pub(crate) fn try_line(&self, limit: Duration) -> Result<Option<String>, String> {
        match self.lines.recv_timeout(limit) {
            Ok(line) => Ok(Some(line)),
            Err(RecvTimeoutError::Disconnected) => Ok(None),
            Err(RecvTimeoutError::Timeout) => Err(format!("no output from {} within {limit:?}", self.name)),
        }
    }

    /// The next stdout line; panics (showing stderr) on timeout or end of output.
    pub(crate) fn line(&self, limit: Duration) -> String {
        match self.try_line(limit) {
            Ok(Some(line)) => line,
            Ok(None) => {
                // Give the stderr reader a moment to catch the last words.
                std::thread::sleep(Duration::from_millis(100));
                panic!("{} ended its output early; stderr:\n{}", self.name, self.stderr())
            }
            Err(e) => panic!("{e}; stderr:\n{}", self.stderr()),
        }
    }

    /// The next stdout line that is a JSON object matching `pick`.
    pub(crate) fn json_line(
        &self,
        limit: Duration,
        what: &str,
        mut pick: impl FnMut(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match self.try_line(left) {
                Ok(Some(line)) => line,
                Ok(None) => {
                    std::thread::sleep(Duration::from_millis(100));
                    panic!("{} ended before {what}; stderr:\n{}", self.name, self.stderr())
                }
                Err(_) => {
                    panic!("timed out waiting for {what} from {}; stderr:\n{}", self.name, self.stderr())
                }
            };
            let value: serde_json::Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("{} printed a non-JSON line ({e}): {line}", self.name));
            if pick(&value) {
                return value;
            }
        }
    }

    /// Waits for the child to exit by itself, at most `limit`.
    pub(crate) fn wait(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return status,
                Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
                Ok(None) => panic!("{} did not exit within {limit:?}; stderr:\n{}", self.name, self.stderr()),
                Err(e) => panic!("waiting for {}: {e}", self.name),
            }
        }
    }

    /// Every stdout line left, once the child has exited (bounded).
    pub(crate) fn rest(&self, limit: Duration) -> Vec<String> {
        let mut rest = Vec::new();
        let deadline = Instant::now() + limit;
        while let Ok(Some(line)) = self.try_line(deadline.saturating_duration_since(Instant::now())) {
            rest.push(line);
        }
        rest
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        drop(self.stdin.take());
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}
