//! Records for the suite, filled in enough to catch a field that does not round-trip.

use std::collections::BTreeMap;

use serde_json::json;
use warden_core::model::{
    Api, ApiEncryption, ApiScope, AuditEvent, AuthorizationCodeRecord, BindingRequirement, Client,
    ClientBinding, ClientTls, Consent, InitialAccessToken, KeyState, OpaqueTokenRecord,
    PendingKind, PendingRequest, RefreshTokenRecord, Session, StoredKey, StoredSecret,
    TrustedIssuer, User,
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
        require_binding: BindingRequirement::Certificate,
        encryption: Some(ApiEncryption {
            jwk: jwk("api-enc-1"),
            alg: "ECDH-ES".to_owned(),
            enc: "A256GCM".to_owned(),
        }),
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
        exchange_targets: vec![ApiIdentifier::new("https://api.example.com/payments")],
        metadata: ClientMetadata {
            client_name: Some(format!("Client {client_id}")),
            contacts: Some(vec!["ops@example.com".to_owned()]),
            ..ClientMetadata::default()
        },
        registration_token_hash: Some("cmVnaXN0cmF0aW9u".to_owned()),
        registration_token_sealed: None,
        oidc: Default::default(),
        tls: ClientTls {
            subject_dn: Some("CN=svc,O=Example".to_owned()),
            ..ClientTls::default()
        },
        binding: ClientBinding {
            certificate_bound: true,
            dpop_bound: false,
        },
        created_at: NOW,
        updated_at: NOW,
    }
}

/// A trusted issuer with every optional field set, two keys and two mapped subjects.
pub(crate) fn trusted_issuer(issuer: &str) -> TrustedIssuer {
    let mut subjects = BTreeMap::new();
    subjects.insert(
        "system:serviceaccount:payments:api".to_owned(),
        ClientId::new("svc-a"),
    );
    subjects.insert(
        "system:serviceaccount:ledger:worker".to_owned(),
        ClientId::new("svc-b"),
    );
    TrustedIssuer {
        issuer: issuer.to_owned(),
        name: format!("Issuer {issuer}"),
        jwks_uri: Some(format!("{issuer}/openid/v1/jwks")),
        jwks: Some(JwkSet {
            keys: vec![jwk("cluster-key-1"), jwk("cluster-key-2")],
        }),
        audience: Some("https://warden.example.com".to_owned()),
        max_lifetime: 3600,
        subjects,
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

pub(crate) fn user(sub: &str, username: &str, email: &str) -> User {
    User {
        sub: sub.to_owned(),
        username: username.to_owned(),
        email: email.to_owned(),
        email_verified: !email.is_empty(),
        name: Some(format!("Name of {username}")),
        password_hash: format!("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA${sub}"),
        disabled: false,
        created_at: NOW,
        updated_at: NOW,
    }
}

pub(crate) fn session(id_hash: &str, user_sub: &str, expires_at: UnixTime) -> Session {
    Session {
        id_hash: id_hash.to_owned(),
        sid: format!("sid-{id_hash}"),
        user_sub: user_sub.to_owned(),
        auth_time: NOW - 30,
        amr: vec!["pwd".to_owned()],
        clients: vec![ClientId::new("web-a")],
        created_at: NOW,
        expires_at,
    }
}

pub(crate) fn consent(user_sub: &str, client_id: &str) -> Consent {
    Consent {
        user_sub: user_sub.to_owned(),
        client_id: ClientId::new(client_id),
        scope: Scope::parse("openid profile read").expect("scope"),
        resources: vec![ApiIdentifier::new("https://api.example.com/payments")],
        api_scopes: Default::default(),
        updated_at: NOW,
    }
}

pub(crate) fn authorization_code(
    code_hash: &str,
    user_sub: &str,
    expires_at: UnixTime,
) -> AuthorizationCodeRecord {
    AuthorizationCodeRecord {
        code_hash: code_hash.to_owned(),
        grant_id: format!("grant-{code_hash}"),
        client_id: ClientId::new("web-a"),
        user_sub: user_sub.to_owned(),
        redirect_uri: Some("https://app.example.com/cb".to_owned()),
        scope: Scope::parse("openid offline_access read").expect("scope"),
        resource: Some(ApiIdentifier::new("https://api.example.com/payments")),
        code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".to_owned(),
        nonce: Some("n-0S6_WzA2Mj".to_owned()),
        auth_time: NOW - 30,
        amr: vec!["pwd".to_owned()],
        sid: Some("sid-1".to_owned()),
        openid: true,
        created_at: expires_at - 60,
        expires_at,
        dpop_jkt: None,
        redeemed_at: None,
        issued: None,
    }
}

pub(crate) fn refresh_token(
    token_hash: &str,
    family_id: &str,
    client_id: &str,
    user_sub: &str,
    expires_at: UnixTime,
) -> RefreshTokenRecord {
    RefreshTokenRecord {
        token_hash: token_hash.to_owned(),
        family_id: family_id.to_owned(),
        client_id: ClientId::new(client_id),
        user_sub: user_sub.to_owned(),
        scope: Scope::parse("openid offline_access read").expect("scope"),
        resource: Some(ApiIdentifier::new("https://api.example.com/payments")),
        auth_time: NOW - 30,
        amr: vec!["pwd".to_owned()],
        sid: Some("sid-1".to_owned()),
        created_at: NOW,
        expires_at,
        used_at: None,
        revoked: false,
        dpop_jkt: Some("jkt-of-the-dpop-key".to_owned()),
    }
}

pub(crate) fn pending_request(
    id_hash: &str,
    kind: PendingKind,
    expires_at: UnixTime,
) -> PendingRequest {
    PendingRequest {
        id_hash: id_hash.to_owned(),
        kind,
        client_id: ClientId::new("web-a"),
        data: json!({
            "response_type": "code",
            "redirect_uri": "https://app.example.com/cb",
            "scope": "openid profile",
            "state": "af0ifjsldkj",
            "nested": { "claims": ["email"], "max_age": 300 },
        }),
        created_at: NOW,
        expires_at,
    }
}
