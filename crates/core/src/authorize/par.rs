//! Pushed authorization requests (RFC 9126): the client sends its authorization request to
//! `/par` over an authenticated back channel and receives a short-lived, single-use
//! `request_uri` to put in the browser redirect instead of the parameters.

use std::sync::Arc;

use serde::Serialize;
use warden_types::{ErrorCode, UnixTime};

use super::AuthorizeError;
use super::request::{AuthorizationParams, AuthorizationRequest};
use crate::client_auth::CallContext;
use crate::engine::Engine;
use crate::error::OAuthError;
use crate::model::{Client, PendingKind, PendingRequest};
use crate::request::{FormParams, PresentedCredentials};
use crate::secrets::{PAR_PREFIX, generate_token, token_hash, well_formed};

/// RFC 9126 §2.2: the `request_uri` URN prefix.
pub const PAR_URN_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// RFC 9126 §2.2 success response (HTTP 201).
#[derive(Debug, Serialize)]
pub struct ParResponse {
    /// The reference to use at the authorization endpoint.
    pub request_uri: String,
    /// Seconds until it expires.
    pub expires_in: i64,
}

/// Parameters that authenticate the client; they are not part of the authorization request.
const AUTH_PARAMS: [&str; 3] = ["client_secret", "client_assertion", "client_assertion_type"];

impl Engine {
    /// Handles `/par`: authenticates the client like the token endpoint, validates the request
    /// exactly as `/authorize` would, and stores it.
    pub async fn push_authorization_request(
        &self,
        body: &[u8],
        authorization: Option<&str>,
        ctx: &CallContext<'_>,
    ) -> Result<ParResponse, OAuthError> {
        let mut form = FormParams::parse(body)?;
        let presented = PresentedCredentials::extract(&mut form, authorization)?;
        let client = self.authenticate_client(presented, ctx).await?;
        let mut params = AuthorizationParams::parse(body);
        for name in AUTH_PARAMS {
            params.remove(name);
        }
        // RFC 9126 §2.1: "The client_id parameter ... MUST" match the authenticated client.
        match params.get("client_id") {
            Some(id) if id != client.client().client_id.as_str() => {
                return Err(OAuthError::invalid_request(
                    "client_id does not match the authenticated client",
                ));
            }
            Some(_) => {}
            None => params.set("client_id", client.client().client_id.as_str()),
        }
        // RFC 9126 §2.1: "request_uri ... MUST NOT be provided".
        if params.get("request_uri").is_some() {
            return Err(OAuthError::invalid_request("request_uri cannot be pushed"));
        }
        let (c, redirect_uri, sent) = self.client_and_redirect(&params).map_err(to_oauth)?;
        let mut request = self
            .validate_authorization_request(&params, &c, redirect_uri, sent)
            .map_err(to_oauth)?;
        // RFC 9449 §10.1: a DPoP proof with the push binds the code to the proof's key; a
        // dpop_jkt sent as well must name that key.
        if let Some(jkt) = self.par_endpoint_dpop(ctx).await? {
            match &request.dpop_jkt {
                Some(requested) if *requested != jkt => {
                    return Err(OAuthError::invalid_request(
                        "dpop_jkt is not the thumbprint of the DPoP proof's key",
                    ));
                }
                Some(_) => {}
                None => request.dpop_jkt = Some(jkt),
            }
        }
        let reference = generate_token(PAR_PREFIX);
        let lifetime = self.config.people.par_lifetime;
        let data = serde_json::to_value(&request).map_err(|e| {
            tracing::error!(error = %e, "cannot encode pushed request");
            OAuthError::server_error()
        })?;
        self.store
            .insert_pending_request(&PendingRequest {
                id_hash: token_hash(reference.expose()),
                kind: PendingKind::Par,
                client_id: c.client_id.clone(),
                data,
                created_at: ctx.now,
                expires_at: ctx.now + lifetime,
            })
            .await?;
        Ok(ParResponse {
            request_uri: format!("{PAR_URN_PREFIX}{}", reference.expose()),
            expires_in: lifetime,
        })
    }

    /// Resolves a pushed request at `/authorize` (single use, RFC 9126 §4).
    pub(crate) async fn take_pushed_request(
        &self,
        params: &AuthorizationParams,
        request_uri: &str,
        now: UnixTime,
    ) -> Result<(AuthorizationRequest, Arc<Client>), AuthorizeError> {
        let invalid = || {
            AuthorizeError::page(
                ErrorCode::InvalidRequestUri,
                "The request has expired or was already used. Go back to the application and start again.",
            )
        };
        let Some(client_id) = params.get("client_id") else {
            return Err(AuthorizeError::page(
                ErrorCode::InvalidRequest,
                "The request does not name a client (client_id is missing).",
            ));
        };
        let reference = request_uri.trim_start_matches(PAR_URN_PREFIX);
        if !well_formed(reference, PAR_PREFIX) {
            return Err(invalid());
        }
        let Some(pending) = self
            .store
            .take_pending_request(PendingKind::Par, &token_hash(reference), now)
            .await?
        else {
            return Err(invalid());
        };
        if pending.client_id.as_str() != client_id {
            return Err(invalid());
        }
        let request: AuthorizationRequest =
            serde_json::from_value(pending.data).map_err(|_| invalid())?;
        let Some(client) = self.registry().client(client_id).cloned() else {
            return Err(AuthorizeError::page(
                ErrorCode::InvalidClient,
                "The application that sent you here is not registered.",
            ));
        };
        // The client's registration may have changed since the push.
        if !client
            .redirect_uris
            .iter()
            .any(|r| super::request::redirect_uri_matches(r, &request.redirect_uri))
        {
            return Err(AuthorizeError::page(
                ErrorCode::InvalidRequest,
                "The redirect URI is no longer registered for this application.",
            ));
        }
        Ok((request, client))
    }
}

/// A PAR validation failure as a JSON error (RFC 9126 §2.3).
fn to_oauth(err: AuthorizeError) -> OAuthError {
    match err {
        AuthorizeError::Page { code, description } => OAuthError::new(code, description),
        AuthorizeError::Redirect(r) => {
            let description = r
                .params
                .iter()
                .find(|(k, _)| k == "error_description")
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            let code = r
                .error_code()
                .and_then(|c| serde_json::from_value(serde_json::Value::String(c.to_owned())).ok())
                .unwrap_or(ErrorCode::InvalidRequest);
            OAuthError::new(code, description)
        }
    }
}
