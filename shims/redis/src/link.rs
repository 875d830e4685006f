//! [`Link`]: one Redis connection with timeouts, opened again after it broke.

use std::time::Duration;

use redis::{Client, Connection, ConnectionAddr, ConnectionInfo, ErrorKind, RedisError, RedisResult};

use crate::ConnectError;
use crate::error::reason;

/// Where Redis is and how long to wait on it: what opens connections.
#[derive(Clone)]
pub(crate) struct Dialer {
    client: Client,
    address: String,
    timeout: Duration,
}

impl Dialer {
    /// Reads `url`; nothing is connected yet.
    pub(crate) fn new(url: &str, timeout: Duration) -> Result<Self, ConnectError> {
        let client = Client::open(url)
            .map_err(|e| ConnectError::InvalidUrl { url: url.to_owned(), reason: e.to_string() })?;
        let address = address(client.get_connection_info());
        Ok(Self { client, address, timeout: timeout.max(Duration::from_millis(1)) })
    }

    /// The address, without any password: `redis://HOST:PORT/[DB]`.
    pub(crate) fn address(&self) -> &str {
        &self.address
    }

    /// The bound on connecting and on each read and write.
    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// A new connection, with the timeouts on its reads and writes.
    pub(crate) fn connect(&self) -> RedisResult<Connection> {
        let conn = self.client.get_connection_with_timeout(self.timeout)?;
        conn.set_read_timeout(Some(self.timeout))?;
        conn.set_write_timeout(Some(self.timeout))?;
        Ok(conn)
    }
}

/// A connection that is opened on first use and dropped when a call on it
/// fails in a way that may leave it out of step (I/O, timeout, a reply it
/// could not parse), so that the next call starts on a fresh one: a reply
/// that arrives after its timeout must never be read as the answer to the
/// next command.
pub(crate) struct Link {
    dialer: Dialer,
    conn: Option<Connection>,
}

impl Link {
    /// Checks that Redis answers where `dialer` points, within its timeout.
    pub(crate) fn open(dialer: Dialer) -> Result<Self, ConnectError> {
        let mut link = Self { dialer, conn: None };
        match link.run(|conn| redis::cmd("PING").query::<()>(conn)) {
            Ok(()) => Ok(link),
            Err(reason) => Err(ConnectError::Unreachable { address: link.dialer.address, reason }),
        }
    }

    /// Where it connects.
    pub(crate) fn dialer(&self) -> &Dialer {
        &self.dialer
    }

    /// Runs `call` once; the error is the end of a sentence.
    pub(crate) fn run<T>(
        &mut self,
        mut call: impl FnMut(&mut Connection) -> RedisResult<T>,
    ) -> Result<T, String> {
        self.attempt(&mut call).map_err(|(error, _)| reason(&error, self.dialer.timeout))
    }

    /// Runs `call`, and once more on a fresh connection when the kept one
    /// turned out broken (Redis restarted since it was opened). Only for
    /// calls that may run twice: a write whose reply was lost may have been
    /// applied.
    pub(crate) fn run_idempotent<T>(
        &mut self,
        mut call: impl FnMut(&mut Connection) -> RedisResult<T>,
    ) -> Result<T, String> {
        match self.attempt(&mut call) {
            Ok(value) => Ok(value),
            // A timeout is a slow Redis, not a stale connection: waiting
            // again would only double the wait.
            Err((error, true)) if breaks(&error) && !error.is_timeout() => {
                self.attempt(&mut call).map_err(|(error, _)| reason(&error, self.dialer.timeout))
            }
            Err((error, _)) => Err(reason(&error, self.dialer.timeout)),
        }
    }

    /// One call; on failure, the error and whether it ran on a connection
    /// kept from before.
    fn attempt<T>(
        &mut self,
        call: &mut impl FnMut(&mut Connection) -> RedisResult<T>,
    ) -> Result<T, (RedisError, bool)> {
        let kept = self.conn.is_some();
        let conn = match &mut self.conn {
            Some(conn) => conn,
            None => self.conn.insert(self.dialer.connect().map_err(|e| (e, false))?),
        };
        call(conn).map_err(|error| {
            if breaks(&error) {
                self.conn = None;
            }
            (error, kept)
        })
    }
}

/// Whether `error` may have left the connection out of step. An error
/// reply from the server was read whole, so the connection stays usable.
fn breaks(error: &RedisError) -> bool {
    !matches!(error.kind(), ErrorKind::Server(_) | ErrorKind::Extension)
}

/// How errors name the server: its address without credentials.
fn address(info: &ConnectionInfo) -> String {
    let db = info.redis_settings().db();
    match info.addr() {
        ConnectionAddr::Unix(path) if db == 0 => format!("unix://{}", path.display()),
        ConnectionAddr::Unix(path) => format!("unix://{}?db={db}", path.display()),
        addr => {
            let scheme = if matches!(addr, ConnectionAddr::TcpTls { .. }) { "rediss" } else { "redis" };
            let db = if db == 0 { String::new() } else { db.to_string() };
            format!("{scheme}://{addr}/{db}")
        }
    }
}

#[cfg(test)]
mod tests {
    use redis::IntoConnectionInfo;

    use super::*;

    #[test]
    fn the_address_keeps_no_password() {
        let named = |url: &str| address(&url.into_connection_info().unwrap());
        assert_eq!(named("redis://127.0.0.1:6390"), "redis://127.0.0.1:6390/");
        assert_eq!(named("redis://:s3cret@cache.internal/2"), "redis://cache.internal:6379/2");
        assert_eq!(named("redis+unix:///run/redis.sock"), "unix:///run/redis.sock");
    }

    #[test]
    fn a_url_that_is_not_one_is_refused_before_connecting() {
        let Err(error) = Dialer::new("http://example.com", Duration::from_secs(1)) else {
            panic!("accepted")
        };
        assert!(matches!(error, ConnectError::InvalidUrl { .. }), "{error}");
        assert!(error.to_string().starts_with("\"http://example.com\" is not a Redis URL"), "{error}");
    }
}
