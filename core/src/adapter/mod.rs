//! What a gateway author needs beyond the transport.
//!
//! [`gateway::RelayMachine`](crate::gateway::RelayMachine) moves frames; an
//! application built on it still has to turn forwarded webhooks into
//! messages, answer in the connector's terms and avoid answering twice. This
//! module holds those pieces, each a pure, deterministic value type:
//!
//! - [`convert_interaction`]: a forwarded Discord interaction (PROTOCOL §7)
//!   as a [`MessageEvent`](crate::wire::MessageEvent).
//! - [`mint_prompt_token`] / [`parse_prompt_token`]: the `hp1:<prompt>:<option>`
//!   string a prompt button carries.
//! - [`Capabilities`] / [`CapabilityMap`]: what a descriptor allows (§3), per
//!   identity; [`split_message`] cuts long replies to the platform's limit.
//! - [`ReplyRouter`]: fills reply metadata and identity from what the chat's
//!   inbound events said.
//! - [`InboundDedupe`]: drops events delivered twice by buffered replay (§8).
//! - [`EnvConfig`]: the gateway's relay settings from `GATEWAY_RELAY_*`
//!   variables.
//!
//! # Example
//!
//! An inbound event is deduplicated, remembered for routing, and the reply
//! is split to fit and stamped for the connector:
//!
//! ```
//! use relay_core::adapter::{Capabilities, InboundDedupe, ReplyRouter};
//! use relay_core::gateway::{Identity, OutboundRequest};
//! use relay_core::wire::{Descriptor, MessageEvent, OutboundAction, Platform, SendMessage, SessionSource};
//!
//! let mut dedupe = InboundDedupe::new();
//! let mut router = ReplyRouter::new(vec![Identity::new("discord", "B1")]);
//! let mut descriptor = Descriptor::new("discord", "Discord");
//! descriptor.max_message_length = 2000;
//! let caps = Capabilities::new(descriptor);
//!
//! let mut source = SessionSource::new(Platform::Discord, "chan1", "group");
//! source.scope_id = Some("guildA".into());
//! let mut event = MessageEvent::text(source, "write me an essay");
//! event.message_id = Some("m1".into());
//!
//! assert!(!dedupe.is_duplicate(&event));
//! assert!(dedupe.is_duplicate(&event), "a replayed copy is dropped");
//! router.observe(&event);
//!
//! let essay = "word ".repeat(1000);
//! let requests: Vec<OutboundRequest> = caps
//!     .split(&essay)
//!     .into_iter()
//!     .map(|part| router.route(OutboundAction::Send(SendMessage::new("chan1", part)).into()))
//!     .collect();
//! assert_eq!(requests.len(), 3);
//! assert!(requests.iter().all(|r| r.identity == Some(Identity::new("discord", "B1"))));
//! ```

mod capabilities;
mod chunk;
mod dedupe;
mod env;
mod interaction;
mod prompt_token;
mod routing;

pub use capabilities::{Capabilities, CapabilityMap};
pub use chunk::split_message;
pub use dedupe::{DEFAULT_DEDUPE_WINDOW, InboundDedupe};
pub use env::{
    ENV_BOT_ID, ENV_BOT_IDS, ENV_GATEWAY_ID, ENV_PLATFORM, ENV_PLATFORMS, ENV_SECRET, ENV_URL, EnvConfig,
    EnvError, UpgradeAuth,
};
pub use interaction::{NotConvertible, convert_interaction};
pub use prompt_token::{
    MAX_PROMPT_ID_LEN, MAX_PROMPT_TOKEN_LEN, PROMPT_TOKEN_PREFIX, PromptTokenError, TokenPart,
    mint_prompt_token, parse_prompt_token,
};
pub use routing::{ChatRoute, DEFAULT_ROUTE_CAPACITY, ReplyRouter};
