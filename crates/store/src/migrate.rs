//! Schema migrations: for each backend, an ordered, append-only list of static SQL.
//!
//! A migration, once released, is never edited: a schema change is a new entry with the next
//! version, added to both [`SQLITE`] and [`POSTGRES`]. [`run_sqlite`] and [`run_postgres`]
//! apply whatever a database lacks in one transaction, recording each version in
//! `schema_migrations(version, applied_at)`, so a failure leaves the schema as it was.
//!
//! Several processes may start against one database at once (a server and an admin command,
//! or a fleet rolling out). Each run therefore takes a database-wide lock before reading which
//! versions are applied: `BEGIN IMMEDIATE` on SQLite (the single write lock, waited for
//! through `busy_timeout`) and `pg_advisory_xact_lock` on PostgreSQL. The loser of the race
//! waits, then finds the work done.
//!
//! `applied_at` is taken from the database clock: the migration runner has no `now` to be
//! given, and the wall clock is read only by the server's clock module.

use sqlx::{Connection, Executor, PgPool, Row, SqliteConnection};
use warden_core::store::StoreResult;

use crate::codec::db_error;

/// One schema change.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// Position in the sequence, starting at 1 and never reused.
    pub version: i64,
    /// What the migration does, for logs.
    pub description: &'static str,
    /// Statements, run in order in one transaction. Each is a single SQL statement.
    pub statements: &'static [&'static str],
}

/// The SQLite schema.
pub const SQLITE: &[Migration] = &[SQLITE_V1, SQLITE_V2, SQLITE_V3];

/// The PostgreSQL schema; the same tables as [`SQLITE`].
pub const POSTGRES: &[Migration] = &[POSTGRES_V1, POSTGRES_V2, POSTGRES_V3];

/// The registry, keys, replay sets, tokens, audit and settings.
const SQLITE_V1: Migration = Migration {
    version: 1,
    description: "registry, signing keys, replay and revocation sets, opaque and initial access tokens, audit, settings",
    statements: &[
        "CREATE TABLE registry_version (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            version INTEGER NOT NULL
        )",
        "INSERT INTO registry_version (id, version) VALUES (1, 0)",
        "CREATE TABLE apis (
            identifier TEXT PRIMARY KEY,
            data TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL
        )",
        "CREATE TABLE clients (
            client_id TEXT PRIMARY KEY,
            data TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL
        )",
        "CREATE TABLE signing_keys (
            kid TEXT PRIMARY KEY,
            alg TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('published', 'active', 'retired')),
            sealed_private_key TEXT NOT NULL,
            public_jwk TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            activated_at INTEGER,
            retired_at INTEGER,
            remove_after INTEGER
        )",
        "CREATE TABLE assertion_jtis (
            client_id TEXT NOT NULL,
            jti TEXT NOT NULL,
            expires_at INTEGER NOT NULL,
            PRIMARY KEY (client_id, jti)
        ) WITHOUT ROWID",
        "CREATE INDEX assertion_jtis_expires_at ON assertion_jtis (expires_at)",
        "CREATE TABLE revoked_jtis (
            jti TEXT PRIMARY KEY,
            expires_at INTEGER NOT NULL
        ) WITHOUT ROWID",
        "CREATE INDEX revoked_jtis_expires_at ON revoked_jtis (expires_at)",
        "CREATE TABLE opaque_tokens (
            token_hash TEXT PRIMARY KEY,
            jti TEXT NOT NULL,
            client_id TEXT NOT NULL,
            sub TEXT NOT NULL,
            aud TEXT NOT NULL,
            scope TEXT NOT NULL,
            iat INTEGER NOT NULL,
            exp INTEGER NOT NULL,
            revoked BOOLEAN NOT NULL DEFAULT FALSE,
            extra TEXT
        )",
        "CREATE INDEX opaque_tokens_exp ON opaque_tokens (exp)",
        "CREATE TABLE initial_access_tokens (
            token_hash TEXT PRIMARY KEY,
            expires_at INTEGER NOT NULL,
            once BOOLEAN NOT NULL,
            allowed_apis TEXT,
            created_at INTEGER NOT NULL
        )",
        "CREATE TABLE audit_events (
            id INTEGER PRIMARY KEY,
            at INTEGER NOT NULL,
            kind TEXT NOT NULL,
            actor TEXT,
            source TEXT,
            detail TEXT NOT NULL
        )",
        "CREATE INDEX audit_events_at ON audit_events (at, id)",
        "CREATE TABLE settings (
            name TEXT PRIMARY KEY,
            value TEXT NOT NULL
        )",
    ],
};

/// The human side (OpenID Connect). Each record is whole in `data`; what a query filters on
/// or updates atomically (expiries, `redeemed_at`, `used_at`, `revoked`, counters) is a column.
const SQLITE_V2: Migration = Migration {
    version: 2,
    description: "users, sessions, consents, authorization codes, refresh tokens, pending requests, login throttling",
    statements: &[
        // `email` is NULL for a user without one, so any number of such users coexist under
        // the unique constraint; the record itself keeps its empty string in `data`.
        "CREATE TABLE users (
            sub TEXT PRIMARY KEY,
            username TEXT NOT NULL UNIQUE,
            email TEXT UNIQUE,
            data TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL
        )",
        "CREATE TABLE sessions (
            id_hash TEXT PRIMARY KEY,
            sid TEXT NOT NULL,
            user_sub TEXT NOT NULL,
            expires_at INTEGER NOT NULL,
            data TEXT NOT NULL
        )",
        "CREATE INDEX sessions_user_sub ON sessions (user_sub)",
        "CREATE INDEX sessions_expires_at ON sessions (expires_at)",
        "CREATE TABLE consents (
            user_sub TEXT NOT NULL,
            client_id TEXT NOT NULL,
            data TEXT NOT NULL,
            updated_at INTEGER NOT NULL,
            PRIMARY KEY (user_sub, client_id)
        ) WITHOUT ROWID",
        "CREATE TABLE authorization_codes (
            code_hash TEXT PRIMARY KEY,
            user_sub TEXT NOT NULL,
            expires_at INTEGER NOT NULL,
            redeemed_at INTEGER,
            issued TEXT,
            data TEXT NOT NULL
        )",
        "CREATE INDEX authorization_codes_user_sub ON authorization_codes (user_sub)",
        "CREATE INDEX authorization_codes_expires_at ON authorization_codes (expires_at)",
        "CREATE TABLE refresh_tokens (
            token_hash TEXT PRIMARY KEY,
            family_id TEXT NOT NULL,
            client_id TEXT NOT NULL,
            user_sub TEXT NOT NULL,
            expires_at INTEGER NOT NULL,
            used_at INTEGER,
            revoked BOOLEAN NOT NULL DEFAULT FALSE,
            data TEXT NOT NULL
        )",
        "CREATE INDEX refresh_tokens_family_id ON refresh_tokens (family_id)",
        "CREATE INDEX refresh_tokens_user_sub ON refresh_tokens (user_sub, client_id)",
        "CREATE INDEX refresh_tokens_expires_at ON refresh_tokens (expires_at)",
        "CREATE TABLE pending_requests (
            id_hash TEXT PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('par', 'interaction')),
            client_id TEXT NOT NULL,
            expires_at INTEGER NOT NULL,
            data TEXT NOT NULL
        )",
        "CREATE INDEX pending_requests_expires_at ON pending_requests (expires_at)",
        "CREATE TABLE login_failures (
            key TEXT PRIMARY KEY,
            count INTEGER NOT NULL,
            last_failure INTEGER NOT NULL
        ) WITHOUT ROWID",
        "CREATE INDEX login_failures_last_failure ON login_failures (last_failure)",
    ],
};

/// Trusted issuers (workload identity federation), stored like clients: the whole record in
/// `data`, keyed by the exact `iss` value.
const SQLITE_V3: Migration = Migration {
    version: 3,
    description: "trusted issuers",
    statements: &["CREATE TABLE trusted_issuers (
            issuer TEXT PRIMARY KEY,
            data TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL
        )"],
};

/// [`SQLITE_V1`] for PostgreSQL.
const POSTGRES_V1: Migration = Migration {
    version: 1,
    description: "registry, signing keys, replay and revocation sets, opaque and initial access tokens, audit, settings",
    statements: &[
        "CREATE TABLE registry_version (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            version BIGINT NOT NULL
        )",
        "INSERT INTO registry_version (id, version) VALUES (1, 0)",
        "CREATE TABLE apis (
            identifier TEXT PRIMARY KEY,
            data TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL
        )",
        "CREATE TABLE clients (
            client_id TEXT PRIMARY KEY,
            data TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL
        )",
        "CREATE TABLE signing_keys (
            kid TEXT PRIMARY KEY,
            alg TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('published', 'active', 'retired')),
            sealed_private_key TEXT NOT NULL,
            public_jwk TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            activated_at BIGINT,
            retired_at BIGINT,
            remove_after BIGINT
        )",
        "CREATE TABLE assertion_jtis (
            client_id TEXT NOT NULL,
            jti TEXT NOT NULL,
            expires_at BIGINT NOT NULL,
            PRIMARY KEY (client_id, jti)
        )",
        "CREATE INDEX assertion_jtis_expires_at ON assertion_jtis (expires_at)",
        "CREATE TABLE revoked_jtis (
            jti TEXT PRIMARY KEY,
            expires_at BIGINT NOT NULL
        )",
        "CREATE INDEX revoked_jtis_expires_at ON revoked_jtis (expires_at)",
        "CREATE TABLE opaque_tokens (
            token_hash TEXT PRIMARY KEY,
            jti TEXT NOT NULL,
            client_id TEXT NOT NULL,
            sub TEXT NOT NULL,
            aud TEXT NOT NULL,
            scope TEXT NOT NULL,
            iat BIGINT NOT NULL,
            exp BIGINT NOT NULL,
            revoked BOOLEAN NOT NULL DEFAULT FALSE,
            extra TEXT
        )",
        "CREATE INDEX opaque_tokens_exp ON opaque_tokens (exp)",
        "CREATE TABLE initial_access_tokens (
            token_hash TEXT PRIMARY KEY,
            expires_at BIGINT NOT NULL,
            once BOOLEAN NOT NULL,
            allowed_apis TEXT,
            created_at BIGINT NOT NULL
        )",
        "CREATE TABLE audit_events (
            id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            at BIGINT NOT NULL,
            kind TEXT NOT NULL,
            actor TEXT,
            source TEXT,
            detail TEXT NOT NULL
        )",
        "CREATE INDEX audit_events_at ON audit_events (at, id)",
        "CREATE TABLE settings (
            name TEXT PRIMARY KEY,
            value TEXT NOT NULL
        )",
    ],
};

/// [`SQLITE_V2`] for PostgreSQL.
const POSTGRES_V2: Migration = Migration {
    version: 2,
    description: "users, sessions, consents, authorization codes, refresh tokens, pending requests, login throttling",
    statements: &[
        // `email` is NULL for a user without one, as in SQLite.
        "CREATE TABLE users (
            sub TEXT PRIMARY KEY,
            username TEXT NOT NULL UNIQUE,
            email TEXT UNIQUE,
            data TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL
        )",
        "CREATE TABLE sessions (
            id_hash TEXT PRIMARY KEY,
            sid TEXT NOT NULL,
            user_sub TEXT NOT NULL,
            expires_at BIGINT NOT NULL,
            data TEXT NOT NULL
        )",
        "CREATE INDEX sessions_user_sub ON sessions (user_sub)",
        "CREATE INDEX sessions_expires_at ON sessions (expires_at)",
        "CREATE TABLE consents (
            user_sub TEXT NOT NULL,
            client_id TEXT NOT NULL,
            data TEXT NOT NULL,
            updated_at BIGINT NOT NULL,
            PRIMARY KEY (user_sub, client_id)
        )",
        "CREATE TABLE authorization_codes (
            code_hash TEXT PRIMARY KEY,
            user_sub TEXT NOT NULL,
            expires_at BIGINT NOT NULL,
            redeemed_at BIGINT,
            issued TEXT,
            data TEXT NOT NULL
        )",
        "CREATE INDEX authorization_codes_user_sub ON authorization_codes (user_sub)",
        "CREATE INDEX authorization_codes_expires_at ON authorization_codes (expires_at)",
        "CREATE TABLE refresh_tokens (
            token_hash TEXT PRIMARY KEY,
            family_id TEXT NOT NULL,
            client_id TEXT NOT NULL,
            user_sub TEXT NOT NULL,
            expires_at BIGINT NOT NULL,
            used_at BIGINT,
            revoked BOOLEAN NOT NULL DEFAULT FALSE,
            data TEXT NOT NULL
        )",
        "CREATE INDEX refresh_tokens_family_id ON refresh_tokens (family_id)",
        "CREATE INDEX refresh_tokens_user_sub ON refresh_tokens (user_sub, client_id)",
        "CREATE INDEX refresh_tokens_expires_at ON refresh_tokens (expires_at)",
        "CREATE TABLE pending_requests (
            id_hash TEXT PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('par', 'interaction')),
            client_id TEXT NOT NULL,
            expires_at BIGINT NOT NULL,
            data TEXT NOT NULL
        )",
        "CREATE INDEX pending_requests_expires_at ON pending_requests (expires_at)",
        "CREATE TABLE login_failures (
            key TEXT PRIMARY KEY,
            count BIGINT NOT NULL,
            last_failure BIGINT NOT NULL
        )",
        "CREATE INDEX login_failures_last_failure ON login_failures (last_failure)",
    ],
};

/// [`SQLITE_V3`] for PostgreSQL.
const POSTGRES_V3: Migration = Migration {
    version: 3,
    description: "trusted issuers",
    statements: &["CREATE TABLE trusted_issuers (
            issuer TEXT PRIMARY KEY,
            data TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL
        )"],
};

/// Key of the PostgreSQL advisory lock that serializes migration runs ("WARDENMG").
const POSTGRES_MIGRATION_LOCK: i64 = 0x5741_5244_454E_4D47;

/// Applies the [`SQLITE`] migrations the database lacks; returns how many were applied.
///
/// Runs on the connection that will be the store's writer, before any reader is opened.
pub async fn run_sqlite(conn: &mut SqliteConnection) -> StoreResult<usize> {
    // The write lock is taken before looking, so two processes cannot both decide to apply
    // the same version; the second waits (busy_timeout) and then finds nothing to do.
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await.map_err(db_error)?;
    tx.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version INTEGER PRIMARY KEY,
            applied_at INTEGER NOT NULL
        )",
    )
    .await
    .map_err(db_error)?;
    let applied = applied_versions(
        sqlx::query("SELECT version FROM schema_migrations")
            .fetch_all(&mut *tx)
            .await
            .map_err(db_error)?,
    )?;
    let mut count = 0;
    for migration in pending(SQLITE, &applied) {
        for statement in migration.statements {
            tx.execute(*statement).await.map_err(db_error)?;
        }
        sqlx::query(
            "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, unixepoch('now'))",
        )
        .bind(migration.version)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        tracing::info!(
            version = migration.version,
            description = migration.description,
            "applying SQLite migration"
        );
        count += 1;
    }
    tx.commit().await.map_err(db_error)?;
    Ok(count)
}

/// Applies the [`POSTGRES`] migrations the database lacks; returns how many were applied.
pub async fn run_postgres(pool: &PgPool) -> StoreResult<usize> {
    let mut tx = pool.begin().await.map_err(db_error)?;
    // Held until commit or rollback; every migrating process queues here, so neither the
    // `CREATE TABLE IF NOT EXISTS` below (not safe under concurrency in PostgreSQL) nor a
    // migration can run twice at once.
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(POSTGRES_MIGRATION_LOCK)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
    tx.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version BIGINT PRIMARY KEY,
            applied_at BIGINT NOT NULL
        )",
    )
    .await
    .map_err(db_error)?;
    let applied = applied_versions(
        sqlx::query("SELECT version FROM schema_migrations")
            .fetch_all(&mut *tx)
            .await
            .map_err(db_error)?,
    )?;
    let mut count = 0;
    for migration in pending(POSTGRES, &applied) {
        for statement in migration.statements {
            tx.execute(*statement).await.map_err(db_error)?;
        }
        sqlx::query(
            "INSERT INTO schema_migrations (version, applied_at)
             VALUES ($1, CAST(EXTRACT(EPOCH FROM now()) AS BIGINT))",
        )
        .bind(migration.version)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        tracing::info!(
            version = migration.version,
            description = migration.description,
            "applying PostgreSQL migration"
        );
        count += 1;
    }
    tx.commit().await.map_err(db_error)?;
    Ok(count)
}

/// The versions recorded in `schema_migrations`.
fn applied_versions<R>(rows: Vec<R>) -> StoreResult<Vec<i64>>
where
    R: Row,
    &'static str: sqlx::ColumnIndex<R>,
    i64: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    rows.iter()
        .map(|row| row.try_get("version").map_err(db_error))
        .collect()
}

/// The migrations of `known` not yet in `applied`, in order. A database migrated by a newer
/// build is logged and left alone: append-only migrations keep the tables this build knows.
fn pending<'m>(known: &'m [Migration], applied: &[i64]) -> impl Iterator<Item = &'m Migration> {
    let latest = known.last().map_or(0, |m| m.version);
    if let Some(&newest) = applied.iter().max().filter(|&&v| v > latest) {
        tracing::warn!(
            database_version = newest,
            latest_known = latest,
            "the database schema is newer than this build"
        );
    }
    known
        .iter()
        .filter(move |migration| !applied.contains(&migration.version))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_consecutive_from_one_and_backends_agree() {
        for list in [SQLITE, POSTGRES] {
            for (i, migration) in list.iter().enumerate() {
                assert_eq!(migration.version, i as i64 + 1);
                assert!(!migration.statements.is_empty());
            }
        }
        let sqlite: Vec<_> = SQLITE.iter().map(|m| m.version).collect();
        let postgres: Vec<_> = POSTGRES.iter().map(|m| m.version).collect();
        assert_eq!(sqlite, postgres);
    }

    #[test]
    fn pending_skips_applied() {
        assert_eq!(pending(SQLITE, &[]).count(), SQLITE.len());
        assert_eq!(pending(SQLITE, &[1]).count(), SQLITE.len() - 1);
        assert_eq!(pending(SQLITE, &[1, 99]).count(), SQLITE.len() - 1);
    }
}
