//! Everything the tests pushed, what serve said about each push, and what
//! the gateway got in each round (one round = one `relay serve` process on
//! the store file, with at most one gateway connection); then the checks of
//! the delivery contract over the whole history.
//!
//! Push `i` is an inbound event with `message_id` `p<i>` (six digits) and a
//! text derived from it, so every frame the gateway gets names the push it
//! came from. The gateway dedupes nothing: the checks here see every copy.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde_json::{Value, json};

use super::gateway::{Got, Note};
use super::serve::Serve;
use super::{BOT_ID, PLATFORM};

/// What serve reported for a push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Durable in the store under this buffer id.
    Buffered(String),
    /// Sent live on the gateway's connection.
    Sent,
    /// `push_failed`, with its sentence.
    Failed(String),
}

#[derive(Debug)]
struct Push {
    round: usize,
    outcome: Option<Outcome>,
}

/// One `relay serve` process.
#[derive(Debug, Default)]
struct Round {
    /// What each stdin line was: a ledger push, or something else (`None`).
    lines: Vec<Option<usize>>,
    /// For each stdin line: how many `inbound_ack` lines had been read when
    /// it was written. A later append reported `buffered` proves that the
    /// removals of those acks were done (the store runs operations in order).
    acks_before_line: Vec<usize>,
    /// The outcome line of each stdin line.
    outcomes: BTreeMap<u64, Value>,
    /// Buffer ids of the `inbound_ack` lines, in order.
    acks_seen: Vec<String>,
    /// How many of `acks_seen` are known to be durably removed.
    acks_durable: usize,
    /// What the gateway got, in order.
    got: Vec<Got>,
    connected: bool,
    live: bool,
    /// The gateway went idle once this many pushes existed (pushes from
    /// then on are buffered, not replayed in this round).
    idle_from: Option<usize>,
    /// Other lines (event names these tests do not expect), and anomalies.
    unexpected: Vec<String>,
}

/// The history of a test.
#[derive(Debug)]
pub(crate) struct Ledger {
    /// Bytes of filler in each event's text (to fill a store quickly).
    pad: usize,
    pushes: Vec<Push>,
    rounds: Vec<Round>,
}

/// `{"platform": "telegram", "botId": "b1"}`: the gateway's first hello identity.
pub(crate) fn target() -> Value {
    json!({"platform": PLATFORM, "botId": BOT_ID})
}

/// A push line for an inbound event with this message id and text.
pub(crate) fn push_line(message_id: &str, text: &str) -> String {
    json!({
        "to": target(),
        "frame": {"type": "inbound", "event": {
            "text": text,
            "message_id": message_id,
            "source": {"platform": PLATFORM, "chat_id": "c1"},
        }},
    })
    .to_string()
}

impl Ledger {
    pub(crate) fn new(pad: usize) -> Self {
        Self { pad, pushes: Vec::new(), rounds: Vec::new() }
    }

    fn message_id(index: usize) -> String {
        format!("p{index:06}")
    }

    fn text(&self, index: usize) -> String {
        format!("{} {}", Self::message_id(index), "x".repeat(self.pad))
    }

    /// Starts the history of a new serve process; returns its number.
    pub(crate) fn begin_round(&mut self) -> usize {
        self.rounds.push(Round::default());
        self.rounds.len() - 1
    }

    fn round(&mut self) -> &mut Round {
        self.rounds.last_mut().expect("a round has begun")
    }

    /// Writes `count` new pushes to `serve` (one write); returns their indices.
    pub(crate) fn push(&mut self, serve: &mut Serve, count: usize) -> std::ops::Range<usize> {
        let first = self.pushes.len();
        let round = self.rounds.len() - 1;
        let lines: Vec<String> =
            (first..first + count).map(|i| push_line(&Self::message_id(i), &self.text(i))).collect();
        self.pushes.extend((0..count).map(|_| Push { round, outcome: None }));
        let acks = self.round().acks_seen.len();
        let r = self.round();
        r.lines.extend((first..first + count).map(Some));
        r.acks_before_line.extend(std::iter::repeat_n(acks, count));
        let start = serve.write_lines(&lines);
        assert_eq!(start as usize, self.round().lines.len() - count + 1, "stdin lines are counted in order");
        first..first + count
    }

    /// Writes a push that is not part of the ledger (a marker); returns its stdin line.
    pub(crate) fn push_other(&mut self, serve: &mut Serve, message_id: &str) -> u64 {
        let acks = self.round().acks_seen.len();
        let r = self.round();
        r.lines.push(None);
        r.acks_before_line.push(acks);
        serve.write_lines(&[push_line(message_id, message_id)])
    }

    /// Notes that the gateway connected in this round.
    pub(crate) fn connected(&mut self) {
        self.round().connected = true;
    }

    /// Notes that the gateway went idle now.
    pub(crate) fn went_idle(&mut self) {
        let pushed = self.pushes.len();
        self.round().idle_from.get_or_insert(pushed);
    }

    /// Takes one stdout line of the current serve.
    pub(crate) fn on_serve_line(&mut self, line: &Value) {
        let r = self.rounds.last_mut().expect("a round has begun");
        match line["event"].as_str() {
            Some("pushed" | "push_failed") => {
                let number =
                    line["line"].as_u64().unwrap_or_else(|| panic!("an outcome names its line: {line}"));
                let expected = r.outcomes.keys().next_back().map_or(1, |last| last + 1);
                assert_eq!(number, expected, "outcomes come once per line, in input order: {line}");
                let slot = usize::try_from(number - 1).expect("small");
                assert!(slot < r.lines.len(), "an outcome for a line never written: {line}");
                assert_eq!(line["to"], target(), "the outcome names its target: {line}");
                let outcome = match (line["event"].as_str(), line["delivery"].as_str()) {
                    (Some("pushed"), Some("buffered")) => {
                        assert_eq!(line["type"], "inbound", "{line}");
                        let id = line["bufferId"]
                            .as_str()
                            .unwrap_or_else(|| panic!("buffered without a bufferId: {line}"));
                        r.acks_durable = r.acks_durable.max(r.acks_before_line[slot]);
                        Outcome::Buffered(id.to_owned())
                    }
                    (Some("pushed"), Some("sent")) => {
                        assert_eq!(line["type"], "inbound", "{line}");
                        assert!(line.get("bufferId").is_none(), "a live push has no bufferId: {line}");
                        Outcome::Sent
                    }
                    (Some("push_failed"), _) => {
                        let error = line["error"].as_str().unwrap_or_default();
                        assert!(error.len() > 10, "push_failed carries a sentence: {line}");
                        Outcome::Failed(error.to_owned())
                    }
                    _ => panic!("an outcome line of an unknown shape: {line}"),
                };
                r.outcomes.insert(number, line.clone());
                if let Some(index) = r.lines[slot] {
                    self.pushes[index].outcome = Some(outcome);
                }
            }
            Some("inbound_ack") => {
                let id =
                    line["bufferId"].as_str().unwrap_or_else(|| panic!("an ack names its entry: {line}"));
                r.acks_seen.push(id.to_owned());
            }
            Some("live") => r.live = true,
            Some("going_idle") => {}
            Some("connected" | "hello" | "closed" | "listening") => {}
            Some("input_error") => panic!("serve refused a line these tests wrote: {line}"),
            _ => r.unexpected.push(format!("serve printed {line}")),
        }
    }

    /// Takes one note of the gateway.
    pub(crate) fn on_note(&mut self, note: Note) {
        let r = self.round();
        match note {
            Note::Got(got) => r.got.push(got),
            Note::Unexpected(what) => r.unexpected.push(format!("the gateway got {what}")),
            Note::Lost => {}
        }
    }

    // ---- what the tests look at while a round runs ----

    pub(crate) fn pushed(&self) -> usize {
        self.pushes.len()
    }

    pub(crate) fn outcome(&self, index: usize) -> Option<&Outcome> {
        self.pushes[index].outcome.as_ref()
    }

    /// Stdin lines of this round still waiting for their outcome line.
    pub(crate) fn pending_outcomes(&self) -> usize {
        let r = self.rounds.last().expect("a round has begun");
        r.lines.len() - r.outcomes.len()
    }

    /// Outcome lines read in this round.
    pub(crate) fn outcomes_read(&self) -> usize {
        self.rounds.last().map_or(0, |r| r.outcomes.len())
    }

    /// The outcome line of stdin line `number` in this round.
    pub(crate) fn outcome_line(&self, number: u64) -> Option<&Value> {
        self.rounds.last().and_then(|r| r.outcomes.get(&number))
    }

    pub(crate) fn acks_seen(&self) -> usize {
        self.rounds.last().map_or(0, |r| r.acks_seen.len())
    }

    pub(crate) fn got_count(&self) -> usize {
        self.rounds.last().map_or(0, |r| r.got.len())
    }

    pub(crate) fn live(&self) -> bool {
        self.rounds.last().is_some_and(|r| r.live)
    }

    /// The push indices the gateway got in `round`, in order (`None` for a
    /// frame that names no push).
    pub(crate) fn got_in(&self, round: usize) -> Vec<Option<usize>> {
        self.rounds[round].got.iter().map(|g| self.index_of(g)).collect()
    }

    fn index_of(&self, got: &Got) -> Option<usize> {
        let index: usize = got.message_id.strip_prefix('p')?.parse().ok()?;
        (index < self.pushes.len()
            && got.message_id == Self::message_id(index)
            && got.text == self.text(index))
        .then_some(index)
    }

    // ---- the checks ----

    /// Checks the whole history; panics listing every violation.
    /// `context` (the seed, the plans) is printed with them.
    pub(crate) fn verify(&self, context: &str) {
        let problems = self.problems();
        if !problems.is_empty() {
            let mut text = format!("{} violation(s) of the delivery contract", problems.len());
            for p in problems.iter().take(30) {
                let _ = write!(text, "\n  - {p}");
            }
            let _ = write!(text, "\n{}\n{context}", self.summary());
            panic!("{text}");
        }
    }

    /// A line per round: what was pushed, reported, and got.
    pub(crate) fn summary(&self) -> String {
        let mut text = String::from("rounds:");
        for (n, r) in self.rounds.iter().enumerate() {
            let pushed: Vec<usize> = r.lines.iter().flatten().copied().collect();
            let got = self.got_in(n);
            let _ = write!(
                text,
                "\n  round {n}: pushes {} ({}), outcome lines {}, connected {}, live {}, idle_from {:?}, \
                 got {} ({}), inbound_acks {} ({} durable)",
                pushed.len(),
                span(&pushed),
                r.outcomes.len(),
                r.connected,
                r.live,
                r.idle_from,
                got.len(),
                span(&got.iter().flatten().copied().collect::<Vec<_>>()),
                r.acks_seen.len(),
                r.acks_durable,
            );
        }
        text
    }

    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let n = self.pushes.len();
        // Buffer ids: each names one push.
        let mut id_of: Vec<Option<String>> = vec![None; n];
        let mut index_of_id: BTreeMap<String, usize> = BTreeMap::new();
        let mut claim = |id: &str, index: usize, problems: &mut Vec<String>| match index_of_id.get(id) {
            Some(&other) if other != index => {
                problems.push(format!("bufferId {id} names both p{other:06} and p{index:06}"));
            }
            _ => {
                index_of_id.insert(id.to_owned(), index);
            }
        };
        for (i, push) in self.pushes.iter().enumerate() {
            if let Some(Outcome::Buffered(id)) = &push.outcome {
                id_of[i] = Some(id.clone());
                claim(id, i, &mut problems);
            }
        }
        // Per push: it exists in the store (reported buffered, or replayed
        // with a bufferId); the first round an ack was sent for it; the
        // first round its removal was known durable.
        let mut exists = vec![false; n];
        let mut first_ack: Vec<Option<usize>> = vec![None; n];
        let mut live_copies = vec![0_usize; n];
        let mut replayed_copies = vec![0_usize; n];
        for (i, push) in self.pushes.iter().enumerate() {
            exists[i] = matches!(push.outcome, Some(Outcome::Buffered(_)));
        }
        for (round, r) in self.rounds.iter().enumerate() {
            for problem in &r.unexpected {
                problems.push(format!("round {round}: {problem}"));
            }
            let mut last: Option<usize> = None;
            for got in &r.got {
                let Some(i) = self.index_of(got) else {
                    problems.push(format!(
                        "round {round}: the gateway got a frame that was never pushed: {:?} {:?}",
                        got.message_id,
                        truncate(&got.text)
                    ));
                    continue;
                };
                if let Some(prev) = last {
                    if i <= prev {
                        let how = if i == prev { "twice in a row" } else { "out of order" };
                        problems.push(format!("round {round}: p{i:06} arrived after p{prev:06} ({how})"));
                    }
                }
                last = Some(last.map_or(i, |prev| prev.max(i)));
                match (&got.buffer_id, &self.pushes[i].outcome) {
                    (Some(id), outcome) => {
                        replayed_copies[i] += 1;
                        exists[i] = true;
                        claim(id, i, &mut problems);
                        match outcome {
                            Some(Outcome::Buffered(reported)) if reported != id => problems.push(format!(
                                "round {round}: p{i:06} was reported buffered as {reported} but replayed as {id}"
                            )),
                            Some(Outcome::Sent) => problems.push(format!(
                                "round {round}: p{i:06} was reported sent live but replayed from the backlog as {id}"
                            )),
                            Some(Outcome::Failed(error)) => problems.push(format!(
                                "round {round}: p{i:06} got push_failed ({error}) yet was replayed as {id}"
                            )),
                            _ => {}
                        }
                        if got.acked && first_ack[i].is_none() {
                            first_ack[i] = Some(round);
                        }
                    }
                    (None, Some(Outcome::Buffered(id))) => problems.push(format!(
                        "round {round}: p{i:06} was reported buffered as {id} but arrived live, without its bufferId"
                    )),
                    (None, _) => live_copies[i] += 1,
                }
            }
        }
        for i in 0..n {
            if live_copies[i] > 1 || (live_copies[i] == 1 && replayed_copies[i] > 0) {
                problems.push(format!(
                    "p{i:06} arrived live {} time(s) and from the backlog {} time(s): a live frame arrives once",
                    live_copies[i], replayed_copies[i]
                ));
            }
        }
        // Removals known durable: an ack seen before a later append that
        // was reported buffered.
        let mut durable_in: Vec<Option<usize>> = vec![None; n];
        for (round, r) in self.rounds.iter().enumerate() {
            for id in &r.acks_seen[..r.acks_durable] {
                match index_of_id.get(id) {
                    Some(&i) => {
                        durable_in[i].get_or_insert(round);
                    }
                    None => problems
                        .push(format!("round {round}: serve printed inbound_ack for unknown bufferId {id}")),
                }
            }
        }
        for (round, r) in self.rounds.iter().enumerate() {
            let got = self.got_in(round);
            let replayed: BTreeSet<usize> = r
                .got
                .iter()
                .zip(&got)
                .filter(|(g, _)| g.buffer_id.is_some())
                .filter_map(|(_, i)| *i)
                .collect();
            let all_got: BTreeSet<usize> = got.iter().flatten().copied().collect();
            // An entry whose removal was durable never comes back.
            for &i in &replayed {
                if let Some(acked_in) = durable_in[i] {
                    if acked_in < round {
                        problems.push(format!(
                            "round {round}: p{i:06} was replayed although its ack was durably removed in round {acked_in}"
                        ));
                    }
                }
            }
            // What was certainly in the store while this round replayed:
            // it exists, was pushed by now, and no ack was sent for it earlier.
            let present = |i: usize| {
                exists[i] && self.pushes[i].round <= round && first_ack[i].is_none_or(|a| a >= round)
            };
            // The replay is the backlog in order: nothing present is skipped.
            if let Some(&highest) = replayed.iter().next_back() {
                for i in (0..highest).filter(|&i| present(i) && !all_got.contains(&i)) {
                    problems.push(format!(
                        "round {round}: the replay skipped p{i:06} (in the backlog, bufferId {:?}) but sent p{highest:06}",
                        id_of[i]
                    ));
                }
            }
            // Live means the backlog was drained: every entry present
            // (pushed before the gateway went idle) was replayed.
            if r.live {
                let before = r.idle_from.unwrap_or(n);
                for i in (0..before).filter(|&i| present(i) && !all_got.contains(&i)) {
                    problems.push(format!(
                        "round {round}: serve printed live, but p{i:06} (in the backlog, bufferId {:?}) was not replayed",
                        id_of[i]
                    ));
                }
            }
            // Appends are done in order: what a killed serve made durable is
            // a prefix of what it was given (failed pushes aside). Routing
            // only goes from buffered to live, until the gateway goes idle,
            // so pushes sent live come after every buffered one.
            let from = r.idle_from.unwrap_or(0);
            let mine: Vec<usize> = r.lines.iter().flatten().copied().filter(|&i| i >= from).collect();
            if let Some(&last_durable) = mine.iter().rev().find(|&&i| exists[i]) {
                for &i in mine.iter().filter(|&&i| i < last_durable) {
                    if !exists[i] && !matches!(self.pushes[i].outcome, Some(Outcome::Failed(_))) {
                        problems.push(format!(
                            "round {round}: p{last_durable:06} is in the store but the earlier p{i:06} is not"
                        ));
                    }
                }
            }
        }
        problems
    }

    /// After a final round that went live: every push that reached the
    /// store was delivered and acked at some point.
    pub(crate) fn verify_drained(&self, context: &str) {
        let last = self.rounds.len() - 1;
        assert!(self.rounds[last].live, "the final round went live\n{}\n{context}", self.summary());
        let mut acked = vec![false; self.pushes.len()];
        for r in &self.rounds {
            for (got, i) in r.got.iter().zip(r.got.iter().map(|g| self.index_of(g))) {
                if let (Some(i), true) = (i, got.acked) {
                    acked[i] = true;
                }
            }
        }
        let lost: Vec<String> = self
            .pushes
            .iter()
            .enumerate()
            .filter(|(i, p)| matches!(p.outcome, Some(Outcome::Buffered(_))) && !acked[*i])
            .map(|(i, p)| format!("p{i:06} ({:?})", p.outcome))
            .collect();
        assert!(
            lost.is_empty(),
            "{} push(es) reported buffered were never delivered and acked: {}\n{}\n{context}",
            lost.len(),
            lost.iter().take(20).cloned().collect::<Vec<_>>().join(", "),
            self.summary()
        );
    }
}

/// `a..=b` for a sorted run, or a short list.
fn span(indices: &[usize]) -> String {
    match (indices.first(), indices.last()) {
        (Some(a), Some(b)) => format!("p{a:06}..=p{b:06}"),
        _ => "none".to_owned(),
    }
}

fn truncate(text: &str) -> &str {
    &text[..text.len().min(40)]
}
