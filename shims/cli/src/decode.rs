//! `relay decode`: a raw frame stream on stdin → one JSON line per frame or diagnostic.

use std::process::ExitCode;

use relay_core::wire::{DEFAULT_MAX_LINE, DiagnosticKind, Direction, Frame, LineEvent};
use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::stdio::{self, Failure, Out};

/// The `--help` examples.
pub(crate) const EXAMPLES: &str = r#"Examples:
  echo '{"type":"hello","platform":"discord","botId":"b1"}' | relay decode
      {"frame":{"type":"hello","platform":"discord","botId":"b1"}}
  printf '[1]\n' | relay decode
      {"diagnostic":{"kind":"not_an_object","line":1,"detail":"a frame must be a JSON object"}}
  relay decode --direction to-gateway < captured-stream.jsonl
  relay decode --max-line 65536 < captured-stream.jsonl"#;

/// Arguments of `relay decode`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Refuse frames travelling the other way (diagnostic `wrong_direction`).
    #[arg(long, value_enum)]
    direction: Option<DirectionArg>,
    /// Longest line accepted, in bytes; longer ones are reported as `line_too_long`.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_LINE, value_parser = parse_max_line)]
    max_line: usize,
}

/// Parses `--max-line`: a whole number of bytes, at least 1.
fn parse_max_line(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("the maximum line length must be at least 1 byte".to_owned()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("{text:?} is not a number of bytes")),
    }
}

/// The direction frames are expected to travel.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum DirectionArg {
    /// Connector → gateway (what a gateway receives).
    ToGateway,
    /// Gateway → connector (what a connector receives).
    ToConnector,
}

impl From<DirectionArg> for Direction {
    fn from(d: DirectionArg) -> Self {
        match d {
            DirectionArg::ToGateway => Self::ToGateway,
            DirectionArg::ToConnector => Self::ToConnector,
        }
    }
}

/// One output line: `{"frame": …}` or `{"diagnostic": {"kind": …, "line": …, "detail": …}}`.
#[derive(Debug)]
enum Record<'a> {
    /// A decoded frame, as interpreted.
    Frame(&'a Frame),
    /// A skipped line.
    Diagnostic {
        /// The diagnostic kind.
        kind: DiagnosticKind,
        /// 1-based line number.
        line: u64,
        /// Human-readable detail.
        detail: &'a str,
    },
}

impl Serialize for Record<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        /// The inner object of a diagnostic record, keys in contract order.
        struct Inner<'a>(DiagnosticKind, u64, &'a str);
        impl Serialize for Inner<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut map = s.serialize_map(Some(3))?;
                map.serialize_entry("kind", self.0.as_str())?;
                map.serialize_entry("line", &self.1)?;
                map.serialize_entry("detail", self.2)?;
                map.end()
            }
        }
        let mut map = s.serialize_map(Some(1))?;
        match *self {
            Self::Frame(frame) => map.serialize_entry("frame", frame)?,
            Self::Diagnostic { kind, line, detail } => {
                map.serialize_entry("diagnostic", &Inner(kind, line, detail))?
            }
        }
        map.end()
    }
}

/// Decodes stdin line by line; diagnostics do not change the exit code.
pub(crate) fn run(args: Args) -> Result<ExitCode, Failure> {
    let expect = args.direction.map(Direction::from);
    let mut out = Out::new();
    stdio::for_each_line(args.max_line, &mut out, |out, event| match event {
        LineEvent::Line { number, bytes } => match Frame::decode(bytes, expect) {
            Ok(frame) => out.json_line(&Record::Frame(&frame)),
            Err(e) => out.json_line(&Record::Diagnostic { kind: e.kind, line: number, detail: &e.detail }),
        },
        LineEvent::TooLong { number, len } => {
            let detail = stdio::too_long_detail(len, args.max_line);
            out.json_line(&Record::Diagnostic {
                kind: DiagnosticKind::LineTooLong,
                line: number,
                detail: &detail,
            })
        }
    })?;
    Ok(ExitCode::SUCCESS)
}
