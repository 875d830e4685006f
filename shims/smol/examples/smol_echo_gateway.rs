//! An echo bot gateway: dials a connector and answers every message with
//! its own text. Run the minimal connector first, then:
//!
//! ```sh
//! cargo run -p relay-smol --example smol_echo_gateway -- ws://127.0.0.1:8080/relay
//! ```

use relay_smol::{ClientConfig, ClientEvent, ConnectionEvent, connect};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    smol::block_on(run())
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args().nth(1).unwrap_or_else(|| "ws://127.0.0.1:8080/relay".into());
    let (client, mut events) = connect(&url, ClientConfig::default()).await?;
    println!("connected to {url}");
    while let Some(event) = events.next().await {
        match event {
            ClientEvent::Inbound { event, buffer_id } => {
                let reply = client.send(&event.source.chat_id, &format!("echo: {}", event.text)).await;
                println!(
                    "{:>10} said {:?} → {:?}",
                    event.source.chat_id,
                    event.text,
                    reply.map(|r| r.success)
                );
                // Acknowledge buffered events once they are handled (custody).
                if let Some(id) = buffer_id {
                    client.ack(&id).await?;
                }
            }
            ClientEvent::Connection(ConnectionEvent::Stopped { reason }) => {
                println!("stopped: {reason}");
                break;
            }
            ClientEvent::Descriptor { identity, descriptor } => {
                println!(
                    "{identity}: {} (messages up to {})",
                    descriptor.label, descriptor.max_message_length
                )
            }
            other => println!("{other:?}"),
        }
    }
    Ok(())
}
