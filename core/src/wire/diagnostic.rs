//! Diagnostics: what a receiver reports about input it skipped (PROTOCOL §1).

use std::fmt;

/// Why a line was skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum DiagnosticKind {
    /// The line is not UTF-8 (possible only in binary messages).
    InvalidUtf8,
    /// The line is not JSON (also `NaN`, `Infinity`, numbers beyond f64, nesting too deep).
    InvalidJson,
    /// JSON, but not an object.
    NotAnObject,
    /// No `type`, or `type` is not a string.
    MissingType,
    /// `type` names no known frame.
    UnknownType,
    /// A known frame that travels the other way.
    WrongDirection,
    /// A known frame with a required field missing or mistyped.
    BadField,
    /// The line exceeded the maximum length and was discarded.
    LineTooLong,
    /// A well-formed frame the receiver had no use for, e.g. a descriptor
    /// beyond the number of hellos sent.
    Unexpected,
    /// A descriptor announced a newer contract version; accepted, since
    /// evolution is additive.
    NewerContract,
}

impl DiagnosticKind {
    /// Every kind, in declaration order.
    pub const ALL: [Self; 10] = [
        Self::InvalidUtf8,
        Self::InvalidJson,
        Self::NotAnObject,
        Self::MissingType,
        Self::UnknownType,
        Self::WrongDirection,
        Self::BadField,
        Self::LineTooLong,
        Self::Unexpected,
        Self::NewerContract,
    ];

    /// The snake_case name used in logs and `relay decode` output.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidUtf8 => "invalid_utf8",
            Self::InvalidJson => "invalid_json",
            Self::NotAnObject => "not_an_object",
            Self::MissingType => "missing_type",
            Self::UnknownType => "unknown_type",
            Self::WrongDirection => "wrong_direction",
            Self::BadField => "bad_field",
            Self::LineTooLong => "line_too_long",
            Self::Unexpected => "unexpected",
            Self::NewerContract => "newer_contract",
        }
    }
}

impl fmt::Display for DiagnosticKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One skipped line: its kind, its 1-based number in the stream, and a detail text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Why it was skipped.
    pub kind: DiagnosticKind,
    /// 1-based line number on this connection (every `\n`-terminated line counts).
    pub line: u64,
    /// Human-readable detail.
    pub detail: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}: {}", self.line, self.kind, self.detail)
    }
}
