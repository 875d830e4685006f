//! The wake hook: an application callback told when frames start waiting
//! for a gateway that is idle or offline, so that it can wake the
//! gateway's host (a suspended machine, a scaled-to-zero service).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use relay_core::connector::BacklogKey;

/// What a server calls when a frame is buffered for a gateway that no
/// connection delivers live: at most once per [`cooldown`](Self::cooldown)
/// per gateway (per instance, with several instances).
///
/// The callback runs on the task of the push that buffered the frame: it
/// must return quickly, handing any slow work (an HTTP request) to a
/// thread or task of its own.
///
/// ```
/// use relay_driver::{ServerConfig, Wake};
///
/// let config = ServerConfig {
///     wake: Some(Wake::new(|gateway| println!("wake {gateway}"))),
///     ..ServerConfig::default()
/// };
/// # let _ = config;
/// ```
#[derive(Clone)]
pub struct Wake {
    /// Called with the gateway's backlog key.
    pub callback: Arc<dyn Fn(&BacklogKey) + Send + Sync>,
    /// The shortest time between two calls for one gateway (default 60 s).
    pub cooldown: Duration,
}

impl Wake {
    /// A hook calling `callback`, with the default cooldown.
    pub fn new(callback: impl Fn(&BacklogKey) + Send + Sync + 'static) -> Self {
        Self { callback: Arc::new(callback), cooldown: Duration::from_secs(60) }
    }
}

impl fmt::Debug for Wake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wake").field("cooldown", &self.cooldown).finish_non_exhaustive()
    }
}

/// When each gateway was last woken, within the cooldown: older entries
/// are dropped as new ones come, so this holds only the gateways woken in
/// the last cooldown.
#[derive(Debug, Default)]
pub(crate) struct WakeTimes {
    last: BTreeMap<BacklogKey, Instant>,
}

impl WakeTimes {
    /// Whether `key` is due a wake at `now`; if so, it is counted as woken.
    pub(crate) fn due(&mut self, key: &BacklogKey, now: Instant, cooldown: Duration) -> bool {
        self.last.retain(|_, at| now.saturating_duration_since(*at) < cooldown);
        if self.last.contains_key(key) {
            return false;
        }
        self.last.insert(key.clone(), now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn once_per_cooldown_per_gateway() {
        let (a, b) = (BacklogKey::Gateway("a".into()), BacklogKey::Gateway("b".into()));
        let cooldown = Duration::from_secs(60);
        let start = Instant::now();
        let mut times = WakeTimes::default();
        assert!(times.due(&a, start, cooldown));
        assert!(!times.due(&a, start + Duration::from_secs(59), cooldown));
        assert!(times.due(&b, start + Duration::from_secs(59), cooldown), "each gateway has its own");
        assert!(times.due(&a, start + Duration::from_secs(60), cooldown));
        assert_eq!(times.last.len(), 2, "only gateways woken within the cooldown are kept");
    }
}
