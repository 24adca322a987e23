//! The token endpoint (RFC 6749 §3.2): parse, authenticate the client, dispatch on
//! `grant_type` to one module per grant.

pub mod authorization_code;
pub mod client_credentials;
pub mod jwt_bearer;
pub mod refresh_token;
pub mod token_exchange;
mod user_tokens;

use warden_types::GrantType;
use warden_types::metadata::TokenResponse;

use crate::client_auth::CallContext;
use crate::engine::Engine;
use crate::error::OAuthError;
use crate::model::AuditEvent;
use crate::request::{FormParams, PresentedCredentials};

/// Grant types the token endpoint implements.
pub const SUPPORTED_GRANTS: [GrantType; 5] = [
    GrantType::ClientCredentials,
    GrantType::AuthorizationCode,
    GrantType::RefreshToken,
    GrantType::TokenExchange,
    GrantType::JwtBearer,
];

/// What a grant produced: the response and, for the audit trail, the audience.
#[derive(Debug)]
pub(crate) struct Granted {
    pub(crate) response: TokenResponse,
    pub(crate) audience: String,
}

/// The result of a token request, with labels for metrics.
#[derive(Debug)]
pub struct TokenResult {
    /// The response or the error.
    pub outcome: Result<TokenResponse, OAuthError>,
    /// `grant_type` as a bounded label (`other` for unknown values).
    pub grant: &'static str,
    /// The authentication method, when authentication succeeded.
    pub method: Option<&'static str>,
}

fn grant_label(grant: Option<&GrantType>) -> &'static str {
    match grant {
        None => "missing",
        Some(GrantType::ClientCredentials) => "client_credentials",
        Some(GrantType::AuthorizationCode) => "authorization_code",
        Some(GrantType::RefreshToken) => "refresh_token",
        Some(GrantType::TokenExchange) => "token_exchange",
        Some(GrantType::JwtBearer) => "jwt_bearer",
        Some(GrantType::Other(_)) => "other",
    }
}

impl Engine {
    /// Handles a token request: `body` is the raw form, `authorization` the header value.
    pub async fn token(
        &self,
        body: &[u8],
        authorization: Option<&str>,
        ctx: &CallContext<'_>,
    ) -> TokenResult {
        let mut method = None;
        let mut grant = None;
        let mut client_id = None;
        let outcome = self
            .token_inner(
                body,
                authorization,
                ctx,
                &mut grant,
                &mut method,
                &mut client_id,
            )
            .await;
        let label = grant_label(grant.as_ref());
        match &outcome {
            Ok(resp) => self.audit(AuditEvent {
                at: ctx.now,
                kind: String::from("token_issued"),
                actor: client_id.clone(),
                source: ctx.source.clone(),
                detail: serde_json::json!({
                    "grant_type": label,
                    "aud": resp.audience,
                    "scope": resp.response.scope.as_ref().map(|s| s.to_string()),
                    "expires_in": resp.response.expires_in,
                }),
            }),
            Err(err) => self.audit(AuditEvent {
                at: ctx.now,
                kind: String::from("token_refused"),
                actor: client_id,
                source: ctx.source.clone(),
                detail: serde_json::json!({
                    "grant_type": label,
                    "error": err.code.as_str(),
                    "reason": err.description,
                }),
            }),
        }
        TokenResult {
            outcome: outcome.map(|granted| granted.response),
            grant: label,
            method,
        }
    }

    async fn token_inner(
        &self,
        body: &[u8],
        authorization: Option<&str>,
        ctx: &CallContext<'_>,
        grant_out: &mut Option<GrantType>,
        method_out: &mut Option<&'static str>,
        client_out: &mut Option<String>,
    ) -> Result<Granted, OAuthError> {
        let mut form = FormParams::parse(body)?;
        let presented = PresentedCredentials::extract(&mut form, authorization)?;
        let Some(grant_type) = form.get("grant_type").map(GrantType::parse) else {
            return Err(OAuthError::invalid_request("grant_type is required"));
        };
        *grant_out = Some(grant_type.clone());
        // RFC 7523 §3.1: with the JWT bearer grant, client authentication is optional; the
        // assertion itself identifies the workload.
        if grant_type == GrantType::JwtBearer && presented.identifies_only() {
            return self
                .jwt_bearer(None, presented.client_id.as_deref(), &form, ctx, client_out)
                .await;
        }
        let client = self.authenticate_client(presented, ctx).await?;
        *method_out = Some(client.method().as_str());
        *client_out = Some(client.client().client_id.as_str().to_owned());
        if !SUPPORTED_GRANTS.contains(&grant_type) {
            return Err(OAuthError::new(
                warden_types::ErrorCode::UnsupportedGrantType,
                "this grant type is not supported",
            ));
        }
        if grant_type == GrantType::JwtBearer {
            // The mapped client's grant types are checked once the assertion names it.
            return self
                .jwt_bearer(Some(&client), None, &form, ctx, client_out)
                .await;
        }
        if !client.client().grant_types.contains(&grant_type) {
            return Err(OAuthError::unauthorized_client(format!(
                "the client is not allowed the {grant_type} grant"
            )));
        }
        let cnf = self.sender_confirmation(client.client(), ctx).await?;
        let now = ctx.now;
        match grant_type {
            GrantType::ClientCredentials => {
                self.client_credentials(&client, &form, &cnf, now).await
            }
            GrantType::AuthorizationCode => {
                self.authorization_code(&client, &form, &cnf, now).await
            }
            GrantType::RefreshToken => self.refresh_token(&client, &form, &cnf, now).await,
            GrantType::TokenExchange => self.token_exchange(&client, &form, &cnf, now).await,
            _ => Err(OAuthError::new(
                warden_types::ErrorCode::UnsupportedGrantType,
                "this grant type is not supported",
            )),
        }
    }
}
