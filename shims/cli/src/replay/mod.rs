//! `relay replay FILE`: feeds the recorded messages of one connection
//! (`--record-raw`) through a fresh machine in simulated time, at the
//! recorded offsets, and prints what the machine did, one JSON line each.
//!
//! The gateway side is replayed whole: the recording names the machine's
//! identities and seed, so it draws the same request ids, and the frames
//! the application made it send (requests, interrupts, acks, going idle)
//! are replayed as the commands that made them; so replaying a recording
//! of `relay dial` prints the events and results `dial` printed. On the
//! connector side the application's answers (descriptors, results,
//! pushes) are replayed from the frames sent. Timers fire at their
//! simulated times between records; nothing is read from the clock.

mod recording;
mod sides;

use std::path::PathBuf;
use std::process::ExitCode;

use crate::lines::JsonObject;
use crate::stdio::{Failure, Out};

/// The `--help` examples.
pub(crate) const EXAMPLES: &str = r#"Examples:
  relay dial ws://127.0.0.1:8080 --record-raw session.jsonl < actions.jsonl
  relay replay session.jsonl
      {"descriptor":{…},"identity":"relay:","t":0.0013}
      {"send":{"type":"outbound","requestId":"…","action":{…}},"t":0.0020}
      {"result":{"success":true,"message_id":"srv-send"},"line":1,"t":0.0031}
  relay serve --listen 127.0.0.1:8080 --record-raw traffic.jsonl
  relay replay traffic.jsonl --conn 2 --side connector

A line of the file that is not a record is reported ({"skipped":{"line":N,"error":"…"}}) and left out."#;

/// Which machine replays the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Side {
    /// A gateway (`relay dial`, the library client).
    Gateway,
    /// A connector (`relay serve`, the library server).
    Connector,
}

/// Arguments of `relay replay`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// A file written by `--record-raw`.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// The machine to replay [default: the side that recorded].
    #[arg(long, value_enum)]
    side: Option<Side>,
    /// The connection to replay [default: the first one in the file].
    #[arg(long, value_name = "N")]
    conn: Option<u64>,
}

/// Replays and prints; exit 0 once the records ran out.
pub(crate) fn run(args: Args) -> Result<ExitCode, Failure> {
    let text = std::fs::read_to_string(&args.file).map_err(|e| {
        Failure::Usage(format!(
            "could not read the recording {}: {e}; pass a file written by --record-raw",
            args.file.display()
        ))
    })?;
    let connection = recording::read(&text, args.conn)
        .map_err(|why| Failure::Usage(format!("{}: {why}", args.file.display())))?;
    let mut out = Out::new();
    for (line, error) in &connection.skipped {
        let skipped = JsonObject::new().field("line", line).field("error", error);
        out.line(&JsonObject::new().object("skipped", skipped).finish())?;
    }
    let side = match args.side {
        Some(side) => side,
        None => sides::recorded_side(&connection.records).ok_or_else(|| {
            Failure::Usage(format!(
                "connection {} of {} does not say which side recorded it; pass --side gateway or --side connector",
                connection.conn,
                args.file.display()
            ))
        })?,
    };
    let lines = match side {
        Side::Gateway => sides::gateway(&connection.records),
        Side::Connector => sides::connector(&connection.records),
    };
    for line in lines {
        out.line(&line.finish())?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
