//! A command channel's sending end shared by `&self` calls.

use std::sync::{Mutex, PoisonError};

use futures::SinkExt as _;
use futures::channel::mpsc;

/// Sends through one bounded sender while the channel has room, and waits
/// on a clone of it only when it is full. A call on `&self` would otherwise
/// clone the sender every time, and each clone allocates.
pub(crate) struct CommandSender<T>(Mutex<mpsc::Sender<T>>);

/// The receiving end is gone.
#[derive(Debug)]
pub(crate) struct Disconnected;

impl<T> CommandSender<T> {
    pub(crate) fn new(sender: mpsc::Sender<T>) -> Self {
        Self(Mutex::new(sender))
    }

    fn sender(&self) -> std::sync::MutexGuard<'_, mpsc::Sender<T>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) async fn send(&self, command: T) -> Result<(), Disconnected> {
        let queued = queue(&mut self.sender(), command)?;
        queued.wait().await
    }
}

/// What [`queue`] did with a command.
pub(crate) enum Queued<T> {
    Sent,
    /// The channel was full: a clone of the sender to wait on, and the command.
    Full(mpsc::Sender<T>, T),
}

impl<T> Queued<T> {
    /// Waits until the command is in the channel.
    pub(crate) async fn wait(self) -> Result<(), Disconnected> {
        match self {
            Self::Sent => Ok(()),
            Self::Full(mut sender, command) => sender.send(command).await.map_err(|_| Disconnected),
        }
    }
}

/// Queues `command` on `sender` now when the channel has room, without the
/// allocation a clone costs; a full channel hands back a clone to wait on.
pub(crate) fn queue<T>(sender: &mut mpsc::Sender<T>, command: T) -> Result<Queued<T>, Disconnected> {
    match sender.try_send(command) {
        Ok(()) => Ok(Queued::Sent),
        Err(e) if e.is_full() => Ok(Queued::Full(sender.clone(), e.into_inner())),
        Err(_) => Err(Disconnected),
    }
}

impl<T> Clone for CommandSender<T> {
    fn clone(&self) -> Self {
        Self::new(self.sender().clone())
    }
}

#[cfg(test)]
mod tests {
    use futures::StreamExt as _;
    use futures::executor::block_on;

    use super::*;

    #[test]
    fn a_full_channel_makes_the_sender_wait_and_keeps_the_order() {
        let (tx, mut rx) = mpsc::channel(0);
        let sender = CommandSender::new(tx);
        block_on(async {
            // A bounded channel of 0 holds one message per sender.
            sender.send(1).await.unwrap();
            let second = sender.send(2);
            let receive = async {
                assert_eq!(rx.next().await, Some(1));
                assert_eq!(rx.next().await, Some(2));
            };
            let (sent, ()) = futures::join!(second, receive);
            sent.unwrap();
        });
    }

    #[test]
    fn a_closed_channel_is_disconnected() {
        let (tx, rx) = mpsc::channel::<u8>(4);
        let sender = CommandSender::new(tx);
        drop(rx);
        assert!(block_on(sender.send(1)).is_err());
    }
}
