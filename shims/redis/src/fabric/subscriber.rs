//! A subscription to the news of other instances (appends, interrupts), on
//! a thread and connection of its own, handing news about held gateways to
//! the listener.

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::{Connection, RedisResult, Value};
use relay_driver::{News, NewsListener};

use super::Shared;
use super::health::Health;
use super::news;
use crate::keys::{APPENDED_CHANNEL, INTERRUPT_CHANNEL};
use crate::link::Dialer;

/// How often a waiting subscriber looks whether its fabric was dropped.
const TICK: Duration = Duration::from_millis(200);
/// The first and the longest pause before subscribing again.
const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// Starts the thread; it ends soon after the fabric is dropped.
pub(super) fn spawn(
    dialer: Dialer,
    shared: Arc<Shared>,
    listener: NewsListener,
    sweep: Duration,
) -> io::Result<()> {
    let subscriber = Subscriber {
        dialer,
        shared,
        listener,
        sweep: sweep.max(TICK),
        next_sweep: Instant::now(),
        backoff: MIN_BACKOFF,
        health: Health::new(),
    };
    std::thread::Builder::new().name("relay-redis-subscriber".into()).spawn(move || subscriber.run())?;
    Ok(())
}

struct Subscriber {
    dialer: Dialer,
    shared: Arc<Shared>,
    listener: NewsListener,
    sweep: Duration,
    next_sweep: Instant,
    backoff: Duration,
    health: Health,
}

impl Subscriber {
    fn run(mut self) {
        while !self.shared.is_stopped() {
            let Err(error) = self.dialer.connect().and_then(|mut conn| self.listen(&mut conn)) else {
                return;
            };
            let reason = crate::error::reason(&error, self.dialer.timeout());
            let message = format!(
                "the subscription to appends in Redis at {} failed: {reason}; subscribing again",
                self.dialer.address()
            );
            self.health.failed(&message);
            self.pause();
        }
    }

    /// Subscribes and hands on announcements until the fabric is dropped
    /// (`Ok`) or the connection fails.
    fn listen(&mut self, conn: &mut Connection) -> RedisResult<()> {
        let mut pubsub = conn.as_pubsub();
        pubsub.subscribe(&[APPENDED_CHANNEL, INTERRUPT_CHANNEL])?;
        self.health.succeeded(self.dialer.address());
        self.backoff = MIN_BACKOFF;
        // Announcements made while this was not subscribed are lost.
        self.notify_held();
        self.next_sweep = Instant::now() + self.sweep;
        // Short reads, to see a dropped fabric; a wait for a message that
        // runs out is no failure.
        pubsub.set_read_timeout(Some(TICK))?;
        loop {
            if self.shared.is_stopped() {
                return Ok(());
            }
            if Instant::now() >= self.next_sweep {
                // A connection that died silently shows here, not as a read
                // that never gets anything.
                pubsub.set_read_timeout(Some(self.dialer.timeout()))?;
                pubsub.ping::<Value>()?;
                pubsub.set_read_timeout(Some(TICK))?;
                self.notify_held();
                self.next_sweep = Instant::now() + self.sweep;
            }
            match pubsub.get_message() {
                Ok(message) => self.heard(message.get_channel_name(), message.get_payload_bytes()),
                Err(error) if error.is_timeout() => {}
                Err(error) => return Err(error),
            }
        }
    }

    fn heard(&self, channel: &str, payload: &[u8]) {
        match news::read(channel, payload) {
            Some(news) if self.shared.holds(news::about(&news)) => (self.listener)(news),
            Some(_) => {}
            None => tracing::debug!(
                "ignoring a message on {channel} that is no relay news: {:?}",
                String::from_utf8_lossy(payload)
            ),
        }
    }

    /// The safety net: the listener reads every held gateway's backlog
    /// again, which finds whatever an announcement that got lost was about.
    fn notify_held(&self) {
        for (key, _) in self.shared.held() {
            (self.listener)(News::Appended(key));
        }
    }

    /// Waits before subscribing again, longer after each failure in a row.
    fn pause(&mut self) {
        let until = Instant::now() + self.backoff;
        while !self.shared.is_stopped() {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            std::thread::sleep(left.min(TICK));
        }
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
    }
}
