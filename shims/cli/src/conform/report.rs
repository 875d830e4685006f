//! What `relay conform` prints: one line per check as soon as it is decided,
//! then the summary. JSON Lines with `--json`; otherwise a table, coloured
//! when stdout is a terminal (and `NO_COLOR` is unset).

use std::io::IsTerminal as _;
use std::process::ExitCode;

use super::Check;
use crate::lines::JsonObject;
use crate::stdio::{Failure, Out};

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The peer follows the rule.
    Pass,
    /// The peer departs from the rule.
    Fail,
    /// Not decided: the check needs something this run did not have (a flag,
    /// the peer's cooperation); the detail says what.
    Skip,
}

impl Outcome {
    /// The word in the output contract.
    pub(crate) fn word(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::Skip => "skip",
        }
    }
}

/// A check's outcome and the sentence explaining it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Verdict {
    /// Pass, fail or skip.
    pub(crate) outcome: Outcome,
    /// One sentence: what was seen (for a failure, what departed and how).
    pub(crate) detail: String,
}

impl Verdict {
    /// The rule holds.
    pub(crate) fn pass(detail: impl Into<String>) -> Self {
        Self { outcome: Outcome::Pass, detail: detail.into() }
    }

    /// The rule is broken.
    pub(crate) fn fail(detail: impl Into<String>) -> Self {
        Self { outcome: Outcome::Fail, detail: detail.into() }
    }

    /// The rule could not be decided.
    pub(crate) fn skip(detail: impl Into<String>) -> Self {
        Self { outcome: Outcome::Skip, detail: detail.into() }
    }
}

/// Prints verdicts as they come and counts them.
#[derive(Debug)]
pub(crate) struct Reporter {
    out: Out,
    json: bool,
    colour: bool,
    pass: usize,
    fail: usize,
    skip: usize,
}

impl Reporter {
    /// A reporter on stdout; `json` picks JSON Lines over the table.
    pub(crate) fn new(json: bool) -> Self {
        let colour = !json && std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        Self { out: Out::new(), json, colour, pass: 0, fail: 0, skip: 0 }
    }

    /// Prints the verdict of `check` (flushed, so a watcher sees it at once).
    pub(crate) fn verdict<J>(&mut self, check: &Check<J>, verdict: &Verdict) -> Result<(), Failure> {
        match verdict.outcome {
            Outcome::Pass => self.pass += 1,
            Outcome::Fail => self.fail += 1,
            Outcome::Skip => self.skip += 1,
        }
        let line = if self.json {
            JsonObject::new()
                .field("check", check.name)
                .field("section", check.section)
                .field("outcome", verdict.outcome.word())
                .field("detail", &verdict.detail)
                .finish()
        } else {
            let word = verdict.outcome.word().to_uppercase();
            let word = if self.colour { paint(verdict.outcome, &word) } else { word };
            format!("{word}  {:<28} {:<4} {}", check.name, check.section, verdict.detail)
        };
        self.out.line(&line)?;
        self.out.flush()
    }

    /// Prints the summary; exit 0 when nothing failed, else 1.
    pub(crate) fn finish(mut self) -> Result<ExitCode, Failure> {
        let line = if self.json {
            let counts = JsonObject::new()
                .field("pass", &self.pass)
                .field("fail", &self.fail)
                .field("skip", &self.skip);
            JsonObject::new().object("summary", counts).finish()
        } else {
            format!("\n{} passed, {} failed, {} skipped", self.pass, self.fail, self.skip)
        };
        self.out.line(&line)?;
        self.out.flush()?;
        Ok(ExitCode::from(u8::from(self.fail > 0)))
    }
}

/// `relay conform … --list`: one line per check of `table` (JSON with `json`),
/// nothing run.
pub(crate) fn list<J>(table: &[Check<J>], json: bool) -> Result<ExitCode, Failure> {
    let mut out = Out::new();
    for check in table {
        let line = if json {
            JsonObject::new()
                .field("check", check.name)
                .field("section", check.section)
                .field("passes", check.passes)
                .finish()
        } else {
            format!("{:<28} {:<4} {}", check.name, check.section, check.passes)
        };
        out.line(&line)?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// `word` in the outcome's ANSI colour: green, red, yellow.
fn paint(outcome: Outcome, word: &str) -> String {
    let colour = match outcome {
        Outcome::Pass => 32,
        Outcome::Fail => 31,
        Outcome::Skip => 33,
    };
    format!("\x1b[1;{colour}m{word}\x1b[0m")
}
