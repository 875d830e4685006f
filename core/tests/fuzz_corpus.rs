//! Replays every committed fuzz corpus file through its harness on stable,
//! so an input that once crashed a target guards against the bug forever.
#![cfg(feature = "sim")]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use relay_core::sim::fuzz::TARGETS;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

/// The files of one target's corpus, sorted so failures name the same file every run.
fn corpus(target: &str) -> Vec<PathBuf> {
    let dir = fuzz_dir().join("corpus").join(target);
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display())).path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "the corpus of fuzz target `{target}` is empty: {}", dir.display());
    files
}

fn replay(target: &str) {
    let (_, harness) = TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .unwrap_or_else(|| panic!("no harness for fuzz target `{target}`"));
    for path in corpus(target) {
        let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let outcome = std::panic::catch_unwind(|| harness(&data));
        assert!(outcome.is_ok(), "fuzz target `{target}` fails on {}", path.display());
    }
}

#[test]
fn every_fuzz_target_has_a_harness_and_a_corpus() {
    let dir = fuzz_dir().join("fuzz_targets");
    let files: BTreeSet<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|entry| entry.ok()?.path().file_stem()?.to_str().map(str::to_owned))
        .collect();
    let harnesses: BTreeSet<String> = TARGETS.iter().map(|(name, _)| (*name).to_owned()).collect();
    assert_eq!(files, harnesses, "fuzz/fuzz_targets/ and sim::fuzz::TARGETS list different targets");
    for target in &harnesses {
        corpus(target);
    }
}

#[test]
fn codec_corpus_replays_clean() {
    replay("codec");
}

#[test]
fn frame_decode_corpus_replays_clean() {
    replay("frame_decode");
}

#[test]
fn gateway_bytes_corpus_replays_clean() {
    replay("gateway_bytes");
}

#[test]
fn gateway_ops_corpus_replays_clean() {
    replay("gateway_ops");
}

#[test]
fn connector_bytes_corpus_replays_clean() {
    replay("connector_bytes");
}
