//! Every push the tests made on which instance, what that instance said
//! about it, and the checks of the delivery contract against what the
//! gateway got: nothing reported `buffered` or `routed` is lost, nothing
//! is appended twice (every copy of a push carries the same `bufferId`, so
//! the gateway's dedupe leaves one), and the pushes made on one instance
//! reach the gateway in the order they were made.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::gateway::Seen;
use super::serve::Serve;
use super::{BOT_ID, PLATFORM};

/// What an instance reported for a push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Durable in Redis; no instance delivers it live now.
    Buffered(String),
    /// Durable in Redis; this instance delivers it live.
    Routed { instance: String, buffer_id: String },
    /// `push_failed`, with its sentence.
    Failed(String),
}

impl Outcome {
    fn buffer_id(&self) -> Option<&str> {
        match self {
            Self::Buffered(id) | Self::Routed { buffer_id: id, .. } => Some(id),
            Self::Failed(_) => None,
        }
    }
}

#[derive(Debug)]
struct Push {
    instance: usize,
    outcome: Option<Outcome>,
}

/// The history of one test over several instances.
#[derive(Debug, Default)]
pub(crate) struct History {
    pushes: Vec<Push>,
    /// Per instance: stdin line number → push.
    lines: BTreeMap<usize, BTreeMap<u64, usize>>,
    /// Lines no check expects (a serve event these tests never cause).
    unexpected: Vec<String>,
}

/// The message id of push `index`: it names the push in every frame.
pub(crate) fn message_id(index: usize) -> String {
    format!("p{index:06}")
}

fn index_of(message_id: &str) -> Option<usize> {
    message_id.strip_prefix('p')?.parse().ok()
}

/// A push line for push `index`, an event in session `chat`.
fn push_line(index: usize, chat: &str) -> String {
    json!({
        "to": {"platform": PLATFORM, "botId": BOT_ID},
        "frame": {"type": "inbound", "event": {
            "text": format!("push {index}"),
            "message_id": message_id(index),
            "source": {"platform": PLATFORM, "chat_id": chat, "chat_type": "dm"},
        }},
    })
    .to_string()
}

impl History {
    /// Writes `count` new pushes to `serve`, instance `instance`, in one
    /// write; returns their indices.
    pub(crate) fn push(
        &mut self,
        serve: &mut Serve,
        instance: usize,
        count: usize,
    ) -> std::ops::Range<usize> {
        let first = self.pushes.len();
        let lines: Vec<String> = (first..first + count).map(|i| push_line(i, "c1")).collect();
        let start = serve.write_lines(&lines);
        let by_line = self.lines.entry(instance).or_default();
        for (offset, index) in (first..first + count).enumerate() {
            by_line.insert(start + offset as u64, index);
            self.pushes.push(Push { instance, outcome: None });
        }
        first..first + count
    }

    /// Takes one stdout line of instance `instance`. Outcomes of pushes
    /// other than `inbound` ones are the tests' own to check.
    pub(crate) fn on_line(&mut self, instance: usize, line: &Value) {
        let event = line["event"].as_str().unwrap_or_default();
        if line.get("type").is_some_and(|t| t != "inbound") {
            return;
        }
        let outcome = match event {
            "pushed" => match line["delivery"].as_str() {
                Some("buffered") => Outcome::Buffered(text(line, "bufferId")),
                Some("routed") => {
                    Outcome::Routed { instance: text(line, "instance"), buffer_id: text(line, "bufferId") }
                }
                _ => return self.unexpected.push(format!("instance {instance}: {line}")),
            },
            "push_failed" => Outcome::Failed(text(line, "error")),
            "connected" | "hello" | "live" | "going_idle" | "inbound_ack" | "closed" | "interrupt"
            | "store_failed" => {
                return;
            }
            _ => return self.unexpected.push(format!("instance {instance}: {line}")),
        };
        let number = line["line"].as_u64().expect("a push line names its stdin line");
        let Some(&index) = self.lines.get(&instance).and_then(|lines| lines.get(&number)) else {
            return self.unexpected.push(format!("instance {instance}: an outcome for no push: {line}"));
        };
        let slot = &mut self.pushes[index].outcome;
        if slot.is_some() {
            self.unexpected.push(format!("instance {instance}: a second outcome for push {index}: {line}"));
        }
        *slot = Some(outcome);
    }

    /// Pushes with no outcome line yet.
    pub(crate) fn pending(&self) -> usize {
        self.pushes.iter().filter(|p| p.outcome.is_none()).count()
    }

    /// Pushes reported durable (`buffered` or `routed`).
    pub(crate) fn durable(&self) -> usize {
        self.pushes.iter().filter(|p| p.outcome.as_ref().is_some_and(|o| o.buffer_id().is_some())).count()
    }

    /// The outcome of push `index`.
    pub(crate) fn outcome(&self, index: usize) -> Option<&Outcome> {
        self.pushes[index].outcome.as_ref()
    }

    /// How many durable pushes the gateway has got at least once.
    pub(crate) fn delivered(&self, seen: &Seen) -> usize {
        let mut got = vec![false; self.pushes.len()];
        for frame in &seen.got {
            if let Some(slot) = index_of(&frame.message_id).and_then(|i| got.get_mut(i)) {
                *slot = true;
            }
        }
        self.pushes
            .iter()
            .zip(got)
            .filter(|(push, got)| *got && push.outcome.as_ref().is_some_and(|o| o.buffer_id().is_some()))
            .count()
    }

    /// The delivery contract over the whole history (see the module doc).
    pub(crate) fn verify(&self, seen: &Seen, context: &str) {
        let mut problems = self.unexpected.clone();
        problems.extend(seen.unexpected.iter().cloned());
        // First arrival of each push, and the buffer id of its copies.
        let mut first: BTreeMap<usize, (usize, Option<String>)> = BTreeMap::new();
        for (position, frame) in seen.got.iter().enumerate() {
            let Some(index) = index_of(&frame.message_id).filter(|i| *i < self.pushes.len()) else {
                problems.push(format!("the gateway got {:?}, which was never pushed", frame.message_id));
                continue;
            };
            let (_, id) = first.entry(index).or_insert((position, frame.buffer_id.clone()));
            if *id != frame.buffer_id {
                problems.push(format!(
                    "push {index} arrived as {id:?} and as {:?}: it was appended twice",
                    frame.buffer_id
                ));
            }
        }
        for (index, push) in self.pushes.iter().enumerate() {
            let reported = push.outcome.as_ref().and_then(Outcome::buffer_id);
            match (reported, first.get(&index)) {
                (Some(id), None) => {
                    problems.push(format!("push {index} was reported durable ({id}) and is lost"))
                }
                (Some(id), Some((_, got))) if got.as_deref() != Some(id) => {
                    problems.push(format!("push {index} was reported as {id} and arrived as {got:?}"));
                }
                _ => {}
            }
        }
        // Per instance, first arrivals follow push order.
        let mut last: BTreeMap<usize, (usize, usize)> = BTreeMap::new();
        for (&index, &(position, _)) in &first {
            let instance = self.pushes[index].instance;
            if let Some(&(before, before_index)) = last.get(&instance) {
                if position < before {
                    problems.push(format!(
                        "instance {instance}: push {index} arrived before push {before_index}, made earlier"
                    ));
                }
            }
            last.insert(instance, (position, index));
        }
        if !problems.is_empty() {
            let shown = problems.len().min(20);
            panic!(
                "{context}: {} problems, the first {shown}:\n{}\n({} pushes, {} durable, {} frames got)",
                problems.len(),
                problems[..shown].join("\n"),
                self.pushes.len(),
                self.durable(),
                seen.got.len()
            );
        }
    }
}

fn text(line: &Value, field: &str) -> String {
    line[field].as_str().unwrap_or_else(|| panic!("{field} in {line}")).to_owned()
}
