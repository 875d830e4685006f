//! Redis for relay connectors: a backlog store several connector instances
//! can share, and the fabric that tells them who holds which gateway.
//!
//! - [`RedisStore`] is a [`Backlog`](relay_core::connector::Backlog): one
//!   Redis stream per gateway, whose entry ids are the buffer ids. Run it
//!   behind a `relay_store::StoreHandle` like any store: its calls block
//!   on Redis (bounded by [`RedisStoreOptions::timeout`]), and the handle's
//!   batches of appends become one `MULTI`/`EXEC` transaction each.
//! - [`RedisFabric`] is a [`relay_driver::Fabric`]: claims under a lease
//!   say which instance holds a gateway, and announcements on a pub/sub
//!   channel tell the holder of appends made elsewhere. Hand it to the
//!   server as `ServerConfig::fabric`.
//!
//! What an acknowledged append survives is Redis's persistence setting:
//! with `appendonly yes` and `appendfsync always`, a crash of Redis or of
//! its machine. The crate's README says what the other settings promise.
//!
//! Both use the `redis` crate's blocking client on threads of their own,
//! so they run under any async runtime.
//!
//! ```
//! use futures::executor::block_on;
//! use relay_core::connector::{Backlog, BacklogKey, BufferedFrame};
//! use relay_core::wire::{MessageEvent, Platform, SessionSource};
//! use relay_driver::Fabric;
//! use relay_redis::{FabricOptions, RedisFabric, RedisStore};
//! use relay_store::{StoreHandle, StoreOptions};
//! # let server = relay_redis::test_server::RedisServer::start();
//! # let url = server.url();
//! # let url = url.as_str();
//! // let url = "redis://127.0.0.1:6379/";
//!
//! // The backlog, on the store's worker thread.
//! let store = StoreHandle::spawn(RedisStore::connect(url)?, StoreOptions::default());
//! let key = BacklogKey::Gateway("gw-1".into());
//! let event = MessageEvent::text(SessionSource::new(Platform::Telegram, "42", "dm"), "hello");
//! let id = block_on(store.append(key.clone(), BufferedFrame::Inbound(Box::new(event))))?;
//! let entries = block_on(store.read(key.clone(), None, 64))?;
//! assert_eq!(entries[0].buffer_id, id); // a stream id, such as 1733500000000-0
//!
//! // Two instances on the same Redis: one holds the gateway, the other sees it.
//! let a = RedisFabric::connect(url, "instance-a", FabricOptions::default())?;
//! let b = RedisFabric::connect(url, RedisFabric::random_instance_id(), FabricOptions::default())?;
//! a.hold(&key, true);
//! block_on(a.holder(&key))?; // runs after the hold: the claim is written
//! let holder = block_on(b.holder(&key))?.expect("a claim");
//! assert_eq!((holder.instance.as_str(), holder.live), ("instance-a", true));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod codec;
mod error;
mod fabric;
mod keys;
mod link;
mod store;
mod stream_id;
#[cfg(feature = "test-server")]
pub mod test_server;

pub use error::{ConnectError, RedisStoreError};
pub use fabric::{FabricOptions, RedisFabric};
pub use store::{RedisStore, RedisStoreOptions};
