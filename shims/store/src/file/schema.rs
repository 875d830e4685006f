//! The tables of a store file, and the check that a file is one.

use redb::{
    Database, MultimapTableHandle as _, ReadableDatabase, ReadableTable as _, TableDefinition,
    TableHandle as _,
};

/// Marks a file as a relay store, and which layout it has.
const FORMAT: &str = "relay-store backlog 1";
const FORMAT_KEY: &str = "format";

/// `format` → [`FORMAT`].
const META: TableDefinition<&str, &str> = TableDefinition::new("relay_store_meta");
/// Encoded key → (last sequence handed out, entries waiting). The sequence
/// is kept after the log empties, so ids never repeat.
pub(super) const LOGS: TableDefinition<&[u8], (u64, u64)> = TableDefinition::new("relay_store_logs");
/// (encoded key, sequence) → the frame's wire line.
pub(super) const ENTRIES: TableDefinition<(&[u8], u64), &[u8]> = TableDefinition::new("relay_store_entries");

/// What a database holds.
pub(super) enum Contents {
    /// A relay store.
    Store,
    /// Nothing yet: a new file, or one this store created and did not get
    /// to set up (a crash right after creating it).
    Empty,
}

/// Checks that a database is a relay store, or empty; the error says what
/// else it is.
pub(super) fn check(db: &impl ReadableDatabase) -> Result<Contents, String> {
    let text = |e: redb::Error| e.to_string();
    let read = db.begin_read().map_err(|e| text(e.into()))?;
    let tables = read.list_tables().map_err(|e| text(e.into()))?.map(|t| t.name().to_owned());
    let multimaps = read.list_multimap_tables().map_err(|e| text(e.into()))?.map(|t| t.name().to_owned());
    let names: Vec<String> = tables.chain(multimaps).collect();
    if names.is_empty() {
        return Ok(Contents::Empty);
    }
    if !names.iter().any(|name| name == META.name()) {
        return Err("it holds another application's tables".to_owned());
    }
    let meta = read.open_table(META).map_err(|e| text(e.into()))?;
    match meta.get(FORMAT_KEY).map_err(|e| text(e.into()))? {
        Some(format) if format.value() == FORMAT => {}
        Some(format) => return Err(format!("its format is {:?}, not {FORMAT:?}", format.value())),
        None => return Err("it has no format marker".to_owned()),
    }
    // Opening checks that the tables exist with the key and value types this
    // layout stores.
    read.open_table(LOGS).map_err(|e| text(e.into()))?;
    read.open_table(ENTRIES).map_err(|e| text(e.into()))?;
    Ok(Contents::Store)
}

/// Sets up the tables of a new store.
pub(super) fn init(db: &Database) -> Result<(), redb::Error> {
    let write = db.begin_write()?;
    write.open_table(META)?.insert(FORMAT_KEY, FORMAT)?;
    write.open_table(LOGS)?;
    write.open_table(ENTRIES)?;
    write.commit()?;
    Ok(())
}
