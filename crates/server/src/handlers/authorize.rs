//! `GET|POST /authorize` and the login and consent forms (`POST /login`, `POST /consent`):
//! thin wrappers that read cookies and forms, call the engine, and render its decision as a
//! redirect, an auto-submitted form, or a page.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use warden_core::authorize::{
    AuthorizationResponse, AuthorizeError, AuthorizeOutcome, InteractionView, ResponseMode,
};
use warden_core::config::endpoint_url;
use warden_core::session::new_csrf_binding;
use warden_types::{ErrorCode, SecretString};

use crate::extract::FormBody;
use crate::pages::{ConsentItem, ConsentPage, ErrorPage, LoginPage, html_response};
use crate::state::AppState;

/// `GET /authorize`.
pub async fn authorize_get(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let raw = query.unwrap_or_default();
    authorize(&state, &headers, raw.as_bytes(), StatusCode::FOUND).await
}

/// `POST /authorize` (OIDC Core §3.1.2.1: the request may be form-encoded).
pub async fn authorize_post(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    FormBody(body): FormBody,
) -> Response {
    authorize(&state, &headers, &body, StatusCode::SEE_OTHER).await
}

async fn authorize(
    state: &AppState,
    headers: &HeaderMap,
    raw: &[u8],
    redirect_status: StatusCode,
) -> Response {
    let session = state.cookies.session(headers);
    let outcome = state
        .engine
        .authorize(raw, session, state.clock.now())
        .await;
    render(state, headers, outcome, redirect_status)
}

/// `POST /login`: the login form.
pub async fn login(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    FormBody(body): FormBody,
) -> Response {
    let form = Form::parse(&body);
    let reference = form.get("interaction").unwrap_or_default();
    if !state
        .engine
        .verify_csrf(state.cookies.csrf(&headers), reference, form.get("csrf"))
    {
        return csrf_failure(&state);
    }
    let username = form.get("username").unwrap_or_default();
    let password = SecretString::new(form.get("password").unwrap_or_default());
    let source = peer.ip().to_string();
    let result = state
        .engine
        .submit_login(
            reference,
            username,
            password,
            state.cookies.session(&headers),
            Some(&source),
            state.clock.now(),
        )
        .await;
    let mut response = render(&state, &headers, result.outcome, StatusCode::SEE_OTHER);
    if let Some((cookie, expires)) = result.new_session
        && let Some(value) = state
            .cookies
            .set_session(cookie.expose(), expires - state.clock.now())
    {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// `POST /consent`: the consent form.
pub async fn consent(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    FormBody(body): FormBody,
) -> Response {
    let form = Form::parse(&body);
    let reference = form.get("interaction").unwrap_or_default();
    if !state
        .engine
        .verify_csrf(state.cookies.csrf(&headers), reference, form.get("csrf"))
    {
        return csrf_failure(&state);
    }
    let allow = match form.get("decision") {
        Some("allow") => true,
        Some("deny") => false,
        _ => {
            return error_page(
                &state,
                StatusCode::BAD_REQUEST,
                "Something went wrong",
                "The form did not say whether to allow or deny the request.",
                Some(ErrorCode::InvalidRequest),
            );
        }
    };
    let outcome = state
        .engine
        .submit_consent(
            reference,
            allow,
            state.cookies.session(&headers),
            state.clock.now(),
        )
        .await;
    render(&state, &headers, outcome, StatusCode::SEE_OTHER)
}

/// A decoded form (last value wins is never needed: duplicates are rejected by the engine
/// where they matter; here only our own form fields are read).
pub(crate) struct Form(Vec<(String, String)>);

impl Form {
    pub(crate) fn parse(body: &Bytes) -> Self {
        Self(url::form_urlencoded::parse(body).into_owned().collect())
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn csrf_failure(state: &AppState) -> Response {
    error_page(
        state,
        StatusCode::FORBIDDEN,
        "This form has expired",
        "The form was not submitted from this site or has expired. Go back to the application and start again.",
        Some(ErrorCode::AccessDenied),
    )
}

pub(crate) fn error_page(
    state: &AppState,
    status: StatusCode,
    title: &str,
    message: &str,
    code: Option<ErrorCode>,
) -> Response {
    let body = state.pages.error(&ErrorPage {
        title,
        message,
        error_code: code.map(ErrorCode::as_str),
        request_id: None,
    });
    html_response(&state.pages, status, body)
}

/// Turns the engine's decision into HTTP.
fn render(
    state: &AppState,
    headers: &HeaderMap,
    outcome: Result<AuthorizeOutcome, AuthorizeError>,
    redirect_status: StatusCode,
) -> Response {
    match outcome {
        Ok(AuthorizeOutcome::Respond(r)) | Err(AuthorizeError::Redirect(r)) => {
            respond(state, &r, redirect_status)
        }
        Ok(AuthorizeOutcome::Login(view)) => interaction_page(state, headers, &view, true),
        Ok(AuthorizeOutcome::Consent(view)) => interaction_page(state, headers, &view, false),
        Err(AuthorizeError::Page { code, description }) => {
            let status = if code == ErrorCode::ServerError {
                StatusCode::INTERNAL_SERVER_ERROR
            } else {
                StatusCode::BAD_REQUEST
            };
            error_page(
                state,
                status,
                "We can't continue with this request",
                &description,
                Some(code),
            )
        }
    }
}

/// Delivers an authorization response to the client.
pub(crate) fn respond(
    state: &AppState,
    response: &AuthorizationResponse,
    redirect_status: StatusCode,
) -> Response {
    if response.mode == ResponseMode::FormPost {
        let params: Vec<(&str, &str)> = response
            .params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let body = state.pages.form_post(&response.redirect_uri, &params);
        return html_response(&state.pages, StatusCode::OK, body);
    }
    redirect(&response.location(), redirect_status)
}

pub(crate) fn redirect(location: &str, status: StatusCode) -> Response {
    let mut r = status.into_response();
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(location) {
        h.insert(header::LOCATION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    r
}

/// The login or consent page, with a CSRF token bound to the browser.
fn interaction_page(
    state: &AppState,
    headers: &HeaderMap,
    view: &InteractionView,
    login: bool,
) -> Response {
    let (binding, new_binding) = csrf_binding(state, headers);
    let reference = view.interaction.expose();
    let csrf = state.engine.csrf_token(&binding, reference);
    let issuer = &state.engine.config().issuer;
    let body = if login {
        state.pages.login(&LoginPage {
            action: &endpoint_url(issuer, "/login"),
            csrf: &csrf,
            interaction: reference,
            client_name: &view.client_name,
            username: view.login_hint.as_deref().unwrap_or_default(),
            error: view.error.as_deref(),
            notice: view.notice,
        })
    } else {
        let items: Vec<ConsentItem<'_>> = view
            .consent_items
            .iter()
            .map(|(scope, description)| ConsentItem { scope, description })
            .collect();
        state.pages.consent(&ConsentPage {
            action: &endpoint_url(issuer, "/consent"),
            csrf: &csrf,
            interaction: reference,
            client_name: &view.client_name,
            client_uri: view.client_uri.as_deref(),
            logo_uri: view.logo_uri.as_deref(),
            user_display: view.user_display.as_deref().unwrap_or_default(),
            items: &items,
            api_name: view.api_name.as_deref(),
        })
    };
    // A failed login is answered with the form again and 200: the page says what went wrong.
    form_page(state, body, &binding, new_binding)
}

/// The browser's CSRF binding (see `warden_core::session`), or a fresh one to set.
pub(crate) fn csrf_binding(state: &AppState, headers: &HeaderMap) -> (String, bool) {
    match state.cookies.csrf(headers) {
        Some(b) if b.len() == 43 => (b.to_owned(), false),
        _ => (new_csrf_binding(), true),
    }
}

/// A page holding a CSRF-protected form, setting the binding cookie if it is new.
pub(crate) fn form_page(state: &AppState, body: String, binding: &str, new: bool) -> Response {
    let mut response = html_response(&state.pages, StatusCode::OK, body);
    if new && let Some(v) = state.cookies.set_csrf(binding) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}
