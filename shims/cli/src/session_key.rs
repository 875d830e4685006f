//! `relay session-key`: SessionSource JSON lines on stdin → one session key per line (PROTOCOL §10).

use std::io::{self, Write};
use std::process::ExitCode;

use relay_core::policy::{SessionKeyOptions, session_key};
use relay_core::wire::{DEFAULT_MAX_LINE, DiagnosticKind, LineEvent, SessionSource, read_json_object};

use crate::stdio::{self, Failure, Out};

/// The `--help` examples.
pub(crate) const EXAMPLES: &str = r#"Examples:
  echo '{"platform":"telegram","chat_type":"group","chat_id":"-100","user_id":"u1"}' | relay session-key
      agent:main:telegram:group:-100:u1
  echo '{"platform":"telegram","chat_type":"group","chat_id":"-100","user_id":"u1"}' \
    | relay session-key --group-per-user false
      agent:main:telegram:group:-100
  relay session-key --profile reviewer < sources.jsonl"#;

/// Arguments of `relay session-key`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Give each participant of a group their own session (`group_sessions_per_user`).
    #[arg(long, value_name = "BOOL", action = clap::ArgAction::Set, default_value_t = true)]
    group_per_user: bool,
    /// Give each participant of a thread their own session (`thread_sessions_per_user`).
    #[arg(long, value_name = "BOOL", action = clap::ArgAction::Set, default_value_t = false)]
    thread_per_user: bool,
    /// Agent profile for the key's namespace (the source's own `profile` field is ignored).
    #[arg(long, value_name = "P")]
    profile: Option<String>,
}

/// Prints one key per good line; bad lines go to stderr and make the exit code 1.
pub(crate) fn run(args: Args) -> Result<ExitCode, Failure> {
    let options = SessionKeyOptions {
        group_sessions_per_user: args.group_per_user,
        thread_sessions_per_user: args.thread_per_user,
    };
    let mut out = Out::new();
    let mut bad_lines = false;
    stdio::for_each_line(DEFAULT_MAX_LINE, &mut out, |out, event| {
        let (number, source) = match event {
            LineEvent::Line { number, bytes } => (number, parse_source(bytes)),
            LineEvent::TooLong { number, len } => {
                (number, Err(stdio::too_long_detail(len, DEFAULT_MAX_LINE)))
            }
        };
        match source {
            Ok(source) => out.line(&session_key(&source, options, args.profile.as_deref())),
            Err(problem) => {
                bad_lines = true;
                // Keep stdout and stderr in step for a reader that merges them.
                out.flush()?;
                let _ = writeln!(io::stderr(), "line {number}: {problem}");
                Ok(())
            }
        }
    })?;
    Ok(if bad_lines { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

/// Reads one line as a SessionSource, or says what is wrong with it.
fn parse_source(line: &[u8]) -> Result<SessionSource, String> {
    let object = read_json_object(line).map_err(|e| match e.kind {
        DiagnosticKind::InvalidUtf8 => format!("not UTF-8 ({})", e.detail),
        DiagnosticKind::InvalidJson => format!("not JSON ({})", e.detail),
        _ => "not a JSON object; each line must be one SessionSource object".to_owned(),
    })?;
    SessionSource::from_object(object).map_err(|e| e.to_string())
}
