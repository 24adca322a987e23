//! RFC 6749 §4.4 client credentials grant: a confidential client obtains a token for itself,
//! for one API, with scopes it was granted on that API.

use warden_types::UnixTime;
use warden_types::metadata::TokenResponse;

use super::Granted;
use crate::binding::Confirmation;
use crate::client_auth::AuthenticatedClient;
use crate::engine::Engine;
use crate::error::OAuthError;
use crate::mint::TokenSubject;
use crate::model::Client;
use crate::request::FormParams;
use crate::target::{resolve_api, resolve_scope};

impl Engine {
    pub(crate) async fn client_credentials(
        &self,
        client: &AuthenticatedClient,
        form: &FormParams,
        cnf: &Confirmation,
        now: UnixTime,
    ) -> Result<Granted, OAuthError> {
        // RFC 6749 §4.4: "The client credentials grant type MUST only be used by
        // confidential clients."
        if client.is_public() {
            return Err(OAuthError::unauthorized_client(
                "public clients cannot use the client_credentials grant",
            ));
        }
        self.issue_client_token(client.client(), form, cnf, now)
            .await
    }

    /// A token for the client itself (`sub` = `client_id`), for one API, with scopes it was
    /// granted there: client credentials, and the JWT bearer grant once the workload's
    /// platform token was mapped to its client.
    pub(crate) async fn issue_client_token(
        &self,
        c: &Client,
        form: &FormParams,
        cnf: &Confirmation,
        now: UnixTime,
    ) -> Result<Granted, OAuthError> {
        let registry = self.registry();
        let (api, granted) = resolve_api(&registry, c, form.all("resource"), form.all("audience"))?;
        let scope = resolve_scope(form.get("scope"), &granted)?;
        let id = c.client_id.as_str();
        let subject = TokenSubject {
            client_id: id,
            sub: id,
            extra: None,
            cnf,
        };
        let issued = self
            .mint_access_token(&api, &scope, &subject, now, None)
            .await?;
        Ok(Granted {
            response: TokenResponse {
                access_token: issued.token,
                token_type: String::from(cnf.token_type()),
                expires_in: issued.expires_in,
                scope: Some(scope),
                issued_token_type: None,
                refresh_token: None,
                id_token: None,
            },
            audience: api.identifier.as_str().to_owned(),
        })
    }
}
