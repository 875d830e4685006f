//! Counters a driver can export as metrics.

use std::collections::BTreeMap;

use crate::wire::DiagnosticKind;

/// What one connector machine has seen and done so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Bytes handed to `handle_input`.
    pub bytes_received: u64,
    /// Frames decoded.
    pub frames_received: u64,
    /// Frames handed out for sending.
    pub frames_sent: u64,
    /// Lines skipped, by diagnostic kind.
    pub diagnostics: BTreeMap<DiagnosticKind, u64>,
    /// Requests handed to the application.
    pub requests: u64,
    /// Requests the machine answered itself (identity not announced, too many pending).
    pub answered_by_machine: u64,
    /// Backlog frames sent during replay (a frame replayed twice counts twice).
    pub replayed: u64,
    /// `inbound_ack`s for replayed frames.
    pub acked: u64,
    /// Backlog reads that failed (each is retried).
    pub store_failures: u64,
}
