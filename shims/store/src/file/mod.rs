//! [`FileStore`]: the backlog in one crash-safe file (redb).

mod backlog;
mod codec;
mod error;
mod schema;

use std::fmt;
use std::fs;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use redb::{Builder, Database, DatabaseError};

pub use error::{FileStoreError, OpenError};

/// How a [`FileStore`] uses memory and checks its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStoreOptions {
    /// Bytes of file pages kept in memory (default 16 MiB). The store's
    /// memory stays near this however many entries the file holds.
    pub cache_size: usize,
    /// Verify the checksum of every page when opening (default `true`), so
    /// a file damaged outside the store is refused at open instead of
    /// failing a read later. It reads the whole file once.
    pub verify_on_open: bool,
    /// Every how many removal commits one is synced to disk (default 1:
    /// each, so an acknowledged entry is gone for good once its removal
    /// completed; removals queued together share one commit). A larger
    /// value trades that for fewer syncs: a crash then forgets the removals
    /// since the last sync, and those entries are delivered again, which
    /// at-least-once delivery and the gateway's dedupe absorb. Appends
    /// always sync, and take the removals before them along.
    pub removals_per_sync: usize,
}

impl Default for FileStoreOptions {
    fn default() -> Self {
        Self { cache_size: 16 << 20, verify_on_open: true, removals_per_sync: 1 }
    }
}

/// A durable [`Backlog`](relay_core::connector::Backlog) in one file.
///
/// Each append batch is one transaction that is synced to disk before it
/// returns, so an id handed out names an entry that survives a crash, and a
/// failed batch leaves nothing behind. Removals are transactions too,
/// synced as [`FileStoreOptions::removals_per_sync`] says (each, by
/// default); closing the store syncs what is pending.
///
/// Entries are stored as their wire lines, keyed by backlog key and a
/// per-key sequence number (the buffer id, in decimal); each key also keeps
/// its last sequence and its entry count, so ids never repeat (not after the
/// log empties, nor across restarts) and
/// [`count`](relay_core::connector::Backlog::count) reads one record. An
/// entry that no longer decodes is skipped by reads, with a warning.
///
/// The file is locked while the store is open. After an I/O failure (a full
/// disk) the store refuses every further operation; reopen the file once
/// the cause is fixed.
pub struct FileStore {
    db: Database,
    path: PathBuf,
    removals_per_sync: usize,
    /// Removal commits since the last sync.
    unsynced_removals: usize,
}

impl FileStore {
    /// Opens the store at `path`, creating it if there is no file there,
    /// with default options.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, OpenError> {
        Self::open_with(path, FileStoreOptions::default())
    }

    /// Opens the store at `path`, creating it if there is no file there (or
    /// an empty one). A file that is not a relay store, or is damaged, is
    /// refused; one that was closed cleanly is left exactly as it was.
    pub fn open_with(path: impl AsRef<Path>, options: FileStoreOptions) -> Result<Self, OpenError> {
        let path = path.as_ref();
        // redb trusts a file it closed cleanly and may panic on one damaged
        // since; that is a refusal of the file, not a crash of the caller.
        match catch_unwind(AssertUnwindSafe(|| open_database(path, options))) {
            Ok(Ok(db)) => Ok(Self {
                db,
                path: path.to_owned(),
                removals_per_sync: options.removals_per_sync,
                unsynced_removals: 0,
            }),
            Ok(Err(e)) => Err(e),
            Err(payload) => Err(OpenError::panicked(path, payload.as_ref())),
        }
    }

    /// The file this store keeps its entries in.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn open_database(path: &Path, options: FileStoreOptions) -> Result<Database, OpenError> {
    let not_a_store = |reason| OpenError::NotAStore { path: path.to_owned(), reason };
    // Look before writing: a foreign file is refused as it is, where a
    // writable open could repair or verify it, which commits to it.
    if fs::metadata(path).is_ok_and(|meta| meta.len() > 0) {
        match Builder::new().set_cache_size(options.cache_size).open_read_only(path) {
            Ok(db) => {
                schema::check(&db).map_err(not_a_store)?;
            }
            // A file left open by a crash must be repaired before it can be
            // read; the check after the writable open covers it.
            Err(DatabaseError::RepairAborted) => {}
            Err(e) => return Err(OpenError::from_database(path, e)),
        }
    }
    let mut builder = Builder::new();
    builder.set_cache_size(options.cache_size).set_check_integrity_on_open(options.verify_on_open);
    let db = builder.create(path).map_err(|e| OpenError::from_database(path, e))?;
    match schema::check(&db).map_err(not_a_store)? {
        schema::Contents::Store => {}
        schema::Contents::Empty => schema::init(&db)
            .map_err(|e| OpenError::Unavailable { path: path.to_owned(), reason: e.to_string() })?,
    }
    Ok(db)
}

impl fmt::Debug for FileStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileStore").field("path", &self.path).finish_non_exhaustive()
    }
}
