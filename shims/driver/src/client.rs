//! The gateway client: a cloneable handle whose calls become commands for
//! the connection task, and a stream of events.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::FutureExt as _;
use futures::channel::{mpsc, oneshot};
use relay_core::gateway::{GatewayConfig, Identity, OutboundRequest, RequestError, RequestErrorKind};
use relay_core::policy::Secret;
use relay_core::wire::{
    ActionResult, ChatInfo, Descriptor, Draft, EditMessage, FollowUp, GetChatInfo, OutboundAction, Prompt,
    React, SendMedia, SendMessage, ThreadCreate, ThreadRename, Typing,
};

use crate::TlsRoots;
use crate::command_sender::CommandSender;
use crate::recording::Recorder;
use crate::supervisor::Control;

/// How a gateway client connects and behaves. Every field has a sane default.
#[derive(Clone)]
pub struct ClientConfig {
    /// Identities, timeouts and limits of each connection (its `seed` is
    /// replaced by one from the operating system for every connection).
    pub gateway: GatewayConfig,
    /// Gateway id for upgrade auth (auth is on when this and `secret` are set).
    pub gateway_id: Option<String>,
    /// Upgrade secret; never logged or printed.
    pub secret: Option<Secret>,
    /// Reconnect after a connection that completed its handshake ends (default on).
    pub reconnect: bool,
    /// Time `connect` may spend on dials and the handshake (default 30 s).
    pub connect_budget: Duration,
    /// Time one dial may take to open the socket and upgrade (default 10 s).
    pub open_timeout: Duration,
    /// Certificate authorities for `wss://`.
    pub tls: TlsRoots,
    /// Events buffered for the application before reading pauses (default 256).
    pub event_capacity: usize,
    /// Calls queued for the connection task before callers wait (default 1,024).
    pub command_capacity: usize,
    /// WebSocket read buffer size in bytes (default 16 KiB).
    pub websocket_buffer: usize,
    /// Budget of [`Client::close`] (default 5 s).
    pub shutdown_budget: Duration,
    /// Send `going_idle` before closing (default off).
    pub go_idle_on_close: bool,
    /// Sees every WebSocket message of every connection (default none).
    pub recorder: Option<Recorder>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            gateway: GatewayConfig::default(),
            gateway_id: None,
            secret: None,
            reconnect: true,
            connect_budget: Duration::from_secs(30),
            open_timeout: Duration::from_secs(10),
            tls: TlsRoots::default(),
            event_capacity: 256,
            command_capacity: 1024,
            websocket_buffer: 16 * 1024,
            shutdown_budget: Duration::from_secs(5),
            go_idle_on_close: false,
            recorder: None,
        }
    }
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("gateway", &self.gateway)
            .field("gateway_id", &self.gateway_id)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("reconnect", &self.reconnect)
            .field("connect_budget", &self.connect_budget)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

impl ClientConfig {
    /// Announces these identities (one `hello` each, in order).
    pub fn with_identities(mut self, identities: impl IntoIterator<Item = Identity>) -> Self {
        self.gateway.identities = identities.into_iter().collect();
        self
    }

    /// Turns on upgrade auth.
    pub fn with_auth(mut self, gateway_id: impl Into<String>, secret: Secret) -> Self {
        self.gateway_id = Some(gateway_id.into());
        self.secret = Some(secret);
        self
    }
}

/// How a `go_idle` call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdleOutcome {
    /// The connector acknowledged: it buffers everything from now on.
    Acknowledged,
    /// No acknowledgement within the timeout.
    TimedOut,
    /// There was no connection to go idle on.
    NotConnected,
}

pub(crate) enum Command {
    Request {
        /// Boxed: an action is a few hundred bytes, and a command is moved
        /// several times on its way into the channel.
        request: Box<OutboundRequest>,
        reply: oneshot::Sender<Result<ActionResult, RequestError>>,
    },
    Interrupt {
        session_key: String,
        reason: Option<String>,
        reply: oneshot::Sender<Result<(), RequestError>>,
    },
    Ack {
        buffer_id: String,
        reply: oneshot::Sender<Result<(), RequestError>>,
    },
    GoIdle {
        reply: oneshot::Sender<IdleOutcome>,
    },
    Close {
        go_idle: bool,
        budget: Duration,
        reply: oneshot::Sender<()>,
    },
}

impl Command {
    /// Answers a command that cannot reach any connection.
    pub(crate) fn refuse(self, error: RequestError) {
        match self {
            Self::Request { reply, .. } => {
                let _ = reply.send(Err(error));
            }
            Self::Interrupt { reply, .. } | Self::Ack { reply, .. } => {
                let _ = reply.send(Err(error));
            }
            Self::GoIdle { reply } => {
                let _ = reply.send(IdleOutcome::NotConnected);
            }
            Self::Close { reply, .. } => {
                let _ = reply.send(());
            }
        }
    }
}

/// State the connection task shares with handles: the descriptors.
#[derive(Clone, Default)]
pub(crate) struct Shared(Arc<Mutex<Descriptors>>);

#[derive(Default)]
struct Descriptors {
    default: Option<Descriptor>,
    by_identity: BTreeMap<Identity, Descriptor>,
}

impl Shared {
    pub(crate) fn set_descriptor(&self, identity: &Identity, descriptor: &Descriptor, default: bool) {
        let mut d = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if default {
            d.default = Some(descriptor.clone());
        }
        d.by_identity.insert(identity.clone(), descriptor.clone());
    }

    fn default_descriptor(&self) -> Option<Descriptor> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).default.clone()
    }

    fn descriptor_for(&self, identity: &Identity) -> Option<Descriptor> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).by_identity.get(identity).cloned()
    }
}

/// A handle on a gateway connection. Cheap to clone; every call is
/// bounded (requests by the request timeout, `close` by its budget).
#[derive(Clone)]
pub struct Client {
    commands: CommandSender<Command>,
    control: mpsc::UnboundedSender<Control>,
    shared: Shared,
    shutdown_budget: Duration,
    go_idle_on_close: bool,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").finish_non_exhaustive()
    }
}

fn not_connected() -> RequestError {
    RequestError::definite(RequestErrorKind::NotConnected)
}

impl Client {
    pub(crate) fn new(
        commands: mpsc::Sender<Command>,
        control: mpsc::UnboundedSender<Control>,
        shared: Shared,
        config: &ClientConfig,
    ) -> Self {
        Self {
            commands: CommandSender::new(commands),
            control,
            shared,
            shutdown_budget: config.shutdown_budget,
            go_idle_on_close: config.go_idle_on_close,
        }
    }

    /// Queues the command `make` builds (at once when there is room) and
    /// waits for its reply.
    fn call<T, M>(&self, make: M) -> impl Future<Output = Option<T>> + use<T, M>
    where
        M: FnOnce(oneshot::Sender<T>) -> Command,
    {
        let (reply, answer) = oneshot::channel();
        // A command that never reaches the channel is dropped with its reply
        // sender, and the answer is then `Canceled` at once.
        self.commands.send(make(reply)).then(|_| answer).map(Result::ok)
    }

    /// Sends an action (optionally tagged with an identity) and waits for its result.
    /// `success: false` is a result; an `Err` says whether the connector may have applied it.
    ///
    /// The request is queued by the call itself when the connection's
    /// queue has room; the future then only waits for the result, and
    /// holds a few words instead of the action.
    pub fn request<R: Into<OutboundRequest>>(
        &self,
        request: R,
    ) -> impl Future<Output = Result<ActionResult, RequestError>> + Send + use<R> {
        let request = Box::new(request.into());
        self.call(|reply| Command::Request { request, reply })
            .map(|answer| answer.unwrap_or_else(|| Err(not_connected())))
    }

    /// `send`: posts `content` to `chat_id`.
    pub fn send(
        &self,
        chat_id: &str,
        content: &str,
    ) -> impl Future<Output = Result<ActionResult, RequestError>> + Send + use<> {
        self.request(OutboundAction::Send(SendMessage::new(chat_id, content)))
    }

    /// `edit`: replaces the text of a sent message.
    pub fn edit(
        &self,
        chat_id: &str,
        message_id: &str,
        content: &str,
    ) -> impl Future<Output = Result<ActionResult, RequestError>> + Send + use<> {
        let edit = EditMessage {
            chat_id: chat_id.into(),
            message_id: message_id.into(),
            content: content.into(),
            ..EditMessage::default()
        };
        self.request(OutboundAction::Edit(edit))
    }

    /// `typing`: shows a typing indicator (`""` clears it).
    pub fn typing(
        &self,
        chat_id: &str,
        content: Option<&str>,
    ) -> impl Future<Output = Result<ActionResult, RequestError>> + Send + use<> {
        let typing =
            Typing { chat_id: chat_id.into(), content: content.map(Into::into), ..Typing::default() };
        self.request(OutboundAction::Typing(typing))
    }

    /// `follow_up`: acts on a capability the connector holds for a session (never a token).
    pub fn follow_up(
        &self,
        session_key: &str,
        kind: &str,
        content: &str,
    ) -> impl Future<Output = Result<ActionResult, RequestError>> + Send + use<> {
        let follow_up = FollowUp {
            session_key: session_key.into(),
            kind: kind.into(),
            content: content.into(),
            ..FollowUp::default()
        };
        self.request(OutboundAction::FollowUp(follow_up))
    }

    /// `get_chat_info`: never fails; falls back to the chat id as name and `dm` (PROTOCOL §5).
    pub async fn get_chat_info(&self, chat_id: &str) -> ChatInfo {
        let action =
            OutboundAction::GetChatInfo(GetChatInfo { chat_id: chat_id.into(), ..GetChatInfo::default() });
        match self.request(action).await {
            Ok(result) => ChatInfo::from_result(&result, chat_id),
            Err(_) => ChatInfo::fallback(chat_id),
        }
    }

    /// `send_media` (ext).
    pub fn send_media(
        &self,
        action: SendMedia,
    ) -> impl Future<Output = Result<ActionResult, RequestError>> + Send + use<> {
        self.request(OutboundAction::SendMedia(action))
    }

    /// `prompt` (ext).
    pub fn prompt(
        &self,
        action: Prompt,
    ) -> impl Future<Output = Result<ActionResult, RequestError>> + Send + use<> {
        self.request(OutboundAction::Prompt(action))
    }

    /// `react` (ext).
    pub fn react(
        &self,
        action: React,
    ) -> impl Future<Output = Result<ActionResult, RequestError>> + Send + use<> {
        self.request(OutboundAction::React(action))
    }

    /// `thread_create` (ext).
    pub fn thread_create(
        &self,
        action: ThreadCreate,
    ) -> impl Future<Output = Result<ActionResult, RequestError>> + Send + use<> {
        self.request(OutboundAction::ThreadCreate(action))
    }

    /// `thread_rename` (ext).
    pub fn thread_rename(
        &self,
        action: ThreadRename,
    ) -> impl Future<Output = Result<ActionResult, RequestError>> + Send + use<> {
        self.request(OutboundAction::ThreadRename(action))
    }

    /// `draft` (ext).
    pub fn draft(
        &self,
        action: Draft,
    ) -> impl Future<Output = Result<ActionResult, RequestError>> + Send + use<> {
        self.request(OutboundAction::Draft(action))
    }

    /// Sends `interrupt` for a session (fire-and-forget).
    pub async fn interrupt(&self, session_key: &str, reason: Option<&str>) -> Result<(), RequestError> {
        let (session_key, reason) = (session_key.to_owned(), reason.map(str::to_owned));
        self.call(|reply| Command::Interrupt { session_key, reason, reply })
            .await
            .unwrap_or_else(|| Err(not_connected()))
    }

    /// Acknowledges a buffered event once the application has custody of it.
    pub async fn ack(&self, buffer_id: &str) -> Result<(), RequestError> {
        let buffer_id = buffer_id.to_owned();
        self.call(|reply| Command::Ack { buffer_id, reply }).await.unwrap_or_else(|| Err(not_connected()))
    }

    /// Asks the connector to buffer everything for this gateway from now on.
    pub async fn go_idle(&self) -> IdleOutcome {
        self.call(|reply| Command::GoIdle { reply }).await.unwrap_or(IdleOutcome::NotConnected)
    }

    /// Closes the connection: optional going idle, in-flight requests get
    /// the rest of the budget, then the WebSocket close handshake. Returns
    /// once the client stopped; never takes much longer than the budget.
    pub async fn close(&self) {
        let (go_idle, budget) = (self.go_idle_on_close, self.shutdown_budget);
        let _ = self.call(|reply| Command::Close { go_idle, budget, reply }).await;
    }

    /// Parks re-dialing (the host is about to suspend) until
    /// [`release_redial`](Self::release_redial) or 60 s pass.
    pub fn hold_redial(&self) {
        let _ = self.control.unbounded_send(Control::HoldRedial);
    }

    /// Ends a [`hold_redial`](Self::hold_redial).
    pub fn release_redial(&self) {
        let _ = self.control.unbounded_send(Control::ReleaseRedial);
    }

    /// The default descriptor of the current (or last) connection.
    pub fn descriptor(&self) -> Option<Descriptor> {
        self.shared.default_descriptor()
    }

    /// The descriptor received for `identity`.
    pub fn descriptor_for(&self, identity: &Identity) -> Option<Descriptor> {
        self.shared.descriptor_for(identity)
    }
}

#[cfg(test)]
mod tests {
    use futures::executor::block_on;

    use super::*;

    #[test]
    fn a_request_is_queued_by_the_call_and_its_future_holds_a_few_words() {
        let (commands, mut queue) = mpsc::channel(1);
        let (control, _control) = mpsc::unbounded();
        let client = Client::new(commands, control, Shared::default(), &ClientConfig::default());
        let pending = client.send("c1", "hi");
        assert!(std::mem::size_of_val(&pending) <= 32, "{} bytes", std::mem::size_of_val(&pending));
        // In the queue before the future is ever polled.
        let Ok(Command::Request { request, reply }) = queue.try_recv() else {
            panic!("the request was not queued by the call")
        };
        assert_eq!(request.action.op(), "send");
        let _ = reply.send(Ok(ActionResult::ok()));
        assert_eq!(block_on(pending).map(|result| result.success), Ok(true));
        drop(queue);
        let refused = block_on(client.send("c1", "hi")).map(|_| ()).map_err(|e| e.kind);
        assert_eq!(refused, Err(RequestErrorKind::NotConnected));
    }
}
