//! What relay records through the `metrics` facade: every name and label
//! is here. Nothing is recorded until the application installs a recorder
//! (a Prometheus exporter, say); without one each call is a no-op.
//!
//! Names follow Prometheus conventions; labels take values from small
//! fixed sets only (a side, a frame type, an op, a reason), never a chat,
//! gateway or session id. README's metrics table lists them all.

use std::time::Duration;

use metrics::{Counter, Histogram, counter, gauge, histogram};
use relay_core::wire::{DiagnosticKind, FrameType};

/// Which end of the protocol a connection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Gateway,
    Connector,
}

impl Side {
    fn as_str(self) -> &'static str {
        match self {
            Self::Gateway => "gateway",
            Self::Connector => "connector",
        }
    }
}

/// A connection was opened (a gateway's dial, a connector's accepted upgrade).
pub(crate) fn connection_opened(side: Side) {
    counter!("relay_connections_opened_total", "side" => side.as_str()).increment(1);
    gauge!("relay_connections_open", "side" => side.as_str()).increment(1.0);
}

/// A connection that was opened ended, for `reason` (a close reason's name).
pub(crate) fn connection_closed(side: Side, reason: &'static str) {
    counter!("relay_connections_closed_total", "side" => side.as_str(), "reason" => reason).increment(1);
    gauge!("relay_connections_open", "side" => side.as_str()).decrement(1.0);
}

/// A handshake completed (the first descriptor, sent or received).
pub(crate) fn handshake(side: Side) {
    counter!("relay_handshakes_total", "side" => side.as_str()).increment(1);
}

/// A connector refused an upgrade token (close 4401), for `reason`.
pub(crate) fn rejected(reason: &'static str) {
    counter!("relay_upgrades_rejected_total", "reason" => reason).increment(1);
}

/// A gateway was told 4401 (`expired`, `unauthorized`, or `other`).
pub(crate) fn told_4401(reason: &str) {
    let reason = match reason {
        "expired" => "expired",
        "unauthorized" => "unauthorized",
        _ => "other",
    };
    counter!("relay_upgrades_refused_total", "reason" => reason).increment(1);
}

/// A gateway dials again after a connection ended, for `cause`.
pub(crate) fn reconnect(cause: &'static str) {
    counter!("relay_reconnects_total", "cause" => cause).increment(1);
}

/// `relay_frames_total` of one direction (`in` or `out`) of one
/// connection, by frame type.
///
/// A `counter!` call builds and hashes its key on every use, which cost
/// hundreds of instructions per frame; the handles are registered once per
/// connection instead, on first use of each type (so a recorder installed
/// before the connection opened sees them). Even a handle's increment is a
/// call through the recorder, so frames are tallied here and handed on
/// once per burst ([`flush`](Self::flush)), every [`FLUSH_AFTER`] frames of
/// a type within one, and when the counters go.
#[derive(Debug)]
pub(crate) struct FrameCounters {
    side: Side,
    direction: &'static str,
    /// One slot per [`FrameType::ALL`] entry, then one for `other`.
    handles: Vec<Option<Counter>>,
    /// Frames of each slot not yet handed to its handle.
    unflushed: Vec<u64>,
    any_unflushed: bool,
}

/// Frames of one type tallied before they are handed on even mid-burst.
const FLUSH_AFTER: u64 = 1024;

impl FrameCounters {
    /// Counters for frames going `direction` on a `side` connection.
    pub(crate) fn new(side: Side, direction: &'static str) -> Self {
        let slots = FrameType::ALL.len() + 1;
        Self { side, direction, handles: vec![None; slots], unflushed: vec![0; slots], any_unflushed: false }
    }

    /// Counts the frames of `text` (lines, each ending with `\n` but maybe
    /// the last).
    pub(crate) fn count(&mut self, text: &[u8]) {
        // The usual message, one line and its newline, takes one search.
        let body = text.strip_suffix(b"\n").unwrap_or(text);
        if memchr::memchr(b'\n', body).is_none() {
            if !body.is_empty() {
                self.count_line(body);
            }
            return;
        }
        let mut start = 0;
        for end in memchr::memchr_iter(b'\n', text).chain([text.len()]) {
            let line = &text[start..end];
            start = end + 1;
            if !line.is_empty() {
                self.count_line(line);
            }
        }
    }

    /// Counts one frame's line (what a sender writes: one per message).
    pub(crate) fn count_line(&mut self, line: &[u8]) {
        let slot = FrameType::leading(line).map_or(FrameType::ALL.len(), |t| t as usize);
        self.unflushed[slot] += 1;
        self.any_unflushed = true;
        // A socket loop that never runs dry still reports now and then.
        if self.unflushed[slot] >= FLUSH_AFTER {
            self.flush();
        }
    }

    /// Hands the frames counted since the last flush to their handles.
    pub(crate) fn flush(&mut self) {
        if !std::mem::take(&mut self.any_unflushed) {
            return;
        }
        let (side, direction) = (self.side.as_str(), self.direction);
        for (slot, (handle, count)) in self.handles.iter_mut().zip(&mut self.unflushed).enumerate() {
            if *count == 0 {
                continue;
            }
            handle
                .get_or_insert_with(|| {
                    let name = FrameType::ALL.get(slot).map_or("other", |t| t.as_str());
                    counter!("relay_frames_total", "side" => side, "direction" => direction, "type" => name)
                })
                .increment(std::mem::take(count));
        }
    }
}

impl Drop for FrameCounters {
    fn drop(&mut self) {
        self.flush();
    }
}

/// A line was skipped on a `side` connection.
pub(crate) fn diagnostic(side: Side, kind: DiagnosticKind) {
    counter!("relay_diagnostics_total", "side" => side.as_str(), "kind" => kind.as_str()).increment(1);
}

/// `relay_requests_total` and `relay_request_duration_seconds` of one
/// gateway connection: handles registered on first use of each label set,
/// as [`FrameCounters`] does, since a request settles every few µs. A
/// connection uses a handful of (op, outcome) pairs, so a list is the map.
#[derive(Debug, Default)]
pub(crate) struct RequestMetrics {
    counters: Vec<(&'static str, &'static str, Counter)>,
    durations: Vec<(&'static str, Histogram)>,
}

impl RequestMetrics {
    /// A request for `op` settled after `elapsed`: `outcome` is `ok`,
    /// `failed`, `timed_out` or `ambiguous`.
    pub(crate) fn settled(&mut self, op: &'static str, outcome: &'static str, elapsed: Duration) {
        let counter = match self.counters.iter().position(|(o, r, _)| same(o, op) && same(r, outcome)) {
            Some(at) => at,
            None => {
                let counter = counter!("relay_requests_total", "op" => op, "outcome" => outcome);
                self.counters.push((op, outcome, counter));
                self.counters.len() - 1
            }
        };
        self.counters[counter].2.increment(1);
        let duration = match self.durations.iter().position(|(o, _)| same(o, op)) {
            Some(at) => at,
            None => {
                self.durations.push((op, histogram!("relay_request_duration_seconds", "op" => op)));
                self.durations.len() - 1
            }
        };
        self.durations[duration].1.record(elapsed.as_secs_f64());
    }
}

/// Label equality; labels come from a few constants, so the pointers
/// usually decide it without reading the text.
fn same(a: &str, b: &str) -> bool {
    std::ptr::eq(a, b) || a == b
}

/// The label of `op`: the ops of PROTOCOL §5 as themselves, any other as
/// `other`.
pub(crate) fn op_label(op: &str) -> &'static str {
    const OPS: [&str; 11] = [
        "send",
        "edit",
        "typing",
        "follow_up",
        "get_chat_info",
        "send_media",
        "prompt",
        "react",
        "thread_create",
        "thread_rename",
        "draft",
    ];
    OPS.into_iter().find(|known| *known == op).unwrap_or("other")
}

/// Frames were appended to a backlog (durably, for a durable store).
pub(crate) fn buffered() {
    counter!("relay_backlog_buffered_total").increment(1);
}

/// Backlog entries were sent to their gateway during a replay.
pub(crate) fn replayed(count: u64) {
    counter!("relay_backlog_replayed_total").increment(count);
}

/// A gateway acknowledged a backlog entry.
pub(crate) fn acked() {
    counter!("relay_backlog_acked_total").increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ops_outside_the_protocol_are_labelled_other() {
        assert_eq!(op_label("send"), "send");
        assert_eq!(op_label("chat 42"), "other");
    }

    #[test]
    fn a_frame_type_is_its_slot() {
        for (slot, t) in FrameType::ALL.iter().enumerate() {
            assert_eq!(*t as usize, slot, "{t:?}");
        }
    }

    #[test]
    fn counting_takes_every_line_of_a_message() {
        // Without a recorder the handles are no-ops; what is checked here is
        // which slots get one: every line of the message, the last without
        // its newline too, blank lines none.
        let mut counters = FrameCounters::new(Side::Gateway, "in");
        counters.count(b"{\"type\":\"inbound\"}\n\n{\"type\":\"made_up\"}\n{\"type\":\"descriptor\"}");
        counters.count(b"{\"type\":\"inbound\"}\n");
        counters.count(b"{\"type\":\"made_up\"}");
        counters.count(b"\n");
        counters.count(b"");
        let tallied =
            |c: &FrameCounters| (c.unflushed[FrameType::Inbound as usize], c.unflushed[FrameType::ALL.len()]);
        assert_eq!(
            tallied(&counters),
            (2, 2),
            "one line with its newline, one without, none in a bare newline"
        );
        assert!(counters.handles.iter().all(Option::is_none), "no handle before the flush");
        counters.flush();
        assert_eq!(tallied(&counters), (0, 0));
        for _ in 0..FLUSH_AFTER {
            counters.count_line(b"{\"type\":\"inbound\"}");
        }
        assert_eq!(tallied(&counters), (0, 0), "a long burst is handed on without waiting for its end");
        let used: Vec<usize> =
            counters.handles.iter().enumerate().filter(|(_, h)| h.is_some()).map(|(i, _)| i).collect();
        assert_eq!(used, [FrameType::Descriptor as usize, FrameType::Inbound as usize, FrameType::ALL.len()]);
    }

    #[test]
    fn a_label_set_gets_one_handle_wherever_its_text_lives() {
        let mut requests = RequestMetrics::default();
        let send_elsewhere: &'static str = Box::leak(String::from("send").into_boxed_str());
        requests.settled("send", "ok", Duration::from_millis(1));
        requests.settled(send_elsewhere, "ok", Duration::from_millis(2));
        requests.settled("send", "failed", Duration::from_millis(3));
        requests.settled("edit", "ok", Duration::from_millis(4));
        let pairs: Vec<_> = requests.counters.iter().map(|(op, outcome, _)| (*op, *outcome)).collect();
        assert_eq!(pairs, [("send", "ok"), ("send", "failed"), ("edit", "ok")]);
        let ops: Vec<_> = requests.durations.iter().map(|(op, _)| *op).collect();
        assert_eq!(ops, ["send", "edit"]);
    }
}
