//! [`Backlog`] for [`FileStore`]: each operation is one transaction.

use std::ops::Bound;

use redb::{Durability, ReadableDatabase as _, ReadableTable as _, Table, WriteTransaction};
use relay_core::connector::{Backlog, BacklogEntry, BacklogKey, BufferedFrame};

use super::codec::{decode_frame, encode_frame, encode_key};
use super::schema::{ENTRIES, LOGS};
use super::{FileStore, FileStoreError};

const APPEND: &str = "append to";
const READ: &str = "read";
const REMOVE: &str = "remove from";

impl Backlog for FileStore {
    type Error = FileStoreError;

    fn append(&mut self, key: &BacklogKey, frame: BufferedFrame) -> Result<String, FileStoreError> {
        let mut ids = self.append_batch(vec![(key.clone(), frame)])?;
        // One frame in, one id out.
        Ok(ids.swap_remove(0))
    }

    fn entries_after(
        &self,
        key: &BacklogKey,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<BacklogEntry>, FileStoreError> {
        let failed = |e: redb::Error| FileStoreError::new(READ, &self.path, e);
        if limit == 0 {
            return Ok(Vec::new());
        }
        let read = self.db.begin_read().map_err(|e| failed(e.into()))?;
        let table = read.open_table(ENTRIES).map_err(|e| failed(e.into()))?;
        let key_bytes = encode_key(key);
        let k = key_bytes.as_slice();
        // Like the in-memory backlog, an id that is not a number reads from the start.
        let start = match after.and_then(|id| id.parse::<u64>().ok()) {
            Some(seq) => Bound::Excluded((k, seq)),
            None => Bound::Included((k, 0)),
        };
        let mut entries = Vec::with_capacity(limit.min(1024));
        for item in table.range((start, Bound::Included((k, u64::MAX)))).map_err(|e| failed(e.into()))? {
            let (stored_key, line) = item.map_err(|e| failed(e.into()))?;
            let seq = stored_key.value().1;
            match decode_frame(line.value()) {
                Ok(frame) => entries.push(BacklogEntry { buffer_id: seq.to_string(), frame }),
                // One damaged entry must not block the rest of the backlog.
                Err(e) => tracing::warn!("skipping entry {seq} of {key} in {}: {e}", self.path.display()),
            }
            if entries.len() == limit {
                break;
            }
        }
        Ok(entries)
    }

    fn remove(&mut self, key: &BacklogKey, buffer_id: &str) -> Result<bool, FileStoreError> {
        Ok(self.remove_batch(key, &[buffer_id.to_owned()])? > 0)
    }

    fn count(&self, key: &BacklogKey) -> Result<usize, FileStoreError> {
        let failed = |e: redb::Error| FileStoreError::new(READ, &self.path, e);
        let read = self.db.begin_read().map_err(|e| failed(e.into()))?;
        let logs = read.open_table(LOGS).map_err(|e| failed(e.into()))?;
        let log = logs.get(encode_key(key).as_slice()).map_err(|e| failed(e.into()))?;
        Ok(log.map_or(0, |log| log.value().1 as usize))
    }

    fn append_batch(
        &mut self,
        frames: Vec<(BacklogKey, BufferedFrame)>,
    ) -> Result<Vec<String>, FileStoreError> {
        let failed = |e: redb::Error| FileStoreError::new(APPEND, &self.path, e);
        let write = self.begin_write(Durability::Immediate).map_err(failed)?;
        let ids = {
            let mut logs = write.open_table(LOGS).map_err(|e| failed(e.into()))?;
            let mut table = write.open_table(ENTRIES).map_err(|e| failed(e.into()))?;
            let mut line = Vec::with_capacity(2048);
            let mut ids = Vec::with_capacity(frames.len());
            for (key, frame) in frames {
                encode_frame(frame, &mut line);
                ids.push(append_line(&mut logs, &mut table, &encode_key(&key), &line).map_err(failed)?);
            }
            ids
        };
        // Dropping the transaction on an error above aborts it: all or nothing.
        write.commit().map_err(|e| failed(e.into()))?;
        self.unsynced_removals = 0;
        Ok(ids)
    }

    fn remove_batch(&mut self, key: &BacklogKey, buffer_ids: &[String]) -> Result<usize, FileStoreError> {
        let failed = |e: redb::Error| FileStoreError::new(REMOVE, &self.path, e);
        let sync = self.unsynced_removals + 1 >= self.removals_per_sync;
        let write =
            self.begin_write(if sync { Durability::Immediate } else { Durability::None }).map_err(failed)?;
        let key_bytes = encode_key(key);
        let k = key_bytes.as_slice();
        let removed = {
            let mut table = write.open_table(ENTRIES).map_err(|e| failed(e.into()))?;
            let removed = remove_seqs(&mut table, k, buffer_ids).map_err(failed)?;
            if removed > 0 {
                let mut logs = write.open_table(LOGS).map_err(|e| failed(e.into()))?;
                let (last, count) =
                    logs.get(k).map_err(|e| failed(e.into()))?.map_or((0, 0), |log| log.value());
                logs.insert(k, (last, count.saturating_sub(removed as u64))).map_err(|e| failed(e.into()))?;
            }
            removed
        };
        // Nothing removed (repeated acks): no commit, no sync.
        if removed == 0 {
            write.abort().map_err(|e| failed(e.into()))?;
        } else {
            write.commit().map_err(|e| failed(e.into()))?;
            self.unsynced_removals = if sync { 0 } else { self.unsynced_removals + 1 };
        }
        Ok(removed)
    }
}

impl FileStore {
    /// A write transaction; with `Durability::Immediate` its commit returns
    /// once it is on disk, with `None` once it is visible.
    fn begin_write(&self, durability: Durability) -> Result<WriteTransaction, redb::Error> {
        let mut write = self.db.begin_write()?;
        write.set_durability(durability)?;
        Ok(write)
    }
}

/// Appends one line at the end of a key's log and returns its buffer id.
fn append_line(
    logs: &mut Table<'_, &'static [u8], (u64, u64)>,
    table: &mut Table<'_, (&'static [u8], u64), &'static [u8]>,
    key: &[u8],
    line: &[u8],
) -> Result<String, redb::Error> {
    let (last, count) = logs.get(key)?.map_or((0, 0), |log| log.value());
    // Sequences start at 1 and only grow, so a removed cursor still orders.
    let seq = last + 1;
    table.insert((key, seq), line)?;
    logs.insert(key, (seq, count + 1))?;
    Ok(seq.to_string())
}

/// Removes the entries of `key` with these ids and returns how many there were.
fn remove_seqs(
    table: &mut Table<'_, (&'static [u8], u64), &'static [u8]>,
    key: &[u8],
    buffer_ids: &[String],
) -> Result<usize, redb::Error> {
    let mut seqs: Vec<u64> = buffer_ids.iter().filter_map(|id| id.parse().ok()).collect();
    seqs.sort_unstable();
    seqs.dedup();
    let (Some(&first), Some(&last)) = (seqs.first(), seqs.last()) else { return Ok(0) };
    let mut removed = 0;
    // Acks of a replay window are mostly one run of ids: one pass over that
    // range rewrites each page once, where removing one by one rewrites a
    // page per entry. Scattered ids are removed one by one.
    if last - first < 2 * seqs.len() as u64 {
        table.retain_in((key, first)..=(key, last), |(_, seq), _| {
            let acked = seqs.binary_search(&seq).is_ok();
            removed += usize::from(acked);
            !acked
        })?;
    } else {
        for seq in seqs {
            removed += usize::from(table.remove((key, seq))?.is_some());
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use relay_core::wire::{MessageEvent, Platform, SessionSource};

    use super::*;

    fn text(text: &str) -> BufferedFrame {
        let source = SessionSource::new(Platform::Telegram, "c1", "dm");
        BufferedFrame::Inbound(Box::new(MessageEvent::text(source, text)))
    }

    #[test]
    fn an_entry_that_does_not_decode_is_skipped_and_not_counted_against_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = FileStore::open(dir.path().join("backlog.redb")).unwrap();
        let key = BacklogKey::Gateway("gw".into());
        for t in ["one", "two", "three", "four"] {
            store.append(&key, text(t)).unwrap();
        }
        // Damage two stored lines in place.
        let write = store.db.begin_write().unwrap();
        {
            let mut table = write.open_table(ENTRIES).unwrap();
            let k = encode_key(&key);
            table.insert((k.as_slice(), 2), b"{not json".as_slice()).unwrap();
            table.insert((k.as_slice(), 3), br#"{"type":"inbound_ack","bufferId":"3"}"#.as_slice()).unwrap();
        }
        write.commit().unwrap();

        let entries = store.entries_after(&key, None, 2).unwrap();
        let ids: Vec<&str> = entries.iter().map(|e| e.buffer_id.as_str()).collect();
        assert_eq!(ids, ["1", "4"]);
        assert_eq!(entries[1].frame.clone().decoded(), Ok(text("four")));
    }
}
