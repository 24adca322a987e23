//! The JSON line printed for one scenario run.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::cli::RunArgs;
use crate::load::Outcome;

/// One scenario against one target. Field names are what `run.sh` and `compare.sh` read.
#[derive(Serialize)]
pub(crate) struct Report {
    scenario: &'static str,
    label: String,
    target: String,
    concurrency: usize,
    /// Offered rate (open loop), or `null` for a closed-loop run.
    rate: Option<f64>,
    duration_s: f64,
    /// Requests started in the timed window: `ok + errors`.
    requests: u64,
    ok: u64,
    errors: u64,
    /// Successful requests per second in the window (tokens issued, or introspections answered).
    tokens_per_sec: f64,
    p50_ms: f64,
    p90_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    error_kinds: BTreeMap<String, u64>,
    reconnects: u64,
    /// cc-pkjwt: assertions signed on the request path because the pre-signed ones ran out.
    inline_signed: u64,
}

impl Report {
    pub(crate) fn new(args: &RunArgs, outcome: &Outcome, inline_signed: u64) -> Self {
        let seconds = outcome.window.as_secs_f64();
        let errors = outcome.error_count();
        let at = |q: f64| percentile_ms(&outcome.latencies_us, q);
        Self {
            scenario: args.scenario.as_str(),
            label: args.label.clone(),
            target: args.target.clone(),
            concurrency: args.concurrency,
            rate: args.rate,
            duration_s: seconds,
            requests: outcome.ok + errors,
            ok: outcome.ok,
            errors,
            tokens_per_sec: round(outcome.ok as f64 / seconds.max(f64::EPSILON), 1),
            p50_ms: at(0.50),
            p90_ms: at(0.90),
            p99_ms: at(0.99),
            max_ms: at(1.0),
            error_kinds: outcome.errors.clone(),
            reconnects: outcome.reconnects,
            inline_signed,
        }
    }
}

/// Nearest-rank percentile of sorted microsecond samples, in milliseconds (0 with no samples).
fn percentile_ms(sorted_us: &[u32], q: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let rank = (q * sorted_us.len() as f64).ceil() as usize;
    let index = rank.clamp(1, sorted_us.len()) - 1;
    let micros = sorted_us.get(index).copied().unwrap_or_default();
    round(f64::from(micros) / 1000.0, 3)
}

fn round(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (value * scale).round() / scale
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let samples: Vec<u32> = (1..=100).map(|ms| ms * 1000).collect();
        assert_eq!(percentile_ms(&samples, 0.50), 50.0);
        assert_eq!(percentile_ms(&samples, 0.99), 99.0);
        assert_eq!(percentile_ms(&samples, 1.0), 100.0);
        assert_eq!(percentile_ms(&[1500], 0.5), 1.5);
        assert_eq!(percentile_ms(&[], 0.99), 0.0);
    }
}
