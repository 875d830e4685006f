//! A minimal connector: accepts gateways, answers their hellos and requests,
//! and sends each one a few messages. Run it, then the echo gateway:
//!
//! ```sh
//! cargo run -p relay-smol --example smol_minimal_connector -- 127.0.0.1:8080
//! ```

use std::time::Duration;

use relay_smol::relay_core::wire::{ActionResult, Descriptor, MessageEvent, Platform, SessionSource};
use relay_smol::{ServerConfig, ServerEvent, listen};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    smol::block_on(run())
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:8080".into()).parse()?;
    let (server, mut events) = listen(addr, ServerConfig::default()).await?;
    println!("gateways can dial {}", server.url());
    while let Some(event) = events.next().await {
        match event {
            ServerEvent::Hello { conn, identity, .. } => {
                let mut descriptor = Descriptor::new(identity.platform.clone(), "Example");
                descriptor.supports_edit = true;
                server.answer_hello(conn, descriptor).await?;
                // Greet the gateway with a few messages from a pretend chat.
                let server = server.clone();
                smol::spawn(async move {
                    for n in 1..=3 {
                        let source = SessionSource::new(Platform::Telegram, "chat-1", "dm");
                        let _ =
                            server.push_inbound(conn, MessageEvent::text(source, format!("hello {n}"))).await;
                        smol::Timer::after(Duration::from_millis(500)).await;
                    }
                })
                .detach();
            }
            ServerEvent::Request { conn, request_id, action, .. } => {
                println!("gateway {conn} asks: {} to {:?}", action.op(), action.chat_id());
                let mut result = ActionResult::ok();
                result.message_id = Some(format!("msg-{request_id}"));
                server.respond(conn, &request_id, result).await?;
            }
            ServerEvent::Closed { conn, reason } => println!("gateway {conn} left: {reason}"),
            _ => {}
        }
    }
    Ok(())
}
