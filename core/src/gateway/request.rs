//! An outbound request as the application submits it.

use super::Identity;
use crate::wire::OutboundAction;

/// An action, optionally tagged with the identity it is for (several
/// identities on one socket; an untagged request goes to the first one).
#[derive(Debug, Clone, PartialEq)]
pub struct OutboundRequest {
    /// What to do.
    pub action: OutboundAction,
    /// Which announced identity it is for.
    pub identity: Option<Identity>,
}

impl OutboundRequest {
    /// Tags the request with an identity.
    pub fn for_identity(mut self, identity: Identity) -> Self {
        self.identity = Some(identity);
        self
    }
}

impl From<OutboundAction> for OutboundRequest {
    fn from(action: OutboundAction) -> Self {
        Self { action, identity: None }
    }
}
