//! The connector side of one connection: [`ConnectorMachine`], the mirror
//! image of the gateway's [`RelayMachine`](crate::gateway::RelayMachine);
//! plus the per-gateway [`Backlog`] it replays from (through store requests
//! the driver performs) and the [`SessionRouter`]
//! that picks the connection for an interrupt.
//!
//! # Driving contract
//!
//! A machine serves one WebSocket connection, from the accepted upgrade
//! until [`Action::Closed`]. It never blocks, never reads a clock and never
//! touches storage on its own; time comes in through every call.
//!
//! 1. Create it at upgrade time with the `Authorization` header value; when
//!    the token is refused, `Closed` (close 4401) is the first and only action.
//! 2. After every `handle_*` call or command, drain
//!    [`ConnectorMachine::poll_action`] until `None`, then read
//!    [`ConnectorMachine::poll_timeout`] and call
//!    [`ConnectorMachine::handle_timeout`] when the clock reaches it. Extra
//!    polls are harmless.
//! 3. Answer every [`Event::Hello`] with
//!    [`answer_hello`](ConnectorMachine::answer_hello) or
//!    [`refuse_hello`](ConnectorMachine::refuse_hello) (answers go to the
//!    oldest unanswered hello), and every [`Event::Request`] with
//!    [`respond`](ConnectorMachine::respond). Outbound frames for identities
//!    that never said hello are answered by the machine itself
//!    (`unknown_identity`) and never reach the application.
//! 4. **Backlog.** The machine never touches the store. It asks for what it
//!    needs with [`Action::Store`]: a [`StoreRequest::Read`] of the next
//!    entries to replay (answer it with
//!    [`handle_backlog_read`](ConnectorMachine::handle_backlog_read); at most
//!    one is out at a time) and a [`StoreRequest::Remove`] of each
//!    acknowledged entry. The replay is ack-gated, at most
//!    [`ConnectorConfig::replay_window`] frames in flight. A push that
//!    cannot go live (gateway idle, or a replay in progress) returns
//!    [`PushOutcome::AppendToBacklog`]: append the frame under
//!    [`backlog_key`](ConnectorMachine::backlog_key) before performing any
//!    store request that follows, and it goes out in order, behind what was
//!    already there. Store operations of one key run in the order they were
//!    asked for; [`serve_request`] performs one on a store that answers at
//!    once.
//! 5. Time never goes backwards inside the machine (earlier `now`s are
//!    clamped); early or repeated `handle_timeout` calls do nothing.
//!    `Closed` comes exactly once and is the last action.
//! 6. The actions do not depend on how the input bytes were chunked.
//! 7. Peer misbehaviour never makes a method return `Err`; it becomes
//!    diagnostics, machine-made answers or a close. `Err` means the caller
//!    misused the machine ([`ConnectorError`]).
//!
//! # Example
//!
//! ```
//! use std::time::Instant;
//! use relay_core::connector::{
//!     Action, ConnectorConfig, ConnectorMachine, Event, MemoryBacklog, PushOutcome, serve_request,
//! };
//! use relay_core::wire::{ActionResult, Descriptor, MessageEvent, Platform, SessionSource};
//!
//! let now = Instant::now();
//! let mut backlog = MemoryBacklog::new();
//! let mut m = ConnectorMachine::new(ConnectorConfig::default(), None, now, 1_700_000_000);
//!
//! // The gateway says hello; the application answers with a descriptor.
//! m.handle_input(now, b"{\"type\":\"hello\",\"platform\":\"telegram\",\"botId\":\"b1\"}\n");
//! assert!(matches!(m.poll_action(), Some(Action::Deliver(Event::Hello { .. }))));
//! m.answer_hello(now, Descriptor::new("telegram", "Telegram")).unwrap();
//! assert!(matches!(m.poll_action(), Some(Action::SendFrame(line)) if line.contains("\"descriptor\"")));
//!
//! // The (empty) backlog is replayed first; then delivery is live.
//! let Some(Action::Store(read)) = m.poll_action() else { panic!() };
//! serve_request(&mut m, now, read, &mut backlog).unwrap();
//! assert_eq!(m.poll_action(), Some(Action::Deliver(Event::Live)));
//! let source = SessionSource::new(Platform::Telegram, "111", "dm");
//! let outcome = m.push_inbound(now, MessageEvent::text(source, "hi"), None).unwrap();
//! assert_eq!(outcome, PushOutcome::Sent);
//! assert!(matches!(m.poll_action(), Some(Action::SendFrame(line)) if line.contains("\"inbound\"")));
//!
//! // A request from the gateway, answered by the application.
//! m.handle_input(now, br#"{"type":"outbound","requestId":"r1","action":{"op":"typing","chat_id":"111"}}
//! "#);
//! let Some(Action::Deliver(Event::Request { request_id, .. })) = m.poll_action() else { panic!() };
//! m.respond(now, &request_id, ActionResult::ok()).unwrap();
//! let Some(Action::SendFrame(line)) = m.poll_action() else { panic!() };
//! assert_eq!(line, "{\"type\":\"outbound_result\",\"requestId\":\"r1\",\"result\":{\"success\":true}}\n");
//! assert_eq!(m.poll_action(), None);
//! ```

mod backlog;
mod buffered;
mod commands;
mod config;
mod delivery;
mod hellos;
mod machine;
mod output;
mod pending_ids;
mod profiles;
mod router;
mod stats;
mod store;
mod timers;

#[cfg(test)]
mod tests;

pub use backlog::{Backlog, BacklogEntry, BacklogKey, MemoryBacklog};
pub use buffered::{BufferedFrame, StoredFrame};
pub use config::ConnectorConfig;
pub use machine::ConnectorMachine;
pub use output::{Action, CloseReason, ConnectorError, Event, PushOutcome};
pub use profiles::{descriptor_for, echo_result};
pub use router::{DEFAULT_ROUTER_CAPACITY, NoRoute, SessionRouter, named_session};
pub use stats::Stats;
pub use store::{StoreFailure, StoreRequest, serve_request};
