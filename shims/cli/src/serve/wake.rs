//! `--wake-url URL`: the wake hook as an HTTP GET. When frames start
//! waiting for a gateway that is idle or offline (at most once a minute
//! per gateway), `serve` requests the URL with `{gateway}` replaced by the
//! percent-encoded backlog key, and prints a `wake` line with the outcome.
//! A failure is reported, never fatal.

use std::io::Write as _;
use std::time::Duration;

use relay_core::connector::BacklogKey;
use relay_driver::Wake;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::lines::{JsonObject, LineSink};
use crate::stdio::Failure;

/// How long one wake request may take.
const TIMEOUT: Duration = Duration::from_secs(5);
/// Wakes waiting for their request at most; more are dropped with a log
/// line (the cooldown makes that rare).
const QUEUE: usize = 256;

/// A checked `--wake-url`, and the hook that queues its requests.
#[derive(Debug)]
pub(crate) struct WakeUrl {
    template: String,
    queue: mpsc::Receiver<BacklogKey>,
}

impl WakeUrl {
    /// Checks `template` and builds the hook for the server's configuration.
    pub(crate) fn new(template: &str) -> Result<(Self, Wake), Failure> {
        if !(template.starts_with("http://") || template.starts_with("https://")) {
            return Err(Failure::Usage(format!(
                "--wake-url {template:?} is not an http:// or https:// URL; pass one, e.g. http://host/wake/{{gateway}}"
            )));
        }
        let (tx, queue) = mpsc::channel(QUEUE);
        let wake = Wake::new(move |key| {
            if tx.try_send(key.clone()).is_err() {
                // Nothing sensible is left to do if stderr is gone too.
                let _ = writeln!(
                    std::io::stderr(),
                    "warning: dropping a wake of {key}: {QUEUE} wakes are waiting for their request."
                );
            }
        });
        Ok((Self { template: template.to_owned(), queue }, wake))
    }

    /// Requests the URL for every wake, each on a blocking thread, and
    /// prints its `wake` line; runs until the server is gone.
    pub(crate) async fn run(mut self, out: LineSink) {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(TIMEOUT))
            .http_status_as_error(false)
            .build()
            .new_agent();
        while let Some(key) = self.queue.recv().await {
            let url = self.template.replace("{gateway}", &percent_encode(&spelling(&key)));
            let (agent, out) = (agent.clone(), out.clone());
            tokio::spawn(async move {
                let outcome =
                    tokio::task::spawn_blocking(move || agent.get(&url).call().map(|r| r.status().as_u16()))
                        .await
                        .unwrap_or_else(|e| Err(ureq::Error::Io(std::io::Error::other(e.to_string()))));
                let line = JsonObject::new().field("event", "wake").field("to", &target(&key));
                let line = match outcome {
                    Ok(status) => {
                        metrics::counter!("relay_wakes_total", "outcome" => "sent").increment(1);
                        line.field("status", &status)
                    }
                    Err(e) => {
                        metrics::counter!("relay_wakes_total", "outcome" => "failed").increment(1);
                        line.field("status", &Value::Null).field("error", &e.to_string())
                    }
                };
                // Stdout gone: serve is stopping anyway.
                let _ = out.json(line).await;
            });
        }
    }
}

/// The key as `{gateway}` spells it: the gateway id, or `platform:botId`.
fn spelling(key: &BacklogKey) -> String {
    match key {
        BacklogKey::Gateway(id) => id.clone(),
        BacklogKey::Identity(identity) => format!("{}:{}", identity.platform, identity.bot_id),
    }
}

/// The target object of push lines: `{"gateway_id"}` or `{"platform","botId"}`.
fn target(key: &BacklogKey) -> Value {
    match key {
        BacklogKey::Gateway(id) => json!({"gateway_id": id}),
        BacklogKey::Identity(identity) => json!({"platform": identity.platform, "botId": identity.bot_id}),
    }
}

/// Every byte but the unreserved ones (RFC 3986) as `%XX`.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_percent_encoded_into_the_url() {
        assert_eq!(percent_encode("gw-1"), "gw-1");
        assert_eq!(percent_encode("a b/c?é"), "a%20b%2Fc%3F%C3%A9");
        let identity = BacklogKey::Identity(relay_core::gateway::Identity::new("telegram", "b 1"));
        assert_eq!(percent_encode(&spelling(&identity)), "telegram%3Ab%201");
    }

    #[test]
    fn only_http_urls_are_taken() {
        assert!(WakeUrl::new("ftp://host/x").is_err());
        assert!(WakeUrl::new("http://127.0.0.1:9/wake/{gateway}").is_ok());
    }
}
