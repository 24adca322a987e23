//! The axum extractor and the tower layer: RFC 6750 §3 answers.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use tower::ServiceExt as _;
use warden_resource::{Authenticated, RequireScopeLayer, Validator};
use warden_testkit::{Backend, TestServer};
use warden_types::{SigningAlg, TokenEndpointAuthMethod, TokenFormat};

use crate::support::{AUD, warden_token};

struct Answer {
    status: StatusCode,
    challenge: Option<String>,
    body: String,
}

async fn call(app: &Router, path: &str, authorization: Option<&str>) -> Answer {
    let mut request = Request::get(path);
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    Answer {
        status,
        challenge,
        body: String::from_utf8(body.to_vec()).unwrap(),
    }
}

async fn app() -> (TestServer, Router, String) {
    let server = TestServer::start(Backend::Sqlite).await;
    server
        .api(
            AUD,
            "payments:charge payments:refund",
            TokenFormat::Jwt,
            SigningAlg::ES256,
        )
        .await;
    let (id, secret) = server
        .secret_client(TokenEndpointAuthMethod::ClientSecretBasic, &[AUD], None)
        .await;
    let token = warden_token(&server, &id, &secret, &[("scope", "payments:charge")]).await;
    let validator = Validator::builder(&server.issuer, AUD)
        .realm("payments")
        .build()
        .await
        .unwrap();

    let whoami = |Authenticated(token): Authenticated| async move { token.client_id().to_owned() };
    let app = Router::new()
        .route("/me", get(whoami))
        .merge(
            Router::new()
                .route("/charge", get(whoami))
                .route_layer(RequireScopeLayer::new(
                    validator.clone(),
                    ["payments:charge"],
                )),
        )
        .merge(
            Router::new()
                .route("/refund", get(whoami))
                .route_layer(RequireScopeLayer::new(
                    validator.clone(),
                    ["payments:charge", "payments:refund"],
                )),
        )
        .with_state(validator);
    (server, app, token)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn layer_and_extractor_answer_per_rfc6750() {
    let (_server, app, token) = app().await;
    let bearer = format!("Bearer {token}");

    for path in ["/me", "/charge"] {
        // No token: 401 and a challenge without an error code (RFC 6750 §3.1).
        let a = call(&app, path, None).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(a.challenge.as_deref(), Some(r#"Bearer realm="payments""#));
        assert_eq!(a.body, "");
        // Another scheme counts as no bearer token.
        let a = call(&app, path, Some("Basic Zm9vOmJhcg==")).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
        assert_eq!(a.challenge.as_deref(), Some(r#"Bearer realm="payments""#));

        // An invalid token: invalid_token.
        let a = call(&app, path, Some("Bearer eyJhbGciOiJFUzI1NiJ9.e30.c2ln")).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
        let challenge = a.challenge.unwrap();
        assert!(
            challenge.starts_with(
                r#"Bearer realm="payments", error="invalid_token", error_description=""#
            ),
            "{challenge}"
        );
        assert!(a.body.contains(r#""error":"invalid_token""#), "{}", a.body);

        // An empty bearer token is a malformed request.
        let a = call(&app, path, Some("Bearer ")).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST);
        assert!(a.challenge.unwrap().contains(r#"error="invalid_request""#));

        // The right token.
        let a = call(&app, path, Some(&bearer)).await;
        assert_eq!(a.status, StatusCode::OK, "{path}: {}", a.body);
    }

    // Valid token without payments:refund: 403 insufficient_scope naming what is needed.
    let a = call(&app, "/refund", Some(&bearer)).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert_eq!(
        a.challenge.as_deref(),
        Some(
            r#"Bearer realm="payments", error="insufficient_scope", error_description="the token lacks a required scope", scope="payments:charge payments:refund""#
        )
    );
    assert!(a.body.contains(r#""error":"insufficient_scope""#));
}
