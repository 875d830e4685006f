//! Frames, keys and Redis access the tests share. The frames and keys are
//! the store crate's test helpers, so both crates test with the same data.

#![allow(dead_code, unused_imports)] // each test binary uses a part of it

#[path = "../../../store/tests/common/mod.rs"]
mod frames;

use std::sync::mpsc;
use std::time::Duration;

pub(crate) use frames::{gateway, identity, label, realistic, text, webhook};
use relay_core::connector::{BacklogEntry, BacklogKey};
use relay_driver::{News, NewsListener};
use relay_redis::test_server::RedisServer;

pub(crate) fn labels(entries: &[BacklogEntry]) -> Vec<String> {
    entries.iter().map(|e| label(&e.frame)).collect()
}

pub(crate) fn ids(entries: &[BacklogEntry]) -> Vec<&str> {
    entries.iter().map(|e| e.buffer_id.as_str()).collect()
}

/// A plain connection to the test's server, to look at or change it from
/// outside the code under test.
pub(crate) fn raw(server: &RedisServer) -> redis::Connection {
    let conn = redis::Client::open(server.url()).unwrap().get_connection().unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    conn
}

/// A listener that hands the key of every append it hears of to the
/// first receiver, and every interrupt to the second.
pub(crate) fn listener() -> (NewsListener, mpsc::Receiver<BacklogKey>, mpsc::Receiver<News>) {
    let (appended, appends) = mpsc::channel();
    let (interrupted, interrupts) = mpsc::channel();
    let listener = move |news| match news {
        // The receivers may be gone at the end of a test.
        News::Appended(key) => drop(appended.send(key)),
        other => drop(interrupted.send(other)),
    };
    (Box::new(listener), appends, interrupts)
}
