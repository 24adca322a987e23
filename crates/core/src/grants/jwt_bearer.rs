//! RFC 7523 §2.1 JWT bearer authorization grant, for workload identity: the `assertion` is a
//! token from a trusted external issuer (a Kubernetes service-account token, a SPIFFE
//! JWT-SVID, a CI job's OIDC token) whose subject the operator mapped to a Warden client. The
//! token is issued to that client exactly as by client credentials, without any stored secret.

use warden_jose::parse_compact;
use warden_types::GrantType;

use super::Granted;
use crate::client_auth::{AuthenticatedClient, CallContext};
use crate::engine::Engine;
use crate::error::OAuthError;
use crate::model::Client;
use crate::request::FormParams;

/// Longest assertion accepted (platform tokens are a few kilobytes at most).
const MAX_ASSERTION_LEN: usize = 16 * 1024;

impl Engine {
    /// `authenticated` is the client that authenticated alongside the assertion, if any
    /// (RFC 7523 §3.1: client authentication is optional with this grant); `named` a
    /// `client_id` sent without credentials, which must then be the mapped client.
    pub(crate) async fn jwt_bearer(
        &self,
        authenticated: Option<&AuthenticatedClient>,
        named: Option<&str>,
        form: &FormParams,
        ctx: &CallContext<'_>,
        client_out: &mut Option<String>,
    ) -> Result<Granted, OAuthError> {
        let Some(assertion) = form.get("assertion") else {
            return Err(OAuthError::invalid_request("assertion is required"));
        };
        if assertion.len() > MAX_ASSERTION_LEN {
            return Err(OAuthError::invalid_grant("assertion is too long"));
        }
        let jws = parse_compact(assertion)
            .map_err(|_| OAuthError::invalid_grant("malformed assertion"))?;
        // RFC 7523 §3: "The JWT MUST contain an "iss" (issuer) claim". Only issuers the
        // operator trusts are accepted.
        let Some(issuer) = self.trusted_issuer_of(&jws) else {
            return Err(OAuthError::invalid_grant(
                "the assertion's issuer is not trusted",
            ));
        };
        let identity = self
            .verify_federated(&issuer, assertion, jws, ctx)
            .await
            .map_err(|e| e.into_oauth(OAuthError::invalid_grant))?;
        let client: &Client = &identity.client;
        *client_out = Some(client.client_id.as_str().to_owned());
        let claimed = authenticated
            .map(|a| a.client().client_id.as_str())
            .or(named);
        if claimed.is_some_and(|id| id != client.client_id.as_str()) {
            return Err(OAuthError::invalid_grant(
                "the assertion names a different client than the one that authenticated",
            ));
        }
        if client.auth_method == warden_types::TokenEndpointAuthMethod::None {
            return Err(OAuthError::unauthorized_client(
                "public clients cannot use the JWT bearer grant",
            ));
        }
        if !client.grant_types.contains(&GrantType::JwtBearer) {
            return Err(OAuthError::unauthorized_client(
                "the client is not allowed the JWT bearer grant",
            ));
        }
        let cnf = self.sender_confirmation(client, ctx).await?;
        self.issue_client_token(client, form, &cnf, ctx.now).await
    }
}
