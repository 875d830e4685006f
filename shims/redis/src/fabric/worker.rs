//! The fabric's worker thread: it runs claims, releases, announcements and
//! holder reads in call order, and refreshes the claims under their lease.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use futures::channel::oneshot;
use redis::Script;
use relay_core::connector::BacklogKey;
use relay_driver::Holder;

use super::Shared;
use super::claims::{claim, parse, refresh_script, release_script};
use super::health::Health;
use crate::keys::{APPENDED_CHANNEL, encode, holder_key};
use crate::link::Link;

/// Claims refreshed by one script call: one round trip for many, without
/// keeping Redis busy for long.
const REFRESH_CHUNK: usize = 500;

/// What a [`RedisFabric`](crate::RedisFabric) call asks of Redis.
pub(super) enum Command {
    Hold { key: BacklogKey, live: bool },
    Release { key: BacklogKey },
    Announce { key: BacklogKey },
    Holder { key: BacklogKey, done: oneshot::Sender<Result<Option<Holder>, String>> },
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
                Ok(command) => self.perform(command),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
            // Checked after every command too, so a busy queue cannot starve the refresh.
            if Instant::now() >= next_refresh {
                self.refresh_claims();
                next_refresh = Instant::now() + every;
            }
        }
    }

    fn perform(&mut self, command: Command) {
        let lease_ms = lease_ms(self.lease);
        // Every command may run twice (on a fresh connection after Redis
        // restarted): writing a claim again, releasing again or announcing
        // twice changes nothing but a spurious store read.
        match command {
            Command::Hold { key, live } => {
                let mut set = redis::cmd("SET");
                set.arg(holder_key(&key)).arg(claim(&self.instance, live)).arg("PX").arg(lease_ms);
                let done = self.link.run_idempotent(|conn| set.query::<()>(conn));
                self.report(done, || format!("cannot claim {key}"));
            }
            Command::Release { key } => {
                let mut release = self.release.key(holder_key(&key));
                release.arg(&self.instance);
                let done = self.link.run_idempotent(|conn| release.invoke::<()>(conn));
                self.report(done, || format!("cannot release the claim on {key}"));
            }
            Command::Announce { key } => {
                let mut publish = redis::cmd("PUBLISH");
                publish.arg(APPENDED_CHANNEL).arg(encode(&key));
                let done = self.link.run_idempotent(|conn| publish.query::<()>(conn));
                self.report(done, || format!("cannot announce an append to {key}"));
            }
            Command::Holder { key, done } => {
                let mut get = redis::cmd("GET");
                get.arg(holder_key(&key));
                let read = self.link.run_idempotent(|conn| get.query::<Option<String>>(conn));
                let answer = match read {
                    Ok(None) => Ok(None),
                    Ok(Some(value)) => parse(&value).map(Some).ok_or_else(|| {
                        format!(
                            "the claim on {key} in Redis at {} reads {value:?}, which is not \
                             `<instance>|live` or `<instance>|idle`",
                            self.link.dialer().address()
                        )
                    }),
                    Err(reason) => Err(format!(
                        "cannot read who holds {key} from Redis at {}: {reason}",
                        self.link.dialer().address()
                    )),
                };
                // The caller may have stopped waiting; the answer is then moot.
                let _ = done.send(answer);
            }
        }
    }

    /// Writes every held claim again for a full lease.
    fn refresh_claims(&mut self) {
        let held = self.shared.held();
        let lease_ms = lease_ms(self.lease);
        for chunk in held.chunks(REFRESH_CHUNK) {
            let mut refresh = self.refresh.prepare_invoke();
            refresh.arg(&self.instance).arg(lease_ms);
            for (key, live) in chunk {
                refresh.key(holder_key(key)).arg(claim(&self.instance, *live));
            }
            let done = self.link.run_idempotent(|conn| refresh.invoke::<()>(conn));
            let keys = chunk.len();
            self.report(done, || format!("cannot refresh {keys} claims"));
        }
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

/// The lease in whole milliseconds, as `PX` takes it (at least 1).
fn lease_ms(lease: Duration) -> u64 {
    u64::try_from(lease.as_millis()).unwrap_or(u64::MAX).max(1)
}
