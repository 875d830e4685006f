//! Properties of the gateway machine under random operation sequences.
#![cfg(feature = "sim")]

use std::time::Duration;

use quickcheck::{Arbitrary, Gen, QuickCheck};
use relay_core::gateway::{Action, CloseFrame, GatewayConfig};
use relay_core::sim::{Chunking, Pair, ReplyMode, ScriptedConnector, echo_result};
use relay_core::wire::{OutboundAction, SendMessage};

/// One thing that can happen to a connection.
#[derive(Debug, Clone)]
enum Op {
    Request,
    AnswerHeld { index: u8, twice: bool },
    Advance { millis: u32 },
    PushBytes(Vec<u8>),
    PushInbound { buffered: bool },
    GoIdle,
    Interrupt,
    Close,
    Drop,
}

impl Arbitrary for Op {
    fn arbitrary(g: &mut Gen) -> Self {
        match u8::arbitrary(g) % 16 {
            0..=4 => Self::Request,
            5..=7 => Self::AnswerHeld { index: u8::arbitrary(g), twice: bool::arbitrary(g) },
            8..=10 => Self::Advance { millis: u32::arbitrary(g) % 40_000 },
            11 => Self::PushBytes(Vec::arbitrary(g)),
            12 => Self::PushInbound { buffered: bool::arbitrary(g) },
            13 => Self::GoIdle,
            14 => Self::Interrupt,
            _ => {
                if bool::arbitrary(g) {
                    Self::Close
                } else {
                    Self::Drop
                }
            }
        }
    }
}

fn run(ops: &[Op], manual_handshake: bool, chunking: Chunking) -> Vec<relay_core::sim::TranscriptEntry> {
    let config = GatewayConfig { max_pending: 16, seed: 3, ..GatewayConfig::default() };
    let mut peer = ScriptedConnector::new();
    peer.set_reply(ReplyMode::Hold);
    let mut p = Pair::new(config, if manual_handshake { peer.manual_handshake() } else { peer }, chunking);
    for op in ops {
        match op {
            Op::Request => {
                let _ = p.request(OutboundAction::Send(SendMessage::new("c", "x")));
            }
            Op::AnswerHeld { index, twice } => {
                let held = p.peer.held().to_vec();
                if let Some((id, action)) = held.get(usize::from(*index) % held.len().max(1)) {
                    p.peer.answer(id, echo_result(action));
                    if *twice {
                        p.peer.answer(id, echo_result(action));
                    }
                }
                p.flush_peer();
            }
            Op::Advance { millis } => p.advance(Duration::from_millis(u64::from(*millis))),
            Op::PushBytes(bytes) => {
                p.peer.push_raw(bytes.clone());
                p.flush_peer();
            }
            Op::PushInbound { buffered } => {
                let id = if *buffered { ",\"bufferId\":\"b\"" } else { "" };
                p.peer.push_raw(format!("{{\"type\":\"inbound\",\"event\":{{}}{id}}}\n").into_bytes());
                p.flush_peer();
            }
            Op::GoIdle => {
                let _ = p.command(|m, now| m.go_idle(now));
            }
            Op::Interrupt => {
                let _ = p.command(|m, now| m.interrupt(now, "k", None));
            }
            Op::Close => {
                let _ = p.command(|m, now| m.close(now));
            }
            Op::Drop => p.drop_connection(Some(CloseFrame::new(1006, ""))),
        }
        p.settle();
    }
    // Whatever happened, ending the connection settles everything still pending.
    p.drop_connection(None);
    assert_eq!(p.invariants().unsettled(), 0);
    assert!(p.invariants().is_closed());
    p.take_transcript()
}

#[test]
fn every_request_settles_exactly_once() {
    fn property(ops: Vec<Op>, manual_handshake: bool) -> bool {
        // The pair's contract checker panics on a second settlement, on
        // settling an unknown id, or on Closed with requests unsettled.
        let t = run(&ops, manual_handshake, Chunking::Whole);
        matches!(t.last().map(|e| &e.action), Some(Action::Closed(_)))
    }
    QuickCheck::new().tests(300).quickcheck(property as fn(Vec<Op>, bool) -> bool);
}

#[test]
fn transcripts_do_not_depend_on_chunking() {
    fn property(ops: Vec<Op>, seed: u64) -> bool {
        let whole = run(&ops, false, Chunking::Whole);
        whole == run(&ops, false, Chunking::ByteAtATime) && whole == run(&ops, false, Chunking::seeded(seed))
    }
    QuickCheck::new().tests(200).quickcheck(property as fn(Vec<Op>, u64) -> bool);
}
