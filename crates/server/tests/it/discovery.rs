//! Authorization server metadata (RFC 8414) and OpenID Provider metadata: the issuer exactly as
//! configured, the endpoints, and only what is implemented.

use serde_json::{Value, json};
use warden_core::clock::Clock;
use warden_testkit::{Backend, Options, TestServer};
use warden_types::SigningAlg;

use crate::support::{
    API, API2, ClientKey, access_token, api_and_client, assertion_claims, assertion_token, get,
    jwt_api, jwt_part, private_key_client,
};

both!(
    oauth_authorization_server_document,
    openid_configuration_document,
    advertised_endpoints_work,
    scopes_supported_lists_api_scopes,
    issuer_with_a_path_is_kept_exactly,
    issuer_with_a_trailing_slash_is_kept_exactly,
);
both!(issuer_with_a_path_has_rfc8414_well_known_url);

const METHODS: [&str; 6] = [
    "client_secret_basic",
    "client_secret_post",
    "client_secret_jwt",
    "private_key_jwt",
    "tls_client_auth",
    "self_signed_tls_client_auth",
];

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("array expected: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

/// The members both documents share.
fn check_common(server: &TestServer, doc: &Value) {
    let issuer = server.issuer.as_str();
    assert_eq!(doc["issuer"], issuer);
    assert_eq!(doc["token_endpoint"], format!("{issuer}/token"));
    assert_eq!(doc["jwks_uri"], format!("{issuer}/jwks"));
    assert_eq!(
        doc["introspection_endpoint"],
        format!("{issuer}/introspect")
    );
    assert_eq!(doc["revocation_endpoint"], format!("{issuer}/revoke"));
    assert_eq!(doc["registration_endpoint"], format!("{issuer}/register"));
    assert_eq!(doc["authorization_endpoint"], format!("{issuer}/authorize"));
    assert_eq!(
        doc["pushed_authorization_request_endpoint"],
        format!("{issuer}/par")
    );
    assert_eq!(doc["require_pushed_authorization_requests"], false);
    assert_eq!(doc["userinfo_endpoint"], format!("{issuer}/userinfo"));
    assert_eq!(doc["end_session_endpoint"], format!("{issuer}/logout"));
    let grants: Vec<String> = warden_core::grants::SUPPORTED_GRANTS
        .iter()
        .map(|g| g.as_str().to_owned())
        .collect();
    assert_eq!(strings(&doc["grant_types_supported"]), grants);
    for grant in ["client_credentials", "authorization_code", "refresh_token"] {
        assert!(grants.iter().any(|g| g == grant), "{grant}");
    }
    // Public clients (`none`): token endpoint, and their own tokens at revocation and
    // introspection.
    let mut token_methods = METHODS.to_vec();
    token_methods.push("none");
    for member in [
        "token_endpoint_auth_methods_supported",
        "introspection_endpoint_auth_methods_supported",
        "revocation_endpoint_auth_methods_supported",
    ] {
        assert_eq!(strings(&doc[member]), token_methods, "{member}");
    }
    for member in [
        "token_endpoint_auth_signing_alg_values_supported",
        "introspection_endpoint_auth_signing_alg_values_supported",
        "revocation_endpoint_auth_signing_alg_values_supported",
    ] {
        let algs = strings(&doc[member]);
        for alg in [
            "RS256", "PS256", "ES256", "EdDSA", "HS256", "HS384", "HS512",
        ] {
            assert!(algs.iter().any(|a| a == alg), "{member} lacks {alg}");
        }
        // RFC 8414 §2: "The value "none" MUST NOT be used."
        assert!(!algs.iter().any(|a| a.eq_ignore_ascii_case("none")));
    }
    let mut signing = strings(&doc["access_token_signing_alg_values_supported"]);
    signing.sort();
    assert_eq!(signing, ["ES256", "EdDSA", "PS256", "RS256"]);
    assert_eq!(
        doc["response_types_supported"],
        json!(["code", "code id_token"])
    );
    assert_eq!(
        doc["response_modes_supported"],
        json!(["query", "fragment", "form_post"])
    );
    // RFC 7636 / OAuth 2.1: S256 only, never plain.
    assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
    let id_token_algs = strings(&doc["id_token_signing_alg_values_supported"]);
    assert_eq!(id_token_algs[0], "RS256", "OIDC Discovery §3: RS256 first");
    let mut sorted = id_token_algs.clone();
    sorted.sort();
    assert_eq!(sorted, ["ES256", "EdDSA", "PS256", "RS256"]);
    assert!(
        !id_token_algs
            .iter()
            .any(|a| a == "none" || a.starts_with("HS"))
    );
    assert_eq!(
        doc["id_token_encryption_alg_values_supported"],
        json!(["RSA-OAEP-256", "ECDH-ES"])
    );
    assert_eq!(
        doc["id_token_encryption_enc_values_supported"],
        json!(["A256GCM", "A128GCM"])
    );
    let claims = strings(&doc["claims_supported"]);
    for claim in [
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
    ] {
        assert!(
            claims.iter().any(|c| c == claim),
            "claims_supported lacks {claim}"
        );
    }
    let scopes = strings(&doc["scopes_supported"]);
    assert_eq!(
        scopes[..4],
        ["openid", "profile", "email", "offline_access"]
    );
    assert_eq!(
        doc["prompt_values_supported"],
        json!(["none", "login", "consent"])
    );
    for (member, value) in [
        ("authorization_response_iss_parameter_supported", true),
        ("backchannel_logout_supported", true),
        ("backchannel_logout_session_supported", true),
        ("frontchannel_logout_supported", false),
        ("claims_parameter_supported", false),
        ("request_parameter_supported", false),
        // Only PAR request URIs are taken (OIDC Discovery defaults this to true).
        ("request_uri_parameter_supported", false),
    ] {
        assert_eq!(doc[member], value, "{member}");
    }
}

async fn oauth_authorization_server_document(backend: Backend) {
    let server = TestServer::start(backend).await;
    let r = get(&server, "/.well-known/oauth-authorization-server").await;
    r.ok();
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("application/json"))
    );
    assert!(
        r.header("cache-control")
            .is_some_and(|c| c.contains("max-age="))
    );
    check_common(&server, &r.body);
}

async fn openid_configuration_document(backend: Backend) {
    let server = TestServer::start(backend).await;
    let r = get(&server, "/.well-known/openid-configuration").await;
    r.ok();
    check_common(&server, &r.body);
    assert_eq!(r.body["subject_types_supported"], json!(["public"]));
}

/// Every advertised URL is served (by a GET or POST, as appropriate).
async fn advertised_endpoints_work(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (id, secret) = api_and_client(&server).await;
    let doc = get(&server, "/.well-known/oauth-authorization-server")
        .await
        .body;
    let jwks = server
        .http
        .get(doc["jwks_uri"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(jwks.status(), 200);
    let t = crate::support::reply(
        server
            .http
            .post(doc["token_endpoint"].as_str().unwrap())
            .header("authorization", warden_testkit::basic_header(&id, &secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap(),
    )
    .await;
    let token = t.ok().body["access_token"].as_str().unwrap().to_owned();
    for member in ["introspection_endpoint", "revocation_endpoint"] {
        let resp = server
            .http
            .post(doc[member].as_str().unwrap())
            .header("authorization", warden_testkit::basic_header(&id, &secret))
            .form(&[("token", token.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{member}");
    }
    let resp = server
        .http
        .post(doc["registration_endpoint"].as_str().unwrap())
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401, "registration needs a token, but exists");
}

async fn scopes_supported_lists_api_scopes(backend: Backend) {
    let server = TestServer::start(backend).await;
    jwt_api(&server, API, "read write", SigningAlg::ES256).await;
    jwt_api(&server, API2, "read admin", SigningAlg::ES256).await;
    let doc = get(&server, "/.well-known/oauth-authorization-server")
        .await
        .body;
    assert_eq!(
        strings(&doc["scopes_supported"]),
        [
            "openid",
            "profile",
            "email",
            "offline_access",
            "admin",
            "read",
            "write"
        ]
    );
}

/// DESIGN.md: "--issuer is used exactly as given"; RFC 8414 §2 allows a path component.
async fn issuer_with_a_path_is_kept_exactly(backend: Backend) {
    let server = TestServer::start_with(
        backend,
        Options {
            issuer: Some(String::from("{base}/tenant")),
            ..Options::default()
        },
    )
    .await;
    let expected = format!("{}/tenant", server.base_url);
    assert_eq!(server.issuer, expected);
    for path in [
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
    ] {
        let doc = get(&server, path).await.body;
        assert_eq!(doc["issuer"], expected.as_str());
        assert_eq!(doc["token_endpoint"], format!("{expected}/token"));
        assert_eq!(doc["jwks_uri"], format!("{expected}/jwks"));
    }
    // Tokens carry it as iss; assertions may name it (or the token endpoint under it) as aud.
    let (id, secret) = api_and_client(&server).await;
    let t = access_token(&server, &id, &secret, &[]).await;
    assert_eq!(jwt_part(&t, 1)["iss"], expected.as_str());
    let key = ClientKey::generate(SigningAlg::ES256, "k");
    let cid = private_key_client(&server, &key, &[API]).await;
    for aud in [expected.clone(), format!("{expected}/token")] {
        let claims = assertion_claims(&cid, &aud, server.clock.now());
        assertion_token(&server, &key.sign(&claims), &[]).await.ok();
    }
    // The issuer without its path is another issuer.
    let claims = assertion_claims(&cid, &server.base_url, server.clock.now());
    assertion_token(&server, &key.sign(&claims), &[])
        .await
        .assert_error(401, "invalid_client");
}

/// A trailing slash is neither added nor removed, and endpoints do not get a double slash.
async fn issuer_with_a_trailing_slash_is_kept_exactly(backend: Backend) {
    let server = TestServer::start_with(
        backend,
        Options {
            issuer: Some(String::from("{base}/")),
            ..Options::default()
        },
    )
    .await;
    let expected = format!("{}/", server.base_url);
    let doc = get(&server, "/.well-known/oauth-authorization-server")
        .await
        .body;
    assert_eq!(doc["issuer"], expected.as_str());
    assert_eq!(doc["token_endpoint"], format!("{}/token", server.base_url));
    let (id, secret) = api_and_client(&server).await;
    let t = access_token(&server, &id, &secret, &[]).await;
    assert_eq!(jwt_part(&t, 1)["iss"], expected.as_str());
}

/// RFC 8414 §3.1: for an issuer with a path, the metadata URL inserts the well-known suffix
/// between host and path: `https://host/.well-known/oauth-authorization-server/tenant`.
async fn issuer_with_a_path_has_rfc8414_well_known_url(backend: Backend) {
    let server = TestServer::start_with(
        backend,
        Options {
            issuer: Some(String::from("{base}/tenant")),
            ..Options::default()
        },
    )
    .await;
    let r = get(&server, "/.well-known/oauth-authorization-server/tenant").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["issuer"], server.issuer.as_str());
}
