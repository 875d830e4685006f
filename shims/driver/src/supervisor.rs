//! The task behind a client: dials, runs one connection at a time, and asks
//! `policy::Reconnect` what to do when one ends. During an outage calls fail
//! fast; while a dial is in flight they wait for it (bounded).

use std::time::Instant;

use futures::channel::{mpsc, oneshot};
use futures::future::{self, Either};
use futures::{SinkExt as _, StreamExt as _};
use relay_core::gateway::{CloseReason, RelayMachine, RequestError, RequestErrorKind};
use relay_core::policy::{DialDecision, DialFailure, Reconnect, ReconnectConfig, ReconnectError, mint_token};

use crate::client::{Command, Shared};
use crate::dial::{DialError, DialTarget, open_websocket, websocket_config};
use crate::gateway_side::GatewaySide;
use crate::metrics::{self, Side};
use crate::recording::Recorded;
use crate::runtime::{os_seed, unix_now};
use crate::socket::{Endpoint as _, SocketLoop};
use crate::{ClientConfig, ClientEvent, ConnectionEvent, Runtime};
use tracing::Instrument as _;

/// Messages for the supervisor itself rather than the connection.
#[derive(Debug)]
pub(crate) enum Control {
    HoldRedial,
    ReleaseRedial,
}

/// Why `connect` failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The URL cannot be dialed.
    #[error("{0}")]
    BadUrl(String),
    /// No connection completed its handshake within the budget, or the secret was revoked.
    #[error("{0}")]
    Failed(ReconnectError),
    /// The client was closed before it connected.
    #[error("relay client closed before it connected")]
    Closed,
}

pub(crate) struct Supervisor<R: Runtime> {
    pub(crate) rt: R,
    pub(crate) config: ClientConfig,
    pub(crate) target: DialTarget,
    pub(crate) commands: mpsc::Receiver<Command>,
    pub(crate) control: mpsc::UnboundedReceiver<Control>,
    pub(crate) events: mpsc::Sender<ClientEvent>,
    pub(crate) shared: Shared,
}

enum DialOutcome<T> {
    Open(T),
    Failed(DialFailure),
    /// The application closed the client while the dial was in flight.
    Closed,
}

impl<R: Runtime> Supervisor<R> {
    pub(crate) async fn run(mut self, connected: oneshot::Sender<Result<(), ConnectError>>) {
        let reconnect_config = ReconnectConfig {
            enabled: self.config.reconnect,
            connect_budget: self.config.connect_budget,
            seed: os_seed(),
            ..ReconnectConfig::default()
        };
        let mut policy = Reconnect::new(reconnect_config, self.rt.now());
        let mut connected = Some(connected);
        let mut ever_ready = false;
        // Connections made, for the recorder's numbering.
        let mut connections = 0;
        loop {
            self.apply_control(&mut policy);
            match policy.poll_dial(self.rt.now()) {
                DialDecision::DialNow => {}
                DialDecision::WaitUntil(at) => {
                    if !self.wait_failing_fast(at, &mut policy).await {
                        return self.stop(connected, ConnectError::Closed, "closed".into()).await;
                    }
                    continue;
                }
                DialDecision::Stop(error) => {
                    let revoked = matches!(error, ReconnectError::Revoked);
                    if revoked && connected.is_none() {
                        self.emit(ClientEvent::Connection(ConnectionEvent::Revoked)).await;
                    }
                    let reason = error.to_string();
                    return self.stop(connected, ConnectError::Failed(error), reason).await;
                }
                _ => {
                    // One dial at a time is this loop's shape: neither can happen here.
                    tracing::error!("reconnect policy out of step with the supervisor");
                    return self.stop(connected, ConnectError::Closed, "internal error".into()).await;
                }
            }
            let mut held = Vec::new();
            let deadline = policy.connect_deadline();
            let ws = match self.dial_holding(&mut held, deadline).await {
                DialOutcome::Open(ws) => ws,
                DialOutcome::Failed(failure) => {
                    tracing::debug!(?failure, "dial failed");
                    metrics::reconnect("dial_failed");
                    let _ = policy.handle_dial_failed(self.rt.now(), failure);
                    refuse_all(held, RequestErrorKind::NotConnected);
                    continue;
                }
                DialOutcome::Closed => {
                    refuse_all(held, RequestErrorKind::Closed);
                    return self.stop(connected, ConnectError::Closed, "closed".into()).await;
                }
            };
            metrics::connection_opened(Side::Gateway);
            let now = self.rt.now();
            let mut gateway = self.config.gateway.clone();
            gateway.seed = os_seed();
            let (gateway_identities, gateway_seed) = (gateway.identities.clone(), gateway.seed);
            if let Some(deadline) = deadline {
                // The first connect's budget covers the handshake too.
                gateway.handshake_timeout =
                    gateway.handshake_timeout.min(deadline.saturating_duration_since(now));
            }
            let (ready_tx, ready_rx) = oneshot::channel();
            let mut side =
                GatewaySide::new(RelayMachine::new(gateway, now), self.shared.clone(), ready_tx, ever_ready);
            // Calls made while this dial was in flight belong to this connection (PROTOCOL §8).
            for command in held {
                side.apply(now, command);
            }
            connections += 1;
            if let Some(recorder) = &self.config.recorder {
                let opened = Recorded::Opened { identities: &gateway_identities, seed: Some(gateway_seed) };
                recorder.record(connections, now, opened);
            }
            let identities: Vec<String> = gateway_identities.iter().map(ToString::to_string).collect();
            let span = tracing::info_span!(
                "relay.connection",
                side = "gateway",
                conn = connections,
                gateway_id = self.config.gateway_id.as_deref(),
                identities = %identities.join(","),
            );
            let socket = SocketLoop::new(self.rt.clone(), side, ws, &mut self.commands, self.events.clone())
                .with_recorder(self.config.recorder.clone(), connections)
                .instrument(span);
            let connected_signal = connected.take();
            let (mut side, undelivered) =
                run_until_ready(socket, ready_rx, connected_signal, &mut connected).await;
            for event in undelivered {
                self.emit(event).await;
            }
            for reply in side.close_waiters.drain(..) {
                let _ = reply.send(());
            }
            if let Some(ready_at) = side.ready_at {
                ever_ready = true;
                let _ = policy.handle_ready(ready_at);
            }
            if side.went_idle {
                policy.handle_went_idle(self.rt.now());
            }
            let reason = side.reason.take().unwrap_or(CloseReason::TransportClosed(None));
            metrics::connection_closed(Side::Gateway, reason.name());
            if let Some(frame) = reason.close_frame().filter(|frame| frame.code == 4401) {
                metrics::told_4401(&frame.reason);
            }
            if reason == CloseReason::Local {
                return self.stop(connected, ConnectError::Closed, "closed".into()).await;
            }
            let _ = policy.handle_closed(self.rt.now(), &reason);
            metrics::reconnect(reason.name());
            if side.ready_at.is_some() {
                tracing::info!(%reason, "connection lost");
                self.emit(ClientEvent::Connection(ConnectionEvent::Lost { reason })).await;
            }
        }
    }

    fn apply_control(&mut self, policy: &mut Reconnect) {
        while let Ok(control) = self.control.try_recv() {
            match control {
                Control::HoldRedial => policy.hold_redial(self.rt.now()),
                Control::ReleaseRedial => policy.release_redial(self.rt.now()),
            }
        }
    }

    /// Sleeps until `at` while refusing calls (there is no connection).
    /// Returns false when the application closed the client.
    async fn wait_failing_fast(&mut self, at: Instant, policy: &mut Reconnect) -> bool {
        let mut sleep = self.rt.sleep_until(at);
        loop {
            let next = future::select(self.commands.next(), self.control.next());
            match future::select(sleep, next).await {
                Either::Left(((), _)) => return true,
                Either::Right((Either::Left((command, _)), rest)) => {
                    sleep = rest;
                    match command {
                        None => return false,
                        Some(Command::Close { reply, .. }) => {
                            let _ = reply.send(());
                            return false;
                        }
                        Some(command) => {
                            command.refuse(RequestError::definite(RequestErrorKind::NotConnected))
                        }
                    }
                }
                Either::Right((Either::Right((control, _)), rest)) => {
                    sleep = rest;
                    match control {
                        Some(Control::ReleaseRedial) => {
                            policy.release_redial(self.rt.now());
                            return true;
                        }
                        Some(Control::HoldRedial) => policy.hold_redial(self.rt.now()),
                        None => {}
                    }
                }
            }
        }
    }

    /// Dials while holding the calls that arrive meanwhile (up to the pending bound).
    async fn dial_holding(
        &mut self,
        held: &mut Vec<Command>,
        budget_deadline: Option<Instant>,
    ) -> DialOutcome<async_tungstenite::WebSocketStream<crate::stream::MaybeTls<R::Tcp>>> {
        let authorization = match (&self.config.gateway_id, &self.config.secret) {
            (Some(id), Some(secret)) => {
                let exp = unix_now() + relay_core::policy::DEFAULT_TOKEN_TTL_SECS;
                Some(format!("Bearer {}", mint_token(id, exp, secret)))
            }
            _ => None,
        };
        let ws_config = websocket_config(self.config.gateway.max_line, self.config.websocket_buffer);
        let mut deadline = self.rt.now() + self.config.open_timeout;
        if let Some(budget) = budget_deadline {
            deadline = deadline.min(budget);
        }
        let dialing = open_websocket(&self.rt, &self.target, authorization, &self.config.tls, ws_config);
        let mut attempt = future::select(Box::pin(dialing), self.rt.sleep_until(deadline));
        loop {
            match future::select(attempt, self.commands.next()).await {
                Either::Left((Either::Left((Ok(ws), _)), _)) => return DialOutcome::Open(ws),
                Either::Left((Either::Left((Err(error), _)), _)) => {
                    return DialOutcome::Failed(dial_failure(error));
                }
                Either::Left((Either::Right(((), _)), _)) => {
                    return DialOutcome::Failed(DialFailure::TimedOut(DialError::TimedOut.to_string()));
                }
                Either::Right((command, rest)) => {
                    attempt = rest;
                    match command {
                        None => return DialOutcome::Closed,
                        Some(Command::Close { reply, .. }) => {
                            let _ = reply.send(());
                            return DialOutcome::Closed;
                        }
                        Some(command) if held.len() >= self.config.gateway.max_pending => {
                            command.refuse(RequestError::definite(RequestErrorKind::TooManyInFlight));
                        }
                        Some(command) => held.push(command),
                    }
                }
            }
        }
    }

    async fn emit(&mut self, event: ClientEvent) {
        let _ = self.events.send(event).await;
    }

    /// Ends the client: reports to `connect` if it still waits, or tells the application.
    async fn stop(
        &mut self,
        connected: Option<oneshot::Sender<Result<(), ConnectError>>>,
        error: ConnectError,
        reason: String,
    ) {
        match connected {
            Some(connected) => {
                let _ = connected.send(Err(error));
            }
            None => self.emit(ClientEvent::Connection(ConnectionEvent::Stopped { reason })).await,
        }
        self.commands.close();
        while let Some(command) = self.commands.next().await {
            command.refuse(RequestError::definite(RequestErrorKind::NotConnected));
        }
    }
}

/// Runs a connection; tells `connect` as soon as its handshake completes.
async fn run_until_ready<F: std::future::Future + Unpin>(
    connection: F,
    ready: oneshot::Receiver<()>,
    signal: Option<oneshot::Sender<Result<(), ConnectError>>>,
    unsignalled: &mut Option<oneshot::Sender<Result<(), ConnectError>>>,
) -> F::Output {
    let Some(signal) = signal else { return connection.await };
    match future::select(connection, ready).await {
        Either::Left((end, mut ready)) => {
            // The handshake may have completed in the same poll that ended the connection.
            if matches!(ready.try_recv(), Ok(Some(()))) {
                let _ = signal.send(Ok(()));
            } else {
                *unsignalled = Some(signal);
            }
            end
        }
        Either::Right((outcome, connection)) => {
            if outcome.is_ok() {
                let _ = signal.send(Ok(()));
            } else {
                *unsignalled = Some(signal);
            }
            connection.await
        }
    }
}

fn dial_failure(error: DialError) -> DialFailure {
    match error {
        DialError::TimedOut => DialFailure::TimedOut(error.to_string()),
        other => DialFailure::Refused(other.to_string()),
    }
}

fn refuse_all(commands: Vec<Command>, kind: RequestErrorKind) {
    for command in commands {
        command.refuse(RequestError::definite(kind.clone()));
    }
}
