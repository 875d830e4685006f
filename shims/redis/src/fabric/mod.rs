//! [`RedisFabric`]: connector instances sharing one Redis learn who holds
//! which gateway, and hear of each other's appends.

mod claims;
mod health;
mod news;
mod sessions;
mod subscriber;
mod worker;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::FutureExt as _;
use relay_core::connector::BacklogKey;
use relay_driver::{BoxFuture, Fabric, Holder, NewsListener};

use crate::ConnectError;
use crate::link::{Dialer, Link};
use sessions::NotedSessions;
use worker::{Command, Piped, Worker};

/// Commands waiting for the worker at most. Past that, Redis is too slow
/// or gone: a call is dropped (see [`RedisFabric`]) rather than queued
/// without bound.
const QUEUE: usize = 4096;

/// The timing of a [`RedisFabric`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FabricOptions {
    /// How long a claim stays in force unless refreshed (default 10 s). The
    /// fabric refreshes its claims every third of it, so the claims of an
    /// instance that died lapse within one lease.
    pub lease: Duration,
    /// How often the listener is called for every held gateway anyway
    /// (default 5 s): the safety net for an announcement that got lost.
    pub sweep: Duration,
    /// The bound on connecting, and on each read and write of a command
    /// (default 2 s).
    pub timeout: Duration,
}

impl Default for FabricOptions {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(10),
            sweep: Duration::from_secs(5),
            timeout: Duration::from_secs(2),
        }
    }
}

/// A [`Fabric`] on Redis.
///
/// - **Claims**: `hold` writes `relay:holder:<key>` = `<instance>|live` or
///   `<instance>|idle` with a lease (`SET … PX`), taking the claim from any
///   other instance: the newest connection of a gateway is the one to
///   deliver through. `update` rewrites it only while it is this
///   instance's or has lapsed, and only when the live flag changed. A worker thread refreshes this instance's claims every
///   third of the lease, never taking one that another instance wrote
///   since, so the claims of a dead instance lapse within a lease.
///   `release` deletes the claim only while it is still this instance's.
/// - **Holder**: `holder` reads the claim.
/// - **Announcements**: `announce_append` publishes the key on the channel
///   `relay:appended`; every instance hears it and hands those for
///   gateways it holds to its listener. Announcements for a key that is
///   still waiting in the queue are not queued again.
/// - **Sessions**: `note_session` writes `relay:session:<session>` = the
///   gateway's key, kept for a day after it was last written (the same
///   record again within 10 s is not rewritten); `session_owner` reads it.
/// - **Interrupts**: `send_interrupt` publishes on `relay:interrupt`; the
///   instance holding the gateway hands it to its listener.
///
/// `hold`, `release`, `announce_append` and `holder` return at once: they
/// queue their Redis command for the worker thread, which runs them in
/// call order (so a `holder` read after a `hold` of this instance sees
/// it). A command that fails is logged, one warning per outage. Losing one
/// does no harm that lasts: a lost claim is written again at the next
/// refresh, and a lapsed or stale one only changes what a push reports,
/// because announcements go to every instance and the holder filters them;
/// a lost announcement is made up for by the listener's sweep. So when
/// Redis is too slow to keep up and the queue is full, calls are dropped
/// with a warning, and `holder` fails at once.
///
/// Pub/sub channels are shared by all databases of a Redis: deployments
/// that share one Redis on different database numbers hear each other's
/// announcements, which costs spurious store reads only.
///
/// Dropping the fabric stops its threads soon after; the worker first runs
/// what is queued, releases included.
pub struct RedisFabric {
    instance_id: String,
    dialer: Dialer,
    options: FabricOptions,
    commands: SyncSender<Command>,
    shared: Arc<Shared>,
    /// Whether the last command found the queue full, so that a full queue
    /// warns once, not once per call.
    overflowing: AtomicBool,
    /// Session records written lately, not to write them again per push.
    sessions: Mutex<NotedSessions>,
}

/// What the fabric's threads share with it.
struct Shared {
    /// The gateways this instance holds, and whether each delivers live.
    held: Mutex<BTreeMap<BacklogKey, bool>>,
    /// Keys with an announcement in the queue, so that a burst of appends
    /// to one gateway announces once.
    announcing: Mutex<std::collections::BTreeSet<BacklogKey>>,
    stopped: AtomicBool,
}

impl Shared {
    fn held(&self) -> Vec<(BacklogKey, bool)> {
        let held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        held.iter().map(|(key, live)| (key.clone(), *live)).collect()
    }

    fn holds(&self, key: &BacklogKey) -> bool {
        self.held.lock().unwrap_or_else(PoisonError::into_inner).contains_key(key)
    }

    /// Marks an announcement for `key` queued; `false` if one already is.
    fn start_announcing(&self, key: &BacklogKey) -> bool {
        self.announcing.lock().unwrap_or_else(PoisonError::into_inner).insert(key.clone())
    }

    /// The queued announcement for `key` is about to be sent: appends from
    /// now on need one of their own.
    fn announced(&self, key: &BacklogKey) {
        self.announcing.lock().unwrap_or_else(PoisonError::into_inner).remove(key);
    }

    fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::Relaxed)
    }
}

impl RedisFabric {
    /// Connects to Redis at `url` (`redis://HOST:PORT[/DB]`) as instance
    /// `instance_id`, checks that it answers, and starts the worker thread.
    /// Every instance sharing the Redis needs an id of its own (see
    /// [`random_instance_id`](Self::random_instance_id)).
    pub fn connect(
        url: &str,
        instance_id: impl Into<String>,
        options: FabricOptions,
    ) -> Result<Self, ConnectError> {
        let dialer = Dialer::new(url, options.timeout)?;
        let link = Link::open(dialer.clone())?;
        let instance_id = instance_id.into();
        let shared = Arc::new(Shared {
            held: Mutex::default(),
            announcing: Mutex::default(),
            stopped: AtomicBool::new(false),
        });
        let (commands, queue) = sync_channel(QUEUE);
        let worker = Worker::new(link, instance_id.clone(), options.lease, Arc::clone(&shared), queue);
        std::thread::Builder::new().name("relay-redis-fabric".into()).spawn(move || worker.run()).map_err(
            |e| ConnectError::Thread { address: dialer.address().to_owned(), reason: e.to_string() },
        )?;
        Ok(Self {
            instance_id,
            dialer,
            options,
            commands,
            shared,
            overflowing: AtomicBool::new(false),
            sessions: Mutex::default(),
        })
    }

    /// A fresh instance id: 12 hex digits from the OS's random source.
    pub fn random_instance_id() -> String {
        format!("{:012x}", relay_driver::os_seed() >> 16)
    }

    /// The address of the Redis, without any password.
    pub fn address(&self) -> &str {
        self.dialer.address()
    }

    /// Queues `command` for the worker, or says why it cannot.
    fn send(&self, command: Command) -> Result<(), String> {
        match self.commands.try_send(command) {
            Ok(()) => {
                self.overflowing.store(false, Ordering::Relaxed);
                Ok(())
            }
            Err(TrySendError::Full(_)) => {
                let reason = format!(
                    "the Redis fabric's queue is full ({QUEUE} commands): Redis at {} is slow or unreachable",
                    self.address()
                );
                if !self.overflowing.swap(true, Ordering::Relaxed) {
                    tracing::warn!("{reason}; dropping commands until it drains");
                }
                Err(reason)
            }
            Err(TrySendError::Disconnected(_)) => Err("the Redis fabric's worker thread stopped".to_owned()),
        }
    }

    /// Queues a command whose failure is only logged.
    fn post(&self, command: Command) {
        if let Err(reason) = self.send(command) {
            tracing::debug!("{reason}");
        }
    }
}

impl Fabric for RedisFabric {
    fn instance_id(&self) -> &str {
        &self.instance_id
    }

    fn hold(&self, key: &BacklogKey, live: bool) {
        self.shared.held.lock().unwrap_or_else(PoisonError::into_inner).insert(key.clone(), live);
        self.post(Command::Piped(Piped::Hold { key: key.clone(), live }));
    }

    fn update(&self, key: &BacklogKey, live: bool) {
        let changed = {
            let mut held = self.shared.held.lock().unwrap_or_else(PoisonError::into_inner);
            held.insert(key.clone(), live) != Some(live)
        };
        // The usual case, a replay that ends live again: nothing to write.
        if changed {
            self.post(Command::Update { key: key.clone(), live });
        }
    }

    fn release(&self, key: &BacklogKey) {
        self.shared.held.lock().unwrap_or_else(PoisonError::into_inner).remove(key);
        self.post(Command::Release { key: key.clone() });
    }

    fn holder(&self, key: &BacklogKey) -> BoxFuture<Result<Option<Holder>, String>> {
        let (done, answer) = futures::channel::oneshot::channel();
        if let Err(reason) = self.send(Command::Piped(Piped::Holder { key: key.clone(), done })) {
            return Box::pin(futures::future::ready(Err(reason)));
        }
        let key = key.clone();
        Box::pin(answer.map(move |answer| {
            answer.unwrap_or_else(|_| Err(format!("the Redis fabric stopped before reading who holds {key}")))
        }))
    }

    fn announce_append(&self, key: &BacklogKey) {
        if self.shared.start_announcing(key)
            && self.send(Command::Piped(Piped::Announce { key: key.clone() })).is_err()
        {
            // Not queued: the next append announces again.
            self.shared.announced(key);
        }
    }

    fn note_session(&self, session_key: &str, key: &BacklogKey) {
        let fresh = self.sessions.lock().unwrap_or_else(PoisonError::into_inner).note(session_key, key);
        if fresh {
            self.post(Command::Piped(Piped::NoteSession {
                session: session_key.to_owned(),
                key: key.clone(),
            }));
        }
    }

    fn session_owner(&self, session_key: &str) -> BoxFuture<Result<Option<BacklogKey>, String>> {
        let (done, answer) = futures::channel::oneshot::channel();
        let session = session_key.to_owned();
        if let Err(reason) = self.send(Command::Piped(Piped::SessionOwner { session: session.clone(), done }))
        {
            return Box::pin(futures::future::ready(Err(reason)));
        }
        Box::pin(answer.map(move |answer| {
            answer.unwrap_or_else(|_| {
                Err(format!("the Redis fabric stopped before reading who owns session {session:?}"))
            })
        }))
    }

    fn send_interrupt(&self, to: &BacklogKey, session_key: &str, chat_id: &str) {
        self.post(Command::Piped(Piped::Interrupt {
            key: to.clone(),
            session: session_key.to_owned(),
            chat_id: chat_id.to_owned(),
        }));
    }

    /// Starts a thread with a connection of its own, subscribed to
    /// `relay:appended` and `relay:interrupt`. After every (re)subscription, and every
    /// [`sweep`](FabricOptions::sweep), it also calls `listener` for every
    /// gateway held here, since announcements may have been missed; after a
    /// lost connection it subscribes again after a pause growing from
    /// 100 ms to 1 s. Each call starts another such thread.
    fn subscribe(&self, listener: NewsListener) {
        let shared = Arc::clone(&self.shared);
        if let Err(e) = subscriber::spawn(self.dialer.clone(), shared, listener, self.options.sweep) {
            tracing::error!("cannot start a thread to hear of appends in Redis at {}: {e}", self.address());
        }
    }
}

impl Drop for RedisFabric {
    fn drop(&mut self) {
        self.shared.stopped.store(true, Ordering::Relaxed);
    }
}

impl fmt::Debug for RedisFabric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisFabric")
            .field("instance_id", &self.instance_id)
            .field("address", &self.address())
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}
