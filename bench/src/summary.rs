//! Tables over the JSON lines of several runs: `warden-bench table` (one target) and
//! `warden-bench compare` (Warden against the peer, with the targets we hold ourselves to).

use std::fmt::Write as _;
use std::path::Path;

use serde::Deserialize;

use crate::Fallible;

/// The fields of a [`crate::report::Report`] line the tables read.
#[derive(Debug, Deserialize)]
pub(crate) struct Line {
    scenario: String,
    #[serde(default)]
    label: String,
    target: String,
    rate: Option<f64>,
    requests: u64,
    errors: u64,
    tokens_per_sec: f64,
    p50_ms: f64,
    p90_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

/// One row of the comparison: a closed-loop scenario and the throughput ratio we aim for.
struct Goal {
    scenario: &'static str,
    label: &'static str,
    title: &'static str,
    min_ratio: f64,
}

const GOALS: [Goal; 4] = [
    Goal {
        scenario: "cc-basic",
        label: "ES256",
        title: "client_credentials, Basic, JWT ES256",
        min_ratio: 5.0,
    },
    Goal {
        scenario: "cc-basic",
        label: "RS256",
        title: "client_credentials, Basic, JWT RS256",
        min_ratio: 1.5,
    },
    Goal {
        scenario: "cc-pkjwt",
        label: "ES256",
        title: "client_credentials, private_key_jwt ES256",
        min_ratio: 3.0,
    },
    Goal {
        scenario: "introspect",
        label: "opaque",
        title: "introspection of opaque tokens",
        min_ratio: 3.0,
    },
];

/// The latency goal: Warden's p99 when driven at the peer's peak cc-basic ES256 rate.
const PEAK_SCENARIO: (&str, &str) = ("cc-basic", "ES256");
const MAX_P99_AT_PEER_PEAK_MS: f64 = 10.0;

pub(crate) fn read(path: &Path) -> Fallible<Vec<Line>> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    text.lines()
        .filter(|l| l.trim_start().starts_with('{'))
        .map(|l| {
            serde_json::from_str(l)
                .map_err(|e| format!("{}: bad result line: {e}", path.display()).into())
        })
        .collect()
}

/// One row per run, in file order.
pub(crate) fn table(lines: &[Line]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<14} {:<10} {:<14} {:>9} {:>12} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "target",
        "scenario",
        "label",
        "rate",
        "tokens/s",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "max ms",
        "errors"
    );
    for l in lines {
        let rate = l
            .rate
            .map_or_else(|| "max".to_owned(), |r| format!("{r:.0}/s"));
        let _ = writeln!(
            out,
            "{:<14} {:<10} {:<14} {:>9} {:>12.1} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>8}",
            l.target,
            l.scenario,
            l.label,
            rate,
            l.tokens_per_sec,
            l.p50_ms,
            l.p90_ms,
            l.p99_ms,
            l.max_ms,
            format!("{}/{}", l.errors, l.requests)
        );
    }
    out
}

/// The best closed-loop run of `scenario`/`label` against `target` (several rounds filter out
/// interference from other work on the machine).
fn peak<'a>(lines: &'a [Line], target: &str, scenario: &str, label: &str) -> Option<&'a Line> {
    lines
        .iter()
        .filter(|l| {
            l.target == target && l.scenario == scenario && l.label == label && l.rate.is_none()
        })
        .max_by(|a, b| a.tokens_per_sec.total_cmp(&b.tokens_per_sec))
}

/// The best fixed-rate run of `scenario`/`label` against `target`: the lowest p99.
fn best_at_rate<'a>(
    lines: &'a [Line],
    target: &str,
    scenario: &str,
    label: &str,
) -> Option<&'a Line> {
    lines
        .iter()
        .filter(|l| {
            l.target == target && l.scenario == scenario && l.label == label && l.rate.is_some()
        })
        .min_by(|a, b| a.p99_ms.total_cmp(&b.p99_ms))
}

/// The peer's peak cc-basic ES256 rate, which Warden is then driven at.
pub(crate) fn peer_peak_rate(lines: &[Line], peer: &str) -> Option<f64> {
    peak(lines, peer, PEAK_SCENARIO.0, PEAK_SCENARIO.1)
        .map(|l| l.tokens_per_sec)
        .filter(|r| *r > 0.0)
}

/// Warden/peer ratios next to their goals, and Warden's p99 at the peer's peak rate.
pub(crate) fn compare(lines: &[Line], ours: &str, peer: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<42} {:>11} {:>11} {:>8} {:>7}  verdict",
        "scenario (closed loop)",
        format!("{ours}/s"),
        format!("{}/s", short(peer)),
        "ratio",
        "goal"
    );
    for goal in &GOALS {
        let a = peak(lines, ours, goal.scenario, goal.label);
        let b = peak(lines, peer, goal.scenario, goal.label);
        let cell = |l: Option<&Line>| {
            l.map_or_else(|| "-".to_owned(), |l| format!("{:.0}", l.tokens_per_sec))
        };
        let (ratio, verdict) = match (a, b) {
            (Some(a), Some(b)) if b.tokens_per_sec > 0.0 => {
                let ratio = a.tokens_per_sec / b.tokens_per_sec;
                let mut verdict = if ratio >= goal.min_ratio {
                    "met"
                } else {
                    "MISSED"
                }
                .to_owned();
                if a.errors > 0 || b.errors > 0 {
                    verdict.push_str(" (errors in run)");
                }
                (format!("{ratio:.2}x"), verdict)
            }
            _ => ("-".to_owned(), "not measured".to_owned()),
        };
        let _ = writeln!(
            out,
            "{:<42} {:>11} {:>11} {:>8} {:>7}  {}",
            goal.title,
            cell(a),
            cell(b),
            ratio,
            format!(">={}x", goal.min_ratio),
            verdict
        );
    }
    let at_rate = best_at_rate(lines, ours, PEAK_SCENARIO.0, PEAK_SCENARIO.1);
    let (title, value, verdict) = match (peer_peak_rate(lines, peer), at_rate) {
        (Some(_), Some(l)) => {
            let verdict = if l.errors == 0 && l.p99_ms <= MAX_P99_AT_PEER_PEAK_MS {
                "met"
            } else {
                "MISSED"
            };
            let rate = l.rate.unwrap_or_default();
            (
                format!("{ours} p99 at peer's peak ({rate:.0}/s), ms"),
                format!("{:.2}", l.p99_ms),
                verdict,
            )
        }
        _ => (
            format!("{ours} p99 at peer's peak rate, ms"),
            "-".to_owned(),
            "not measured",
        ),
    };
    let _ = writeln!(
        out,
        "{:<42} {:>11} {:>11} {:>8} {:>7}  {}",
        title,
        value,
        "",
        "",
        format!("<={MAX_P99_AT_PEER_PEAK_MS}"),
        verdict
    );
    out
}

/// Column headers stay narrow: `oidc-provider` is shown as `oidc-prov`.
fn short(name: &str) -> String {
    name.chars().take(9).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(
        target: &str,
        scenario: &str,
        label: &str,
        rate: Option<f64>,
        tps: f64,
        p99: f64,
    ) -> Line {
        Line {
            scenario: scenario.into(),
            label: label.into(),
            target: target.into(),
            rate,
            requests: 10,
            errors: 0,
            tokens_per_sec: tps,
            p50_ms: 1.0,
            p90_ms: 2.0,
            p99_ms: p99,
            max_ms: 4.0,
        }
    }

    #[test]
    fn ratios_and_the_latency_goal() {
        let lines = vec![
            line("oidc-provider", "cc-basic", "ES256", None, 1800.0, 40.0),
            line("oidc-provider", "cc-basic", "ES256", None, 2000.0, 40.0),
            line("warden", "cc-basic", "ES256", None, 12000.0, 3.0),
            line("oidc-provider", "cc-basic", "RS256", None, 1500.0, 40.0),
            line("warden", "cc-basic", "RS256", None, 2000.0, 3.0),
            line("warden", "cc-basic", "ES256", Some(2000.0), 2000.0, 1.5),
            line("warden", "cc-basic", "ES256", Some(2000.0), 2000.0, 12.0),
        ];
        assert_eq!(peer_peak_rate(&lines, "oidc-provider"), Some(2000.0));
        let text = compare(&lines, "warden", "oidc-provider");
        let rows: Vec<&str> = text.lines().collect();
        assert!(
            rows[1].contains("6.00x") && rows[1].ends_with("met"),
            "{}",
            rows[1]
        );
        assert!(
            rows[2].contains("1.33x") && rows[2].ends_with("MISSED"),
            "{}",
            rows[2]
        );
        assert!(rows[3].ends_with("not measured"), "{}", rows[3]);
        assert!(
            rows[5].contains("(2000/s)") && rows[5].contains("1.50") && rows[5].ends_with("met"),
            "{}",
            rows[5]
        );
    }

    #[test]
    fn reads_result_lines_and_skips_the_rest() {
        let dir = std::env::temp_dir().join(format!("warden-bench-summary-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("results.jsonl");
        let json = r#"{"scenario":"cc-basic","label":"ES256","target":"warden","concurrency":32,"rate":null,"duration_s":1.0,"requests":5,"ok":5,"errors":0,"tokens_per_sec":5.0,"p50_ms":1.0,"p90_ms":1.0,"p99_ms":1.0,"max_ms":1.0,"error_kinds":{},"reconnects":0,"inline_signed":0}"#;
        std::fs::write(&path, format!("# comment\n{json}\n\n")).unwrap();
        let lines = read(&path).unwrap();
        assert_eq!(lines.len(), 1);
        assert!(table(&lines).contains("warden"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
