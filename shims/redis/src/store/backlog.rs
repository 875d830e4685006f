//! [`Backlog`] for [`RedisStore`]: each operation is one round trip, except
//! a read that has to skip entries that no longer decode.

use relay_core::connector::{Backlog, BacklogEntry, BacklogKey, BufferedFrame};

use super::RedisStore;
use crate::RedisStoreError;
use crate::codec::{LINE_FIELD, decode_frame, encode_frame};
use crate::keys::backlog_stream;
use crate::stream_id::StreamId;

/// A stream entry as `XRANGE` lists it: its id and its fields and values.
type RawEntry = (String, Vec<Vec<u8>>);

impl Backlog for RedisStore {
    type Error = RedisStoreError;

    fn append(&mut self, key: &BacklogKey, frame: BufferedFrame) -> Result<String, RedisStoreError> {
        let (stream, line) = (backlog_stream(key), encode_frame(frame));
        let mut xadd = redis::cmd("XADD");
        xadd.arg(&stream).arg("*").arg(LINE_FIELD).arg(line);
        self.link
            .get_mut()
            .run(|conn| xadd.query(conn))
            .map_err(|reason| self.failed(format!("append to the backlog of {key}"), reason))
    }

    fn entries_after(
        &self,
        key: &BacklogKey,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<BacklogEntry>, RedisStoreError> {
        let start = match after.and_then(StreamId::parse) {
            Some(id) => id.successor(),
            None => Some(StreamId::FIRST),
        };
        let (Some(mut start), true) = (start, limit > 0) else { return Ok(Vec::new()) };
        let stream = backlog_stream(key);
        let mut entries = Vec::with_capacity(limit.min(1024));
        loop {
            let want = limit - entries.len();
            let mut xrange = redis::cmd("XRANGE");
            xrange.arg(&stream).arg(start.to_string()).arg("+").arg("COUNT").arg(want);
            // The connection is let go before an error borrows the link again.
            let page: Result<Vec<RawEntry>, _> =
                self.link.borrow_mut().run_idempotent(|conn| xrange.query(conn));
            let page = page.map_err(|reason| self.failed(format!("read the backlog of {key}"), reason))?;
            let exhausted = page.len() < want;
            let last = page.last().and_then(|(id, _)| StreamId::parse(id));
            for (id, fields) in page {
                match decode_entry(&fields) {
                    Ok(frame) => entries.push(BacklogEntry { buffer_id: id, frame }),
                    // One damaged entry must not block the rest of the backlog.
                    Err(e) => tracing::warn!("skipping entry {id} of {key} in Redis: {e}"),
                }
            }
            // Entries were skipped: read on after the last one listed.
            match last.and_then(StreamId::successor) {
                Some(next) if !exhausted && entries.len() < limit => start = next,
                _ => return Ok(entries),
            }
        }
    }

    fn remove(&mut self, key: &BacklogKey, buffer_id: &str) -> Result<bool, RedisStoreError> {
        Ok(self.remove_batch(key, &[buffer_id.to_owned()])? > 0)
    }

    fn count(&self, key: &BacklogKey) -> Result<usize, RedisStoreError> {
        let mut xlen = redis::cmd("XLEN");
        xlen.arg(backlog_stream(key));
        let count = self.link.borrow_mut().run_idempotent(|conn| xlen.query(conn));
        count.map_err(|reason| self.failed(format!("count the backlog of {key}"), reason))
    }

    fn append_batch(
        &mut self,
        frames: Vec<(BacklogKey, BufferedFrame)>,
    ) -> Result<Vec<String>, RedisStoreError> {
        if frames.is_empty() {
            return Ok(Vec::new());
        }
        let action = batch_action(&frames);
        let mut transaction = redis::pipe();
        transaction.atomic();
        for (key, frame) in frames {
            transaction
                .cmd("XADD")
                .arg(backlog_stream(&key))
                .arg("*")
                .arg(LINE_FIELD)
                .arg(encode_frame(frame));
        }
        self.link.get_mut().run(|conn| transaction.query(conn)).map_err(|reason| self.failed(action, reason))
    }

    fn remove_batch(&mut self, key: &BacklogKey, buffer_ids: &[String]) -> Result<usize, RedisStoreError> {
        // Text that is no stream id names no entry; Redis would refuse the
        // whole command over it.
        let ids: Vec<&str> =
            buffer_ids.iter().map(String::as_str).filter(|id| StreamId::parse(id).is_some()).collect();
        if ids.is_empty() {
            return Ok(0);
        }
        let mut xdel = redis::cmd("XDEL");
        xdel.arg(backlog_stream(key)).arg(&ids);
        self.link
            .get_mut()
            .run_idempotent(|conn| xdel.query(conn))
            .map_err(|reason| self.failed(format!("remove from the backlog of {key}"), reason))
    }
}

impl RedisStore {
    fn failed(&self, action: String, reason: String) -> RedisStoreError {
        RedisStoreError::new(action, self.link.borrow().dialer().address(), reason)
    }
}

/// The frame in an entry's `line` field.
fn decode_entry(fields: &[Vec<u8>]) -> Result<BufferedFrame, String> {
    let line = fields.chunks_exact(2).find(|pair| pair[0] == LINE_FIELD.as_bytes()).map(|pair| &pair[1]);
    decode_frame(line.ok_or_else(|| format!("it has no `{LINE_FIELD}` field"))?)
}

/// What an append batch does, for its error: it names the key when there is one.
fn batch_action(frames: &[(BacklogKey, BufferedFrame)]) -> String {
    let first = &frames[0].0;
    let count = match frames.len() {
        1 => "1 frame".to_owned(),
        n => format!("{n} frames"),
    };
    if frames.iter().all(|(key, _)| key == first) {
        format!("append {count} to the backlog of {first}")
    } else {
        format!("append {count} to several backlogs")
    }
}
