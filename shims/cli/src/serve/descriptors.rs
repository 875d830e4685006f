//! Which descriptor answers a `hello`: `--descriptor FILE`, `--platform P`,
//! or the built-in one for the hello's platform.

use std::collections::BTreeMap;
use std::path::Path;

use relay_core::connector::descriptor_for;
use relay_core::wire::{Descriptor, Object};
use serde_json::Value;

use crate::stdio::Failure;

/// How hellos are answered.
#[derive(Debug, Clone)]
pub(crate) enum Descriptors {
    /// The built-in descriptor of each hello's platform.
    BuiltIn,
    /// The built-in descriptor of this platform, whatever the hello says.
    Platform(String),
    /// This descriptor for every hello.
    One(Box<Descriptor>),
    /// Per platform; a platform not listed is refused.
    ByPlatform(BTreeMap<String, Descriptor>),
}

/// How to answer one hello.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Answer {
    /// Send this descriptor.
    Descriptor(Box<Descriptor>),
    /// Refuse the identity (close 1008) with this reason.
    Refuse(String),
}

impl Descriptors {
    /// Reads `--descriptor FILE`: one descriptor (an object with
    /// `contract_version`), or an object mapping platform names to descriptors.
    pub(crate) fn load(path: &Path) -> Result<Self, Failure> {
        let shown = path.display();
        let text = std::fs::read_to_string(path).map_err(|e| {
            Failure::Usage(format!(
                "could not read the descriptor file {shown}: {e}; pass a readable JSON file"
            ))
        })?;
        let bad = |problem: String| {
            Failure::Usage(format!(
                "the descriptor file {shown} {problem}; fix the file (see `relay serve --help`)"
            ))
        };
        let Ok(Value::Object(object)) = serde_json::from_str::<Value>(&text) else {
            return Err(bad("is not a JSON object".to_owned()));
        };
        if object.contains_key("contract_version") {
            let descriptor =
                Descriptor::from_object(object).map_err(|e| bad(format!("has a bad descriptor: {e}")))?;
            return Ok(Self::One(Box::new(descriptor)));
        }
        if object.is_empty() {
            return Err(bad("names no platform".to_owned()));
        }
        let mut map = BTreeMap::new();
        for (platform, value) in object {
            let Value::Object(fields) = value else {
                return Err(bad(format!("maps {platform:?} to something that is not a descriptor object")));
            };
            let descriptor = Descriptor::from_object(fields as Object)
                .map_err(|e| bad(format!("has a bad descriptor for {platform:?}: {e}")))?;
            map.insert(platform, descriptor);
        }
        Ok(Self::ByPlatform(map))
    }

    /// The answer to a hello for `platform`.
    pub(crate) fn answer(&self, platform: &str) -> Answer {
        let descriptor = match self {
            Self::BuiltIn => descriptor_for(platform),
            Self::Platform(p) => descriptor_for(p),
            Self::One(d) => (**d).clone(),
            Self::ByPlatform(map) => {
                // The exact name, else as platform names are read on the wire.
                let fold = |s: &str| s.trim().to_lowercase();
                let found = map.get(platform).or_else(|| {
                    let wanted = fold(platform);
                    map.iter().find(|(k, _)| fold(k) == wanted).map(|(_, d)| d)
                });
                match found {
                    Some(d) => d.clone(),
                    None => return Answer::Refuse(format!("no descriptor for platform {platform:?}")),
                }
            }
        };
        Answer::Descriptor(Box::new(descriptor))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(answer: Answer) -> String {
        match answer {
            Answer::Descriptor(d) => d.label,
            Answer::Refuse(reason) => format!("refused: {reason}"),
        }
    }

    #[test]
    fn built_in_platform_one_and_map() {
        assert_eq!(label(Descriptors::BuiltIn.answer("telegram")), "Telegram");
        assert_eq!(label(Descriptors::BuiltIn.answer("matrix")), "matrix");
        assert_eq!(label(Descriptors::Platform("slack".into()).answer("discord")), "Slack");
        let one = Descriptors::One(Box::new(Descriptor::new("x", "Mine")));
        assert_eq!(label(one.answer("discord")), "Mine");
        let map = Descriptors::ByPlatform(BTreeMap::from([(
            "Discord".to_owned(),
            Descriptor::new("discord", "D"),
        )]));
        assert_eq!(label(map.answer("Discord")), "D");
        assert_eq!(label(map.answer(" discord ")), "D", "matched as platform names are read");
        assert_eq!(label(map.answer("slack")), r#"refused: no descriptor for platform "slack""#);
    }
}
