//! Pure judgements over raw JSON: a descriptor's shape (PROTOCOL §3), the
//! ops it accepts, and the shape of results compared across runs (§5).
//! Raw, because the decoded structs fill defaults and would hide a missing
//! field.

use relay_core::wire::{LEGACY_OPS, Object};
use serde_json::Value;

/// The JSON type a descriptor field must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A JSON number without a fraction.
    Int,
    /// A JSON string.
    Str,
    /// `true` or `false`.
    Bool,
}

impl Kind {
    /// How a detail names the type.
    fn name(self) -> &'static str {
        match self {
            Self::Int => "an integer",
            Self::Str => "a string",
            Self::Bool => "a boolean",
        }
    }

    /// Whether `value` has this type.
    fn holds(self, value: &Value) -> bool {
        match self {
            Self::Int => value.is_i64() || value.is_u64(),
            Self::Str => value.is_string(),
            Self::Bool => value.is_boolean(),
        }
    }
}

/// The required descriptor fields and their types (PROTOCOL §3).
const REQUIRED: [(&str, Kind); 9] = [
    ("contract_version", Kind::Int),
    ("platform", Kind::Str),
    ("label", Kind::Str),
    ("max_message_length", Kind::Int),
    ("supports_draft_streaming", Kind::Bool),
    ("supports_edit", Kind::Bool),
    ("supports_threads", Kind::Bool),
    ("markdown_dialect", Kind::Str),
    ("len_unit", Kind::Str),
];

/// The optional scalar fields, typed when present.
const OPTIONAL: [(&str, Kind); 6] = [
    ("emoji", Kind::Str),
    ("platform_hint", Kind::Str),
    ("pii_safe", Kind::Bool),
    ("supports_context", Kind::Bool),
    ("supports_inchannel_continuable", Kind::Bool),
    ("supports_block_formatting", Kind::Bool),
];

/// Every way the `descriptor` object of a descriptor frame departs from §3,
/// as sentences naming the field; empty when it conforms.
pub(super) fn descriptor_problems(frame: &Object) -> Vec<String> {
    let Some(descriptor) = frame.get("descriptor") else {
        return vec!["the frame has no `descriptor` object".to_owned()];
    };
    let Some(descriptor) = descriptor.as_object() else {
        return vec!["`descriptor` is not an object".to_owned()];
    };
    let mut problems = Vec::new();
    for (field, kind) in REQUIRED {
        match descriptor.get(field) {
            None | Some(Value::Null) => problems.push(format!("lacks `{field}`")),
            Some(value) if !kind.holds(value) => problems.push(format!("`{field}` is not {}", kind.name())),
            Some(_) => {}
        }
    }
    match descriptor.get("contract_version").and_then(Value::as_i64) {
        Some(version) if version < 1 => problems.push(format!("`contract_version` is {version}, below 1")),
        _ => {}
    }
    for (field, kind) in OPTIONAL {
        match descriptor.get(field) {
            Some(value) if !value.is_null() && !kind.holds(value) => {
                problems.push(format!("`{field}` is not {}", kind.name()));
            }
            _ => {}
        }
    }
    match descriptor.get("supported_ops") {
        None | Some(Value::Null) => {}
        Some(Value::Array(ops)) => {
            if ops.iter().any(|op| op.as_str().is_none_or(str::is_empty)) {
                problems.push("`supported_ops` holds something other than non-empty strings".to_owned());
            }
        }
        Some(_) => problems.push("`supported_ops` is not a list".to_owned()),
    }
    problems
}

/// The ops a descriptor frame lists, as a gateway reads them (non-strings and
/// empty strings dropped); `None` when the list is absent or empty, i.e. the
/// legacy set applies.
pub(super) fn listed_ops(frame: &Object) -> Option<Vec<String>> {
    let ops = frame.get("descriptor")?.get("supported_ops")?.as_array()?;
    let ops: Vec<String> =
        ops.iter().filter_map(Value::as_str).filter(|op| !op.is_empty()).map(str::to_owned).collect();
    if ops.is_empty() { None } else { Some(ops) }
}

/// The ops the connector accepts by its descriptor: the listed ones, else
/// the legacy set.
pub(super) fn accepted_ops(frame: &Object) -> Vec<String> {
    listed_ops(frame).unwrap_or_else(|| LEGACY_OPS.iter().map(|op| (*op).to_owned()).collect())
}

/// What of a result is compared across runs: message ids differ, the
/// outcome must not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Answer {
    /// No result came.
    Missing,
    /// A result: its `success` (when a bool) and `code`.
    Result {
        /// `success`, when it is a bool.
        success: Option<bool>,
        /// `code`, when it is a string.
        code: Option<String>,
    },
}

impl Answer {
    /// The comparable part of an `outbound_result` frame's `result`.
    pub(super) fn of(frame: &Object) -> Self {
        let result = frame.get("result");
        Self::Result {
            success: result.and_then(|r| r.get("success")).and_then(Value::as_bool),
            code: result.and_then(|r| r.get("code")).and_then(Value::as_str).map(str::to_owned),
        }
    }
}

impl std::fmt::Display for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Missing => f.write_str("no answer"),
            Self::Result { success, code } => {
                match success {
                    Some(success) => write!(f, "success:{success}")?,
                    None => f.write_str("no bool success")?,
                }
                match code {
                    Some(code) => write!(f, ", code {code:?}"),
                    None => Ok(()),
                }
            }
        }
    }
}

/// The first request whose answer in `other` differs from `reference`, as a
/// sentence naming it (1-based) and both answers; `None` when they agree.
pub(super) fn first_difference(reference: &[Answer], other: &[Answer]) -> Option<String> {
    let count = reference.len().max(other.len());
    (0..count).find_map(|i| {
        let expected = reference.get(i).unwrap_or(&Answer::Missing);
        let got = other.get(i).unwrap_or(&Answer::Missing);
        (expected != got).then(|| format!("request {} got {got} instead of {expected}", i + 1))
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn frame(descriptor: Value) -> Object {
        let Value::Object(frame) = json!({"type": "descriptor", "descriptor": descriptor}) else {
            unreachable!()
        };
        frame
    }

    fn complete() -> Value {
        json!({"contract_version": 1, "platform": "relay", "label": "Relay", "max_message_length": 4096,
               "supports_draft_streaming": false, "supports_edit": true, "supports_threads": false,
               "markdown_dialect": "plain", "len_unit": "chars"})
    }

    #[test]
    fn a_complete_descriptor_has_no_problems() {
        assert_eq!(descriptor_problems(&frame(complete())), Vec::<String>::new());
        let mut extended = complete();
        extended["supported_ops"] = json!(["send", "react"]);
        extended["emoji"] = json!("🔌");
        extended["x_future"] = json!({"a": 1});
        assert_eq!(descriptor_problems(&frame(extended)), Vec::<String>::new());
    }

    #[test]
    fn missing_and_mistyped_fields_are_named() {
        let mut d = complete();
        d.as_object_mut().map(|o| o.remove("label"));
        d["supports_edit"] = json!("yes");
        d["contract_version"] = json!(0);
        d["pii_safe"] = json!(1);
        d["supported_ops"] = json!(["send", ""]);
        assert_eq!(
            descriptor_problems(&frame(d)),
            [
                "lacks `label`",
                "`supports_edit` is not a boolean",
                "`contract_version` is 0, below 1",
                "`pii_safe` is not a boolean",
                "`supported_ops` holds something other than non-empty strings",
            ]
        );
        let mut d = complete();
        d["max_message_length"] = json!(4096.5);
        d["supported_ops"] = json!("send");
        assert_eq!(
            descriptor_problems(&frame(d)),
            ["`max_message_length` is not an integer", "`supported_ops` is not a list"]
        );
        assert_eq!(descriptor_problems(&frame(json!([1]))), ["`descriptor` is not an object"]);
    }

    #[test]
    fn ops_are_read_as_a_gateway_reads_them() {
        let mut d = complete();
        assert_eq!(listed_ops(&frame(d.clone())), None);
        assert_eq!(accepted_ops(&frame(d.clone())), ["send", "edit", "typing", "follow_up"]);
        d["supported_ops"] = json!([]);
        assert_eq!(listed_ops(&frame(d.clone())), None);
        d["supported_ops"] = json!(["react", 5, "", "send_media"]);
        assert_eq!(listed_ops(&frame(d)), Some(vec!["react".to_owned(), "send_media".to_owned()]));
    }

    #[test]
    fn answers_compare_by_outcome_not_by_message_id() {
        let Value::Object(a) = json!({"result": {"success": true, "message_id": "m1"}}) else {
            unreachable!()
        };
        let Value::Object(b) = json!({"result": {"success": true, "message_id": "m2"}}) else {
            unreachable!()
        };
        let Value::Object(c) = json!({"result": {"success": false, "code": "x"}}) else { unreachable!() };
        assert_eq!(first_difference(&[Answer::of(&a)], &[Answer::of(&b)]), None);
        assert_eq!(
            first_difference(&[Answer::of(&a), Answer::of(&c)], &[Answer::of(&b)]),
            Some("request 2 got no answer instead of success:false, code \"x\"".to_owned())
        );
        assert_eq!(
            first_difference(&[Answer::of(&c)], &[Answer::of(&a)]),
            Some("request 1 got success:true instead of success:false, code \"x\"".to_owned())
        );
    }
}
