//! Gateway configuration from environment variables, with the reference
//! gateway's variable names so an existing deployment's settings carry over.
//!
//! The parsing is a pure function over a lookup ([`EnvConfig::from_lookup`]),
//! so every rule is tested without touching the process environment;
//! [`EnvConfig::from_env`] just plugs in `std::env`.

use std::fmt;

use serde_json::Value;

use crate::gateway::Identity;
use crate::policy::{Secret, UrlError, normalize_url};

/// The connector URL (required).
pub const ENV_URL: &str = "GATEWAY_RELAY_URL";
/// Comma-separated platforms, one identity each (wins over [`ENV_PLATFORM`]).
pub const ENV_PLATFORMS: &str = "GATEWAY_RELAY_PLATFORMS";
/// Bot ids for [`ENV_PLATFORMS`], a JSON map `{"discord": {"botId": "…"}}`.
pub const ENV_BOT_IDS: &str = "GATEWAY_RELAY_BOT_IDS";
/// The single identity's platform (default `relay`).
pub const ENV_PLATFORM: &str = "GATEWAY_RELAY_PLATFORM";
/// The single identity's bot id (default empty).
pub const ENV_BOT_ID: &str = "GATEWAY_RELAY_BOT_ID";
/// The gateway id for upgrade auth.
pub const ENV_GATEWAY_ID: &str = "GATEWAY_RELAY_ID";
/// The upgrade secret.
pub const ENV_SECRET: &str = "GATEWAY_RELAY_SECRET";

/// Why no configuration could be built.
///
/// ```
/// use relay_core::adapter::{EnvConfig, EnvError};
/// let err = EnvConfig::from_lookup(|_| None).unwrap_err();
/// assert_eq!(err, EnvError::MissingUrl);
/// assert!(err.to_string().contains("GATEWAY_RELAY_URL"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnvError {
    /// `GATEWAY_RELAY_URL` is unset, empty or whitespace-only.
    #[error(
        "set GATEWAY_RELAY_URL to the connector's URL (for example wss://connector.example.com) to use the relay"
    )]
    MissingUrl,
    /// `GATEWAY_RELAY_URL` cannot be dialled.
    #[error("GATEWAY_RELAY_URL is not a usable connector URL: {0}")]
    BadUrl(UrlError),
}

/// Upgrade auth credentials: on only when both the gateway id and the secret are set.
///
/// Not `PartialEq`: comparing secrets belongs in constant-time code, not in `==`.
///
/// ```
/// use relay_core::adapter::UpgradeAuth;
/// use relay_core::policy::Secret;
///
/// let auth = UpgradeAuth { gateway_id: "gw".into(), secret: Secret::new("hunter2").unwrap() };
/// assert_eq!(format!("{auth:?}"), r#"UpgradeAuth { gateway_id: "gw", secret: "<redacted>" }"#);
/// ```
#[derive(Clone)]
pub struct UpgradeAuth {
    /// The gateway id the token names.
    pub gateway_id: String,
    /// The secret that signs it.
    pub secret: Secret,
}

impl fmt::Debug for UpgradeAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The secret's own Debug is redacted too; spelling it out here keeps
        // that true even if the field's type changes.
        f.debug_struct("UpgradeAuth")
            .field("gateway_id", &self.gateway_id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// A gateway's relay settings as read from the environment.
///
/// ```
/// use relay_core::adapter::EnvConfig;
/// use relay_core::gateway::Identity;
///
/// let vars = [
///     ("GATEWAY_RELAY_URL", "https://connector.example.com/"),
///     ("GATEWAY_RELAY_PLATFORMS", "discord, telegram"),
///     ("GATEWAY_RELAY_BOT_IDS", r#"{"discord": {"botId": "123"}}"#),
///     ("GATEWAY_RELAY_ID", "gw-1"),
///     ("GATEWAY_RELAY_SECRET", "s3cret"),
/// ];
/// let lookup = |name: &str| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string());
/// let config = EnvConfig::from_lookup(lookup).unwrap();
/// assert_eq!(config.url, "wss://connector.example.com/relay");
/// assert_eq!(config.identities, [Identity::new("discord", "123"), Identity::new("telegram", "")]);
/// assert_eq!(config.auth.as_ref().unwrap().gateway_id, "gw-1");
/// assert!(!format!("{config:?}").contains("s3cret"));
/// ```
#[derive(Debug, Clone)]
pub struct EnvConfig {
    /// The normalized WebSocket URL to dial (PROTOCOL §8).
    pub url: String,
    /// The identities to announce, in order; never empty.
    pub identities: Vec<Identity>,
    /// Upgrade auth, when both `GATEWAY_RELAY_ID` and `GATEWAY_RELAY_SECRET` are set.
    pub auth: Option<UpgradeAuth>,
    /// Settings that were ignored or malformed but did not stop the gateway,
    /// one sentence each, for the application to log.
    pub warnings: Vec<String>,
}

impl EnvConfig {
    /// Reads the process environment (a variable that is not valid Unicode counts as unset).
    ///
    /// # Errors
    ///
    /// As [`from_lookup`](Self::from_lookup).
    pub fn from_env() -> Result<Self, EnvError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Builds the configuration from `get`, which returns a variable's value.
    ///
    /// - URL: `GATEWAY_RELAY_URL`, trimmed, trailing `/` stripped, then
    ///   normalized ([`normalize_url`]).
    /// - Identities: `GATEWAY_RELAY_PLATFORMS` (comma list; entries trimmed,
    ///   empty ones dropped, order kept) with bot ids from
    ///   `GATEWAY_RELAY_BOT_IDS`; a platform it does not list gets `""`, and
    ///   a malformed map gives every platform `""` plus a warning. When
    ///   PLATFORMS names no platform, `GATEWAY_RELAY_PLATFORM` (trimmed,
    ///   default `relay`) and `GATEWAY_RELAY_BOT_ID` (trimmed, default `""`)
    ///   give the single identity, as in the reference. Variables that lose
    ///   to PLATFORMS are reported in the warnings.
    /// - Auth: `GATEWAY_RELAY_ID` (trimmed) and `GATEWAY_RELAY_SECRET` (kept
    ///   verbatim; whitespace-only counts as unset); with only one of the two
    ///   set, auth is off and a warning says so.
    ///
    /// # Errors
    ///
    /// [`EnvError::MissingUrl`] when the URL is unset or blank,
    /// [`EnvError::BadUrl`] when it cannot be normalized.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, EnvError> {
        let trimmed = |name: &str| get(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let url = trimmed(ENV_URL).ok_or(EnvError::MissingUrl)?;
        let url = normalize_url(url.trim_end_matches('/')).map_err(EnvError::BadUrl)?;

        let mut warnings = Vec::new();
        let platforms: Vec<String> = trimmed(ENV_PLATFORMS)
            .map(|list| list.split(',').map(str::trim).filter(|p| !p.is_empty()).map(str::to_owned).collect())
            .unwrap_or_default();
        let identities = if platforms.is_empty() {
            if trimmed(ENV_PLATFORMS).is_some() {
                warnings.push(format!("{ENV_PLATFORMS} names no platform and was ignored"));
            }
            if trimmed(ENV_BOT_IDS).is_some() {
                warnings.push(format!("{ENV_BOT_IDS} is ignored without {ENV_PLATFORMS}"));
            }
            let platform = trimmed(ENV_PLATFORM).unwrap_or_else(|| "relay".to_owned());
            vec![Identity::new(platform, trimmed(ENV_BOT_ID).unwrap_or_default())]
        } else {
            for ignored in [ENV_PLATFORM, ENV_BOT_ID] {
                if trimmed(ignored).is_some() {
                    warnings.push(format!("{ignored} is ignored because {ENV_PLATFORMS} is set"));
                }
            }
            let bot_ids = match trimmed(ENV_BOT_IDS).map(|text| parse_bot_ids(&text)) {
                None => BotIds::default(),
                Some(Ok(ids)) => ids,
                Some(Err(problem)) => {
                    warnings.push(format!("{ENV_BOT_IDS} is {problem}; every bot id is empty"));
                    BotIds::default()
                }
            };
            platforms.into_iter().map(|p| Identity::new(p.clone(), bot_ids.get(&p))).collect()
        };

        let gateway_id = trimmed(ENV_GATEWAY_ID);
        let secret = get(ENV_SECRET).and_then(Secret::new);
        let auth = match (gateway_id, secret) {
            (Some(gateway_id), Some(secret)) => Some(UpgradeAuth { gateway_id, secret }),
            (Some(_), None) => {
                warnings.push(format!("{ENV_GATEWAY_ID} is set without {ENV_SECRET}: upgrade auth is off"));
                None
            }
            (None, Some(_)) => {
                warnings.push(format!("{ENV_SECRET} is set without {ENV_GATEWAY_ID}: upgrade auth is off"));
                None
            }
            (None, None) => None,
        };
        Ok(Self { url, identities, auth, warnings })
    }
}

/// Platform → bot id, from the `GATEWAY_RELAY_BOT_IDS` map.
#[derive(Debug, Default)]
struct BotIds(Vec<(String, String)>);

impl BotIds {
    /// The bot id for `platform`: its exact key, else a key equal after
    /// trimming and lower-casing (platform names are read that way on the wire).
    fn get(&self, platform: &str) -> String {
        let fold = |s: &str| s.trim().to_lowercase();
        let found = self.0.iter().find(|(k, _)| k == platform).or_else(|| {
            let wanted = fold(platform);
            self.0.iter().find(|(k, _)| fold(k) == wanted)
        });
        found.map(|(_, id)| id.clone()).unwrap_or_default()
    }
}

/// Reads `{"<platform>": {"botId": "<id>"}, …}`; the error says what is wrong.
/// A bot id may also be an integer (ids are numeric on several platforms).
fn parse_bot_ids(text: &str) -> Result<BotIds, String> {
    let Ok(value) = serde_json::from_str::<Value>(text) else { return Err("not valid JSON".to_owned()) };
    let Value::Object(map) = value else { return Err("not a JSON object".to_owned()) };
    let mut ids = Vec::new();
    for (platform, entry) in map {
        let id = match entry.get("botId") {
            Some(Value::String(id)) => id.trim().to_owned(),
            Some(Value::Number(n)) if n.is_u64() || n.is_i64() => n.to_string(),
            _ => return Err(format!("malformed at {platform:?} (expected {{\"botId\": \"…\"}})")),
        };
        ids.push((platform, id));
    }
    Ok(BotIds(ids))
}

#[cfg(test)]
#[path = "env_tests.rs"]
mod tests;
