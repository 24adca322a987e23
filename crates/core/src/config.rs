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
        }
    }
}
