//! Durable stores for the connector's per-gateway backlog (PROTOCOL §8,
//! going idle and buffered delivery), and a handle that runs any store on
//! its own thread.
//!
//! The store interface is [`relay_core::connector::Backlog`]. This crate
//! adds:
//!
//! - [`FileStore`], a `Backlog` in one crash-safe file: every append batch
//!   is synced before it is reported, ids never repeat, and a file that is
//!   not a relay store is refused rather than replaced;
//! - [`StoreHandle`], which owns any `Backlog` on a worker thread so that no
//!   store call blocks an async task. Each call enqueues its operation at
//!   once and returns a runtime-independent [`StoreFuture`]. Operations run
//!   strictly in the order they were enqueued, across all keys, so a read
//!   enqueued after an append sees it; appends that queue up together share
//!   one commit (group commit). A per-gateway bound
//!   ([`StoreOptions::max_entries_per_gateway`]) keeps one absent gateway
//!   from filling the disk.
//!
//! A handle never hangs its caller: if the store panics, every pending and
//! later operation resolves to [`StoreError::Stopped`]. It applies no
//! deadline itself; a driver that does reports [`StoreError::TimedOut`].
//!
//! # Plugging in a store of your own
//!
//! Implement [`Backlog`](relay_core::connector::Backlog) (ids unique within a
//! key and growing with append order, so that reading after a removed id
//! still resumes in order) and hand it to [`StoreHandle::spawn`]:
//!
//! ```
//! use std::convert::Infallible;
//!
//! use futures::executor::block_on;
//! use relay_core::connector::{Backlog, BacklogEntry, BacklogKey, BufferedFrame};
//! use relay_core::wire::{MessageEvent, Platform, SessionSource};
//! use relay_store::{StoreHandle, StoreOptions};
//!
//! /// Every key's entries in one list, numbered by one counter.
//! #[derive(Default)]
//! struct ListStore {
//!     next: u64,
//!     entries: Vec<(BacklogKey, u64, BufferedFrame)>,
//! }
//!
//! impl Backlog for ListStore {
//!     type Error = Infallible;
//!
//!     fn append(&mut self, key: &BacklogKey, frame: BufferedFrame) -> Result<String, Infallible> {
//!         self.next += 1;
//!         self.entries.push((key.clone(), self.next, frame));
//!         Ok(self.next.to_string())
//!     }
//!
//!     fn entries_after(
//!         &self,
//!         key: &BacklogKey,
//!         after: Option<&str>,
//!         limit: usize,
//!     ) -> Result<Vec<BacklogEntry>, Infallible> {
//!         let after = after.and_then(|id| id.parse::<u64>().ok()).unwrap_or(0);
//!         Ok(self
//!             .entries
//!             .iter()
//!             .filter(|(k, seq, _)| k == key && *seq > after)
//!             .take(limit)
//!             .map(|(_, seq, frame)| BacklogEntry { buffer_id: seq.to_string(), frame: frame.clone() })
//!             .collect())
//!     }
//!
//!     fn remove(&mut self, key: &BacklogKey, buffer_id: &str) -> Result<bool, Infallible> {
//!         let before = self.entries.len();
//!         self.entries.retain(|(k, seq, _)| !(k == key && seq.to_string() == buffer_id));
//!         Ok(self.entries.len() < before)
//!     }
//!
//!     fn count(&self, key: &BacklogKey) -> Result<usize, Infallible> {
//!         Ok(self.entries.iter().filter(|(k, _, _)| k == key).count())
//!     }
//! }
//!
//! let store = StoreHandle::spawn(ListStore::default(), StoreOptions::default());
//! let key = BacklogKey::Gateway("gw-1".into());
//! let event = MessageEvent::text(SessionSource::new(Platform::Telegram, "42", "dm"), "hello");
//!
//! // Enqueued in this order, so the read sees the append.
//! let appended = store.append(key.clone(), BufferedFrame::Inbound(Box::new(event)));
//! let read = store.read(key, None, 64);
//! let id = block_on(appended)?;
//! let entries = block_on(read)?;
//! assert_eq!(entries.len(), 1);
//! assert_eq!(entries[0].buffer_id, id);
//! # Ok::<(), relay_store::StoreError>(())
//! ```
//!
//! A [`FileStore`] plugs in the same way:
//! `StoreHandle::spawn(FileStore::open("backlog.redb")?, StoreOptions::default())`.

mod error;
mod file;
mod handle;
mod worker;

pub use error::StoreError;
pub use file::{FileStore, FileStoreError, FileStoreOptions, OpenError};
pub use handle::{StoreFuture, StoreHandle, StoreOptions, StoreStats};
