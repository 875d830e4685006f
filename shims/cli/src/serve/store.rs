//! `--store PATH|redis://…`: where buffered frames wait for their gateway.

use std::path::Path;
use std::sync::Arc;

use relay_core::connector::MemoryBacklog;
use relay_driver::Fabric;
use relay_redis::{FabricOptions, RedisFabric, RedisStore};
use relay_store::{FileStore, StoreHandle, StoreOptions};

use crate::stdio::Failure;

/// The store `serve` runs on, and what the `listening` line says of it.
#[derive(Debug)]
pub(crate) struct Opened {
    pub(crate) handle: StoreHandle,
    pub(crate) kind: &'static str,
    /// On Redis: the fabric this instance shares with the others.
    pub(crate) fabric: Option<Arc<RedisFabric>>,
}

/// Opens the store `store` names: Redis for a `redis://` or `rediss://`
/// URL (shared with every instance on it, as instance `instance_id`, or a
/// random id), else the file store at that path (every unacknowledged entry
/// in it waits for its gateway's next handshake), or a memory store without
/// one.
pub(crate) fn open(
    store: Option<&str>,
    instance_id: Option<String>,
    options: StoreOptions,
) -> Result<Opened, Failure> {
    let fabric = None;
    let Some(store) = store else {
        if instance_id.is_some() {
            return Err(Failure::Usage(
                "--instance-id names this instance among those sharing a Redis; pass --store redis://HOST:PORT too"
                    .to_owned(),
            ));
        }
        return Ok(Opened {
            handle: StoreHandle::spawn(MemoryBacklog::new(), options),
            kind: "memory",
            fabric,
        });
    };
    if is_redis_url(store) {
        return open_redis(store, instance_id, options);
    }
    if instance_id.is_some() {
        return Err(Failure::Usage(
            "--instance-id is for instances sharing a Redis store; a file store belongs to one instance"
                .to_owned(),
        ));
    }
    let file = FileStore::open(Path::new(store)).map_err(|e| Failure::Usage(e.to_string()))?;
    Ok(Opened { handle: StoreHandle::spawn(file, options), kind: "file", fabric })
}

fn is_redis_url(store: &str) -> bool {
    ["redis://", "rediss://", "redis+unix://", "unix://"].iter().any(|scheme| store.starts_with(scheme))
}

/// Connects the backlog and the fabric; a Redis that does not answer is a
/// runtime failure (exit 1) naming its address.
fn open_redis(url: &str, instance_id: Option<String>, options: StoreOptions) -> Result<Opened, Failure> {
    let instance_id = match instance_id {
        Some(id) if id.trim().is_empty() => {
            return Err(Failure::Usage(
                "--instance-id is empty; pass an id unique among the instances".to_owned(),
            ));
        }
        Some(id) => id,
        None => RedisFabric::random_instance_id(),
    };
    let failed = |e: relay_redis::ConnectError| match e {
        relay_redis::ConnectError::InvalidUrl { .. } => Failure::Usage(e.to_string()),
        other => Failure::Runtime(other.to_string()),
    };
    let store = RedisStore::connect(url).map_err(failed)?;
    let fabric = RedisFabric::connect(url, instance_id, FabricOptions::default()).map_err(failed)?;
    Ok(Opened { handle: StoreHandle::spawn(store, options), kind: "redis", fabric: Some(Arc::new(fabric)) })
}

impl Opened {
    /// This instance's id among those sharing a Redis.
    pub(crate) fn instance_id(&self) -> Option<&str> {
        self.fabric.as_deref().map(Fabric::instance_id)
    }

    /// The fabric, as the server takes it.
    pub(crate) fn server_fabric(&self) -> Option<Arc<dyn Fabric>> {
        self.fabric.clone().map(|fabric| fabric as Arc<dyn Fabric>)
    }
}
