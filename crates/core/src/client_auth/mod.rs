//! Client authentication at the token, introspection and revocation endpoints
//! (RFC 6749 §2.3, RFC 7521/7523, OIDC Core §9). One module per method family:
//! [`secret`] for `client_secret_basic` / `client_secret_post`, [`assertion`] for
//! `client_secret_jwt` / `private_key_jwt`, [`jwks`] for the client keys the latter needs,
//! [`tls`] for `tls_client_auth` / `self_signed_tls_client_auth` (RFC 8705 §2).
//!
//! Only [`Engine::authenticate_client`] constructs an [`AuthenticatedClient`], so code that
//! needs an authenticated caller asks for that type.

pub mod assertion;
pub(crate) mod federated;
pub mod jwks;
pub mod secret;
pub mod tls;

use std::sync::Arc;

use warden_types::{TokenEndpointAuthMethod, UnixTime};

use crate::engine::Engine;
use crate::error::{Challenge, OAuthError};
use crate::model::{AuditEvent, Client};
use crate::request::PresentedCredentials;

/// RFC 7523 §2.2 client assertion type.
pub const JWT_BEARER_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A client whose credentials were checked. Only this module can make one.
#[derive(Debug, Clone)]
pub struct AuthenticatedClient {
    client: Arc<Client>,
    method: TokenEndpointAuthMethod,
}

impl AuthenticatedClient {
    /// The client.
    pub fn client(&self) -> &Arc<Client> {
        &self.client
    }

    /// How it authenticated.
    pub fn method(&self) -> TokenEndpointAuthMethod {
        self.method
    }

    /// Whether it is a public client (`none`).
    pub fn is_public(&self) -> bool {
        self.method == TokenEndpointAuthMethod::None
    }
}

/// Where the request arrived and from whom; used for assertion audiences and the audit trail.
#[derive(Debug, Clone)]
pub struct CallContext<'a> {
    /// The URL of the endpoint receiving the request.
    pub endpoint: &'a str,
    /// The peer address, for the audit trail.
    pub source: Option<String>,
    /// The current time.
    pub now: UnixTime,
    /// The client certificate of the connection (mutual TLS, RFC 8705), if any.
    pub certificate: Option<&'a crate::binding::PresentedCertificate>,
    /// The request's `DPoP` header (RFC 9449 §4), if exactly one was sent. (The transport
    /// refuses a request with several.)
    pub dpop: Option<&'a str>,
    /// The HTTP method, for the DPoP proof's `htm`.
    pub http_method: &'a str,
}

impl Engine {
    /// Authenticates the caller by exactly one method and checks that it is the method the
    /// client registered (RFC 6749 §2.3: "MUST NOT use more than one authentication method").
    pub async fn authenticate_client(
        &self,
        presented: PresentedCredentials,
        ctx: &CallContext<'_>,
    ) -> Result<AuthenticatedClient, OAuthError> {
        let basic_attempted = presented.basic_attempted;
        let claimed = presented
            .basic
            .as_ref()
            .map(|(id, _)| id.clone())
            .or_else(|| presented.client_id.clone());
        let result = self.authenticate_inner(presented, ctx).await;
        match result {
            Ok(client) => Ok(client),
            Err(mut err) => {
                if err.code == warden_types::ErrorCode::InvalidClient {
                    self.audit(AuditEvent {
                        at: ctx.now,
                        kind: String::from("client_auth_failed"),
                        actor: claimed.map(|c| c.chars().take(200).collect()),
                        source: ctx.source.clone(),
                        detail: serde_json::json!({
                            "endpoint": ctx.endpoint,
                            "reason": err.description,
                        }),
                    });
                    // RFC 6749 §5.2: a client that tried Basic gets a Basic challenge.
                    if basic_attempted {
                        err.challenge = Some(Challenge::Basic);
                    }
                }
                Err(err)
            }
        }
    }

    async fn authenticate_inner(
        &self,
        presented: PresentedCredentials,
        ctx: &CallContext<'_>,
    ) -> Result<AuthenticatedClient, OAuthError> {
        let uses_basic = presented.basic.is_some();
        let uses_post = presented.client_secret.is_some();
        let uses_assertion = presented.assertion.is_some() || presented.assertion_type.is_some();
        if [uses_basic, uses_post, uses_assertion]
            .iter()
            .filter(|b| **b)
            .count()
            > 1
        {
            return Err(OAuthError::invalid_request(
                "more than one client authentication method was used",
            ));
        }
        if uses_basic {
            return self.authenticate_basic(presented).await;
        }
        if uses_post {
            return self.authenticate_post(presented).await;
        }
        if uses_assertion {
            return self.authenticate_assertion(presented, ctx).await;
        }
        // No credentials in the request: a public client, identified by client_id, or a
        // mutual-TLS client (RFC 8705 §2: client_id is required), authenticated by the
        // connection's certificate. A certificate alone authenticates no other client.
        let Some(client_id) = presented.client_id else {
            return Err(OAuthError::invalid_client(
                "client authentication is required",
            ));
        };
        let client = self.client_for_auth(&client_id)?;
        if client.auth_method.is_mtls() {
            return self.authenticate_mtls(client, ctx).await;
        }
        if client.auth_method != TokenEndpointAuthMethod::None {
            return Err(OAuthError::invalid_client(format!(
                "client authentication is required (registered method: {})",
                client.auth_method
            )));
        }
        Ok(AuthenticatedClient {
            client,
            method: TokenEndpointAuthMethod::None,
        })
    }

    /// The client, or the one error every unknown client gets.
    pub(crate) fn client_for_auth(&self, client_id: &str) -> Result<Arc<Client>, OAuthError> {
        self.registry()
            .client(client_id)
            .cloned()
            .ok_or_else(|| OAuthError::invalid_client("unknown client or bad credentials"))
    }
}

/// Refuses a client that registered another method.
pub(crate) fn require_method(
    client: &Client,
    used: TokenEndpointAuthMethod,
) -> Result<(), OAuthError> {
    if client.auth_method == used {
        Ok(())
    } else {
        Err(OAuthError::invalid_client(format!(
            "client is registered for {}, not {}",
            client.auth_method, used
        )))
    }
}
