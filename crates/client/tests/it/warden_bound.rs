//! Sender-constrained tokens end to end against a real Warden: warden-client obtains DPoP-bound
//! and certificate-bound tokens, warden-resource accepts them only with their proof or
//! certificate (JWT and opaque APIs).

use axum::Router;
use axum::routing::get;
use warden_client::{Client, Credentials, DpopKey};
use warden_core::admin::NewClient;
use warden_core::model::ClientTls;
use warden_resource::{
    AuthError, Authenticated, RequestInfo, RequireScopeLayer, ValidationError, Validator,
};
use warden_testkit::pki::{ClientCertSpec, TestPki};
use warden_testkit::{Backend, Options, TestServer};
use warden_types::{SigningAlg, TokenEndpointAuthMethod, TokenFormat};

const AUD: &str = "https://api.example.com/payments";
const OPAQUE: &str = "https://api.example.com/ledger";
const URL: &str = "https://api.example.com/payments/charges";

fn dpop_request(key: &DpopKey, token: &str) -> RequestInfo {
    RequestInfo::new("GET", URL)
        .authorization(format!("DPoP {token}"))
        .dpop_proof(key.proof("GET", URL, Some(token), None).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dpop_tokens_from_warden_are_accepted_with_their_proof_only() {
    let server = TestServer::start(Backend::Sqlite).await;
    server
        .api(AUD, "payments:charge", TokenFormat::Jwt, SigningAlg::ES256)
        .await;
    server
        .api(
            OPAQUE,
            "ledger:read",
            TokenFormat::Opaque,
            SigningAlg::ES256,
        )
        .await;
    let (id, secret) = server
        .secret_client(
            TokenEndpointAuthMethod::ClientSecretBasic,
            &[AUD, OPAQUE],
            None,
        )
        .await;
    let key = DpopKey::generate_es256().unwrap();
    let client = Client::builder(
        &server.issuer,
        Credentials::client_secret_basic(&id, &secret),
    )
    .dpop(key.clone())
    .build()
    .await
    .unwrap();

    // Warden demands a nonce first; the client retries and gets a bound token.
    let token = client.token(AUD, &["payments:charge"]).await.unwrap();
    assert!(token.is_dpop(), "{token:?}");

    let validator = Validator::builder(&server.issuer, AUD)
        .build()
        .await
        .unwrap();
    let accepted = validator
        .validate_request(&dpop_request(&key, token.token()))
        .await
        .unwrap();
    assert_eq!(accepted.dpop_jkt(), Some(key.thumbprint()));
    assert_eq!(accepted.client_id(), id);
    // As a bearer token, or with another key's proof: refused.
    assert_eq!(
        validator
            .validate_request(
                &RequestInfo::new("GET", URL).authorization(format!("Bearer {}", token.token()))
            )
            .await
            .unwrap_err(),
        AuthError::Token(ValidationError::DpopBoundAsBearer)
    );
    let thief = DpopKey::generate_es256().unwrap();
    assert_eq!(
        validator
            .validate_request(&dpop_request(&thief, token.token()))
            .await
            .unwrap_err(),
        AuthError::Dpop(ValidationError::DpopKeyMismatch)
    );

    // An opaque token: bound through the introspection answer's cnf and token_type.
    let opaque = client.token(OPAQUE, &["ledger:read"]).await.unwrap();
    assert!(opaque.is_dpop());
    let introspecting = Validator::builder(&server.issuer, OPAQUE)
        .introspection(&id, &secret)
        .build()
        .await
        .unwrap();
    let accepted = introspecting
        .validate_request(&dpop_request(&key, opaque.token()))
        .await
        .unwrap();
    assert!(accepted.is_dpop_bound());
    assert_eq!(accepted.dpop_jkt(), Some(key.thumbprint()));
    assert_eq!(
        introspecting.validate(opaque.token()).await.unwrap_err(),
        ValidationError::DpopBoundAsBearer
    );

    // Through HTTP: an axum API behind warden-resource, called with Client::send.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let api_validator = Validator::builder(&server.issuer, AUD)
        .public_url(&base)
        .dpop_nonce_secret(warden_jose::random_bytes::<32>().to_vec())
        .build()
        .await
        .unwrap();
    let router = Router::new()
        .route(
            "/charges",
            get(|Authenticated(token): Authenticated| async move { token.client_id().to_owned() }),
        )
        .route_layer(RequireScopeLayer::new(
            api_validator.clone(),
            ["payments:charge"],
        ))
        .with_state(api_validator);
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let response = client
        .send(
            reqwest::Client::new().get(format!("{base}/charges")),
            AUD,
            &["payments:charge"],
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_bound_tokens_from_warden_need_the_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::new(&dir.path().join("pki"));
    let server = TestServer::start_with(
        Backend::Sqlite,
        Options {
            tls: pki.tls_settings(true),
            ..Options::default()
        },
    )
    .await;
    server
        .api(AUD, "payments:charge", TokenFormat::Jwt, SigningAlg::ES256)
        .await;
    let cert = pki.client_cert(&ClientCertSpec::new("svc-a").organization("Example"));
    let info = server
        .client(NewClient {
            name: String::from("mtls client"),
            auth_method: TokenEndpointAuthMethod::TlsClientAuth,
            audiences: vec![AUD.to_owned()],
            tls: ClientTls {
                subject_dn: Some(cert.subject_dn.clone()),
                ..ClientTls::default()
            },
            ..NewClient::default()
        })
        .await;

    // tls_client_auth: only client_id in the form, the certificate on the HTTP client.
    let client = Client::builder(
        &server.issuer,
        Credentials::tls_client_auth(&info.client_id),
    )
    .http_client(pki.http_client(Some(&cert)))
    .build()
    .await
    .unwrap();
    let token = client.token(AUD, &["payments:charge"]).await.unwrap();
    assert_eq!(token.token_type(), "Bearer");

    let validator = Validator::builder(&server.issuer, AUD)
        .http_client(pki.http_client(None))
        .build()
        .await
        .unwrap();
    let request =
        || RequestInfo::new("GET", URL).authorization(format!("Bearer {}", token.token()));
    let accepted = validator
        .validate_request(&request().peer_certificate(cert.der.clone()))
        .await
        .unwrap();
    assert_eq!(
        accepted.certificate_thumbprint(),
        Some(cert.thumbprint().as_str())
    );
    assert_eq!(
        validator.validate_request(&request()).await.unwrap_err(),
        AuthError::Token(ValidationError::CertificateRequired)
    );
    let other = pki.client("svc-b");
    assert_eq!(
        validator
            .validate_request(&request().peer_certificate(other.der))
            .await
            .unwrap_err(),
        AuthError::Token(ValidationError::CertificateMismatch)
    );
}
