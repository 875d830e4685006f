//! One task per gateway connection: answers its hellos in order and its
//! requests, and starts the script once the handshake is done and the
//! gateway's backlog replayed, so that it goes out live (once per gateway: a
//! gateway that reconnects does not get it again). The event loop hands it
//! jobs and never waits on a connection itself.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};

use relay_core::gateway::Identity;
use relay_core::wire::ActionResult;
use relay_driver::{ConnId, ServerError, ServerHandle};
use tokio::sync::mpsc;

use super::descriptors::{Answer, Descriptors};
use super::output::head;
use super::script::{self, Step};
use crate::lines::LineSink;

/// What a connection's task does next.
#[derive(Debug)]
pub(crate) enum Job {
    /// Answer the oldest unanswered hello, which announced this identity.
    Hello(Identity),
    /// Answer a request.
    Respond { request_id: String, result: ActionResult },
    /// The gateway's backlog is replayed: pushes go out live now.
    Live,
}

/// What every connection task shares.
#[derive(Debug)]
pub(crate) struct Setup {
    pub(crate) handle: ServerHandle,
    pub(crate) descriptors: Descriptors,
    pub(crate) script: Vec<Step>,
    pub(crate) out: LineSink,
    /// The gateways the script was played for (see [`gateway_key`]).
    pub(crate) played: Mutex<BTreeSet<String>>,
}

/// Who a gateway is, across its connections: its verified gateway id when
/// auth is on, else the identity of its first hello (as the backlog keys it).
fn gateway_key(gateway_id: Option<&str>, first_hello: &Identity) -> String {
    match gateway_id {
        Some(id) => format!("gateway {id}"),
        None => format!("identity {first_hello}"),
    }
}

/// Starts the task of connection `conn` (of `gateway_id` when auth is on);
/// it ends when the sender is dropped.
pub(crate) fn spawn(
    setup: Arc<Setup>,
    conn: ConnId,
    gateway_id: Option<String>,
) -> mpsc::UnboundedSender<Job> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(run(setup, conn, gateway_id, rx));
    tx
}

async fn run(
    setup: Arc<Setup>,
    conn: ConnId,
    gateway_id: Option<String>,
    mut jobs: mpsc::UnboundedReceiver<Job>,
) {
    let mut first_identity = None;
    let mut script = None;
    while let Some(job) = jobs.recv().await {
        let (outcome, request_id) = match job {
            Job::Hello(identity) => match setup.descriptors.answer(&identity.platform) {
                Answer::Descriptor(descriptor) => {
                    let outcome = setup.handle.answer_hello(conn, *descriptor).await;
                    if outcome.is_ok() && first_identity.is_none() {
                        // The first descriptor completed the handshake.
                        first_identity = Some(identity);
                    }
                    (outcome, None)
                }
                Answer::Refuse(reason) => (setup.handle.refuse_hello(conn, &reason).await, None),
            },
            Job::Respond { request_id, result } => {
                (setup.handle.respond(conn, &request_id, result).await, Some(request_id))
            }
            Job::Live => {
                let Some(identity) = &first_identity else { continue };
                let key = gateway_key(gateway_id.as_deref(), identity);
                let first_time = setup.played.lock().unwrap_or_else(PoisonError::into_inner).insert(key);
                if first_time && !setup.script.is_empty() && script.is_none() {
                    let steps = setup.script.clone();
                    let play = script::play(setup.handle.clone(), conn, steps, setup.out.clone());
                    script = Some(tokio::spawn(play));
                }
                continue;
            }
        };
        match outcome {
            Ok(()) | Err(ServerError::NoConnection(_)) => {}
            Err(error) => {
                let line = head("answer_failed", conn)
                    .opt("requestId", request_id.as_ref())
                    .field("error", &error.to_string());
                if setup.out.json(line).await.is_err() {
                    break;
                }
            }
        }
    }
    if let Some(script) = script {
        script.abort();
    }
}
