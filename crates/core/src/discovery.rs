//! RFC 8414 authorization server metadata, also served as OpenID Provider metadata (OpenID
//! Connect Discovery 1.0 §3). It advertises exactly what is implemented.

use warden_types::metadata::ServerMetadata;
use warden_types::{JwsAlgorithm, SigningAlg, TokenEndpointAuthMethod};

use crate::engine::Engine;
use crate::grants::SUPPORTED_GRANTS;

/// Client authentication methods implemented at the token, introspection and revocation
/// endpoints (the mutual-TLS ones of RFC 8705 §2 included).
pub const AUTH_METHODS: [TokenEndpointAuthMethod; 6] = [
    TokenEndpointAuthMethod::ClientSecretBasic,
    TokenEndpointAuthMethod::ClientSecretPost,
    TokenEndpointAuthMethod::ClientSecretJwt,
    TokenEndpointAuthMethod::PrivateKeyJwt,
    TokenEndpointAuthMethod::TlsClientAuth,
    TokenEndpointAuthMethod::SelfSignedTlsClientAuth,
];

/// Response types the authorization endpoint accepts (`code id_token` for confidential
/// clients only).
pub const RESPONSE_TYPES: [&str; 2] = ["code", "code id_token"];

/// Response modes (OAuth 2.0 Multiple Response Type Encoding Practices, Form Post).
pub const RESPONSE_MODES: [&str; 3] = ["query", "fragment", "form_post"];

/// Scopes of OpenID Connect itself, advertised before the APIs' scopes.
pub const OIDC_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];

/// JWE key management algorithms for ID tokens.
pub const ID_TOKEN_ENCRYPTION_ALGS: [&str; 2] = ["RSA-OAEP-256", "ECDH-ES"];

/// JWE content encryption algorithms for ID tokens (the first is the default).
pub const ID_TOKEN_ENCRYPTION_ENCS: [&str; 2] = ["A256GCM", "A128GCM"];

/// Claims Warden can put in ID tokens and UserInfo responses.
pub const CLAIMS: [&str; 19] = [
    "sub",
    "iss",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "acr",
    "amr",
    "azp",
    "sid",
    "at_hash",
    "c_hash",
    "s_hash",
    "name",
    "preferred_username",
    "email",
    "email_verified",
    "updated_at",
];

/// `prompt` values the authorization endpoint honours.
pub const PROMPT_VALUES: [&str; 3] = ["none", "login", "consent"];

/// RFC 8705 §5 `mtls_endpoint_aliases`: the endpoints clients authenticate at, on the
/// mutual-TLS host `base` with the same paths.
fn mtls_aliases(
    base: &str,
    cfg: &crate::config::EngineConfig,
) -> serde_json::Map<String, serde_json::Value> {
    let base = base.trim_end_matches('/');
    [
        ("token_endpoint", &cfg.token_endpoint),
        ("introspection_endpoint", &cfg.introspection_endpoint),
        ("revocation_endpoint", &cfg.revocation_endpoint),
        ("pushed_authorization_request_endpoint", &cfg.par_endpoint),
        ("userinfo_endpoint", &cfg.userinfo_endpoint),
    ]
    .into_iter()
    .map(|(name, endpoint)| {
        let path = url::Url::parse(endpoint)
            .map(|u| u.path().to_owned())
            .unwrap_or_default();
        (
            name.to_owned(),
            serde_json::Value::String(format!("{base}{path}")),
        )
    })
    .collect()
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

impl Engine {
    /// The metadata document; `openid` selects the OpenID Provider flavour (which adds the
    /// members only OpenID Connect defines, such as `subject_types_supported`).
    pub fn server_metadata(&self, openid: bool) -> ServerMetadata {
        let cfg = &self.config;
        let methods: Vec<String> = AUTH_METHODS.iter().map(|m| m.as_str().to_owned()).collect();
        // Public clients (`none`) identify themselves with `client_id` at the token endpoint,
        // may revoke their own tokens (RFC 7009 §2.1) and may introspect only their own
        // tokens, so `none` is advertised at all three.
        let mut token_methods = methods.clone();
        token_methods.push(TokenEndpointAuthMethod::None.as_str().to_owned());
        let methods = token_methods.clone();
        let algs: Vec<String> = JwsAlgorithm::ALL
            .iter()
            .map(|a| a.as_str().to_owned())
            .collect();
        let mut api_scopes: Vec<String> = self
            .registry()
            .apis()
            .flat_map(|api| api.scopes.iter().map(|s| s.name.clone()))
            .filter(|s| !OIDC_SCOPES.contains(&s.as_str()))
            .collect();
        api_scopes.sort();
        api_scopes.dedup();
        let mut scopes = strings(&OIDC_SCOPES);
        scopes.extend(api_scopes);
        let signing: Vec<String> = cfg
            .signing_algs
            .iter()
            .map(|a: &SigningAlg| a.as_str().to_owned())
            .collect();
        // OIDC Discovery §3: RS256 must be listed; it comes first.
        let mut id_token_algs = signing.clone();
        id_token_algs.sort_by_key(|a| a != SigningAlg::RS256.as_str());
        ServerMetadata {
            issuer: cfg.issuer.clone(),
            authorization_endpoint: Some(cfg.authorization_endpoint.clone()),
            token_endpoint: cfg.token_endpoint.clone(),
            jwks_uri: cfg.jwks_uri.clone(),
            registration_endpoint: cfg
                .registration_enabled
                .then(|| cfg.registration_endpoint.clone()),
            introspection_endpoint: cfg.introspection_endpoint.clone(),
            revocation_endpoint: cfg.revocation_endpoint.clone(),
            pushed_authorization_request_endpoint: Some(cfg.par_endpoint.clone()),
            require_pushed_authorization_requests: Some(cfg.people.require_par),
            userinfo_endpoint: Some(cfg.userinfo_endpoint.clone()),
            end_session_endpoint: Some(cfg.end_session_endpoint.clone()),
            scopes_supported: scopes,
            response_types_supported: strings(&RESPONSE_TYPES),
            response_modes_supported: Some(strings(&RESPONSE_MODES)),
            grant_types_supported: SUPPORTED_GRANTS
                .iter()
                .map(|g| g.as_str().to_owned())
                .collect(),
            token_endpoint_auth_methods_supported: token_methods,
            token_endpoint_auth_signing_alg_values_supported: algs.clone(),
            introspection_endpoint_auth_methods_supported: methods.clone(),
            introspection_endpoint_auth_signing_alg_values_supported: algs.clone(),
            revocation_endpoint_auth_methods_supported: methods,
            revocation_endpoint_auth_signing_alg_values_supported: algs,
            subject_types_supported: openid.then(|| vec![String::from("public")]),
            access_token_signing_alg_values_supported: signing,
            id_token_signing_alg_values_supported: Some(id_token_algs.clone()),
            id_token_encryption_alg_values_supported: Some(strings(&ID_TOKEN_ENCRYPTION_ALGS)),
            id_token_encryption_enc_values_supported: Some(strings(&ID_TOKEN_ENCRYPTION_ENCS)),
            claims_supported: Some(strings(&CLAIMS)),
            code_challenge_methods_supported: Some(vec![String::from("S256")]),
            authorization_response_iss_parameter_supported: Some(true),
            backchannel_logout_supported: Some(true),
            backchannel_logout_session_supported: Some(true),
            frontchannel_logout_supported: Some(false),
            prompt_values_supported: Some(strings(&PROMPT_VALUES)),
            claims_parameter_supported: Some(false),
            request_parameter_supported: Some(false),
            request_uri_parameter_supported: Some(false),
            service_documentation: None,
            // RFC 8705 §3.3: tokens are bound whenever the client presents a certificate.
            tls_client_certificate_bound_access_tokens: Some(true),
            mtls_endpoint_aliases: cfg
                .mtls_endpoint_base
                .as_deref()
                .map(|b| mtls_aliases(b, cfg)),
            dpop_signing_alg_values_supported: Some(
                crate::dpop::DPOP_SIGNING_ALGS
                    .iter()
                    .map(|a| a.as_str().to_owned())
                    .collect(),
            ),
            userinfo_signing_alg_values_supported: Some(id_token_algs),
            userinfo_encryption_alg_values_supported: Some(strings(&ID_TOKEN_ENCRYPTION_ALGS)),
            userinfo_encryption_enc_values_supported: Some(strings(&ID_TOKEN_ENCRYPTION_ENCS)),
        }
    }
}
