//! One small connector speaking raw frames (tokio + async-tungstenite, frames
//! decoded by `relay_core`), correct by default and broken in exactly one
//! way per [`Defect`]: the catalogue `relay conform connector` must tell
//! apart. Started [`pushing`](Fake::start_pushing), it also pushes traffic
//! and keeps a backlog ([`traffic`]).

mod traffic;

use std::sync::{Arc, Mutex, PoisonError};

use async_tungstenite::tungstenite::Message;
use async_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use async_tungstenite::tungstenite::http::StatusCode;
use async_tungstenite::tungstenite::protocol::CloseFrame;
use futures::StreamExt as _;
use relay_core::policy::{Secret, TokenRejection, TokenVerifier, UNAUTHORIZED_CLOSE_CODE};
use relay_core::wire::{Direction, Frame, LineCodec, LineEvent};
use serde_json::{Value, json};

/// The secret the fake verifies tokens with.
pub(crate) const SECRET: &str = "conform-fake-secret";

/// Every op the fake accepts (and, without a defect, lists).
const ACCEPTED: [&str; 8] =
    ["edit", "follow_up", "get_chat_info", "react", "send", "send_media", "thread_create", "typing"];

/// One way to depart from the protocol, each for the check named after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Defect {
    /// None: the fake follows the protocol.
    None,
    /// Every result is sent twice.
    AnswersTwice,
    /// A line that does not decode closes the connection.
    ClosesOnBadLine,
    /// The descriptor has no `label`.
    DescriptorLacksLabel,
    /// `going_idle` gets no `going_idle_ack`.
    NoIdleAck,
    /// `supported_ops` lists only extension ops while `send` and the other
    /// legacy ops are still accepted.
    ListsOnlyExtensions,
    /// An op it does not accept gets no answer at all.
    SilentOnUnlisted,
    /// Upgrades on any path are accepted.
    AnyPath,
    /// An upgrade without a token is accepted.
    AcceptsNoToken,
    /// A token with a wrong signature is accepted.
    AcceptsBadSignature,
    /// An expired token is accepted.
    AcceptsExpired,
    /// Each WebSocket message is taken as exactly one frame.
    OneFramePerMessage,
    /// A request for an identity that did not hello succeeds.
    UnknownIdentitySucceeds,
    /// Only the first hello gets a descriptor.
    OneDescriptorForManyHellos,
    /// Live pushes carry a `bufferId`.
    PushesCarryBufferId,
    /// Traffic for an idle or absent gateway is dropped, not buffered.
    ForgetsBacklog,
    /// `inbound_ack` removes nothing: acknowledged frames are replayed again.
    ReplaysAckedFrames,
}

/// A running fake; stops when dropped.
pub(crate) struct Fake {
    /// The URL to dial.
    pub(crate) url: String,
    _runtime: tokio::runtime::Runtime,
}

impl Fake {
    /// Starts a fake with `defect` on 127.0.0.1 (port picked by the system),
    /// auth on with [`SECRET`], pushing nothing.
    pub(crate) fn start(defect: Defect) -> Self {
        Self::run(traffic::Traffic::new(defect, false), defect)
    }

    /// [`start`](Self::start), and pushing traffic from each gateway's first
    /// handshake (see [`traffic`]).
    pub(crate) fn start_pushing(defect: Defect) -> Self {
        Self::run(traffic::Traffic::new(defect, true), defect)
    }

    /// Binds, and serves every connection on a runtime of its own.
    fn run(traffic: Arc<traffic::Traffic>, defect: Defect) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime for the fake");
        let listener =
            runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).expect("the fake binds 127.0.0.1");
        let url = format!("ws://{}/relay", listener.local_addr().expect("a bound address"));
        runtime.spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                tokio::spawn(serve(tcp, defect, Arc::clone(&traffic)));
            }
        });
        Self { url, _runtime: runtime }
    }
}

/// What the upgrade request said.
#[derive(Debug, Default)]
struct Upgrade {
    authorization: Option<String>,
}

/// One connection, from the upgrade to the close.
// The upgrade callback's error type is tungstenite's, not ours to shrink.
#[allow(clippy::result_large_err)]
async fn serve(tcp: tokio::net::TcpStream, defect: Defect, traffic: Arc<traffic::Traffic>) {
    let seen = Arc::new(Mutex::new(Upgrade::default()));
    let record = Arc::clone(&seen);
    let callback = move |request: &Request, response: Response| -> Result<Response, ErrorResponse> {
        if request.uri().path() != "/relay" && defect != Defect::AnyPath {
            let mut refusal = ErrorResponse::new(Some("only /relay is upgraded".to_owned()));
            *refusal.status_mut() = StatusCode::NOT_FOUND;
            return Err(refusal);
        }
        let authorization =
            request.headers().get("authorization").and_then(|v| v.to_str().ok()).map(str::to_owned);
        record.lock().unwrap_or_else(PoisonError::into_inner).authorization = authorization;
        Ok(response)
    };
    let Ok(mut ws) = async_tungstenite::tokio::accept_hdr_async(tcp, callback).await else { return };
    let authorization = seen.lock().unwrap_or_else(PoisonError::into_inner).authorization.take();
    let key = match verify(authorization.as_deref(), defect) {
        Ok(key) => key,
        Err(rejection) => {
            let frame =
                CloseFrame { code: UNAUTHORIZED_CLOSE_CODE.into(), reason: rejection.as_str().into() };
            let _ = ws.close(Some(frame)).await;
            return;
        }
    };
    let (out, mut pushed) = tokio::sync::mpsc::unbounded_channel();
    let mut session = Session {
        defect,
        hellos: Vec::new(),
        codec: LineCodec::default(),
        traffic: Arc::clone(&traffic),
        key: key.clone(),
        out: out.clone(),
    };
    loop {
        let replies = tokio::select! {
            message = ws.next() => {
                let bytes = match message {
                    Some(Ok(Message::Text(text))) => text.as_bytes().to_vec(),
                    Some(Ok(Message::Binary(bytes))) => bytes.to_vec(),
                    Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                    Some(Ok(_)) => continue,
                };
                match session.on_message(&bytes) {
                    Some(replies) => replies,
                    None => {
                        let _ = ws.close(None).await;
                        break;
                    }
                }
            }
            Some(frame) = pushed.recv() => vec![frame],
        };
        for reply in replies {
            if ws.send(Message::text(format!("{reply}\n"))).await.is_err() {
                traffic.on_close(&key, &out);
                return;
            }
        }
    }
    traffic.on_close(&key, &out);
}

/// The token check, each `Accepts…` defect letting exactly its kind of bad
/// token through; the gateway's key for its backlog when accepted.
fn verify(authorization: Option<&str>, defect: Defect) -> Result<String, TokenRejection> {
    let unverified = || "unverified".to_owned();
    let secret = Secret::new(SECRET).expect("a non-empty secret");
    let Some(token) = authorization else {
        return if defect == Defect::AcceptsNoToken {
            Ok(unverified())
        } else {
            Err(TokenRejection::Unauthorized)
        };
    };
    match TokenVerifier::new([secret]).verify(token, relay_driver::unix_now()) {
        Ok(verified) => Ok(verified.gateway_id),
        Err(TokenRejection::Unauthorized) if defect == Defect::AcceptsBadSignature => Ok(unverified()),
        Err(TokenRejection::Expired) if defect == Defect::AcceptsExpired => Ok(unverified()),
        Err(rejection) => Err(rejection),
    }
}

/// The state of one connection.
struct Session {
    /// How this fake is broken.
    defect: Defect,
    /// The identities announced, in hello order.
    hellos: Vec<(String, String)>,
    /// Splits the received bytes into lines.
    codec: LineCodec,
    /// The pushed traffic and backlogs of every gateway.
    traffic: Arc<traffic::Traffic>,
    /// The gateway's key for its backlog.
    key: String,
    /// Where pushed frames for this connection go.
    out: tokio::sync::mpsc::UnboundedSender<Value>,
}

impl Session {
    /// The frames to send for one received message; `None` to close.
    fn on_message(&mut self, bytes: &[u8]) -> Option<Vec<Value>> {
        let mut lines = Vec::new();
        if self.defect == Defect::OneFramePerMessage {
            lines.push(bytes.strip_suffix(b"\n").unwrap_or(bytes).to_vec());
        } else {
            self.codec.feed(bytes, |event| {
                if let LineEvent::Line { bytes, .. } = event {
                    lines.push(bytes.to_vec());
                }
            });
        }
        let mut replies = Vec::new();
        for line in lines {
            match Frame::decode(&line, Some(Direction::ToConnector)) {
                Ok(frame) => replies.extend(self.on_frame(frame)),
                Err(_) if self.defect == Defect::ClosesOnBadLine => return None,
                Err(_) => {}
            }
        }
        Some(replies)
    }

    /// The frames answering one decoded frame.
    fn on_frame(&mut self, frame: Frame) -> Vec<Value> {
        match frame {
            Frame::Hello(hello) => {
                self.hellos.push((hello.platform.clone(), hello.bot_id));
                if self.defect == Defect::OneDescriptorForManyHellos && self.hellos.len() > 1 {
                    return Vec::new();
                }
                if self.hellos.len() == 1 {
                    // Sent after the descriptor: the channel is read once the replies went out.
                    self.traffic.on_handshake(&self.key, &self.out);
                }
                vec![json!({"type": "descriptor", "descriptor": self.descriptor(&hello.platform)})]
            }
            Frame::Outbound(outbound) => {
                let first = self.hellos.first().cloned().unwrap_or_default();
                let identity = match (outbound.platform, outbound.bot_id) {
                    (None, None) => first,
                    (platform, bot_id) => (platform.unwrap_or_default(), bot_id.unwrap_or_default()),
                };
                let op = outbound.action.op().to_owned();
                let result = if !self.hellos.contains(&identity)
                    && self.defect != Defect::UnknownIdentitySucceeds
                {
                    json!({"success": false, "error": format!("identity not announced: {}:{}", identity.0, identity.1),
                           "code": "unknown_identity"})
                } else if ACCEPTED.contains(&op.as_str()) {
                    json!({"success": true, "message_id": format!("fake-{op}")})
                } else if self.defect == Defect::SilentOnUnlisted {
                    return Vec::new();
                } else {
                    json!({"success": false, "error": format!("op not supported: {op}"), "code": "unsupported_op"})
                };
                let answer =
                    json!({"type": "outbound_result", "requestId": outbound.request_id, "result": result});
                if self.defect == Defect::AnswersTwice { vec![answer.clone(), answer] } else { vec![answer] }
            }
            Frame::GoingIdle(_) => {
                self.traffic.on_idle(&self.key);
                if self.defect == Defect::NoIdleAck {
                    Vec::new()
                } else {
                    vec![json!({"type": "going_idle_ack"})]
                }
            }
            Frame::InboundAck(ack) => {
                self.traffic.on_ack(&self.key, &ack.buffer_id);
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    /// The descriptor answering a hello for `platform`.
    fn descriptor(&self, platform: &str) -> Value {
        let ops: Vec<&str> = if self.defect == Defect::ListsOnlyExtensions {
            vec!["react", "send_media", "thread_create"]
        } else {
            ACCEPTED.to_vec()
        };
        let mut descriptor = json!({
            "contract_version": 1, "platform": platform, "label": "Fake", "max_message_length": 2000,
            "supports_draft_streaming": false, "supports_edit": true, "supports_threads": true,
            "markdown_dialect": "discord", "len_unit": "chars", "supported_ops": ops,
        });
        if self.defect == Defect::DescriptorLacksLabel {
            descriptor.as_object_mut().map(|d| d.remove("label"));
        }
        descriptor
    }
}
