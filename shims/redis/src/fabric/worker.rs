//! The fabric's worker thread: it runs claims, releases, announcements,
//! session records and reads in call order, and refreshes the claims
//! under their lease. Commands queued together go to Redis as one
//! pipeline: one round trip for a burst of pushes, not one per push.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use futures::channel::oneshot;
use redis::{Cmd, Script, Value};
use relay_core::connector::BacklogKey;
use relay_driver::Holder;

use super::Shared;
use super::claims::{claim, parse, refresh_script, release_script};
use super::health::Health;
use super::news::interrupt_message;
use crate::keys::{APPENDED_CHANNEL, INTERRUPT_CHANNEL, decode, encode, holder_key, session_key};
use crate::link::Link;

/// Claims refreshed by one script call: one round trip for many, without
/// keeping Redis busy for long.
const REFRESH_CHUNK: usize = 500;
/// Commands sent in one pipeline at most.
const PIPELINE: usize = 512;

/// How long a session's owner is remembered in Redis after it was last
/// noted: a day, like a conversation that pauses overnight.
const SESSION_TTL_SECS: u64 = 24 * 3600;

/// What a [`RedisFabric`](crate::RedisFabric) call asks of Redis.
pub(super) enum Command {
    /// A script of its own.
    Release { key: BacklogKey },
    /// A script of its own: the claim rewritten while it is ours or lapsed.
    Update { key: BacklogKey, live: bool },
    /// A command that joins a pipeline.
    Piped(Piped),
}

/// The commands that go to Redis in pipelines.
pub(super) enum Piped {
    Hold { key: BacklogKey, live: bool },
    Announce { key: BacklogKey },
    Holder { key: BacklogKey, done: oneshot::Sender<Result<Option<Holder>, String>> },
    NoteSession { session: String, key: BacklogKey },
    SessionOwner { session: String, done: oneshot::Sender<Result<Option<BacklogKey>, String>> },
    Interrupt { key: BacklogKey, session: String, chat_id: String },
}

pub(super) struct Worker {
    link: Link,
    instance: String,
    lease: Duration,
    shared: Arc<Shared>,
    commands: Receiver<Command>,
    release: Script,
    refresh: Script,
    health: Health,
}

impl Worker {
    pub(super) fn new(
        link: Link,
        instance: String,
        lease: Duration,
        shared: Arc<Shared>,
        commands: Receiver<Command>,
    ) -> Self {
        let (release, refresh, health) = (release_script(), refresh_script(), Health::new());
        Self { link, instance, lease, shared, commands, release, refresh, health }
    }

    /// Runs until the fabric is dropped and its queue is done, so releases
    /// made just before still happen.
    pub(super) fn run(mut self) {
        // Three refreshes per lease: a claim outlives one missed refresh
        // and a slow one, and lapses within a lease of its instance dying.
        let every = (self.lease / 3).max(Duration::from_millis(1));
        let mut next_refresh = Instant::now() + every;
        loop {
            match self.commands.recv_timeout(next_refresh.saturating_duration_since(Instant::now())) {
                Ok(first) => {
                    let mut batch = vec![first];
                    batch.extend(self.commands.try_iter().take(PIPELINE - 1));
                    self.perform(batch);
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
            // Checked after every batch too, so a busy queue cannot starve the refresh.
            if Instant::now() >= next_refresh {
                self.refresh_claims();
                next_refresh = Instant::now() + every;
            }
        }
    }

    /// Runs `batch` in order: releases (a script each) on their own, the
    /// commands between them as one pipeline.
    fn perform(&mut self, batch: Vec<Command>) {
        let mut run = Vec::new();
        for command in batch {
            match command {
                Command::Release { key } => {
                    self.pipeline(std::mem::take(&mut run));
                    self.release(&key);
                }
                Command::Update { key, live } => {
                    self.pipeline(std::mem::take(&mut run));
                    self.refresh(&[(key, live)]);
                }
                Command::Piped(piped) => run.push(piped),
            }
        }
        self.pipeline(run);
    }

    fn release(&mut self, key: &BacklogKey) {
        let mut release = self.release.key(holder_key(key));
        release.arg(&self.instance);
        let done = self.link.run_idempotent(|conn| release.invoke::<()>(conn));
        self.report(done, || format!("cannot release the claim on {key}"));
    }

    /// Sends `commands` as one pipeline and hands each its reply. Every
    /// command may run twice (on a fresh connection after Redis restarted):
    /// writing a claim or a session again, or announcing twice, changes
    /// nothing but a spurious store read.
    fn pipeline(&mut self, commands: Vec<Piped>) {
        if commands.is_empty() {
            return;
        }
        let mut pipe = redis::pipe();
        for command in &commands {
            if let Piped::Announce { key } = command {
                // Appends from now on are not covered by this one.
                self.shared.announced(key);
            }
            pipe.add_command(self.request(command));
        }
        let replies = self.link.run_idempotent(|conn| pipe.query::<Vec<Value>>(conn));
        let address = self.link.dialer().address().to_owned();
        let replies = match replies {
            Ok(replies) if replies.len() == commands.len() => {
                self.health.succeeded(&address);
                replies
            }
            Ok(replies) => {
                let reason = format!("{} replies to {} commands", replies.len(), commands.len());
                return self.fail_all(commands, &reason);
            }
            Err(reason) => return self.fail_all(commands, &reason),
        };
        for (command, reply) in commands.into_iter().zip(replies) {
            match command {
                Piped::Holder { key, done } => {
                    let _ = done.send(read_holder(&key, reply, &address));
                }
                Piped::SessionOwner { session, done } => {
                    let _ = done.send(read_owner(&session, reply, &address));
                }
                _ => {}
            }
        }
    }

    /// The Redis command for `command`.
    fn request(&self, command: &Piped) -> Cmd {
        match command {
            Piped::Hold { key, live } => {
                let mut set = redis::cmd("SET");
                set.arg(holder_key(key))
                    .arg(claim(&self.instance, *live))
                    .arg("PX")
                    .arg(lease_ms(self.lease));
                set
            }
            Piped::Announce { key } => {
                let mut publish = redis::cmd("PUBLISH");
                publish.arg(APPENDED_CHANNEL).arg(encode(key));
                publish
            }
            Piped::Holder { key, .. } => {
                let mut get = redis::cmd("GET");
                get.arg(holder_key(key));
                get
            }
            Piped::NoteSession { session, key } => {
                let mut set = redis::cmd("SET");
                set.arg(session_key(session)).arg(encode(key)).arg("EX").arg(SESSION_TTL_SECS);
                set
            }
            Piped::SessionOwner { session, .. } => {
                let mut get = redis::cmd("GET");
                get.arg(session_key(session));
                get
            }
            Piped::Interrupt { key, session, chat_id } => {
                let mut publish = redis::cmd("PUBLISH");
                publish.arg(INTERRUPT_CHANNEL).arg(interrupt_message(key, session, chat_id));
                publish
            }
        }
    }

    /// A pipeline failed: readers get the reason, the rest is logged.
    fn fail_all(&mut self, commands: Vec<Piped>, reason: &str) {
        let address = self.link.dialer().address().to_owned();
        let count = commands.len();
        for command in commands {
            match command {
                Piped::Holder { key, done } => {
                    let _ = done
                        .send(Err(format!("cannot read who holds {key} from Redis at {address}: {reason}")));
                }
                Piped::SessionOwner { session, done } => {
                    let _ = done.send(Err(format!(
                        "cannot read which gateway owns session {session:?} from Redis at {address}: {reason}"
                    )));
                }
                _ => {}
            }
        }
        self.health.failed(&format!("{count} fabric commands failed in Redis at {address}: {reason}"));
    }

    /// Writes every held claim again for a full lease.
    fn refresh_claims(&mut self) {
        let held = self.shared.held();
        for chunk in held.chunks(REFRESH_CHUNK) {
            self.refresh(chunk);
        }
    }

    /// Writes these claims for a full lease where they are this instance's
    /// or have lapsed (the refresh script leaves another instance's alone).
    fn refresh(&mut self, claims: &[(BacklogKey, bool)]) {
        let mut refresh = self.refresh.prepare_invoke();
        refresh.arg(&self.instance).arg(lease_ms(self.lease));
        for (key, live) in claims {
            refresh.key(holder_key(key)).arg(claim(&self.instance, *live));
        }
        let done = self.link.run_idempotent(|conn| refresh.invoke::<()>(conn));
        let keys = claims.len();
        self.report(done, || format!("cannot refresh {keys} claims"));
    }

    /// Logs a failure (a claim lapses or is written again at the next
    /// refresh, a missed announcement is covered by the listener's sweep).
    fn report(&mut self, done: Result<(), String>, what: impl FnOnce() -> String) {
        let address = self.link.dialer().address();
        match done {
            Ok(()) => self.health.succeeded(address),
            Err(reason) => self.health.failed(&format!("{} in Redis at {address}: {reason}", what())),
        }
    }
}

/// The holder a claim's `GET` reply names.
fn read_holder(key: &BacklogKey, reply: Value, address: &str) -> Result<Option<Holder>, String> {
    let Some(value) = text(reply) else { return Ok(None) };
    parse(&value).map(Some).ok_or_else(|| {
        format!(
            "the claim on {key} in Redis at {address} reads {value:?}, which is not \
             `<instance>|live` or `<instance>|idle`"
        )
    })
}

/// The gateway a session record's `GET` reply names.
fn read_owner(session: &str, reply: Value, address: &str) -> Result<Option<BacklogKey>, String> {
    let Some(value) = text(reply) else { return Ok(None) };
    decode(value.as_bytes()).map(Some).ok_or_else(|| {
        format!(
            "the owner of session {session:?} in Redis at {address} reads {value:?}, which names no gateway"
        )
    })
}

/// The text of a string reply; `None` for nil (or anything else).
fn text(reply: Value) -> Option<String> {
    redis::from_redis_value::<Option<String>>(reply).ok().flatten()
}

/// The lease in whole milliseconds, as `PX` takes it (at least 1).
fn lease_ms(lease: Duration) -> u64 {
    u64::try_from(lease.as_millis()).unwrap_or(u64::MAX).max(1)
}
