//! The connector's backlog store: a `MemoryBacklog` standing for a durable
//! one (it survives connections and restarts), optionally sabotaged to
//! prove the checks bite.

use std::cell::Cell;
use std::convert::Infallible;

use crate::connector::{Backlog, BacklogEntry, BacklogKey, BufferedFrame, MemoryBacklog};

/// The durable backlog, optionally sabotaged to prove the checks bite.
#[derive(Debug, Default)]
pub(super) struct Store {
    pub(super) inner: MemoryBacklog,
    /// [`Sabotage::SkipOneReplay`] still to happen.
    pub(super) hide_one: Cell<bool>,
}

impl Backlog for Store {
    type Error = Infallible;

    fn append(&mut self, key: &BacklogKey, frame: BufferedFrame) -> Result<String, Infallible> {
        self.inner.append(key, frame)
    }

    fn entries_after(
        &self,
        key: &BacklogKey,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<BacklogEntry>, Infallible> {
        let mut entries = self.inner.entries_after(key, after, limit)?;
        if entries.len() >= 2 && self.hide_one.replace(false) {
            entries.remove(0);
        }
        Ok(entries)
    }

    fn remove(&mut self, key: &BacklogKey, buffer_id: &str) -> Result<bool, Infallible> {
        self.inner.remove(key, buffer_id)
    }
}
