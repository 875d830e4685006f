//! The server's side of a [`Fabric`]: pushes through the shared store,
//! news from other instances, and interrupts for gateways held elsewhere.

use std::sync::{Arc, Mutex, Weak};

use futures::channel::oneshot;
use relay_core::connector::BacklogKey;
use relay_store::StoreFuture;

use crate::connector_side::ConnCommand;
use crate::fabric::{Fabric, News, NewsListener};
use crate::server::{Delivery, ServerError, ServerState, buffered, lock, wake_if_due};

/// Waits for a push the store took, then has the gateway's holder deliver
/// it, and says who that is. With a fabric every push comes here (see
/// [`Fabric`] for why); without one, only pushes for a gateway with no
/// ready connection.
pub(crate) async fn stored(
    state: &Mutex<ServerState>,
    to: &BacklogKey,
    append: StoreFuture<String>,
) -> Result<Delivery, ServerError> {
    let delivery = buffered(state, append).await?;
    let Some(fabric) = lock(state).fabric.clone() else {
        wake_if_due(state, to);
        return Ok(delivery);
    };
    if !lock(state).tell_connections(to) {
        fabric.announce_append(to);
    }
    let Delivery::Buffered { buffer_id } = delivery else { return Ok(delivery) };
    match fabric.holder(to).await {
        Ok(Some(holder)) if holder.live => Ok(Delivery::Routed { instance: holder.instance, buffer_id }),
        // Nobody delivers it live now: it waits for the gateway's next handshake.
        Ok(_) | Err(_) => {
            wake_if_due(state, to);
            Ok(Delivery::Buffered { buffer_id })
        }
    }
}

/// Hands news from other instances to the connections of its gateway here.
pub(crate) fn news_listener(state: Weak<Mutex<ServerState>>) -> NewsListener {
    Box::new(move |news| {
        let Some(state) = state.upgrade() else { return };
        let state = lock(&state);
        match news {
            News::Appended(key) => {
                state.tell_connections(&key);
            }
            News::Interrupt { to, session_key, chat_id } => {
                // Nobody waits for the outcome: the sender was told `Forwarded`.
                let (reply, _) = oneshot::channel();
                state.command_newest(&to, ConnCommand::Interrupt(session_key, chat_id, reply));
            }
        }
    })
}

/// An interrupt for a session no connection here owns: the gateway that
/// owns it, as the fabric knows, gets it through the instance holding it.
pub(crate) async fn interrupt_elsewhere(
    state: &Arc<Mutex<ServerState>>,
    session_key: &str,
    chat_id: &str,
) -> Result<Result<Delivery, BacklogKey>, ServerError> {
    let no_route = || ServerError::NoRoute(session_key.to_owned());
    let Some(fabric) = lock(state).fabric.clone() else { return Err(no_route()) };
    let owner = fabric.session_owner(session_key).await.ok().flatten().ok_or_else(no_route)?;
    if lock(state).gateways.contains_key(&owner) {
        // Held here after all: the caller sends it down the connection.
        return Ok(Err(owner));
    }
    interrupt_held_elsewhere(state, &owner, session_key, chat_id).await.map(Ok)
}

/// An interrupt for a gateway with no ready connection here: handed to
/// the instance holding it, if one does.
pub(crate) async fn interrupt_held_elsewhere(
    state: &Mutex<ServerState>,
    to: &BacklogKey,
    session_key: &str,
    chat_id: &str,
) -> Result<Delivery, ServerError> {
    let not_connected = || ServerError::NotConnected(to.clone());
    let Some(fabric) = lock(state).fabric.clone() else { return Err(not_connected()) };
    match fabric.holder(to).await {
        Ok(Some(holder)) if holder.instance != fabric.instance_id() => {
            fabric.send_interrupt(to, session_key, chat_id);
            Ok(Delivery::Forwarded { instance: holder.instance })
        }
        Ok(_) | Err(_) => Err(not_connected()),
    }
}

/// The fabric's record of sessions, when there is one.
pub(crate) fn note_session(fabric: Option<&Arc<dyn Fabric>>, session_key: &str, key: &BacklogKey) {
    if let Some(fabric) = fabric {
        fabric.note_session(session_key, key);
    }
}
