//! The simulated network: one link per dial, each a pair of ordered pipes
//! (gateway → connector, connector → gateway) with seeded per-message
//! latency, messages split across time on the way and merged or re-cut on
//! arrival, and links that fail — reset, cut in the middle of a message, or
//! black-holed (nothing arrives and nobody is told).
//!
//! A pipe keeps order like TCP does: a message is never due before the one
//! sent ahead of it. The link's opening is itself the first message towards
//! the gateway, so nothing the connector sends can overtake it.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::time::{Duration, Instant};

use rand::{Rng as _, RngCore as _, SeedableRng as _};
use rand_chacha::ChaCha8Rng;

use crate::gateway::CloseFrame;
use crate::sim::Chunking;

/// One dial's connection, numbered by the gateway in dial order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct ConnId(pub(crate) u64);

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// An end of a link: where a pipe delivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum End {
    Gateway,
    Connector,
}

/// What travels in a pipe: WebSocket messages and events.
#[derive(Debug, Clone)]
pub(crate) enum Msg {
    /// The upgrade completed (towards the gateway only, always first).
    Open,
    /// Bytes of a WebSocket data message (or a piece of one).
    Data(Vec<u8>),
    Ping,
    Pong,
    /// The peer closed, with its close frame; `None` is an abnormal end (1006).
    Close(Option<CloseFrame>),
}

/// How a link fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DropKind {
    /// Everything in flight is lost; both ends soon learn the link is gone.
    Reset,
    /// Like `Reset`, but a prefix of the bytes in flight still arrives: one
    /// message is cut part-way, then the link closes.
    Cut,
    /// Everything in flight and everything later is lost and nobody is told:
    /// only keepalive and handshake timers can notice.
    Blackhole,
}

/// What reaches an end.
#[derive(Debug)]
pub(crate) enum Arrival {
    Open,
    /// Data, already cut into `handle_input` calls.
    Data(Vec<Vec<u8>>),
    Ping,
    Pong,
    Close(Option<CloseFrame>),
}

/// What became of a send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SendOutcome {
    Queued,
    /// Lost without a trace (peer gone, or a black hole).
    Discarded,
    /// The socket reports the write failed (first write after a reset).
    WriteFailed,
}

/// The character of a run's network.
#[derive(Debug, Clone)]
pub(crate) struct NetParams {
    /// Latency every message has.
    pub(crate) base_latency: Duration,
    /// Extra latency drawn uniformly per message, up to this.
    pub(crate) jitter: Duration,
    /// Chance (per mille) that a data message is split into pieces arriving at different times.
    pub(crate) split_per_mille: u32,
    /// Weights of a pipe's arrival chunking: whole messages, merged, seeded re-cuts, byte at a time.
    pub(crate) chunking_weights: [u32; 4],
}

/// How data due at one instant is handed to the receiving machine.
#[derive(Debug)]
enum Arrive {
    Whole,
    Merged,
    Chunked(Chunking),
}

impl Arrive {
    fn apply(&mut self, messages: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
        match self {
            Self::Whole => messages,
            Self::Merged => vec![messages.concat()],
            Self::Chunked(chunking) => chunking.apply(messages),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PipeState {
    Up,
    /// Writes fail (reported once, then silently lost).
    Reset {
        reported: bool,
    },
    Blackhole,
}

#[derive(Debug)]
struct Pipe {
    queue: VecDeque<(Instant, Msg)>,
    /// Due time of the last message queued: nothing may be due before it.
    last_due: Instant,
    state: PipeState,
    /// The receiving end closed: nothing more is delivered.
    dest_closed: bool,
    arrive: Arrive,
}

impl Pipe {
    fn new(now: Instant, arrive: Arrive) -> Self {
        Self { queue: VecDeque::new(), last_due: now, state: PipeState::Up, dest_closed: false, arrive }
    }

    fn push(&mut self, at: Instant, msg: Msg) {
        let due = at.max(self.last_due);
        self.last_due = due;
        self.queue.push_back((due, msg));
    }

    /// Fails the pipe at `now`; see [`DropKind`].
    fn fail(&mut self, rng: &mut ChaCha8Rng, now: Instant, kind: DropKind) {
        if self.state != PipeState::Up {
            return;
        }
        let mut in_flight: VecDeque<(Instant, Msg)> = std::mem::take(&mut self.queue);
        // The opening is not "in flight data": the socket did open, only
        // what follows it is lost (so a dial never hangs forever).
        let open = matches!(in_flight.front(), Some((_, Msg::Open))).then(|| in_flight.pop_front()).flatten();
        self.last_due = now;
        if let Some((due, msg)) = open {
            self.push(due, msg);
        }
        if kind == DropKind::Cut {
            let total: usize =
                in_flight.iter().map(|(_, m)| if let Msg::Data(b) = m { b.len() } else { 0 }).sum();
            let mut keep = if total > 0 { rng.random_range(0..total) } else { 0 };
            for (due, msg) in in_flight {
                let Msg::Data(bytes) = msg else { continue };
                if keep >= bytes.len() {
                    keep -= bytes.len();
                    self.push(due, Msg::Data(bytes));
                } else {
                    if keep > 0 {
                        self.push(due, Msg::Data(bytes[..keep].to_vec()));
                    }
                    break;
                }
            }
        }
        if kind == DropKind::Blackhole {
            self.state = PipeState::Blackhole;
            return;
        }
        self.state = PipeState::Reset { reported: false };
        let notice = Duration::from_micros(rng.random_range(0..=200_000));
        self.push(now + notice, Msg::Close(None));
    }
}

#[derive(Debug)]
struct Link {
    to_gateway: Pipe,
    to_connector: Pipe,
    /// Fail the link after this many more sends (either way).
    drop_after: Option<(u32, DropKind)>,
}

impl Link {
    fn pipe(&self, to: End) -> &Pipe {
        match to {
            End::Gateway => &self.to_gateway,
            End::Connector => &self.to_connector,
        }
    }

    fn pipe_mut(&mut self, to: End) -> &mut Pipe {
        match to {
            End::Gateway => &mut self.to_gateway,
            End::Connector => &mut self.to_connector,
        }
    }

    fn fail(&mut self, rng: &mut ChaCha8Rng, now: Instant, kind: DropKind) {
        self.drop_after = None;
        self.to_gateway.fail(rng, now, kind);
        self.to_connector.fail(rng, now, kind);
    }

    fn is_up(&self) -> bool {
        self.to_gateway.state == PipeState::Up || self.to_connector.state == PipeState::Up
    }
}

/// Every link of the run, and the seeded generator of its latencies and cuts.
#[derive(Debug)]
pub(crate) struct Network {
    links: BTreeMap<ConnId, Link>,
    rng: ChaCha8Rng,
    params: NetParams,
    /// A slow period: extra latency until then.
    slow: Option<(Instant, Duration)>,
}

impl Network {
    pub(crate) fn new(params: NetParams, seed: u64) -> Self {
        Self { links: BTreeMap::new(), rng: ChaCha8Rng::seed_from_u64(seed), params, slow: None }
    }

    /// A one-way latency drawn now (also used for dials).
    pub(crate) fn latency(&mut self, now: Instant) -> Duration {
        let jitter_us = u64::try_from(self.params.jitter.as_micros()).unwrap_or(u64::MAX);
        let jitter =
            Duration::from_micros(if jitter_us == 0 { 0 } else { self.rng.random_range(0..=jitter_us) });
        let slow = match self.slow {
            Some((until, extra)) if now < until => extra,
            _ => Duration::ZERO,
        };
        self.params.base_latency + jitter + slow
    }

    /// The connector accepted the dial of `conn` at `now`: the link exists,
    /// and the gateway learns the socket opened one latency later.
    pub(crate) fn connect(&mut self, now: Instant, conn: ConnId) {
        let to_gateway = Pipe::new(now, self.arrival_mode());
        let to_connector = Pipe::new(now, self.arrival_mode());
        let mut link = Link { to_gateway, to_connector, drop_after: None };
        let at = now + self.latency(now);
        link.to_gateway.push(at, Msg::Open);
        self.links.insert(conn, link);
    }

    fn arrival_mode(&mut self) -> Arrive {
        let [whole, merged, seeded, bytes] = self.params.chunking_weights;
        let total = (whole + merged + seeded + bytes).max(1);
        let pick = self.rng.random_range(0..total);
        if pick < whole {
            Arrive::Whole
        } else if pick < whole + merged {
            Arrive::Merged
        } else if pick < whole + merged + seeded {
            Arrive::Chunked(Chunking::seeded(self.rng.next_u64()))
        } else {
            Arrive::Chunked(Chunking::ByteAtATime)
        }
    }

    /// Sends `msg` on `conn` towards `to`.
    pub(crate) fn send(&mut self, now: Instant, conn: ConnId, to: End, msg: Msg) -> SendOutcome {
        let latency = self.latency(now);
        let Self { links, rng, params, .. } = self;
        let Some(link) = links.get_mut(&conn) else { return SendOutcome::Discarded };
        let pipe = link.pipe_mut(to);
        if pipe.dest_closed {
            return SendOutcome::Discarded;
        }
        match pipe.state {
            PipeState::Up => {}
            PipeState::Blackhole | PipeState::Reset { reported: true } => return SendOutcome::Discarded,
            PipeState::Reset { reported: false } => {
                pipe.state = PipeState::Reset { reported: true };
                return SendOutcome::WriteFailed;
            }
        }
        let at = now + latency;
        match msg {
            Msg::Data(bytes) if bytes.len() >= 2 && rng.random_range(0..1000) < params.split_per_mille => {
                // One message arrives in pieces, at different times: the
                // receiver must wait for the rest of the line.
                let pieces = rng.random_range(2..=4usize);
                let mut cuts: Vec<usize> = (1..pieces).map(|_| rng.random_range(1..bytes.len())).collect();
                cuts.sort_unstable();
                cuts.dedup();
                let mut start = 0;
                let mut due = at;
                for cut in cuts.into_iter().chain([bytes.len()]) {
                    pipe.push(due, Msg::Data(bytes[start..cut].to_vec()));
                    start = cut;
                    due += Duration::from_micros(rng.random_range(0..=5_000));
                }
            }
            msg => pipe.push(at, msg),
        }
        if let Some((left, kind)) = link.drop_after {
            if left <= 1 {
                link.fail(rng, now, kind);
            } else {
                link.drop_after = Some((left - 1, kind));
            }
        }
        SendOutcome::Queued
    }

    /// Fails `conn` after `sends` more messages, so a drop lands exactly
    /// between (or, with [`DropKind::Cut`], inside) frames of a burst.
    pub(crate) fn arm_drop(&mut self, conn: ConnId, sends: u32, kind: DropKind) {
        if let Some(link) = self.links.get_mut(&conn).filter(|l| l.is_up()) {
            link.drop_after = Some((sends.max(1), kind));
        }
    }

    /// Fails `conn` now.
    pub(crate) fn fail(&mut self, now: Instant, conn: ConnId, kind: DropKind) {
        if let Some(link) = self.links.get_mut(&conn) {
            link.fail(&mut self.rng, now, kind);
        }
    }

    /// The `end` of `conn` is gone (its machine closed, or the process
    /// died): nothing more is delivered to it.
    pub(crate) fn close_end(&mut self, conn: ConnId, end: End) {
        let Some(link) = self.links.get_mut(&conn) else { return };
        let pipe = link.pipe_mut(end);
        pipe.dest_closed = true;
        pipe.queue.clear();
        if link.to_gateway.dest_closed && link.to_connector.dest_closed {
            self.links.remove(&conn);
        }
    }

    /// Whether both pipes of `conn` work and both ends are open.
    pub(crate) fn is_healthy(&self, conn: ConnId) -> bool {
        self.links.get(&conn).is_some_and(|l| {
            [&l.to_gateway, &l.to_connector].iter().all(|p| p.state == PipeState::Up && !p.dest_closed)
        })
    }

    /// Links with at least one pipe not yet failed, in order.
    pub(crate) fn live_links(&self) -> Vec<ConnId> {
        self.links.iter().filter(|(_, l)| l.is_up()).map(|(id, _)| *id).collect()
    }

    /// Adds `extra` latency to messages sent before `until`.
    pub(crate) fn slow_down(&mut self, until: Instant, extra: Duration) {
        self.slow = Some((until, extra));
    }

    /// Ends any slow period (the final quiet phase wants a healthy network).
    pub(crate) fn heal(&mut self) {
        self.slow = None;
    }

    /// When the next message is due, if any.
    pub(crate) fn next_due(&self) -> Option<Instant> {
        self.links
            .values()
            .flat_map(|l| [l.to_gateway.queue.front(), l.to_connector.queue.front()])
            .flatten()
            .map(|(due, _)| *due)
            .min()
    }

    /// The earliest message due at or before `now`, with the data messages
    /// right behind it that are due too (merged or re-cut as the pipe does).
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<(ConnId, End, Arrival)> {
        let mut best: Option<(Instant, ConnId, End)> = None;
        for (id, link) in &self.links {
            for end in [End::Gateway, End::Connector] {
                if let Some((due, _)) = link.pipe(end).queue.front() {
                    if *due <= now && best.is_none_or(|(b, _, _)| *due < b) {
                        best = Some((*due, *id, end));
                    }
                }
            }
        }
        let (_, conn, end) = best?;
        let pipe = self.links.get_mut(&conn)?.pipe_mut(end);
        let (_, msg) = pipe.queue.pop_front()?;
        let arrival = match msg {
            Msg::Open => Arrival::Open,
            Msg::Ping => Arrival::Ping,
            Msg::Pong => Arrival::Pong,
            Msg::Close(frame) => Arrival::Close(frame),
            Msg::Data(first) => {
                let mut messages = vec![first];
                while matches!(pipe.queue.front(), Some((due, Msg::Data(_))) if *due <= now) {
                    if let Some((_, Msg::Data(bytes))) = pipe.queue.pop_front() {
                        messages.push(bytes);
                    }
                }
                Arrival::Data(pipe.arrive.apply(messages))
            }
        };
        Some((conn, end, arrival))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> NetParams {
        NetParams {
            base_latency: Duration::from_millis(5),
            jitter: Duration::from_millis(20),
            split_per_mille: 500,
            chunking_weights: [1, 1, 1, 1],
        }
    }

    /// Everything that reaches `end`, as one byte stream, plus whether it closed.
    fn drain(net: &mut Network, now: Instant, end: End) -> (Vec<u8>, bool) {
        let (mut bytes, mut closed) = (Vec::new(), false);
        while let Some((_, to, arrival)) = net.pop_due(now) {
            match (to == end, arrival) {
                (true, Arrival::Data(chunks)) => bytes.extend(chunks.concat()),
                (true, Arrival::Close(_)) => closed = true,
                _ => {}
            }
        }
        (bytes, closed)
    }

    #[test]
    fn pipes_keep_order_whatever_the_latency_splits_and_chunking() {
        let start = crate::sim::epoch();
        for seed in 0..20 {
            let mut net = Network::new(params(), seed);
            net.connect(start, ConnId(1));
            let mut sent = Vec::new();
            for i in 0..50u32 {
                let line = format!("{{\"n\":{i}}}\n").into_bytes();
                sent.extend_from_slice(&line);
                let now = start + Duration::from_millis(u64::from(i));
                assert_eq!(net.send(now, ConnId(1), End::Gateway, Msg::Data(line)), SendOutcome::Queued);
            }
            let (got, closed) = drain(&mut net, start + Duration::from_secs(60), End::Gateway);
            assert_eq!(got, sent, "seed {seed}");
            assert!(!closed);
        }
    }

    #[test]
    fn a_cut_delivers_a_prefix_then_closes_and_later_writes_fail_once() {
        let start = crate::sim::epoch();
        let mut net = Network::new(params(), 3);
        net.connect(start, ConnId(1));
        let mut sent = Vec::new();
        for i in 0..10u32 {
            let line = format!("{{\"n\":{i}}}\n").into_bytes();
            sent.extend_from_slice(&line);
            net.send(start, ConnId(1), End::Gateway, Msg::Data(line));
        }
        net.fail(start, ConnId(1), DropKind::Cut);
        let (got, closed) = drain(&mut net, start + Duration::from_secs(60), End::Gateway);
        assert!(closed, "a cut link closes");
        assert!(got.len() < sent.len() && sent.starts_with(&got), "a strict prefix arrives");
        let again = |net: &mut Network| net.send(start, ConnId(1), End::Gateway, Msg::Data(b"x\n".to_vec()));
        assert_eq!(again(&mut net), SendOutcome::WriteFailed);
        assert_eq!(again(&mut net), SendOutcome::Discarded);
    }

    #[test]
    fn a_black_hole_says_nothing_but_the_opening_still_arrives() {
        let start = crate::sim::epoch();
        let mut net = Network::new(params(), 4);
        net.connect(start, ConnId(1));
        net.send(start, ConnId(1), End::Gateway, Msg::Data(b"{}\n".to_vec()));
        net.fail(start, ConnId(1), DropKind::Blackhole);
        let Some((_, End::Gateway, Arrival::Open)) = net.pop_due(start + Duration::from_secs(1)) else {
            panic!("the opening was lost")
        };
        assert!(net.pop_due(start + Duration::from_secs(60)).is_none());
        assert_eq!(net.send(start, ConnId(1), End::Gateway, Msg::Ping), SendOutcome::Discarded);
    }
}
