//! The commands a stdin line of `relay dial` may hold (the lines come from
//! [`crate::stdin_lines`]).

use relay_core::gateway::{Identity, OutboundRequest};
use relay_core::wire::{Object, OutboundAction, read_json_object};
use serde_json::Value;

/// What one stdin line asks for.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Command {
    /// Send an action (optionally tagged with an identity) and print its result.
    Request(OutboundRequest),
    /// Acknowledge a buffered event.
    Ack(String),
    /// Ask the connector to stop a session's turn.
    Interrupt { session_key: String, reason: Option<String> },
    /// Go idle: the connector buffers everything from now on.
    GoIdle,
}

/// The keys that make a line something other than a bare action.
const HINT: &str = "expected an action (an object with \"op\"), {\"action\": {…}, \"platform\": \"…\", \
                    \"botId\": \"…\"}, {\"ack\": \"<bufferId>\"}, {\"interrupt\": {\"session_key\": \"…\", \
                    \"reason\": …}} or {\"go_idle\": true}";

/// Reads one line as a command, or says what is wrong with it.
pub(crate) fn parse(line: &[u8]) -> Result<Command, String> {
    let object = read_json_object(line).map_err(|e| match e.kind.as_str() {
        "invalid_utf8" => format!("not UTF-8 ({})", e.detail),
        "invalid_json" => format!("not JSON ({})", e.detail),
        _ => format!("not a JSON object; {HINT}"),
    })?;
    if object.contains_key("op") {
        return action(object).map(|a| Command::Request(a.into()));
    }
    if object.contains_key("action") {
        return tagged(object);
    }
    if let Some(value) = object.get("ack") {
        only_key(&object, "ack")?;
        return match value {
            Value::String(id) if !id.is_empty() => Ok(Command::Ack(id.clone())),
            _ => Err("\"ack\" must be a non-empty bufferId string".to_owned()),
        };
    }
    if let Some(value) = object.get("interrupt") {
        only_key(&object, "interrupt")?;
        return interrupt(value);
    }
    if let Some(value) = object.get("go_idle") {
        only_key(&object, "go_idle")?;
        return match value {
            Value::Bool(true) => Ok(Command::GoIdle),
            _ => Err("\"go_idle\" must be true".to_owned()),
        };
    }
    Err(format!("not a command; {HINT}"))
}

fn only_key(object: &Object, key: &str) -> Result<(), String> {
    match object.keys().find(|k| *k != key) {
        Some(other) => Err(format!("unexpected key {other:?} next to {key:?}")),
        None => Ok(()),
    }
}

fn action(object: Object) -> Result<OutboundAction, String> {
    OutboundAction::from_object(object).map_err(|e| format!("bad action: {e}"))
}

/// `{"action": {…}, "platform": "…", "botId": "…"}`.
fn tagged(mut object: Object) -> Result<Command, String> {
    let Some(Value::Object(fields)) = object.remove("action") else {
        return Err("\"action\" must be an action object".to_owned());
    };
    let mut text = |key: &str| match object.remove(key) {
        Some(Value::String(s)) => Ok(Some(s)),
        None | Some(Value::Null) => Ok(None),
        Some(_) => Err(format!("{key:?} must be a string")),
    };
    let platform = text("platform")?;
    let bot_id = text("botId")?;
    if let Some(other) = object.keys().next() {
        return Err(format!("unexpected key {other:?} next to \"action\""));
    }
    let identity = match (platform, bot_id) {
        (Some(platform), bot_id) => Some(Identity::new(platform, bot_id.unwrap_or_default())),
        (None, None) => None,
        (None, Some(_)) => return Err("\"botId\" needs \"platform\" next to it".to_owned()),
    };
    let request = OutboundRequest { action: action(fields)?, identity };
    Ok(Command::Request(request))
}

/// `{"interrupt": {"session_key": "…", "reason": "…" | null}}`.
fn interrupt(value: &Value) -> Result<Command, String> {
    let Value::Object(fields) = value else {
        return Err("\"interrupt\" must be an object with \"session_key\" and \"reason\"".to_owned());
    };
    let session_key = match fields.get("session_key") {
        Some(Value::String(key)) if !key.is_empty() => key.clone(),
        _ => return Err("\"interrupt\" needs a non-empty \"session_key\" string".to_owned()),
    };
    let reason = match fields.get("reason") {
        None | Some(Value::Null) => None,
        Some(Value::String(reason)) => Some(reason.clone()),
        Some(_) => return Err("the interrupt's \"reason\" must be a string or null".to_owned()),
    };
    if let Some(other) = fields.keys().find(|k| *k != "session_key" && *k != "reason") {
        return Err(format!("unexpected key {other:?} in \"interrupt\""));
    }
    Ok(Command::Interrupt { session_key, reason })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(line: &str) -> Command {
        parse(line.as_bytes()).unwrap_or_else(|e| panic!("{line}: {e}"))
    }

    fn bad(line: &str) -> String {
        parse(line.as_bytes()).expect_err(line)
    }

    #[test]
    fn reads_every_command() {
        let Command::Request(r) = ok(r#"{"op":"send","chat_id":"c1","content":"hi"}"#) else { panic!() };
        assert_eq!((r.action.op(), r.identity), ("send", None));
        let Command::Request(r) =
            ok(r#"{"action":{"op":"typing","chat_id":"c1"},"platform":"discord","botId":"B1"}"#)
        else {
            panic!()
        };
        assert_eq!(r.identity, Some(Identity::new("discord", "B1")));
        assert_eq!(ok(r#"{"ack":"b-1"}"#), Command::Ack("b-1".into()));
        assert_eq!(
            ok(r#"{"interrupt":{"session_key":"k","reason":null}}"#),
            Command::Interrupt { session_key: "k".into(), reason: None }
        );
        assert_eq!(
            ok(r#"{"interrupt":{"session_key":"k","reason":"stop"}}"#),
            Command::Interrupt { session_key: "k".into(), reason: Some("stop".into()) }
        );
        assert_eq!(ok(r#"{"go_idle":true}"#), Command::GoIdle);
    }

    #[test]
    fn says_what_is_wrong() {
        assert!(bad("nope").starts_with("not JSON"));
        assert!(bad("[1]").starts_with("not a JSON object"));
        assert!(bad(r#"{"hello":1}"#).starts_with("not a command"));
        assert!(bad(r#"{"op":"send","chat_id":"c","content":5}"#).starts_with("bad action"));
        assert!(bad(r#"{"ack":""}"#).contains("non-empty"));
        assert!(bad(r#"{"go_idle":false}"#).contains("must be true"));
        assert!(bad(r#"{"ack":"b","x":1}"#).contains("unexpected key"));
        assert!(bad(r#"{"interrupt":{"reason":"r"}}"#).contains("session_key"));
        assert!(bad(r#"{"action":{"op":"send"},"botId":"B"}"#).contains("needs \"platform\""));
    }
}
