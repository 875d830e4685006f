//! Scenarios that need a process of their own: a disk that fills up, and a
//! crash. The test binary runs itself as the child, selected by an
//! environment variable, and the parent checks the file the child left.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use common::{gateway, realistic};
use futures::executor::block_on;
use futures::future::join_all;
use relay_core::connector::{Backlog, BufferedFrame};
use relay_store::{FileStore, FileStoreOptions, StoreHandle, StoreOptions};

const ROLE: &str = "RELAY_STORE_TEST_CHILD";
const SEED: u64 = 5;
const FRAMES: usize = 6000;

/// The store file to work on, when this process is the child for `scenario`.
fn child_file(scenario: &str) -> Option<String> {
    let role = std::env::var(ROLE).ok()?;
    role.strip_prefix(&format!("{scenario}:")).map(str::to_owned)
}

/// Runs test `name` of this binary as a child through `sh -c script` and
/// returns what it printed.
fn run_child(name: &str, scenario: &str, path: &Path, script: &str) -> String {
    let output = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(ROLE, format!("{scenario}:{}", path.display()))
        .output()
        .unwrap();
    String::from_utf8(output.stdout).unwrap()
}

/// The `appended <id> <frame index>` lines a child printed.
fn reported(stdout: &str) -> BTreeMap<String, usize> {
    stdout
        .lines()
        .filter_map(|line| line.strip_prefix("appended "))
        .map(|rest| {
            let (id, index) = rest.split_once(' ').unwrap();
            (id.to_owned(), index.parse().unwrap())
        })
        .collect()
}

/// Checks that every entry the child reported is in the file, as it was sent.
fn assert_on_disk(path: &Path, reported: &BTreeMap<String, usize>, frames: &[BufferedFrame]) {
    let store = FileStore::open(path).unwrap();
    let stored = store.entries_after(&gateway("gw"), None, usize::MAX).unwrap();
    let stored: BTreeMap<&str, BufferedFrame> =
        stored.iter().map(|e| (e.buffer_id.as_str(), e.frame.clone().decoded().unwrap())).collect();
    for (id, &index) in reported {
        assert_eq!(stored.get(id.as_str()), Some(&frames[index]), "entry {id} was reported appended");
    }
}

fn handle(store: FileStore) -> StoreHandle {
    StoreHandle::spawn(store, StoreOptions { max_entries_per_gateway: usize::MAX, ..StoreOptions::default() })
}

/// Appends the corpus in waves of 64, printing each outcome, until a wave
/// has failures and one more wave after it has run.
fn append_until_failures(store: &StoreHandle, frames: Vec<BufferedFrame>) {
    // Ends the harness's "test … " line, so each outcome has a line of its own.
    println!();
    let mut waves_after_failure = 0;
    let indexed: Vec<(usize, BufferedFrame)> = frames.into_iter().enumerate().collect();
    for wave in indexed.chunks(64) {
        let appends: Vec<_> =
            wave.iter().map(|(_, frame)| store.append(gateway("gw"), frame.clone())).collect();
        let mut failed = false;
        for ((index, _), result) in wave.iter().zip(block_on(join_all(appends))) {
            match result {
                Ok(id) => println!("appended {id} {index}"),
                Err(e) => {
                    println!("failed {e}");
                    failed = true;
                }
            }
        }
        waves_after_failure += usize::from(failed || waves_after_failure > 0);
        if waves_after_failure == 2 {
            return;
        }
    }
}

#[test]
fn on_a_full_disk_appends_fail_and_every_one_reported_done_is_on_disk() {
    const NAME: &str = "on_a_full_disk_appends_fail_and_every_one_reported_done_is_on_disk";
    if let Some(path) = child_file("disk-full") {
        return append_until_failures(&handle(FileStore::open(path).unwrap()), realistic(SEED, FRAMES));
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("backlog.redb");
    // Writes past 4 MiB (dash counts 512-byte blocks) fail with EFBIG, as
    // on a full disk, instead of killing the child with SIGXFSZ.
    let stdout = run_child(NAME, "disk-full", &path, r#"trap "" XFSZ; ulimit -f 8192; exec "$0" "$@""#);

    let reported = reported(&stdout);
    let failures: Vec<&str> = stdout.lines().filter(|line| line.starts_with("failed ")).collect();
    assert!(reported.len() > 100, "the disk held some entries:\n{stdout}");
    assert!(!failures.is_empty(), "appends failed once the disk was full:\n{stdout}");
    assert!(failures[0].contains(&path.display().to_string()), "{}", failures[0]);
    assert_on_disk(&path, &reported, &realistic(SEED, FRAMES));
}

#[test]
fn entries_reported_appended_survive_a_crash() {
    const NAME: &str = "entries_reported_appended_survive_a_crash";
    if let Some(path) = child_file("crash") {
        let options = FileStoreOptions { removals_per_sync: 1, ..FileStoreOptions::default() };
        let store = handle(FileStore::open_with(path, options).unwrap());
        append_until_failures(&store, realistic(SEED, 300));
        let acked = (1..=50).map(|id: u64| id.to_string()).collect();
        assert_eq!(block_on(store.remove(gateway("gw"), acked)), Ok(50));
        // No destructors: the file is left as a killed process leaves it.
        std::process::abort();
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("backlog.redb");
    // The abort must not leave a core file behind.
    let stdout = run_child(NAME, "crash", &path, r#"ulimit -c 0; exec "$0" "$@""#);

    let mut reported = reported(&stdout);
    assert_eq!(reported.len(), 300, "{stdout}");
    // The synced removal of the first 50 survived too.
    reported.retain(|id, _| id.parse::<u64>().unwrap() > 50);
    assert_on_disk(&path, &reported, &realistic(SEED, 300));
    let store = FileStore::open(&path).unwrap();
    assert_eq!(store.count(&gateway("gw")).unwrap(), 250);
    assert_eq!(store.entries_after(&gateway("gw"), None, 1).unwrap()[0].buffer_id, "51");
}
