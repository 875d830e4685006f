//! A command channel's sending end shared by `&self` calls.

use std::future::Future;
use std::sync::{Mutex, PoisonError};
use std::task::{Poll, ready};

use futures::channel::mpsc;
use futures::future::{self, Either};

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

    /// Queues `command` now when the channel has room (the future is then
    /// already complete), else when the future is polled and room comes.
    /// Queueing at the call keeps the command out of the future, and the
    /// future is a plain one (no async block, which would hold its parts
    /// twice): a request future stays a few words instead of carrying the
    /// command through every layer above it.
    pub(crate) fn send(&self, command: T) -> impl Future<Output = Result<(), Disconnected>> + use<T> {
        match queue(&mut self.sender(), command) {
            Ok(queued) => Either::Left(queued.wait()),
            Err(error) => Either::Right(future::ready(Err(error))),
        }
    }
}

/// What [`queue`] did with a command.
pub(crate) enum Queued<T> {
    Sent,
    /// The channel was full: a clone of the sender to wait on, and the
    /// command. Boxed: it is the rare case, and this keeps `Queued` a word.
    Full(Box<(mpsc::Sender<T>, Option<T>)>),
}

impl<T> Queued<T> {
    /// Waits until the command is in the channel.
    pub(crate) fn wait(self) -> impl Future<Output = Result<(), Disconnected>> {
        let mut full = match self {
            Self::Sent => return Either::Left(future::ready(Ok(()))),
            Self::Full(full) => full,
        };
        Either::Right(future::poll_fn(move |cx| {
            let (sender, command) = &mut *full;
            ready!(sender.poll_ready(cx)).map_err(|_| Disconnected)?;
            // Taken once: the future is not polled again after it is ready.
            Poll::Ready(match command.take() {
                Some(command) => sender.start_send(command).map_err(|_| Disconnected),
                None => Ok(()),
            })
        }))
    }
}

/// Queues `command` on `sender` now when the channel has room, without the
/// allocation a clone costs; a full channel hands back a clone to wait on.
pub(crate) fn queue<T>(sender: &mut mpsc::Sender<T>, command: T) -> Result<Queued<T>, Disconnected> {
    match sender.try_send(command) {
        Ok(()) => Ok(Queued::Sent),
        Err(e) if e.is_full() => Ok(Queued::Full(Box::new((sender.clone(), Some(e.into_inner()))))),
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
