//! A store that stops answering never hangs a caller: a push fails with a
//! timeout and is not reported buffered (on tokio and on smol).

mod support;

use std::convert::Infallible;
use std::time::Duration;

use relay_core::connector::{Backlog, BacklogEntry, BacklogKey, BufferedFrame};
use relay_core::wire::{MessageEvent, Platform, SessionSource};
use relay_driver::{ServerConfig, ServerError};
use relay_store::{StoreError, StoreHandle, StoreOptions};
use support::Rt;

/// A store whose every operation blocks for good (a disk that hangs).
struct Hung;

impl Hung {
    fn block() -> ! {
        loop {
            std::thread::park();
        }
    }
}

impl Backlog for Hung {
    type Error = Infallible;

    fn append(&mut self, _: &BacklogKey, _: BufferedFrame) -> Result<String, Infallible> {
        Self::block()
    }

    fn entries_after(
        &self,
        _: &BacklogKey,
        _: Option<&str>,
        _: usize,
    ) -> Result<Vec<BacklogEntry>, Infallible> {
        Self::block()
    }

    fn remove(&mut self, _: &BacklogKey, _: &str) -> Result<bool, Infallible> {
        Self::block()
    }

    fn count(&self, _: &BacklogKey) -> Result<usize, Infallible> {
        Self::block()
    }
}

async fn a_hung_store_fails_the_push_with_a_timeout(rt: Rt) {
    let timeout = Duration::from_millis(300);
    let store = StoreHandle::spawn(Hung, StoreOptions::default());
    let config = ServerConfig { store: Some(store), store_timeout: timeout, ..ServerConfig::default() };
    let (server, _events) = rt.listen(config).await;
    let event = MessageEvent::text(SessionSource::new(Platform::Telegram, "42", "dm"), "lost?");
    let pushed =
        server.push(&BacklogKey::Gateway("gw".into()), BufferedFrame::Inbound(Box::new(event))).await;
    assert_eq!(pushed, Err(ServerError::Store(StoreError::TimedOut(timeout))));
    assert_eq!(
        server.backlog_len(&BacklogKey::Gateway("gw".into())).await,
        Err(ServerError::Store(StoreError::TimedOut(timeout)))
    );
}

on_both_runtimes!(a_hung_store_fails_the_push_with_a_timeout);
