//! Store operations bounded in time: a store that hangs fails its callers
//! with [`StoreError::TimedOut`] instead of holding them forever.

use std::future::Future as _;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use relay_store::{StoreError, StoreFuture};

use crate::{BoxFuture, Runtime};

/// The runtime's clock, kept by the server for store deadlines.
#[derive(Clone)]
pub(crate) struct StoreClock {
    now: Arc<dyn Fn() -> Instant + Send + Sync>,
    sleep_until: Arc<dyn Fn(Instant) -> BoxFuture<()> + Send + Sync>,
    timeout: Duration,
}

impl StoreClock {
    pub(crate) fn new<R: Runtime>(rt: &R, timeout: Duration) -> Self {
        let (clock, sleeper) = (rt.clone(), rt.clone());
        Self {
            now: Arc::new(move || clock.now()),
            sleep_until: Arc::new(move |at| sleeper.sleep_until(at)),
            timeout,
        }
    }

    /// A deadline `timeout` after `now`.
    pub(crate) fn deadline(&self, now: Instant) -> Deadline {
        Deadline { sleep: (self.sleep_until)(now + self.timeout), after: self.timeout }
    }

    /// A deadline `timeout` from the current time.
    pub(crate) fn deadline_from_now(&self) -> Deadline {
        self.deadline((self.now)())
    }
}

/// When a store operation counts as failed.
pub(crate) struct Deadline {
    sleep: BoxFuture<()>,
    after: Duration,
}

impl Deadline {
    /// The timeout error once the deadline passed.
    pub(crate) fn poll_expired(&mut self, cx: &mut Context<'_>) -> Option<StoreError> {
        self.sleep.as_mut().poll(cx).is_ready().then_some(StoreError::TimedOut(self.after))
    }
}

/// The outcome of `operation`, or a timeout at `deadline`.
pub(crate) async fn bounded<T>(
    mut operation: StoreFuture<T>,
    mut deadline: Deadline,
) -> Result<T, StoreError> {
    futures::future::poll_fn(|cx| {
        if let Poll::Ready(outcome) = std::pin::Pin::new(&mut operation).poll(cx) {
            return Poll::Ready(outcome);
        }
        deadline.poll_expired(cx).map_or(Poll::Pending, |error| Poll::Ready(Err(error)))
    })
    .await
}
