//! The storage traits the engine needs. `warden-store` implements them for SQLite and
//! PostgreSQL; both pass one conformance suite.
//!
//! The contract every implementation keeps:
//! - Mutations of APIs, clients, trusted issuers and signing keys bump [`Store::registry_version`] in the same
//!   transaction, so every instance notices the change on its next poll.
//! - [`Store::record_assertion_jti`] and [`Store::use_initial_access_token`] are atomic across
//!   processes (a unique constraint / a conditional delete), never read-then-write.
//! - [`Store::activate_signing_key`] is a compare-and-set, so two instances rotating at once
//!   promote exactly one key.
//! - [`Store::redeem_authorization_code`], [`Store::use_refresh_token`] and
//!   [`Store::take_pending_request`] are atomic across processes (a conditional `UPDATE` /
//!   `DELETE ... RETURNING`): of two concurrent calls exactly one sees the fresh record.
//! - Users, sessions, consents, codes, refresh tokens and pending requests do not bump the
//!   registry version (they are not cached in memory).

use async_trait::async_trait;
use warden_types::UnixTime;

use crate::model::{
    Api, AuditEvent, AuthorizationCodeRecord, Client, CodeIssuance, CodeRedemption, Consent,
    InitialAccessToken, KeyState, LoginFailures, OpaqueTokenRecord, PendingKind, PendingRequest,
    RefreshTokenRecord, RefreshUse, Session, StoredKey, TrustedIssuer, User,
};

/// A storage failure. Protocol code maps every variant but `Conflict` to `server_error`.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A record with that key already exists.
    #[error("already exists")]
    Conflict,
    /// The database failed or is unreachable.
    #[error("database error: {0}")]
    Backend(String),
    /// A stored row could not be decoded.
    #[error("corrupt record: {0}")]
    Corrupt(String),
}

/// Result alias for storage calls.
pub type StoreResult<T> = Result<T, StoreError>;

/// Persistent state of an authorization server.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    // ---- health -------------------------------------------------------------------------
    /// Checks the database answers.
    async fn ping(&self) -> StoreResult<()>;

    // ---- registry -----------------------------------------------------------------------
    /// A counter bumped by every change to APIs, clients, trusted issuers or signing keys.
    async fn registry_version(&self) -> StoreResult<i64>;
    /// Inserts an API; `Conflict` if the identifier exists.
    async fn insert_api(&self, api: &Api) -> StoreResult<()>;
    /// Replaces an API; false if it does not exist.
    async fn update_api(&self, api: &Api) -> StoreResult<bool>;
    /// One API.
    async fn api(&self, identifier: &str) -> StoreResult<Option<Api>>;
    /// Every API, ordered by identifier.
    async fn apis(&self) -> StoreResult<Vec<Api>>;
    /// Deletes an API; false if it did not exist.
    async fn delete_api(&self, identifier: &str) -> StoreResult<bool>;

    /// Inserts a client; `Conflict` if the id exists.
    async fn insert_client(&self, client: &Client) -> StoreResult<()>;
    /// Replaces a client; false if it does not exist.
    async fn update_client(&self, client: &Client) -> StoreResult<bool>;
    /// One client.
    async fn client(&self, client_id: &str) -> StoreResult<Option<Client>>;
    /// Every client, ordered by id.
    async fn clients(&self) -> StoreResult<Vec<Client>>;
    /// Deletes a client; false if it did not exist.
    async fn delete_client(&self, client_id: &str) -> StoreResult<bool>;

    /// Inserts a trusted issuer; `Conflict` if the issuer exists.
    async fn insert_trusted_issuer(&self, issuer: &TrustedIssuer) -> StoreResult<()>;
    /// Replaces a trusted issuer; false if it does not exist.
    async fn update_trusted_issuer(&self, issuer: &TrustedIssuer) -> StoreResult<bool>;
    /// One trusted issuer.
    async fn trusted_issuer(&self, issuer: &str) -> StoreResult<Option<TrustedIssuer>>;
    /// Every trusted issuer, ordered by issuer.
    async fn trusted_issuers(&self) -> StoreResult<Vec<TrustedIssuer>>;
    /// Deletes a trusted issuer; false if it did not exist.
    async fn delete_trusted_issuer(&self, issuer: &str) -> StoreResult<bool>;

    // ---- signing keys -------------------------------------------------------------------
    /// Every stored signing key (any state), ordered by creation time.
    async fn signing_keys(&self) -> StoreResult<Vec<StoredKey>>;
    /// Inserts a key; `Conflict` if the kid exists.
    async fn insert_signing_key(&self, key: &StoredKey) -> StoreResult<()>;
    /// Atomically: `next_kid` goes from `published` to `active` (activated_at = now), and, if
    /// given, `previous_kid` goes from `active` to `retired` (retired_at = now, remove_after).
    /// Returns false and changes nothing if either precondition does not hold (another
    /// instance rotated first).
    async fn activate_signing_key(
        &self,
        next_kid: &str,
        previous_kid: Option<&str>,
        now: UnixTime,
        remove_after: UnixTime,
    ) -> StoreResult<bool>;
    /// Retires a key that is still in state `from` (retired_at = now, remove_after), e.g. a
    /// duplicate left by two instances bootstrapping at once. A compare-and-set: false, and no
    /// change, if the key has meanwhile left `from`.
    async fn retire_signing_key(
        &self,
        kid: &str,
        from: KeyState,
        now: UnixTime,
        remove_after: UnixTime,
    ) -> StoreResult<bool>;
    /// Deletes retired keys whose `remove_after` is before `now`; returns how many.
    async fn remove_expired_signing_keys(&self, now: UnixTime) -> StoreResult<u64>;

    // ---- replay and revocation ----------------------------------------------------------
    /// Records a client-assertion `jti` for `client_id` until `expires_at`. Returns false if
    /// that jti was already recorded for that client and has not expired (a replay).
    async fn record_assertion_jti(
        &self,
        client_id: &str,
        jti: &str,
        expires_at: UnixTime,
        now: UnixTime,
    ) -> StoreResult<bool>;
    /// Adds a JWT `jti` to the revocation list until `expires_at`.
    async fn revoke_jti(&self, jti: &str, expires_at: UnixTime) -> StoreResult<()>;
    /// Whether a JWT `jti` is revoked.
    async fn is_jti_revoked(&self, jti: &str) -> StoreResult<bool>;

    // ---- opaque tokens ------------------------------------------------------------------
    /// Stores an opaque access token record.
    async fn insert_opaque_token(&self, record: &OpaqueTokenRecord) -> StoreResult<()>;
    /// Looks an opaque token up by hash.
    async fn opaque_token(&self, token_hash: &str) -> StoreResult<Option<OpaqueTokenRecord>>;
    /// Marks an opaque token revoked; false if unknown.
    async fn revoke_opaque_token(&self, token_hash: &str) -> StoreResult<bool>;

    // ---- registration -------------------------------------------------------------------
    /// Stores an initial access token.
    async fn insert_initial_access_token(&self, token: &InitialAccessToken) -> StoreResult<()>;
    /// Returns the token if it exists and has not expired at `now`; if it is single-use it is
    /// deleted in the same atomic step, so two concurrent uses cannot both succeed.
    async fn use_initial_access_token(
        &self,
        token_hash: &str,
        now: UnixTime,
    ) -> StoreResult<Option<InitialAccessToken>>;

    // ---- audit --------------------------------------------------------------------------
    /// Appends audit events (in one transaction).
    async fn append_audit_events(&self, events: &[AuditEvent]) -> StoreResult<()>;
    /// Deletes audit events recorded before `before`; returns how many.
    async fn prune_audit_events(&self, before: UnixTime) -> StoreResult<u64>;
    /// The most recent events, newest first.
    async fn audit_events(&self, limit: u32) -> StoreResult<Vec<AuditEvent>>;

    // ---- settings -----------------------------------------------------------------------
    /// Reads a server-wide setting.
    async fn setting(&self, key: &str) -> StoreResult<Option<String>>;
    /// Stores `value` under `key` unless a value exists; returns the value now stored.
    async fn init_setting(&self, key: &str, value: &str) -> StoreResult<String>;

    // ---- users ---------------------------------------------------------------------------
    /// Inserts a user; `Conflict` if the sub, the username or the email exists.
    async fn insert_user(&self, user: &User) -> StoreResult<()>;
    /// Replaces a user (matched by sub); false if it does not exist. `Conflict` if the new
    /// username or email belongs to another user.
    async fn update_user(&self, user: &User) -> StoreResult<bool>;
    /// One user by sub.
    async fn user(&self, sub: &str) -> StoreResult<Option<User>>;
    /// One user by (lower-cased) username.
    async fn user_by_username(&self, username: &str) -> StoreResult<Option<User>>;
    /// One user by (lower-cased) email.
    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>>;
    /// Every user, ordered by username.
    async fn users(&self) -> StoreResult<Vec<User>>;
    /// Deletes a user and, in the same transaction, its sessions, consents, refresh tokens
    /// and unredeemed authorization codes; false if it did not exist.
    async fn delete_user(&self, sub: &str) -> StoreResult<bool>;

    // ---- sessions ------------------------------------------------------------------------
    /// Stores a session; `Conflict` if the id hash exists.
    async fn insert_session(&self, session: &Session) -> StoreResult<()>;
    /// A session that has not expired at `now`.
    async fn session(&self, id_hash: &str, now: UnixTime) -> StoreResult<Option<Session>>;
    /// Adds `client_id` to the session's clients (no duplicates); false if the session is gone.
    async fn add_session_client(&self, id_hash: &str, client_id: &str) -> StoreResult<bool>;
    /// Deletes a session and returns it (expired or not), so logout can notify its clients.
    async fn delete_session(&self, id_hash: &str) -> StoreResult<Option<Session>>;
    /// Deletes every session of a user; returns them.
    async fn delete_user_sessions(&self, sub: &str) -> StoreResult<Vec<Session>>;

    // ---- consent -------------------------------------------------------------------------
    /// What a user allowed a client, if anything.
    async fn consent(&self, user_sub: &str, client_id: &str) -> StoreResult<Option<Consent>>;
    /// Stores (replaces) a consent.
    async fn save_consent(&self, consent: &Consent) -> StoreResult<()>;

    // ---- authorization codes ------------------------------------------------------------
    /// Stores a new code; `Conflict` if the hash exists.
    async fn insert_authorization_code(&self, code: &AuthorizationCodeRecord) -> StoreResult<()>;
    /// A code as stored (any state), without redeeming it.
    async fn authorization_code(
        &self,
        code_hash: &str,
    ) -> StoreResult<Option<AuthorizationCodeRecord>>;
    /// Atomically marks the code redeemed at `now` if it was not: `Fresh` for the first
    /// caller, `AlreadyRedeemed` for every later one, `None` if unknown. Expiry is the
    /// caller's to check (an expired code is still returned, so it can be refused precisely).
    async fn redeem_authorization_code(
        &self,
        code_hash: &str,
        now: UnixTime,
    ) -> StoreResult<Option<CodeRedemption>>;
    /// Records what a redemption issued; false if the code is gone.
    async fn record_code_issuance(
        &self,
        code_hash: &str,
        issued: &CodeIssuance,
    ) -> StoreResult<bool>;

    // ---- refresh tokens -----------------------------------------------------------------
    /// Stores a refresh token; `Conflict` if the hash exists.
    async fn insert_refresh_token(&self, token: &RefreshTokenRecord) -> StoreResult<()>;
    /// A refresh token as stored (any state).
    async fn refresh_token(&self, token_hash: &str) -> StoreResult<Option<RefreshTokenRecord>>;
    /// Atomically sets `used_at = now` if the token is neither used nor revoked: `Fresh` for
    /// that first caller, `Spent` (record as stored) otherwise, `None` if unknown.
    async fn use_refresh_token(
        &self,
        token_hash: &str,
        now: UnixTime,
    ) -> StoreResult<Option<RefreshUse>>;
    /// Revokes every token of a family; returns how many were changed.
    async fn revoke_refresh_family(&self, family_id: &str) -> StoreResult<u64>;
    /// Revokes every refresh token of a user (optionally only those of one client).
    async fn revoke_user_refresh_tokens(
        &self,
        user_sub: &str,
        client_id: Option<&str>,
    ) -> StoreResult<u64>;

    // ---- pending authorization requests (PAR, interactions) ------------------------------
    /// Stores a pending request; `Conflict` if the hash exists.
    async fn insert_pending_request(&self, request: &PendingRequest) -> StoreResult<()>;
    /// A pending request of that kind that has not expired at `now`.
    async fn pending_request(
        &self,
        kind: PendingKind,
        id_hash: &str,
        now: UnixTime,
    ) -> StoreResult<Option<PendingRequest>>;
    /// Atomically deletes and returns a pending request of that kind that has not expired at
    /// `now` (single use: of two concurrent takers exactly one gets it).
    async fn take_pending_request(
        &self,
        kind: PendingKind,
        id_hash: &str,
        now: UnixTime,
    ) -> StoreResult<Option<PendingRequest>>;

    // ---- login throttling ----------------------------------------------------------------
    /// Counts one failed login under `key` at `now`. If the previous failure is older than
    /// `window` seconds the count restarts at 1. Returns the updated counter.
    async fn record_login_failure(
        &self,
        key: &str,
        now: UnixTime,
        window: i64,
    ) -> StoreResult<LoginFailures>;
    /// The counter under `key`, if its latest failure is within `window` seconds of `now`.
    async fn login_failures(
        &self,
        key: &str,
        now: UnixTime,
        window: i64,
    ) -> StoreResult<Option<LoginFailures>>;
    /// Forgets the failures under `key` (after a successful login).
    async fn clear_login_failures(&self, key: &str) -> StoreResult<()>;

    // ---- maintenance --------------------------------------------------------------------
    /// Deletes expired assertion jtis, revoked jtis, opaque tokens, initial access tokens,
    /// sessions, authorization codes (kept one hour past expiry so a late replay is still
    /// recognised), refresh tokens (past the family expiry), pending requests and login
    /// failure counters idle for a day; returns how many rows went.
    async fn prune_expired(&self, now: UnixTime) -> StoreResult<u64>;
}
