//! Every route of the public surface, in one place.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{Method, StatusCode, header};
use axum::routing::{get, post};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::CorsLayer;
use tower_http::timeout::TimeoutLayer;
use warden_types::ErrorCode;

use crate::handlers::{
    authorize, discovery, health, introspect, logout, par, register, revoke, token, userinfo,
};
use crate::http_error::HttpError;
use crate::observe;
use crate::state::AppState;
use crate::tls::{ProxyHeader, proxy_certificate};

/// The endpoints, without layers (mounted at the root, and under the issuer's path).
fn endpoints() -> Router<Arc<AppState>> {
    // Endpoints a single-page app calls from the browser: readable cross-origin. No cookie
    // is involved (credentials travel in the body or the Authorization header), so any
    // origin may call them; the cookie-bearing pages are not in this group.
    let cors = CorsLayer::new()
        .allow_origin(tower_http::cors::Any)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::HeaderName::from_static("dpop"),
        ])
        // RFC 9449: a browser client reads the server nonce and the DPoP challenge.
        .expose_headers([
            header::HeaderName::from_static("dpop-nonce"),
            header::WWW_AUTHENTICATE,
        ])
        .max_age(Duration::from_secs(600));
    let browser_callable = Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(discovery::openid_configuration),
        )
        .route(
            "/.well-known/oauth-authorization-server",
            get(discovery::oauth_authorization_server),
        )
        .route("/jwks", get(discovery::jwks))
        .route("/token", post(token::token))
        .route("/revoke", post(revoke::revoke))
        .route(
            "/userinfo",
            get(userinfo::userinfo_get).post(userinfo::userinfo_post),
        )
        .layer(cors);
    Router::new()
        .merge(browser_callable)
        .route(
            "/authorize",
            get(authorize::authorize_get).post(authorize::authorize_post),
        )
        .route("/login", post(authorize::login))
        .route("/consent", post(authorize::consent))
        .route("/par", post(par::par))
        .route("/logout", get(logout::logout_get).post(logout::logout_post))
        .route("/introspect", post(introspect::introspect))
        .route("/register", post(register::create))
        .route(
            "/register/{client_id}",
            get(register::read)
                .put(register::update)
                .delete(register::delete),
        )
}

/// The path component of the issuer, if it has one (`https://auth.example.com/tenant` →
/// `/tenant`).
pub fn issuer_path(issuer: &str) -> Option<String> {
    let url = url::Url::parse(issuer).ok()?;
    let path = url.path().trim_end_matches('/');
    (!path.is_empty()).then(|| path.to_owned())
}

/// The application router. `proxy`, when a client certificate header is configured, reads
/// certificates from a TLS-terminating proxy (see [`crate::tls::ProxyHeader`]).
pub fn router(state: Arc<AppState>, proxy: Option<ProxyHeader>) -> Router {
    let body_limit = state.settings.request_body_limit;
    let timeout = Duration::from_secs(state.settings.request_timeout);
    let mut app = endpoints()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics));
    if let Some(path) = issuer_path(&state.engine.config().issuer) {
        // An issuer with a path: RFC 8414 §3 inserts the well-known segment between host and
        // path, and the advertised endpoints (issuer + /token, ...) are served as well, so a
        // path issuer works with or without a prefix-stripping proxy in front.
        app = app
            .route(
                &format!("/.well-known/oauth-authorization-server{path}"),
                get(discovery::oauth_authorization_server),
            )
            .nest(&path, endpoints());
    }
    let mut app = app
        .fallback(not_found)
        // Innermost first: the body limit applies in the extractors (so an oversized body is
        // a JSON 413 from `extract`), the timeout and panic guard wrap the handler, the proxy
        // certificate header is read (or refused with a 400) before all of them, and
        // `observe` wraps everything so every response is counted, logged and JSON.
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .layer(CatchPanicLayer::custom(observe::panic_response));
    if let Some(proxy) = proxy {
        app = app.layer(axum::middleware::from_fn_with_state(
            Arc::new(proxy),
            proxy_certificate,
        ));
    }
    app.layer(axum::middleware::from_fn_with_state(
        state.clone(),
        observe::observe,
    ))
    .with_state(state)
}

async fn not_found() -> HttpError {
    HttpError::with_status(
        StatusCode::NOT_FOUND,
        ErrorCode::InvalidRequest,
        "no such endpoint",
    )
}
