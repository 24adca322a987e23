//! SQLite and PostgreSQL implementations of [`warden_core::store::Store`].
//!
//! - [`sqlite`]: [`SqliteStore`], the single-node embedded default. One write connection and a
//!   pool of readers over a WAL database.
//! - [`postgres`]: [`PostgresStore`], for several `warden` instances sharing one database.
//! - [`migrate`]: the schema of each backend as an append-only list of migrations, applied at
//!   connect time under a lock so that concurrent processes cannot both apply one.
//! - `codec` (private): how records map to columns, shared by both backends.
//!
//! [`connect`] picks the backend from the URL scheme, creates the database if it is missing,
//! migrates it, and hands back the store behind the trait the engine uses.
//!
//! Walking one `private_key_jwt` token request through this crate: the engine has verified
//! the assertion's signature and calls [`Store::record_assertion_jti`]; the store runs a single
//! `INSERT ... ON CONFLICT (client_id, jti) DO UPDATE ... WHERE expires_at <= now` on its
//! write connection, so a replay is refused by the unique key (across every process sharing
//! the database) and an expired entry is reused in the same statement. Clients, APIs and keys
//! are not read here on the hot path: the server caches them and watches
//! [`Store::registry_version`], which every registry mutation bumps in its own transaction.
//!
//! Times are [`warden_types::UnixTime`] seconds and a row "expires at" `t` when `now >= t`,
//! the way a JWT `exp` does (RFC 7519 §4.1.4).

pub mod migrate;
pub mod postgres;
pub mod sqlite;

mod codec;

use std::sync::Arc;

use warden_core::store::{Store, StoreError};
use warden_types::UnixTime;

pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// Opens the database named by `url`, creating and migrating it if needed.
///
/// Accepted schemes:
/// - `sqlite:` — `sqlite://warden.db` (relative path), `sqlite:///abs/path.db`, or
///   `sqlite::memory:` (a private in-memory database, for tests). The file is created if
///   missing; its directory must exist.
/// - `postgres://` or `postgresql://` — if the named database does not exist it is created
///   from the server's `postgres` maintenance database first.
///
/// Any other scheme is refused with [`StoreError::Backend`]. Error messages never repeat the
/// URL, which may hold a password.
pub async fn connect(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    match scheme(url).as_deref() {
        Some("sqlite") => Ok(Arc::new(SqliteStore::connect(url).await?)),
        Some("postgres" | "postgresql") => Ok(Arc::new(PostgresStore::connect(url).await?)),
        Some(other) => Err(StoreError::Backend(format!(
            "unsupported database URL scheme `{other}`: expected `sqlite:` or `postgres://`"
        ))),
        None => Err(StoreError::Backend(
            "the database URL has no scheme: expected `sqlite:` or `postgres://`".to_owned(),
        )),
    }
}

/// The URL's scheme, lower-cased, if it has a plausible one.
fn scheme(url: &str) -> Option<String> {
    let (scheme, _) = url.split_once(':')?;
    let plausible = !scheme.is_empty()
        && scheme.len() <= 32
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    plausible.then(|| scheme.to_ascii_lowercase())
}

/// What goes with a deleted user, in the same transaction; each statement binds the user's
/// sub as `$1`. Redeemed codes stay until pruned, so a late replay of one is still recognised.
pub(crate) const USER_CASCADE: [&str; 4] = [
    "DELETE FROM sessions WHERE user_sub = $1",
    "DELETE FROM consents WHERE user_sub = $1",
    "DELETE FROM refresh_tokens WHERE user_sub = $1",
    "DELETE FROM authorization_codes WHERE user_sub = $1 AND redeemed_at IS NULL",
];

/// How long an authorization code is kept past its expiry: a replay arriving late is then
/// still recognised as one (and can revoke what the first redemption issued) rather than
/// refused as an unknown code.
const CODE_RETENTION: i64 = 60 * 60;

/// How long a failed-login counter is kept after its latest failure; longer than any sensible
/// throttling window.
const LOGIN_FAILURE_RETENTION: i64 = 24 * 60 * 60;

/// The statements [`Store::prune_expired`] runs on both backends, each with the cutoff it
/// binds as `$1`. They run one by one, not in one transaction: nothing ties the tables
/// together, and short statements let hot-path writes interleave with a large prune.
pub(crate) fn prune_statements(now: UnixTime) -> [(&'static str, UnixTime); 9] {
    [
        ("DELETE FROM assertion_jtis WHERE expires_at <= $1", now),
        ("DELETE FROM revoked_jtis WHERE expires_at <= $1", now),
        ("DELETE FROM opaque_tokens WHERE exp <= $1", now),
        (
            "DELETE FROM initial_access_tokens WHERE expires_at <= $1",
            now,
        ),
        ("DELETE FROM sessions WHERE expires_at <= $1", now),
        (
            "DELETE FROM authorization_codes WHERE expires_at < $1",
            now.saturating_sub(CODE_RETENTION),
        ),
        ("DELETE FROM refresh_tokens WHERE expires_at <= $1", now),
        ("DELETE FROM pending_requests WHERE expires_at <= $1", now),
        (
            "DELETE FROM login_failures WHERE last_failure < $1",
            now.saturating_sub(LOGIN_FAILURE_RETENTION),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes() {
        assert_eq!(scheme("sqlite::memory:").as_deref(), Some("sqlite"));
        assert_eq!(scheme("sqlite:///a/b.db").as_deref(), Some("sqlite"));
        assert_eq!(scheme("PostgreSQL://h/db").as_deref(), Some("postgresql"));
        assert_eq!(scheme("warden.db"), None);
        assert_eq!(scheme(":memory:"), None);
    }

    /// Callers open stores from spawned tasks; sqlx's generic executors make it easy to lose
    /// `Send` on a future without noticing until then.
    #[test]
    fn connect_future_is_send() {
        fn is_send<T: Send>(_: &T) {}
        is_send(&connect("sqlite::memory:"));
    }

    #[tokio::test]
    async fn unknown_scheme_is_refused_without_echoing_the_url() {
        let Err(err) = connect("mysql://root:hunter2@db/warden").await else {
            panic!("mysql must be refused");
        };
        let message = err.to_string();
        assert!(message.contains("`mysql`"), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
        assert!(matches!(
            connect("warden.db").await,
            Err(StoreError::Backend(_))
        ));
    }
}
