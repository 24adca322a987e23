//! Encrypted tokens (RFC 7516 JWE; seed 004: tokens carrying sensitive data MUST be
//! encrypted).
//!
//! Access tokens: an API that registers a public encryption key receives its `at+jwt` signed,
//! then encrypted to that key (`cty: "JWT"`). The API (here: the test, holding the private key)
//! decrypts it with `JweDecrypter` and verifies the inner JWS against `/jwks` with
//! `jsonwebtoken`. Warden cannot read the JWE form back: introspection says inactive,
//! revocation answers 200 (an unknown token), token exchange asks for the inner token; the
//! inner JWS works as usual. Also the `warden api` options that register the key.
//!
//! Userinfo (OIDC Core §5.3.2): plain JSON, a signed JWT, a JWE of the JSON claims, and a JWE
//! of the signed JWT, as the client registered.

use jsonwebtoken::{DecodingKey, Validation};
use serde_json::{Value, json};
use warden_core::access_encryption::ApiEncryptionRequest;
use warden_core::admin::{NewApi, NewClient};
use warden_core::clock::Clock;
use warden_jose::SigningKey;
use warden_jose::jwe::{JweAlgorithm, JweDecrypter, JweEncryption};
use warden_testkit::{Backend, TestServer};
use warden_types::{Kid, Scope, SigningAlg, TokenEndpointAuthMethod, TokenFormat};

use crate::oidc_support::{
    App, Authz, CALLBACK, EMAIL, FULL_NAME, confidential, create_alice, tokens_for, userinfo,
};
use crate::support::{
    API, API2, CliDb, CliOutput, Reply, access_token, basic_client, get, introspect, is_active,
    jwt_api, post, published_jwks, reply, revoke, verify_jwt,
};

both!(
    rsa_oaep_encrypted_access_tokens,
    ecdh_es_encrypted_access_tokens,
    warden_cannot_read_the_jwe_form,
    encryption_can_be_changed_and_removed,
    api_encryption_refusals,
    userinfo_is_plain_json_by_default,
    userinfo_signed,
    userinfo_encrypted_without_signature,
    userinfo_signed_then_encrypted,
    registration_checks_userinfo_metadata,
    discovery_advertises_userinfo_algorithms,
);

const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

// ---- keys ------------------------------------------------------------------------------------

/// An encryption key pair for `alg`: the private half stays with the test (the API or client),
/// the public JWK is what Warden gets.
fn key_pair(alg: JweAlgorithm, kid: &str) -> JweDecrypter {
    let signing = match alg {
        JweAlgorithm::RsaOaep256 => SigningAlg::RS256,
        JweAlgorithm::EcdhEs => SigningAlg::ES256,
    };
    let key = SigningKey::generate(signing, Kid::new(kid)).unwrap();
    JweDecrypter::from_pkcs8(key.pkcs8_der(), &[alg], &JweEncryption::ALL)
        .unwrap()
        .with_kid(kid)
}

/// The public JWK as an operator would write it: no `alg`, so Warden's default applies.
fn public_jwk(d: &JweDecrypter) -> Value {
    let mut v = serde_json::to_value(d.public_jwk()).unwrap();
    v.as_object_mut().unwrap().remove("alg");
    v
}

/// Creates a JWT API whose tokens are encrypted with `key` (and `alg`/`enc` when given).
async fn encrypted_api(
    server: &TestServer,
    identifier: &str,
    signing: SigningAlg,
    key: Value,
    alg: Option<&str>,
    enc: Option<&str>,
) {
    server
        .engine
        .create_api_with_encryption(
            new_api(identifier, TokenFormat::Jwt, signing),
            Some(ApiEncryptionRequest {
                key,
                alg: alg.map(str::to_owned),
                enc: enc.map(str::to_owned),
            }),
            server.clock.now(),
        )
        .await
        .expect("create encrypted api");
    server.engine.reload().await.unwrap();
}

fn new_api(identifier: &str, format: TokenFormat, signing: SigningAlg) -> NewApi {
    NewApi {
        identifier: identifier.to_owned(),
        name: None,
        scopes: Scope::parse("read write").unwrap(),
        token_format: format,
        token_lifetime: 900,
        signing_alg: signing,
    }
}

/// Decrypts an encrypted access token as the API would, checks the JWE header, and verifies
/// the inner `at+jwt` against `/jwks`; returns the inner token and its claims.
async fn open_access_token(
    server: &TestServer,
    jwe: &str,
    decrypter: &JweDecrypter,
    alg: JweAlgorithm,
    enc: JweEncryption,
) -> (String, Value) {
    assert_eq!(jwe.split('.').count(), 5, "a compact JWE: {jwe}");
    let (header, plaintext) = decrypter.decrypt(jwe).expect("the API can decrypt it");
    assert_eq!(header.alg(), alg);
    assert_eq!(header.enc(), enc);
    assert_eq!(header.cty(), Some("JWT"), "a nested JWT");
    assert_eq!(header.kid(), decrypter.kid(), "the API key's kid");
    let inner = String::from_utf8(plaintext).unwrap();
    assert_eq!(
        inner.split('.').count(),
        3,
        "the plaintext is a compact JWS"
    );
    let (jws_header, claims) = verify_jwt(server, &inner, API).await;
    assert_eq!(
        jws_header.typ.as_deref(),
        Some("at+jwt"),
        "RFC 9068 §2.1 typ"
    );
    (inner, claims)
}

// ---- access tokens ---------------------------------------------------------------------------

async fn rsa_oaep_encrypted_access_tokens(backend: Backend) {
    let server = TestServer::start(backend).await;
    let api_key = key_pair(JweAlgorithm::RsaOaep256, "api-enc-rsa");
    encrypted_api(
        &server,
        API,
        SigningAlg::ES256,
        public_jwk(&api_key),
        None,
        None,
    )
    .await;
    let (id, secret) = basic_client(&server, &[API], None).await;
    let r = post(
        &server,
        "/token",
        &[("grant_type", "client_credentials"), ("scope", "read")],
        Some((&id, &secret)),
    )
    .await;
    r.ok();
    assert_eq!(r.body["token_type"], "Bearer");
    let jwe = r.body["access_token"].as_str().unwrap();
    let (inner, claims) = open_access_token(
        &server,
        jwe,
        &api_key,
        JweAlgorithm::RsaOaep256,
        JweEncryption::A256GCM,
    )
    .await;
    assert_eq!(
        jsonwebtoken::decode_header(&inner).unwrap().alg,
        jsonwebtoken::Algorithm::ES256
    );
    assert_eq!(claims["aud"], API);
    assert_eq!(claims["client_id"], id.as_str());
    assert_eq!(claims["sub"], id.as_str());
    assert_eq!(claims["scope"], "read");
    assert_eq!(claims["iss"], server.issuer.as_str());
    // Nothing of the claims shows through the encryption.
    assert!(!jwe.contains(&crate::support::b64(id.as_bytes())));

    // Each token is encrypted afresh: another CEK and IV.
    let again = access_token(&server, &id, &secret, &[]).await;
    assert_ne!(
        again.split('.').nth(1),
        jwe.split('.').nth(1),
        "a fresh content encryption key"
    );
    open_access_token(
        &server,
        &again,
        &api_key,
        JweAlgorithm::RsaOaep256,
        JweEncryption::A256GCM,
    )
    .await;
}

async fn ecdh_es_encrypted_access_tokens(backend: Backend) {
    let server = TestServer::start(backend).await;
    let api_key = key_pair(JweAlgorithm::EcdhEs, "api-enc-ec");
    encrypted_api(
        &server,
        API,
        SigningAlg::RS256,
        public_jwk(&api_key),
        None,
        Some("A128GCM"),
    )
    .await;
    // An API without encryption next to it is unaffected.
    jwt_api(&server, API2, "read", SigningAlg::ES256).await;
    let (id, secret) = basic_client(&server, &[API, API2], None).await;
    let jwe = access_token(&server, &id, &secret, &[("resource", API)]).await;
    let (_, claims) = open_access_token(
        &server,
        &jwe,
        &api_key,
        JweAlgorithm::EcdhEs,
        JweEncryption::A128GCM,
    )
    .await;
    assert_eq!(claims["aud"], API);
    assert_eq!(claims["client_id"], id.as_str());
    assert_eq!(claims["scope"], "read write");
    // ECDH-ES in Direct Key Agreement mode: an empty Encrypted Key and an `epk`.
    assert_eq!(jwe.split('.').nth(1), Some(""));
    let header = crate::support::jwt_part(&jwe, 0);
    assert_eq!(header["epk"]["crv"], "P-256");

    let plain = access_token(&server, &id, &secret, &[("resource", API2)]).await;
    assert_eq!(plain.split('.').count(), 3);
    verify_jwt(&server, &plain, API2).await;
}

async fn warden_cannot_read_the_jwe_form(backend: Backend) {
    let server = TestServer::start(backend).await;
    let api_key = key_pair(JweAlgorithm::RsaOaep256, "api-enc-rsa");
    encrypted_api(
        &server,
        API,
        SigningAlg::ES256,
        public_jwk(&api_key),
        None,
        None,
    )
    .await;
    jwt_api(&server, API2, "read", SigningAlg::ES256).await;
    let (id, secret) = basic_client(&server, &[API], None).await;
    // The service behind the API: it may introspect and exchange the tokens it receives.
    let service = server
        .client(NewClient {
            name: String::from("api service"),
            auth_method: TokenEndpointAuthMethod::ClientSecretBasic,
            grant_types: vec![TOKEN_EXCHANGE.to_owned()],
            audiences: vec![API2.to_owned()],
            serves_api: Some(API.to_owned()),
            exchange_targets: vec![API2.to_owned()],
            ..NewClient::default()
        })
        .await;
    let service = (
        service.client_id.as_str(),
        service.client_secret.as_deref().unwrap(),
    );
    let jwe = access_token(&server, &id, &secret, &[]).await;
    let (inner, _) = open_access_token(
        &server,
        &jwe,
        &api_key,
        JweAlgorithm::RsaOaep256,
        JweEncryption::A256GCM,
    )
    .await;

    // Introspection: the JWE is not a token Warden can read (RFC 7662 §2.2: inactive, nothing
    // else); the inner JWS is active.
    let r = introspect(&server, service, &jwe).await;
    r.ok();
    assert_eq!(r.body, json!({"active": false}));
    let r = introspect(&server, service, &inner).await;
    r.ok();
    assert_eq!(r.body["active"], true);
    assert_eq!(r.body["aud"], API);
    assert_eq!(r.body["client_id"], id.as_str());

    // Token exchange: the JWE is refused with a pointer to the inner token; the inner token
    // is exchanged.
    let exchange = |subject: String| {
        let server = &server;
        async move {
            post(
                server,
                "/token",
                &[
                    ("grant_type", TOKEN_EXCHANGE),
                    ("subject_token", &subject),
                    ("subject_token_type", ACCESS_TOKEN_TYPE),
                    ("resource", API2),
                ],
                Some(service),
            )
            .await
        }
    };
    let r = exchange(jwe.clone()).await;
    r.assert_error(400, "invalid_request").assert_description(
        "subject_token is an encrypted access token (JWE), which only its API can read: \
         present the decrypted inner token (the signed JWT) instead",
    );
    let r = exchange(inner.clone()).await;
    r.ok();
    let downstream = r.body["access_token"].as_str().unwrap();
    let (_, claims) = verify_jwt(&server, downstream, API2).await;
    assert_eq!(claims["sub"], id.as_str());
    assert_eq!(claims["act"]["sub"], service.0);

    // Revocation: the JWE is an unknown token (RFC 7009 §2.2: 200); revoking the inner JWS
    // works and shows at introspection.
    let r = revoke(&server, (&id, &secret), &jwe).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        is_active(&server, service, &inner).await,
        "the JWE revoked nothing"
    );
    let r = revoke(&server, (&id, &secret), &inner).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(!is_active(&server, service, &inner).await);
}

async fn encryption_can_be_changed_and_removed(backend: Backend) {
    let server = TestServer::start(backend).await;
    let first = key_pair(JweAlgorithm::RsaOaep256, "first");
    encrypted_api(
        &server,
        API,
        SigningAlg::ES256,
        public_jwk(&first),
        None,
        None,
    )
    .await;
    let (id, secret) = basic_client(&server, &[API], None).await;
    let jwe = access_token(&server, &id, &secret, &[]).await;
    open_access_token(
        &server,
        &jwe,
        &first,
        JweAlgorithm::RsaOaep256,
        JweEncryption::A256GCM,
    )
    .await;

    // A new key: the next token is for it (the cached encrypter is not reused).
    let second = key_pair(JweAlgorithm::EcdhEs, "second");
    server.clock.advance(1);
    let api = server
        .engine
        .update_api_encryption(
            API,
            Some(ApiEncryptionRequest {
                key: json!({"keys": [public_jwk(&second)]}),
                alg: None,
                enc: None,
            }),
            server.clock.now(),
        )
        .await
        .unwrap();
    assert_eq!(api.encryption.as_ref().unwrap().alg, "ECDH-ES");
    server.engine.reload().await.unwrap();
    let jwe = access_token(&server, &id, &secret, &[]).await;
    assert!(first.decrypt(&jwe).is_err(), "not for the old key");
    open_access_token(
        &server,
        &jwe,
        &second,
        JweAlgorithm::EcdhEs,
        JweEncryption::A256GCM,
    )
    .await;

    // Removed: plain signed tokens again.
    server.clock.advance(1);
    let api = server
        .engine
        .update_api_encryption(API, None, server.clock.now())
        .await
        .unwrap();
    assert!(api.encryption.is_none());
    server.engine.reload().await.unwrap();
    let jws = access_token(&server, &id, &secret, &[]).await;
    assert_eq!(jws.split('.').count(), 3);
    verify_jwt(&server, &jws, API).await;

    // Unknown API.
    let e = server
        .engine
        .update_api_encryption("https://nowhere.example.com", None, server.clock.now())
        .await
        .unwrap_err();
    assert_eq!(e.to_string(), "API https://nowhere.example.com not found");
}

/// The engine's checks behind `warden api create/update` (the CLI test below runs the binary).
async fn api_encryption_refusals(backend: Backend) {
    let server = TestServer::start(backend).await;
    let rsa = key_pair(JweAlgorithm::RsaOaep256, "rsa");
    let create = |format: TokenFormat, key: Value, alg: Option<&str>| {
        let server = &server;
        let alg = alg.map(str::to_owned);
        async move {
            server
                .engine
                .create_api_with_encryption(
                    new_api(API, format, SigningAlg::ES256),
                    Some(ApiEncryptionRequest {
                        key,
                        alg,
                        enc: None,
                    }),
                    server.clock.now(),
                )
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
    };
    let err = create(TokenFormat::Opaque, public_jwk(&rsa), None)
        .await
        .unwrap_err();
    assert!(
        err.contains("only for APIs with JWT access tokens"),
        "{err}"
    );
    let mut private = public_jwk(&rsa);
    private["d"] = json!("AAAA");
    let err = create(TokenFormat::Jwt, private, None).await.unwrap_err();
    assert!(err.contains("private key material (d)"), "{err}");
    let err = create(
        TokenFormat::Jwt,
        json!({"kty": "oct", "k": "c2VjcmV0c2VjcmV0"}),
        None,
    )
    .await
    .unwrap_err();
    assert!(err.contains("symmetric"), "{err}");
    let err = create(TokenFormat::Jwt, public_jwk(&rsa), Some("RSA1_5"))
        .await
        .unwrap_err();
    assert!(err.contains("'RSA1_5' is not supported"), "{err}");
    // Nothing was created by the failures.
    assert!(server.engine.store().api(API).await.unwrap().is_none());

    // Updating an opaque API is refused the same way.
    server
        .engine
        .create_api(
            new_api(API, TokenFormat::Opaque, SigningAlg::ES256),
            server.clock.now(),
        )
        .await
        .unwrap();
    let err = server
        .engine
        .update_api_encryption(
            API,
            Some(ApiEncryptionRequest {
                key: public_jwk(&rsa),
                alg: None,
                enc: None,
            }),
            server.clock.now(),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("only for APIs with JWT access tokens"),
        "{err}"
    );
}

// ---- the CLI ---------------------------------------------------------------------------------

/// `warden api create/update/show` with encryption options, and every refusal with its
/// message on stderr.
#[test]
fn cli_api_encryption() {
    let db = CliDb::new();
    let run = |args: &[&str]| -> CliOutput { db.run(args) };
    let write = |name: &str, value: &Value| -> String { db.file(name, &value.to_string()) };
    let failed = |out: &CliOutput, needle: &str| {
        assert!(!out.success, "expected failure: {out:?}");
        assert!(out.stdout.is_empty(), "{out:?}");
        assert!(
            out.stderr.contains(needle),
            "stderr should mention {needle:?}: {out:?}"
        );
    };

    let rsa = key_pair(JweAlgorithm::RsaOaep256, "api-rsa");
    let ec = key_pair(JweAlgorithm::EcdhEs, "api-ec");
    let rsa_file = write("rsa.json", &public_jwk(&rsa));
    let ec_set_file = write("ec.json", &json!({"keys": [public_jwk(&ec)]}));

    let api = run(&[
        "api",
        "create",
        "https://enc.example.com",
        "--scopes",
        "read",
        "--encryption-key-file",
        &rsa_file,
    ])
    .json();
    assert_eq!(api["encryption"]["alg"], "RSA-OAEP-256");
    assert_eq!(api["encryption"]["enc"], "A256GCM");
    assert_eq!(api["encryption"]["jwk"]["kid"], "api-rsa");
    assert_eq!(api["encryption"]["jwk"]["n"], public_jwk(&rsa)["n"]);
    assert!(api["encryption"]["jwk"].get("d").is_none());
    let shown = run(&["api", "show", "https://enc.example.com"]).json();
    assert_eq!(shown["encryption"], api["encryption"]);
    let list = run(&["api", "list"]).json();
    assert_eq!(list[0]["encryption"]["alg"], "RSA-OAEP-256");

    // An EC key from a JWK Set, with A128GCM.
    let api = run(&[
        "api",
        "create",
        "https://ec.example.com",
        "--encryption-key-file",
        &ec_set_file,
        "--encryption-enc",
        "A128GCM",
    ])
    .json();
    assert_eq!(api["encryption"]["alg"], "ECDH-ES");
    assert_eq!(api["encryption"]["enc"], "A128GCM");
    assert_eq!(api["encryption"]["jwk"]["crv"], "P-256");

    // A plain API shows no encryption; update adds it, --no-encryption removes it.
    let api = run(&["api", "create", "https://plain.example.com"]).json();
    assert!(api["encryption"].is_null());
    let api = run(&[
        "api",
        "update",
        "https://plain.example.com",
        "--encryption-key-file",
        &ec_set_file,
    ])
    .json();
    assert_eq!(api["encryption"]["alg"], "ECDH-ES");
    let api = run(&[
        "api",
        "update",
        "https://plain.example.com",
        "--no-encryption",
    ])
    .json();
    assert!(api["encryption"].is_null());
    failed(
        &run(&["api", "update", "https://plain.example.com"]),
        "nothing to change",
    );
    failed(
        &run(&[
            "api",
            "update",
            "https://plain.example.com",
            "--no-encryption",
            "--encryption-key-file",
            &rsa_file,
        ]),
        "cannot be used with",
    );
    failed(
        &run(&[
            "api",
            "update",
            "https://nowhere.example.com",
            "--no-encryption",
        ]),
        "not found",
    );

    // Refusals.
    let mut private = public_jwk(&rsa);
    private["d"] = json!("AAAA");
    private["p"] = json!("AAAA");
    let private_file = write("private.json", &private);
    let hs_file = write(
        "hs.json",
        &json!({"kty": "oct", "k": "c2VjcmV0c2VjcmV0c2VjcmV0"}),
    );
    let create = |id: &str, extra: &[&str]| {
        let mut args = vec!["api", "create", id];
        args.extend_from_slice(extra);
        run(&args)
    };
    failed(
        &create(
            "https://x1.example.com",
            &["--encryption-key-file", &private_file],
        ),
        "private key material",
    );
    failed(
        &create(
            "https://x2.example.com",
            &["--encryption-key-file", &hs_file],
        ),
        "symmetric (kty oct) keys cannot encrypt access tokens",
    );
    failed(
        &create(
            "https://x3.example.com",
            &[
                "--token-format",
                "opaque",
                "--encryption-key-file",
                &rsa_file,
            ],
        ),
        "encryption is only for APIs with JWT access tokens",
    );
    failed(
        &create(
            "https://x4.example.com",
            &[
                "--encryption-key-file",
                &rsa_file,
                "--encryption-alg",
                "RSA1_5",
            ],
        ),
        "encryption alg 'RSA1_5' is not supported (RSA-OAEP-256, ECDH-ES)",
    );
    failed(
        &create(
            "https://x5.example.com",
            &[
                "--encryption-key-file",
                &rsa_file,
                "--encryption-alg",
                "ECDH-ES",
            ],
        ),
        "ECDH-ES needs an EC key",
    );
    failed(
        &create(
            "https://x6.example.com",
            &[
                "--encryption-key-file",
                &rsa_file,
                "--encryption-enc",
                "A128CBC-HS256",
            ],
        ),
        "encryption enc 'A128CBC-HS256' is not supported",
    );
    failed(
        &create(
            "https://x7.example.com",
            &["--encryption-alg", "RSA-OAEP-256"],
        ),
        "--encryption-key-file",
    );
    let missing = db.dir.path().join("missing.json").display().to_string();
    failed(
        &create(
            "https://x8.example.com",
            &["--encryption-key-file", &missing],
        ),
        "--encryption-key-file",
    );
    let not_json = db.dir.path().join("bad.json");
    std::fs::write(&not_json, "not json").unwrap();
    failed(
        &create(
            "https://x9.example.com",
            &["--encryption-key-file", &not_json.display().to_string()],
        ),
        "not JSON",
    );
    // None of the refused APIs exists.
    let list = run(&["api", "list"]).json();
    assert_eq!(list.as_array().unwrap().len(), 3, "{list}");
}

// ---- userinfo --------------------------------------------------------------------------------

/// Registers a browser-flow client through `/register` with extra metadata.
async fn register_app(server: &TestServer, extra: Value) -> App {
    let mut body = json!({
        "client_name": "userinfo app",
        "redirect_uris": [CALLBACK],
        "grant_types": ["authorization_code"],
        "token_endpoint_auth_method": "client_secret_basic",
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let r = register(server, &body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    App {
        id: r.body["client_id"].as_str().unwrap().to_owned(),
        secret: r.body["client_secret"].as_str().map(str::to_owned),
    }
}

async fn register(server: &TestServer, body: &Value) -> Reply {
    let iat = server
        .engine
        .create_initial_access_token(3600, false, None, server.clock.now())
        .await
        .unwrap();
    reply(
        server
            .http
            .post(server.url("/register"))
            .header("content-type", "application/json")
            .bearer_auth(iat)
            .body(body.to_string())
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// Alice's userinfo token for `app` (scope `openid profile email`).
async fn userinfo_token(server: &TestServer, app: &App) -> String {
    let (tokens, _) = tokens_for(server, app, &Authz::new(&app.id)).await;
    tokens.access
}

/// Asserts an `application/jwt` userinfo response that must not be cached.
#[track_caller]
fn assert_jwt_reply(r: &Reply) -> &str {
    r.ok();
    assert_eq!(r.header("content-type"), Some("application/jwt"));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    r.text.as_str()
}

/// Verifies a signed userinfo response against `/jwks` (it carries no `exp`).
async fn verify_userinfo_jwt(server: &TestServer, jwt: &str, client_id: &str) -> Value {
    let header = jsonwebtoken::decode_header(jwt).unwrap();
    let set: jsonwebtoken::jwk::JwkSet =
        serde_json::from_value(published_jwks(server).await).unwrap();
    let jwk = set
        .find(header.kid.as_deref().unwrap())
        .expect("published kid");
    let mut validation = Validation::new(header.alg);
    validation.validate_exp = false;
    validation.set_required_spec_claims(&["iss", "aud", "sub"]);
    validation.set_issuer(&[&server.issuer]);
    validation.set_audience(&[client_id]);
    jsonwebtoken::decode::<Value>(jwt, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
        .unwrap_or_else(|e| panic!("jsonwebtoken rejects the userinfo JWT: {e}"))
        .claims
}

fn assert_alice(claims: &Value, sub: &str) {
    assert_eq!(claims["sub"], sub);
    assert_eq!(claims["email"], EMAIL);
    assert_eq!(claims["name"], FULL_NAME);
}

async fn userinfo_is_plain_json_by_default(backend: Backend) {
    let server = TestServer::start(backend).await;
    let sub = create_alice(&server).await;
    let app = confidential(&server, &[]).await;
    let r = userinfo(&server, &userinfo_token(&server, &app).await).await;
    r.ok();
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("application/json"))
    );
    assert_alice(&r.body, &sub);
    assert!(r.body.get("iss").is_none() && r.body.get("aud").is_none());
}

async fn userinfo_signed(backend: Backend) {
    let server = TestServer::start(backend).await;
    let sub = create_alice(&server).await;
    let app = register_app(&server, json!({"userinfo_signed_response_alg": "ES256"})).await;
    let stored = server
        .engine
        .store()
        .client(&app.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.oidc.userinfo_signed_response_alg,
        Some(SigningAlg::ES256)
    );
    assert_eq!(stored.oidc.userinfo_encrypted_response_alg, None);
    let r = userinfo(&server, &userinfo_token(&server, &app).await).await;
    let jwt = assert_jwt_reply(&r);
    assert_eq!(jwt.split('.').count(), 3);
    let claims = verify_userinfo_jwt(&server, jwt, &app.id).await;
    assert_eq!(
        jsonwebtoken::decode_header(jwt).unwrap().alg,
        jsonwebtoken::Algorithm::ES256
    );
    assert_alice(&claims, &sub);
    assert_eq!(claims["iss"], server.issuer.as_str());
    assert_eq!(claims["aud"], app.id.as_str());

    // The same with the CLI's option (NewClient) and another algorithm.
    let mut new = NewClient {
        name: String::from("cli app"),
        auth_method: TokenEndpointAuthMethod::ClientSecretBasic,
        grant_types: vec![String::from("authorization_code")],
        redirect_uris: vec![CALLBACK.to_owned()],
        userinfo_signed_response_alg: Some(SigningAlg::RS256),
        ..NewClient::default()
    };
    new.first_party = true;
    let info = server.client(new).await;
    let app = App {
        id: info.client_id,
        secret: info.client_secret,
    };
    let r = userinfo(&server, &userinfo_token(&server, &app).await).await;
    let jwt = assert_jwt_reply(&r);
    assert_eq!(
        jsonwebtoken::decode_header(jwt).unwrap().alg,
        jsonwebtoken::Algorithm::RS256
    );
    verify_userinfo_jwt(&server, jwt, &app.id).await;
}

async fn userinfo_encrypted_without_signature(backend: Backend) {
    let server = TestServer::start(backend).await;
    let sub = create_alice(&server).await;
    let client_key = key_pair(JweAlgorithm::EcdhEs, "client-enc");
    let app = register_app(
        &server,
        json!({
            "userinfo_encrypted_response_alg": "ECDH-ES",
            "userinfo_encrypted_response_enc": "A128GCM",
            "jwks": {"keys": [client_key.public_jwk()]},
        }),
    )
    .await;
    let r = userinfo(&server, &userinfo_token(&server, &app).await).await;
    let jwe = assert_jwt_reply(&r);
    assert_eq!(jwe.split('.').count(), 5);
    let (header, plaintext) = client_key.decrypt(jwe).unwrap();
    assert_eq!(header.alg(), JweAlgorithm::EcdhEs);
    assert_eq!(header.enc(), JweEncryption::A128GCM);
    assert_eq!(header.cty(), None, "the plaintext is JSON, not a JWT");
    assert_eq!(header.kid(), Some("client-enc"));
    let claims: Value = serde_json::from_slice(&plaintext).unwrap();
    assert_alice(&claims, &sub);
    assert!(!jwe.contains(&crate::support::b64(EMAIL.as_bytes())));
}

async fn userinfo_signed_then_encrypted(backend: Backend) {
    let server = TestServer::start(backend).await;
    let sub = create_alice(&server).await;
    let client_key = key_pair(JweAlgorithm::RsaOaep256, "client-enc");
    let app = register_app(
        &server,
        json!({
            "userinfo_signed_response_alg": "RS256",
            "userinfo_encrypted_response_alg": "RSA-OAEP-256",
            "jwks": {"keys": [client_key.public_jwk()]},
        }),
    )
    .await;
    let stored = server
        .engine
        .store()
        .client(&app.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.oidc.userinfo_encrypted_response_enc.as_deref(),
        Some("A256GCM"),
        "enc defaults to A256GCM"
    );
    let r = userinfo(&server, &userinfo_token(&server, &app).await).await;
    let jwe = assert_jwt_reply(&r);
    let (header, plaintext) = client_key.decrypt(jwe).unwrap();
    assert_eq!(header.alg(), JweAlgorithm::RsaOaep256);
    assert_eq!(header.enc(), JweEncryption::A256GCM);
    assert_eq!(header.cty(), Some("JWT"), "a nested JWT");
    let inner = String::from_utf8(plaintext).unwrap();
    let claims = verify_userinfo_jwt(&server, &inner, &app.id).await;
    assert_alice(&claims, &sub);

    // POST /userinfo answers the same way.
    let token = userinfo_token(&server, &app).await;
    let r = post(&server, "/userinfo", &[("access_token", &token)], None).await;
    let jwe = assert_jwt_reply(&r);
    assert!(client_key.decrypt(jwe).is_ok());
}

async fn registration_checks_userinfo_metadata(backend: Backend) {
    let server = TestServer::start(backend).await;
    let enc_key = key_pair(JweAlgorithm::RsaOaep256, "enc");
    let mut sig_key = public_jwk(&key_pair(JweAlgorithm::RsaOaep256, "sig"));
    sig_key["use"] = json!("sig");
    let base = json!({
        "redirect_uris": [CALLBACK],
        "grant_types": ["authorization_code"],
    });
    let with = |extra: Value| {
        let mut body = base.clone();
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    for (extra, description) in [
        (
            json!({"userinfo_encrypted_response_alg": "RSA-OAEP-256"}),
            "userinfo_encrypted_response_alg requires jwks or jwks_uri with an encryption key",
        ),
        (
            json!({"userinfo_encrypted_response_alg": "RSA-OAEP-256", "jwks": {"keys": [sig_key]}}),
            "userinfo_encrypted_response_alg RSA-OAEP-256 requires an encryption key for it in jwks",
        ),
        (
            json!({"userinfo_encrypted_response_alg": "ECDH-ES", "jwks": {"keys": [enc_key.public_jwk()]}}),
            "userinfo_encrypted_response_alg ECDH-ES requires an encryption key for it in jwks",
        ),
        (
            json!({"userinfo_encrypted_response_alg": "RSA1_5", "jwks": {"keys": [enc_key.public_jwk()]}}),
            "userinfo_encrypted_response_alg 'RSA1_5' is not supported (RSA-OAEP-256, ECDH-ES)",
        ),
        (
            json!({"userinfo_encrypted_response_enc": "A256GCM", "jwks": {"keys": [enc_key.public_jwk()]}}),
            "userinfo_encrypted_response_enc requires userinfo_encrypted_response_alg",
        ),
        (
            json!({"userinfo_encrypted_response_alg": "RSA-OAEP-256", "userinfo_encrypted_response_enc": "A128CBC-HS256", "jwks": {"keys": [enc_key.public_jwk()]}}),
            "userinfo_encrypted_response_enc 'A128CBC-HS256' is not supported (A256GCM, A128GCM)",
        ),
        (
            json!({"userinfo_signed_response_alg": "HS256"}),
            "userinfo_signed_response_alg 'HS256' is not supported (RS256, PS256, ES256, EdDSA)",
        ),
        (
            json!({"userinfo_signed_response_alg": "none"}),
            "userinfo_signed_response_alg 'none' is not supported (RS256, PS256, ES256, EdDSA)",
        ),
    ] {
        let r = register(&server, &with(extra)).await;
        r.assert_error(400, "invalid_client_metadata")
            .assert_description(description);
    }

    // Accepted: the response echoes the normalised metadata.
    let r = register(
        &server,
        &with(json!({
            "userinfo_signed_response_alg": "EdDSA",
            "userinfo_encrypted_response_alg": "RSA-OAEP-256",
            "jwks": {"keys": [enc_key.public_jwk()]},
        })),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["userinfo_signed_response_alg"], "EdDSA");
    assert_eq!(r.body["userinfo_encrypted_response_alg"], "RSA-OAEP-256");
    assert_eq!(r.body["userinfo_encrypted_response_enc"], "A256GCM");
}

async fn discovery_advertises_userinfo_algorithms(backend: Backend) {
    let server = TestServer::start(backend).await;
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    ] {
        let r = get(&server, path).await;
        r.ok();
        let doc = &r.body;
        assert_eq!(
            doc["userinfo_signing_alg_values_supported"],
            doc["id_token_signing_alg_values_supported"],
            "{path}"
        );
        assert_eq!(
            doc["userinfo_encryption_alg_values_supported"],
            json!(["RSA-OAEP-256", "ECDH-ES"])
        );
        assert_eq!(
            doc["userinfo_encryption_enc_values_supported"],
            json!(["A256GCM", "A128GCM"])
        );
    }
}
