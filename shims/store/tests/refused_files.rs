//! A file that is not a usable relay store is refused with a sentence that
//! names it, and left as it was.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::{gateway, text};
use relay_core::connector::Backlog;
use relay_store::{FileStore, OpenError};

fn refusal(path: &Path) -> OpenError {
    FileStore::open(path).map(|_| ()).unwrap_err()
}

/// A store file holding 200 entries, closed cleanly.
fn filled(dir: &Path) -> PathBuf {
    let path = dir.join("full.redb");
    let mut store = FileStore::open(&path).unwrap();
    let batch = (0..200).map(|i| (gateway("gw"), text(&format!("entry {i} {}", "x".repeat(400))))).collect();
    store.append_batch(batch).unwrap();
    path
}

#[test]
fn a_file_of_garbage_is_not_a_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("garbage.redb");
    let garbage: Vec<u8> = (0..20_000u32).map(|i| (i * 7919 % 251) as u8).collect();
    fs::write(&path, &garbage).unwrap();

    let e = refusal(&path);
    assert!(matches!(e, OpenError::NotAStore { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        format!(
            "store file {} is not a relay store or is corrupt: not a redb database: magic number mismatch",
            path.display()
        )
    );
    assert_eq!(fs::read(&path).unwrap(), garbage, "the file is left as it was");
}

#[test]
fn a_store_cut_inside_its_header_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = filled(dir.path());
    // The header's first bytes, magic number included, and nothing more.
    fs::OpenOptions::new().write(true).open(&path).unwrap().set_len(100).unwrap();
    assert_eq!(
        refusal(&path).to_string(),
        format!(
            "store file {} is not a relay store or is corrupt: it is too short to hold a database header",
            path.display()
        )
    );
}

#[test]
fn a_truncated_store_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = filled(dir.path());
    let len = fs::metadata(&path).unwrap().len();
    fs::OpenOptions::new().write(true).open(&path).unwrap().set_len(len / 2).unwrap();

    let e = refusal(&path);
    let start = format!("store file {} is not a relay store or is corrupt: ", path.display());
    assert!(e.to_string().starts_with(&start), "{e}");
    assert_eq!(fs::metadata(&path).unwrap().len(), len / 2, "the file is left as it was");
}

#[test]
fn a_store_damaged_in_the_middle_is_refused_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = filled(dir.path());
    let mut bytes = fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    for b in &mut bytes[middle..middle + 8192] {
        *b ^= 0xa5;
    }
    fs::write(&path, &bytes).unwrap();

    let e = refusal(&path);
    assert!(matches!(e, OpenError::NotAStore { .. }), "{e:?}");
    assert!(e.to_string().starts_with(&format!("store file {} is not a relay store", path.display())), "{e}");
}

#[test]
fn another_applications_redb_file_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.redb");
    {
        let db = redb::Database::create(&path).unwrap();
        let write = db.begin_write().unwrap();
        write.open_table(redb::TableDefinition::<u64, u64>::new("accounts")).unwrap().insert(1, 2).unwrap();
        write.commit().unwrap();
    }
    let before = fs::read(&path).unwrap();

    assert_eq!(
        refusal(&path).to_string(),
        format!(
            "store file {} is not a relay store or is corrupt: it holds another application's tables",
            path.display()
        )
    );
    assert_eq!(fs::read(&path).unwrap(), before, "the file is left as it was");
}

#[test]
fn a_store_of_another_format_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("future.redb");
    drop(FileStore::open(&path).unwrap());
    {
        let db = redb::Database::create(&path).unwrap();
        let write = db.begin_write().unwrap();
        let meta = redb::TableDefinition::<&str, &str>::new("relay_store_meta");
        write.open_table(meta).unwrap().insert("format", "relay-store backlog 99").unwrap();
        write.commit().unwrap();
    }
    let e = refusal(&path).to_string();
    assert!(e.ends_with(r#"its format is "relay-store backlog 99", not "relay-store backlog 1""#), "{e}");
}

#[test]
fn a_file_that_is_already_open_is_locked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("backlog.redb");
    let store = FileStore::open(&path).unwrap();
    // redb locks the open file description, so this holds within one
    // process as it does across processes.
    let e = refusal(&path);
    assert_eq!(e, OpenError::Locked { path: path.clone() });
    assert_eq!(e.to_string(), format!("store file {} is locked by another process or store", path.display()));
    drop(store);
    FileStore::open(&path).unwrap();
}

#[test]
fn a_missing_directory_is_named_in_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no-such-dir").join("backlog.redb");
    let e = refusal(&path);
    assert_eq!(e.path(), path);
    assert_eq!(
        e.to_string(),
        format!("cannot open store file {}: no such file or directory", path.display())
    );
}

#[test]
fn an_empty_file_becomes_a_new_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.redb");
    fs::write(&path, b"").unwrap();
    let mut store = FileStore::open(&path).unwrap();
    assert_eq!(store.append(&gateway("gw"), text("first")).unwrap(), "1");
}
