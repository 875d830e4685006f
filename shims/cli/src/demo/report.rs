//! How `relay demo` shows its stages: a coloured transcript on a terminal,
//! plain text when piped, or JSON lines with `--json`.

use std::io::{self, IsTerminal as _, Write as _};

use serde_json::{Value, json};

/// Where stages go.
pub(crate) struct Reporter {
    json: bool,
    color: bool,
}

impl Reporter {
    pub(crate) fn new(json: bool) -> Self {
        Self { json, color: !json && io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none() }
    }

    /// Prints one stage: a `stage` name, a one-line headline and details.
    pub(crate) fn stage(&self, stage: &str, headline: &str, details: Value) {
        let mut out = io::stdout().lock();
        if self.json {
            // `stage` and `message` lead each line, the details follow.
            let mut line = format!("{{\"stage\":{},\"message\":{}", json!(stage), json!(headline));
            if let Value::Object(fields) = details {
                for (key, value) in fields {
                    line.push_str(&format!(",{}:{}", json!(key), value));
                }
            }
            line.push('}');
            let _ = writeln!(out, "{line}");
            return;
        }
        let (bold, dim, reset) = if self.color { ("\x1b[1;36m", "\x1b[2m", "\x1b[0m") } else { ("", "", "") };
        let _ = writeln!(out, "{bold}▶ {stage:<12}{reset} {headline}");
        if let Value::Object(fields) = details {
            for (key, value) in fields {
                let text = match value {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                let _ = writeln!(out, "  {dim}{key:>14}{reset}  {text}");
            }
        }
    }
}
