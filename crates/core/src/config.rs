//! Engine settings: the issuer, endpoint URLs and the protocol's time bounds.

use warden_types::SigningAlg;

/// Settings the protocol engine needs. The server builds it from its configuration.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Issuer identifier, used exactly as configured (no slash added or removed).
    pub issuer: String,
    /// Token endpoint URL.
    pub token_endpoint: String,
    /// Introspection endpoint URL.
    pub introspection_endpoint: String,
    /// Revocation endpoint URL.
    pub revocation_endpoint: String,
    /// Registration endpoint URL.
    pub registration_endpoint: String,
    /// JWKS URL.
    pub jwks_uri: String,
    /// Authorization endpoint URL (`/authorize`).
    pub authorization_endpoint: String,
    /// Pushed authorization request endpoint URL (`/par`, RFC 9126).
    pub par_endpoint: String,
    /// UserInfo endpoint URL (`/userinfo`).
    pub userinfo_endpoint: String,
    /// RP-initiated logout endpoint URL (`/logout`).
    pub end_session_endpoint: String,
    /// Allowed clock difference when checking `exp`, `nbf` and `iat` of client assertions.
    pub clock_skew: i64,
    /// RFC 7523 §3: assertions may not expire more than this far in the future.
    pub max_assertion_lifetime: i64,
    /// How long a fetched client `jwks_uri` document is trusted.
    pub jwks_cache_ttl: i64,
    /// An unknown `kid` triggers a refetch of a client's `jwks_uri` at most this often.
    pub jwks_refetch_interval: i64,
    /// Signing keys rotate this often.
    pub key_rotation_interval: i64,
    /// A new key is published at least this long before it signs; must exceed the JWKS
    /// `Cache-Control: max-age` so every resource server has seen it.
    pub key_publish_lead: i64,
    /// `Cache-Control: max-age` of the JWKS document.
    pub jwks_max_age: i64,
    /// Algorithms Warden keeps signing keys for.
    pub signing_algs: Vec<SigningAlg>,
    /// Whether `/register` requires an initial access token (RFC 7591 §3).
    pub registration_requires_token: bool,
    /// Whether `/register` is served at all.
    pub registration_enabled: bool,
    /// Audit events older than this are pruned; 0 keeps them forever.
    pub audit_retention: i64,
    /// Lifetimes and switches of the browser flows.
    pub people: PeopleConfig,
    /// Token exchange (RFC 8693): the longest delegation chain a token may carry, counted as
    /// the nesting depth of its `act` claim.
    pub max_exchange_chain_depth: usize,
    /// DPoP (RFC 9449) at the token endpoint.
    pub dpop: DpopConfig,
    /// RFC 8705 §5 `mtls_endpoint_aliases`: the base URL of a separate mutual-TLS host
    /// (e.g. `https://mtls.example.com`), when clients must use another host for mTLS.
    pub mtls_endpoint_base: Option<String>,
}

/// DPoP settings (RFC 9449).
#[derive(Debug, Clone)]
pub struct DpopConfig {
    /// Whether proofs at the token endpoint must carry a server-issued nonce (§8).
    pub require_nonce: bool,
    /// How long a proof is accepted after its `iat` (and how far ahead of the clock `iat` may
    /// be, with the clock skew), seconds.
    pub proof_max_age: i64,
    /// How long a server nonce stays valid, seconds. Nonces are derived from the master key
    /// and the time window, so every instance accepts every other instance's nonces.
    pub nonce_lifetime: i64,
}

impl Default for DpopConfig {
    fn default() -> Self {
        Self {
            require_nonce: true,
            proof_max_age: 60,
            nonce_lifetime: 300,
        }
    }
}

/// Default [`EngineConfig::max_exchange_chain_depth`].
pub const DEFAULT_MAX_EXCHANGE_CHAIN_DEPTH: usize = 4;

/// Lifetimes and switches of the OpenID Connect browser flows (all in seconds).
#[derive(Debug, Clone)]
pub struct PeopleConfig {
    /// Authorization code lifetime (RFC 6749 §4.1.2 recommends at most 10 minutes; Warden
    /// allows at most 60 s).
    pub code_lifetime: i64,
    /// ID token lifetime.
    pub id_token_lifetime: i64,
    /// Lifetime of access tokens that are only for `/userinfo` (no API requested).
    pub userinfo_token_lifetime: i64,
    /// Absolute lifetime of a refresh token family (seed 004: "SHOULD have a lifetime less
    /// than 24 hours").
    pub refresh_token_lifetime: i64,
    /// A rotated refresh token presented again within this many seconds of its first use is
    /// treated as a concurrent legitimate refresh, not as theft.
    pub refresh_reuse_grace: i64,
    /// Browser session lifetime.
    pub session_lifetime: i64,
    /// How long a user has to finish logging in and consenting.
    pub interaction_lifetime: i64,
    /// Lifetime of a pushed authorization request (RFC 9126 `expires_in`).
    pub par_lifetime: i64,
    /// Every client must use PAR.
    pub require_par: bool,
}

impl Default for PeopleConfig {
    fn default() -> Self {
        Self {
            code_lifetime: 60,
            id_token_lifetime: 600,
            userinfo_token_lifetime: 900,
            refresh_token_lifetime: 86_400,
            refresh_reuse_grace: 10,
            session_lifetime: 8 * 3600,
            interaction_lifetime: 15 * 60,
            par_lifetime: 60,
            require_par: false,
        }
    }
}

/// Joins the issuer and an endpoint path without doubling or dropping a slash.
pub fn endpoint_url(issuer: &str, path: &str) -> String {
    format!("{}{}", issuer.trim_end_matches('/'), path)
}

impl EngineConfig {
    /// Defaults for an issuer: endpoints at their default paths.
    pub fn for_issuer(issuer: &str) -> Self {
        Self {
            issuer: issuer.to_owned(),
            token_endpoint: endpoint_url(issuer, "/token"),
            introspection_endpoint: endpoint_url(issuer, "/introspect"),
            revocation_endpoint: endpoint_url(issuer, "/revoke"),
            registration_endpoint: endpoint_url(issuer, "/register"),
            jwks_uri: endpoint_url(issuer, "/jwks"),
            authorization_endpoint: endpoint_url(issuer, "/authorize"),
            par_endpoint: endpoint_url(issuer, "/par"),
            userinfo_endpoint: endpoint_url(issuer, "/userinfo"),
            end_session_endpoint: endpoint_url(issuer, "/logout"),
            clock_skew: 30,
            max_assertion_lifetime: 300,
            jwks_cache_ttl: 300,
            jwks_refetch_interval: 60,
            key_rotation_interval: 30 * 24 * 3600,
            key_publish_lead: 2 * 300,
            jwks_max_age: 300,
            signing_algs: SigningAlg::ALL.to_vec(),
            registration_requires_token: true,
            registration_enabled: true,
            audit_retention: 90 * 86_400,
            people: PeopleConfig::default(),
            max_exchange_chain_depth: DEFAULT_MAX_EXCHANGE_CHAIN_DEPTH,
            dpop: DpopConfig::default(),
            mtls_endpoint_base: None,
        }
    }
}
