//! The one place this crate reads the wall clock: the `iat` and `exp` of client assertions
//! (RFC 7523 §3) and the `expires_at` reported on tokens. Cache freshness uses the monotonic
//! [`tokio::time::Instant`] instead, so a wall-clock jump never serves an expired token.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch, now.
pub(crate) fn unix_now() -> i64 {
    // The wall clock is read here and nowhere else in this crate (clippy.toml forbids it
    // elsewhere).
    #[allow(clippy::disallowed_methods)]
    let now = SystemTime::now();
    now.duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The wall-clock time `after` from now.
pub(crate) fn system_time_after(after: Duration) -> SystemTime {
    #[allow(clippy::disallowed_methods)]
    let now = SystemTime::now();
    now.checked_add(after).unwrap_or(now)
}
