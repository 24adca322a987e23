//! RFC 7009 token revocation. Opaque tokens are flagged revoked; JWTs are remembered by `jti`
//! until they expire, so introspection reports them inactive.

use crate::client_auth::CallContext;
use crate::engine::Engine;
use crate::error::OAuthError;
use crate::introspection::TokenKind;
use crate::model::AuditEvent;
use crate::request::{FormParams, PresentedCredentials};
use crate::secrets::{REFRESH_TOKEN_PREFIX, token_hash, well_formed};

impl Engine {
    /// Handles a revocation request. `Ok(())` is HTTP 200 with an empty body.
    pub async fn revoke(
        &self,
        body: &[u8],
        authorization: Option<&str>,
        ctx: &CallContext<'_>,
    ) -> Result<(), OAuthError> {
        let mut form = FormParams::parse(body)?;
        let presented = PresentedCredentials::extract(&mut form, authorization)?;
        let caller = self.authenticate_client(presented, ctx).await?;
        let Some(token) = form.take("token") else {
            return Err(OAuthError::invalid_request("token is required"));
        };
        // RFC 7009 §2: refresh tokens "MUST" be revocable; revoking one ends its family (and
        // §2.1 lets the server revoke the access tokens of the same grant; they are short).
        if well_formed(&token, REFRESH_TOKEN_PREFIX) {
            let Some(record) = self.store.refresh_token(&token_hash(&token)).await? else {
                return Ok(());
            };
            if record.client_id != caller.client().client_id {
                return Err(OAuthError::unauthorized_client(
                    "the token was not issued to this client",
                ));
            }
            let revoked = self.store.revoke_refresh_family(&record.family_id).await?;
            self.audit(AuditEvent {
                at: ctx.now,
                kind: String::from("refresh_token_revoked"),
                actor: Some(record.client_id.as_str().to_owned()),
                source: ctx.source.clone(),
                detail: serde_json::json!({ "sub": record.user_sub, "revoked": revoked }),
            });
            return Ok(());
        }
        // RFC 7009 §2.2: "invalid tokens do not cause an error response"; and an unknown
        // token_type_hint "is ignored".
        let Some(info) = self.inspect_token(&token).await? else {
            return Ok(());
        };
        // RFC 7009 §2.1: the server "verifies whether the token was issued to the client
        // making the revocation request. If this validation fails, the request is refused and
        // the client is informed of the error".
        if info.client_id != caller.client().client_id.as_str() {
            return Err(OAuthError::unauthorized_client(
                "the token was not issued to this client",
            ));
        }
        if info.exp <= ctx.now || info.revoked {
            return Ok(());
        }
        match info.kind {
            TokenKind::Opaque => {
                if let Some(hash) = &info.token_hash {
                    self.store.revoke_opaque_token(hash).await?;
                }
            }
            TokenKind::Jwt => self.store.revoke_jti(&info.jti, info.exp).await?,
        }
        self.audit(AuditEvent {
            at: ctx.now,
            kind: String::from("token_revoked"),
            actor: Some(info.client_id.clone()),
            source: ctx.source.clone(),
            detail: serde_json::json!({ "jti": info.jti, "aud": info.aud }),
        });
        Ok(())
    }
}
