//! Where the validator reads the time: the system clock, or a clock the caller injects (tests,
//! or a service that already has one). The only place this crate reads the wall clock.

use std::fmt;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch, the unit of JWT `NumericDate` claims (RFC 7519 §2).
pub type UnixTime = i64;

/// The source of "now" for `exp`, `nbf`, `iat` (RFC 7519 §4.1.4–4.1.6) and the introspection
/// cache. Cheap to clone.
#[derive(Clone, Default)]
pub struct Clock(Option<Arc<dyn Fn() -> UnixTime + Send + Sync>>);

impl Clock {
    /// The system clock (the default).
    pub fn system() -> Self {
        Self(None)
    }

    /// A clock that asks `now` for the current time, e.g. a test clock.
    pub fn from_fn(now: impl Fn() -> UnixTime + Send + Sync + 'static) -> Self {
        Self(Some(Arc::new(now)))
    }

    /// The current time in seconds since the Unix epoch.
    pub fn now(&self) -> UnixTime {
        match &self.0 {
            Some(now) => now(),
            None => system_now(),
        }
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "Clock(custom)"
        } else {
            "Clock(system)"
        })
    }
}

// The workspace forbids `SystemTime::now` outside clock modules; this is this crate's one.
#[allow(clippy::disallowed_methods)]
fn system_now() -> UnixTime {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| UnixTime::try_from(d.as_secs()).unwrap_or(UnixTime::MAX))
        .unwrap_or(0)
}
