//! Tokens issued on behalf of a user (authorization code and refresh grants): the access
//! token for the requested API — or, when no API was requested, for `/userinfo` — the ID
//! token, and the rotated refresh token.

use warden_types::metadata::TokenResponse;
use warden_types::{
    ApiIdentifier, Scope, SigningAlg, TokenEndpointAuthMethod, TokenFormat, UnixTime,
};

use super::Granted;
use crate::binding::Confirmation;
use crate::engine::Engine;
use crate::error::OAuthError;
use crate::id_token::IdTokenInput;
use crate::mint::{IssuedToken, TokenSubject};
use crate::model::{Api, Client, RefreshTokenRecord, User};
use crate::secrets::{REFRESH_TOKEN_PREFIX, generate_token, token_hash};

/// Everything a user grant produces tokens from.
#[derive(Debug)]
pub(crate) struct UserGrant<'a> {
    pub(crate) client: &'a Client,
    /// What the access token (and, for a public client using DPoP, the refresh token) is
    /// bound to.
    pub(crate) cnf: &'a Confirmation,
    pub(crate) user: &'a User,
    /// Scope of the access token (may be narrower than the grant on refresh).
    pub(crate) scope: &'a Scope,
    /// Scope of the whole grant (kept by the refresh token).
    pub(crate) grant_scope: &'a Scope,
    pub(crate) resource: Option<&'a ApiIdentifier>,
    pub(crate) nonce: Option<&'a str>,
    pub(crate) auth_time: UnixTime,
    pub(crate) amr: &'a [String],
    pub(crate) sid: Option<&'a str>,
    /// Refresh family: `Some((family_id, family_expiry))` to issue a refresh token.
    pub(crate) refresh: Option<(&'a str, UnixTime)>,
}

/// What was issued, for the audit trail and code-reuse revocation.
#[derive(Debug)]
pub(crate) struct IssuedUserTokens {
    pub(crate) granted: Granted,
    pub(crate) access: IssuedToken,
    pub(crate) access_opaque_hash: Option<String>,
}

impl Engine {
    /// The API a user token is for: the requested one, or the userinfo endpoint.
    fn user_token_api(&self, resource: Option<&ApiIdentifier>) -> Result<Api, OAuthError> {
        if let Some(r) = resource {
            return match self.registry().api(r.as_str()) {
                Some(api) => Ok(api.as_ref().clone()),
                None => Err(OAuthError::invalid_grant(
                    "the API of this grant no longer exists",
                )),
            };
        }
        let alg = if self.config.signing_algs.contains(&SigningAlg::RS256) {
            SigningAlg::RS256
        } else {
            self.config
                .signing_algs
                .first()
                .copied()
                .unwrap_or(SigningAlg::RS256)
        };
        Ok(Api {
            identifier: ApiIdentifier::new(self.config.userinfo_endpoint.clone()),
            name: String::from("userinfo"),
            scopes: Vec::new(),
            token_format: TokenFormat::Jwt,
            token_lifetime: self.config.people.userinfo_token_lifetime,
            signing_alg: alg,
            require_binding: Default::default(),
            encryption: None,
            created_at: 0,
            updated_at: 0,
        })
    }

    pub(crate) async fn issue_user_tokens(
        &self,
        grant: &UserGrant<'_>,
        now: UnixTime,
    ) -> Result<IssuedUserTokens, OAuthError> {
        let api = self.user_token_api(grant.resource)?;
        let client_id = grant.client.client_id.as_str();
        let subject = TokenSubject {
            client_id,
            sub: &grant.user.sub,
            extra: None,
            cnf: grant.cnf,
        };
        let access = self
            .mint_access_token(&api, grant.scope, &subject, now, None)
            .await?;
        let access_opaque_hash =
            (api.token_format == TokenFormat::Opaque).then(|| token_hash(&access.token));
        let id_token = if grant.scope.contains("openid") {
            Some(
                self.mint_id_token(
                    &IdTokenInput {
                        client: grant.client,
                        user: grant.user,
                        scope: grant.scope,
                        nonce: grant.nonce,
                        auth_time: grant.auth_time,
                        amr: grant.amr,
                        sid: grant.sid,
                        access_token: Some(&access.token),
                        code: None,
                        state: None,
                        with_claims: true,
                    },
                    now,
                )
                .await?,
            )
        } else {
            None
        };
        // RFC 9449 §5: only a public client's refresh token is bound to its DPoP key; a
        // confidential client authenticates instead.
        let public = grant.client.auth_method == TokenEndpointAuthMethod::None;
        let refresh_jkt = grant.cnf.jkt.clone().filter(|_| public);
        let refresh_token = match grant.refresh {
            Some((family, expires_at)) if expires_at > now => {
                let token = generate_token(REFRESH_TOKEN_PREFIX);
                self.store
                    .insert_refresh_token(&RefreshTokenRecord {
                        token_hash: token_hash(token.expose()),
                        family_id: family.to_owned(),
                        client_id: grant.client.client_id.clone(),
                        user_sub: grant.user.sub.clone(),
                        scope: grant.grant_scope.clone(),
                        resource: grant.resource.cloned(),
                        auth_time: grant.auth_time,
                        amr: grant.amr.to_vec(),
                        sid: grant.sid.map(str::to_owned),
                        created_at: now,
                        expires_at,
                        used_at: None,
                        revoked: false,
                        dpop_jkt: refresh_jkt,
                    })
                    .await?;
                Some(token.expose().to_owned())
            }
            _ => None,
        };
        Ok(IssuedUserTokens {
            granted: Granted {
                response: TokenResponse {
                    access_token: access.token.clone(),
                    token_type: String::from(grant.cnf.token_type()),
                    expires_in: access.expires_in,
                    scope: Some(grant.scope.clone()),
                    issued_token_type: None,
                    refresh_token,
                    id_token,
                },
                audience: api.identifier.as_str().to_owned(),
            },
            access,
            access_opaque_hash,
        })
    }

    /// Whether a client may hold refresh tokens for a grant of `scope`.
    pub(crate) fn refresh_allowed(client: &Client, scope: &Scope) -> bool {
        scope.contains("offline_access")
            && client
                .grant_types
                .contains(&warden_types::GrantType::RefreshToken)
            && (client.auth_method != warden_types::TokenEndpointAuthMethod::None
                || client.oidc.allow_public_refresh)
    }
}
