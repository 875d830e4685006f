//! `ServerHandle::answer`: an answer queued without waiting for the
//! connection's verdict, on tokio and on smol.

mod support;

use relay_core::connector::descriptor_for;
use relay_core::wire::ActionResult;
use relay_driver::{ClientConfig, ServerConfig, ServerError, ServerEvent};
use support::{Rt, expect};

async fn answers_reach_the_gateway_and_stray_ones_are_dropped(rt: Rt) {
    let (server, mut events) = rt.listen(ServerConfig::default()).await;
    let handle = server.clone();
    let (seen_tx, mut seen) = futures::channel::mpsc::unbounded();
    rt.spawn(async move {
        while let Some(event) = events.next().await {
            match &event {
                ServerEvent::Hello { conn, identity, .. } => {
                    let _ = handle.answer_hello(*conn, descriptor_for(&identity.platform)).await;
                }
                ServerEvent::Request { conn, request_id, .. } => {
                    // A stray answer first: no request has this id. It is
                    // dropped, and the real answer after it still lands.
                    handle.answer(*conn, "no-such-request", ActionResult::ok()).await.unwrap();
                    let mut result = ActionResult::ok();
                    result.message_id = Some(format!("answered-{request_id}"));
                    handle.answer(*conn, request_id, result).await.unwrap();
                }
                _ => {}
            }
            let _ = seen_tx.unbounded_send(event);
        }
    });
    let (client, _events) = rt.connect(&server.url(), ClientConfig::default()).await.expect("connects");
    for i in 0..3 {
        let result = client.send("c1", &format!("m{i}")).await.expect("a result");
        assert!(result.success);
        assert!(result.message_id.as_deref().is_some_and(|id| id.starts_with("answered-")), "{result:?}");
    }
    let conn = expect(rt, &mut seen, "the connection", |e| match e {
        ServerEvent::Request { conn, .. } => Some(*conn),
        _ => None,
    })
    .await;
    client.close().await;
    expect(rt, &mut seen, "the close", |e| matches!(e, ServerEvent::Closed { .. }).then_some(())).await;
    let late = server.answer(conn, "r1", ActionResult::ok()).await;
    assert!(matches!(late, Err(ServerError::NoConnection(c)) if c == conn), "{late:?}");
}

on_both_runtimes!(answers_reach_the_gateway_and_stray_ones_are_dropped);
