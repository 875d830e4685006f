//! The `forward` of a `passthrough_forward` frame: a webhook the connector
//! already acknowledged and stripped of credentials (PROTOCOL §7).

use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use serde::ser::SerializeMap;
use serde_json::Value;

use super::json::{Extra, FieldError, Reader, Writer, json_object_serde};

/// Standard base64 that accepts input with or without padding.
const LENIENT_STANDARD: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A forwarded platform request: exact body bytes and headers in arrival order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Forward {
    /// Platform it arrived for (`""` when absent).
    pub platform: String,
    /// Bot it arrived for (`""` when absent).
    pub bot_id: String,
    /// HTTP method (`""` when absent).
    pub method: String,
    /// Request path (`""` when absent).
    pub path: String,
    /// Header name/value pairs in arrival order; malformed entries are dropped on read.
    pub headers: Vec<(String, String)>,
    /// The exact body bytes (`bodyB64` decoded; undecodable reads as empty).
    pub body: Vec<u8>,
    /// Agent profile.
    pub profile: Option<String>,
    /// Unknown keys.
    pub extra: Extra,
}

impl Forward {
    const KNOWN: &'static [&'static str] =
        &["platform", "botId", "method", "path", "headers", "bodyB64", "profile"];

    /// The first header named `name`, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub(crate) fn from_reader(mut r: Reader<'_>) -> Result<Self, FieldError> {
        let headers = match r.take("headers") {
            Some(Value::Array(entries)) => entries.into_iter().filter_map(header_pair).collect(),
            _ => Vec::new(),
        };
        let body = match r.take("bodyB64") {
            Some(Value::String(b64)) => LENIENT_STANDARD.decode(b64.trim()).unwrap_or_default(),
            _ => Vec::new(),
        };
        Ok(Self {
            platform: r.string("platform")?.unwrap_or_default(),
            bot_id: r.string("botId")?.unwrap_or_default(),
            method: r.string("method")?.unwrap_or_default(),
            path: r.string("path")?.unwrap_or_default(),
            headers,
            body,
            profile: r.string("profile")?,
            extra: r.finish(),
        })
    }

    pub(crate) fn write<M: SerializeMap>(&self, w: &mut Writer<M>) -> Result<(), M::Error> {
        w.field("platform", &self.platform)?
            .field("botId", &self.bot_id)?
            .field("method", &self.method)?
            .field("path", &self.path)?
            .field("headers", &self.headers)?
            .field("bodyB64", &STANDARD.encode(&self.body))?
            .opt("profile", &self.profile)?
            .extra(&self.extra, Self::KNOWN)?;
        Ok(())
    }
}

json_object_serde!(Forward);

/// A `[name, value]` pair of strings, or nothing.
fn header_pair(entry: Value) -> Option<(String, String)> {
    let Value::Array(pair) = entry else { return None };
    match <[Value; 2]>::try_from(pair) {
        Ok([Value::String(name), Value::String(value)]) => Some((name, value)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decode(v: Value) -> Forward {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn body_decodes_to_exact_bytes_with_or_without_padding() {
        let bytes: Vec<u8> = (0..=255).collect();
        let padded = STANDARD.encode(&bytes);
        assert!(padded.ends_with('='));
        assert_eq!(decode(json!({"bodyB64": padded})).body, bytes);
        assert_eq!(decode(json!({"bodyB64": padded.trim_end_matches('=')})).body, bytes);
    }

    #[test]
    fn undecodable_body_reads_as_empty() {
        for junk in [json!("!!not base64!!"), json!(5), json!("ab=c")] {
            assert!(decode(json!({"bodyB64": junk})).body.is_empty());
        }
    }

    #[test]
    fn headers_keep_order_and_drop_malformed_entries() {
        let f = decode(
            json!({"headers": [["B", "1"], ["a", "2"], ["x"], ["y", 3], "z", ["C", "3", "extra"], ["b", "4"]]}),
        );
        let names: Vec<&str> = f.headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["B", "a", "b"]);
        assert_eq!(f.header("b"), Some("1"));
    }

    #[test]
    fn missing_strings_read_as_empty_and_round_trip() {
        let f = decode(json!({"profile": "p", "trace": "t"}));
        assert_eq!(
            (f.platform.as_str(), f.bot_id.as_str(), f.method.as_str(), f.path.as_str()),
            ("", "", "", "")
        );
        assert_eq!(decode(serde_json::to_value(&f).unwrap()), f);
    }
}
