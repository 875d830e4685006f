//! Counters a driver can export as metrics.

use std::collections::BTreeMap;

use crate::wire::DiagnosticKind;

/// What one machine has seen and done so far.
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
    /// Results for unknown or already settled requests (ignored).
    pub unknown_results: u64,
    /// Requests resolved with a result.
    pub resolved: u64,
    /// Requests failed.
    pub failed: u64,
}

impl Stats {
    /// Total lines skipped.
    pub fn diagnostics_total(&self) -> u64 {
        self.diagnostics.values().sum()
    }
}
