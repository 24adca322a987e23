//! `client_secret_basic` and `client_secret_post` (RFC 6749 §2.3.1): the presented secret is
//! hashed with the server pepper and compared in constant time with the stored hash.

use warden_types::TokenEndpointAuthMethod;

use super::{AuthenticatedClient, require_method};
use crate::engine::Engine;
use crate::error::OAuthError;
use crate::request::PresentedCredentials;

impl Engine {
    pub(super) async fn authenticate_basic(
        &self,
        presented: PresentedCredentials,
    ) -> Result<AuthenticatedClient, OAuthError> {
        let Some((client_id, secret)) = presented.basic else {
            return Err(OAuthError::invalid_client("missing credentials"));
        };
        if let Some(body_id) = &presented.client_id
            && body_id != &client_id
        {
            return Err(OAuthError::invalid_request(
                "client_id does not match the Authorization header",
            ));
        }
        self.check_secret(
            &client_id,
            secret.expose(),
            TokenEndpointAuthMethod::ClientSecretBasic,
        )
    }

    pub(super) async fn authenticate_post(
        &self,
        presented: PresentedCredentials,
    ) -> Result<AuthenticatedClient, OAuthError> {
        let (Some(client_id), Some(secret)) = (presented.client_id, presented.client_secret) else {
            return Err(OAuthError::invalid_client(
                "client_secret_post needs both client_id and client_secret",
            ));
        };
        self.check_secret(
            &client_id,
            secret.expose(),
            TokenEndpointAuthMethod::ClientSecretPost,
        )
    }

    fn check_secret(
        &self,
        client_id: &str,
        secret: &str,
        method: TokenEndpointAuthMethod,
    ) -> Result<AuthenticatedClient, OAuthError> {
        let client = self.client_for_auth(client_id)?;
        let Some(stored) = &client.secret else {
            return Err(OAuthError::invalid_client(
                "unknown client or bad credentials",
            ));
        };
        // Hash before checking the method so a wrong-method probe costs the same time.
        let matches = self.hasher.verify(secret, &stored.hash);
        require_method(&client, method)?;
        if !matches {
            return Err(OAuthError::invalid_client(
                "unknown client or bad credentials",
            ));
        }
        Ok(AuthenticatedClient { client, method })
    }
}
