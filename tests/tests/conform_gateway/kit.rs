//! Running `relay conform gateway` as a child process: where it listens,
//! and the verdicts it printed, with bounded waits.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::cli_net::{Running, relay_command};

/// The longest a run may take (CLI.md: a whole run ends within 60 s).
pub(crate) const RUN_LIMIT: Duration = Duration::from_secs(60);

/// A started `relay conform gateway --listen 127.0.0.1:0 --json …`.
pub(crate) struct Kit {
    /// The child process.
    running: Running,
    /// Where the gateway must dial.
    pub(crate) url: String,
}

/// The outcome of a finished run.
#[derive(Debug)]
pub(crate) struct Report {
    /// Check name → (outcome, detail), in table order.
    pub(crate) checks: BTreeMap<String, (String, String)>,
    /// The exit code.
    pub(crate) code: i32,
    /// How long the run took from its start.
    pub(crate) took: Duration,
    /// Everything on stdout, for failure messages.
    pub(crate) stdout: String,
}

impl Kit {
    /// Starts the kit with `extra` flags and reads the `listening` line.
    pub(crate) fn start(extra: &[&str]) -> (Self, Instant) {
        let mut args = vec!["conform", "gateway", "--listen", "127.0.0.1:0", "--json"];
        args.extend_from_slice(extra);
        let started = Instant::now();
        let mut running = Running::spawn(relay_command(&args, &[]));
        let first = running.next_line("the listening line");
        let value: Value = serde_json::from_str(&first).expect("the first line is JSON");
        let url = value["listening"].as_str().expect("a listening URL").to_owned();
        assert!(url.starts_with("ws://127.0.0.1:") && url.ends_with("/relay"), "{url}");
        (Self { running, url }, started)
    }

    /// Waits for the run to end (within [`RUN_LIMIT`]) and reads its verdicts.
    pub(crate) fn finish(self, started: Instant) -> Report {
        let finished = self.running.wait_long(RUN_LIMIT);
        let took = started.elapsed();
        let mut checks = BTreeMap::new();
        for line in &finished.lines[1..] {
            let value: Value = serde_json::from_str(line).expect("every line is JSON");
            if let Some(name) = value["check"].as_str() {
                let outcome = value["outcome"].as_str().expect("an outcome").to_owned();
                let detail = value["detail"].as_str().expect("a detail").to_owned();
                checks.insert(name.to_owned(), (outcome, detail));
            }
        }
        Report { checks, code: finished.code, took, stdout: finished.lines.join("\n") }
    }
}

impl Report {
    /// The checks with `outcome`.
    pub(crate) fn with(&self, outcome: &str) -> Vec<&str> {
        self.checks.iter().filter(|(_, (o, _))| o == outcome).map(|(name, _)| name.as_str()).collect()
    }

    /// Asserts every check passed but those in `skipped`, which skipped.
    pub(crate) fn assert_passes(&self, skipped: &[&str], who: &str) {
        assert_eq!(self.checks.len(), 11, "{who}: every check reported:\n{}", self.stdout);
        assert_eq!(self.with("fail"), Vec::<&str>::new(), "{who}:\n{}", self.stdout);
        assert_eq!(self.with("skip"), skipped, "{who}:\n{}", self.stdout);
        assert_eq!(self.code, 0, "{who}:\n{}", self.stdout);
        assert!(self.took < RUN_LIMIT, "{who}: took {:?}", self.took);
    }
}
