//! Logout: OpenID Connect RP-Initiated Logout 1.0 (`end_session_endpoint`) ends the browser
//! session, and OpenID Connect Back-Channel Logout 1.0 tells every client that received an ID
//! token in that session, by a signed logout token POSTed server to server.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use warden_jose::parse_compact;
use warden_types::{ErrorCode, UnixTime};

use crate::authorize::AuthorizeError;
use crate::authorize::request::{AuthorizationParams, redirect_uri_matches};
use crate::engine::Engine;
use crate::model::{AuditEvent, Client, Session};
use crate::secrets::{SESSION_PREFIX, random_id, token_hash, well_formed};

/// Back-Channel Logout §2.4: the `typ` of logout tokens.
pub const LOGOUT_TOKEN_TYPE: &str = "logout+jwt";
/// Back-Channel Logout §2.4: the event member.
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// Lifetime of a logout token (Back-Channel Logout §2.4 recommends at most two minutes).
const LOGOUT_TOKEN_LIFETIME: i64 = 120;

/// A validated logout request.
#[derive(Debug, Clone, Default)]
pub struct LogoutRequest {
    /// The client that asked, if known (from `id_token_hint` or `client_id`).
    pub client: Option<Arc<Client>>,
    /// The user the ID token hint names.
    pub hint_sub: Option<String>,
    /// Where to send the browser afterwards (with `state` appended).
    pub redirect: Option<String>,
    /// The raw parameters to carry through a confirmation form.
    pub carried: Vec<(String, String)>,
}

/// A logout token to deliver to a client.
#[derive(Debug, Clone)]
pub struct BackchannelNotice {
    /// The client.
    pub client_id: String,
    /// Its `backchannel_logout_uri`.
    pub uri: String,
    /// The signed logout token.
    pub logout_token: String,
}

#[derive(Deserialize)]
struct HintClaims {
    iss: String,
    sub: String,
    aud: serde_json::Value,
}

#[derive(Serialize)]
struct LogoutClaims<'a> {
    iss: &'a str,
    aud: &'a str,
    iat: UnixTime,
    exp: UnixTime,
    jti: String,
    sub: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    sid: Option<&'a str>,
    events: serde_json::Value,
}

fn page(description: &'static str) -> AuthorizeError {
    AuthorizeError::page(ErrorCode::InvalidRequest, description)
}

impl Engine {
    /// Validates an RP-initiated logout request (GET query or POST form).
    pub fn validate_logout(&self, raw: &[u8]) -> Result<LogoutRequest, AuthorizeError> {
        let params = AuthorizationParams::parse(raw);
        if params.repeated().is_some() {
            return Err(page("The logout request repeats a parameter."));
        }
        let mut out = LogoutRequest::default();
        for name in [
            "id_token_hint",
            "client_id",
            "post_logout_redirect_uri",
            "state",
        ] {
            if let Some(v) = params.get(name) {
                out.carried.push((name.to_owned(), v.to_owned()));
            }
        }
        let registry = self.registry();
        let mut hint_client = None;
        if let Some(hint) = params.get("id_token_hint") {
            // RP-Initiated Logout §2: the OP need not accept only unexpired ID tokens, so the
            // signature and issuer are checked but not `exp`.
            let (sub, aud) = self
                .verify_id_token_hint(hint)
                .ok_or_else(|| page("The ID token hint is not valid."))?;
            hint_client = Some(aud);
            out.hint_sub = Some(sub);
        }
        let client_id = match (hint_client, params.get("client_id")) {
            (Some(a), Some(b)) if a != b => {
                return Err(page("client_id does not match the ID token hint."));
            }
            (Some(a), _) => Some(a),
            (None, b) => b.map(str::to_owned),
        };
        if let Some(id) = &client_id {
            out.client = Some(
                registry
                    .client(id)
                    .cloned()
                    .ok_or_else(|| page("The application is not registered."))?,
            );
        }
        if let Some(uri) = params.get("post_logout_redirect_uri") {
            // RP-Initiated Logout §3: the URI must have been registered, so the client must be
            // known to check it.
            let Some(client) = &out.client else {
                return Err(page(
                    "post_logout_redirect_uri needs id_token_hint or client_id.",
                ));
            };
            if !client
                .oidc
                .post_logout_redirect_uris
                .iter()
                .any(|r| redirect_uri_matches(r, uri))
            {
                return Err(page(
                    "The post-logout redirect URI is not registered for this application.",
                ));
            }
            let mut target = url::Url::parse(uri).map_err(|_| page("Invalid redirect URI."))?;
            if let Some(state) = params.get("state") {
                target.query_pairs_mut().append_pair("state", state);
            }
            out.redirect = Some(target.to_string());
        }
        Ok(out)
    }

    /// Checks an ID token we issued (any age): returns its subject and audience.
    fn verify_id_token_hint(&self, token: &str) -> Option<(String, String)> {
        let jws = parse_compact(token).ok()?;
        // Only ID tokens: not access tokens (`at+jwt`) or logout tokens (`logout+jwt`), which
        // the same keys sign.
        if !jws.typ().is_none_or(|t| t.eq_ignore_ascii_case("JWT")) {
            return None;
        }
        let ring = self.key_ring();
        let (alg, key) = jws.kid().and_then(|kid| ring.verifier(kid))?;
        let claims = jws
            .verify_with_key::<HintClaims>(key, &[alg.jws()])
            .ok()?
            .into_claims();
        if claims.iss != self.config.issuer {
            return None;
        }
        let aud = match claims.aud {
            serde_json::Value::String(s) => s,
            serde_json::Value::Array(list) => list.first()?.as_str()?.to_owned(),
            _ => return None,
        };
        Some((claims.sub, aud))
    }

    /// Ends the session behind `cookie` (if any) and returns the back-channel logout
    /// notices to send.
    pub async fn end_session(
        &self,
        cookie: Option<&str>,
        source: Option<&str>,
        now: UnixTime,
    ) -> Result<Vec<BackchannelNotice>, AuthorizeError> {
        let Some(cookie) = cookie.filter(|c| well_formed(c, SESSION_PREFIX)) else {
            return Ok(Vec::new());
        };
        let Some(session) = self.store.delete_session(&token_hash(cookie)).await? else {
            return Ok(Vec::new());
        };
        self.audit(AuditEvent {
            at: now,
            kind: String::from("logout"),
            actor: Some(session.user_sub.clone()),
            source: source.map(str::to_owned),
            detail: serde_json::json!({ "sid": session.sid, "clients": session.clients.len() }),
        });
        Ok(self.backchannel_notices(&session, now))
    }

    /// Logout tokens for each client of a session that registered a back-channel URI.
    pub fn backchannel_notices(&self, session: &Session, now: UnixTime) -> Vec<BackchannelNotice> {
        let registry = self.registry();
        let ring = self.key_ring();
        let mut out = Vec::new();
        for client_id in &session.clients {
            let Some(client) = registry.client(client_id.as_str()) else {
                continue;
            };
            let Some(uri) = &client.oidc.backchannel_logout_uri else {
                continue;
            };
            let Some(key) = ring.active(client.id_token_alg()) else {
                continue;
            };
            let claims = LogoutClaims {
                iss: &self.config.issuer,
                aud: client.client_id.as_str(),
                iat: now,
                exp: now + LOGOUT_TOKEN_LIFETIME,
                jti: random_id(),
                sub: &session.user_sub,
                sid: Some(&session.sid),
                events: serde_json::json!({ BACKCHANNEL_LOGOUT_EVENT: {} }),
            };
            match key.sign_jwt(LOGOUT_TOKEN_TYPE, &claims) {
                Ok(token) => out.push(BackchannelNotice {
                    client_id: client.client_id.as_str().to_owned(),
                    uri: uri.clone(),
                    logout_token: token,
                }),
                Err(e) => tracing::error!(error = %e, "logout token signing failed"),
            }
        }
        out
    }
}
