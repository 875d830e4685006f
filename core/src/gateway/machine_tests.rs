//! Regression tests of `RelayMachine` found by fuzzing (scenario tests live in `core/tests/gateway.rs`).

use std::time::{Duration, Instant};

use super::*;
use crate::wire::{OutboundAction, SendMessage};

const DESCRIPTOR: &str = r#"{"type":"descriptor","descriptor":{"contract_version":1,"platform":"relay","label":"Relay","max_message_length":4096,"supports_draft_streaming":false,"supports_edit":true,"supports_threads":false,"markdown_dialect":"plain","len_unit":"chars"}}
"#;

fn drain(m: &mut RelayMachine) -> Vec<Action> {
    std::iter::from_fn(|| m.poll_action()).collect()
}

/// Found by the gateway_bytes fuzz target: during a shutdown, a message
/// holding the last result and then an inbound frame delivered the inbound
/// before `Closed`, while the same bytes split per line closed first. The
/// close now happens right after the line that drained the last request.
#[test]
fn shutdown_closes_after_the_draining_line_whatever_the_chunking() {
    let run = |chunk: usize| {
        #[allow(clippy::disallowed_methods)]
        let now = Instant::now();
        let mut m = RelayMachine::new(GatewayConfig::default(), now);
        m.handle_input(now, DESCRIPTOR.as_bytes());
        let id = m.request(now, OutboundAction::Send(SendMessage::new("c", "x"))).unwrap();
        m.shutdown(now, false, now + Duration::from_secs(5)).unwrap();
        drain(&mut m);
        let message = format!(
            "{{\"type\":\"outbound_result\",\"requestId\":\"{id}\",\"result\":{{\"success\":true}}}}\n\
             {{\"type\":\"inbound\",\"event\":{{}}}}\n"
        );
        message.as_bytes().chunks(chunk).for_each(|c| m.handle_input(now, c));
        drain(&mut m)
    };
    let whole = run(usize::MAX);
    assert!(
        matches!(whole.as_slice(), [Action::Resolve { .. }, Action::Closed(CloseReason::Local)]),
        "{whole:?}"
    );
    assert_eq!(run(1), whole);
}
