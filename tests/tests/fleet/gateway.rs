//! A gateway built with the library (`relay_tokio`) that re-dials after
//! every lost connection, records every inbound frame in arrival order and
//! acks every buffered one at once (its application takes custody on
//! arrival). It dedupes nothing: the checks see every copy.

use std::sync::{Arc, Mutex};

use relay_tokio::{Client, ClientEvent, ConnectionEvent, IdleOutcome};

use super::{BOT_ID, PLATFORM, WAIT};

/// One frame the gateway got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Got {
    pub(crate) message_id: String,
    pub(crate) buffer_id: Option<String>,
}

/// What the gateway saw, shared with the test.
#[derive(Debug, Default)]
pub(crate) struct Seen {
    pub(crate) got: Vec<Got>,
    /// Session keys of the interrupts it got.
    pub(crate) interrupts: Vec<String>,
    /// Connections that completed a handshake after the first.
    pub(crate) reconnects: usize,
    /// Anything these tests never send (a passthrough), or a terminal stop.
    pub(crate) unexpected: Vec<String>,
}

/// The running gateway.
#[derive(Debug)]
pub(crate) struct Gateway {
    client: Client,
    seen: Arc<Mutex<Seen>>,
    task: tokio::task::JoinHandle<()>,
}

impl Gateway {
    /// Connects to `url` (handshake included) as `telegram:b1`.
    pub(crate) fn connect(rt: &tokio::runtime::Runtime, url: &str) -> Self {
        let (client, mut events) = crate::common::connect_gateway(rt, url, (PLATFORM, BOT_ID), true, WAIT);
        let seen = Arc::new(Mutex::new(Seen::default()));
        let (acker, record) = (client.clone(), Arc::clone(&seen));
        let task = rt.spawn(async move {
            while let Some(event) = events.next().await {
                match event {
                    ClientEvent::Inbound { event, buffer_id } => {
                        let message_id = event.message_id.clone().unwrap_or_else(|| event.text.clone());
                        record.lock().unwrap().got.push(Got { message_id, buffer_id: buffer_id.clone() });
                        if let Some(id) = buffer_id {
                            // Fails when the connection just dropped: the
                            // entry is replayed on the next one.
                            let _ = acker.ack(&id).await;
                        }
                    }
                    ClientEvent::Interrupt { session_key, .. } => {
                        record.lock().unwrap().interrupts.push(session_key)
                    }
                    ClientEvent::Connection(ConnectionEvent::Reconnected) => {
                        record.lock().unwrap().reconnects += 1
                    }
                    ClientEvent::Connection(ConnectionEvent::Revoked | ConnectionEvent::Stopped { .. }) => {
                        record.lock().unwrap().unexpected.push("the gateway stopped".into());
                        break;
                    }
                    ClientEvent::Passthrough { .. } => {
                        record.lock().unwrap().unexpected.push("a passthrough".into())
                    }
                    _ => {}
                }
            }
        });
        Self { client, seen, task }
    }

    /// Runs `look` on what the gateway saw so far.
    pub(crate) fn seen<T>(&self, look: impl FnOnce(&Seen) -> T) -> T {
        look(&self.seen.lock().unwrap())
    }

    /// Sends `going_idle` and waits for the acknowledgement.
    pub(crate) fn go_idle(&self, rt: &tokio::runtime::Runtime) {
        let outcome = rt.block_on(async {
            tokio::time::timeout(WAIT, self.client.go_idle()).await.expect("go_idle answers in time")
        });
        assert_eq!(outcome, IdleOutcome::Acknowledged, "the connector acknowledged going idle");
    }

    /// Closes the client.
    pub(crate) fn close(self, rt: &tokio::runtime::Runtime) {
        let Self { client, task, .. } = self;
        rt.block_on(async {
            let _ = tokio::time::timeout(WAIT, client.close()).await;
            drop(client);
            let mut task = task;
            if tokio::time::timeout(WAIT, &mut task).await.is_err() {
                task.abort();
            }
        });
    }
}
