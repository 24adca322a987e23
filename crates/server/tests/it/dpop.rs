//! DPoP (RFC 9449): proofs at the token endpoint, server nonces (also across instances),
//! DPoP-bound access tokens (`cnf.jkt`, `token_type: DPoP`), refresh tokens bound to a public
//! client's key, `dpop_bound_access_tokens` clients, DPoP at `/userinfo`, and authorization
//! codes bound to a key (§10: `dpop_jkt`, or a proof at `/par`).
//!
//! Proofs are built here by hand: a JSON header with the public JWK, signed with
//! `jsonwebtoken` from a key `warden_jose` generated, so the server's verifier is checked
//! against another implementation.

use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};
use warden_core::clock::Clock;
use warden_core::config::DpopConfig;
use warden_jose::SigningKey;
use warden_testkit::{Backend, Options, TestServer};
use warden_types::{Kid, SigningAlg, TokenEndpointAuthMethod};

use crate::oidc_support::{
    App, Authz, Tokens, create_alice, login_and_consent, oidc_client, redeem,
};
use crate::oidc_support::{Browser, confidential};
use crate::support::{
    API, Reply, b64, basic_client, get, introspect, jwt_api, random_id, reply, run_warden,
    verify_jwt,
};

both!(
    nonce_is_required_then_tokens_are_bound,
    replayed_proof_is_refused,
    bad_proofs_are_refused,
    htu_is_compared_after_normalisation,
    htu_may_name_the_mtls_alias,
    nonce_of_another_instance_is_accepted,
    nonces_expire,
    nonce_can_be_optional,
    several_dpop_headers_are_refused,
    dpop_bound_client_needs_a_proof,
    registered_dpop_bound_client_needs_a_proof,
    public_client_refresh_token_is_bound_to_the_key,
    confidential_client_refresh_token_is_not_bound,
    userinfo_accepts_dpop_bound_tokens_with_a_proof,
    discovery_lists_dpop_algorithms,
    dpop_jkt_binds_the_code,
    malformed_dpop_jkt_is_refused,
    dpop_proof_at_par_binds_the_code,
    par_dpop_jkt_must_match_the_proof,
);

// ---- proofs ----------------------------------------------------------------------------------

/// A client's DPoP key pair.
struct DpopKey {
    key: SigningKey,
}

impl DpopKey {
    fn es256() -> Self {
        Self::generate(SigningAlg::ES256)
    }

    fn generate(alg: SigningAlg) -> Self {
        Self {
            key: SigningKey::generate(alg, Kid::new("dpop")).unwrap(),
        }
    }

    /// The public JWK as a proof carries it: the key type's members only.
    fn jwk(&self) -> Value {
        let jwk = serde_json::to_value(self.key.public_jwk()).unwrap();
        let keep: &[&str] = match jwk["kty"].as_str() {
            Some("EC") => &["kty", "crv", "x", "y"],
            Some("OKP") => &["kty", "crv", "x"],
            _ => &["kty", "n", "e"],
        };
        let mut out = serde_json::Map::new();
        for k in keep {
            out.insert((*k).to_owned(), jwk[*k].clone());
        }
        Value::Object(out)
    }

    /// RFC 7638 thumbprint, computed here: SHA-256 of the required members in
    /// lexicographic order without whitespace.
    fn thumbprint(&self) -> String {
        let jwk = self.jwk();
        let canonical = match jwk["kty"].as_str() {
            Some("EC") => format!(
                r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
                jwk["crv"].as_str().unwrap(),
                jwk["x"].as_str().unwrap(),
                jwk["y"].as_str().unwrap()
            ),
            Some("OKP") => format!(
                r#"{{"crv":"{}","kty":"OKP","x":"{}"}}"#,
                jwk["crv"].as_str().unwrap(),
                jwk["x"].as_str().unwrap()
            ),
            other => panic!("no thumbprint for {other:?} in this test"),
        };
        b64(&warden_jose::sha256(canonical.as_bytes()))
    }

    fn algorithm(&self) -> Algorithm {
        match self.key.alg() {
            SigningAlg::ES256 => Algorithm::ES256,
            SigningAlg::EdDSA => Algorithm::EdDSA,
            other => panic!("{other} keys are not used in these tests"),
        }
    }

    fn encoding_key(&self) -> EncodingKey {
        match self.key.alg() {
            SigningAlg::ES256 => EncodingKey::from_ec_der(self.key.pkcs8_der()),
            _ => EncodingKey::from_ed_der(self.key.pkcs8_der()),
        }
    }

    /// The standard header: `typ` dpop+jwt, this key's `alg` and public `jwk`.
    fn header(&self) -> Value {
        json!({ "typ": "dpop+jwt", "alg": self.key.alg().as_str(), "jwk": self.jwk() })
    }

    /// A proof with `claims` and the standard header.
    fn proof(&self, claims: &Value) -> String {
        self.sign(&self.header(), claims)
    }

    /// Signs any header and claims with this key.
    fn sign(&self, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let signature =
            jsonwebtoken::crypto::sign(input.as_bytes(), &self.encoding_key(), self.algorithm())
                .unwrap();
        format!("{input}.{signature}")
    }
}

/// Proof claims for `htm` `htu` at `iat`, with a fresh `jti` and `nonce` when given.
fn claims(htm: &str, htu: &str, iat: i64, nonce: Option<&str>) -> Value {
    let mut c = json!({ "jti": random_id(), "htm": htm, "htu": htu, "iat": iat });
    if let Some(n) = nonce {
        c["nonce"] = json!(n);
    }
    c
}

/// Claims of a token-endpoint proof to `server` made now.
fn token_claims(server: &TestServer, nonce: Option<&str>) -> Value {
    claims("POST", &server.token_endpoint(), server.clock.now(), nonce)
}

/// POSTs `form` to /token with Basic credentials (when given) and these DPoP headers.
async fn token_with(
    server: &TestServer,
    form: &[(&str, &str)],
    basic: Option<(&str, &str)>,
    proofs: &[&str],
) -> Reply {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let mut req = server
        .http
        .post(server.url("/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body);
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    for p in proofs {
        req = req.header("DPoP", *p);
    }
    reply(req.send().await.unwrap()).await
}

/// A client-credentials request with one proof.
async fn cc(server: &TestServer, client: (&str, &str), proof: &str) -> Reply {
    token_with(
        server,
        &[("grant_type", "client_credentials"), ("resource", API)],
        Some(client),
        &[proof],
    )
    .await
}

/// The nonce the server hands out: a proof without one is answered `use_dpop_nonce` with a
/// `DPoP-Nonce` header.
async fn server_nonce(server: &TestServer, client: (&str, &str), key: &DpopKey) -> String {
    let r = cc(server, client, &key.proof(&token_claims(server, None))).await;
    r.assert_error(400, "use_dpop_nonce");
    r.header("dpop-nonce")
        .expect("a DPoP-Nonce header with use_dpop_nonce")
        .to_owned()
}

/// The API and a Basic client granted it.
async fn setup(server: &TestServer) -> (String, String) {
    jwt_api(server, API, "read write", SigningAlg::ES256).await;
    basic_client(server, &[API], None).await
}

// ---- the token endpoint ----------------------------------------------------------------------

/// RFC 9449 §8: the first proof without a nonce gets `use_dpop_nonce` and a nonce; with it the
/// token is DPoP-bound (§5, §6): `token_type: DPoP`, `cnf.jkt` the key's thumbprint, and
/// introspection says so (§6.2).
async fn nonce_is_required_then_tokens_are_bound(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (id, secret) = setup(&server).await;
    let key = DpopKey::es256();

    let nonce = server_nonce(&server, (&id, &secret), &key).await;
    let r = cc(
        &server,
        (&id, &secret),
        &key.proof(&token_claims(&server, Some(&nonce))),
    )
    .await;
    r.ok();
    assert_eq!(r.body["token_type"], "DPoP", "{}", r.text);
    assert!(r.header("dpop-nonce").is_some(), "a fresh nonce");
    let access = r.body["access_token"].as_str().unwrap();
    let (_, at) = verify_jwt(&server, access, API).await;
    assert_eq!(at["cnf"]["jkt"], key.thumbprint().as_str(), "{at}");

    let i = introspect(&server, (&id, &secret), access).await;
    i.ok();
    assert_eq!(i.body["active"], true);
    assert_eq!(i.body["token_type"], "DPoP");
    assert_eq!(i.body["cnf"]["jkt"], key.thumbprint().as_str());

    // Without a proof nothing changes: a bearer token, no cnf, no nonce.
    let r = token_with(
        &server,
        &[("grant_type", "client_credentials"), ("resource", API)],
        Some((&id, &secret)),
        &[],
    )
    .await;
    r.ok();
    assert_eq!(r.body["token_type"], "Bearer");
    assert_eq!(r.header("dpop-nonce"), None);
    let (_, at) = verify_jwt(&server, r.body["access_token"].as_str().unwrap(), API).await;
    assert!(at.get("cnf").is_none(), "{at}");

    // An Ed25519 key works too.
    let ed = DpopKey::generate(SigningAlg::EdDSA);
    let r = cc(
        &server,
        (&id, &secret),
        &ed.proof(&token_claims(&server, Some(&nonce))),
    )
    .await;
    r.ok();
    let (_, at) = verify_jwt(&server, r.body["access_token"].as_str().unwrap(), API).await;
    assert_eq!(at["cnf"]["jkt"], ed.thumbprint().as_str());
}

/// §11.1: a proof is single use (its `jti` is remembered).
async fn replayed_proof_is_refused(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (id, secret) = setup(&server).await;
    let key = DpopKey::es256();
    let nonce = server_nonce(&server, (&id, &secret), &key).await;
    let proof = key.proof(&token_claims(&server, Some(&nonce)));
    cc(&server, (&id, &secret), &proof).await.ok();
    let r = cc(&server, (&id, &secret), &proof).await;
    r.assert_error(400, "invalid_dpop_proof");
    assert!(r.header("dpop-nonce").is_some());
}

/// §4.3: each check refuses its bad proof with `invalid_dpop_proof` (400, with a nonce).
async fn bad_proofs_are_refused(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (id, secret) = setup(&server).await;
    let key = DpopKey::es256();
    let nonce = server_nonce(&server, (&id, &secret), &key).await;
    let now = server.clock.now();
    let endpoint = server.token_endpoint();
    let good = || claims("POST", &endpoint, now, Some(&nonce));
    let other = DpopKey::es256();

    let mut cases: Vec<(&str, String)> = vec![
        // htu: another endpoint, another host.
        (
            "wrong htu",
            key.proof(&claims("POST", &server.url("/revoke"), now, Some(&nonce))),
        ),
        (
            "htu of another server",
            key.proof(&claims(
                "POST",
                "https://other.example.com/token",
                now,
                Some(&nonce),
            )),
        ),
        (
            "wrong htm",
            key.proof(&claims("GET", &endpoint, now, Some(&nonce))),
        ),
        (
            "lower-case htm",
            key.proof(&claims("post", &endpoint, now, Some(&nonce))),
        ),
        // iat: older than proof_max_age (60 s) plus the clock skew (30 s), or in the future.
        (
            "stale iat",
            key.proof(&claims("POST", &endpoint, now - 91, Some(&nonce))),
        ),
        (
            "future iat",
            key.proof(&claims("POST", &endpoint, now + 31, Some(&nonce))),
        ),
    ];
    let mut no_iat = good();
    no_iat.as_object_mut().unwrap().remove("iat");
    cases.push(("no iat", key.proof(&no_iat)));
    let mut no_jti = good();
    no_jti.as_object_mut().unwrap().remove("jti");
    cases.push(("no jti", key.proof(&no_jti)));
    let mut long_jti = good();
    long_jti["jti"] = json!("j".repeat(257));
    cases.push(("jti too long", key.proof(&long_jti)));
    let mut no_htu = good();
    no_htu.as_object_mut().unwrap().remove("htu");
    cases.push(("no htu", key.proof(&no_htu)));
    // Header: typ, alg, jwk.
    let mut h = key.header();
    h["typ"] = json!("JWT");
    cases.push(("typ JWT", key.sign(&h, &good())));
    let mut h = key.header();
    h.as_object_mut().unwrap().remove("typ");
    cases.push(("no typ", key.sign(&h, &good())));
    let mut h = key.header();
    h.as_object_mut().unwrap().remove("jwk");
    cases.push(("no jwk", key.sign(&h, &good())));
    let mut h = key.header();
    h["jwk"]["d"] = json!(b64(&[7u8; 32]));
    cases.push(("private jwk", key.sign(&h, &good())));
    let mut h = key.header();
    h["jwk"] = other.jwk();
    cases.push(("jwk of another key", key.sign(&h, &good())));
    cases.push(("signed by another key", other.sign(&key.header(), &good())));
    let none = format!(
        "{}.{}.",
        b64(json!({"typ": "dpop+jwt", "alg": "none", "jwk": key.jwk()})
            .to_string()
            .as_bytes()),
        b64(good().to_string().as_bytes())
    );
    cases.push(("alg none", none));
    let hs_header = json!({"typ": "dpop+jwt", "alg": "HS256", "jwk": key.jwk()});
    let hs_input = format!(
        "{}.{}",
        b64(hs_header.to_string().as_bytes()),
        b64(good().to_string().as_bytes())
    );
    let hs_sig = jsonwebtoken::crypto::sign(
        hs_input.as_bytes(),
        &EncodingKey::from_secret(&[1u8; 32]),
        Algorithm::HS256,
    )
    .unwrap();
    cases.push(("alg HS256", format!("{hs_input}.{hs_sig}")));
    cases.push(("not a JWS", String::from("not-a-jws")));
    cases.push(("too long", "a".repeat(9000)));

    for (name, proof) in cases {
        let r = cc(&server, (&id, &secret), &proof).await;
        assert_eq!(
            (r.status, r.error()),
            (400, "invalid_dpop_proof"),
            "{name}: {}",
            r.text
        );
        r.assert_error(400, "invalid_dpop_proof");
        assert!(r.header("dpop-nonce").is_some(), "{name}: a nonce");
    }

    // A nonce that is not ours: try again with ours.
    let r = cc(
        &server,
        (&id, &secret),
        &key.proof(&claims("POST", &endpoint, now, Some("123.forged"))),
    )
    .await;
    r.assert_error(400, "use_dpop_nonce");

    // After all that, a good proof still works.
    cc(&server, (&id, &secret), &key.proof(&good())).await.ok();
}

/// §4.3 check 9 with RFC 3986 normalisation: scheme and host case do not matter, and the
/// query and fragment are ignored; the path must match exactly.
async fn htu_is_compared_after_normalisation(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (id, secret) = setup(&server).await;
    let key = DpopKey::es256();
    let nonce = server_nonce(&server, (&id, &secret), &key).await;
    let now = server.clock.now();
    let endpoint = server.token_endpoint();
    let upper = endpoint.replacen("http://", "HTTP://", 1);
    for htu in [upper, format!("{endpoint}?x=1"), format!("{endpoint}#f")] {
        let r = cc(
            &server,
            (&id, &secret),
            &key.proof(&claims("POST", &htu, now, Some(&nonce))),
        )
        .await;
        r.ok();
    }
    let r = cc(
        &server,
        (&id, &secret),
        &key.proof(&claims("POST", &format!("{endpoint}/"), now, Some(&nonce))),
    )
    .await;
    r.assert_error(400, "invalid_dpop_proof");
}

/// With RFC 8705 `mtls_endpoint_aliases`, a proof made for the alias of the token endpoint
/// (the same path on the mutual-TLS host) is a proof for this endpoint; another host is not.
async fn htu_may_name_the_mtls_alias(backend: Backend) {
    let mut options = Options::default();
    options.tls.mtls_endpoint_base = Some(String::from("https://mtls.example.com"));
    let server = TestServer::start_with(backend, options).await;
    let (id, secret) = setup(&server).await;
    let key = DpopKey::es256();
    let nonce = server_nonce(&server, (&id, &secret), &key).await;
    let now = server.clock.now();
    let r = cc(
        &server,
        (&id, &secret),
        &key.proof(&claims(
            "POST",
            "https://mtls.example.com/token",
            now,
            Some(&nonce),
        )),
    )
    .await;
    r.ok();
    let r = cc(
        &server,
        (&id, &secret),
        &key.proof(&claims(
            "POST",
            "https://elsewhere.example.com/token",
            now,
            Some(&nonce),
        )),
    )
    .await;
    r.assert_error(400, "invalid_dpop_proof");
}

/// Nonces are derived from the shared master key and the time window: a nonce from one
/// instance works at another.
async fn nonce_of_another_instance_is_accepted(backend: Backend) {
    let a = TestServer::start(backend).await;
    let (id, secret) = setup(&a).await;
    let b = a.start_sibling().await;
    b.engine.reload().await.unwrap();
    let key = DpopKey::es256();
    let nonce = server_nonce(&a, (&id, &secret), &key).await;
    // The proof names b's token endpoint (another port), with a's nonce.
    let proof = key.proof(&token_claims(&b, Some(&nonce)));
    let r = cc(&b, (&id, &secret), &proof).await;
    r.ok();
    assert_eq!(r.body["token_type"], "DPoP");
    // b's nonce works at a.
    let r = cc(&b, (&id, &secret), &proof).await;
    r.assert_error(400, "invalid_dpop_proof");
    let b_nonce = r.header("dpop-nonce").unwrap().to_owned();
    cc(
        &a,
        (&id, &secret),
        &key.proof(&token_claims(&a, Some(&b_nonce))),
    )
    .await
    .ok();
}

/// A nonce lives one to two `nonce_lifetime`s (300 s by default).
async fn nonces_expire(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (id, secret) = setup(&server).await;
    let key = DpopKey::es256();
    let nonce = server_nonce(&server, (&id, &secret), &key).await;
    server.clock.advance(299);
    cc(
        &server,
        (&id, &secret),
        &key.proof(&token_claims(&server, Some(&nonce))),
    )
    .await
    .ok();
    server.clock.advance(301);
    let r = cc(
        &server,
        (&id, &secret),
        &key.proof(&token_claims(&server, Some(&nonce))),
    )
    .await;
    r.assert_error(400, "use_dpop_nonce");
    let fresh = r.header("dpop-nonce").unwrap().to_owned();
    assert_ne!(fresh, nonce);
    cc(
        &server,
        (&id, &secret),
        &key.proof(&token_claims(&server, Some(&fresh))),
    )
    .await
    .ok();
}

/// `require_nonce = false`: a proof without a nonce is accepted; the response still offers one.
async fn nonce_can_be_optional(backend: Backend) {
    let server = TestServer::start_with(
        backend,
        Options {
            dpop: DpopConfig {
                require_nonce: false,
                ..DpopConfig::default()
            },
            ..Options::default()
        },
    )
    .await;
    let (id, secret) = setup(&server).await;
    let key = DpopKey::es256();
    let r = cc(
        &server,
        (&id, &secret),
        &key.proof(&token_claims(&server, None)),
    )
    .await;
    r.ok();
    assert_eq!(r.body["token_type"], "DPoP");
    assert!(r.header("dpop-nonce").is_some());
}

/// §4.3 check 1: not more than one DPoP header.
async fn several_dpop_headers_are_refused(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (id, secret) = setup(&server).await;
    let key = DpopKey::es256();
    let nonce = server_nonce(&server, (&id, &secret), &key).await;
    let one = key.proof(&token_claims(&server, Some(&nonce)));
    let two = key.proof(&token_claims(&server, Some(&nonce)));
    let r = token_with(
        &server,
        &[("grant_type", "client_credentials"), ("resource", API)],
        Some((&id, &secret)),
        &[&one, &two],
    )
    .await;
    r.assert_error(400, "invalid_dpop_proof");
    // Neither proof was spent.
    cc(&server, (&id, &secret), &one).await.ok();
}

/// §5.2 `dpop_bound_access_tokens` set by the administrator (`--dpop-bound-tokens`): a token
/// request without a proof is refused.
async fn dpop_bound_client_needs_a_proof(backend: Backend) {
    let server = TestServer::start(backend).await;
    jwt_api(&server, API, "read write", SigningAlg::ES256).await;
    let mut new = crate::support::new_client(TokenEndpointAuthMethod::ClientSecretBasic, &[API]);
    new.dpop_bound = true;
    let info = server.client(new).await;
    assert_eq!(info.metadata.dpop_bound_access_tokens, Some(true));
    let (id, secret) = (info.client_id, info.client_secret.unwrap());
    let r = token_with(
        &server,
        &[("grant_type", "client_credentials"), ("resource", API)],
        Some((&id, &secret)),
        &[],
    )
    .await;
    r.assert_error(400, "invalid_dpop_proof");
    let nonce = r
        .header("dpop-nonce")
        .expect("a nonce to start with")
        .to_owned();
    let key = DpopKey::es256();
    let r = cc(
        &server,
        (&id, &secret),
        &key.proof(&token_claims(&server, Some(&nonce))),
    )
    .await;
    r.ok();
    assert_eq!(r.body["token_type"], "DPoP");

    // Turned off again, bearer tokens are fine.
    server
        .engine
        .update_client_dpop_bound(&id, false, server.clock.now())
        .await
        .unwrap();
    server.engine.reload().await.unwrap();
    token_with(
        &server,
        &[("grant_type", "client_credentials"), ("resource", API)],
        Some((&id, &secret)),
        &[],
    )
    .await
    .ok();
}

/// The same through dynamic registration metadata (RFC 9449 §5.2).
async fn registered_dpop_bound_client_needs_a_proof(backend: Backend) {
    let server = TestServer::start(backend).await;
    jwt_api(&server, API, "read write", SigningAlg::ES256).await;
    let iat = server
        .engine
        .create_initial_access_token(3600, false, None, server.clock.now())
        .await
        .unwrap();
    let r = reply(
        server
            .http
            .post(server.url("/register"))
            .header("content-type", "application/json")
            .bearer_auth(iat)
            .body(
                json!({
                    "client_name": "bound",
                    "grant_types": ["client_credentials"],
                    "token_endpoint_auth_method": "client_secret_basic",
                    "scope": "read",
                    "dpop_bound_access_tokens": true,
                })
                .to_string(),
            )
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["dpop_bound_access_tokens"], true);
    let id = r.body["client_id"].as_str().unwrap().to_owned();
    let secret = r.body["client_secret"].as_str().unwrap().to_owned();
    token_with(
        &server,
        &[("grant_type", "client_credentials"), ("resource", API)],
        Some((&id, &secret)),
        &[],
    )
    .await
    .assert_error(400, "invalid_dpop_proof");
    let key = DpopKey::es256();
    let nonce = server_nonce(&server, (&id, &secret), &key).await;
    cc(
        &server,
        (&id, &secret),
        &key.proof(&token_claims(&server, Some(&nonce))),
    )
    .await
    .ok();
}

// ---- refresh tokens --------------------------------------------------------------------------

/// A token request as `app` (Basic for a confidential client, `client_id` for a public one)
/// with an optional proof.
async fn app_token(
    server: &TestServer,
    app: &App,
    form: &[(&str, &str)],
    proof: Option<&str>,
) -> Reply {
    let mut form = form.to_vec();
    if app.secret.is_none() {
        form.push(("client_id", &app.id));
    }
    let proofs: Vec<&str> = proof.into_iter().collect();
    token_with(server, &form, app.basic(), &proofs).await
}

/// A nonce from the token endpoint for `app`.
async fn app_nonce(server: &TestServer, app: &App, key: &DpopKey) -> String {
    // An unsupported grant still goes through the proof check after client authentication:
    // any refused proof returns a nonce. A refresh with a garbage token does.
    let r = app_token(
        server,
        app,
        &[("grant_type", "refresh_token"), ("refresh_token", "x")],
        Some(&key.proof(&token_claims(server, None))),
    )
    .await;
    r.assert_error(400, "use_dpop_nonce");
    r.header("dpop-nonce").unwrap().to_owned()
}

/// Logs Alice in for `app` and redeems the code with a proof by `key`.
async fn dpop_code_tokens(server: &TestServer, app: &App, key: &DpopKey, nonce: &str) -> Tokens {
    let authz = Authz::new(&app.id).with("scope", "openid offline_access");
    let (cb, _) = login_and_consent(server, &authz).await;
    let code = cb.code();
    let proof = key.proof(&token_claims(server, Some(nonce)));
    let r = app_token(
        server,
        app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", &authz.verifier),
            ("redirect_uri", authz.get("redirect_uri").unwrap()),
        ],
        Some(&proof),
    )
    .await;
    assert_eq!(r.body["token_type"], "DPoP", "{}", r.text);
    Tokens::from_reply(&r)
}

/// RFC 9449 §5: a public client's refresh token is bound to its DPoP key: refreshing needs a
/// proof by that key, and the rotated token stays bound.
async fn public_client_refresh_token_is_bound_to_the_key(backend: Backend) {
    let server = TestServer::start(backend).await;
    create_alice(&server).await;
    let app = oidc_client(&server, TokenEndpointAuthMethod::None, &[], |c| {
        c.allow_public_refresh = true;
    })
    .await;
    let key = DpopKey::es256();
    let nonce = app_nonce(&server, &app, &key).await;
    let tokens = dpop_code_tokens(&server, &app, &key, &nonce).await;
    let refresh = tokens.refresh().to_owned();
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh.as_str()),
    ];

    // Without a proof, or with another key: invalid_grant, and the token is not spent.
    let r = app_token(&server, &app, &form, None).await;
    r.assert_error(400, "invalid_grant");
    let other = DpopKey::es256();
    let r = app_token(
        &server,
        &app,
        &form,
        Some(&other.proof(&token_claims(&server, Some(&nonce)))),
    )
    .await;
    r.assert_error(400, "invalid_grant");

    // With the key: a new DPoP-bound access token and a rotated refresh token.
    let r = app_token(
        &server,
        &app,
        &form,
        Some(&key.proof(&token_claims(&server, Some(&nonce)))),
    )
    .await;
    r.ok();
    assert_eq!(r.body["token_type"], "DPoP");
    let next = Tokens::from_reply(&r);
    assert_ne!(next.refresh(), refresh);

    // The rotated token is bound to the same key.
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", next.refresh()),
    ];
    app_token(&server, &app, &form, None)
        .await
        .assert_error(400, "invalid_grant");
    app_token(
        &server,
        &app,
        &form,
        Some(&key.proof(&token_claims(&server, Some(&nonce)))),
    )
    .await
    .ok();
}

/// A confidential client authenticates: its refresh token is not key-bound, but each access
/// token is bound to whatever key the refresh request proves.
async fn confidential_client_refresh_token_is_not_bound(backend: Backend) {
    let server = TestServer::start(backend).await;
    create_alice(&server).await;
    let app = oidc_client(
        &server,
        TokenEndpointAuthMethod::ClientSecretBasic,
        &[],
        |_| {},
    )
    .await;
    let key = DpopKey::es256();
    let nonce = app_nonce(&server, &app, &key).await;
    let tokens = dpop_code_tokens(&server, &app, &key, &nonce).await;

    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", tokens.refresh()),
    ];
    let r = app_token(&server, &app, &form, None).await;
    r.ok();
    assert_eq!(r.body["token_type"], "Bearer");
    let next = Tokens::from_reply(&r);

    let other = DpopKey::es256();
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", next.refresh()),
    ];
    let r = app_token(
        &server,
        &app,
        &form,
        Some(&other.proof(&token_claims(&server, Some(&nonce)))),
    )
    .await;
    r.ok();
    assert_eq!(r.body["token_type"], "DPoP");
    let at = crate::support::jwt_part(r.body["access_token"].as_str().unwrap(), 1);
    assert_eq!(at["cnf"]["jkt"], other.thumbprint().as_str());
}

// ---- authorization code binding (§10) --------------------------------------------------------

/// Redeems `code` (requested with `authz`) as `app` with an optional proof.
async fn redeem_with(
    server: &TestServer,
    app: &App,
    code: &str,
    authz: &Authz,
    proof: Option<&str>,
) -> Reply {
    app_token(
        server,
        app,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("code_verifier", &authz.verifier),
            ("redirect_uri", authz.get("redirect_uri").unwrap()),
        ],
        proof,
    )
    .await
}

/// POSTs `authz` to /par as `app` (Basic), with these DPoP headers.
async fn par_with(server: &TestServer, app: &App, authz: &Authz, proofs: &[&str]) -> Reply {
    let mut req = server
        .http
        .post(server.url("/par"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(crate::oidc_support::encode(&authz.pairs()));
    if let Some((id, secret)) = app.basic() {
        req = req.basic_auth(id, Some(secret));
    }
    for p in proofs {
        req = req.header("DPoP", *p);
    }
    reply(req.send().await.unwrap()).await
}

/// Claims of a proof for `/par` made now.
fn par_claims(server: &TestServer) -> Value {
    let par = server.engine.config().par_endpoint.clone();
    claims("POST", &par, server.clock.now(), None)
}

/// The `cnf.jkt` of a token response's access token.
fn token_jkt(r: &Reply) -> Value {
    let at = crate::support::jwt_part(r.body["access_token"].as_str().unwrap(), 1);
    at["cnf"]["jkt"].clone()
}

/// §10: a code requested with `dpop_jkt` is redeemed only with a proof by that key; a
/// refused redemption does not spend it.
async fn dpop_jkt_binds_the_code(backend: Backend) {
    let server = TestServer::start(backend).await;
    create_alice(&server).await;
    let app = confidential(&server, &[]).await;
    let key = DpopKey::es256();
    let other = DpopKey::es256();
    let nonce = app_nonce(&server, &app, &key).await;
    let authz = Authz::new(&app.id).with("dpop_jkt", &key.thumbprint());
    let (cb, _) = login_and_consent(&server, &authz).await;
    let code = cb.code();

    // Without a proof, and with another key: invalid_grant.
    let r = redeem_with(&server, &app, &code, &authz, None).await;
    r.assert_error(400, "invalid_grant");
    assert!(r.text.contains("bound to a DPoP key"), "{}", r.text);
    let proof = other.proof(&token_claims(&server, Some(&nonce)));
    redeem_with(&server, &app, &code, &authz, Some(&proof))
        .await
        .assert_error(400, "invalid_grant");

    // The code was not spent: the key redeems it, and the token is bound to it.
    let proof = key.proof(&token_claims(&server, Some(&nonce)));
    let r = redeem_with(&server, &app, &code, &authz, Some(&proof)).await;
    r.ok();
    assert_eq!(r.body["token_type"], "DPoP", "{}", r.text);
    assert_eq!(token_jkt(&r), key.thumbprint().as_str());

    // Then it is spent.
    let proof = key.proof(&token_claims(&server, Some(&nonce)));
    redeem_with(&server, &app, &code, &authz, Some(&proof))
        .await
        .assert_error(400, "invalid_grant");

    // A code without dpop_jkt is redeemed as before, with or without a proof.
    let authz = Authz::new(&app.id);
    let (cb, _) = login_and_consent(&server, &authz).await;
    let r = redeem(&server, &app, &cb.code(), &authz).await;
    r.ok();
    assert_eq!(r.body["token_type"], "Bearer");
}

/// A `dpop_jkt` that is not a base64url SHA-256 thumbprint is `invalid_request`, at
/// `/authorize` (redirected) and at `/par`.
async fn malformed_dpop_jkt_is_refused(backend: Backend) {
    let server = TestServer::start(backend).await;
    create_alice(&server).await;
    let app = confidential(&server, &[]).await;
    let key = DpopKey::es256();
    let too_long = format!("{}A", key.thumbprint());
    let padded = format!("{}=", &key.thumbprint()[..42]);
    for bad in ["abc", too_long.as_str(), padded.as_str()] {
        let authz = Authz::new(&app.id).with("dpop_jkt", bad);
        let mut browser = Browser::new(&server);
        browser.get(&authz.path()).await.callback().assert_error(
            &server,
            &authz,
            "invalid_request",
        );
        par_with(&server, &app, &authz, &[])
            .await
            .assert_error(400, "invalid_request");
    }
}

/// §10.1: a DPoP proof sent with a pushed request binds the code to the proof's key.
async fn dpop_proof_at_par_binds_the_code(backend: Backend) {
    let server = TestServer::start(backend).await;
    create_alice(&server).await;
    let app = confidential(&server, &[]).await;
    let key = DpopKey::es256();
    let other = DpopKey::es256();
    let nonce = app_nonce(&server, &app, &key).await;

    let authz = Authz::new(&app.id);
    let r = par_with(&server, &app, &authz, &[&key.proof(&par_claims(&server))]).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let pushed = Authz {
        params: vec![
            ("client_id".to_owned(), app.id.clone()),
            (
                "request_uri".to_owned(),
                r.body["request_uri"].as_str().unwrap().to_owned(),
            ),
        ],
        verifier: authz.verifier.clone(),
    };
    let (cb, _) = login_and_consent(&server, &pushed).await;
    let code = cb.code();

    redeem_with(&server, &app, &code, &authz, None)
        .await
        .assert_error(400, "invalid_grant");
    let proof = other.proof(&token_claims(&server, Some(&nonce)));
    redeem_with(&server, &app, &code, &authz, Some(&proof))
        .await
        .assert_error(400, "invalid_grant");
    let proof = key.proof(&token_claims(&server, Some(&nonce)));
    let r = redeem_with(&server, &app, &code, &authz, Some(&proof)).await;
    r.ok();
    assert_eq!(token_jkt(&r), key.thumbprint().as_str());
}

/// §10.1: with a proof at `/par`, `dpop_jkt` must be its key's thumbprint; the proof itself
/// is checked (here: `htu`, replay, several headers).
async fn par_dpop_jkt_must_match_the_proof(backend: Backend) {
    let server = TestServer::start(backend).await;
    create_alice(&server).await;
    let app = confidential(&server, &[]).await;
    let key = DpopKey::es256();
    let other = DpopKey::es256();

    let authz = Authz::new(&app.id).with("dpop_jkt", &other.thumbprint());
    let r = par_with(&server, &app, &authz, &[&key.proof(&par_claims(&server))]).await;
    r.assert_error(400, "invalid_request");
    assert!(r.text.contains("dpop_jkt"), "{}", r.text);

    let authz = Authz::new(&app.id).with("dpop_jkt", &key.thumbprint());
    let proof = key.proof(&par_claims(&server));
    let r = par_with(&server, &app, &authz, &[&proof]).await;
    assert_eq!(r.status, 201, "{}", r.text);
    // The same proof again is a replay.
    par_with(&server, &app, &authz, &[&proof])
        .await
        .assert_error(400, "invalid_dpop_proof");

    // A proof for another endpoint, and two proofs, are refused.
    let wrong = key.proof(&token_claims(&server, None));
    par_with(&server, &app, &authz, &[&wrong])
        .await
        .assert_error(400, "invalid_dpop_proof");
    let (a, b) = (
        key.proof(&par_claims(&server)),
        key.proof(&par_claims(&server)),
    );
    par_with(&server, &app, &authz, &[&a, &b])
        .await
        .assert_error(400, "invalid_dpop_proof");
}

// ---- /userinfo -------------------------------------------------------------------------------

/// GET or POST /userinfo with an `Authorization` header and optional DPoP proofs.
async fn userinfo_with(
    server: &TestServer,
    method: reqwest::Method,
    authorization: &str,
    proof: Option<&str>,
) -> Reply {
    let mut req = server
        .http
        .request(method, server.url("/userinfo"))
        .header("authorization", authorization);
    if let Some(p) = proof {
        req = req.header("DPoP", p);
    }
    reply(req.send().await.unwrap()).await
}

/// A resource proof (§7): `ath` is the access token's hash.
fn resource_claims(server: &TestServer, htm: &str, token: &str) -> Value {
    let mut c = claims(htm, &server.url("/userinfo"), server.clock.now(), None);
    c["ath"] = json!(b64(&warden_jose::sha256(token.as_bytes())));
    c
}

#[track_caller]
fn assert_dpop_challenge(r: &Reply, code: &str) {
    assert_eq!((r.status, r.error()), (401, code), "{}", r.text);
    let challenge = r.header("www-authenticate").unwrap_or_default();
    assert!(challenge.starts_with("DPoP "), "{challenge}");
    assert!(
        challenge.contains(&format!("error=\"{code}\"")),
        "{challenge}"
    );
    assert!(
        challenge.contains("algs=\"") && challenge.contains("ES256"),
        "{challenge}"
    );
}

/// §7: a DPoP-bound token is accepted with `Authorization: DPoP` and a proof carrying its
/// `ath`; as a bearer token, without a proof or with another key's proof it is refused with a
/// DPoP challenge.
async fn userinfo_accepts_dpop_bound_tokens_with_a_proof(backend: Backend) {
    let server = TestServer::start(backend).await;
    let sub = create_alice(&server).await;
    let app = oidc_client(&server, TokenEndpointAuthMethod::None, &[], |_| {}).await;
    let key = DpopKey::es256();
    let nonce = {
        let r = app_token(
            &server,
            &app,
            &[("grant_type", "authorization_code"), ("code", "x")],
            Some(&key.proof(&token_claims(&server, None))),
        )
        .await;
        r.assert_error(400, "use_dpop_nonce");
        r.header("dpop-nonce").unwrap().to_owned()
    };
    let authz = Authz::new(&app.id);
    let (cb, _) = login_and_consent(&server, &authz).await;
    let r = app_token(
        &server,
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &cb.code()),
            ("code_verifier", &authz.verifier),
            ("redirect_uri", authz.get("redirect_uri").unwrap()),
        ],
        Some(&key.proof(&token_claims(&server, Some(&nonce)))),
    )
    .await;
    r.ok();
    assert_eq!(r.body["token_type"], "DPoP");
    let access = r.body["access_token"].as_str().unwrap().to_owned();
    let dpop_auth = format!("DPoP {access}");

    // GET and POST with a proof.
    let proof = key.proof(&resource_claims(&server, "GET", &access));
    let r = userinfo_with(&server, reqwest::Method::GET, &dpop_auth, Some(&proof)).await;
    r.ok();
    assert_eq!(r.body["sub"], sub.as_str());
    let post_proof = key.proof(&resource_claims(&server, "POST", &access));
    userinfo_with(
        &server,
        reqwest::Method::POST,
        &dpop_auth,
        Some(&post_proof),
    )
    .await
    .ok();

    // The same proof again: replay.
    let r = userinfo_with(&server, reqwest::Method::GET, &dpop_auth, Some(&proof)).await;
    assert_dpop_challenge(&r, "invalid_dpop_proof");

    // As a bearer token.
    let r = userinfo_with(
        &server,
        reqwest::Method::GET,
        &format!("Bearer {access}"),
        None,
    )
    .await;
    assert_dpop_challenge(&r, "invalid_token");
    let r = crate::oidc_support::userinfo(&server, &access).await;
    assert_dpop_challenge(&r, "invalid_token");

    // Without a proof, with the wrong method, without ath, with another key.
    let r = userinfo_with(&server, reqwest::Method::GET, &dpop_auth, None).await;
    assert_dpop_challenge(&r, "invalid_dpop_proof");
    let wrong_htm = key.proof(&resource_claims(&server, "POST", &access));
    let r = userinfo_with(&server, reqwest::Method::GET, &dpop_auth, Some(&wrong_htm)).await;
    assert_dpop_challenge(&r, "invalid_dpop_proof");
    let mut no_ath = resource_claims(&server, "GET", &access);
    no_ath.as_object_mut().unwrap().remove("ath");
    let r = userinfo_with(
        &server,
        reqwest::Method::GET,
        &dpop_auth,
        Some(&key.proof(&no_ath)),
    )
    .await;
    assert_dpop_challenge(&r, "invalid_dpop_proof");
    let other = DpopKey::es256();
    let r = userinfo_with(
        &server,
        reqwest::Method::GET,
        &dpop_auth,
        Some(&other.proof(&resource_claims(&server, "GET", &access))),
    )
    .await;
    assert_dpop_challenge(&r, "invalid_dpop_proof");

    // A bearer token sent with the DPoP scheme is refused with a DPoP challenge; as Bearer it
    // works as always.
    let plain = oidc_client(&server, TokenEndpointAuthMethod::None, &[], |_| {}).await;
    let authz = Authz::new(&plain.id);
    let (cb, _) = login_and_consent(&server, &authz).await;
    let bearer = Tokens::from_reply(&redeem(&server, &plain, &cb.code(), &authz).await).access;
    let r = userinfo_with(
        &server,
        reqwest::Method::GET,
        &format!("DPoP {bearer}"),
        Some(&key.proof(&resource_claims(&server, "GET", &bearer))),
    )
    .await;
    assert_dpop_challenge(&r, "invalid_token");
    crate::oidc_support::userinfo(&server, &bearer).await.ok();

    // No token at all: both schemes are offered.
    let r = get(&server, "/userinfo").await;
    assert_eq!(r.status, 401);
    let challenges: Vec<&str> = r
        .headers
        .get_all("www-authenticate")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    assert!(
        challenges.iter().any(|c| c.starts_with("Bearer")),
        "{challenges:?}"
    );
    assert!(
        challenges.iter().any(|c| c.starts_with("DPoP")),
        "{challenges:?}"
    );
}

/// RFC 9449 §5.1: `dpop_signing_alg_values_supported` lists asymmetric algorithms only.
async fn discovery_lists_dpop_algorithms(backend: Backend) {
    let server = TestServer::start(backend).await;
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    ] {
        let r = get(&server, path).await;
        r.ok();
        let algs: Vec<&str> = r.body["dpop_signing_alg_values_supported"]
            .as_array()
            .expect("dpop_signing_alg_values_supported")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(
            algs.contains(&"ES256") && algs.contains(&"EdDSA"),
            "{algs:?}"
        );
        assert!(
            !algs.iter().any(|a| a.starts_with("HS") || *a == "none"),
            "{algs:?}"
        );
    }
}

// ---- configuration and CLI -------------------------------------------------------------------

/// A temporary directory with a SQLite database URL and a config file holding `text`.
fn config_dir(text: &str) -> (tempfile::TempDir, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("w.db").display());
    let config = dir.path().join("warden.toml");
    std::fs::write(&config, text).unwrap();
    let config = config.display().to_string();
    (dir, db, config)
}

/// `[dpop]` in the file, `WARDEN_DPOP_*` over it; `check-config` shows the result.
#[test]
fn dpop_config_from_file_and_environment() {
    let (_dir, db, config) =
        config_dir("[dpop]\nrequire_nonce = false\nproof_max_age = \"2m\"\nnonce_lifetime = 600\n");
    let args = ["check-config", "--config", &config, "--database", &db];
    let out = run_warden(&args, &[]);
    assert!(out.success, "{out:?}");
    let summary: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        summary["dpop"],
        json!({"require_nonce": false, "proof_max_age": 120, "nonce_lifetime": 600})
    );

    let out = run_warden(
        &args,
        &[
            ("WARDEN_DPOP_REQUIRE_NONCE", "true"),
            ("WARDEN_DPOP_PROOF_MAX_AGE", "30s"),
            ("WARDEN_DPOP_NONCE_LIFETIME", "5m"),
        ],
    );
    assert!(out.success, "{out:?}");
    let summary: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        summary["dpop"],
        json!({"require_nonce": true, "proof_max_age": 30, "nonce_lifetime": 300})
    );

    // Defaults without a [dpop] section.
    let (_dir, db, config) = config_dir("");
    let out = run_warden(
        &["check-config", "--config", &config, "--database", &db],
        &[],
    );
    let summary: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        summary["dpop"],
        json!({"require_nonce": true, "proof_max_age": 60, "nonce_lifetime": 300})
    );
}

/// Bad `[dpop]` values and unknown keys are all reported.
#[test]
fn bad_dpop_config_is_reported() {
    let (_dir, db, config) = config_dir(
        "[dpop]\nproof_max_age = \"1h\"\nnonce_lifetime = \"soon\"\nnonce_lifetim = 5\n",
    );
    let out = run_warden(
        &["check-config", "--config", &config, "--database", &db],
        &[("WARDEN_DPOP_REQUIRE_NONCE", "maybe")],
    );
    assert!(!out.success, "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
    for needle in [
        "dpop.proof_max_age",
        "dpop.nonce_lifetime",
        "dpop.nonce_lifetim",
        "dpop.require_nonce",
    ] {
        assert!(out.stderr.contains(needle), "{needle}: {}", out.stderr);
    }
}

/// `warden client create --dpop-bound-tokens` and `client update --no-dpop-bound-tokens`.
#[test]
fn cli_dpop_bound_tokens_flag() {
    let (_dir, db, _) = config_dir("");
    let out = run_warden(
        &[
            "client",
            "create",
            "--name",
            "bound",
            "--auth-method",
            "client_secret_basic",
            "--dpop-bound-tokens",
            "--database",
            &db,
        ],
        &[],
    );
    assert!(out.success, "{out:?}");
    let created: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(created["dpop_bound_access_tokens"], true, "{created}");
    let id = created["client_id"].as_str().unwrap();

    let out = run_warden(
        &[
            "client",
            "update",
            id,
            "--no-dpop-bound-tokens",
            "--database",
            &db,
        ],
        &[],
    );
    assert!(out.success, "{out:?}");
    let updated: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(updated["dpop_bound_access_tokens"], false, "{updated}");

    let out = run_warden(
        &[
            "client",
            "update",
            id,
            "--dpop-bound-tokens",
            "--database",
            &db,
        ],
        &[],
    );
    assert!(out.success, "{out:?}");
    let updated: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(updated["dpop_bound_access_tokens"], true, "{updated}");

    let out = run_warden(
        &[
            "client",
            "update",
            id,
            "--dpop-bound-tokens",
            "--no-dpop-bound-tokens",
            "--database",
            &db,
        ],
        &[],
    );
    assert!(!out.success, "{out:?}");
}
