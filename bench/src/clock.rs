//! The one place the bench reads the wall clock: `iat`/`exp` of client assertions.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> u64 {
    #[allow(clippy::disallowed_methods)] // the bench's clock module: JWT times need the wall clock
    let now = SystemTime::now();
    now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}
