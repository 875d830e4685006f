//! Output of the networked subcommands (`serve`, `dial`): JSON objects whose
//! keys keep the order they are written in, and a writer thread that puts
//! lines on stdout (or a file) for any number of async tasks, flushing once
//! per burst.

use std::io::{self, Write};
use std::thread::JoinHandle;

use serde::Serialize;
use tokio::sync::mpsc;

use crate::stdio::Failure;

/// Lines waiting for the writer before senders wait too.
const QUEUE: usize = 1024;

/// A compact JSON object built field by field, in contract order (the
/// `serde_json` map sorts its keys; wire types keep their own order inside).
#[derive(Debug)]
pub(crate) struct JsonObject(String);

impl JsonObject {
    /// An empty object.
    pub(crate) fn new() -> Self {
        Self(String::from("{"))
    }

    /// Adds `key: value`.
    pub(crate) fn field(self, key: &str, value: &(impl Serialize + ?Sized)) -> Self {
        // Every value written here (wire types, strings, numbers, `Value`s)
        // has a JSON form; `null` only guards against a future one that has not.
        let json = serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned());
        self.raw(key, &json)
    }

    /// Adds `key: value` when there is a value.
    pub(crate) fn opt(self, key: &str, value: Option<&(impl Serialize + ?Sized)>) -> Self {
        match value {
            Some(value) => self.field(key, value),
            None => self,
        }
    }

    /// Adds `key: <object>`.
    pub(crate) fn object(self, key: &str, object: Self) -> Self {
        let json = object.finish();
        self.raw(key, &json)
    }

    fn raw(mut self, key: &str, json: &str) -> Self {
        if self.0.len() > 1 {
            self.0.push(',');
        }
        // A string always serializes.
        self.0.push_str(&serde_json::to_string(key).unwrap_or_default());
        self.0.push(':');
        self.0.push_str(json);
        self
    }

    /// The object's text.
    pub(crate) fn finish(mut self) -> String {
        self.0.push('}');
        self.0
    }
}

/// A cloneable handle that queues lines for the writer thread. Sending
/// waits while the queue is full, so a slow reader slows the producers.
#[derive(Debug, Clone)]
pub(crate) struct LineSink(mpsc::Sender<Option<String>>);

/// The thread behind a [`LineSink`].
#[derive(Debug)]
pub(crate) struct SinkThread {
    stop: mpsc::Sender<Option<String>>,
    thread: JoinHandle<io::Result<()>>,
}

/// Starts a writer thread for `writer`.
pub(crate) fn spawn(writer: impl Write + Send + 'static) -> (LineSink, SinkThread) {
    let (tx, rx) = mpsc::channel(QUEUE);
    let thread = std::thread::spawn(move || write_lines(writer, rx));
    (LineSink(tx.clone()), SinkThread { stop: tx, thread })
}

fn write_lines(writer: impl Write, mut rx: mpsc::Receiver<Option<String>>) -> io::Result<()> {
    let mut out = io::BufWriter::with_capacity(64 * 1024, writer);
    while let Some(Some(line)) = rx.blocking_recv() {
        out.write_all(line.as_bytes())?;
        out.write_all(b"\n")?;
        // Write whatever else is queued, then flush once for the burst.
        loop {
            match rx.try_recv() {
                Ok(Some(line)) => {
                    out.write_all(line.as_bytes())?;
                    out.write_all(b"\n")?;
                }
                Ok(None) => return out.flush(),
                Err(_) => break,
            }
        }
        out.flush()?;
    }
    out.flush()
}

impl LineSink {
    /// Queues one line (without its `\n`). Fails once the writer stopped
    /// (its output closed, or [`SinkThread::finish`] ran).
    pub(crate) async fn send(&self, line: String) -> Result<(), Failure> {
        self.0.send(Some(line)).await.map_err(|_| closed())
    }

    /// Queues a [`JsonObject`] as one line.
    pub(crate) async fn json(&self, object: JsonObject) -> Result<(), Failure> {
        self.send(object.finish()).await
    }
}

impl SinkThread {
    /// Writes every line queued so far, stops the thread and reports how
    /// writing went. Lines sent afterwards are dropped.
    pub(crate) async fn finish(self) -> Result<(), Failure> {
        // An error here means the thread already stopped; `join` says why.
        let _ = self.stop.send(None).await;
        let joined = tokio::task::spawn_blocking(move || self.thread.join()).await;
        match joined {
            Ok(Ok(result)) => result.map_err(Failure::Write),
            _ => Err(Failure::Runtime("the output thread failed".to_owned())),
        }
    }
}

/// The error of a send to a stopped writer: its output is gone.
fn closed() -> Failure {
    Failure::Write(io::Error::from(io::ErrorKind::BrokenPipe))
}

/// The multi-threaded tokio runtime the networked subcommands run on.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Failure::Runtime(format!("could not start the async runtime: {e}")))
}
