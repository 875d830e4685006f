//! Requests: settled exactly once, within the timeout, ambiguous exactly
//! when the frame had left, and resolved with the connector's own answer.

use std::time::Instant;

use super::Ledger;
use crate::gateway::{GatewayConfig, RequestError};
use crate::sim::world::network::ConnId;
use crate::wire::ActionResult;

#[derive(Debug)]
pub(super) struct RequestRecord {
    conn: ConnId,
    issued_at: Instant,
    /// The `outbound` frame left the gateway machine.
    left: bool,
    /// The connector application received it.
    seen: bool,
    /// What the connector application answered.
    response: Option<ActionResult>,
    settled: Option<&'static str>,
}

impl Ledger {
    // ---- requests ----

    /// The gateway machine on `conn` handed out request `id`.
    pub(crate) fn issued(&mut self, id: String, conn: ConnId, now: Instant) {
        self.bump("requests issued");
        let record =
            RequestRecord { conn, issued_at: now, left: false, seen: false, response: None, settled: None };
        let previous = self.requests.insert(id.clone(), record);
        assert!(
            previous.is_none(),
            "request id {id} was handed out twice (ids must not repeat across connections)"
        );
    }

    /// The `outbound` of request `id` left the gateway machine on `conn`.
    pub(super) fn request_left(&mut self, conn: ConnId, id: &str) {
        let record = self.requests.get_mut(id).unwrap_or_else(|| {
            panic!("gateway on {conn} sent an outbound for request {id}, never handed out")
        });
        assert_eq!(record.conn, conn, "request {id} of {} went out on {conn}", record.conn);
        assert!(!record.left, "the outbound of request {id} was sent twice");
        assert!(record.settled.is_none(), "request {id} was sent after it settled");
        record.left = true;
    }

    /// The connector application received request `id`.
    pub(crate) fn connector_received(&mut self, id: &str) {
        let record = self
            .requests
            .get_mut(id)
            .unwrap_or_else(|| panic!("the connector received request {id}, which the gateway never issued"));
        assert!(record.left, "the connector received request {id}, whose frame never left the gateway");
        assert!(!record.seen, "the connector application received request {id} twice");
        assert!(
            record.settled != Some("failed definitely"),
            "the connector received request {id} after the gateway failed it as definite (not sent)"
        );
        record.seen = true;
    }

    /// The connector application answered request `id` with `result`.
    pub(crate) fn connector_responded(&mut self, id: &str, result: &ActionResult) {
        if let Some(record) = self.requests.get_mut(id) {
            record.response = Some(result.clone());
        }
    }

    pub(crate) fn resolved(&mut self, id: &str, result: &ActionResult, now: Instant) {
        let record = self.settle(id, "resolved", now);
        match &record.response {
            Some(response) => assert_eq!(
                response, result,
                "request {id} resolved with a result other than the connector's answer"
            ),
            None => panic!("request {id} resolved, but the connector application never answered it"),
        }
        self.bump(if result.success { "requests resolved ok" } else { "requests resolved success:false" });
    }

    pub(crate) fn failed(&mut self, id: &str, error: &RequestError, now: Instant) {
        let how = if error.ambiguous { "failed ambiguously" } else { "failed definitely" };
        let record = self.settle(id, how, now);
        if error.ambiguous {
            assert!(
                record.left,
                "request {id} failed as ambiguous ({error}), but its frame never left the gateway"
            );
        } else {
            assert!(
                !record.left,
                "request {id} failed as definite ({error}), but its frame had left the gateway"
            );
            assert!(!record.seen, "request {id} failed as definite ({error}), but the connector received it");
        }
        self.bump(if error.ambiguous { "requests failed ambiguous" } else { "requests failed definite" });
    }

    fn settle(&mut self, id: &str, how: &'static str, now: Instant) -> &RequestRecord {
        let record = self
            .requests
            .get_mut(id)
            .unwrap_or_else(|| panic!("request {id} settled ({how}) but was never handed out"));
        if let Some(before) = record.settled {
            panic!("request {id} settled twice: {before}, then {how}");
        }
        // PROTOCOL §5: no result within the request timeout fails it.
        let waited = now - record.issued_at;
        let timeout = GatewayConfig::default().request_timeout;
        assert!(
            waited <= timeout,
            "request {id} settled ({how}) {waited:?} after submission, beyond the timeout"
        );
        record.settled = Some(how);
        record
    }

    pub(crate) fn unsettled_requests(&self) -> usize {
        self.requests.values().filter(|r| r.settled.is_none()).count()
    }

    /// End of run: every request settled.
    pub(super) fn check_requests_settled(&self) {
        for (id, r) in &self.requests {
            assert!(r.settled.is_some(), "request {id} (issued on {}) never settled", r.conn);
        }
    }
}
