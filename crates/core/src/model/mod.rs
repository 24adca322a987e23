//! The records Warden keeps: APIs, clients, signing keys, opaque tokens, initial access
//! tokens and audit events. Storage implementations persist these; the engine reasons on them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use warden_types::jwk::JwkSet;
use warden_types::metadata::ClientMetadata;
use warden_types::{
    ApiIdentifier, ClientId, GrantType, JwsAlgorithm, Kid, Scope, SigningAlg,
    TokenEndpointAuthMethod, TokenFormat, UnixTime,
};

/// Longest access-token lifetime an API may configure (seed 004: "SHOULD have a lifetime less
/// than 60 mins").
pub const MAX_ACCESS_TOKEN_LIFETIME: i64 = 60 * 60;
/// Default access-token lifetime.
pub const DEFAULT_ACCESS_TOKEN_LIFETIME: i64 = 15 * 60;

/// A protected API (resource server). Its identifier is the `aud` of its tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Api {
    /// Absolute URI; the audience.
    pub identifier: ApiIdentifier,
    /// Display name.
    pub name: String,
    /// Scopes this API defines.
    pub scopes: Vec<ApiScope>,
    /// JWT or opaque access tokens.
    pub token_format: TokenFormat,
    /// Access-token lifetime in seconds, at most [`MAX_ACCESS_TOKEN_LIFETIME`].
    pub token_lifetime: i64,
    /// Algorithm of the key that signs this API's JWTs.
    pub signing_alg: SigningAlg,
    /// Whether this API's tokens must be sender-constrained (RFC 8705 §3, RFC 9449).
    #[serde(default)]
    pub require_binding: BindingRequirement,
    /// If set, this API's JWT access tokens are signed, then encrypted to this key (JWE).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<ApiEncryption>,
    /// Creation time.
    pub created_at: UnixTime,
    /// Last change.
    pub updated_at: UnixTime,
}

impl Api {
    /// The API's scopes as a set.
    pub fn scope_set(&self) -> Scope {
        let mut set = Scope::empty();
        for s in &self.scopes {
            set.insert(s.name.clone());
        }
        set
    }
}

/// Which proof of possession an API demands of the tokens issued for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BindingRequirement {
    /// Bearer tokens are accepted (a token is still bound when the client proves a key).
    #[default]
    None,
    /// Tokens must be bound to a client certificate (`cnf.x5t#S256`).
    Certificate,
    /// Tokens must be bound to a DPoP key (`cnf.jkt`).
    Dpop,
    /// Tokens must be bound, to a certificate or a DPoP key.
    Any,
}

impl BindingRequirement {
    /// Stored and displayed name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Certificate => "certificate",
            Self::Dpop => "dpop",
            Self::Any => "any",
        }
    }
}

/// How an API's access tokens are encrypted (RFC 7516, seed 004): signed by Warden, then
/// encrypted to the API's public key, so only the API can read them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiEncryption {
    /// The API's public encryption key (RSA or EC P-256/P-384).
    pub jwk: warden_types::jwk::Jwk,
    /// Key management algorithm: `RSA-OAEP-256` or `ECDH-ES`.
    pub alg: String,
    /// Content encryption: `A256GCM` (default) or `A128GCM`.
    pub enc: String,
}

/// One scope an API defines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiScope {
    /// The scope token.
    pub name: String,
    /// What it allows, for people.
    #[serde(default)]
    pub description: String,
}

/// How the client's secret is kept.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredSecret {
    /// HMAC-SHA256 of the secret under the server pepper, base64url. Used by
    /// `client_secret_basic` and `client_secret_post`.
    pub hash: String,
    /// The secret sealed with the master key; present only for `client_secret_jwt`, where
    /// the server needs the secret itself to check the HMAC of the assertion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed: Option<String>,
}

impl std::fmt::Debug for StoredSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoredSecret(<redacted>)")
    }
}

/// A registered OAuth client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Client {
    /// Client identifier.
    pub client_id: ClientId,
    /// Display name.
    pub name: String,
    /// How it authenticates.
    pub auth_method: TokenEndpointAuthMethod,
    /// Secret (hashed; sealed too for `client_secret_jwt`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<StoredSecret>,
    /// Public keys by value, for `private_key_jwt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<JwkSet>,
    /// Public keys by reference, for `private_key_jwt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// If set, the only assertion algorithm accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_signing_alg: Option<JwsAlgorithm>,
    /// Grant types it may use.
    pub grant_types: Vec<GrantType>,
    /// Registered redirect URIs, compared exactly.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Explicit grants: for each API, the scopes this client may obtain.
    #[serde(default)]
    pub grants: BTreeMap<ApiIdentifier, Scope>,
    /// RFC 7591 `scope` metadata: these scopes may be obtained from any API that defines them,
    /// limited to `allowed_apis` when that is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registered_scope: Option<Scope>,
    /// Restriction carried over from the initial access token used at registration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_apis: Option<Vec<ApiIdentifier>>,
    /// The API this client is the identity of (the service that receives its tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serves_api: Option<ApiIdentifier>,
    /// APIs this client may obtain tokens for by token exchange (RFC 8693), on behalf of the
    /// subjects of tokens for `serves_api`. Empty: no exchange at all (deny by default).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exchange_targets: Vec<ApiIdentifier>,
    /// Registration metadata kept verbatim for RFC 7592 reads.
    #[serde(default)]
    pub metadata: ClientMetadata,
    /// Hash of the RFC 7592 registration access token, if registered dynamically.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_token_hash: Option<String>,
    /// The same token sealed with the master key, because RFC 7592 §3 requires it in every
    /// read and update response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_token_sealed: Option<String>,
    /// OpenID Connect and browser-flow settings.
    #[serde(default)]
    pub oidc: ClientOidc,
    /// Mutual-TLS identity (RFC 8705 §2.1) for `tls_client_auth`.
    #[serde(default, skip_serializing_if = "ClientTls::is_empty")]
    pub tls: ClientTls,
    /// Sender-constraint settings: whether this client's access tokens must be bound.
    #[serde(default)]
    pub binding: ClientBinding,
    /// Creation time.
    pub created_at: UnixTime,
    /// Last change.
    pub updated_at: UnixTime,
}

/// The certificate a `tls_client_auth` client must present (RFC 8705 §2.1.2): exactly one of
/// these is set, and the certificate must chain to a configured CA.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ClientTls {
    /// Expected subject DN (RFC 4514 string).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject_dn: Option<String>,
    /// Expected `dNSName` SAN.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub san_dns: Option<String>,
    /// Expected `uniformResourceIdentifier` SAN.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub san_uri: Option<String>,
    /// Expected `iPAddress` SAN.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub san_ip: Option<String>,
    /// Expected `rfc822Name` SAN.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub san_email: Option<String>,
}

impl ClientTls {
    /// Whether nothing is set.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// Whether a client's access tokens must be sender-constrained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ClientBinding {
    /// RFC 8705 §3.4 `tls_client_certificate_bound_access_tokens`: every token request must
    /// present a client certificate, and the tokens are bound to it.
    pub certificate_bound: bool,
    /// RFC 9449 §5.2 `dpop_bound_access_tokens`: every token request must carry a DPoP proof.
    pub dpop_bound: bool,
}

/// A client's settings for the browser flows (authorization code, ID tokens, logout).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ClientOidc {
    /// Response types it may use at `/authorize`: `code`, and `code id_token` (hybrid, for
    /// confidential clients only).
    pub response_types: Vec<String>,
    /// A first-party client: the user is not asked for consent.
    pub first_party: bool,
    /// Authorization requests must be pushed first (RFC 9126 §6).
    pub require_par: bool,
    /// Whether this public client may receive refresh tokens (confidential clients always
    /// may, when `offline_access` is granted).
    pub allow_public_refresh: bool,
    /// Where RP-initiated logout may send the browser back to, compared exactly.
    pub post_logout_redirect_uris: Vec<String>,
    /// OpenID Back-Channel Logout 1.0 endpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_uri: Option<String>,
    /// Whether the logout token must carry `sid`.
    pub backchannel_logout_session_required: bool,
    /// ID token signing algorithm (RS256 when unset).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token_signed_response_alg: Option<SigningAlg>,
    /// JWE key management algorithm for ID tokens (`RSA-OAEP-256`, `ECDH-ES`); unset = not
    /// encrypted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token_encrypted_response_alg: Option<String>,
    /// JWE content encryption for ID tokens (default `A256GCM`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token_encrypted_response_enc: Option<String>,
    /// `web` (default) or `native` (RFC 8252: loopback and private-use redirect URIs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub application_type: Option<String>,
    /// Userinfo responses are signed JWTs with this algorithm (OIDC Core §5.3.2); unset =
    /// JSON unless encryption is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub userinfo_signed_response_alg: Option<SigningAlg>,
    /// JWE key management algorithm for userinfo responses; unset = not encrypted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub userinfo_encrypted_response_alg: Option<String>,
    /// JWE content encryption for userinfo responses (default `A256GCM`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub userinfo_encrypted_response_enc: Option<String>,
}

impl Client {
    /// Whether the client may use a response type.
    pub fn allows_response_type(&self, response_type: &str) -> bool {
        if self.oidc.response_types.is_empty() {
            // Clients registered before the browser flows, or without the metadata: `code`
            // is the RFC 7591 default.
            return response_type == "code";
        }
        self.oidc.response_types.iter().any(|r| r == response_type)
    }

    /// The ID token signing algorithm.
    pub fn id_token_alg(&self) -> SigningAlg {
        self.oidc
            .id_token_signed_response_alg
            .unwrap_or(SigningAlg::RS256)
    }

    /// The scopes this client may obtain on `api` (explicit grant ∪ registered scope ∩ the
    /// API's scopes), or `None` when it has no access to that API at all.
    pub fn scopes_on(&self, api: &Api) -> Option<Scope> {
        let explicit = self.grants.get(&api.identifier).cloned();
        let allowed = self
            .allowed_apis
            .as_ref()
            .is_none_or(|apis| apis.contains(&api.identifier));
        let via_registration = match &self.registered_scope {
            Some(scope) if allowed => {
                let s = scope.intersection(&api.scope_set());
                (!s.is_empty()).then_some(s)
            }
            _ => None,
        };
        match (explicit, via_registration) {
            (Some(a), Some(b)) => Some(a.union(&b)),
            (Some(a), None) => Some(a),
            (None, b) => b,
        }
    }
}

/// Where a signing key is in its life (DESIGN.md): published → active → retired → removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyState {
    /// In the JWKS, not yet signing, so resource servers cache it before it is used.
    Published,
    /// Signing (one per algorithm).
    Active,
    /// In the JWKS for verification only, until every token it signed has expired.
    Retired,
}

impl KeyState {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Published => "published",
            Self::Active => "active",
            Self::Retired => "retired",
        }
    }
}

/// A signing key as stored: the private key is sealed with the master key.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredKey {
    /// Key id.
    pub kid: Kid,
    /// Algorithm.
    pub alg: SigningAlg,
    /// Lifecycle state.
    pub state: KeyState,
    /// PKCS#8 private key sealed with the master key (AAD = kid), base64url.
    pub sealed_private_key: String,
    /// Public JWK (JSON).
    pub public_jwk: warden_types::jwk::Jwk,
    /// When it was created and published.
    pub created_at: UnixTime,
    /// When it started signing.
    #[serde(default)]
    pub activated_at: Option<UnixTime>,
    /// When it stopped signing.
    #[serde(default)]
    pub retired_at: Option<UnixTime>,
    /// When it may leave the JWKS (retired_at + longest token lifetime + leeway).
    #[serde(default)]
    pub remove_after: Option<UnixTime>,
}

impl std::fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

/// What an opaque access token stands for. Stored under the SHA-256 of the token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpaqueTokenRecord {
    /// SHA-256 of the token, base64url.
    pub token_hash: String,
    /// Token id.
    pub jti: String,
    /// Client it was issued to.
    pub client_id: ClientId,
    /// Subject (the client for client credentials; a user later).
    pub sub: String,
    /// Audience.
    pub aud: ApiIdentifier,
    /// Granted scope.
    pub scope: Scope,
    /// Issue time.
    pub iat: UnixTime,
    /// Expiry.
    pub exp: UnixTime,
    /// Whether it was revoked.
    pub revoked: bool,
    /// Extra claims (e.g. `act` for token exchange), JSON object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra: Option<serde_json::Value>,
}

/// An RFC 7591 initial access token (only its hash is stored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InitialAccessToken {
    /// SHA-256 of the token, base64url.
    pub token_hash: String,
    /// Expiry.
    pub expires_at: UnixTime,
    /// Single use.
    pub once: bool,
    /// If set, clients registered with this token may obtain scopes only from these APIs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_apis: Option<Vec<ApiIdentifier>>,
    /// Creation time.
    pub created_at: UnixTime,
}

/// An audit event. Never carries a secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// When.
    pub at: UnixTime,
    /// What happened: `token_issued`, `token_refused`, `client_auth_failed`, `key_rotated`,
    /// `client_created`, `client_updated`, `client_deleted`, `api_created`, ...
    pub kind: String,
    /// Who (client id, or `admin` for the CLI).
    pub actor: Option<String>,
    /// From where (peer address), when known.
    pub source: Option<String>,
    /// Details (audience, scope, reason, kid...).
    pub detail: serde_json::Value,
}

/// An external identity provider whose JWTs authenticate workloads (RFC 7523 JWT bearer grant
/// and federated client authentication): a Kubernetes cluster, a SPIFFE trust domain, a CI
/// system. Only the subjects mapped here are accepted, each as one Warden client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrustedIssuer {
    /// The `iss` value, compared exactly.
    pub issuer: String,
    /// Display name.
    pub name: String,
    /// Where its public keys are published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// Its public keys by value (e.g. exported from a cluster without a public endpoint).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<JwkSet>,
    /// The `aud` its tokens must carry for Warden; unset means Warden's issuer URL or token
    /// endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    /// Longest accepted token lifetime in seconds (`exp - iat`, and `exp - now`).
    pub max_lifetime: i64,
    /// Accepted subjects (`sub`, exact) and the client each one authenticates as.
    #[serde(default)]
    pub subjects: BTreeMap<String, ClientId>,
    /// Creation time.
    pub created_at: UnixTime,
    /// Last change.
    pub updated_at: UnixTime,
}

/// Default [`TrustedIssuer::max_lifetime`]: one hour, the Kubernetes projected token default.
pub const DEFAULT_FEDERATED_MAX_LIFETIME: i64 = 60 * 60;

mod people;
pub use people::{
    AuthorizationCodeRecord, CodeIssuance, CodeRedemption, Consent, LoginFailures, PendingKind,
    PendingRequest, RefreshTokenRecord, RefreshUse, Session, User,
};
