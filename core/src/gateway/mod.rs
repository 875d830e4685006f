//! The gateway side of one connection: [`RelayMachine`].
//!
//! # Driving contract
//!
//! A machine serves one WebSocket connection, from the moment the socket
//! opened until [`Action::Closed`]. It never blocks, never reads a clock and
//! never draws randomness; time comes in through every call, the request-id
//! seed through [`GatewayConfig::seed`].
//!
//! 1. After every `handle_*` call or command, drain [`RelayMachine::poll_action`]
//!    until it returns `None`, then read [`RelayMachine::poll_timeout`] and call
//!    [`RelayMachine::handle_timeout`] when the clock reaches it. Extra polls
//!    are harmless.
//! 2. Time never goes backwards inside the machine (earlier `now`s are
//!    clamped); early or repeated `handle_timeout` calls do nothing; after
//!    `handle_timeout(t)` the next deadline is `None` or later than `t`.
//! 3. Every [`RequestId`] handed out is settled exactly once — by
//!    [`Action::Resolve`] or [`Action::Fail`] — and always before `Closed`.
//!    `Closed` comes exactly once and is the last action.
//! 4. The actions do not depend on how the input bytes were chunked.
//! 5. Peer misbehaviour never makes a method return `Err`; it becomes
//!    diagnostics, failures or a close. Commands return `Err` only when the
//!    request cannot be taken (closed, too many pending, op not allowed).
//! 6. A request is ambiguous from the moment its `outbound` frame is returned
//!    by `poll_action`; every failure after that says so.
//!
//! # Example
//!
//! ```
//! use std::time::{Duration, Instant};
//! use relay_core::gateway::{Action, Event, GatewayConfig, RelayMachine};
//! use relay_core::wire::{OutboundAction, SendMessage};
//!
//! let start = Instant::now();
//! let mut m = RelayMachine::new(GatewayConfig::default(), start);
//! // The hello is the first thing to send.
//! assert!(matches!(m.poll_action(), Some(Action::SendFrame(line)) if line.contains("\"hello\"")));
//!
//! // The connector answers with a descriptor: the handshake completes.
//! m.handle_input(start, br#"{"type":"descriptor","descriptor":{"contract_version":1,"platform":"relay","label":"Relay","max_message_length":4096,"supports_draft_streaming":false,"supports_edit":true,"supports_threads":false,"markdown_dialect":"plain","len_unit":"chars"}}
//! "#);
//! assert!(matches!(m.poll_action(), Some(Action::Deliver(Event::Ready { .. }))));
//!
//! // A request goes out as an `outbound` frame ...
//! let id = m.request(start, OutboundAction::Send(SendMessage::new("c1", "hi"))).unwrap();
//! let Some(Action::SendFrame(line)) = m.poll_action() else { panic!() };
//! assert!(line.contains(&id.to_string()));
//!
//! // ... and its result resolves it.
//! let result = format!("{{\"type\":\"outbound_result\",\"requestId\":\"{id}\",\"result\":{{\"success\":true}}}}\n");
//! m.handle_input(start + Duration::from_millis(5), result.as_bytes());
//! assert!(matches!(m.poll_action(), Some(Action::Resolve { id: done, result }) if done == id && result.success));
//! assert_eq!(m.poll_action(), None);
//! ```

mod config;
mod error;
mod handshake;
mod id_table;
mod ids;
mod machine;
mod output;
mod pending;
mod request;
mod stats;
mod timers;

pub use config::{GatewayConfig, Identity};
pub use error::{RequestError, RequestErrorKind};
pub use machine::RelayMachine;
pub use output::{Action, CloseFrame, CloseReason, Event, RequestId};
pub use request::OutboundRequest;
pub use stats::Stats;
