//! The loop that runs one sans-IO machine over one WebSocket, for either side.
//!
//! It moves bytes between the socket and the machine, sleeps until the
//! machine's next deadline, applies commands and hands events on. It holds
//! no protocol rule: every decision is the machine's. Writes are batched and
//! flushed once per burst; a slow event consumer pauses reading from the
//! socket instead of growing memory; a peer that stops reading never stops
//! the timers.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use async_tungstenite::WebSocketStream;
use async_tungstenite::tungstenite::protocol::CloseFrame as WsCloseFrame;
use async_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use async_tungstenite::tungstenite::{Error as WsError, Message};
use futures::channel::mpsc;
use futures::{AsyncRead, AsyncWrite, Sink, Stream};
use relay_core::SocketMachine;
use relay_core::gateway::CloseFrame;

use crate::metrics::{FrameCounters, Side};
use crate::recording::{Direction, Recorded, Recorder};
use crate::{BoxFuture, Runtime};

/// How long the WebSocket close handshake may take after the machine closed.
const CLOSE_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(2);
/// Messages read per wakeup before other work gets a turn.
const READ_BUDGET: usize = 64;
/// Bytes waiting for the socket beyond which commands that may wait do:
/// a peer that stops reading slows their senders down instead of growing
/// memory. Requests and close never wait (see [`Endpoint::may_wait`]).
const MAX_QUEUED_BYTES: usize = 1 << 20;

/// Where a machine's actions go.
///
/// Every line is a text message of its own (PROTOCOL §1: senders put
/// exactly one frame per text message); the writes are batched instead, and
/// flushed once per burst.
#[derive(Debug)]
pub(crate) struct Outbox<E> {
    frames_out: FrameCounters,
    messages: VecDeque<Message>,
    /// Bytes of the text messages in `messages`.
    queued_bytes: usize,
    pub(crate) events: VecDeque<E>,
    /// Set once the machine closed: the close frame to send, if any.
    pub(crate) closed: Option<Option<CloseFrame>>,
}

impl<E> Outbox<E> {
    fn new(side: Side) -> Self {
        Self {
            frames_out: FrameCounters::new(side, "out"),
            messages: VecDeque::new(),
            queued_bytes: 0,
            events: VecDeque::new(),
            closed: None,
        }
    }

    pub(crate) fn send_line(&mut self, mut line: String) {
        // A message's bytes are the line's own allocation only when it is
        // exactly full; otherwise they take a second, shared one per message.
        // Lines are sized up front, so the shrink is (almost always) in place.
        line.shrink_to_fit();
        self.frames_out.count_line(line.as_bytes());
        self.queued_bytes += line.len();
        self.messages.push_back(Message::text(line));
    }

    pub(crate) fn send_ping(&mut self) {
        self.push(Message::Ping(Default::default()));
    }

    /// Queues a message behind every line sent before it.
    fn push(&mut self, message: Message) {
        self.messages.push_back(message);
    }

    /// The next message to write.
    fn next(&mut self) -> Option<Message> {
        let message = self.messages.pop_front()?;
        if let Message::Text(text) = &message {
            self.queued_bytes -= text.len();
        }
        Some(message)
    }

    fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }
}

/// One side's machine plus the glue between it and the application.
pub(crate) trait Endpoint {
    /// Which end of the protocol the machine is.
    const SIDE: Side;
    type Command: Unpin;
    type Event: Unpin;
    type Machine: SocketMachine;

    fn machine(&mut self) -> &mut Self::Machine;
    fn apply(&mut self, now: Instant, command: Self::Command);
    /// Whether `command` waits while the socket is backed up. Commands with
    /// their own deadline (requests) or that end the connection must not:
    /// behind a peer that stops reading they would wait forever.
    fn may_wait(command: &Self::Command) -> bool;
    /// Every handle is gone: nobody can use this connection any more.
    fn commands_ended(&mut self, now: Instant);
    /// Polls work of the endpoint's own (a store operation) and hands what
    /// completed to the machine; true when something did.
    fn poll_work(&mut self, _now: Instant, _cx: &mut Context<'_>) -> bool {
        false
    }
    /// Moves the machine's queued actions into `out`.
    fn drain(&mut self, now: Instant, out: &mut Outbox<Self::Event>);
}

/// Sees every data message received, before the machine does.
pub(crate) type LoopTap = Box<dyn Fn(&[u8]) + Send>;

pub(crate) struct SocketLoop<'a, R: Runtime, S, E: Endpoint> {
    rt: R,
    endpoint: Option<E>,
    ws: WebSocketStream<S>,
    commands: &'a mut mpsc::Receiver<E::Command>,
    events: mpsc::Sender<E::Event>,
    out: Outbox<E::Event>,
    frames_in: FrameCounters,
    unflushed: bool,
    /// The clock, read once per turn of the loop: every input of one turn
    /// shares it (a turn lasts microseconds; a clock read per message was a
    /// measurable share of the loop).
    now: Instant,
    /// The armed sleep and when it fires. Re-armed only when the machine's
    /// deadline moves earlier: a later one (the usual case as requests
    /// settle) lets it fire early, and the machine then has nothing due.
    sleep: Option<(Instant, BoxFuture<()>)>,
    /// Commands taken while the socket was backed up, applied in order once there is room.
    waiting: VecDeque<E::Command>,
    /// The machine closed: finishing the WebSocket close handshake until this fires.
    ending: Option<BoxFuture<()>>,
    commands_done: bool,
    tap: Option<LoopTap>,
    /// Sees every message both ways, with this connection's number.
    recorder: Option<(Recorder, u64)>,
}

/// What a finished loop hands back: the endpoint, and events the
/// application had not taken yet (still its to have).
pub(crate) type LoopEnd<E> = (E, VecDeque<<E as Endpoint>::Event>);

impl<'a, R: Runtime, S, E> SocketLoop<'a, R, S, E>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
    E: Endpoint + Unpin,
{
    pub(crate) fn new(
        rt: R,
        endpoint: E,
        ws: WebSocketStream<S>,
        commands: &'a mut mpsc::Receiver<E::Command>,
        events: mpsc::Sender<E::Event>,
    ) -> Self {
        let now = rt.now();
        Self {
            rt,
            now,
            endpoint: Some(endpoint),
            ws,
            commands,
            events,
            out: Outbox::new(E::SIDE),
            frames_in: FrameCounters::new(E::SIDE, "in"),
            unflushed: false,
            sleep: None,
            waiting: VecDeque::new(),
            ending: None,
            commands_done: false,
            tap: None,
            recorder: None,
        }
    }

    /// Shows every message sent and received to `recorder`, as connection `conn`.
    pub(crate) fn with_recorder(mut self, recorder: Option<Recorder>, conn: u64) -> Self {
        self.recorder = recorder.map(|recorder| (recorder, conn));
        self
    }

    /// Shows every received data message to `tap` first.
    pub(crate) fn with_tap(mut self, tap: Option<LoopTap>) -> Self {
        self.tap = tap;
        self
    }

    fn machine(&mut self) -> &mut E::Machine {
        self.endpoint().machine()
    }

    fn endpoint(&mut self) -> &mut E {
        self.endpoint.as_mut().expect("the endpoint is only taken when the loop ends")
    }

    /// Moves queued actions out; starts the close handshake once the machine closed.
    fn drain(&mut self) {
        let now = self.now;
        let endpoint = self.endpoint.as_mut().expect("the endpoint is only taken when the loop ends");
        endpoint.drain(now, &mut self.out);
        if self.ending.is_none() {
            if let Some(close) = &self.out.closed {
                if let Some(frame) = close {
                    let code = CloseCode::from(frame.code);
                    let reason = frame.reason.clone().into();
                    self.out.push(Message::Close(Some(WsCloseFrame { code, reason })));
                }
                self.ending = Some(self.rt.sleep_until(now + CLOSE_HANDSHAKE_TIMEOUT));
            }
        }
    }

    /// Hands undelivered events to the application while it has room.
    fn poll_deliver(&mut self, cx: &mut Context<'_>) {
        while let Some(event) = self.out.events.pop_front() {
            match self.events.poll_ready(cx) {
                Poll::Ready(Ok(())) => {
                    let _ = self.events.start_send(event);
                }
                // Nobody listens any more: events have nowhere to go.
                Poll::Ready(Err(_)) => {}
                Poll::Pending => {
                    self.out.events.push_front(event);
                    return;
                }
            }
        }
    }

    /// Writes queued messages, then flushes once they are all in; true when
    /// anything went out (room freed for more commands).
    fn poll_write(&mut self, cx: &mut Context<'_>) -> Result<bool, WsError> {
        let mut wrote = false;
        while !self.out.is_empty() {
            match Pin::new(&mut self.ws).poll_ready(cx) {
                Poll::Ready(Ok(())) => {
                    let message = self.out.next().expect("checked non-empty");
                    if let Some((recorder, conn)) = &self.recorder {
                        recorder.message(*conn, self.now, Direction::Out, &message);
                    }
                    Pin::new(&mut self.ws).start_send(message)?;
                    self.unflushed = true;
                    wrote = true;
                }
                Poll::Ready(Err(e)) => return Err(e),
                Poll::Pending => return Ok(wrote),
            }
        }
        if self.unflushed {
            match Pin::new(&mut self.ws).poll_flush(cx) {
                Poll::Ready(Ok(())) => self.unflushed = false,
                Poll::Ready(Err(e)) => return Err(e),
                Poll::Pending => {}
            }
        }
        Ok(wrote)
    }

    fn write_or_fail(&mut self, cx: &mut Context<'_>) -> bool {
        match self.poll_write(cx) {
            Ok(wrote) => wrote,
            Err(error) => {
                let now = self.now;
                self.machine().handle_write_failed(now, &error.to_string());
                self.drain();
                true
            }
        }
    }

    /// Reads messages while the application keeps up; true when something was read.
    fn poll_read(&mut self, cx: &mut Context<'_>) -> bool {
        let mut progressed = false;
        for _ in 0..READ_BUDGET {
            // Hand the last message's events on before reading the next: a
            // consumer with room keeps the reads going, a full one stops them.
            self.poll_deliver(cx);
            if !self.out.events.is_empty() || self.ending.is_some() {
                break;
            }
            let now = self.now;
            let message = match Pin::new(&mut self.ws).poll_next(cx) {
                Poll::Pending => break,
                Poll::Ready(message) => message,
            };
            progressed = true;
            if let Some((recorder, conn)) = &self.recorder {
                match &message {
                    Some(Ok(message)) => recorder.message(*conn, now, Direction::In, message),
                    // The transport ended without a close frame: a replay ends it there too.
                    Some(Err(_)) | None => recorder.record(*conn, now, Recorded::Close(Direction::In, None)),
                }
            }
            let data = match &message {
                Some(Ok(Message::Text(text))) => Some(text.as_bytes()),
                Some(Ok(Message::Binary(bytes))) => Some(&bytes[..]),
                _ => None,
            };
            if let Some(data) = data {
                self.frames_in.count(data);
                if let Some(tap) = &self.tap {
                    tap(data);
                }
            }
            let machine =
                self.endpoint.as_mut().expect("the endpoint is only taken when the loop ends").machine();
            match message {
                Some(Ok(Message::Text(text))) => machine.handle_input(now, text.as_bytes()),
                Some(Ok(Message::Binary(bytes))) => machine.handle_input(now, &bytes),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => machine.handle_keepalive(now),
                Some(Ok(Message::Close(frame))) => {
                    // Nothing can follow a close frame: the connection is over
                    // now, even if the peer never ends the TCP stream.
                    // tungstenite queued the reply; the close phase flushes it.
                    self.unflushed = true;
                    let close = frame.map(|f| CloseFrame::new(u16::from(f.code), f.reason.as_str()));
                    machine.handle_transport_closed(now, close);
                }
                Some(Ok(Message::Frame(_))) => {}
                Some(Err(error)) => {
                    tracing::debug!(%error, "websocket error");
                    let close = close_for(&error);
                    if let Some(frame) = &close {
                        // Fail the WebSocket connection with that code (RFC 6455 §7.1.7).
                        let (code, reason) = (CloseCode::from(frame.code), frame.reason.clone().into());
                        self.out.push(Message::Close(Some(WsCloseFrame { code, reason })));
                    }
                    machine.handle_transport_closed(now, close);
                }
                None => machine.handle_transport_closed(now, None),
            }
            self.drain();
        }
        progressed
    }

    /// Hands the frames counted in this burst to the metrics.
    fn flush_counts(&mut self) {
        self.frames_in.flush();
        self.out.frames_out.flush();
    }

    fn has_room(&self) -> bool {
        self.out.queued_bytes < MAX_QUEUED_BYTES
    }

    fn poll_commands(&mut self, cx: &mut Context<'_>) -> bool {
        let mut progressed = false;
        // Commands that waited for room go first, in order.
        while self.ending.is_none() && self.has_room() {
            let Some(command) = self.waiting.pop_front() else { break };
            let now = self.now;
            self.endpoint().apply(now, command);
            self.drain();
            progressed = true;
        }
        while !self.commands_done && self.ending.is_none() {
            let now = self.now;
            match Pin::new(&mut *self.commands).poll_next(cx) {
                Poll::Ready(Some(command))
                    if E::may_wait(&command) && !(self.has_room() && self.waiting.is_empty()) =>
                {
                    self.waiting.push_back(command);
                }
                Poll::Ready(Some(command)) => self.endpoint().apply(now, command),
                Poll::Ready(None) => {
                    self.commands_done = true;
                    self.endpoint().commands_ended(now);
                }
                Poll::Pending => break,
            }
            progressed = true;
            self.drain();
        }
        progressed
    }

    /// Sleeps until the machine's next deadline; true when it fired.
    fn poll_timer(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(deadline) = self.machine().poll_timeout() else {
            self.sleep = None;
            return false;
        };
        if self.sleep.as_ref().is_none_or(|(at, _)| *at > deadline) {
            self.sleep = Some((deadline, self.rt.sleep_until(deadline)));
        }
        let (_, sleep) = self.sleep.as_mut().expect("just set");
        // Compare with the clock too: a runtime may report an elapsed sleep
        // as pending for a while.
        let fired = sleep.as_mut().poll(cx).is_ready();
        if fired || self.now >= deadline {
            self.sleep = None;
            if self.now < deadline {
                // Armed for an earlier deadline that has gone: nothing is due yet.
                return true;
            }
            let now = self.now;
            self.machine().handle_timeout(now);
            self.drain();
            return true;
        }
        false
    }

    /// Finishes the close handshake, bounded by its timeout.
    fn poll_ending(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let written = self.poll_write(cx).map(drop);
        let timed_out = self.ending.as_mut().is_some_and(|deadline| deadline.as_mut().poll(cx).is_ready());
        let done = match written {
            Err(_) => true,
            Ok(()) if self.out.is_empty() && !self.unflushed => {
                Pin::new(&mut self.ws).poll_close(cx).is_ready()
            }
            Ok(()) => false,
        };
        if done || timed_out { Poll::Ready(()) } else { Poll::Pending }
    }
}

/// The close code a local WebSocket error stands for (PROTOCOL §1).
fn close_for(error: &WsError) -> Option<CloseFrame> {
    match error {
        WsError::Utf8(_) => Some(CloseFrame::new(1007, "invalid UTF-8 in a text message")),
        WsError::Capacity(_) => Some(CloseFrame::new(1009, "message too big")),
        _ => None,
    }
}

impl<R: Runtime, S, E> Future for SocketLoop<'_, R, S, E>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
    E: Endpoint + Unpin,
{
    type Output = LoopEnd<E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<LoopEnd<E>> {
        let this = self.get_mut();
        this.now = this.rt.now();
        this.drain();
        loop {
            this.now = this.rt.now();
            if this.ending.is_some() {
                this.poll_deliver(cx);
                if this.poll_ending(cx).is_pending() {
                    this.flush_counts();
                    return Poll::Pending;
                }
                this.flush_counts();
                let endpoint = this.endpoint.take().expect("the loop ends once");
                return Poll::Ready((endpoint, std::mem::take(&mut this.out.events)));
            }
            let mut progressed = this.poll_commands(cx);
            let now = this.now;
            if this.endpoint().poll_work(now, cx) {
                this.drain();
                progressed = true;
            }
            progressed |= this.write_or_fail(cx);
            this.poll_deliver(cx);
            progressed |= this.poll_read(cx);
            progressed |= this.poll_timer(cx);
            // Every source was polled to Pending (or made progress and gets
            // another turn), so a wakeup is registered for each.
            if !progressed && this.ending.is_none() {
                this.flush_counts();
                return Poll::Pending;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(out: &mut Outbox<()>) -> Vec<String> {
        std::iter::from_fn(|| out.next())
            .map(|m| match m {
                Message::Text(text) => text.as_str().to_owned(),
                other => format!("<{other:?}>"),
            })
            .collect()
    }

    #[test]
    fn every_line_is_a_text_message_of_its_own_in_order() {
        let mut out = Outbox::<()>::new(Side::Gateway);
        out.send_line("{\"a\":1}\n".into());
        out.send_line("{\"b\":2}\n".into());
        out.send_ping();
        out.send_line("{\"c\":3}\n".into());
        assert_eq!(out.queued_bytes, 24);
        assert_eq!(texts(&mut out), ["{\"a\":1}\n", "{\"b\":2}\n", "<Ping(b\"\")>", "{\"c\":3}\n"]);
        assert!(out.is_empty() && out.queued_bytes == 0);
    }
}
