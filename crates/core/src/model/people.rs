//! Records of the human side (OpenID Connect): users, browser sessions, remembered consent,
//! authorization codes, refresh tokens, pending authorization requests (PAR and login/consent
//! interactions) and failed-login counters.
//!
//! Every bearer artifact (session cookie, code, refresh token, PAR `request_uri`, interaction
//! id) is stored only as the SHA-256 of its value (`*_hash`, base64url), like opaque access
//! tokens.

use serde::{Deserialize, Serialize};
use warden_types::{ApiIdentifier, ClientId, Scope, UnixTime};

/// A person who can log in.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// Stable opaque subject identifier (never reused, never the username).
    pub sub: String,
    /// Login name, unique, stored lower-cased.
    pub username: String,
    /// Email address, unique when set, stored lower-cased.
    pub email: String,
    /// Whether the email address was verified by an administrator.
    #[serde(default)]
    pub email_verified: bool,
    /// Full name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// argon2id PHC string.
    pub password_hash: String,
    /// A disabled user cannot log in and its sessions and refresh tokens stop working.
    #[serde(default)]
    pub disabled: bool,
    /// Creation time.
    pub created_at: UnixTime,
    /// Last change.
    pub updated_at: UnixTime,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("sub", &self.sub)
            .field("username", &self.username)
            .field("disabled", &self.disabled)
            .finish_non_exhaustive()
    }
}

/// A logged-in browser session (the session cookie's value is the bearer secret).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// SHA-256 of the session cookie value.
    pub id_hash: String,
    /// Session id shared with relying parties (`sid` claim, back-channel logout).
    pub sid: String,
    /// The user.
    pub user_sub: String,
    /// When the user last authenticated with a password (`auth_time`).
    pub auth_time: UnixTime,
    /// Authentication methods (`amr`), e.g. `["pwd"]`.
    pub amr: Vec<String>,
    /// Clients that received an ID token in this session (for logout).
    #[serde(default)]
    pub clients: Vec<ClientId>,
    /// Creation time.
    pub created_at: UnixTime,
    /// Absolute expiry.
    pub expires_at: UnixTime,
}

/// Scopes a user allowed a client, remembered so consent is asked once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Consent {
    /// The user.
    pub user_sub: String,
    /// The client.
    pub client_id: ClientId,
    /// OpenID Connect scopes allowed so far (API scopes are kept per API in `api_scopes`).
    pub scope: Scope,
    /// APIs (RFC 8707 resources) allowed so far.
    #[serde(default)]
    pub resources: Vec<ApiIdentifier>,
    /// For each API, the API scopes allowed on it. Scope names repeat across APIs (`read`,
    /// `write`), so a scope allowed on one API says nothing about another.
    #[serde(default)]
    pub api_scopes: std::collections::BTreeMap<ApiIdentifier, Scope>,
    /// Last change.
    pub updated_at: UnixTime,
}

/// An authorization code (RFC 6749 §4.1.2) and everything needed to redeem it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuthorizationCodeRecord {
    /// SHA-256 of the code.
    pub code_hash: String,
    /// Grant id: refresh tokens issued from this code form the family with this id.
    pub grant_id: String,
    /// Client it was issued to.
    pub client_id: ClientId,
    /// The user.
    pub user_sub: String,
    /// `redirect_uri` of the authorization request, exactly as sent (None if omitted).
    pub redirect_uri: Option<String>,
    /// Granted scope (OIDC and API scopes).
    pub scope: Scope,
    /// The API the access token is for, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<ApiIdentifier>,
    /// PKCE S256 challenge.
    pub code_challenge: String,
    /// OIDC `nonce`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// When the user authenticated.
    pub auth_time: UnixTime,
    /// Authentication methods.
    pub amr: Vec<String>,
    /// Session id (`sid`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// Whether `openid` was requested (an ID token is due).
    pub openid: bool,
    /// Creation time.
    pub created_at: UnixTime,
    /// Expiry (at most 60 s after creation).
    pub expires_at: UnixTime,
    /// RFC 9449 §10: the thumbprint of the DPoP key the code is bound to (the `dpop_jkt`
    /// parameter, or the key of a DPoP proof sent with the pushed request); only a proof by
    /// that key redeems it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_jkt: Option<String>,
    /// When it was redeemed; set atomically by the first redemption.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redeemed_at: Option<UnixTime>,
    /// What the redemption issued, so a second use can revoke it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued: Option<CodeIssuance>,
}

/// Tokens issued when a code was redeemed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CodeIssuance {
    /// The access token's `jti`.
    pub access_jti: String,
    /// Its expiry.
    pub access_exp: UnixTime,
    /// SHA-256 of the access token if it is opaque.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token_hash: Option<String>,
}

/// The outcome of an attempt to redeem a code.
#[derive(Debug, Clone, PartialEq)]
pub enum CodeRedemption {
    /// First redemption: the record, now marked redeemed.
    Fresh(AuthorizationCodeRecord),
    /// The code had already been redeemed (a replay): the record as stored.
    AlreadyRedeemed(AuthorizationCodeRecord),
}

/// A refresh token (only its hash is stored). Tokens issued from one authorization form a
/// family; reuse of a rotated token revokes the family.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefreshTokenRecord {
    /// SHA-256 of the token.
    pub token_hash: String,
    /// Family (the grant id of the authorization code that started it).
    pub family_id: String,
    /// Client it was issued to.
    pub client_id: ClientId,
    /// The user.
    pub user_sub: String,
    /// Granted scope (OIDC and API scopes); a refresh may narrow it.
    pub scope: Scope,
    /// The API of the access tokens, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<ApiIdentifier>,
    /// When the user authenticated.
    pub auth_time: UnixTime,
    /// Authentication methods.
    pub amr: Vec<String>,
    /// Session id, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// Issue time of this token.
    pub created_at: UnixTime,
    /// Absolute expiry of the family (never extended by rotation).
    pub expires_at: UnixTime,
    /// When it was exchanged for a new one; set atomically by the first use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_at: Option<UnixTime>,
    /// Revoked (by reuse detection, `/revoke`, logout or an administrator).
    #[serde(default)]
    pub revoked: bool,
    /// RFC 9449 §5: for a public client that used DPoP, the JWK SHA-256 thumbprint of the
    /// key every later refresh must prove possession of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_jkt: Option<String>,
}

/// The outcome of presenting a refresh token.
#[derive(Debug, Clone, PartialEq)]
pub enum RefreshUse {
    /// First use: the record (its `used_at` is now set to the time of this use).
    Fresh(RefreshTokenRecord),
    /// Already used or revoked: the record as stored (with the earlier `used_at`).
    Spent(RefreshTokenRecord),
}

/// What a pending request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PendingKind {
    /// A pushed authorization request (RFC 9126), referenced by `request_uri`.
    Par,
    /// An authorization request waiting for the user to log in or consent.
    Interaction,
}

impl PendingKind {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Par => "par",
            Self::Interaction => "interaction",
        }
    }
}

/// An authorization request kept server-side for a short time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingRequest {
    /// SHA-256 of the reference handed out (`request_uri` suffix or interaction id).
    pub id_hash: String,
    /// What it is.
    pub kind: PendingKind,
    /// The client that made it.
    pub client_id: ClientId,
    /// The request, as the engine serialised it.
    pub data: serde_json::Value,
    /// Creation time.
    pub created_at: UnixTime,
    /// Expiry.
    pub expires_at: UnixTime,
}

/// Failed logins counted under one key (`user:<sub>` or `ip:<address>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginFailures {
    /// Failures in the current window.
    pub count: u32,
    /// Time of the latest failure.
    pub last_failure: UnixTime,
}
