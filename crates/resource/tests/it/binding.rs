//! Certificate-bound tokens (RFC 8705 §3), introspected bound tokens, and the axum layer's
//! answers for DPoP and certificate binding.

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;
use tower::ServiceExt as _;
use warden_jose::{base64url_encode, sha256};
use warden_resource::{
    AuthError, Authenticated, PeerCertificate, RequestInfo, RequireScopeLayer, ValidationError,
    Validator,
};
use warden_types::SigningAlg;

use crate::dpop::{URL, dpop_request, proof, proof_claims, setup_with};
use crate::support::{AUD, key, now};

fn client_certificate() -> (Vec<u8>, String) {
    let cert = rcgen::generate_simple_self_signed(vec!["client.example".to_owned()]).unwrap();
    (cert.cert.der().to_vec(), cert.cert.pem())
}

fn x5t(der: &[u8]) -> String {
    base64url_encode(&sha256(der))
}

#[tokio::test]
async fn certificate_bound_tokens_need_their_certificate() {
    let s = setup_with(|b| b).await;
    let (der, _) = client_certificate();
    let (other, _) = client_certificate();
    let token = s.token_with_cnf(json!({ "x5t#S256": x5t(&der) }));
    let bearer = || RequestInfo::new("GET", URL).authorization(format!("Bearer {token}"));

    let accepted = s
        .validator
        .validate_request(&bearer().peer_certificate(der.clone()))
        .await
        .unwrap();
    assert!(accepted.is_certificate_bound());
    assert!(!accepted.is_dpop_bound());
    assert_eq!(accepted.certificate_thumbprint(), Some(x5t(&der).as_str()));

    let without = s.validator.validate_request(&bearer()).await.unwrap_err();
    assert_eq!(
        without,
        AuthError::Token(ValidationError::CertificateRequired)
    );
    assert_eq!(
        without.to_string(),
        "certificate-bound token presented without its certificate"
    );
    assert_eq!(
        s.validator
            .validate_request(&bearer().peer_certificate(other))
            .await
            .unwrap_err(),
        AuthError::Token(ValidationError::CertificateMismatch)
    );
    // validate() knows nothing about the connection.
    assert_eq!(
        s.validator.validate(&token).await.unwrap_err(),
        ValidationError::CertificateRequired
    );
    // An unbound token does not care about certificates.
    let plain = crate::support::mint(&s.signer, &crate::support::claims(&s.issuer.issuer));
    assert!(
        s.validator
            .validate_request(
                &RequestInfo::new("GET", URL)
                    .authorization(format!("Bearer {plain}"))
                    .peer_certificate(der)
            )
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn tokens_bound_to_both_need_both() {
    let s = setup_with(|b| b).await;
    let holder = key(SigningAlg::ES256, "holder");
    let (der, _) = client_certificate();
    let token =
        s.token_with_cnf(json!({ "jkt": crate::dpop::jkt(&holder), "x5t#S256": x5t(&der) }));
    let request = || dpop_request(&token, &proof(&holder, &proof_claims(&token)));
    assert_eq!(
        s.validator.validate_request(&request()).await.unwrap_err(),
        AuthError::Dpop(ValidationError::CertificateRequired)
    );
    assert!(
        s.validator
            .validate_request(&request().peer_certificate(der))
            .await
            .is_ok()
    );
}

/// An introspection endpoint answering `answer` for every token.
async fn introspecting(answer: serde_json::Value) -> Validator {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}/introspect", listener.local_addr().unwrap());
    let app = Router::new().route(
        "/introspect",
        post(move || {
            let answer = answer.clone();
            async move { axum::Json(answer) }
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let s = setup_with(|b| b).await;
    let validator = Validator::builder(&s.issuer.issuer, AUD)
        .introspection("rs", "secret")
        .introspection_endpoint(endpoint)
        .build()
        .await
        .unwrap();
    // The mock issuer's server task outlives `s`; its keys and metadata were read already.
    drop(s);
    validator
}

#[tokio::test]
async fn introspected_tokens_are_bound_by_their_cnf() {
    let holder = key(SigningAlg::ES256, "holder");
    let jkt = crate::dpop::jkt(&holder);
    let answer = |extra: serde_json::Value| {
        let mut a = json!({"active": true, "aud": AUD, "sub": "s", "client_id": "c",
            "exp": now() + 300, "scope": "payments:charge"});
        for (k, v) in extra.as_object().unwrap() {
            a[k] = v.clone();
        }
        a
    };
    let token = "wdn_at_opaque-token-value";

    // DPoP-bound (token_type DPoP, cnf.jkt): accepted with a proof, refused as bearer.
    let v = introspecting(answer(json!({"token_type": "DPoP", "cnf": {"jkt": jkt}}))).await;
    let accepted = v
        .validate_request(&dpop_request(token, &proof(&holder, &proof_claims(token))))
        .await
        .unwrap();
    assert!(accepted.is_dpop_bound());
    assert_eq!(
        v.validate_request(&RequestInfo::new("GET", URL).authorization(format!("Bearer {token}")))
            .await
            .unwrap_err(),
        AuthError::Token(ValidationError::DpopBoundAsBearer)
    );
    let thief = key(SigningAlg::ES256, "thief");
    assert_eq!(
        v.validate_request(&dpop_request(token, &proof(&thief, &proof_claims(token))))
            .await
            .unwrap_err(),
        AuthError::Dpop(ValidationError::DpopKeyMismatch)
    );

    // token_type DPoP without a cnf cannot be checked: refused either way.
    let v = introspecting(answer(json!({"token_type": "DPoP"}))).await;
    assert_eq!(
        v.validate(token).await.unwrap_err(),
        ValidationError::DpopBoundAsBearer
    );
    assert_eq!(
        v.validate_request(&dpop_request(token, &proof(&holder, &proof_claims(token))))
            .await
            .unwrap_err(),
        AuthError::Dpop(ValidationError::NotDpopBound)
    );

    // Certificate-bound.
    let (der, _) = client_certificate();
    let v = introspecting(answer(
        json!({"token_type": "Bearer", "cnf": {"x5t#S256": x5t(&der)}}),
    ))
    .await;
    let bearer = || RequestInfo::new("GET", URL).authorization(format!("Bearer {token}"));
    assert!(
        v.validate_request(&bearer().peer_certificate(der))
            .await
            .is_ok()
    );
    assert_eq!(
        v.validate_request(&bearer()).await.unwrap_err(),
        AuthError::Token(ValidationError::CertificateRequired)
    );
}

struct Answer {
    status: StatusCode,
    challenges: Vec<String>,
    nonce: Option<String>,
    body: String,
}

async fn call(app: &Router, request: Request<Body>) -> Answer {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let challenges = response
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let nonce = response
        .headers()
        .get("dpop-nonce")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    Answer {
        status,
        challenges,
        nonce,
        body: String::from_utf8(body.to_vec()).unwrap(),
    }
}

fn app(validator: Validator, scopes: &[&str]) -> Router {
    let whoami = |Authenticated(token): Authenticated| async move { token.client_id().to_owned() };
    Router::new()
        .route("/payments/charges", get(whoami))
        .route_layer(RequireScopeLayer::new(
            validator.clone(),
            scopes.iter().map(|s| (*s).to_owned()),
        ))
        .merge(Router::new().route("/me", get(whoami)))
        .with_state(validator)
}

#[tokio::test]
async fn the_layer_answers_dpop_requests_per_rfc9449() {
    let s = setup_with(|b| {
        b.realm("payments")
            .dpop_nonce_secret(*b"0123456789abcdef0123456789abcdef")
    })
    .await;
    let holder = key(SigningAlg::ES256, "holder");
    let token = s.bound_token(&holder);
    let router = app(s.validator.clone(), &["payments:charge"]);
    let request = |claims: &serde_json::Value, authorization: &str| {
        Request::get(URL)
            .header("authorization", authorization)
            .header("dpop", proof(&holder, claims))
            .body(Body::empty())
            .unwrap()
    };
    let dpop_auth = format!("DPoP {token}");

    // No credentials at all: both challenges, no error code.
    let a = call(&router, Request::get(URL).body(Body::empty()).unwrap()).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        a.challenges,
        [
            r#"Bearer realm="payments""#,
            r#"DPoP algs="ES256 ES384 EdDSA PS256 PS384 PS512 RS256 RS384 RS512""#
        ]
    );

    // A proof without a nonce: use_dpop_nonce with a DPoP-Nonce header.
    let a = call(&router, request(&proof_claims(&token), &dpop_auth)).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert!(
        a.challenges[0].starts_with(r#"DPoP error="use_dpop_nonce""#),
        "{:?}",
        a.challenges
    );
    assert!(a.body.contains("use_dpop_nonce"));
    let nonce = a.nonce.expect("DPoP-Nonce");

    // With the nonce: through the layer, and the extractor outside the layer too.
    let mut c = proof_claims(&token);
    c["nonce"] = json!(nonce);
    let a = call(&router, request(&c, &dpop_auth)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.body, "client-1");
    assert!(a.nonce.is_some(), "a fresh nonce with the answer");
    let mut c = proof_claims(&token);
    c["nonce"] = json!(nonce);
    c["htu"] = json!("https://api.example.com/me");
    let me = Request::get("https://api.example.com/me")
        .header("authorization", &dpop_auth)
        .header("dpop", proof(&holder, &c))
        .body(Body::empty())
        .unwrap();
    assert_eq!(call(&router, me).await.status, StatusCode::OK);

    // Replayed: invalid_dpop_proof.
    let mut c = proof_claims(&token);
    c["nonce"] = json!(nonce);
    let replayed = proof(&holder, &c);
    let send = |p: &str| {
        Request::get(URL)
            .header("authorization", &dpop_auth)
            .header("dpop", p)
            .body(Body::empty())
            .unwrap()
    };
    assert_eq!(call(&router, send(&replayed)).await.status, StatusCode::OK);
    let a = call(&router, send(&replayed)).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert!(a.challenges[0].starts_with(r#"DPoP error="invalid_dpop_proof""#));
    assert!(a.body.contains(r#""error":"invalid_dpop_proof""#));

    // The bound token as bearer: a Bearer invalid_token challenge plus the DPoP one.
    let a = call(&router, request(&c, &format!("Bearer {token}"))).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert!(a.challenges[0].starts_with(r#"Bearer realm="payments", error="invalid_token""#));
    assert!(a.challenges[1].starts_with("DPoP algs="));

    // A DPoP token without the scope: 403 with a DPoP challenge.
    let scoped = app(s.validator.clone(), &["payments:admin"]);
    let mut c = proof_claims(&token);
    c["nonce"] = json!(nonce);
    let a = call(&scoped, request(&c, &dpop_auth)).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert!(
        a.challenges[0].starts_with(r#"DPoP error="insufficient_scope""#),
        "{:?}",
        a.challenges
    );
}

#[tokio::test]
async fn the_request_url_comes_from_public_url_host_or_forwarded_proto() {
    let holder = key(SigningAlg::ES256, "holder");
    for (configure, forwarded, ok) in [
        // Host header with http: a proof for https does not match.
        (None, false, false),
        // X-Forwarded-Proto is ignored unless trusted.
        (Some("trust"), false, true),
        (Some("public"), false, true),
        (None, true, false),
    ] {
        let s = setup_with(|b| match configure {
            Some("trust") => b.trust_forwarded_proto(true),
            Some("public") => b.public_url("https://api.example.com/"),
            _ => b,
        })
        .await;
        let token = s.bound_token(&holder);
        let router = app(s.validator.clone(), &[]);
        let mut request = Request::get("/payments/charges")
            .header("host", "api.example.com")
            .header("authorization", format!("DPoP {token}"))
            .header("dpop", proof(&holder, &proof_claims(&token)));
        if configure == Some("trust") || forwarded {
            request = request.header("x-forwarded-proto", "https");
        }
        let a = call(&router, request.body(Body::empty()).unwrap()).await;
        assert_eq!(
            a.status == StatusCode::OK,
            ok,
            "{configure:?} {forwarded}: {:?}",
            a.challenges
        );
    }
}

#[tokio::test]
async fn the_layer_reads_client_certificates() {
    let (der, pem) = client_certificate();
    let proxy: SocketAddr = "10.1.2.3:40000".parse().unwrap();
    let s = setup_with(|b| b.client_certificate_header("X-Client-Cert", [proxy.ip()])).await;
    let token = s.token_with_cnf(json!({ "x5t#S256": x5t(&der) }));
    let router = app(s.validator.clone(), &[]);
    let base = || Request::get(URL).header("authorization", format!("Bearer {token}"));

    // Without a certificate: invalid_token with RFC 8705's reason.
    let a = call(&router, base().body(Body::empty()).unwrap()).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert!(
        a.challenges[0].contains("certificate-bound token presented without its certificate"),
        "{:?}",
        a.challenges
    );

    // The application's TLS layer put the certificate into the extensions.
    let mut request = base().body(Body::empty()).unwrap();
    request
        .extensions_mut()
        .insert(PeerCertificate(der.clone()));
    assert_eq!(call(&router, request).await.status, StatusCode::OK);

    // A trusted proxy's header, as RFC 9440 bytes or nginx's escaped PEM.
    let escaped: String = url::form_urlencoded::byte_serialize(pem.as_bytes())
        .collect::<String>()
        .replace('+', "%20");
    for value in [format!(":{}:", STANDARD.encode(&der)), escaped] {
        let mut request = base()
            .header("x-client-cert", value.as_str())
            .body(Body::empty())
            .unwrap();
        request.extensions_mut().insert(ConnectInfo(proxy));
        assert_eq!(
            call(&router, request).await.status,
            StatusCode::OK,
            "{value}"
        );

        // The same header from anyone else is ignored.
        let mut request = base()
            .header("x-client-cert", value.as_str())
            .body(Body::empty())
            .unwrap();
        request
            .extensions_mut()
            .insert(ConnectInfo::<SocketAddr>("10.9.9.9:1".parse().unwrap()));
        assert_eq!(
            call(&router, request).await.status,
            StatusCode::UNAUTHORIZED
        );
        let request = base()
            .header("x-client-cert", value.as_str())
            .body(Body::empty())
            .unwrap();
        assert_eq!(
            call(&router, request).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let (other, _) = client_certificate();
    let mut request = base().body(Body::empty()).unwrap();
    request.extensions_mut().insert(PeerCertificate(other));
    let a = call(&router, request).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert!(a.challenges[0].contains("does not match"));
}
