//! A deterministic generator of realistic frames, for benchmarks and load tools
//! (feature `bench`).
//!
//! Every generator is seeded: the same seed gives the same bytes, so figures
//! measured on different builds compare the same input. The frames look like
//! what a busy connector and gateway exchange:
//!
//! - **inbound** `MessageEvent`s of roughly 300 B – 4 KB from several platforms
//!   (Telegram with numeric ids, Discord snowflakes with a guild, Slack
//!   threads, WhatsApp, Signal UUIDs, Matrix), with unicode text, emoji,
//!   `\uXXXX` escapes (including surrogate pairs), replies, read-only context,
//!   nested `metadata`, media lists, and unknown keys at several levels;
//! - **outbound** actions (`send`, `edit`, `typing`, `react`, `send_media`)
//!   with routing metadata;
//! - **results** (`outbound_result`) with message ids and extra keys;
//! - **mixed** streams interleaving the three.
//!
//! Every line is one compact JSON object followed by `\n`, and every line
//! decodes with [`Frame::decode`](crate::wire::Frame::decode).
//!
//! ```
//! use relay_core::bench::Generator;
//! let mut g = Generator::new(7);
//! let line = g.inbound_line();
//! assert!(line.ends_with('\n'));
//! assert!(relay_core::wire::Frame::decode(line.trim_end().as_bytes(), None).is_ok());
//! assert_eq!(Generator::new(7).inbound_line(), line);
//! ```

use std::fmt::Write as _;

use rand::{Rng as _, SeedableRng as _};
use rand_chacha::ChaCha8Rng;

/// Words and phrases text is built from: ASCII, accented Latin, CJK, Cyrillic, Arabic, emoji.
const WORDS: &[&str] = &[
    "the",
    "deploy",
    "is",
    "done",
    "can",
    "you",
    "check",
    "logs",
    "tomorrow",
    "meeting",
    "at",
    "noon",
    "please",
    "review",
    "PR",
    "#4821",
    "thanks!",
    "ok",
    "looks",
    "good",
    "to",
    "me",
    "café",
    "naïve",
    "résumé",
    "Straße",
    "über",
    "日本語",
    "テキスト",
    "中文消息",
    "привет",
    "мир",
    "مرحبا",
    "שלום",
    "😀",
    "🚀",
    "👍🏽",
    "🎉",
    "❤️",
    "🇩🇪",
    "👨‍👩‍👧",
    "->",
    "\"quoted\"",
    "back\\slash",
    "tab\there",
    "line\nbreak",
    "https://example.com/a?b=c&d=e",
    "`code`",
    "**bold**",
    "_it_",
    "@alice",
    "@bob",
    "…",
    "—",
    "€42.50",
];

const NAMES: &[&str] =
    &["Alice", "Bob", "Zoë", "José", "Ærøskøbing Ltd", "李雷", "Иван", "Fatima", "🤖 helper", "O'Brien"];

const MIMES: &[(&str, &str, &str)] = &[
    ("image/jpeg", "image", "IMG_2041.jpg"),
    ("image/png", "image", "screenshot 2024-05-01.png"),
    ("audio/ogg", "voice", "voice-note.ogg"),
    ("video/mp4", "video", "clip.mp4"),
    ("application/pdf", "document", "Q3 report (final) — v2.pdf"),
];

/// Which platform a generated event comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavor {
    Telegram,
    Discord,
    Slack,
    Whatsapp,
    Signal,
    Matrix,
}

const FLAVORS: [Flavor; 6] =
    [Flavor::Telegram, Flavor::Discord, Flavor::Slack, Flavor::Whatsapp, Flavor::Signal, Flavor::Matrix];

/// A seeded generator of realistic relay frames (see the [module docs](self)).
#[derive(Debug, Clone)]
pub struct Generator {
    rng: ChaCha8Rng,
    counter: u64,
}

impl Generator {
    /// A generator; the same seed gives the same frames.
    pub fn new(seed: u64) -> Self {
        Self { rng: ChaCha8Rng::seed_from_u64(seed), counter: 0 }
    }

    /// One `inbound` frame line (≈ 300 B – 4 KB, with its `\n`).
    pub fn inbound_line(&mut self) -> String {
        let mut out = String::with_capacity(1024);
        out.push_str("{\"type\":\"inbound\",\"event\":");
        self.event(&mut out);
        if self.chance(0.2) {
            let _ = write!(out, ",\"bufferId\":\"{}\"", self.counter);
        }
        if self.chance(0.1) {
            out.push_str(",\"x_trace\":{\"span\":\"");
            self.hex(&mut out, 16);
            out.push_str("\",\"sampled\":true}");
        }
        out.push_str("}\n");
        out
    }

    /// One `outbound` frame line (a gateway request) with the given request id.
    pub fn outbound_line(&mut self, request_id: &str) -> String {
        let mut out = String::with_capacity(512);
        let _ = write!(out, "{{\"type\":\"outbound\",\"requestId\":\"{request_id}\",\"action\":");
        let chat = self.chat_id();
        match self.rng.random_range(0..10) {
            0..=4 => {
                out.push_str("{\"op\":\"send\",\"chat_id\":");
                out.push_str(&chat);
                out.push_str(",\"content\":");
                let text = self.text(40, 1200);
                self.string(&mut out, &text);
                out.push_str(",\"reply_to\":");
                if self.chance(0.5) {
                    let _ = write!(out, "\"{}\"", self.rng.random_range(1000..9_999_999u64));
                } else {
                    out.push_str("null");
                }
                out.push_str(",\"metadata\":");
                self.metadata(&mut out);
                out.push('}');
            }
            5 => {
                out.push_str("{\"op\":\"edit\",\"chat_id\":");
                out.push_str(&chat);
                let _ =
                    write!(out, ",\"message_id\":\"{}\",\"content\":", self.rng.random_range(1..1u64 << 40));
                let text = self.text(20, 600);
                self.string(&mut out, &text);
                out.push('}');
            }
            6 => {
                out.push_str("{\"op\":\"typing\",\"chat_id\":");
                out.push_str(&chat);
                out.push_str(",\"content\":null,\"metadata\":{\"thread_id\":null}}");
            }
            7 => {
                out.push_str("{\"op\":\"react\",\"chat_id\":");
                out.push_str(&chat);
                let _ = write!(
                    out,
                    ",\"message_id\":\"{}\",\"emoji\":\"👍\"}}",
                    self.rng.random_range(1..1u64 << 40)
                );
            }
            _ => {
                let (mime, kind, name) = MIMES[self.rng.random_range(0..MIMES.len())];
                out.push_str("{\"op\":\"send_media\",\"chat_id\":");
                out.push_str(&chat);
                let _ = write!(
                    out,
                    ",\"media_kind\":\"{}\",\"source_url\":\"https://cdn.example.net/u/{}/{}\",\"content\":",
                    kind,
                    self.rng.random_range(0..1u64 << 32),
                    name.replace(' ', "%20"),
                );
                let _ = (mime, name);
                let text = self.text(5, 120);
                self.string(&mut out, &text);
                out.push('}');
            }
        }
        if self.chance(0.3) {
            out.push_str(",\"platform\":\"discord\",\"botId\":\"B0");
            self.hex(&mut out, 8);
            out.push('"');
        }
        out.push_str("}\n");
        out
    }

    /// One `outbound_result` frame line answering `request_id`.
    pub fn result_line(&mut self, request_id: &str) -> String {
        let mut out = String::with_capacity(192);
        let _ = write!(out, "{{\"type\":\"outbound_result\",\"requestId\":\"{request_id}\",\"result\":");
        if self.chance(0.9) {
            let _ =
                write!(out, "{{\"success\":true,\"message_id\":\"{}\"", self.rng.random_range(1..1u64 << 50));
            if self.chance(0.3) {
                let _ = write!(out, ",\"thread_id\":\"{}\"", self.rng.random_range(1..1u64 << 50));
            }
            out.push('}');
        } else {
            out.push_str(
                "{\"success\":false,\"error\":\"rate limited: retry after 2 s\",\"code\":\"rate_limited\",\"retry_after\":2.0}",
            );
        }
        out.push_str("}\n");
        out
    }

    /// `n` inbound lines.
    pub fn inbound_corpus(&mut self, n: usize) -> Vec<String> {
        (0..n).map(|_| self.inbound_line()).collect()
    }

    /// `n` outbound lines with 32-hex-digit request ids.
    pub fn outbound_corpus(&mut self, n: usize) -> Vec<String> {
        (0..n).map(|i| self.outbound_line(&format!("{:032x}", i as u128 * 0x9e37_79b9_7f4a_7c15))).collect()
    }

    /// `n` result lines.
    pub fn result_corpus(&mut self, n: usize) -> Vec<String> {
        (0..n).map(|i| self.result_line(&format!("{:032x}", i as u128 * 0x9e37_79b9_7f4a_7c15))).collect()
    }

    /// A connector → gateway stream of `n` lines: mostly inbound events with
    /// results and the odd interrupt mixed in.
    pub fn mixed_stream(&mut self, n: usize) -> Vec<String> {
        (0..n)
            .map(|i| match self.rng.random_range(0..20) {
                0..=13 => self.inbound_line(),
                14..=18 => self.result_line(&format!("{i:032x}")),
                _ => format!(
                    "{{\"type\":\"interrupt_inbound\",\"session_key\":\"agent:main:telegram:dm:{}\",\"chat_id\":\"{}\"}}\n",
                    i, i
                ),
            })
            .collect()
    }

    /// A `MessageEvent` object (the `event` of an inbound frame), as JSON.
    pub fn event_json(&mut self) -> String {
        let mut out = String::with_capacity(1024);
        self.event(&mut out);
        out
    }

    // ---- pieces ----

    fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p)
    }

    fn hex(&mut self, out: &mut String, n: usize) {
        for _ in 0..n {
            let d = self.rng.random_range(0..16u32);
            out.push(char::from_digit(d, 16).unwrap_or('0'));
        }
    }

    /// A JSON chat id: a number, a quoted snowflake, or a Slack-style id.
    fn chat_id(&mut self) -> String {
        match self.rng.random_range(0..3) {
            0 => format!("{}", -(self.rng.random_range(1_000_000_000..9_999_999_999_999i64))),
            1 => format!("\"{}\"", self.rng.random_range(1u64 << 55..1u64 << 62)),
            _ => format!("\"C0{}\"", self.rng.random_range(1_000_000..99_999_999u64)),
        }
    }

    /// Text of about `min..max` bytes made of [`WORDS`].
    fn text(&mut self, min: usize, max: usize) -> String {
        let target = self.rng.random_range(min..=max);
        let mut text = String::with_capacity(target + 16);
        while text.len() < target {
            if !text.is_empty() {
                text.push(' ');
            }
            text.push_str(WORDS[self.rng.random_range(0..WORDS.len())]);
        }
        text
    }

    /// A JSON string literal; a third of the time non-ASCII characters are
    /// written as `\uXXXX` escapes (surrogate pairs above the BMP), the way
    /// Python's `json.dumps` does by default.
    fn string(&mut self, out: &mut String, s: &str) {
        let ascii_only = self.chance(0.33);
        out.push('"');
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                c if (c as u32) < 0x20 => {
                    let _ = write!(out, "\\u{:04x}", c as u32);
                }
                c if ascii_only && !c.is_ascii() => {
                    let mut units = [0u16; 2];
                    for unit in c.encode_utf16(&mut units) {
                        let _ = write!(out, "\\u{unit:04x}");
                    }
                }
                c => out.push(c),
            }
        }
        out.push('"');
    }

    fn name(&mut self, out: &mut String) {
        let name = NAMES[self.rng.random_range(0..NAMES.len())];
        self.string(out, name);
    }

    fn metadata(&mut self, out: &mut String) {
        let _ = write!(
            out,
            "{{\"thread_id\":{},\"session_key\":\"agent:main:{}\",\"route\":{{\"hops\":[\"gw-1\",\"conn-{}\"],\"priority\":{},\"tags\":{{\"lang\":\"en\",\"ab\":{}}}}}}}",
            if self.chance(0.5) { "null" } else { "\"1712345678.000100\"" },
            self.rng.random_range(0..100_000u32),
            self.rng.random_range(0..8u32),
            self.rng.random_range(0..5u32),
            self.chance(0.5),
        );
    }

    fn source(&mut self, out: &mut String, flavor: Flavor, full: bool) {
        let chat_type = ["dm", "group", "channel", "thread", "forum"][self.rng.random_range(0..5)];
        match flavor {
            Flavor::Telegram => {
                let _ = write!(
                    out,
                    "{{\"platform\":\"telegram\",\"chat_id\":{},\"chat_type\":\"{chat_type}\",\"user_id\":{}",
                    -(self.rng.random_range(1_000_000_000..9_999_999_999_999i64)),
                    self.rng.random_range(10_000..9_999_999_999u64)
                );
            }
            Flavor::Discord => {
                let _ = write!(
                    out,
                    "{{\"platform\":\"discord\",\"chat_id\":\"{}\",\"chat_type\":\"{chat_type}\",\"user_id\":\"{}\",\"guild_id\":\"{}\"",
                    self.rng.random_range(1u64 << 55..1u64 << 62),
                    self.rng.random_range(1u64 << 55..1u64 << 62),
                    self.rng.random_range(1u64 << 55..1u64 << 62)
                );
            }
            Flavor::Slack => {
                let _ = write!(
                    out,
                    "{{\"platform\":\"slack\",\"chat_id\":\"C0{}\",\"chat_type\":\"{chat_type}\",\"user_id\":\"U0{}\",\"scope_id\":\"T0{}\",\"thread_id\":\"1712345678.{:06}\"",
                    self.rng.random_range(1_000_000..99_999_999u64),
                    self.rng.random_range(1_000_000..99_999_999u64),
                    self.rng.random_range(1_000_000..99_999_999u64),
                    self.rng.random_range(0..999_999u32)
                );
            }
            Flavor::Whatsapp => {
                let _ = write!(
                    out,
                    "{{\"platform\":\"whatsapp\",\"chat_id\":\"{}@s.whatsapp.net\",\"chat_type\":\"{chat_type}\",\"user_id\":\"{}\"",
                    self.rng.random_range(10_000_000_000..99_999_999_999u64),
                    self.rng.random_range(10_000_000_000..99_999_999_999u64)
                );
            }
            Flavor::Signal => {
                out.push_str("{\"platform\":\"signal\",\"chat_id\":\"+4915");
                let _ = write!(out, "{}", self.rng.random_range(10_000_000..99_999_999u64));
                let _ = write!(out, "\",\"chat_type\":\"{chat_type}\",\"user_id_alt\":\"");
                self.hex(out, 8);
                out.push('-');
                self.hex(out, 4);
                out.push_str("-4");
                self.hex(out, 3);
                out.push_str("-a");
                self.hex(out, 3);
                out.push('-');
                self.hex(out, 12);
                out.push('"');
            }
            Flavor::Matrix => {
                let _ = write!(
                    out,
                    "{{\"platform\":\"matrix\",\"chat_id\":\"!{}:matrix.org\",\"chat_type\":\"{chat_type}\",\"user_id\":\"@user{}:matrix.org\"",
                    self.rng.random_range(1u64 << 40..1u64 << 50),
                    self.rng.random_range(0..100_000u32)
                );
            }
        }
        out.push_str(",\"user_name\":");
        self.name(out);
        if full {
            out.push_str(",\"chat_name\":");
            self.name(out);
            if self.chance(0.3) {
                out.push_str(",\"chat_topic\":");
                let topic = self.text(10, 80);
                self.string(out, &topic);
            }
            let _ = write!(out, ",\"message_id\":\"{}\"", self.rng.random_range(1..1u64 << 40));
            if self.chance(0.3) {
                out.push_str(",\"profile\":\"support\"");
            }
            if self.chance(0.25) {
                // Unknown keys the connector added: kept and written back.
                out.push_str(
                    ",\"is_bot\":false,\"locale\":\"de-DE\",\"avatar\":{\"url\":\"https://cdn.example.net/a/",
                );
                self.hex(out, 12);
                out.push_str(".png\",\"w\":128,\"h\":128}");
            }
        }
        out.push('}');
    }

    fn event(&mut self, out: &mut String) {
        self.counter += 1;
        let flavor = FLAVORS[self.rng.random_range(0..FLAVORS.len())];
        let with_media = self.chance(0.3);
        let message_type = if with_media {
            ["photo", "video", "voice", "document"][self.rng.random_range(0..4)]
        } else if self.chance(0.05) {
            "command"
        } else {
            "text"
        };
        out.push_str("{\"text\":");
        let size = self.rng.random_range(0..10);
        let text = if size < 7 { self.text(40, 400) } else { self.text(400, 1300) };
        self.string(out, &text);
        let _ = write!(out, ",\"message_type\":\"{message_type}\",\"source\":");
        self.source(out, flavor, true);
        match flavor {
            Flavor::Telegram => {
                let _ = write!(out, ",\"message_id\":{}", self.rng.random_range(1..9_999_999u64));
            }
            _ => {
                let _ = write!(out, ",\"message_id\":\"{}\"", self.rng.random_range(1..1u64 << 60));
            }
        }
        if self.chance(0.2) {
            let _ = write!(out, ",\"reply_to_message_id\":\"{}\"", self.rng.random_range(1..1u64 << 40));
        }
        out.push_str(",\"media_urls\":[");
        let media = if with_media { self.rng.random_range(1..4) } else { 0 };
        let urls: Vec<(String, usize)> = (0..media)
            .map(|_| {
                let m = self.rng.random_range(0..MIMES.len());
                (
                    format!(
                        "https://cdn.example.net/{}/{}",
                        self.rng.random_range(0..1u64 << 48),
                        MIMES[m].2.replace(' ', "%20")
                    ),
                    m,
                )
            })
            .collect();
        for (i, (url, _)) in urls.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            self.string(out, url);
        }
        out.push(']');
        if !urls.is_empty() {
            out.push_str(",\"media\":[");
            for (i, (url, m)) in urls.iter().enumerate() {
                let (mime, kind, filename) = MIMES[*m];
                if i > 0 {
                    out.push(',');
                }
                out.push_str("{\"url\":");
                self.string(out, url);
                let _ = write!(
                    out,
                    ",\"mime\":\"{mime}\",\"kind\":\"{kind}\",\"size\":{},\"filename\":",
                    self.rng.random_range(1_000..50_000_000u64)
                );
                self.string(out, filename);
                if self.chance(0.3) {
                    out.push_str(",\"caption\":");
                    let caption = self.text(5, 100);
                    self.string(out, &caption);
                }
                if self.chance(0.3) {
                    let _ = write!(
                        out,
                        ",\"width\":{},\"height\":{},\"thumbnail\":{{\"url\":\"https://cdn.example.net/t/{}.jpg\"}}",
                        self.rng.random_range(100..4000u32),
                        self.rng.random_range(100..4000u32),
                        self.rng.random_range(0..1u64 << 32)
                    );
                }
                out.push('}');
            }
            out.push(']');
        }
        if self.chance(0.25) {
            out.push_str(",\"reply_to\":{\"text\":");
            let quoted = self.text(10, 200);
            self.string(out, &quoted);
            out.push_str(",\"author\":");
            self.name(out);
            let _ = write!(out, ",\"is_own\":{}}}", self.chance(0.4));
        }
        if self.chance(0.15) {
            out.push_str(",\"context\":[");
            let n = self.rng.random_range(1..4);
            for i in 0..n {
                if i > 0 {
                    out.push(',');
                }
                out.push_str("{\"text\":");
                let t = self.text(10, 300);
                self.string(out, &t);
                out.push_str(",\"source\":");
                self.source(out, flavor, false);
                out.push('}');
            }
            out.push(']');
        }
        if self.chance(0.2) {
            // An unknown top-level key with nested metadata.
            out.push_str(",\"platform_meta\":");
            self.metadata(out);
        }
        if self.chance(0.1) {
            out.push_str(",\"edited\":true,\"edit_ts\":1712345678.25");
        }
        out.push('}');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Frame;

    #[test]
    fn every_generated_line_decodes_and_sizes_are_realistic() {
        let mut g = Generator::new(1);
        let lines = g.inbound_corpus(2000);
        let (mut min, mut max, mut total) = (usize::MAX, 0, 0);
        for line in &lines {
            let frame =
                Frame::decode(line.trim_end().as_bytes(), None).unwrap_or_else(|e| panic!("{e}: {line}"));
            assert_eq!(Frame::decode(&frame.encode()[..frame.encode().len() - 1], None).unwrap(), frame);
            min = min.min(line.len());
            max = max.max(line.len());
            total += line.len();
        }
        eprintln!("inbound corpus: {min}..{max} B, mean {}", total / lines.len());
        assert!(min >= 300 && max <= 4200, "{min}..{max}");
        assert!((500..2500).contains(&(total / lines.len())), "mean {}", total / lines.len());
        assert!(lines.iter().any(|l| l.contains("\\ud83d")));
        for line in g.outbound_corpus(500).iter().chain(&g.result_corpus(500)).chain(&g.mixed_stream(500)) {
            Frame::decode(line.trim_end().as_bytes(), None).unwrap_or_else(|e| panic!("{e}: {line}"));
        }
    }

    #[test]
    fn same_seed_same_bytes() {
        assert_eq!(Generator::new(3).mixed_stream(50), Generator::new(3).mixed_stream(50));
        assert_ne!(Generator::new(3).inbound_line(), Generator::new(4).inbound_line());
    }
}
