//! Two connector servers on one shared store, joined by an in-memory
//! `Fabric` (shims/driver/src/fabric.rs): every push goes to the store,
//! the holder hears of it and delivers it from there; after the gateway
//! moves, nothing is lost; an interrupt made on the other instance reaches
//! the gateway through its holder.

mod support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use relay_core::connector::{BacklogKey, BufferedFrame};
use relay_core::gateway::Identity;
use relay_core::wire::{MessageEvent, Platform, SessionSource};
use relay_driver::{
    BoxFuture, ClientConfig, ClientEvent, Delivery, Fabric, Holder, News, NewsListener, ServerConfig,
    ServerEvent,
};
use relay_store::StoreHandle;
use support::{Replies, Rt, auto_connector, expect};

/// Claims, sessions and listeners of every instance, in one process.
#[derive(Default)]
struct Bus {
    claims: Mutex<BTreeMap<BacklogKey, Holder>>,
    sessions: Mutex<BTreeMap<String, BacklogKey>>,
    listeners: Mutex<Vec<(String, Arc<NewsListener>)>>,
}

impl Bus {
    /// Hands `news` to every instance but `from`.
    fn tell_others(&self, from: &str, news: &News) {
        let listeners: Vec<_> = self.listeners.lock().unwrap().clone();
        for (id, listener) in listeners {
            if id != from {
                listener(news.clone());
            }
        }
    }
}

impl std::fmt::Debug for Bus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bus").field("claims", &self.claims).finish_non_exhaustive()
    }
}

/// One instance's view of the [`Bus`].
#[derive(Debug)]
struct LocalFabric {
    id: String,
    bus: Arc<Bus>,
}

impl Fabric for LocalFabric {
    fn instance_id(&self) -> &str {
        &self.id
    }

    fn hold(&self, key: &BacklogKey, live: bool) {
        let holder = Holder { instance: self.id.clone(), live };
        self.bus.claims.lock().unwrap().insert(key.clone(), holder);
    }

    fn update(&self, key: &BacklogKey, live: bool) {
        let mut claims = self.bus.claims.lock().unwrap();
        if claims.get(key).is_none_or(|h| h.instance == self.id) {
            claims.insert(key.clone(), Holder { instance: self.id.clone(), live });
        }
    }

    fn release(&self, key: &BacklogKey) {
        let mut claims = self.bus.claims.lock().unwrap();
        if claims.get(key).is_some_and(|h| h.instance == self.id) {
            claims.remove(key);
        }
    }

    fn holder(&self, key: &BacklogKey) -> BoxFuture<Result<Option<Holder>, String>> {
        let holder = self.bus.claims.lock().unwrap().get(key).cloned();
        Box::pin(async move { Ok(holder) })
    }

    fn announce_append(&self, key: &BacklogKey) {
        self.bus.tell_others(&self.id, &News::Appended(key.clone()));
    }

    fn note_session(&self, session_key: &str, key: &BacklogKey) {
        self.bus.sessions.lock().unwrap().insert(session_key.to_owned(), key.clone());
    }

    fn session_owner(&self, session_key: &str) -> BoxFuture<Result<Option<BacklogKey>, String>> {
        let owner = self.bus.sessions.lock().unwrap().get(session_key).cloned();
        Box::pin(async move { Ok(owner) })
    }

    fn send_interrupt(&self, to: &BacklogKey, session_key: &str, chat_id: &str) {
        let news = News::Interrupt {
            to: to.clone(),
            session_key: session_key.to_owned(),
            chat_id: chat_id.to_owned(),
        };
        self.bus.tell_others(&self.id, &news);
    }

    fn subscribe(&self, listener: NewsListener) {
        self.bus.listeners.lock().unwrap().push((self.id.clone(), Arc::new(listener)));
    }
}

fn event(text: &str) -> BufferedFrame {
    let mut event = MessageEvent::text(SessionSource::new(Platform::Telegram, "42", "dm"), text);
    event.message_id = Some(text.to_owned());
    BufferedFrame::Inbound(Box::new(event))
}

async fn push_on_b_reaches_the_gateway_on_a_and_survives_a_move(rt: Rt) {
    let (bus, store) = (Arc::new(Bus::default()), StoreHandle::memory());
    let config = |id: &str| ServerConfig {
        store: Some(store.clone()),
        fabric: Some(Arc::new(LocalFabric { id: id.to_owned(), bus: Arc::clone(&bus) })),
        ..ServerConfig::default()
    };
    let (a, a_events) = rt.listen(config("A")).await;
    let (b, b_events) = rt.listen(config("B")).await;
    let mut seen_a = auto_connector(rt, a.clone(), a_events, Replies::Echo);
    let _seen_b = auto_connector(rt, b.clone(), b_events, Replies::Echo);
    let key = BacklogKey::Identity(Identity::default_relay());

    let (client, mut events) = rt.connect(&a.url(), ClientConfig::default()).await.unwrap();
    expect(rt, &mut seen_a, "live on A", |e| matches!(e, ServerEvent::Live { .. }).then_some(())).await;
    // Pushed on B, where the gateway is not: stored, and delivered by A.
    let delivery = b.push(&key, event("from-b")).await.unwrap();
    let Delivery::Routed { instance, buffer_id } = delivery else { panic!("routed through A: {delivery:?}") };
    assert_eq!(instance, "A");
    let got = expect(rt, &mut events, "the routed frame", |e| match e {
        ClientEvent::Inbound { event, buffer_id: Some(id) } => Some((event.text.clone(), id.clone())),
        _ => None,
    })
    .await;
    assert_eq!(got, ("from-b".to_owned(), buffer_id.clone()));
    client.ack(&buffer_id).await.unwrap();
    expect(rt, &mut seen_a, "live on A again", |e| matches!(e, ServerEvent::Live { .. }).then_some(())).await;
    // Pushed on A, which holds the gateway: through the store as well.
    let delivery = a.push(&key, event("from-a")).await.unwrap();
    let Delivery::Routed { instance, buffer_id } = delivery else { panic!("routed through A: {delivery:?}") };
    assert_eq!(instance, "A");
    let got = expect(rt, &mut events, "the frame pushed on A", |e| match e {
        ClientEvent::Inbound { event, buffer_id: Some(id) } => Some((event.text.clone(), id.clone())),
        _ => None,
    })
    .await;
    assert_eq!(got, ("from-a".to_owned(), buffer_id.clone()));
    client.ack(&buffer_id).await.unwrap();

    // An interrupt for the session made on B goes through A.
    let session = "agent:main:telegram:dm:42";
    assert_eq!(b.push_interrupt(session, "42").await.unwrap(), Delivery::Forwarded { instance: "A".into() });
    let interrupted = expect(rt, &mut events, "the interrupt", |e| match e {
        ClientEvent::Interrupt { session_key, .. } => Some(session_key.clone()),
        _ => None,
    })
    .await;
    assert_eq!(interrupted, session);

    // The gateway leaves A; what B takes meanwhile waits in the store and
    // reaches it on its next handshake, wherever that is.
    client.close().await;
    expect(rt, &mut seen_a, "A's connection closed", |e| {
        matches!(e, ServerEvent::Closed { .. }).then_some(())
    })
    .await;
    assert!(matches!(b.push(&key, event("while-away")).await.unwrap(), Delivery::Buffered { .. }));
    let (moved, mut events) = rt.connect(&b.url(), ClientConfig::default()).await.unwrap();
    let replayed = expect(rt, &mut events, "the replay on B", |e| match e {
        ClientEvent::Inbound { event, buffer_id: Some(id) } => Some((event.text.clone(), id.clone())),
        _ => None,
    })
    .await;
    assert_eq!(replayed.0, "while-away", "the acked entries are not replayed");
    moved.ack(&replayed.1).await.unwrap();
    moved.close().await;
}

on_both_runtimes!(push_on_b_reaches_the_gateway_on_a_and_survives_a_move);
