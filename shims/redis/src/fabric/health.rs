//! One warning per outage, not one per failed call.

/// Whether a thread's Redis calls are failing; it warns when they start
/// to and tells when they work again.
pub(super) struct Health {
    failing: bool,
}

impl Health {
    pub(super) fn new() -> Self {
        Self { failing: false }
    }

    pub(super) fn failed(&mut self, message: &str) {
        if std::mem::replace(&mut self.failing, true) {
            tracing::debug!("{message}");
        } else {
            tracing::warn!("{message}");
        }
    }

    pub(super) fn succeeded(&mut self, address: &str) {
        if std::mem::replace(&mut self.failing, false) {
            tracing::info!("Redis at {address} answers again");
        }
    }
}
