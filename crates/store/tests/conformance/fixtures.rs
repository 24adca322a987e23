//! Records for the suite, filled in enough to catch a field that does not round-trip.

use std::collections::BTreeMap;

use serde_json::json;
use warden_core::model::{
    Api, ApiScope, AuditEvent, Client, InitialAccessToken, KeyState, OpaqueTokenRecord, StoredKey,
    StoredSecret,
};
use warden_types::jwk::{Jwk, JwkSet};
use warden_types::metadata::ClientMetadata;
use warden_types::{
    ApiIdentifier, ClientId, GrantType, JwsAlgorithm, Kid, Scope, SigningAlg,
    TokenEndpointAuthMethod, TokenFormat, UnixTime,
};

/// The suite's "now".
pub(crate) const NOW: UnixTime = 1_700_000_000;

pub(crate) fn api(identifier: &str) -> Api {
    Api {
        identifier: ApiIdentifier::new(identifier),
        name: format!("API {identifier}"),
        scopes: vec![
            ApiScope {
                name: "read".to_owned(),
                description: "Read things".to_owned(),
            },
            ApiScope {
                name: "write".to_owned(),
                description: String::new(),
            },
        ],
        token_format: TokenFormat::Jwt,
        token_lifetime: 900,
        signing_alg: SigningAlg::ES256,
        created_at: NOW,
        updated_at: NOW,
    }
}

pub(crate) fn jwk(kid: &str) -> Jwk {
    serde_json::from_value(json!({
        "kty": "EC",
        "kid": kid,
        "use": "sig",
        "alg": "ES256",
        "crv": "P-256",
        "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
        "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
    }))
    .expect("valid JWK")
}

pub(crate) fn client(client_id: &str) -> Client {
    let mut grants = BTreeMap::new();
    grants.insert(
        ApiIdentifier::new("https://api.example.com/payments"),
        Scope::parse("read write").expect("scope"),
    );
    Client {
        client_id: ClientId::new(client_id),
        name: format!("Client {client_id}"),
        auth_method: TokenEndpointAuthMethod::PrivateKeyJwt,
        secret: Some(StoredSecret {
            hash: "aGFzaC1vZi10aGUtc2VjcmV0".to_owned(),
            sealed: Some("c2VhbGVk".to_owned()),
        }),
        jwks: Some(JwkSet {
            keys: vec![jwk("client-key-1")],
        }),
        jwks_uri: None,
        auth_signing_alg: Some(JwsAlgorithm::ES256),
        grant_types: vec![
            GrantType::ClientCredentials,
            GrantType::TokenExchange,
            GrantType::Other("urn:example:custom".to_owned()),
        ],
        redirect_uris: vec!["https://app.example.com/cb".to_owned()],
        grants,
        registered_scope: Some(Scope::parse("profile").expect("scope")),
        allowed_apis: Some(vec![ApiIdentifier::new("https://api.example.com/payments")]),
        serves_api: Some(ApiIdentifier::new("https://api.example.com/ledger")),
        metadata: ClientMetadata {
            client_name: Some(format!("Client {client_id}")),
            contacts: Some(vec!["ops@example.com".to_owned()]),
            ..ClientMetadata::default()
        },
        registration_token_hash: Some("cmVnaXN0cmF0aW9u".to_owned()),
        registration_token_sealed: None,
        created_at: NOW,
        updated_at: NOW,
    }
}

pub(crate) fn key(kid: &str, state: KeyState, created_at: UnixTime) -> StoredKey {
    StoredKey {
        kid: Kid::new(kid),
        alg: SigningAlg::ES256,
        state,
        sealed_private_key: format!("sealed-{kid}"),
        public_jwk: jwk(kid),
        created_at,
        activated_at: (state != KeyState::Published).then_some(created_at + 10),
        retired_at: None,
        remove_after: None,
    }
}

pub(crate) fn opaque_token(token_hash: &str, exp: UnixTime) -> OpaqueTokenRecord {
    OpaqueTokenRecord {
        token_hash: token_hash.to_owned(),
        jti: format!("jti-{token_hash}"),
        client_id: ClientId::new("svc-a"),
        sub: "svc-a".to_owned(),
        aud: ApiIdentifier::new("https://api.example.com/payments"),
        scope: Scope::parse("read write").expect("scope"),
        iat: NOW,
        exp,
        revoked: false,
        extra: Some(json!({ "act": { "sub": "svc-b" } })),
    }
}

pub(crate) fn initial_access_token(
    token_hash: &str,
    once: bool,
    expires_at: UnixTime,
) -> InitialAccessToken {
    InitialAccessToken {
        token_hash: token_hash.to_owned(),
        expires_at,
        once,
        allowed_apis: once.then(|| vec![ApiIdentifier::new("https://api.example.com/payments")]),
        created_at: NOW,
    }
}

pub(crate) fn audit_event(at: UnixTime, kind: &str) -> AuditEvent {
    AuditEvent {
        at,
        kind: kind.to_owned(),
        actor: Some("svc-a".to_owned()),
        source: (at % 2 == 0).then(|| "10.0.0.1".to_owned()),
        detail: json!({ "aud": "https://api.example.com/payments", "n": at }),
    }
}
