//! Hostile peers over real loopback sockets, on tokio: a raw connector
//! written with async-tungstenite (or raw TCP) against the real gateway
//! client, and raw gateways against the real connector server. Every
//! outcome is the documented one (PROTOCOL §1, §3, §5, §8): skipped with a
//! diagnostic, a typed error, or a clean close followed by a reconnect —
//! never a panic, a hang, unbounded memory, or a lost or duplicated event.
//! Every test is bounded in time.

#[path = "hostile_sockets/big.rs"]
mod big;
#[path = "hostile_sockets/connection.rs"]
mod connection;
#[path = "hostile_sockets/messages.rs"]
mod messages;
#[path = "rawpeer/mod.rs"]
mod rawpeer;
#[path = "hostile_sockets/server.rs"]
mod server;
#[path = "hostile_sockets/upgrade.rs"]
mod upgrade;

use std::future::Future;

/// Runs named scenarios concurrently, each in its own task, and fails once
/// with every scenario that panicked (by name).
pub(crate) async fn all_concurrently<F>(entries: Vec<(&'static str, F)>)
where
    F: Future<Output = ()> + Send + 'static,
{
    let count = entries.len();
    let tasks: Vec<_> = entries.into_iter().map(|(name, f)| (name, tokio::spawn(f))).collect();
    let mut problems = Vec::new();
    for (name, task) in tasks {
        if let Err(error) = task.await {
            let why = match error.try_into_panic() {
                Ok(payload) => payload
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_else(|| "panicked".to_owned()),
                Err(error) => error.to_string(),
            };
            problems.push(format!("{name}: {why}"));
        }
    }
    assert!(problems.is_empty(), "{} of {count} entries failed:\n{}", problems.len(), problems.join("\n"));
}
