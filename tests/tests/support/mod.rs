//! Shared pieces of the end-to-end tests: runtimes, a scripted connector
//! application, and bounded waiting.
#![allow(dead_code)] // each test file uses a different part

use std::future::Future;
use std::time::Duration;

use futures::StreamExt as _;
use relay_core::connector::{descriptor_for, echo_result};
use relay_driver::{Runtime, ServerConfig, ServerEvent, ServerEvents, ServerHandle};

/// Runs `scenario` to completion on the named runtime, failing after `limit`.
pub(crate) fn run_on<F, Fut>(runtime: &str, limit: Duration, scenario: F)
where
    F: FnOnce(Rt) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    match runtime {
        "tokio" => {
            let rt =
                tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
            rt.block_on(async move {
                tokio::time::timeout(limit, scenario(Rt::Tokio)).await.expect("scenario timed out");
            });
        }
        "smol" => smol::block_on(async move {
            let timeout = async {
                smol::Timer::after(limit).await;
                panic!("scenario timed out");
            };
            futures::future::select(Box::pin(scenario(Rt::Smol)), Box::pin(timeout)).await;
        }),
        other => panic!("unknown runtime {other}"),
    }
}

/// Either runtime, behind one type so scenarios are written once.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Rt {
    Tokio,
    Smol,
}

impl Rt {
    pub(crate) async fn connect(
        self,
        url: &str,
        config: relay_driver::ClientConfig,
    ) -> Result<(relay_driver::Client, relay_driver::Events), relay_driver::ConnectError> {
        match self {
            Self::Tokio => relay_driver::connect(relay_tokio::Tokio, url, config).await,
            Self::Smol => relay_driver::connect(relay_smol::Smol, url, config).await,
        }
    }

    pub(crate) async fn listen(self, config: ServerConfig) -> (ServerHandle, ServerEvents) {
        let addr = "127.0.0.1:0".parse().unwrap();
        match self {
            Self::Tokio => relay_driver::listen(relay_tokio::Tokio, addr, config).await.unwrap(),
            Self::Smol => relay_driver::listen(relay_smol::Smol, addr, config).await.unwrap(),
        }
    }

    pub(crate) async fn sleep(self, d: Duration) {
        match self {
            Self::Tokio => relay_tokio::Tokio.sleep_until(relay_tokio::Tokio.now() + d).await,
            Self::Smol => relay_smol::Smol.sleep_until(relay_smol::Smol.now() + d).await,
        }
    }

    pub(crate) fn spawn(self, future: impl Future<Output = ()> + Send + 'static) {
        match self {
            Self::Tokio => relay_tokio::Tokio.spawn(future),
            Self::Smol => relay_smol::Smol.spawn(future),
        }
    }
}

/// How the scripted connector application answers requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Replies {
    Echo,
    Silent,
}

/// Runs a connector application in the background: every hello gets
/// `descriptor_for(platform)`, every request an echo result (or nothing);
/// every event is also forwarded to the returned stream for assertions.
pub(crate) fn auto_connector(
    rt: Rt,
    handle: ServerHandle,
    mut events: ServerEvents,
    replies: Replies,
) -> futures::channel::mpsc::UnboundedReceiver<ServerEvent> {
    let (tx, rx) = futures::channel::mpsc::unbounded();
    rt.spawn(async move {
        while let Some(event) = events.next().await {
            match &event {
                ServerEvent::Hello { conn, identity, .. } => {
                    let _ = handle.answer_hello(*conn, descriptor_for(&identity.platform)).await;
                }
                ServerEvent::Request { conn, request_id, action, .. } if replies == Replies::Echo => {
                    let _ = handle.respond(*conn, request_id, echo_result(action)).await;
                }
                _ => {}
            }
            if tx.unbounded_send(event).is_err() {
                // Nobody watches; keep answering.
            }
        }
    });
    rx
}

/// Waits for the first event matching `pick`, failing after 10 s.
pub(crate) async fn expect<T, E: std::fmt::Debug>(
    rt: Rt,
    events: &mut (impl futures::Stream<Item = E> + Unpin),
    what: &str,
    mut pick: impl FnMut(&E) -> Option<T>,
) -> T {
    let deadline = Box::pin(rt.sleep(Duration::from_secs(10)));
    let mut deadline = deadline;
    loop {
        match futures::future::select(events.next(), deadline).await {
            futures::future::Either::Left((Some(event), rest)) => {
                deadline = rest;
                if let Some(found) = pick(&event) {
                    return found;
                }
            }
            futures::future::Either::Left((None, _)) => panic!("stream ended while waiting for {what}"),
            futures::future::Either::Right(_) => panic!("timed out waiting for {what}"),
        }
    }
}

/// Declares one `#[test]` per runtime for an async scenario `fn(Rt)`.
#[macro_export]
macro_rules! on_both_runtimes {
    ($($name:ident),* $(,)?) => {
        mod tokio_runtime {
            $(
                #[test]
                fn $name() {
                    $crate::support::run_on("tokio", std::time::Duration::from_secs(60), super::$name);
                }
            )*
        }
        mod smol_runtime {
            $(
                #[test]
                fn $name() {
                    $crate::support::run_on("smol", std::time::Duration::from_secs(60), super::$name);
                }
            )*
        }
    };
}
