//! Replays every committed fuzz corpus file through its harness on stable.
#![cfg(feature = "sim")]

use std::path::Path;

fn replay(target: &str, harness: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus").join(target);
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        harness(&std::fs::read(&path).unwrap());
        count += 1;
    }
    assert!(count > 0, "no corpus files in {}", dir.display());
}

#[test]
fn codec_corpus_replays_clean() {
    replay("codec", relay_core::sim::fuzz::codec);
}
