//! The timed loop.
//!
//! All connections are opened first, so connecting is never measured. Then every worker sends
//! requests from `t0` to `t0 + warmup + duration`; only requests that *start* after the
//! warm-up are counted, and the throughput divides the successes by the window's length.
//!
//! - Closed loop (no `--rate`): each worker sends its next request as soon as the previous
//!   answer is in; this finds the server's peak throughput at the given concurrency.
//! - Open loop (`--rate R`): request `k` is due at `t0 + k/R`, whichever worker is free takes
//!   it. Latency runs from the moment the request was due when every worker was busy (the
//!   server's queueing is counted, avoiding coordinated omission), and from the moment it was
//!   sent when a worker was waiting for it (the timer's wake-up slack is the generator's, not
//!   the server's).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use crate::Fallible;
use crate::cli::Target;
use crate::conn::Conn;
use crate::scenario::Workload;

/// Pause after a failed reconnect, so a dead server is not hammered in a tight loop.
const RECONNECT_PAUSE: Duration = Duration::from_millis(20);
/// Longest error body kept for the first-error message.
const ERROR_EXCERPT: usize = 300;

pub(crate) struct Plan {
    pub(crate) concurrency: usize,
    pub(crate) warmup: Duration,
    pub(crate) duration: Duration,
    pub(crate) rate: Option<f64>,
    pub(crate) timeout: Duration,
    pub(crate) max_requests: u64,
}

/// What the timed window measured, merged over all workers.
#[derive(Default)]
pub(crate) struct Outcome {
    /// Latency of each successful request in the window, in microseconds, sorted.
    pub(crate) latencies_us: Vec<u32>,
    pub(crate) ok: u64,
    /// Failed requests in the window, by kind (`status_401`, `transport`, `timeout`, ...).
    pub(crate) errors: BTreeMap<String, u64>,
    /// Connections opened after the initial ones (the server closed one, or a request failed).
    pub(crate) reconnects: u64,
    /// The first failure seen, warm-up included, for the log.
    pub(crate) first_error: Option<String>,
    /// Length of the timed window.
    pub(crate) window: Duration,
}

impl Outcome {
    pub(crate) fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    fn merge(&mut self, other: Self) {
        self.latencies_us.extend(other.latencies_us);
        self.ok += other.ok;
        for (kind, n) in other.errors {
            *self.errors.entry(kind).or_default() += n;
        }
        self.reconnects += other.reconnects;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }
}

/// Shared by all workers: the clock and the request budget.
struct Schedule {
    t0: Instant,
    measure_from: Instant,
    end: Instant,
    rate: Option<f64>,
    timeout: Duration,
    /// Requests handed out so far (open loop: the index of the next due request).
    issued: AtomicU64,
    max_requests: u64,
}

impl Schedule {
    /// The next request's due time, or `None` once the run is over.
    fn next_due(&self) -> Option<Instant> {
        let k = self.issued.fetch_add(1, Ordering::Relaxed);
        if k >= self.max_requests {
            return None;
        }
        let due = match self.rate {
            Some(rate) => self.t0 + Duration::from_secs_f64(k as f64 / rate),
            None => Instant::now(),
        };
        (due < self.end).then_some(due)
    }
}

pub(crate) async fn run(
    target: Arc<Target>,
    workload: Arc<Workload>,
    plan: Plan,
) -> Fallible<Outcome> {
    let mut connections = Vec::with_capacity(plan.concurrency);
    for _ in 0..plan.concurrency {
        let conn = Conn::open(target.addr)
            .await
            .map_err(|e| format!("cannot connect to {}: {e}", target.base))?;
        connections.push(conn);
    }

    let t0 = Instant::now();
    let schedule = Arc::new(Schedule {
        t0,
        measure_from: t0 + plan.warmup,
        end: t0 + plan.warmup + plan.duration,
        rate: plan.rate,
        timeout: plan.timeout,
        issued: AtomicU64::new(0),
        max_requests: plan.max_requests,
    });
    let mut workers = tokio::task::JoinSet::new();
    for conn in connections {
        let (target, workload, schedule) = (
            Arc::clone(&target),
            Arc::clone(&workload),
            Arc::clone(&schedule),
        );
        workers.spawn(async move { work(conn, &target, &workload, &schedule).await });
    }

    let mut outcome = Outcome {
        window: plan.duration,
        ..Outcome::default()
    };
    while let Some(done) = workers.join_next().await {
        outcome.merge(done?);
    }
    outcome.latencies_us.sort_unstable();
    Ok(outcome)
}

async fn work(conn: Conn, target: &Target, workload: &Workload, schedule: &Schedule) -> Outcome {
    let mut outcome = Outcome::default();
    let mut conn = Some(conn);
    while let Some(due) = schedule.next_due() {
        let start = if Instant::now() < due {
            tokio::time::sleep_until(due).await;
            Instant::now()
        } else {
            due
        };
        let measured = due >= schedule.measure_from;
        let result = exchange(&mut conn, target, workload, schedule.timeout).await;
        let elapsed = start.elapsed();
        match result {
            Ok(()) if measured => {
                outcome.ok += 1;
                outcome
                    .latencies_us
                    .push(u32::try_from(elapsed.as_micros()).unwrap_or(u32::MAX));
            }
            Ok(()) => {}
            Err(failure) => {
                if measured {
                    *outcome.errors.entry(failure.kind.clone()).or_default() += 1;
                }
                if outcome.first_error.is_none() {
                    outcome.first_error = Some(format!("{}: {}", failure.kind, failure.detail));
                }
            }
        }
        if conn.is_none() && Instant::now() < schedule.end {
            // Reconnect outside the measured request, after a pause; the next request fails
            // fast as `transport` if the server is still gone.
            tokio::time::sleep(RECONNECT_PAUSE).await;
            if let Ok(fresh) = Conn::open(target.addr).await {
                conn = Some(fresh);
                outcome.reconnects += 1;
            }
        }
    }
    outcome
}

struct Failure {
    kind: String,
    detail: String,
}

impl Failure {
    fn new(kind: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            kind: kind.into(),
            detail: detail.into(),
        }
    }
}

/// One request on the worker's connection. A transport error or timeout drops the connection.
async fn exchange(
    conn: &mut Option<Conn>,
    target: &Target,
    workload: &Workload,
    timeout: Duration,
) -> Result<(), Failure> {
    let Some(open) = conn.as_mut() else {
        return Err(Failure::new(
            "transport",
            format!("no connection to {}", target.base),
        ));
    };
    let request = workload
        .request()
        .map_err(|e| Failure::new("generator", e.to_string()))?;
    match tokio::time::timeout(timeout, open.exchange(request)).await {
        Err(_) => {
            *conn = None;
            Err(Failure::new(
                "timeout",
                format!("no answer within {timeout:?}"),
            ))
        }
        Ok(Err(e)) => {
            *conn = None;
            Err(Failure::new("transport", e.to_string()))
        }
        Ok(Ok((status, body))) => {
            if !status.is_success() {
                return Err(Failure::new(
                    format!("status_{}", status.as_u16()),
                    excerpt(&body),
                ));
            }
            if !workload.accepts(&body) {
                return Err(Failure::new("unexpected_body", excerpt(&body)));
            }
            Ok(())
        }
    }
}

fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    text.chars().take(ERROR_EXCERPT).collect()
}
