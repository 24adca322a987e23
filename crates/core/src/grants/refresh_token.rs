//! RFC 6749 §6 refresh grant with rotation and reuse detection (RFC 9700 §4.14.2): every use
//! returns a new refresh token and spends the old one; presenting a spent token again revokes
//! the whole family, except within a short grace window, where it is taken for two
//! legitimate concurrent refreshes (e.g. two browser tabs) rather than theft: the late caller
//! gets an access token but no second refresh token, so the family never forks.

use warden_types::{Scope, UnixTime};

use super::Granted;
use super::user_tokens::UserGrant;
use crate::binding::Confirmation;
use crate::client_auth::AuthenticatedClient;
use crate::engine::Engine;
use crate::error::OAuthError;
use crate::model::{AuditEvent, RefreshTokenRecord, RefreshUse};
use crate::request::FormParams;
use crate::secrets::{REFRESH_TOKEN_PREFIX, token_hash, well_formed};

impl Engine {
    pub(crate) async fn refresh_token(
        &self,
        client: &AuthenticatedClient,
        form: &FormParams,
        cnf: &Confirmation,
        now: UnixTime,
    ) -> Result<Granted, OAuthError> {
        let Some(token) = form.get("refresh_token") else {
            return Err(OAuthError::invalid_request("refresh_token is required"));
        };
        if !well_formed(token, REFRESH_TOKEN_PREFIX) {
            return Err(OAuthError::invalid_grant("the refresh token is invalid"));
        }
        let c = client.client();
        let hash = token_hash(token);
        // Everything that can refuse the request is checked before the token is spent, so a
        // refused refresh (a wider scope, say) leaves the token usable.
        let Some(stored) = self.store.refresh_token(&hash).await? else {
            return Err(OAuthError::invalid_grant("the refresh token is invalid"));
        };
        // RFC 6749 §6: "ensure that the refresh token was issued to the authenticated client".
        // Another client holding it means it leaked: the family ends.
        if stored.client_id != c.client_id {
            self.refresh_reuse(&stored, now).await?;
            return Err(OAuthError::invalid_grant(
                "the refresh token was issued to another client",
            ));
        }
        if now >= stored.expires_at {
            return Err(OAuthError::invalid_grant("the refresh token has expired"));
        }
        // RFC 9449 §5: a public client's refresh token is bound to its DPoP key; only a
        // proof by that key refreshes it (checked before the token is spent).
        if let Some(bound) = &stored.dpop_jkt {
            match &cnf.jkt {
                None => {
                    return Err(OAuthError::invalid_grant(
                        "the refresh token is DPoP-bound: send a DPoP proof signed with its key",
                    ));
                }
                Some(jkt) if jkt != bound => {
                    return Err(OAuthError::invalid_grant(
                        "the DPoP proof is not signed by the key the refresh token is bound to",
                    ));
                }
                Some(_) => {}
            }
        }
        // RFC 6749 §6: the requested scope "MUST NOT include any scope not originally
        // granted"; the access token gets the narrower scope, the refresh token keeps the
        // grant's.
        let scope = match form.get("scope") {
            None => stored.scope.clone(),
            Some(raw) => {
                let requested = Scope::parse(raw)
                    .ok()
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| OAuthError::invalid_scope("scope is malformed"))?;
                if !stored.scope.is_superset(&requested) {
                    return Err(OAuthError::invalid_scope(
                        "scope exceeds what was originally granted",
                    ));
                }
                requested
            }
        };
        let user = match self.store.user(&stored.user_sub).await? {
            Some(u) if !u.disabled => u,
            Some(_) => return Err(OAuthError::invalid_grant("the user is disabled")),
            None => return Err(OAuthError::invalid_grant("the user no longer exists")),
        };
        let mut grace_use = false;
        let record = match self.store.use_refresh_token(&hash, now).await? {
            None => return Err(OAuthError::invalid_grant("the refresh token is invalid")),
            Some(RefreshUse::Fresh(record)) => record,
            Some(RefreshUse::Spent(record)) => {
                let within_grace = !record.revoked
                    && record
                        .used_at
                        .is_some_and(|t| now - t <= self.config.people.refresh_reuse_grace);
                if !within_grace {
                    self.refresh_reuse(&record, now).await?;
                    return Err(OAuthError::invalid_grant(
                        "the refresh token was already used or revoked",
                    ));
                }
                grace_use = true;
                record
            }
        };
        // A client whose registration no longer allows refreshing gets no new token.
        // A use within the grace window gets an access token but no new refresh token: the
        // family keeps one live chain, so a thief replaying a just-used token cannot fork it.
        let refresh = (Self::refresh_allowed(c, &record.scope) && !grace_use)
            .then_some((record.family_id.as_str(), record.expires_at));
        let issued = self
            .issue_user_tokens(
                &UserGrant {
                    client: c,
                    cnf,
                    user: &user,
                    scope: &scope,
                    grant_scope: &record.scope,
                    resource: record.resource.as_ref(),
                    nonce: None,
                    auth_time: record.auth_time,
                    amr: &record.amr,
                    sid: record.sid.as_deref(),
                    refresh,
                },
                now,
            )
            .await?;
        Ok(issued.granted)
    }

    async fn refresh_reuse(
        &self,
        record: &RefreshTokenRecord,
        now: UnixTime,
    ) -> Result<(), OAuthError> {
        self.revoke_family_audited(
            &record.family_id,
            record.client_id.as_str(),
            &record.user_sub,
            "refresh_reuse_detected",
            now,
        )
        .await
    }

    /// Revokes a refresh-token family because a code or refresh token was replayed, and
    /// records why in the audit trail.
    pub(crate) async fn revoke_family_audited(
        &self,
        family_id: &str,
        client_id: &str,
        sub: &str,
        kind: &str,
        now: UnixTime,
    ) -> Result<(), OAuthError> {
        let revoked = self.store.revoke_refresh_family(family_id).await?;
        self.audit(AuditEvent {
            at: now,
            kind: kind.to_owned(),
            actor: Some(client_id.to_owned()),
            source: None,
            detail: serde_json::json!({ "sub": sub, "refresh_tokens_revoked": revoked }),
        });
        Ok(())
    }
}
