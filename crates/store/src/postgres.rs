//! [`PostgresStore`]: the store several `warden` instances share.
//!
//! A pool of ten connections at the default `READ COMMITTED` isolation. Every guarantee the
//! trait asks for rests on single statements or on row locks, never on a read followed by a
//! write: a replayed `jti` meets the primary key in an `INSERT ... ON CONFLICT`, a single-use
//! initial access token is claimed by a conditional `DELETE ... RETURNING` (a concurrent
//! claimer blocks on the row lock, then finds it gone), and key activation is a pair of
//! conditional `UPDATE`s whose row counts decide between commit and rollback. Code
//! redemption and refresh-token use are conditional `UPDATE ... RETURNING`s, pending requests
//! are taken by `DELETE ... RETURNING`, failed logins are counted by one upsert, and the one
//! read-modify-write (a session's client list) holds the row with `SELECT ... FOR UPDATE`.
//!
//! Each registry mutation also sends `NOTIFY` on [`REGISTRY_CHANNEL`] with the new
//! [`Store::registry_version`] as payload, delivered at commit, so instances can refresh their
//! caches at once instead of waiting for their next poll.
//!
//! Every SQL string is a literal, so sqlx prepares each statement once per connection and
//! reuses it.

use std::str::FromStr;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use sqlx::postgres::{PgArguments, PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::query::Query;
use sqlx::{Connection, Executor, PgConnection, Postgres, Transaction};
use warden_core::model::{
    Api, AuditEvent, AuthorizationCodeRecord, Client, CodeIssuance, CodeRedemption, Consent,
    InitialAccessToken, KeyState, LoginFailures, OpaqueTokenRecord, PendingKind, PendingRequest,
    RefreshTokenRecord, RefreshUse, Session, StoredKey, TrustedIssuer, User,
};
use warden_core::store::{Store, StoreError, StoreResult};
use warden_types::{ClientId, UnixTime};

use crate::codec::{self, RegistryDoc, db_error};
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

/// The JSON-document reads and the registry writes every record type of the registry shares;
/// each caller passes its own SQL literal.
impl PostgresStore {
    /// Decodes the `data` column of the row `sql` selects by its one parameter, `key`.
    async fn get_doc<T: DeserializeOwned>(
        &self,
        sql: &'static str,
        key: &str,
        what: &str,
    ) -> StoreResult<Option<T>> {
        sqlx::query(sql)
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?
            .map(|row| codec::data(&row, what))
            .transpose()
    }

    /// Decodes the `data` column of every row `sql` selects, in its order.
    async fn list_docs<T: DeserializeOwned>(
        &self,
        sql: &'static str,
        what: &str,
    ) -> StoreResult<Vec<T>> {
        sqlx::query(sql)
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?
            .iter()
            .map(|row| codec::data(row, what))
            .collect()
    }

    /// Inserts `doc` with `sql`, an `INSERT ... ON CONFLICT DO NOTHING` binding the key, the
    /// JSON, and the creation and update times; an existing key is `Conflict`.
    async fn insert_doc<T: RegistryDoc>(&self, sql: &'static str, doc: &T) -> StoreResult<()> {
        if self.write_doc(sql, doc).await? {
            Ok(())
        } else {
            Err(StoreError::Conflict)
        }
    }

    /// Replaces `doc` with `sql`, an `UPDATE` binding the same four values as
    /// [`Self::insert_doc`]; whether the key existed.
    async fn update_doc<T: RegistryDoc>(&self, sql: &'static str, doc: &T) -> StoreResult<bool> {
        self.write_doc(sql, doc).await
    }

    async fn write_doc<T: RegistryDoc>(&self, sql: &'static str, doc: &T) -> StoreResult<bool> {
        let data = codec::to_json(T::WHAT, doc)?;
        let query = sqlx::query(sql)
            .bind(doc.key())
            .bind(data)
            .bind(doc.created_at())
            .bind(doc.updated_at());
        self.change_registry(query).await
    }

    /// Deletes the row `sql` selects by its one parameter, `key`; whether there was one.
    async fn delete_doc(&self, sql: &'static str, key: &str) -> StoreResult<bool> {
        self.change_registry(sqlx::query(sql).bind(key)).await
    }

    /// Runs `query` in a transaction: when it changes a row, bumps (and announces) the
    /// registry version and commits, otherwise rolls back. Whether a row changed.
    async fn change_registry(&self, query: Query<'_, Postgres, PgArguments>) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let changed = query
            .execute(&mut *tx)
            .await
            .map_err(db_error)?
            .rows_affected();
        if changed == 0 {
            tx.rollback().await.map_err(db_error)?;
            return Ok(false);
        }
        bump_registry_version(&mut tx).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(true)
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
        self.insert_doc(
            "INSERT INTO apis (identifier, data, created_at, updated_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT DO NOTHING",
            api,
        )
        .await
    }

    async fn update_api(&self, api: &Api) -> StoreResult<bool> {
        self.update_doc(
            "UPDATE apis SET data = $2, created_at = $3, updated_at = $4 WHERE identifier = $1",
            api,
        )
        .await
    }

    async fn api(&self, identifier: &str) -> StoreResult<Option<Api>> {
        self.get_doc(
            "SELECT data FROM apis WHERE identifier = $1",
            identifier,
            "API",
        )
        .await
    }

    async fn apis(&self) -> StoreResult<Vec<Api>> {
        self.list_docs("SELECT data FROM apis ORDER BY identifier", "API")
            .await
    }

    async fn delete_api(&self, identifier: &str) -> StoreResult<bool> {
        self.delete_doc("DELETE FROM apis WHERE identifier = $1", identifier)
            .await
    }

    async fn insert_client(&self, client: &Client) -> StoreResult<()> {
        self.insert_doc(
            "INSERT INTO clients (client_id, data, created_at, updated_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT DO NOTHING",
            client,
        )
        .await
    }

    async fn update_client(&self, client: &Client) -> StoreResult<bool> {
        self.update_doc(
            "UPDATE clients SET data = $2, created_at = $3, updated_at = $4 WHERE client_id = $1",
            client,
        )
        .await
    }

    async fn client(&self, client_id: &str) -> StoreResult<Option<Client>> {
        self.get_doc(
            "SELECT data FROM clients WHERE client_id = $1",
            client_id,
            "client",
        )
        .await
    }

    async fn clients(&self) -> StoreResult<Vec<Client>> {
        self.list_docs("SELECT data FROM clients ORDER BY client_id", "client")
            .await
    }

    async fn delete_client(&self, client_id: &str) -> StoreResult<bool> {
        self.delete_doc("DELETE FROM clients WHERE client_id = $1", client_id)
            .await
    }

    async fn insert_trusted_issuer(&self, issuer: &TrustedIssuer) -> StoreResult<()> {
        self.insert_doc(
            "INSERT INTO trusted_issuers (issuer, data, created_at, updated_at)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT DO NOTHING",
            issuer,
        )
        .await
    }

    async fn update_trusted_issuer(&self, issuer: &TrustedIssuer) -> StoreResult<bool> {
        self.update_doc(
            "UPDATE trusted_issuers SET data = $2, created_at = $3, updated_at = $4
             WHERE issuer = $1",
            issuer,
        )
        .await
    }

    async fn trusted_issuer(&self, issuer: &str) -> StoreResult<Option<TrustedIssuer>> {
        self.get_doc(
            "SELECT data FROM trusted_issuers WHERE issuer = $1",
            issuer,
            "trusted issuer",
        )
        .await
    }

    async fn trusted_issuers(&self) -> StoreResult<Vec<TrustedIssuer>> {
        self.list_docs(
            "SELECT data FROM trusted_issuers ORDER BY issuer",
            "trusted issuer",
        )
        .await
    }

    async fn delete_trusted_issuer(&self, issuer: &str) -> StoreResult<bool> {
        self.delete_doc("DELETE FROM trusted_issuers WHERE issuer = $1", issuer)
            .await
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

    // ---- users ---------------------------------------------------------------------------

    async fn insert_user(&self, user: &User) -> StoreResult<()> {
        // The primary key and the two unique columns turn any clash into `Conflict`.
        let data = codec::to_json("user", user)?;
        sqlx::query(
            "INSERT INTO users (sub, username, email, data, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(user.sub.as_str())
        .bind(user.username.as_str())
        .bind(codec::user_email(user))
        .bind(data)
        .bind(user.created_at)
        .bind(user.updated_at)
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn update_user(&self, user: &User) -> StoreResult<bool> {
        let data = codec::to_json("user", user)?;
        let updated = sqlx::query(
            "UPDATE users SET username = $2, email = $3, data = $4, created_at = $5,
                              updated_at = $6
             WHERE sub = $1",
        )
        .bind(user.sub.as_str())
        .bind(user.username.as_str())
        .bind(codec::user_email(user))
        .bind(data)
        .bind(user.created_at)
        .bind(user.updated_at)
        .execute(&self.pool)
        .await
        .map_err(db_error)?
        .rows_affected();
        Ok(updated > 0)
    }

    async fn user(&self, sub: &str) -> StoreResult<Option<User>> {
        self.get_doc("SELECT data FROM users WHERE sub = $1", sub, "user")
            .await
    }

    async fn user_by_username(&self, username: &str) -> StoreResult<Option<User>> {
        self.get_doc(
            "SELECT data FROM users WHERE username = $1",
            username,
            "user",
        )
        .await
    }

    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        // Users without an email have NULL in the column, which `=` never matches, so an
        // empty address finds nobody.
        self.get_doc("SELECT data FROM users WHERE email = $1", email, "user")
            .await
    }

    async fn users(&self) -> StoreResult<Vec<User>> {
        self.list_docs("SELECT data FROM users ORDER BY username", "user")
            .await
    }

    async fn delete_user(&self, sub: &str) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let deleted = sqlx::query("DELETE FROM users WHERE sub = $1")
            .bind(sub)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?
            .rows_affected();
        if deleted == 0 {
            tx.rollback().await.map_err(db_error)?;
            return Ok(false);
        }
        for statement in crate::USER_CASCADE {
            sqlx::query(statement)
                .bind(sub)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
        }
        tx.commit().await.map_err(db_error)?;
        Ok(true)
    }

    // ---- sessions ------------------------------------------------------------------------

    async fn insert_session(&self, session: &Session) -> StoreResult<()> {
        let data = codec::to_json("session", session)?;
        sqlx::query(
            "INSERT INTO sessions (id_hash, sid, user_sub, expires_at, data)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(session.id_hash.as_str())
        .bind(session.sid.as_str())
        .bind(session.user_sub.as_str())
        .bind(session.expires_at)
        .bind(data)
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn session(&self, id_hash: &str, now: UnixTime) -> StoreResult<Option<Session>> {
        sqlx::query("SELECT data FROM sessions WHERE id_hash = $1 AND expires_at > $2")
            .bind(id_hash)
            .bind(now)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?
            .map(|row| codec::data(&row, "session"))
            .transpose()
    }

    async fn add_session_client(&self, id_hash: &str, client_id: &str) -> StoreResult<bool> {
        // Read-modify-write of the JSON list under the row lock (`FOR UPDATE`), so two clients
        // added at once, from this instance or another, both end up in the list.
        let mut tx = self.begin().await?;
        let Some(row) = sqlx::query("SELECT data FROM sessions WHERE id_hash = $1 FOR UPDATE")
            .bind(id_hash)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error)?
        else {
            tx.rollback().await.map_err(db_error)?;
            return Ok(false);
        };
        let mut session: Session = codec::data(&row, "session")?;
        if session.clients.iter().any(|c| c.as_str() == client_id) {
            tx.rollback().await.map_err(db_error)?;
            return Ok(true);
        }
        session.clients.push(ClientId::new(client_id));
        let data = codec::to_json("session", &session)?;
        sqlx::query("UPDATE sessions SET data = $2 WHERE id_hash = $1")
            .bind(id_hash)
            .bind(data)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(true)
    }

    async fn delete_session(&self, id_hash: &str) -> StoreResult<Option<Session>> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1 RETURNING data")
            .bind(id_hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?
            .map(|row| codec::data(&row, "session"))
            .transpose()
    }

    async fn delete_user_sessions(&self, sub: &str) -> StoreResult<Vec<Session>> {
        let rows = sqlx::query("DELETE FROM sessions WHERE user_sub = $1 RETURNING data")
            .bind(sub)
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        codec::sessions_oldest_first(&rows)
    }

    // ---- consent -------------------------------------------------------------------------

    async fn consent(&self, user_sub: &str, client_id: &str) -> StoreResult<Option<Consent>> {
        sqlx::query("SELECT data FROM consents WHERE user_sub = $1 AND client_id = $2")
            .bind(user_sub)
            .bind(client_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?
            .map(|row| codec::data(&row, "consent"))
            .transpose()
    }

    async fn save_consent(&self, consent: &Consent) -> StoreResult<()> {
        let data = codec::to_json("consent", consent)?;
        sqlx::query(
            "INSERT INTO consents (user_sub, client_id, data, updated_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (user_sub, client_id)
             DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at",
        )
        .bind(consent.user_sub.as_str())
        .bind(consent.client_id.as_str())
        .bind(data)
        .bind(consent.updated_at)
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    // ---- authorization codes ------------------------------------------------------------

    async fn insert_authorization_code(&self, code: &AuthorizationCodeRecord) -> StoreResult<()> {
        let data = codec::to_json("authorization code", code)?;
        let issued = codec::code_issuance(code.issued.as_ref())?;
        sqlx::query(
            "INSERT INTO authorization_codes (code_hash, user_sub, expires_at, redeemed_at,
                                              issued, data)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(code.code_hash.as_str())
        .bind(code.user_sub.as_str())
        .bind(code.expires_at)
        .bind(code.redeemed_at)
        .bind(issued)
        .bind(data)
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn authorization_code(
        &self,
        code_hash: &str,
    ) -> StoreResult<Option<AuthorizationCodeRecord>> {
        sqlx::query(
            "SELECT redeemed_at, issued, data FROM authorization_codes WHERE code_hash = $1",
        )
        .bind(code_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .map(|row| codec::authorization_code(&row))
        .transpose()
    }

    async fn redeem_authorization_code(
        &self,
        code_hash: &str,
        now: UnixTime,
    ) -> StoreResult<Option<CodeRedemption>> {
        // One conditional statement: of concurrent redemptions, in this instance or another,
        // exactly one finds `redeemed_at` still NULL and gets the row back (the others wait
        // for its row lock, then re-check the condition and update nothing).
        let fresh = sqlx::query(
            "UPDATE authorization_codes SET redeemed_at = $2
             WHERE code_hash = $1 AND redeemed_at IS NULL
             RETURNING redeemed_at, issued, data",
        )
        .bind(code_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?;
        if let Some(row) = fresh {
            return codec::authorization_code(&row).map(|code| Some(CodeRedemption::Fresh(code)));
        }
        // Unknown or already redeemed. This statement's snapshot includes the commit that made
        // the update miss; a row still unredeemed can only be one inserted since, which was
        // unknown when redemption was attempted.
        sqlx::query(
            "SELECT redeemed_at, issued, data FROM authorization_codes WHERE code_hash = $1",
        )
        .bind(code_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .map(|row| codec::authorization_code(&row))
        .transpose()
        .map(|code| {
            code.filter(|code| code.redeemed_at.is_some())
                .map(CodeRedemption::AlreadyRedeemed)
        })
    }

    async fn record_code_issuance(
        &self,
        code_hash: &str,
        issued: &CodeIssuance,
    ) -> StoreResult<bool> {
        let issued = codec::code_issuance(Some(issued))?;
        let updated =
            sqlx::query("UPDATE authorization_codes SET issued = $2 WHERE code_hash = $1")
                .bind(code_hash)
                .bind(issued)
                .execute(&self.pool)
                .await
                .map_err(db_error)?
                .rows_affected();
        Ok(updated > 0)
    }

    // ---- refresh tokens -----------------------------------------------------------------

    async fn insert_refresh_token(&self, token: &RefreshTokenRecord) -> StoreResult<()> {
        let data = codec::to_json("refresh token", token)?;
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, family_id, client_id, user_sub, expires_at,
                                         used_at, revoked, data)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(token.token_hash.as_str())
        .bind(token.family_id.as_str())
        .bind(token.client_id.as_str())
        .bind(token.user_sub.as_str())
        .bind(token.expires_at)
        .bind(token.used_at)
        .bind(token.revoked)
        .bind(data)
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn refresh_token(&self, token_hash: &str) -> StoreResult<Option<RefreshTokenRecord>> {
        sqlx::query("SELECT used_at, revoked, data FROM refresh_tokens WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?
            .map(|row| codec::refresh_token(&row))
            .transpose()
    }

    async fn use_refresh_token(
        &self,
        token_hash: &str,
        now: UnixTime,
    ) -> StoreResult<Option<RefreshUse>> {
        // One conditional statement, like code redemption: exactly one concurrent use wins.
        let fresh = sqlx::query(
            "UPDATE refresh_tokens SET used_at = $2
             WHERE token_hash = $1 AND used_at IS NULL AND NOT revoked
             RETURNING used_at, revoked, data",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?;
        if let Some(row) = fresh {
            return codec::refresh_token(&row).map(|token| Some(RefreshUse::Fresh(token)));
        }
        // Unknown, used or revoked; a row that is neither used nor revoked was inserted after
        // the update missed it (see `redeem_authorization_code`).
        sqlx::query("SELECT used_at, revoked, data FROM refresh_tokens WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?
            .map(|row| codec::refresh_token(&row))
            .transpose()
            .map(|token| {
                token
                    .filter(|token| token.used_at.is_some() || token.revoked)
                    .map(RefreshUse::Spent)
            })
    }

    async fn revoke_refresh_family(&self, family_id: &str) -> StoreResult<u64> {
        Ok(sqlx::query(
            "UPDATE refresh_tokens SET revoked = TRUE WHERE family_id = $1 AND NOT revoked",
        )
        .bind(family_id)
        .execute(&self.pool)
        .await
        .map_err(db_error)?
        .rows_affected())
    }

    async fn revoke_user_refresh_tokens(
        &self,
        user_sub: &str,
        client_id: Option<&str>,
    ) -> StoreResult<u64> {
        let query = match client_id {
            Some(client_id) => sqlx::query(
                "UPDATE refresh_tokens SET revoked = TRUE
                 WHERE user_sub = $1 AND client_id = $2 AND NOT revoked",
            )
            .bind(user_sub)
            .bind(client_id),
            None => sqlx::query(
                "UPDATE refresh_tokens SET revoked = TRUE WHERE user_sub = $1 AND NOT revoked",
            )
            .bind(user_sub),
        };
        Ok(query
            .execute(&self.pool)
            .await
            .map_err(db_error)?
            .rows_affected())
    }

    // ---- pending authorization requests (PAR, interactions) ------------------------------

    async fn insert_pending_request(&self, request: &PendingRequest) -> StoreResult<()> {
        let data = codec::to_json("pending request", request)?;
        sqlx::query(
            "INSERT INTO pending_requests (id_hash, kind, client_id, expires_at, data)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(request.id_hash.as_str())
        .bind(request.kind.as_str())
        .bind(request.client_id.as_str())
        .bind(request.expires_at)
        .bind(data)
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn pending_request(
        &self,
        kind: PendingKind,
        id_hash: &str,
        now: UnixTime,
    ) -> StoreResult<Option<PendingRequest>> {
        sqlx::query(
            "SELECT data FROM pending_requests
             WHERE id_hash = $1 AND kind = $2 AND expires_at > $3",
        )
        .bind(id_hash)
        .bind(kind.as_str())
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .map(|row| codec::data(&row, "pending request"))
        .transpose()
    }

    async fn take_pending_request(
        &self,
        kind: PendingKind,
        id_hash: &str,
        now: UnixTime,
    ) -> StoreResult<Option<PendingRequest>> {
        // Whoever deletes the row owns the request; a concurrent taker deletes nothing.
        sqlx::query(
            "DELETE FROM pending_requests
             WHERE id_hash = $1 AND kind = $2 AND expires_at > $3
             RETURNING data",
        )
        .bind(id_hash)
        .bind(kind.as_str())
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .map(|row| codec::data(&row, "pending request"))
        .transpose()
    }

    // ---- login throttling ----------------------------------------------------------------

    async fn record_login_failure(
        &self,
        key: &str,
        now: UnixTime,
        window: i64,
    ) -> StoreResult<LoginFailures> {
        // One upsert, so concurrent failures (in any instance) are all counted.
        let row = sqlx::query(
            "INSERT INTO login_failures (key, count, last_failure) VALUES ($1, 1, $2)
             ON CONFLICT (key) DO UPDATE SET
                 count = CASE WHEN login_failures.last_failure < $3 THEN 1
                              ELSE login_failures.count + 1 END,
                 last_failure = excluded.last_failure
             RETURNING count, last_failure",
        )
        .bind(key)
        .bind(now)
        .bind(now.saturating_sub(window))
        .fetch_one(&self.pool)
        .await
        .map_err(db_error)?;
        codec::login_failures(&row)
    }

    async fn login_failures(
        &self,
        key: &str,
        now: UnixTime,
        window: i64,
    ) -> StoreResult<Option<LoginFailures>> {
        sqlx::query(
            "SELECT count, last_failure FROM login_failures WHERE key = $1 AND last_failure >= $2",
        )
        .bind(key)
        .bind(now.saturating_sub(window))
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .map(|row| codec::login_failures(&row))
        .transpose()
    }

    async fn clear_login_failures(&self, key: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM login_failures WHERE key = $1")
            .bind(key)
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    // ---- maintenance --------------------------------------------------------------------

    async fn prune_expired(&self, now: UnixTime) -> StoreResult<u64> {
        let mut pruned = 0;
        for (statement, cutoff) in crate::prune_statements(now) {
            pruned += sqlx::query(statement)
                .bind(cutoff)
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
