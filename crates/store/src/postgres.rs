//! [`PostgresStore`]: the store several `warden` instances share.
//!
//! A pool of ten connections at the default `READ COMMITTED` isolation. Every guarantee the
//! trait asks for rests on single statements or on row locks, never on a read followed by a
//! write: a replayed `jti` meets the primary key in an `INSERT ... ON CONFLICT`, a single-use
//! initial access token is claimed by a conditional `DELETE ... RETURNING` (a concurrent
//! claimer blocks on the row lock, then finds it gone), and key activation is a pair of
//! conditional `UPDATE`s whose row counts decide between commit and rollback.
//!
//! Each registry mutation also sends `NOTIFY` on [`REGISTRY_CHANNEL`] with the new
//! [`Store::registry_version`] as payload, delivered at commit, so instances can refresh their
//! caches at once instead of waiting for their next poll.
//!
//! Every SQL string is a literal, so sqlx prepares each statement once per connection and
//! reuses it.

use std::str::FromStr;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Connection, Executor, PgConnection, Postgres, Transaction};
use warden_core::model::{
    Api, AuditEvent, Client, InitialAccessToken, KeyState, OpaqueTokenRecord, StoredKey,
};
use warden_core::store::{Store, StoreError, StoreResult};
use warden_types::UnixTime;

use crate::codec::{self, db_error};
use crate::migrate;

/// The `LISTEN` channel on which every registry change is announced; the payload is the new
/// registry version in decimal.
pub const REGISTRY_CHANNEL: &str = "warden_registry";

/// Pool size: enough for a busy instance; a fleet of instances multiplies it.
const MAX_CONNECTIONS: u32 = 10;

/// SQLSTATE `invalid_catalog_name`: the database named in the URL does not exist.
const UNDEFINED_DATABASE: &str = "3D000";
/// SQLSTATE `duplicate_database`.
const DUPLICATE_DATABASE: &str = "42P04";
/// SQLSTATE `unique_violation`, which a `CREATE DATABASE` racing another one can also raise.
const UNIQUE_VIOLATION: &str = "23505";

/// Warden's state in a PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects to `url` (`postgres://` or `postgresql://`), creating the database if it does
    /// not exist yet, and migrates it.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let options = PgConnectOptions::from_str(url).map_err(db_error)?;
        let pool = match pool_options().connect_with(options.clone()).await {
            Ok(pool) => pool,
            Err(e) if has_code(&e, UNDEFINED_DATABASE) => {
                create_database(&options).await?;
                pool_options()
                    .connect_with(options)
                    .await
                    .map_err(db_error)?
            }
            Err(e) => return Err(db_error(e)),
        };
        migrate::run_postgres(&pool).await?;
        Ok(Self { pool })
    }

    /// Starts a transaction.
    async fn begin(&self) -> StoreResult<Transaction<'static, Postgres>> {
        self.pool.begin().await.map_err(db_error)
    }
}

fn pool_options() -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(MAX_CONNECTIONS)
        // sqlx would otherwise ping before every use, a round trip on each hot-path query.
        // Connections are still checked when returned to the pool; one that died while idle
        // (a server restart) fails one call and is discarded.
        .test_before_acquire(false)
}

/// Creates the database `options` names, from the server's `postgres` maintenance database.
/// Losing a race with another process creating it is success.
async fn create_database(options: &PgConnectOptions) -> StoreResult<()> {
    let name = options
        .get_database()
        .unwrap_or_else(|| options.get_username())
        .to_owned();
    let mut conn = PgConnection::connect_with(&options.clone().database("postgres"))
        .await
        .map_err(db_error)?;
    // CREATE DATABASE takes no bind parameters; the name is quoted as an identifier.
    let statement = format!("CREATE DATABASE {}", quote_identifier(&name));
    let created = conn.execute(statement.as_str()).await;
    // Best effort: the connection is dropped either way.
    let _ = conn.close().await;
    match created {
        Ok(_) => {
            tracing::info!(database = %name, "created PostgreSQL database");
            Ok(())
        }
        Err(e) if has_code(&e, DUPLICATE_DATABASE) || has_code(&e, UNIQUE_VIOLATION) => Ok(()),
        Err(e) => Err(db_error(e)),
    }
}

/// Whether `error` is a database error with SQLSTATE `code`.
fn has_code(error: &sqlx::Error, code: &str) -> bool {
    match error {
        sqlx::Error::Database(db) => db.code().is_some_and(|c| c == code),
        _ => false,
    }
}

/// `name` as a PostgreSQL quoted identifier.
fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Bumps the registry version inside a transaction and announces it on
/// [`REGISTRY_CHANNEL`] (delivered when the transaction commits).
async fn bump_registry_version(conn: &mut PgConnection) -> StoreResult<()> {
    let bumped = sqlx::query(
        "WITH bumped AS (
             UPDATE registry_version SET version = version + 1 WHERE id = 1 RETURNING version
         )
         SELECT pg_notify($1, CAST(version AS TEXT)) FROM bumped",
    )
    .bind(REGISTRY_CHANNEL)
    .fetch_optional(conn)
    .await
    .map_err(db_error)?;
    match bumped {
        Some(_) => Ok(()),
        None => Err(StoreError::Corrupt(
            "registry_version row missing".to_owned(),
        )),
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    // ---- registry -----------------------------------------------------------------------

    async fn registry_version(&self) -> StoreResult<i64> {
        let row = sqlx::query("SELECT version FROM registry_version WHERE id = 1")
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?
            .ok_or_else(|| StoreError::Corrupt("registry_version row missing".to_owned()))?;
        sqlx::Row::try_get(&row, "version").map_err(db_error)
    }

    async fn insert_api(&self, api: &Api) -> StoreResult<()> {
        let data = codec::to_json("API", api)?;
        let mut tx = self.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO apis (identifier, data, created_at, updated_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT DO NOTHING",
        )
        .bind(api.identifier.as_str())
        .bind(data)
        .bind(api.created_at)
        .bind(api.updated_at)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
        if inserted == 0 {
            tx.rollback().await.map_err(db_error)?;
            return Err(StoreError::Conflict);
        }
        bump_registry_version(&mut tx).await?;
        tx.commit().await.map_err(db_error)
    }

    async fn update_api(&self, api: &Api) -> StoreResult<bool> {
        let data = codec::to_json("API", api)?;
        let mut tx = self.begin().await?;
        let updated = sqlx::query(
            "UPDATE apis SET data = $2, created_at = $3, updated_at = $4 WHERE identifier = $1",
        )
        .bind(api.identifier.as_str())
        .bind(data)
        .bind(api.created_at)
        .bind(api.updated_at)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
        if updated == 0 {
            tx.rollback().await.map_err(db_error)?;
            return Ok(false);
        }
        bump_registry_version(&mut tx).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(true)
    }

    async fn api(&self, identifier: &str) -> StoreResult<Option<Api>> {
        sqlx::query("SELECT data FROM apis WHERE identifier = $1")
            .bind(identifier)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?
            .map(|row| codec::data(&row, "API"))
            .transpose()
    }

    async fn apis(&self) -> StoreResult<Vec<Api>> {
        sqlx::query("SELECT data FROM apis ORDER BY identifier")
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?
            .iter()
            .map(|row| codec::data(row, "API"))
            .collect()
    }

    async fn delete_api(&self, identifier: &str) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let deleted = sqlx::query("DELETE FROM apis WHERE identifier = $1")
            .bind(identifier)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?
            .rows_affected();
        if deleted == 0 {
            tx.rollback().await.map_err(db_error)?;
            return Ok(false);
        }
        bump_registry_version(&mut tx).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(true)
    }

    async fn insert_client(&self, client: &Client) -> StoreResult<()> {
        let data = codec::to_json("client", client)?;
        let mut tx = self.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO clients (client_id, data, created_at, updated_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT DO NOTHING",
        )
        .bind(client.client_id.as_str())
        .bind(data)
        .bind(client.created_at)
        .bind(client.updated_at)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
        if inserted == 0 {
            tx.rollback().await.map_err(db_error)?;
            return Err(StoreError::Conflict);
        }
        bump_registry_version(&mut tx).await?;
        tx.commit().await.map_err(db_error)
    }

    async fn update_client(&self, client: &Client) -> StoreResult<bool> {
        let data = codec::to_json("client", client)?;
        let mut tx = self.begin().await?;
        let updated = sqlx::query(
            "UPDATE clients SET data = $2, created_at = $3, updated_at = $4 WHERE client_id = $1",
        )
        .bind(client.client_id.as_str())
        .bind(data)
        .bind(client.created_at)
        .bind(client.updated_at)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
        if updated == 0 {
            tx.rollback().await.map_err(db_error)?;
            return Ok(false);
        }
        bump_registry_version(&mut tx).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(true)
    }

    async fn client(&self, client_id: &str) -> StoreResult<Option<Client>> {
        sqlx::query("SELECT data FROM clients WHERE client_id = $1")
            .bind(client_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?
            .map(|row| codec::data(&row, "client"))
            .transpose()
    }

    async fn clients(&self) -> StoreResult<Vec<Client>> {
        sqlx::query("SELECT data FROM clients ORDER BY client_id")
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?
            .iter()
            .map(|row| codec::data(row, "client"))
            .collect()
    }

    async fn delete_client(&self, client_id: &str) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let deleted = sqlx::query("DELETE FROM clients WHERE client_id = $1")
            .bind(client_id)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?
            .rows_affected();
        if deleted == 0 {
            tx.rollback().await.map_err(db_error)?;
            return Ok(false);
        }
        bump_registry_version(&mut tx).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(true)
    }

    // ---- signing keys -------------------------------------------------------------------

    async fn signing_keys(&self) -> StoreResult<Vec<StoredKey>> {
        sqlx::query(
            "SELECT kid, alg, state, sealed_private_key, public_jwk, created_at, activated_at,
                    retired_at, remove_after
             FROM signing_keys ORDER BY created_at, kid",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?
        .iter()
        .map(codec::stored_key)
        .collect()
    }

    async fn insert_signing_key(&self, key: &StoredKey) -> StoreResult<()> {
        let public_jwk = codec::to_json("public JWK", &key.public_jwk)?;
        let mut tx = self.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO signing_keys (kid, alg, state, sealed_private_key, public_jwk, created_at,
                                       activated_at, retired_at, remove_after)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT DO NOTHING",
        )
        .bind(key.kid.as_str())
        .bind(key.alg.as_str())
        .bind(key.state.as_str())
        .bind(key.sealed_private_key.as_str())
        .bind(public_jwk)
        .bind(key.created_at)
        .bind(key.activated_at)
        .bind(key.retired_at)
        .bind(key.remove_after)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
        if inserted == 0 {
            tx.rollback().await.map_err(db_error)?;
            return Err(StoreError::Conflict);
        }
        bump_registry_version(&mut tx).await?;
        tx.commit().await.map_err(db_error)
    }

    async fn activate_signing_key(
        &self,
        next_kid: &str,
        previous_kid: Option<&str>,
        now: UnixTime,
        remove_after: UnixTime,
    ) -> StoreResult<bool> {
        if previous_kid == Some(next_kid) {
            // A key cannot be both published and active: the preconditions cannot hold.
            return Ok(false);
        }
        let mut tx = self.begin().await?;
        let activated = sqlx::query(
            "UPDATE signing_keys SET state = $2, activated_at = $3 WHERE kid = $1 AND state = $4",
        )
        .bind(next_kid)
        .bind(KeyState::Active.as_str())
        .bind(now)
        .bind(KeyState::Published.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
        if activated != 1 {
            tx.rollback().await.map_err(db_error)?;
            return Ok(false);
        }
        if let Some(previous_kid) = previous_kid {
            let retired = sqlx::query(
                "UPDATE signing_keys SET state = $2, retired_at = $3, remove_after = $4
                 WHERE kid = $1 AND state = $5",
            )
            .bind(previous_kid)
            .bind(KeyState::Retired.as_str())
            .bind(now)
            .bind(remove_after)
            .bind(KeyState::Active.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?
            .rows_affected();
            if retired != 1 {
                tx.rollback().await.map_err(db_error)?;
                return Ok(false);
            }
        }
        bump_registry_version(&mut tx).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(true)
    }

    async fn retire_signing_key(
        &self,
        kid: &str,
        from: KeyState,
        now: UnixTime,
        remove_after: UnixTime,
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let retired = sqlx::query(
            "UPDATE signing_keys SET state = $2, retired_at = $3, remove_after = $4
             WHERE kid = $1 AND state = $5 AND state <> $2",
        )
        .bind(kid)
        .bind(KeyState::Retired.as_str())
        .bind(now)
        .bind(remove_after)
        .bind(from.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
        if retired != 1 {
            tx.rollback().await.map_err(db_error)?;
            return Ok(false);
        }
        bump_registry_version(&mut tx).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(true)
    }

    async fn remove_expired_signing_keys(&self, now: UnixTime) -> StoreResult<u64> {
        let mut tx = self.begin().await?;
        let removed =
            sqlx::query("DELETE FROM signing_keys WHERE state = $1 AND remove_after < $2")
                .bind(KeyState::Retired.as_str())
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?
                .rows_affected();
        if removed == 0 {
            tx.rollback().await.map_err(db_error)?;
            return Ok(0);
        }
        bump_registry_version(&mut tx).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(removed)
    }

    // ---- replay and revocation ----------------------------------------------------------

    async fn record_assertion_jti(
        &self,
        client_id: &str,
        jti: &str,
        expires_at: UnixTime,
        now: UnixTime,
    ) -> StoreResult<bool> {
        // One statement, so atomic across processes: a new (client, jti) is inserted; an
        // existing one is overwritten only if it has expired; a live one is left alone and
        // no row changes, which is the replay.
        let changed = sqlx::query(
            "INSERT INTO assertion_jtis (client_id, jti, expires_at) VALUES ($1, $2, $3)
             ON CONFLICT (client_id, jti) DO UPDATE SET expires_at = excluded.expires_at
             WHERE assertion_jtis.expires_at <= $4",
        )
        .bind(client_id)
        .bind(jti)
        .bind(expires_at)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(db_error)?
        .rows_affected();
        Ok(changed == 1)
    }

    async fn revoke_jti(&self, jti: &str, expires_at: UnixTime) -> StoreResult<()> {
        // Revoking twice keeps the later expiry.
        sqlx::query(
            "INSERT INTO revoked_jtis (jti, expires_at) VALUES ($1, $2)
             ON CONFLICT (jti) DO UPDATE SET expires_at = excluded.expires_at
             WHERE revoked_jtis.expires_at < excluded.expires_at",
        )
        .bind(jti)
        .bind(expires_at)
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn is_jti_revoked(&self, jti: &str) -> StoreResult<bool> {
        let row = sqlx::query("SELECT 1 FROM revoked_jtis WHERE jti = $1")
            .bind(jti)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(row.is_some())
    }

    // ---- opaque tokens ------------------------------------------------------------------

    async fn insert_opaque_token(&self, record: &OpaqueTokenRecord) -> StoreResult<()> {
        let extra = codec::opaque_token_extra(record)?;
        sqlx::query(
            "INSERT INTO opaque_tokens (token_hash, jti, client_id, sub, aud, scope, iat, exp,
                                        revoked, extra)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(record.token_hash.as_str())
        .bind(record.jti.as_str())
        .bind(record.client_id.as_str())
        .bind(record.sub.as_str())
        .bind(record.aud.as_str())
        .bind(record.scope.to_string())
        .bind(record.iat)
        .bind(record.exp)
        .bind(record.revoked)
        .bind(extra)
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn opaque_token(&self, token_hash: &str) -> StoreResult<Option<OpaqueTokenRecord>> {
        sqlx::query(
            "SELECT token_hash, jti, client_id, sub, aud, scope, iat, exp, revoked, extra
             FROM opaque_tokens WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .map(|row| codec::opaque_token(&row))
        .transpose()
    }

    async fn revoke_opaque_token(&self, token_hash: &str) -> StoreResult<bool> {
        let updated = sqlx::query("UPDATE opaque_tokens SET revoked = TRUE WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await
            .map_err(db_error)?
            .rows_affected();
        Ok(updated > 0)
    }

    // ---- registration -------------------------------------------------------------------

    async fn insert_initial_access_token(&self, token: &InitialAccessToken) -> StoreResult<()> {
        let allowed_apis = codec::allowed_apis(token)?;
        sqlx::query(
            "INSERT INTO initial_access_tokens (token_hash, expires_at, once, allowed_apis,
                                                created_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token.token_hash.as_str())
        .bind(token.expires_at)
        .bind(token.once)
        .bind(allowed_apis)
        .bind(token.created_at)
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn use_initial_access_token(
        &self,
        token_hash: &str,
        now: UnixTime,
    ) -> StoreResult<Option<InitialAccessToken>> {
        let Some(row) = sqlx::query(
            "SELECT token_hash, expires_at, once, allowed_apis, created_at
             FROM initial_access_tokens WHERE token_hash = $1 AND expires_at > $2",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        else {
            return Ok(None);
        };
        let token = codec::initial_access_token(&row)?;
        if !token.once {
            return Ok(Some(token));
        }
        // Single use: whoever deletes the row owns the use; a concurrent caller deletes
        // nothing and gets None.
        sqlx::query(
            "DELETE FROM initial_access_tokens
             WHERE token_hash = $1 AND once = TRUE AND expires_at > $2
             RETURNING token_hash, expires_at, once, allowed_apis, created_at",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .map(|row| codec::initial_access_token(&row))
        .transpose()
    }

    // ---- audit --------------------------------------------------------------------------

    async fn append_audit_events(&self, events: &[AuditEvent]) -> StoreResult<()> {
        if events.is_empty() {
            return Ok(());
        }
        let details = events
            .iter()
            .map(|event| codec::to_json("audit event detail", &event.detail))
            .collect::<StoreResult<Vec<_>>>()?;
        let mut tx = self.begin().await?;
        // Multi-row inserts: under load the audit trail receives one event per issued token,
        // and one statement per row would cost the hot path's core more than the tokens.
        for (events, details) in events
            .chunks(AUDIT_ROWS_PER_INSERT)
            .zip(details.chunks(AUDIT_ROWS_PER_INSERT))
        {
            let mut insert = sqlx::QueryBuilder::<sqlx::Postgres>::new(
                "INSERT INTO audit_events (at, kind, actor, source, detail) ",
            );
            insert.push_values(events.iter().zip(details), |mut row, (event, detail)| {
                row.push_bind(event.at)
                    .push_bind(event.kind.as_str())
                    .push_bind(event.actor.as_deref())
                    .push_bind(event.source.as_deref())
                    .push_bind(detail.as_str());
            });
            insert.build().execute(&mut *tx).await.map_err(db_error)?;
        }
        tx.commit().await.map_err(db_error)
    }

    async fn prune_audit_events(&self, before: UnixTime) -> StoreResult<u64> {
        Ok(sqlx::query("DELETE FROM audit_events WHERE at < $1")
            .bind(before)
            .execute(&self.pool)
            .await
            .map_err(db_error)?
            .rows_affected())
    }

    async fn audit_events(&self, limit: u32) -> StoreResult<Vec<AuditEvent>> {
        sqlx::query(
            "SELECT at, kind, actor, source, detail FROM audit_events
             ORDER BY at DESC, id DESC LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?
        .iter()
        .map(codec::audit_event)
        .collect()
    }

    // ---- settings -----------------------------------------------------------------------

    async fn setting(&self, key: &str) -> StoreResult<Option<String>> {
        let row = sqlx::query("SELECT value FROM settings WHERE name = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        row.map(|row| sqlx::Row::try_get(&row, "value").map_err(db_error))
            .transpose()
    }

    async fn init_setting(&self, key: &str, value: &str) -> StoreResult<String> {
        // The no-op update makes RETURNING yield the stored row whether or not it was new.
        let row = sqlx::query(
            "INSERT INTO settings (name, value) VALUES ($1, $2)
             ON CONFLICT (name) DO UPDATE SET value = settings.value
             RETURNING value",
        )
        .bind(key)
        .bind(value)
        .fetch_one(&self.pool)
        .await
        .map_err(db_error)?;
        sqlx::Row::try_get(&row, "value").map_err(db_error)
    }

    // ---- maintenance --------------------------------------------------------------------

    async fn prune_expired(&self, now: UnixTime) -> StoreResult<u64> {
        // Separate statements, not one transaction: nothing ties the tables together, and
        // short statements let hot-path writes interleave with a large prune.
        const PRUNE: [&str; 4] = [
            "DELETE FROM assertion_jtis WHERE expires_at <= $1",
            "DELETE FROM revoked_jtis WHERE expires_at <= $1",
            "DELETE FROM opaque_tokens WHERE exp <= $1",
            "DELETE FROM initial_access_tokens WHERE expires_at <= $1",
        ];
        let mut pruned = 0;
        for statement in PRUNE {
            pruned += sqlx::query(statement)
                .bind(now)
                .execute(&self.pool)
                .await
                .map_err(db_error)?
                .rows_affected();
        }
        Ok(pruned)
    }
}

/// Rows per multi-row audit insert (5 parameters each, well under both backends' limits).
/// Full chunks always produce the same SQL text, so the statement is prepared once.
const AUDIT_ROWS_PER_INSERT: usize = 200;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote_identifier("warden"), "\"warden\"");
        assert_eq!(quote_identifier("a\"b"), "\"a\"\"b\"");
    }
}
