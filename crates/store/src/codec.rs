//! How records map to columns, shared by both backends.
//!
//! APIs and clients are stored whole as a JSON text column (`data`) beside the columns that
//! identify them, so adding a field to those records needs no migration. Everything a query
//! filters on or updates atomically (key state and times, token hashes, expiries, the revoked
//! flag) is a real column, and the records holding such fields are decoded column by column.
//!
//! The records of the human side (users, sessions, consents, authorization codes, refresh
//! tokens, pending requests) are also stored whole in `data`, with the fields queries filter on
//! copied into columns. The fields changed after insertion (`redeemed_at` and `issued` of a
//! code, `used_at` and `revoked` of a refresh token) are updated in their columns alone, by
//! single conditional statements; their decoders read the record from `data` and then take
//! those fields from the columns, so the copy `data` kept from insertion never shows.
//!
//! Decoders are generic over the sqlx row type so the SQLite and PostgreSQL stores share one
//! definition of each record's columns.

use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::{ColumnIndex, Decode, Row, Type};
use warden_core::model::{
    Api, AuditEvent, AuthorizationCodeRecord, Client, CodeIssuance, InitialAccessToken, KeyState,
    LoginFailures, OpaqueTokenRecord, RefreshTokenRecord, Session, StoredKey, TrustedIssuer, User,
};
use warden_core::store::{StoreError, StoreResult};
use warden_types::{ApiIdentifier, ClientId, Kid, Scope, SigningAlg, UnixTime};

/// Maps a driver error to the trait's error. Unique violations are `Conflict`; a column that
/// cannot be decoded is `Corrupt`. The driver's messages carry the SQL error text, never the
/// bound values.
pub(crate) fn db_error(error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict,
        sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::ColumnIndexOutOfBounds { .. }
        | sqlx::Error::Decode(_) => StoreError::Corrupt(error.to_string()),
        _ => StoreError::Backend(error.to_string()),
    }
}

/// Serializes a record (or part of one) for a JSON text column.
pub(crate) fn to_json<T: Serialize + ?Sized>(what: &str, value: &T) -> StoreResult<String> {
    serde_json::to_string(value)
        .map_err(|e| StoreError::Backend(format!("cannot encode {what}: {}", describe(&e))))
}

/// Parses a JSON text column.
pub(crate) fn from_json<T: DeserializeOwned>(what: &str, text: &str) -> StoreResult<T> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{what}: {}", describe(&e))))
}

/// serde_json's messages quote the offending value, which could be a secret's hash; keep only
/// the kind of failure and where it happened.
fn describe(error: &serde_json::Error) -> String {
    format!(
        "invalid JSON ({:?}) at line {} column {}",
        error.classify(),
        error.line(),
        error.column()
    )
}

/// A registry record (API, client, trusted issuer): stored whole in `data` beside its key and
/// its creation and update times, and written inside a transaction that bumps the registry
/// version.
pub(crate) trait RegistryDoc: Serialize + Sync {
    /// What the record is called in error messages.
    const WHAT: &'static str;
    /// The primary key.
    fn key(&self) -> &str;
    fn created_at(&self) -> UnixTime;
    fn updated_at(&self) -> UnixTime;
}

/// Implements [`RegistryDoc`] for a record whose key is the string field `$key`.
macro_rules! registry_doc {
    ($record:ty, $what:literal, $key:ident) => {
        impl RegistryDoc for $record {
            const WHAT: &'static str = $what;
            fn key(&self) -> &str {
                self.$key.as_str()
            }
            fn created_at(&self) -> UnixTime {
                self.created_at
            }
            fn updated_at(&self) -> UnixTime {
                self.updated_at
            }
        }
    };
}

registry_doc!(Api, "API", identifier);
registry_doc!(Client, "client", client_id);
registry_doc!(TrustedIssuer, "trusted issuer", issuer);

/// Decodes the `data` column holding a whole record (APIs, clients, users, sessions,
/// consents, pending requests).
pub(crate) fn data<'r, R, T>(row: &'r R, what: &str) -> StoreResult<T>
where
    R: Row,
    &'static str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    T: DeserializeOwned,
{
    let text: String = row.try_get("data").map_err(db_error)?;
    from_json(what, &text)
}

/// Decodes a `signing_keys` row.
pub(crate) fn stored_key<'r, R>(row: &'r R) -> StoreResult<StoredKey>
where
    R: Row,
    &'static str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
{
    let kid: String = row.try_get("kid").map_err(db_error)?;
    let alg: String = row.try_get("alg").map_err(db_error)?;
    let state: String = row.try_get("state").map_err(db_error)?;
    let public_jwk: String = row.try_get("public_jwk").map_err(db_error)?;
    Ok(StoredKey {
        alg: alg
            .parse::<SigningAlg>()
            .map_err(|_| StoreError::Corrupt(format!("signing key {kid}: unknown algorithm")))?,
        state: key_state(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("signing key {kid}: unknown state")))?,
        sealed_private_key: row.try_get("sealed_private_key").map_err(db_error)?,
        public_jwk: from_json("public JWK", &public_jwk)?,
        created_at: row.try_get("created_at").map_err(db_error)?,
        activated_at: row.try_get("activated_at").map_err(db_error)?,
        retired_at: row.try_get("retired_at").map_err(db_error)?,
        remove_after: row.try_get("remove_after").map_err(db_error)?,
        kid: Kid::new(kid),
    })
}

/// Parses the stored name of a [`KeyState`].
fn key_state(name: &str) -> Option<KeyState> {
    [KeyState::Published, KeyState::Active, KeyState::Retired]
        .into_iter()
        .find(|state| state.as_str() == name)
}

/// Decodes an `opaque_tokens` row.
pub(crate) fn opaque_token<'r, R>(row: &'r R) -> StoreResult<OpaqueTokenRecord>
where
    R: Row,
    &'static str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    bool: Decode<'r, R::Database> + Type<R::Database>,
{
    let scope: String = row.try_get("scope").map_err(db_error)?;
    let extra: Option<String> = row.try_get("extra").map_err(db_error)?;
    Ok(OpaqueTokenRecord {
        token_hash: row.try_get("token_hash").map_err(db_error)?,
        jti: row.try_get("jti").map_err(db_error)?,
        client_id: ClientId::new(row.try_get::<String, _>("client_id").map_err(db_error)?),
        sub: row.try_get("sub").map_err(db_error)?,
        aud: ApiIdentifier::new(row.try_get::<String, _>("aud").map_err(db_error)?),
        scope: Scope::parse(&scope)
            .map_err(|_| StoreError::Corrupt("opaque token: invalid scope".to_owned()))?,
        iat: row.try_get("iat").map_err(db_error)?,
        exp: row.try_get("exp").map_err(db_error)?,
        revoked: row.try_get("revoked").map_err(db_error)?,
        extra: extra
            .map(|text| from_json("opaque token extra claims", &text))
            .transpose()?,
    })
}

/// The `extra` column of an opaque token.
pub(crate) fn opaque_token_extra(record: &OpaqueTokenRecord) -> StoreResult<Option<String>> {
    record
        .extra
        .as_ref()
        .map(|extra| to_json("opaque token extra claims", extra))
        .transpose()
}

/// Decodes an `initial_access_tokens` row.
pub(crate) fn initial_access_token<'r, R>(row: &'r R) -> StoreResult<InitialAccessToken>
where
    R: Row,
    &'static str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    bool: Decode<'r, R::Database> + Type<R::Database>,
{
    let allowed_apis: Option<String> = row.try_get("allowed_apis").map_err(db_error)?;
    Ok(InitialAccessToken {
        token_hash: row.try_get("token_hash").map_err(db_error)?,
        expires_at: row.try_get("expires_at").map_err(db_error)?,
        once: row.try_get("once").map_err(db_error)?,
        allowed_apis: allowed_apis
            .map(|text| from_json("initial access token allowed APIs", &text))
            .transpose()?,
        created_at: row.try_get("created_at").map_err(db_error)?,
    })
}

/// The `allowed_apis` column of an initial access token.
pub(crate) fn allowed_apis(token: &InitialAccessToken) -> StoreResult<Option<String>> {
    token
        .allowed_apis
        .as_ref()
        .map(|apis| to_json("initial access token allowed APIs", apis))
        .transpose()
}

/// Decodes an `audit_events` row.
pub(crate) fn audit_event<'r, R>(row: &'r R) -> StoreResult<AuditEvent>
where
    R: Row,
    &'static str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
{
    let detail: String = row.try_get("detail").map_err(db_error)?;
    Ok(AuditEvent {
        at: row.try_get("at").map_err(db_error)?,
        kind: row.try_get("kind").map_err(db_error)?,
        actor: row.try_get("actor").map_err(db_error)?,
        source: row.try_get("source").map_err(db_error)?,
        detail: from_json("audit event detail", &detail)?,
    })
}

/// The `email` column of a user: NULL for a user without an email address, so that any
/// number of them fit under the column's unique constraint.
pub(crate) fn user_email(user: &User) -> Option<&str> {
    (!user.email.is_empty()).then_some(user.email.as_str())
}

/// Decodes the `data` of deleted sessions, oldest first: `DELETE ... RETURNING` yields rows
/// in no defined order, and logout should notify a user's clients in a stable one.
pub(crate) fn sessions_oldest_first<R>(rows: &[R]) -> StoreResult<Vec<Session>>
where
    R: Row,
    &'static str: ColumnIndex<R>,
    String: for<'r> Decode<'r, R::Database> + Type<R::Database>,
{
    let mut sessions = rows
        .iter()
        .map(|row| data(row, "session"))
        .collect::<StoreResult<Vec<Session>>>()?;
    sessions.sort_by(|a, b| (a.created_at, &a.id_hash).cmp(&(b.created_at, &b.id_hash)));
    Ok(sessions)
}

/// Decodes an `authorization_codes` row: the record from `data`, with `redeemed_at` and
/// `issued` from their columns (set after insertion, so `data` may hold a stale copy).
pub(crate) fn authorization_code<'r, R>(row: &'r R) -> StoreResult<AuthorizationCodeRecord>
where
    R: Row,
    &'static str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
{
    let mut code: AuthorizationCodeRecord = data(row, "authorization code")?;
    code.redeemed_at = row.try_get("redeemed_at").map_err(db_error)?;
    let issued: Option<String> = row.try_get("issued").map_err(db_error)?;
    code.issued = issued
        .map(|text| from_json("authorization code issuance", &text))
        .transpose()?;
    Ok(code)
}

/// The `issued` column of an authorization code.
pub(crate) fn code_issuance(issued: Option<&CodeIssuance>) -> StoreResult<Option<String>> {
    issued
        .map(|issued| to_json("authorization code issuance", issued))
        .transpose()
}

/// Decodes a `refresh_tokens` row: the record from `data`, with `used_at` and `revoked` from
/// their columns (set after insertion, so `data` may hold a stale copy).
pub(crate) fn refresh_token<'r, R>(row: &'r R) -> StoreResult<RefreshTokenRecord>
where
    R: Row,
    &'static str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    bool: Decode<'r, R::Database> + Type<R::Database>,
{
    let mut token: RefreshTokenRecord = data(row, "refresh token")?;
    token.used_at = row.try_get("used_at").map_err(db_error)?;
    token.revoked = row.try_get("revoked").map_err(db_error)?;
    Ok(token)
}

/// Decodes a `login_failures` row (`count`, `last_failure`).
pub(crate) fn login_failures<'r, R>(row: &'r R) -> StoreResult<LoginFailures>
where
    R: Row,
    &'static str: ColumnIndex<R>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
{
    let count: i64 = row.try_get("count").map_err(db_error)?;
    Ok(LoginFailures {
        // The column is a 64-bit integer; a counter past u32 saturates rather than failing
        // the login path.
        count: u32::try_from(count.max(0)).unwrap_or(u32::MAX),
        last_failure: row.try_get("last_failure").map_err(db_error)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_states_round_trip() {
        for state in [KeyState::Published, KeyState::Active, KeyState::Retired] {
            assert_eq!(key_state(state.as_str()), Some(state));
        }
        assert_eq!(key_state("removed"), None);
    }

    #[test]
    fn json_errors_do_not_quote_stored_values() {
        let Err(StoreError::Corrupt(message)) =
            from_json::<Vec<u32>>("test", r#"["secret-hash-value"]"#)
        else {
            panic!("expected Corrupt");
        };
        assert!(!message.contains("secret-hash-value"), "{message}");
        assert!(message.starts_with("test: invalid JSON"), "{message}");
    }
}
