//! A gateway built with the library (`relay_tokio`), for precise control of
//! acks: it records every frame it gets, in order, and acks the first
//! `ack_budget` buffered ones as soon as they arrive.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use relay_tokio::{Client, ClientEvent, ConnectionEvent, IdleOutcome};

use super::{BOT_ID, PLATFORM, WAIT};

/// One frame the gateway got.
#[derive(Debug, Clone)]
pub(crate) struct Got {
    /// `message_id` of the event (`text` when it has none).
    pub(crate) message_id: String,
    pub(crate) text: String,
    pub(crate) buffer_id: Option<String>,
    /// The gateway acked it (the note is made before the ack is sent).
    pub(crate) acked: bool,
}

/// What the gateway reports to the test.
#[derive(Debug, Clone)]
pub(crate) enum Note {
    Got(Got),
    /// Something other than an inbound frame arrived (a passthrough, an
    /// interrupt): never pushed by these tests.
    Unexpected(String),
    /// The connection ended.
    Lost,
}

/// A connected gateway (identity `telegram:b1`, no reconnect).
#[derive(Debug)]
pub(crate) struct Gateway {
    client: Client,
    notes: mpsc::Receiver<Note>,
    task: tokio::task::JoinHandle<()>,
}

impl Gateway {
    /// Connects to `url` (handshake included) and starts acking.
    pub(crate) fn connect(rt: &tokio::runtime::Runtime, url: &str, ack_budget: usize) -> Self {
        let (client, mut events) = crate::common::connect_gateway(rt, url, (PLATFORM, BOT_ID), false, WAIT);
        let (tx, notes) = mpsc::channel();
        let budget = Arc::new(AtomicUsize::new(ack_budget));
        let acker = client.clone();
        let task = rt.spawn(async move {
            while let Some(event) = events.next().await {
                let note = match event {
                    ClientEvent::Inbound { event, buffer_id } => {
                        let acked = buffer_id.is_some()
                            && budget
                                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |b| b.checked_sub(1))
                                .is_ok();
                        let got = Got {
                            message_id: event.message_id.clone().unwrap_or_else(|| event.text.clone()),
                            text: event.text.clone(),
                            buffer_id: buffer_id.clone(),
                            acked,
                        };
                        let _ = tx.send(Note::Got(got));
                        if let (true, Some(id)) = (acked, buffer_id) {
                            // Fails once serve is gone; the note counts as an ack sent.
                            let _ = acker.ack(&id).await;
                        }
                        continue;
                    }
                    ClientEvent::Passthrough { .. } => Note::Unexpected("a passthrough".into()),
                    ClientEvent::Interrupt { .. } => Note::Unexpected("an interrupt".into()),
                    ClientEvent::Connection(
                        ConnectionEvent::Lost { .. } | ConnectionEvent::Stopped { .. },
                    ) => {
                        // Reconnecting is off: nothing arrives after this.
                        let _ = tx.send(Note::Lost);
                        break;
                    }
                    _ => continue,
                };
                let _ = tx.send(note);
            }
        });
        Self { client, notes, task }
    }

    /// Every note available now.
    pub(crate) fn drain(&self) -> Vec<Note> {
        self.notes.try_iter().collect()
    }

    /// Sends `going_idle` and waits for the acknowledgement.
    pub(crate) fn go_idle(&self, rt: &tokio::runtime::Runtime) {
        let outcome = rt.block_on(async {
            tokio::time::timeout(WAIT, self.client.go_idle()).await.expect("go_idle answers in time")
        });
        assert_eq!(outcome, IdleOutcome::Acknowledged, "the connector acknowledged going idle");
    }

    /// Closes the client (serve may be dead already) and returns every note
    /// not yet taken, the frames received before the end included.
    pub(crate) fn finish(self, rt: &tokio::runtime::Runtime) -> Vec<Note> {
        let Self { client, notes, task } = self;
        rt.block_on(async {
            let _ = tokio::time::timeout(WAIT, client.close()).await;
            drop(client);
            // The task ends with the event stream; it has recorded every
            // frame that arrived before the connection ended.
            let mut task = task;
            if tokio::time::timeout(WAIT, &mut task).await.is_err() {
                task.abort();
            }
        });
        notes.try_iter().collect()
    }
}
