//! The run's recent history, kept so a failing seed can be read: a bounded
//! ring of `(time, side, what happened)` entries.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::time::Duration;

/// Which part of the world an entry is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    /// The gateway application and its driver (machine actions, dedupe, custody).
    Gateway,
    /// The reconnect policy's decisions.
    Policy,
    /// The connector application and its driver.
    Connector,
    /// The simulated network (arrivals, failures).
    Network,
    /// A planned fault or a phase change.
    Plan,
}

impl Side {
    fn label(self) -> &'static str {
        match self {
            Self::Gateway => "gateway",
            Self::Policy => "policy",
            Self::Connector => "connector",
            Self::Network => "network",
            Self::Plan => "plan",
        }
    }
}

#[derive(Debug, Clone)]
struct Entry {
    at: Duration,
    side: Side,
    text: String,
}

/// The last `capacity` entries of a run; older ones are forgotten, so a long
/// run costs bounded memory and the dump shows what led up to the failure.
#[derive(Debug)]
pub(crate) struct Transcript {
    entries: VecDeque<Entry>,
    capacity: usize,
    recorded: u64,
}

impl Transcript {
    pub(crate) fn new(capacity: usize) -> Self {
        Self { entries: VecDeque::with_capacity(capacity.min(1024)), capacity: capacity.max(1), recorded: 0 }
    }

    pub(crate) fn record(&mut self, at: Duration, side: Side, text: String) {
        if self.entries.len() == self.capacity {
            self.entries.pop_front();
        }
        self.entries.push_back(Entry { at, side, text });
        self.recorded += 1;
    }

    /// The kept entries, one per line: seconds since the start, side, text.
    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        let omitted = self.recorded - self.entries.len() as u64;
        if omitted > 0 {
            let _ = writeln!(out, "  ({omitted} earlier entries omitted)");
        }
        for e in &self.entries {
            let _ = writeln!(out, "  {:>10.3}s {:<9} {}", e.at.as_secs_f64(), e.side.label(), e.text);
        }
        out
    }
}

/// A frame line shortened for the transcript (cut on a character boundary).
pub(crate) fn short(line: &str) -> String {
    const MAX: usize = 160;
    let line = line.trim_end();
    if line.len() <= MAX {
        return line.to_owned();
    }
    let cut = (0..=MAX).rev().find(|&i| line.is_char_boundary(i)).unwrap_or(0);
    format!("{}… ({} bytes)", &line[..cut], line.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_entries_and_says_how_many_were_dropped() {
        let mut t = Transcript::new(2);
        for i in 0..5 {
            t.record(Duration::from_millis(i), Side::Network, format!("e{i}"));
        }
        let text = t.render();
        assert!(text.contains("(3 earlier entries omitted)"), "{text}");
        assert!(!text.contains("e2") && text.contains("e3") && text.contains("e4"), "{text}");
        assert_eq!(short("abc\n"), "abc");
        assert!(short(&"é".repeat(200)).ends_with("(400 bytes)"));
    }
}
