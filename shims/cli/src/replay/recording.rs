//! Reading a `--record-raw` file back: the records of one connection, and
//! a report for every line that is not one.

use std::time::Duration;

use base64::Engine as _;
use relay_core::gateway::{CloseFrame, Identity};
use serde_json::Value;

/// Which way a recorded message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dir {
    In,
    Out,
}

/// One record of a connection.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Record {
    Open { side: String, seed: Option<u64>, identities: Vec<Identity> },
    Data(Dir, Vec<u8>),
    Keepalive(Dir),
    Close(Dir, Option<CloseFrame>),
}

/// A record with its time since the recording started.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Timed {
    pub(crate) at: Duration,
    pub(crate) record: Record,
}

/// What a recording holds for one connection, and what could not be read.
#[derive(Debug, Default)]
pub(crate) struct Connection {
    pub(crate) conn: u64,
    pub(crate) records: Vec<Timed>,
    /// `(line number, why)` for every line that is not a record.
    pub(crate) skipped: Vec<(u64, String)>,
}

/// The records of connection `conn` (the first one in the file when
/// `None`), in file order; a line cut off mid-way (the recording was
/// interrupted) ends the records.
pub(crate) fn read(text: &str, conn: Option<u64>) -> Result<Connection, String> {
    let mut out = Connection::default();
    let mut chosen = conn;
    for (number, line) in (1u64..).zip(text.lines()) {
        if line.trim().is_empty() {
            continue;
        }
        let (record_conn, timed) = match parse(line) {
            Ok(parsed) => parsed,
            Err(why) => {
                out.skipped.push((number, why));
                continue;
            }
        };
        if *chosen.get_or_insert(record_conn) == record_conn {
            out.records.push(timed);
        }
    }
    out.conn = chosen.ok_or("the recording holds no record")?;
    if out.records.is_empty() {
        return Err(format!("the recording holds nothing of connection {}", out.conn));
    }
    Ok(out)
}

fn parse(line: &str) -> Result<(u64, Timed), String> {
    let value: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let conn = value["conn"].as_u64().ok_or("no `conn` number")?;
    let t = value["t"].as_f64().filter(|t| t.is_finite() && *t >= 0.0).ok_or("no `t` in seconds")?;
    let at = Duration::from_secs_f64(t);
    let dir = || match value["dir"].as_str() {
        Some("in") => Ok(Dir::In),
        Some("out") => Ok(Dir::Out),
        _ => Err("no `dir` (`in` or `out`)".to_owned()),
    };
    let record = if let Some(open) = value.get("open") {
        let side = open["side"].as_str().ok_or("an `open` without a `side`")?.to_owned();
        let seed =
            open["seed"].as_str().map(|s| s.parse().map_err(|_| "a `seed` that is no number")).transpose()?;
        let identities = open["identities"]
            .as_array()
            .map(|ids| ids.iter().filter_map(Value::as_str).map(identity).collect())
            .unwrap_or_default();
        Record::Open { side, seed, identities }
    } else if let Some(text) = value["text"].as_str() {
        Record::Data(dir()?, text.as_bytes().to_vec())
    } else if let Some(encoded) = value["binary_b64"].as_str() {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|e| format!("bad base64: {e}"))?;
        Record::Data(dir()?, bytes)
    } else if value.get("keepalive").is_some() {
        Record::Keepalive(dir()?)
    } else if let Some(close) = value.get("close") {
        let frame = match close {
            Value::Null => None,
            close => Some(CloseFrame::new(
                close["code"].as_u64().and_then(|c| u16::try_from(c).ok()).ok_or("a close without a code")?,
                close["reason"].as_str().unwrap_or_default(),
            )),
        };
        Record::Close(dir()?, frame)
    } else {
        return Err("not a record of `relay … --record-raw`".to_owned());
    };
    Ok((conn, Timed { at, record }))
}

/// `platform:botId` as an identity (split at the first `:`).
fn identity(text: &str) -> Identity {
    match text.split_once(':') {
        Some((platform, bot_id)) => Identity::new(platform, bot_id),
        None => Identity::new(text, ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_of_one_connection_and_reports_of_the_rest() {
        let text = concat!(
            r#"{"conn":1,"t":0.0,"open":{"side":"gateway","seed":"18446744073709551615","identities":["discord:B1"]}}"#,
            "\n",
            "garbage\n",
            r#"{"conn":2,"t":0.1,"dir":"in","text":"x"}"#,
            "\n",
            r#"{"conn":1,"t":0.5,"dir":"in","binary_b64":"AP8="}"#,
            "\n",
            r#"{"conn":1,"t":0.6,"dir":"out","close":{"code":1000,"reason":"bye"}}"#,
            "\n",
            r#"{"conn":1,"t":0.7,"dir":"in","te"#,
        );
        let read = read(text, None).unwrap();
        assert_eq!(read.conn, 1);
        assert_eq!(read.records.len(), 3);
        assert_eq!(
            read.records[0].record,
            Record::Open {
                side: "gateway".into(),
                seed: Some(u64::MAX),
                identities: vec![Identity::new("discord", "B1")]
            }
        );
        assert_eq!(read.records[1].record, Record::Data(Dir::In, vec![0, 255]));
        assert_eq!(read.records[2].record, Record::Close(Dir::Out, Some(CloseFrame::new(1000, "bye"))));
        let lines: Vec<u64> = read.skipped.iter().map(|(n, _)| *n).collect();
        assert_eq!(lines, [2, 6], "the garbage line and the cut-off last line");
        assert_eq!(super::read(text, Some(2)).unwrap().records.len(), 1);
        assert!(super::read(text, Some(9)).is_err());
    }
}
