//! The UserInfo endpoint (OIDC Core §5.3): claims about the user behind an access token,
//! released according to the token's scopes; errors per RFC 6750 §3.1.
//!
//! The answer is JSON, unless the client the token was issued to registered
//! `userinfo_signed_response_alg` and/or `userinfo_encrypted_response_alg` (OIDC Registration
//! §2): then it is a JWT (OIDC Core §5.3.2), signed, encrypted (JWE), or signed then encrypted.

use warden_types::{ErrorCode, UnixTime};

use crate::engine::Engine;
use crate::error::OAuthError;
use crate::id_token::user_claims;
use crate::model::Client;

/// Claims about the user, as JSON or as a JWT.
#[derive(Debug)]
pub enum UserInfoResponse {
    /// `application/json`: the claims as a JSON object.
    Json(serde_json::Map<String, serde_json::Value>),
    /// `application/jwt` (OIDC Core §5.3.2): a signed JWT carrying the claims with `iss` and
    /// `aud`, a JWE of one (`cty: "JWT"`), or a JWE whose plaintext is the JSON claims.
    Jwt(String),
}

impl Engine {
    /// Answers `/userinfo` for an access token presented as `presentation` (a DPoP-bound
    /// token needs the `DPoP` scheme and a proof, RFC 9449 §7).
    pub async fn userinfo(
        &self,
        token: &str,
        presentation: crate::dpop::TokenPresentation<'_>,
        certificate: Option<&crate::binding::PresentedCertificate>,
        now: UnixTime,
    ) -> Result<UserInfoResponse, OAuthError> {
        let invalid = || OAuthError::invalid_token("the access token is invalid or expired");
        let Some(info) = self.inspect_token(token).await? else {
            return Err(invalid());
        };
        if info.revoked || now >= info.exp {
            return Err(invalid());
        }
        let endpoint = &self.config.userinfo_endpoint;
        self.check_token_presentation(token, info.extra.get("cnf"), presentation, endpoint, now)
            .await?;
        crate::binding::check_certificate_binding(info.extra.get("cnf"), certificate)?;
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
        // The token names the client it was issued to, whose registration says the format.
        let Some(client) = self.registry().client(&info.client_id).cloned() else {
            return Err(invalid());
        };
        self.userinfo_response(&client, claims).await
    }

    /// The claims in the format `client` registered (OIDC Core §5.3.2, §10).
    async fn userinfo_response(
        &self,
        client: &Client,
        mut claims: serde_json::Map<String, serde_json::Value>,
    ) -> Result<UserInfoResponse, OAuthError> {
        let oidc = &client.oidc;
        let signed = match oidc.userinfo_signed_response_alg {
            None => None,
            Some(alg) => {
                let ring = self.key_ring();
                let Some(key) = ring.active(alg) else {
                    tracing::error!(%alg, "no active signing key for userinfo responses");
                    return Err(OAuthError::server_error());
                };
                // OIDC Core §5.3.2: a signed response "SHOULD contain the Claims iss (issuer)
                // and aud (audience) as members", aud being the RP's client_id.
                claims.insert(String::from("iss"), self.config.issuer.clone().into());
                claims.insert(String::from("aud"), client.client_id.as_str().into());
                Some(key.sign_jwt("JWT", &claims).map_err(|e| {
                    tracing::error!(error = %e, "userinfo signing failed");
                    OAuthError::server_error()
                })?)
            }
        };
        let Some(alg) = oidc.userinfo_encrypted_response_alg.as_deref() else {
            return Ok(match signed {
                Some(jwt) => UserInfoResponse::Jwt(jwt),
                None => UserInfoResponse::Json(claims),
            });
        };
        let enc = oidc.userinfo_encrypted_response_enc.as_deref();
        // OIDC Core §5.3.2: signed then encrypted is a nested JWT (`cty: "JWT"`); encrypted
        // only, the plaintext is the JSON object itself.
        let (plaintext, cty) = match signed {
            Some(jwt) => (jwt.into_bytes(), Some("JWT")),
            None => (
                serde_json::to_vec(&claims).map_err(|_| OAuthError::server_error())?,
                None,
            ),
        };
        let jwe = self
            .encrypt_to_client(client, "userinfo", alg, enc, &plaintext, cty)
            .await?;
        Ok(UserInfoResponse::Jwt(jwe))
    }
}
