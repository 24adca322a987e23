//! Response and metadata documents: RFC 6749 §5.1 token response, RFC 7662 introspection
//! response, RFC 8414 server metadata, RFC 7591 client metadata.

use serde::{Deserialize, Serialize};

use crate::Scope;
use crate::jwk::JwkSet;

/// RFC 6749 §5.1 successful token response.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenResponse {
    /// The access token.
    pub access_token: String,
    /// Always `Bearer` for now (RFC 6750).
    pub token_type: String,
    /// Lifetime in seconds.
    pub expires_in: i64,
    /// The granted scope (always sent, so clients need not compare with what they asked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Scope>,
    /// RFC 8693 §2.2.1: the type of the issued token, for token exchange.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued_token_type: Option<String>,
    /// RFC 6749 §5.1 refresh token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// OIDC Core §3.1.3.3 ID token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}

/// RFC 7662 §2.2 introspection response.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct IntrospectionResponse {
    /// Whether the token is currently active.
    pub active: bool,
    /// Granted scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The client the token was issued to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// `Bearer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    /// Expiry, seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// Issue time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// Not-before time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// Subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// Audience.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    /// Issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// Token identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// Human-readable user name, when a user is the subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Other claims of the token that introspection reveals (`act`, `cnf`).
    #[serde(flatten, default)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl IntrospectionResponse {
    /// The only answer for a token that is not active: RFC 7662 §2.2 says nothing else
    /// should be revealed.
    pub fn inactive() -> Self {
        Self::default()
    }
}

/// RFC 8414 authorization server metadata (also served as OpenID Provider metadata).
/// Only what Warden implements is advertised.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct ServerMetadata {
    /// Issuer identifier.
    pub issuer: String,
    /// Authorization endpoint (RFC 6749 §3.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_endpoint: Option<String>,
    /// Token endpoint.
    pub token_endpoint: String,
    /// JWK Set document.
    pub jwks_uri: String,
    /// RFC 7591 registration endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_endpoint: Option<String>,
    /// RFC 7662 introspection endpoint.
    pub introspection_endpoint: String,
    /// RFC 7009 revocation endpoint.
    pub revocation_endpoint: String,
    /// Scopes defined by the registered APIs.
    pub scopes_supported: Vec<String>,
    /// RFC 9126 §5: pushed authorization request endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pushed_authorization_request_endpoint: Option<String>,
    /// RFC 9126 §5: whether every authorization request must be pushed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_pushed_authorization_requests: Option<bool>,
    /// OIDC Core §5.3: UserInfo endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userinfo_endpoint: Option<String>,
    /// RP-Initiated Logout 1.0 §2.1: end-session endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_session_endpoint: Option<String>,
    /// Response types the authorization endpoint accepts.
    pub response_types_supported: Vec<String>,
    /// Grant types the token endpoint accepts.
    pub grant_types_supported: Vec<String>,
    /// Response modes (OAuth 2.0 Multiple Response Types, Form Post Response Mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_modes_supported: Option<Vec<String>>,
    /// Client authentication methods at the token endpoint.
    pub token_endpoint_auth_methods_supported: Vec<String>,
    /// Assertion algorithms at the token endpoint.
    pub token_endpoint_auth_signing_alg_values_supported: Vec<String>,
    /// Client authentication methods at the introspection endpoint.
    pub introspection_endpoint_auth_methods_supported: Vec<String>,
    /// Assertion algorithms at the introspection endpoint.
    pub introspection_endpoint_auth_signing_alg_values_supported: Vec<String>,
    /// Client authentication methods at the revocation endpoint.
    pub revocation_endpoint_auth_methods_supported: Vec<String>,
    /// Assertion algorithms at the revocation endpoint.
    pub revocation_endpoint_auth_signing_alg_values_supported: Vec<String>,
    /// OIDC Discovery: subject identifier types.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_types_supported: Option<Vec<String>>,
    /// Algorithms Warden signs access tokens with.
    pub access_token_signing_alg_values_supported: Vec<String>,
    /// OIDC Discovery: ID token signing algorithms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_signing_alg_values_supported: Option<Vec<String>>,
    /// OIDC Discovery: JWE `alg` values for ID tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_encryption_alg_values_supported: Option<Vec<String>>,
    /// OIDC Discovery: JWE `enc` values for ID tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_encryption_enc_values_supported: Option<Vec<String>>,
    /// OIDC Discovery: claims Warden can supply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claims_supported: Option<Vec<String>>,
    /// RFC 7636 / RFC 8414: PKCE methods (S256 only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_challenge_methods_supported: Option<Vec<String>>,
    /// RFC 9207 §3: `iss` is sent in authorization responses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_response_iss_parameter_supported: Option<bool>,
    /// Back-Channel Logout 1.0 §2.1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_supported: Option<bool>,
    /// Back-Channel Logout 1.0 §2.1: logout tokens carry `sid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_session_supported: Option<bool>,
    /// Front-Channel Logout 1.0 (not implemented: false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frontchannel_logout_supported: Option<bool>,
    /// `prompt` values the authorization endpoint honours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_values_supported: Option<Vec<String>>,
    /// OIDC Core §5.5 `claims` parameter (not supported: false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claims_parameter_supported: Option<bool>,
    /// OIDC Core §6.1 `request` parameter (not supported: false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_parameter_supported: Option<bool>,
    /// OIDC Core §6.2 `request_uri` by reference (false: only PAR request URIs are taken).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_uri_parameter_supported: Option<bool>,
    /// Where to read more.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_documentation: Option<String>,
    /// RFC 8705 §3.3: Warden can bind access tokens to client certificates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_certificate_bound_access_tokens: Option<bool>,
    /// RFC 8705 §5: endpoints to use for mutual TLS when they differ from the plain ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtls_endpoint_aliases: Option<serde_json::Map<String, serde_json::Value>>,
    /// RFC 9449 §5.1: JWS algorithms accepted in DPoP proofs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_signing_alg_values_supported: Option<Vec<String>>,
    /// OIDC Discovery: userinfo signing algorithms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userinfo_signing_alg_values_supported: Option<Vec<String>>,
    /// OIDC Discovery: userinfo JWE key management algorithms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userinfo_encryption_alg_values_supported: Option<Vec<String>>,
    /// OIDC Discovery: userinfo JWE content encryption algorithms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userinfo_encryption_enc_values_supported: Option<Vec<String>>,
}

/// RFC 7591 §2 client metadata, as submitted to `/register` and returned from it.
/// Unknown members are ignored, as RFC 7591 §2 requires.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ClientMetadata {
    /// Redirect URIs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_uris: Option<Vec<String>>,
    /// Authentication method at the token endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_method: Option<String>,
    /// Grant types.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_types: Option<Vec<String>>,
    /// Response types.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_types: Option<Vec<String>>,
    /// Human-readable name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_name: Option<String>,
    /// Home page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_uri: Option<String>,
    /// Logo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_uri: Option<String>,
    /// Scopes the client may request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Warden extension: the API this client is the service behind (token exchange policy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serves_api: Option<String>,
    /// Warden extension: APIs this client may obtain tokens for by token exchange.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_exchange_targets: Option<Vec<String>>,
    /// Contacts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contacts: Option<Vec<String>>,
    /// Terms of service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tos_uri: Option<String>,
    /// Privacy policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_uri: Option<String>,
    /// Public keys by reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// Public keys by value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<JwkSet>,
    /// Software identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software_id: Option<String>,
    /// Software version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software_version: Option<String>,
    /// Assertion algorithm the client will use (OIDC Registration §2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_signing_alg: Option<String>,
    /// RP-Initiated Logout 1.0 §3.1: where the browser may be sent after logout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_logout_redirect_uris: Option<Vec<String>>,
    /// Back-Channel Logout 1.0 §2.2: where logout tokens are posted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_uri: Option<String>,
    /// Back-Channel Logout 1.0 §2.2: whether the logout token must carry `sid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_session_required: Option<bool>,
    /// OIDC Registration §2: ID token signing algorithm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_signed_response_alg: Option<String>,
    /// OIDC Registration §2: JWE `alg` for ID tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_encrypted_response_alg: Option<String>,
    /// OIDC Registration §2: JWE `enc` for ID tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_encrypted_response_enc: Option<String>,
    /// OIDC Registration §2: `web` or `native`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_type: Option<String>,
    /// RFC 9126 §6: authorization requests must be pushed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_pushed_authorization_requests: Option<bool>,
    /// OIDC Registration §2: `public` (the only subject type Warden offers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_type: Option<String>,
    /// OIDC Registration §2: default `max_age` (stored, returned).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_max_age: Option<i64>,
    /// RFC 8705 §2.1.2: the expected subject DN of a `tls_client_auth` certificate (RFC 4514
    /// string form).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_subject_dn: Option<String>,
    /// RFC 8705 §2.1.2: an expected `dNSName` SAN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_san_dns: Option<String>,
    /// RFC 8705 §2.1.2: an expected `uniformResourceIdentifier` SAN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_san_uri: Option<String>,
    /// RFC 8705 §2.1.2: an expected `iPAddress` SAN (textual IPv4 or IPv6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_san_ip: Option<String>,
    /// RFC 8705 §2.1.2: an expected `rfc822Name` SAN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_san_email: Option<String>,
    /// RFC 8705 §3.4: the client's access tokens are always bound to its certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_certificate_bound_access_tokens: Option<bool>,
    /// RFC 9449 §5.2: the client always uses DPoP at the token endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_bound_access_tokens: Option<bool>,
    /// OIDC Registration §2: JWS algorithm for signed userinfo responses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userinfo_signed_response_alg: Option<String>,
    /// OIDC Registration §2: JWE key management algorithm for userinfo responses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userinfo_encrypted_response_alg: Option<String>,
    /// OIDC Registration §2: JWE content encryption for userinfo responses. Warden offers
    /// `A256GCM` (its default when only the algorithm is given) and `A128GCM`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userinfo_encrypted_response_enc: Option<String>,
}

/// Registered client record returned by the CLI and by `/register` (RFC 7591 §3.2.1).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClientInformation {
    /// Client identifier.
    pub client_id: String,
    /// The secret, shown once at creation or rotation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// Issue time of the client id.
    pub client_id_issued_at: i64,
    /// Secret expiry; 0 means never (RFC 7591 §3.2.1). Present when a secret is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_expires_at: Option<i64>,
    /// RFC 7592 management token, shown once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_access_token: Option<String>,
    /// RFC 7592 management URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_client_uri: Option<String>,
    /// Registered metadata.
    #[serde(flatten)]
    pub metadata: ClientMetadata,
    /// Warden extension: scopes this client may obtain, per API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grants: Option<std::collections::BTreeMap<String, String>>,
}
