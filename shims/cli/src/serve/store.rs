//! `--store PATH`: where buffered frames wait for their gateway.

use std::path::Path;

use relay_core::connector::MemoryBacklog;
use relay_store::{FileStore, StoreHandle, StoreOptions};

use crate::stdio::Failure;

/// The store `serve` runs on, and what the `listening` line says of it.
#[derive(Debug)]
pub(crate) struct Opened {
    pub(crate) handle: StoreHandle,
    pub(crate) kind: &'static str,
}

/// Opens the file store at `path` (every unacknowledged entry in it waits
/// for its gateway's next handshake), or a memory store without one.
pub(crate) fn open(store: Option<&str>, options: StoreOptions) -> Result<Opened, Failure> {
    let Some(store) = store else {
        return Ok(Opened { handle: StoreHandle::spawn(MemoryBacklog::new(), options), kind: "memory" });
    };
    let file = FileStore::open(Path::new(store)).map_err(|e| Failure::Usage(e.to_string()))?;
    Ok(Opened { handle: StoreHandle::spawn(file, options), kind: "file" })
}
