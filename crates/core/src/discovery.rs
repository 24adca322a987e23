//! RFC 8414 authorization server metadata, also served as OpenID Provider metadata. It
//! advertises exactly what is implemented.

use warden_types::metadata::ServerMetadata;
use warden_types::{JwsAlgorithm, SigningAlg, TokenEndpointAuthMethod};

use crate::engine::Engine;
use crate::grants::SUPPORTED_GRANTS;

/// Client authentication methods implemented at the token, introspection and revocation
/// endpoints.
pub const AUTH_METHODS: [TokenEndpointAuthMethod; 4] = [
    TokenEndpointAuthMethod::ClientSecretBasic,
    TokenEndpointAuthMethod::ClientSecretPost,
    TokenEndpointAuthMethod::ClientSecretJwt,
    TokenEndpointAuthMethod::PrivateKeyJwt,
];

impl Engine {
    /// The metadata document.
    pub fn server_metadata(&self, openid: bool) -> ServerMetadata {
        let cfg = &self.config;
        let methods: Vec<String> = AUTH_METHODS.iter().map(|m| m.as_str().to_owned()).collect();
        let algs: Vec<String> = JwsAlgorithm::ALL
            .iter()
            .map(|a| a.as_str().to_owned())
            .collect();
        let mut scopes: Vec<String> = self
            .registry()
            .apis()
            .flat_map(|api| api.scopes.iter().map(|s| s.name.clone()))
            .collect();
        scopes.sort();
        scopes.dedup();
        ServerMetadata {
            issuer: cfg.issuer.clone(),
            token_endpoint: cfg.token_endpoint.clone(),
            jwks_uri: cfg.jwks_uri.clone(),
            registration_endpoint: cfg
                .registration_enabled
                .then(|| cfg.registration_endpoint.clone()),
            introspection_endpoint: cfg.introspection_endpoint.clone(),
            revocation_endpoint: cfg.revocation_endpoint.clone(),
            scopes_supported: scopes,
            response_types_supported: Vec::new(),
            grant_types_supported: SUPPORTED_GRANTS
                .iter()
                .map(|g| g.as_str().to_owned())
                .collect(),
            token_endpoint_auth_methods_supported: methods.clone(),
            token_endpoint_auth_signing_alg_values_supported: algs.clone(),
            introspection_endpoint_auth_methods_supported: methods.clone(),
            introspection_endpoint_auth_signing_alg_values_supported: algs.clone(),
            revocation_endpoint_auth_methods_supported: methods,
            revocation_endpoint_auth_signing_alg_values_supported: algs,
            subject_types_supported: openid.then(|| vec![String::from("public")]),
            access_token_signing_alg_values_supported: cfg
                .signing_algs
                .iter()
                .map(|a: &SigningAlg| a.as_str().to_owned())
                .collect(),
            service_documentation: None,
        }
    }
}
