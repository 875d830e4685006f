//! `--store PATH`: where buffered frames wait for their gateway.

use std::path::Path;

use relay_store::{FileStore, StoreHandle, StoreOptions};

use crate::stdio::Failure;

/// The store `serve` runs on, and its name for the `listening` line.
#[derive(Debug)]
pub(crate) struct Opened {
    pub(crate) handle: StoreHandle,
    pub(crate) kind: &'static str,
}

/// Opens the file store at `path` (every unacknowledged entry in it waits
/// for its gateway's next handshake), or a memory store without one. A file
/// that cannot be used is an error before listening: starting empty in its
/// place would lose what it holds.
pub(crate) fn open(path: Option<&Path>, options: StoreOptions) -> Result<Opened, Failure> {
    let Some(path) = path else {
        return Ok(Opened {
            handle: StoreHandle::spawn(relay_core::connector::MemoryBacklog::new(), options),
            kind: "memory",
        });
    };
    let store = FileStore::open(path).map_err(|e| Failure::Usage(e.to_string()))?;
    Ok(Opened { handle: StoreHandle::spawn(store, options), kind: "file" })
}
