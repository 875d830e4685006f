//! Discord interactions forwarded over the relay (PROTOCOL §7) as
//! [`MessageEvent`]s, so slash commands and button clicks reach the agent
//! through the same path as ordinary messages.
//!
//! Discord delivers interactions to an HTTP endpoint the connector owns; the
//! connector acknowledges them, strips the credential and forwards the body.
//! Nothing of the body is copied into the event beyond the fields below (in
//! particular not into `extra`), so no interaction token can leak into the
//! agent even if a connector forgot to strip it.

use serde_json::{Map, Value};

use super::parse_prompt_token;
use crate::wire::{Forward, MessageEvent, MessageType, Platform, PromptResponse, SessionSource};

type Object = Map<String, Value>;

/// Interaction types (Discord API).
const APPLICATION_COMMAND: u64 = 2;
const MESSAGE_COMPONENT: u64 = 3;

/// Command option types that name a level of the command rather than carry a value.
const SUB_COMMAND: u64 = 1;
const SUB_COMMAND_GROUP: u64 = 2;

/// Channel types that are threads: announcement, public and private thread.
const THREAD_CHANNEL_TYPES: [u64; 3] = [10, 11, 12];
/// A group DM: several users, no guild.
const GROUP_DM_CHANNEL_TYPE: u64 = 3;

/// Discord nests sub-command groups two levels deep and components a few
/// levels; anything deeper is not a real payload and is not walked.
const MAX_NESTING: usize = 4;

/// Why a forward could not become a [`MessageEvent`].
///
/// ```
/// use relay_core::adapter::{convert_interaction, NotConvertible};
/// use relay_core::wire::Forward;
///
/// let forward = Forward { platform: "twilio".into(), ..Forward::default() };
/// assert_eq!(convert_interaction(&forward), Err(NotConvertible::NotDiscord { platform: "twilio".into() }));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NotConvertible {
    /// The forward is for another platform (its name as given).
    #[error("the forward is for {platform:?}, not discord")]
    NotDiscord {
        /// The forward's platform.
        platform: String,
    },
    /// The body is not JSON (or not UTF-8); holds the parser's message.
    #[error("the interaction body is not valid JSON: {0}")]
    InvalidJson(String),
    /// The body is JSON but not an object.
    #[error("the interaction body is not a JSON object")]
    NotAnObject,
    /// A field the conversion needs is absent or `null` (dotted path).
    #[error("the interaction has no {0}")]
    MissingField(&'static str),
    /// A field the conversion needs has the wrong type.
    #[error("the interaction's {field} is not {expected}")]
    BadField {
        /// Dotted path of the field.
        field: &'static str,
        /// What it should be.
        expected: &'static str,
    },
}

/// Converts a forwarded Discord interaction into a [`MessageEvent`].
///
/// - Application command (type 2): text `/name`, then the names of the
///   sub-command group and sub-command, then the values of the leaf options
///   in order (strings verbatim, numbers as their JSON text, booleans as
///   `true`/`false`; empty strings and non-scalar values skipped), joined by
///   single spaces; message type `command`. Values are not quoted, so a value
///   containing a space reads like two.
/// - Message component (type 3): a `custom_id` that is a prompt token
///   (`hp1:<prompt_id>:<option_id>`, see [`parse_prompt_token`]) becomes a
///   `prompt_response` — with the clicked button's label and the prompt
///   message's id when the body carries them — and **empty text**: the token
///   is plumbing, and an agent that does not understand prompt responses
///   should see nothing rather than an opaque string. Any other `custom_id`
///   becomes the text. Message type `text` either way.
/// - Ping (type 1) and every other type: empty text, message type `text`.
///
/// The source: platform `discord`; `scope_id` the guild; `chat_type` `group`
/// in a guild (and in a group DM), else `dm`; in a thread channel (channel
/// type 10, 11, 12) `chat_type` is `thread`, `thread_id` the thread's channel
/// id, and `chat_id` and `parent_chat_id` the parent channel, so the session
/// key is `discord:thread:<parent>:<thread>` like a threaded message's (a
/// thread whose parent is not in the body keeps its own id as `chat_id`);
/// otherwise `chat_id` is `channel_id` (else `channel.id`). The user is
/// `member.user` in a guild, else `user`; its name is `global_name`, else
/// `username`. `message_id` is the interaction id; `profile` the forward's.
///
/// Only the interaction `type`, and for commands `data.name`, for components
/// `data.custom_id`, are required; other fields read as absent when missing
/// or mistyped, since a partial source is more useful than a dropped click.
///
/// ```
/// use relay_core::adapter::convert_interaction;
/// use relay_core::wire::{Forward, MessageType};
///
/// let body = r#"{"id":"i1","type":2,"guild_id":"g1","channel_id":"c1",
///   "member":{"user":{"id":"u1","username":"ada"}},
///   "data":{"name":"ask","options":[{"name":"q","type":3,"value":"why"},{"name":"n","type":4,"value":3}]}}"#;
/// let forward = Forward { platform: "discord".into(), body: body.into(), ..Forward::default() };
/// let event = convert_interaction(&forward).unwrap();
/// assert_eq!((event.text.as_str(), event.message_type), ("/ask why 3", MessageType::Command));
/// assert_eq!((event.source.chat_id.as_str(), event.source.chat_type.as_str()), ("c1", "group"));
/// assert_eq!(event.source.user_name.as_deref(), Some("ada"));
/// ```
///
/// # Errors
///
/// [`NotConvertible`] for a forward of another platform, a body that is not a
/// JSON object, and a missing or mistyped required field. Never panics.
pub fn convert_interaction(forward: &Forward) -> Result<MessageEvent, NotConvertible> {
    if forward.platform.trim().to_lowercase() != "discord" {
        return Err(NotConvertible::NotDiscord { platform: forward.platform.clone() });
    }
    let body = match serde_json::from_slice::<Value>(&forward.body) {
        Ok(Value::Object(body)) => body,
        Ok(_) => return Err(NotConvertible::NotAnObject),
        Err(e) => return Err(NotConvertible::InvalidJson(e.to_string())),
    };
    let kind = match body.get("type") {
        None | Some(Value::Null) => return Err(NotConvertible::MissingField("type")),
        Some(value) => {
            value.as_u64().ok_or(NotConvertible::BadField { field: "type", expected: "an integer" })?
        }
    };
    let mut event = MessageEvent {
        source: source_of(&body, forward.profile.clone()),
        message_id: id_of(body.get("id")),
        ..MessageEvent::default()
    };
    match kind {
        APPLICATION_COMMAND => {
            event.text = command_text(data_of(&body)?)?;
            event.message_type = MessageType::Command;
        }
        MESSAGE_COMPONENT => {
            let custom_id = required_str(data_of(&body)?, "custom_id", "data.custom_id")?;
            match parse_prompt_token(custom_id) {
                Some((prompt_id, option_id)) => {
                    event.prompt_response = Some(PromptResponse {
                        prompt_id,
                        option_id,
                        label: button_label(&body, custom_id),
                        prompt_message_id: body.get("message").and_then(|m| id_of(m.get("id"))),
                        ..PromptResponse::default()
                    });
                }
                None => event.text = custom_id.to_owned(),
            }
        }
        _ => {}
    }
    Ok(event)
}

/// Where the interaction happened and who triggered it.
fn source_of(body: &Object, profile: Option<String>) -> SessionSource {
    let channel = body.get("channel").and_then(Value::as_object);
    let channel_field = |key: &str| channel.and_then(|c| c.get(key));
    let channel_id = id_of(body.get("channel_id")).or_else(|| id_of(channel_field("id")));
    let channel_type = channel_field("type").and_then(Value::as_u64);
    let guild_id = id_of(body.get("guild_id"));

    let in_group = guild_id.is_some() || channel_type == Some(GROUP_DM_CHANNEL_TYPE);
    let mut source = SessionSource::new(Platform::Discord, "", if in_group { "group" } else { "dm" });
    if channel_type.is_some_and(|t| THREAD_CHANNEL_TYPES.contains(&t)) {
        let parent = id_of(channel_field("parent_id"));
        source.chat_type = "thread".to_owned();
        source.chat_id = parent.clone().or_else(|| channel_id.clone()).unwrap_or_default();
        source.thread_id = channel_id;
        source.parent_chat_id = parent;
    } else {
        source.chat_id = channel_id.unwrap_or_default();
    }
    source.chat_name = non_empty_str(channel_field("name"));
    source.scope_id = guild_id;

    let member_user = body.get("member").and_then(|m| m.get("user")).and_then(Value::as_object);
    if let Some(user) = member_user.or_else(|| body.get("user").and_then(Value::as_object)) {
        source.user_id = id_of(user.get("id"));
        source.user_name =
            non_empty_str(user.get("global_name")).or_else(|| non_empty_str(user.get("username")));
    }
    source.profile = profile;
    source
}

/// `/name`, sub-command names, then leaf values, space-joined.
fn command_text(data: &Object) -> Result<String, NotConvertible> {
    let name = required_str(data, "name", "data.name")?;
    let mut names = Vec::new();
    let mut values = Vec::new();
    collect_options(data.get("options"), 0, &mut names, &mut values);
    let mut text = format!("/{name}");
    for part in names.into_iter().chain(values) {
        text.push(' ');
        text.push_str(&part);
    }
    Ok(text)
}

fn collect_options(options: Option<&Value>, depth: usize, names: &mut Vec<String>, values: &mut Vec<String>) {
    let Some(options) = options.and_then(Value::as_array) else { return };
    for option in options.iter().filter_map(Value::as_object) {
        match option.get("type").and_then(Value::as_u64) {
            Some(SUB_COMMAND | SUB_COMMAND_GROUP) => {
                if let Some(name) = non_empty_str(option.get("name")) {
                    names.push(name);
                }
                if depth < MAX_NESTING {
                    collect_options(option.get("options"), depth + 1, names, values);
                }
            }
            _ => values.extend(render_value(option.get("value"))),
        }
    }
}

fn render_value(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The label of the button that carries `custom_id` in the interaction's
/// message, found by walking its component tree.
fn button_label(body: &Object, custom_id: &str) -> Option<String> {
    fn walk(components: Option<&Value>, custom_id: &str, depth: usize) -> Option<String> {
        for component in components?.as_array()?.iter().filter_map(Value::as_object) {
            if component.get("custom_id").and_then(Value::as_str) == Some(custom_id) {
                return non_empty_str(component.get("label"));
            }
            if depth < MAX_NESTING {
                if let Some(label) = walk(component.get("components"), custom_id, depth + 1) {
                    return Some(label);
                }
            }
        }
        None
    }
    walk(body.get("message")?.get("components"), custom_id, 0)
}

fn data_of(body: &Object) -> Result<&Object, NotConvertible> {
    match body.get("data") {
        None | Some(Value::Null) => Err(NotConvertible::MissingField("data")),
        Some(data) => {
            data.as_object().ok_or(NotConvertible::BadField { field: "data", expected: "an object" })
        }
    }
}

fn required_str<'a>(object: &'a Object, key: &str, path: &'static str) -> Result<&'a str, NotConvertible> {
    match object.get(key) {
        None | Some(Value::Null) => Err(NotConvertible::MissingField(path)),
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(_) => Err(NotConvertible::BadField { field: path, expected: "a non-empty string" }),
    }
}

/// A Discord id: a snowflake string, or an integer from a lenient producer.
fn id_of(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) if n.is_u64() || n.is_i64() => Some(n.to_string()),
        _ => None,
    }
}

fn non_empty_str(value: Option<&Value>) -> Option<String> {
    value.and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned)
}

#[cfg(test)]
#[path = "interaction_tests.rs"]
mod tests;
