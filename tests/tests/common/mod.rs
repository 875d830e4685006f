//! Shared helpers for the tests that run the `relay` binary.
//!
//! `relay-tests` cannot depend on a binary crate, so the binary is built here,
//! once per test process, with the same profile and target directory as the
//! tests themselves. Cargo makes that a quick no-op when it is up to date, and
//! building every time means a test never runs a stale binary.
#![allow(dead_code)] // each test file uses a different part

use std::io::{BufRead as _, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::{OnceLock, mpsc};

/// A command running the `relay` binary.
pub(crate) fn relay() -> assert_cmd::Command {
    assert_cmd::Command::new(relay_path())
}

/// A `std` command running the `relay` binary (for streaming stdin by hand).
pub(crate) fn relay_std() -> Command {
    Command::new(relay_path())
}

/// Path of the `relay` binary, built on first use.
pub(crate) fn relay_path() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(build_relay)
}

/// Reads a spawned child's stdout line by line and its whole stderr, each
/// on a thread of its own, so a test never blocks on a full pipe.
pub(crate) fn read_output(child: &mut Child) -> (mpsc::Receiver<String>, mpsc::Receiver<String>) {
    let stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let (line_tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if line_tx.send(line).is_err() {
                break;
            }
        }
    });
    let (err_tx, errors) = mpsc::channel();
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        let _ = err_tx.send(text);
    });
    (lines, errors)
}

/// Runs `relay` with `args` and `stdin`; returns (stdout, stderr, exit code).
pub(crate) fn run(args: &[&str], stdin: impl Into<Vec<u8>>) -> (String, String, i32) {
    let output = relay().args(args).write_stdin(stdin).output().expect("relay runs");
    (
        String::from_utf8(output.stdout).expect("stdout is UTF-8"),
        String::from_utf8(output.stderr).expect("stderr is UTF-8"),
        output.status.code().expect("relay exited by itself"),
    )
}

fn build_relay() -> PathBuf {
    // This test runs as <target-dir>/<profile>/deps/<test>-<hash>.
    let exe = std::env::current_exe().expect("the test knows its own path");
    let profile_dir = exe.parent().and_then(Path::parent).expect("test binary lives in <profile>/deps");
    let target_dir = profile_dir.parent().expect("profile directory has a parent");
    let binary = profile_dir.join(format!("relay{}", std::env::consts::EXE_SUFFIX));

    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = Command::new(cargo);
    build.current_dir(env!("CARGO_MANIFEST_DIR")).args([
        "build",
        "--quiet",
        "-p",
        "relay-cli",
        "--bin",
        "relay",
    ]);
    build.arg("--target-dir").arg(target_dir);
    match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => {}
        Some("release") => {
            build.arg("--release");
        }
        Some(profile) => {
            build.args(["--profile", profile]);
        }
    }
    match build.output() {
        Ok(output) if output.status.success() => {}
        Ok(output) => panic!("building relay failed:\n{}", String::from_utf8_lossy(&output.stderr)),
        // No cargo at hand (the test binary was run directly): use what is there.
        Err(e) if binary.exists() => {
            eprintln!("could not run cargo ({e}); testing the existing {}", binary.display())
        }
        Err(e) => panic!("could not run cargo to build relay: {e}"),
    }
    assert!(binary.exists(), "cargo build did not produce {}", binary.display());
    binary
}

/// A library gateway announcing `platform:bot_id`, connected to `url`
/// (handshake included) within `wait`, re-dialing after a drop when
/// `reconnect`; panics naming the URL when it cannot connect.
pub(crate) fn connect_gateway(
    rt: &tokio::runtime::Runtime,
    url: &str,
    (platform, bot_id): (&str, &str),
    reconnect: bool,
    wait: std::time::Duration,
) -> (relay_tokio::Client, relay_tokio::Events) {
    let config = relay_tokio::ClientConfig {
        reconnect,
        connect_budget: wait,
        shutdown_budget: std::time::Duration::from_secs(1),
        ..relay_tokio::ClientConfig::default()
            .with_identities([relay_core::gateway::Identity::new(platform, bot_id)])
    };
    rt.block_on(relay_tokio::connect(url, config))
        .unwrap_or_else(|e| panic!("the gateway could not connect to {url}: {e}"))
}
