//! RFC 6749 §4.1.3 authorization code grant with PKCE (RFC 7636 §4.5–4.6) and OIDC Core
//! §3.1.3: the code is redeemed once, atomically; a second redemption is treated as theft
//! (RFC 6749 §4.1.2: the server "SHOULD revoke (when possible) all tokens previously issued
//! based on that authorization code").

use warden_types::UnixTime;

use super::Granted;
use super::user_tokens::UserGrant;
use crate::authorize::pkce;
use crate::binding::Confirmation;
use crate::client_auth::AuthenticatedClient;
use crate::engine::Engine;
use crate::error::OAuthError;
use crate::model::{AuthorizationCodeRecord, CodeIssuance, CodeRedemption};
use crate::request::FormParams;
use crate::secrets::{AUTHORIZATION_CODE_PREFIX, token_hash, well_formed};

/// The denylist entry that marks a grant whose code was presented twice. Token ids are random
/// base64url, so this name cannot collide with one.
fn replay_mark(grant_id: &str) -> String {
    format!("code-replayed:{grant_id}")
}

/// RFC 9449 §10: the DPoP key binding of a code, if any, against the request's proof.
fn check_code_binding(
    record: &AuthorizationCodeRecord,
    cnf: &Confirmation,
) -> Result<(), OAuthError> {
    let Some(bound) = &record.dpop_jkt else {
        return Ok(());
    };
    match cnf.jkt.as_deref() {
        Some(jkt) if jkt == bound => Ok(()),
        Some(_) => Err(OAuthError::invalid_grant(
            "this authorization code is bound to a DPoP key: the DPoP proof is signed by \
             another key",
        )),
        None => Err(OAuthError::invalid_grant(
            "this authorization code is bound to a DPoP key: send a DPoP proof signed by it",
        )),
    }
}

impl Engine {
    pub(crate) async fn authorization_code(
        &self,
        client: &AuthenticatedClient,
        form: &FormParams,
        cnf: &Confirmation,
        now: UnixTime,
    ) -> Result<Granted, OAuthError> {
        let Some(code) = form.get("code") else {
            return Err(OAuthError::invalid_request("code is required"));
        };
        let Some(verifier) = form.get("code_verifier") else {
            return Err(OAuthError::invalid_request(
                "code_verifier is required (PKCE)",
            ));
        };
        if !pkce::is_valid_verifier(verifier) {
            return Err(OAuthError::invalid_request(
                "code_verifier must be 43-128 unreserved characters",
            ));
        }
        if !well_formed(code, AUTHORIZATION_CODE_PREFIX) {
            return Err(OAuthError::invalid_grant(
                "the authorization code is invalid",
            ));
        }
        let code_hash = token_hash(code);
        // RFC 9449 §10: a code bound to a DPoP key is redeemed only with a proof by that key.
        // Checked before redemption, so a request without the key does not spend the code
        // (the binding never changes, so reading it first is safe).
        if let Some(stored) = self.store.authorization_code(&code_hash).await?
            && stored.redeemed_at.is_none()
        {
            check_code_binding(&stored, cnf)?;
        }
        let record = match self
            .store
            .redeem_authorization_code(&code_hash, now)
            .await?
        {
            None => {
                return Err(OAuthError::invalid_grant(
                    "the authorization code is invalid",
                ));
            }
            Some(CodeRedemption::AlreadyRedeemed(record)) => {
                // The first redemption may still be issuing. Mark the grant as replayed
                // first, then read what it has recorded so far: either that read sees the
                // issued tokens and revokes them here, or the first redemption records them
                // after the mark and sees it (below), so one side always revokes.
                self.store
                    .revoke_jti(&replay_mark(&record.grant_id), record.expires_at + 3600)
                    .await?;
                let latest = match self
                    .store
                    .redeem_authorization_code(&code_hash, now)
                    .await?
                {
                    Some(CodeRedemption::AlreadyRedeemed(r)) => r,
                    _ => record,
                };
                self.revoke_code_tokens(&latest, now).await?;
                return Err(OAuthError::invalid_grant(
                    "the authorization code was already used; tokens issued from it are revoked",
                ));
            }
            Some(CodeRedemption::Fresh(record)) => record,
        };
        check_code_binding(&record, cnf)?;
        let c = client.client();
        // RFC 6749 §4.1.3: "ensure that the authorization code was issued to the
        // authenticated confidential client, or ... to the public client".
        if record.client_id != c.client_id {
            return Err(OAuthError::invalid_grant(
                "the authorization code was issued to another client",
            ));
        }
        if now >= record.expires_at {
            return Err(OAuthError::invalid_grant(
                "the authorization code has expired",
            ));
        }
        // RFC 6749 §4.1.3: redirect_uri is REQUIRED if it was in the authorization request,
        // "and their values MUST be identical".
        if let Some(expected) = &record.redirect_uri
            && form.get("redirect_uri") != Some(expected.as_str())
        {
            return Err(OAuthError::invalid_grant(
                "redirect_uri does not match the authorization request",
            ));
        }
        if !pkce::verify_s256(verifier, &record.code_challenge) {
            return Err(OAuthError::invalid_grant("code_verifier does not match"));
        }
        let Some(user) = self.store.user(&record.user_sub).await? else {
            return Err(OAuthError::invalid_grant("the user no longer exists"));
        };
        if user.disabled {
            return Err(OAuthError::invalid_grant("the user is disabled"));
        }
        let refresh = Self::refresh_allowed(c, &record.scope).then(|| {
            (
                record.grant_id.as_str(),
                now + self.config.people.refresh_token_lifetime,
            )
        });
        let issued = self
            .issue_user_tokens(
                &UserGrant {
                    client: c,
                    cnf,
                    user: &user,
                    scope: &record.scope,
                    grant_scope: &record.scope,
                    resource: record.resource.as_ref(),
                    nonce: record.nonce.as_deref(),
                    auth_time: record.auth_time,
                    amr: &record.amr,
                    sid: record.sid.as_deref(),
                    refresh,
                },
                now,
            )
            .await?;
        let issuance = CodeIssuance {
            access_jti: issued.access.jti.clone(),
            access_exp: issued.access.exp,
            access_token_hash: issued.access_opaque_hash.clone(),
        };
        self.store
            .record_code_issuance(&code_hash, &issuance)
            .await?;
        // A replay that raced this redemption left its mark before reading the issuance.
        if self
            .store
            .is_jti_revoked(&replay_mark(&record.grant_id))
            .await?
        {
            let mut record = record;
            record.issued = Some(issuance);
            self.revoke_code_tokens(&record, now).await?;
            return Err(OAuthError::invalid_grant(
                "the authorization code was used twice; tokens issued from it are revoked",
            ));
        }
        Ok(issued.granted)
    }

    /// Revokes what a replayed code's first redemption issued.
    async fn revoke_code_tokens(
        &self,
        record: &AuthorizationCodeRecord,
        now: UnixTime,
    ) -> Result<(), OAuthError> {
        if let Some(issued) = &record.issued {
            match &issued.access_token_hash {
                Some(hash) => {
                    self.store.revoke_opaque_token(hash).await?;
                }
                None => {
                    self.store
                        .revoke_jti(&issued.access_jti, issued.access_exp)
                        .await?;
                }
            }
        }
        self.revoke_family_audited(
            &record.grant_id,
            record.client_id.as_str(),
            &record.user_sub,
            "code_reuse_detected",
            now,
        )
        .await
    }
}
