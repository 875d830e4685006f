//! Figures of `relay bench`: one [`Measurement`] per run, printed as a JSON
//! object or a human line, and the closing summary of ratios.

use serde::{Deserialize, Serialize};

use super::peer::PeerFigures;

/// The reference Python implementation on this machine kind (2 cores,
/// loopback, both peers on one machine): fixed figures, it is not run here.
const REFERENCE_RT_C1: f64 = 2_850.0;
const REFERENCE_P50_C1_US: f64 = 340.0;
const REFERENCE_RT_C256: f64 = 19_300.0;
const REFERENCE_INBOUND: f64 = 59_000.0;

/// One measurement; absent figures are left out of the JSON.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Measurement {
    /// `round_trips`, `inbound` or `idle_connections`.
    pub(crate) kind: String,
    /// `relay` or `raw`.
    #[serde(rename = "impl")]
    pub(crate) imp: String,
    /// `tokio` or `smol`.
    pub(crate) runtime: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) concurrency: Option<usize>,
    /// Gateways (connections), each with `concurrency` requests in flight.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) gateways: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) round_trips_per_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) p50_us: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) p90_us: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) p99_us: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) max_us: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) frames_per_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) mb_per_s: Option<f64>,
    /// Peak RSS of the gateway side during the measurement; for
    /// `idle_connections`, the connector process's RSS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) rss_kib: Option<u64>,
    /// Peak RSS of the connector side (its own process) of a load measurement.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) connector_rss_kib: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) connections: Option<usize>,
    /// Connector RSS growth per idle connection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) rss_per_connection_kib: Option<f64>,
    /// Peak RSS of the process holding the idle gateways.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) client_rss_kib: Option<u64>,
    /// CPU time of both processes (user + system) per round trip or frame,
    /// in µs (`--cpu`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) cpu_us_per_op: Option<f64>,
    /// The round trips or frames `cpu_us_per_op` is over (`--cpu`): the
    /// whole run, warm-up included; what instruction counts of a run divide by.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) ops: Option<u64>,
    /// How many runs the figures are medians of (load measurements).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) runs: Option<usize>,
}

/// Each figure's median over `runs` of one measurement (the upper median
/// for an even count); `None` for no runs.
pub(crate) fn median(runs: Vec<Measurement>) -> Option<Measurement> {
    fn mid<T: Copy + PartialOrd>(values: impl Iterator<Item = Option<T>>) -> Option<T> {
        let mut v: Vec<T> = values.flatten().collect();
        v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
        v.get(v.len() / 2).copied()
    }
    let first = runs.first()?.clone();
    Some(Measurement {
        round_trips_per_s: mid(runs.iter().map(|m| m.round_trips_per_s)),
        p50_us: mid(runs.iter().map(|m| m.p50_us)),
        p90_us: mid(runs.iter().map(|m| m.p90_us)),
        p99_us: mid(runs.iter().map(|m| m.p99_us)),
        max_us: mid(runs.iter().map(|m| m.max_us)),
        frames_per_s: mid(runs.iter().map(|m| m.frames_per_s)),
        mb_per_s: mid(runs.iter().map(|m| m.mb_per_s)),
        rss_kib: mid(runs.iter().map(|m| m.rss_kib)),
        connector_rss_kib: mid(runs.iter().map(|m| m.connector_rss_kib)),
        cpu_us_per_op: mid(runs.iter().map(|m| m.cpu_us_per_op)),
        ops: mid(runs.iter().map(|m| m.ops)),
        runs: Some(runs.len()),
        ..first
    })
}

/// A `round_trips` measurement of this process (the gateway side): rate and
/// percentiles from latencies in nanoseconds measured over `seconds`.
pub(crate) fn round_trips(
    imp: &str,
    runtime: &str,
    (concurrency, gateways): (usize, usize),
    latencies: &mut [u64],
    seconds: f64,
    peer: PeerFigures,
) -> Measurement {
    latencies.sort_unstable();
    let at = |q: f64| -> Option<f64> {
        if latencies.is_empty() {
            return None;
        }
        let i = ((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len()) - 1;
        Some(latencies[i] as f64 / 1000.0)
    };
    Measurement {
        kind: "round_trips".into(),
        imp: imp.into(),
        runtime: runtime.into(),
        concurrency: Some(concurrency),
        gateways: Some(gateways),
        round_trips_per_s: Some(latencies.len() as f64 / seconds),
        p50_us: at(0.5),
        p90_us: at(0.9),
        p99_us: at(0.99),
        max_us: latencies.last().map(|m| *m as f64 / 1000.0),
        rss_kib: super::proc_kib(None, "VmHWM"),
        connector_rss_kib: peer.rss_kib,
        ..Measurement::default()
    }
}

/// An `inbound` measurement of this process (the gateway side).
pub(crate) fn inbound(
    imp: &str,
    runtime: &str,
    (frames, bytes, seconds): (u64, u64, f64),
    peer: PeerFigures,
) -> Measurement {
    Measurement {
        kind: "inbound".into(),
        imp: imp.into(),
        runtime: runtime.into(),
        frames_per_s: Some(frames as f64 / seconds),
        mb_per_s: Some(bytes as f64 / seconds / 1e6),
        rss_kib: super::proc_kib(None, "VmHWM"),
        connector_rss_kib: peer.rss_kib,
        ..Measurement::default()
    }
}

/// Adds `cpu_us_per_op`: this process's CPU time so far and the connector
/// process's, over the `ops` round trips or frames of the whole run (warm-up
/// included, like the CPU time). Left out when either time is unknown (a
/// connector given by `--url` reports none).
pub(crate) fn add_cpu(m: &mut Measurement, ops: u64, peer: PeerFigures) {
    m.ops = Some(ops);
    if let (Some(own), Some(theirs), true) = (super::cpu::process_seconds(), peer.cpu_s, ops > 0) {
        m.cpu_us_per_op = Some((own + theirs) / ops as f64 * 1e6);
    }
}

/// Prints one measurement as it completes.
pub(crate) fn emit(m: &Measurement, json: bool) {
    if json {
        println!("{}", serde_json::to_string(m).expect("measurements serialize"));
        return;
    }
    let mut line = format!("{:<17} {:<5} {:<5}", m.kind, m.imp, m.runtime);
    if let Some(c) = m.concurrency {
        line += &format!(" c={c:<5}");
    }
    if let Some(g) = m.gateways.filter(|g| *g > 1) {
        line += &format!(" gateways={g}");
    }
    if let (Some(r), Some(p50), Some(p90), Some(p99), Some(max)) =
        (m.round_trips_per_s, m.p50_us, m.p90_us, m.p99_us, m.max_us)
    {
        line += &format!(" {r:>10.0}/s  p50 {p50:>7.1} µs  p90 {p90:>7.1}  p99 {p99:>8.1}  max {max:>9.1}");
    }
    if let (Some(f), Some(mb)) = (m.frames_per_s, m.mb_per_s) {
        line += &format!(" {f:>10.0} frames/s  {mb:>7.1} MB/s");
    }
    if let Some(cpu) = m.cpu_us_per_op {
        line += &format!("  cpu {cpu:.2} µs/op");
    }
    if let Some(n) = m.connections {
        line += &format!(" {n} idle gateways");
        if let Some(per) = m.rss_per_connection_kib {
            line += &format!("  {per:.1} KiB/conn");
        }
        if let Some(c) = m.client_rss_kib {
            line += &format!("  gateway process {:.1} MiB", c as f64 / 1024.0);
        }
    }
    if let Some(rss) = m.rss_kib {
        line += &format!("  rss {:.1} MiB", rss as f64 / 1024.0);
    }
    if let Some(rss) = m.connector_rss_kib {
        line += &format!(" (connector {:.1} MiB)", rss as f64 / 1024.0);
    }
    println!("{line}");
}

/// Prints relay's figures as ratios to the raw baseline and the reference.
pub(crate) fn summary(all: &[Measurement]) {
    let find = |kind: &str, imp: &str, runtime: &str, c: Option<usize>, g: Option<usize>| {
        all.iter().find(|m| {
            m.kind == kind && m.imp == imp && m.runtime == runtime && m.concurrency == c && m.gateways == g
        })
    };
    let mut printed_header = false;
    for m in all.iter().filter(|m| m.imp == "relay") {
        let raw = find(&m.kind, "raw", &m.runtime, m.concurrency, m.gateways);
        let cpu_ratio = raw.and_then(|raw| Some(m.cpu_us_per_op? / raw.cpu_us_per_op?));
        let mut parts = Vec::new();
        match m.kind.as_str() {
            "round_trips" => {
                let (rate, p50) = (m.round_trips_per_s.unwrap_or(0.0), m.p50_us.unwrap_or(0.0));
                if let Some(raw) = raw {
                    parts.push(format!("{:.2}× raw rate", rate / raw.round_trips_per_s.unwrap_or(f64::NAN)));
                    parts.push(format!("{:.2}× raw p50", p50 / raw.p50_us.unwrap_or(f64::NAN)));
                    parts.push(format!(
                        "{:.2}× raw p99",
                        m.p99_us.unwrap_or(0.0) / raw.p99_us.unwrap_or(f64::NAN)
                    ));
                }
                match m.concurrency {
                    Some(1) if m.gateways == Some(1) => {
                        parts.push(format!("{:.1}× reference rate", rate / REFERENCE_RT_C1));
                        parts.push(format!("{:.2}× reference p50", p50 / REFERENCE_P50_C1_US));
                    }
                    Some(256) if m.gateways == Some(1) => {
                        parts.push(format!("{:.1}× reference rate", rate / REFERENCE_RT_C256));
                    }
                    _ => {}
                }
            }
            "inbound" => {
                let f = m.frames_per_s.unwrap_or(0.0);
                if let Some(raw) = raw {
                    parts.push(format!("{:.2}× raw", f / raw.frames_per_s.unwrap_or(f64::NAN)));
                }
                parts.push(format!("{:.1}× reference", f / REFERENCE_INBOUND));
            }
            _ => continue,
        }
        if let Some(ratio) = cpu_ratio {
            parts.push(format!("{ratio:.2}× raw CPU per op"));
        }
        if !printed_header {
            println!("\nrelay vs raw baseline (same run) and the reference implementation:");
            printed_header = true;
        }
        let mut c = m.concurrency.map(|c| format!(" c={c}")).unwrap_or_default();
        if let Some(g) = m.gateways.filter(|g| *g > 1) {
            c += &format!(" gateways={g}");
        }
        println!("  {} {}{c}: {}", m.kind, m.runtime, parts.join(", "));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(rate: f64, p50: f64) -> Measurement {
        Measurement {
            kind: "round_trips".into(),
            round_trips_per_s: Some(rate),
            p50_us: Some(p50),
            ..Measurement::default()
        }
    }

    #[test]
    fn median_takes_each_figure_on_its_own() {
        let m = median(vec![run(3.0, 10.0), run(1.0, 30.0), run(2.0, 20.0)]).unwrap();
        assert_eq!(
            (m.round_trips_per_s, m.p50_us, m.runs, m.kind.as_str()),
            (Some(2.0), Some(20.0), Some(3), "round_trips")
        );
        assert_eq!(m.frames_per_s, None, "absent figures stay absent");
        let even = median(vec![run(1.0, 1.0), run(4.0, 4.0)]).unwrap();
        assert_eq!(even.round_trips_per_s, Some(4.0), "upper median");
        assert!(median(Vec::new()).is_none());
    }
}
