//! `GET|POST /logout`: OpenID Connect RP-Initiated Logout 1.0, with a confirmation page
//! unless the request proves it comes from the user's own relying party (a valid
//! `id_token_hint` for the logged-in user), and Back-Channel Logout notices to the clients of
//! the ended session.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use warden_core::authorize::AuthorizeError;
use warden_core::config::endpoint_url;
use warden_core::logout::BackchannelNotice;
use warden_types::ErrorCode;

use super::authorize::{Form, csrf_binding, error_page, form_page, redirect};
use crate::pages::{LoggedOutPage, LogoutPage, html_response};
use crate::state::AppState;

/// The parameters of an RP-initiated logout request.
const LOGOUT_PARAMS: [&str; 6] = [
    "id_token_hint",
    "client_id",
    "post_logout_redirect_uri",
    "state",
    "logout_hint",
    "ui_locales",
];

/// CSRF form id of the logout confirmation.
const LOGOUT_FORM: &str = "logout";

/// `GET /logout`.
pub async fn logout_get(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let raw = query.unwrap_or_default();
    logout(&state, &headers, raw.as_bytes(), None, peer).await
}

/// `POST /logout`: a logout request as a form, or the confirmation form.
pub async fn logout_post(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = Form::parse(&body);
    let decision = form.get("decision").map(str::to_owned);
    if decision.is_none() && state.cookies.session(&headers).is_none() {
        // A logout request POSTed from the relying party's site arrives without the session
        // cookie (SameSite=Lax keeps it off cross-site POSTs). Send the browser to the same
        // request as a top-level GET, which carries the cookie, rather than reporting a
        // logout that did not happen.
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(
                LOGOUT_PARAMS
                    .iter()
                    .filter_map(|name| form.get(name).map(|value| (*name, value))),
            )
            .finish();
        let target = endpoint_url(&state.engine.config().issuer, "/logout");
        return redirect(&format!("{target}?{query}"), StatusCode::SEE_OTHER);
    }
    if decision.is_some()
        && !state
            .engine
            .verify_csrf(state.cookies.csrf(&headers), LOGOUT_FORM, form.get("csrf"))
    {
        return error_page(
            &state,
            StatusCode::FORBIDDEN,
            "This form has expired",
            "The logout form was not submitted from this site or has expired. You are still signed in.",
            Some(ErrorCode::AccessDenied),
        );
    }
    logout(&state, &headers, &body, decision.as_deref(), peer).await
}

async fn logout(
    state: &AppState,
    headers: &HeaderMap,
    raw: &[u8],
    decision: Option<&str>,
    peer: SocketAddr,
) -> Response {
    let engine = &state.engine;
    let now = state.clock.now();
    let request = match engine.validate_logout(raw) {
        Ok(r) => r,
        Err(AuthorizeError::Page { code, description }) => {
            return error_page(
                state,
                StatusCode::BAD_REQUEST,
                "We can't sign you out from this link",
                &description,
                Some(code),
            );
        }
        Err(AuthorizeError::Redirect(_)) => {
            return error_page(
                state,
                StatusCode::BAD_REQUEST,
                "We can't sign you out from this link",
                "The logout request is invalid.",
                Some(ErrorCode::InvalidRequest),
            );
        }
    };
    let cookie = state.cookies.session(headers);
    let current = engine
        .current_session(cookie, now)
        .await
        .unwrap_or_default();
    if decision == Some("cancel") {
        let body = state.pages.logged_out(&LoggedOutPage {
            message: "You are still signed in.",
        });
        return html_response(&state.pages, StatusCode::OK, body);
    }
    let hint_matches = match (&current, &request.hint_sub) {
        (Some((_, user)), Some(sub)) => &user.sub == sub,
        _ => false,
    };
    if current.is_some() && decision != Some("logout") && !hint_matches {
        // Ask: anyone can link to /logout, and being logged out by a stranger's link is an
        // annoyance (RP-Initiated Logout §2: the OP "SHOULD ask the End-User whether to log
        // out").
        let (binding, new_binding) = csrf_binding(state, headers);
        let csrf = engine.csrf_token(&binding, LOGOUT_FORM);
        let hidden: Vec<(&str, &str)> = request
            .carried
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let body = state.pages.logout_confirm(&LogoutPage {
            action: &endpoint_url(&engine.config().issuer, "/logout"),
            csrf: &csrf,
            client_name: request.client.as_ref().map(|c| c.name.as_str()),
            hidden: &hidden,
        });
        return form_page(state, body, &binding, new_binding);
    }
    let source = peer.ip().to_string();
    match engine.end_session(cookie, Some(&source), now).await {
        Ok(notices) => deliver(state, notices),
        Err(_) => {
            return error_page(
                state,
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "The server could not end your session. Please try again.",
                Some(ErrorCode::ServerError),
            );
        }
    }
    let mut response = match &request.redirect {
        Some(target) => redirect(target, StatusCode::SEE_OTHER),
        None => {
            let body = state.pages.logged_out(&LoggedOutPage {
                message: "You have been signed out.",
            });
            html_response(&state.pages, StatusCode::OK, body)
        }
    };
    if let Some(v) = state.cookies.clear_session() {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

/// Sends Back-Channel Logout tokens in the background (Back-Channel Logout §2.5: POST,
/// form-encoded `logout_token`); failures are logged, never shown to the user.
fn deliver(state: &AppState, notices: Vec<BackchannelNotice>) {
    for notice in notices {
        let http = state.http.clone();
        tokio::spawn(async move {
            let result = http
                .post(&notice.uri)
                .timeout(Duration::from_secs(5))
                .form(&[("logout_token", notice.logout_token.as_str())])
                .send()
                .await;
            match result {
                Ok(r) if r.status().is_success() => {
                    tracing::info!(client_id = %notice.client_id, "back-channel logout delivered");
                }
                Ok(r) => tracing::warn!(
                    client_id = %notice.client_id,
                    status = r.status().as_u16(),
                    "back-channel logout refused"
                ),
                Err(e) => tracing::warn!(
                    client_id = %notice.client_id,
                    error = %e,
                    "back-channel logout failed"
                ),
            }
        });
    }
}
