//! OpenID Connect ID tokens (OIDC Core §2, §3.1.3.6, §3.3.2.11): signed with the client's
//! `id_token_signed_response_alg` (RS256 by default), and encrypted to the client's key when
//! it registered `id_token_encrypted_response_alg`.
//!
//! Seed 004 says ID tokens that travel through the browser must not carry personal data: the
//! hybrid flow's front-channel ID token therefore holds only the protocol claims (`sub`,
//! hashes, `nonce`); profile and email claims go only in the token-endpoint ID token and
//! `/userinfo`.

use serde::Serialize;
use warden_jose::left_half_hash;
use warden_types::{Scope, UnixTime};

use crate::engine::Engine;
use crate::error::OAuthError;
use crate::model::{Client, User};
use crate::secrets::random_id;

/// `acr` of a password login: single-factor authentication, the level "1" that OpenID
/// providers commonly use for it (OIDC Core §2 leaves values to the deployment; "0" would say
/// the authentication is not fit for anything of monetary value).
pub const ACR_PASSWORD: &str = "1";

/// What an ID token is about.
#[derive(Debug)]
pub struct IdTokenInput<'a> {
    /// The client (audience).
    pub client: &'a Client,
    /// The user.
    pub user: &'a User,
    /// Granted scope (decides the profile and email claims).
    pub scope: &'a Scope,
    /// The authorization request's nonce.
    pub nonce: Option<&'a str>,
    /// When the user authenticated.
    pub auth_time: UnixTime,
    /// How.
    pub amr: &'a [String],
    /// Session id.
    pub sid: Option<&'a str>,
    /// Access token issued alongside (`at_hash`).
    pub access_token: Option<&'a str>,
    /// Code issued alongside (`c_hash`).
    pub code: Option<&'a str>,
    /// State of the request (`s_hash`, FAPI 1.0 Advanced §5.2.2.1).
    pub state: Option<&'a str>,
    /// Whether to include profile/email claims (false for the front channel).
    pub with_claims: bool,
}

#[derive(Serialize)]
struct IdTokenClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    exp: UnixTime,
    iat: UnixTime,
    auth_time: UnixTime,
    jti: String,
    azp: &'a str,
    acr: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    amr: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    sid: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    at_hash: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    c_hash: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    s_hash: Option<String>,
    #[serde(flatten)]
    profile: serde_json::Map<String, serde_json::Value>,
}

/// The claims about a user that `scope` releases (OIDC Core §5.4), for ID tokens and
/// `/userinfo`.
pub fn user_claims(user: &User, scope: &Scope) -> serde_json::Map<String, serde_json::Value> {
    let mut claims = serde_json::Map::new();
    if scope.contains("profile") {
        if let Some(name) = &user.name {
            claims.insert(String::from("name"), name.clone().into());
        }
        claims.insert(
            String::from("preferred_username"),
            user.username.clone().into(),
        );
        claims.insert(String::from("updated_at"), user.updated_at.into());
    }
    if scope.contains("email") {
        claims.insert(String::from("email"), user.email.clone().into());
        claims.insert(String::from("email_verified"), user.email_verified.into());
    }
    claims
}

impl Engine {
    /// Mints an ID token.
    pub async fn mint_id_token(
        &self,
        input: &IdTokenInput<'_>,
        now: UnixTime,
    ) -> Result<String, OAuthError> {
        let alg = input.client.id_token_alg();
        let ring = self.key_ring();
        let Some(key) = ring.active(alg) else {
            tracing::error!(%alg, "no active signing key for ID tokens");
            return Err(OAuthError::server_error());
        };
        let profile = if input.with_claims {
            user_claims(input.user, input.scope)
        } else {
            serde_json::Map::new()
        };
        let claims = IdTokenClaims {
            iss: &self.config.issuer,
            sub: &input.user.sub,
            aud: input.client.client_id.as_str(),
            exp: now + self.config.people.id_token_lifetime,
            iat: now,
            auth_time: input.auth_time,
            jti: random_id(),
            azp: input.client.client_id.as_str(),
            acr: ACR_PASSWORD,
            nonce: input.nonce,
            amr: input.amr,
            sid: input.sid,
            at_hash: input.access_token.map(|t| left_half_hash(alg.jws(), t)),
            c_hash: input.code.map(|c| left_half_hash(alg.jws(), c)),
            s_hash: input.state.map(|s| left_half_hash(alg.jws(), s)),
            profile,
        };
        let signed = key.sign_jwt("JWT", &claims).map_err(|e| {
            tracing::error!(error = %e, "ID token signing failed");
            OAuthError::server_error()
        })?;
        self.encrypt_for_client(input.client, signed).await
    }
}
