//! The UserInfo endpoint (OIDC Core §5.3): claims about the user behind an access token,
//! released according to the token's scopes; errors per RFC 6750 §3.1.

use warden_types::{ErrorCode, UnixTime};

use crate::engine::Engine;
use crate::error::OAuthError;
use crate::id_token::user_claims;

impl Engine {
    /// Answers `/userinfo` for a bearer token.
    pub async fn userinfo(
        &self,
        token: &str,
        now: UnixTime,
    ) -> Result<serde_json::Map<String, serde_json::Value>, OAuthError> {
        let invalid = || OAuthError::invalid_token("the access token is invalid or expired");
        let Some(info) = self.inspect_token(token).await? else {
            return Err(invalid());
        };
        if info.revoked || now >= info.exp {
            return Err(invalid());
        }
        let scope = warden_types::Scope::parse(&info.scope).unwrap_or_default();
        // OIDC Core §5.3: the token must have been granted with `openid`; client credentials
        // tokens (no user) never are, since APIs cannot define OIDC scope names.
        if !scope.contains("openid") {
            return Err(OAuthError::new(
                ErrorCode::InsufficientScope,
                "the access token was not granted the openid scope",
            )
            .with_challenge(crate::error::Challenge::Bearer));
        }
        let user = match self.store.user(&info.sub).await? {
            Some(u) if !u.disabled => u,
            _ => return Err(invalid()),
        };
        let mut claims = user_claims(&user, &scope);
        claims.insert(String::from("sub"), user.sub.clone().into());
        Ok(claims)
    }
}
