//! The scripted session `relay demo` plays: an embedded connector and a
//! gateway on loopback, through every main feature of the protocol.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use relay_core::adapter::{InboundDedupe, convert_interaction};
use relay_core::connector::BacklogKey;
use relay_core::connector::{descriptor_for, echo_result};
use relay_core::gateway::Identity;
use relay_core::policy::{SessionKeyOptions, session_key};
use relay_core::wire::{Forward, MessageEvent, Platform, SessionSource};
use relay_driver::{
    ClientConfig, ClientEvent, ConnectionEvent, Delivery, Events, IdleOutcome, Runtime, ServerConfig,
    ServerEvent, ServerHandle,
};
use serde_json::json;

use super::report::Reporter;

/// Every wait in the demo gives up after this long.
const STEP_LIMIT: Duration = Duration::from_secs(15);

/// Why the demo stopped early.
pub(crate) type DemoError = String;

/// Counters for the summary.
#[derive(Default)]
struct Tally {
    requests: usize,
    latencies: Vec<Duration>,
    events: usize,
    replayed: usize,
    duplicates: usize,
}

/// Plays the whole session on runtime `rt`.
pub(crate) async fn play<R: Runtime>(rt: R, report: &Reporter) -> Result<(), DemoError> {
    let started = Instant::now();
    let mut tally = Tally::default();

    // The connector: answers hellos with each platform's profile and every
    // request with a result, in a background task of its own.
    let addr = "127.0.0.1:0".parse().expect("a literal address");
    let (server, mut server_events) = relay_driver::listen(rt.clone(), addr, ServerConfig::default())
        .await
        .map_err(|e| format!("listen: {e}"))?;
    let (seen_tx, mut seen) = futures::channel::mpsc::unbounded();
    {
        let server = server.clone();
        rt.spawn(async move {
            while let Some(event) = server_events.next().await {
                match &event {
                    ServerEvent::Hello { conn, identity, .. } => {
                        let _ = server.answer_hello(*conn, descriptor_for(&identity.platform)).await;
                    }
                    ServerEvent::Request { conn, request_id, action, .. } => {
                        let _ = server.respond(*conn, request_id, echo_result(action)).await;
                    }
                    _ => {}
                }
                let _ = seen_tx.unbounded_send(event);
            }
        });
    }
    report.stage("listening", "embedded connector is up", json!({ "url": server.url() }));

    // The gateway: two identities on one socket.
    let identities = [Identity::new("discord", "bot-d"), Identity::new("telegram", "bot-t")];
    let config = ClientConfig::default().with_identities(identities.clone());
    let (client, mut events) = relay_driver::connect(rt.clone(), &server.url(), config)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    // `connect` returns at the first descriptor; the others follow it.
    let mut answered = Vec::new();
    while answered.len() < identities.len() {
        let identity = wait_event(&rt, &mut events, |e| match e {
            ClientEvent::Descriptor { identity, .. } => Some(identity.clone()),
            _ => None,
        })
        .await?;
        answered.push(identity);
    }
    for identity in &identities {
        let d = client.descriptor_for(identity).ok_or("a descriptor per identity")?;
        report.stage(
            "handshake",
            &format!("{} answered {identity}", d.label),
            json!({
                "identity": identity.to_string(),
                "max_length": format!("{} {}", d.max_message_length, d.len_unit.as_str()),
                "markdown": d.markdown_dialect,
                "ops": d.supported_ops.join(", "),
            }),
        );
    }
    let conn = wait_server(&rt, &mut seen, |e| match e {
        ServerEvent::Connected { conn, .. } => Some(*conn),
        _ => None,
    })
    .await?;
    // The (empty) backlog is read first; pushes go out live after that.
    wait_server(&rt, &mut seen, |e| matches!(e, ServerEvent::Live { conn: c } if *c == conn).then_some(()))
        .await?;

    // Inbound messages, their session keys, replies and an edit.
    let mut discord = SessionSource::new(Platform::Discord, "chan-42", "group");
    discord.user_id = Some("user-7".into());
    discord.user_name = Some("Ada".into());
    discord.scope_id = Some("guild-1".into());
    let mut telegram = SessionSource::new(Platform::Telegram, "1001", "dm");
    telegram.user_id = Some("1001".into());
    let inbound = [
        MessageEvent::text(discord.clone(), "what's the weather in Zürich?"),
        MessageEvent::text(telegram.clone(), "hi 👋 — can you summarize my notes?"),
    ];
    for event in &inbound {
        push(&server, conn, event.clone()).await?;
        let got = wait_event(&rt, &mut events, |e| match e {
            ClientEvent::Inbound { event, .. } => Some(event.clone()),
            _ => None,
        })
        .await?;
        tally.events += 1;
        let key = session_key(&got.source, SessionKeyOptions::default(), None);
        report.stage(
            "inbound",
            &format!("{} message from {}", got.source.platform, got.source.chat_id),
            json!({ "text": got.text, "session_key": key }),
        );
        let reply = timed(&mut tally, client.send(&got.source.chat_id, "On it…")).await?;
        let message_id = reply.message_id.clone().unwrap_or_default();
        report.stage(
            "reply",
            &format!("sent to {}", got.source.chat_id),
            json!({ "result": result_json(&reply) }),
        );
        let edit = timed(&mut tally, client.edit(&got.source.chat_id, &message_id, "Here you go.")).await?;
        report.stage("edit", &format!("edited {message_id}"), json!({ "result": result_json(&edit) }));
    }

    // A follow-up names the session and a capability kind, never a token.
    let discord_key = session_key(&discord, SessionKeyOptions::default(), None);
    let follow = timed(&mut tally, client.follow_up(&discord_key, "discord_interaction", "Done!")).await?;
    let fields = wait_server(&rt, &mut seen, |e| match e {
        ServerEvent::Request { action, .. } if action.op() == "follow_up" => {
            Some(serde_json::to_value(action.as_ref()).ok()?.as_object()?.keys().cloned().collect::<Vec<_>>())
        }
        _ => None,
    })
    .await?;
    report.stage(
        "follow_up",
        "capability used by session, no credential on the wire",
        json!({ "fields": fields.join(", "), "result": result_json(&follow) }),
    );

    // Interrupts both ways, routed by session key.
    server.push_interrupt(&discord_key, "chan-42").await.map_err(|e| format!("interrupt: {e}"))?;
    let routed = wait_event(&rt, &mut events, |e| match e {
        ClientEvent::Interrupt { session_key, .. } => Some(session_key.clone()),
        _ => None,
    })
    .await?;
    client.interrupt(&routed, Some("user pressed stop")).await.map_err(|e| e.to_string())?;
    let reason = wait_server(&rt, &mut seen, |e| match e {
        ServerEvent::Interrupt { reason, .. } => Some(reason.clone().unwrap_or_default()),
        _ => None,
    })
    .await?;
    report.stage(
        "interrupt",
        "routed to the session that owns it",
        json!({ "session_key": routed, "reason": reason }),
    );

    // A passthrough webhook keeps its exact bytes, and converts to an event.
    let body = br#"{"type":2,"id":"itx-1","channel_id":"chan-42","guild_id":"guild-1","member":{"user":{"id":"user-7","username":"ada"}},"data":{"name":"ask","options":[{"name":"q","type":3,"value":"tides today"}]}}"#;
    let forward = Forward {
        platform: "discord".into(),
        bot_id: "bot-d".into(),
        method: "POST".into(),
        path: "/interactions".into(),
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: body.to_vec(),
        ..Forward::default()
    };
    server.push_forward(conn, forward).await.map_err(|e| format!("forward: {e}"))?;
    let got = wait_event(&rt, &mut events, |e| match e {
        ClientEvent::Passthrough { forward, .. } => Some(forward.clone()),
        _ => None,
    })
    .await?;
    let converted = convert_interaction(&got).map_err(|e| e.to_string())?;
    report.stage(
        "passthrough",
        "webhook delivered byte for byte",
        json!({ "bytes": got.body.len(), "exact": got.body == body, "converted": converted.text }),
    );
    if got.body != body {
        return Err("passthrough body changed in transit".into());
    }

    // Going idle: the connector buffers; the gateway comes back and gets the backlog.
    if client.go_idle().await != IdleOutcome::Acknowledged {
        return Err("going_idle was not acknowledged".into());
    }
    let mut buffered = Vec::new();
    for text in ["are you there?", "ping", "wake up ☀️"] {
        match server.push_inbound(conn, MessageEvent::text(telegram.clone(), text)).await {
            Ok(Delivery::Buffered { buffer_id }) => buffered.push(buffer_id),
            other => return Err(format!("expected buffering, got {other:?}")),
        }
    }
    let key = BacklogKey::Identity(identities[0].clone());
    report.stage(
        "idle",
        "gateway asleep; connector buffers",
        json!({ "buffered": backlog_len(&server, &key).await? }),
    );
    server.close(conn).await.map_err(|e| format!("close: {e}"))?;
    wait_event(&rt, &mut events, |e| {
        matches!(e, ClientEvent::Connection(ConnectionEvent::Reconnected)).then_some(())
    })
    .await?;
    let mut dedupe = InboundDedupe::new();
    let mut replayed = BTreeMap::new();
    while replayed.len() < buffered.len() {
        let (event, buffer_id) = wait_event(&rt, &mut events, |e| match e {
            ClientEvent::Inbound { event, buffer_id: Some(id) } => Some((event.clone(), id.clone())),
            _ => None,
        })
        .await?;
        if dedupe.is_duplicate(&event) {
            tally.duplicates += 1;
        }
        // Custody first (here: keeping it), then the ack.
        replayed.insert(buffer_id.clone(), event.text.clone());
        client.ack(&buffer_id).await.map_err(|e| e.to_string())?;
        tally.replayed += 1;
    }
    let deadline = rt.now() + STEP_LIMIT;
    while backlog_len(&server, &key).await? > 0 {
        if rt.now() >= deadline {
            return Err("timed out waiting for the backlog to drain".into());
        }
        rt.sleep_until(rt.now() + Duration::from_millis(10)).await;
    }
    report.stage(
        "reconnect",
        "backlog replayed in order, acknowledged, no duplicates",
        json!({ "replayed": replayed.values().cloned().collect::<Vec<_>>(), "backlog_left": 0 }),
    );

    client.close().await;
    tally.latencies.sort();
    let p50 = tally.latencies.get(tally.latencies.len() / 2).copied().unwrap_or_default();
    let max = tally.latencies.last().copied().unwrap_or_default();
    report.stage(
        "summary",
        "every stage passed",
        json!({
            "requests": tally.requests,
            "events": tally.events + tally.replayed,
            "replayed": tally.replayed,
            "duplicates": tally.duplicates,
            "p50_us": p50.as_micros() as u64,
            "max_us": max.as_micros() as u64,
            "elapsed_ms": started.elapsed().as_millis() as u64,
        }),
    );
    Ok(())
}

async fn push(server: &ServerHandle, conn: u64, event: MessageEvent) -> Result<(), DemoError> {
    match server.push_inbound(conn, event).await {
        Ok(Delivery::Sent) => Ok(()),
        other => Err(format!("push: {other:?}")),
    }
}

async fn timed(
    tally: &mut Tally,
    call: impl Future<Output = Result<relay_core::wire::ActionResult, relay_core::gateway::RequestError>>,
) -> Result<relay_core::wire::ActionResult, DemoError> {
    let started = Instant::now();
    let result = call.await.map_err(|e| e.to_string())?;
    tally.requests += 1;
    tally.latencies.push(started.elapsed());
    Ok(result)
}

fn result_json(result: &relay_core::wire::ActionResult) -> serde_json::Value {
    serde_json::to_value(result).unwrap_or_default()
}

async fn wait_event<T, R: Runtime>(
    rt: &R,
    events: &mut Events,
    pick: impl FnMut(&ClientEvent) -> Option<T>,
) -> Result<T, DemoError> {
    wait_stream(rt, events, "gateway event", pick).await
}

async fn wait_server<T, R: Runtime>(
    rt: &R,
    seen: &mut futures::channel::mpsc::UnboundedReceiver<ServerEvent>,
    pick: impl FnMut(&ServerEvent) -> Option<T>,
) -> Result<T, DemoError> {
    wait_stream(rt, seen, "connector event", pick).await
}

async fn wait_stream<T, E, R: Runtime>(
    rt: &R,
    stream: &mut (impl futures::Stream<Item = E> + Unpin),
    what: &str,
    mut pick: impl FnMut(&E) -> Option<T>,
) -> Result<T, DemoError> {
    let mut deadline = rt.sleep_until(rt.now() + STEP_LIMIT);
    loop {
        match futures::future::select(stream.next(), deadline).await {
            futures::future::Either::Left((Some(item), rest)) => {
                deadline = rest;
                if let Some(found) = pick(&item) {
                    return Ok(found);
                }
            }
            futures::future::Either::Left((None, _)) => return Err(format!("{what} stream ended")),
            futures::future::Either::Right(_) => return Err(format!("timed out waiting for a {what}")),
        }
    }
}

async fn backlog_len(server: &ServerHandle, key: &BacklogKey) -> Result<usize, DemoError> {
    server.backlog_len(key).await.map_err(|e| DemoError::from(format!("backlog: {e}")))
}
