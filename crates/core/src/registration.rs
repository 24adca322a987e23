//! Client metadata rules shared by dynamic registration (RFC 7591), client management
//! (RFC 7592) and the admin CLI, and the `/register` endpoints themselves.

use std::collections::BTreeMap;

use warden_jose::VerifyingKey;
use warden_types::jwk::JwkSet;
use warden_types::metadata::{ClientInformation, ClientMetadata};
use warden_types::secret::constant_time_eq;
use warden_types::{
    ClientId, GrantType, JwsAlgorithm, Scope, SecretString, TokenEndpointAuthMethod, UnixTime,
};

use crate::engine::Engine;
use crate::error::OAuthError;
use crate::grants::SUPPORTED_GRANTS;
use crate::model::{AuditEvent, Client, StoredSecret};
use crate::secrets::{
    INITIAL_ACCESS_TOKEN_PREFIX, REGISTRATION_TOKEN_PREFIX, generate_client_secret, generate_token,
    random_id, token_hash, well_formed,
};

/// Associated data that binds a sealed registration access token to its client.
fn registration_token_aad(client_id: &str) -> String {
    format!("registration_access_token:{client_id}")
}

/// Largest registration request body we parse.
pub const MAX_METADATA_BYTES: usize = 64 * 1024;

/// Client metadata after validation, normalised.
#[derive(Debug, Clone)]
pub struct ValidatedMetadata {
    /// Method.
    pub auth_method: TokenEndpointAuthMethod,
    /// Grant types.
    pub grant_types: Vec<GrantType>,
    /// Redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Keys by value.
    pub jwks: Option<JwkSet>,
    /// Keys by reference.
    pub jwks_uri: Option<String>,
    /// Assertion algorithm.
    pub auth_signing_alg: Option<JwsAlgorithm>,
    /// Registered scope.
    pub scope: Option<Scope>,
    /// Name.
    pub client_name: Option<String>,
    /// The metadata as it will be stored and returned.
    pub metadata: ClientMetadata,
}

fn meta_err(d: impl Into<std::borrow::Cow<'static, str>>) -> OAuthError {
    OAuthError::invalid_client_metadata(d)
}

/// Whether `host` is a loopback name or address, where plain http is acceptable.
fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

fn check_web_uri(field: &'static str, value: &str) -> Result<(), OAuthError> {
    let url =
        url::Url::parse(value).map_err(|_| meta_err(format!("{field} is not a valid URL")))?;
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(&url) => Ok(()),
        _ => Err(meta_err(format!(
            "{field} must use https (plain http only for loopback hosts)"
        ))),
    }
}

/// RFC 6749 §3.1.2: redirection endpoints are absolute URIs without a fragment. We also
/// require https, except for loopback (RFC 8252 §7.3) and private-use schemes (RFC 8252 §7.1).
pub fn check_redirect_uri(value: &str) -> Result<(), OAuthError> {
    let bad = |why: &str| OAuthError::invalid_redirect_uri(format!("redirect URI {why}"));
    if value.len() > 2048 {
        return Err(bad("is too long"));
    }
    let url = url::Url::parse(value).map_err(|_| bad("is not an absolute URI"))?;
    if url.fragment().is_some() {
        return Err(bad("must not contain a fragment"));
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(&url) => Ok(()),
        "http" => Err(bad("must use https unless the host is loopback")),
        "javascript" | "data" | "file" | "vbscript" => Err(bad("uses a forbidden scheme")),
        // Private-use schemes of native apps must contain a period (RFC 8252 §7.1).
        scheme if scheme.contains('.') => Ok(()),
        _ => Err(bad("uses an unsupported scheme")),
    }
}

/// Validates client metadata (RFC 7591 §2) and fills in defaults.
pub fn validate_metadata(mut meta: ClientMetadata) -> Result<ValidatedMetadata, OAuthError> {
    let auth_method = match meta.token_endpoint_auth_method.as_deref() {
        None => TokenEndpointAuthMethod::ClientSecretBasic,
        Some(raw) => raw
            .parse::<TokenEndpointAuthMethod>()
            .map_err(|_| meta_err("token_endpoint_auth_method is not supported"))?,
    };
    if auth_method.is_mtls() {
        return Err(meta_err(
            "mutual-TLS client authentication is not available on this server yet",
        ));
    }
    meta.token_endpoint_auth_method = Some(auth_method.as_str().to_owned());

    // RFC 7591 §2 defaults grant_types to authorization_code. Warden has no authorization
    // endpoint yet, so (RFC 7591 §3.2.1 lets the server replace requested values) a client
    // that names none gets client_credentials, and the response says so.
    let grant_types: Vec<GrantType> = match &meta.grant_types {
        None => vec![GrantType::ClientCredentials],
        Some(list) if list.is_empty() => vec![GrantType::ClientCredentials],
        Some(list) => {
            let mut out = Vec::new();
            for raw in list {
                let g = GrantType::parse(raw);
                if !SUPPORTED_GRANTS.contains(&g) {
                    return Err(meta_err(format!(
                        "grant type '{}' is not supported",
                        raw.chars().take(80).collect::<String>()
                    )));
                }
                if !out.contains(&g) {
                    out.push(g);
                }
            }
            out
        }
    };
    if auth_method == TokenEndpointAuthMethod::None
        && grant_types.contains(&GrantType::ClientCredentials)
    {
        return Err(meta_err(
            "public clients (token_endpoint_auth_method none) cannot use client_credentials",
        ));
    }
    meta.grant_types = Some(grant_types.iter().map(|g| g.as_str().to_owned()).collect());
    // No response type is served until the authorization endpoint exists.
    meta.response_types = Some(Vec::new());

    let redirect_uris = meta.redirect_uris.clone().unwrap_or_default();
    for uri in &redirect_uris {
        check_redirect_uri(uri)?;
    }

    if meta.jwks.is_some() && meta.jwks_uri.is_some() {
        return Err(meta_err("jwks and jwks_uri must not both be present"));
    }
    if let Some(jwks) = &meta.jwks {
        if jwks.keys.is_empty() {
            return Err(meta_err("jwks has no keys"));
        }
        if jwks.keys.len() > 20 {
            return Err(meta_err("jwks has too many keys (at most 20)"));
        }
        for key in &jwks.keys {
            if key.has_private_material() {
                return Err(meta_err("jwks must contain public keys only"));
            }
            VerifyingKey::from_jwk(key)
                .map_err(|e| meta_err(format!("jwks contains an unusable key: {e}")))?;
        }
    }
    if let Some(uri) = &meta.jwks_uri {
        check_web_uri("jwks_uri", uri)?;
    }
    if auth_method.uses_client_keys() && meta.jwks.is_none() && meta.jwks_uri.is_none() {
        return Err(meta_err("private_key_jwt requires jwks or jwks_uri"));
    }

    let auth_signing_alg = match meta.token_endpoint_auth_signing_alg.as_deref() {
        None => None,
        Some(raw) => {
            let alg: JwsAlgorithm = raw
                .parse()
                .map_err(|_| meta_err("token_endpoint_auth_signing_alg is not supported"))?;
            let fits = match auth_method {
                TokenEndpointAuthMethod::ClientSecretJwt => alg.is_symmetric(),
                TokenEndpointAuthMethod::PrivateKeyJwt => !alg.is_symmetric(),
                _ => false,
            };
            if !fits {
                return Err(meta_err(
                    "token_endpoint_auth_signing_alg does not fit token_endpoint_auth_method",
                ));
            }
            Some(alg)
        }
    };

    let scope = match meta.scope.as_deref() {
        None => None,
        Some(raw) => {
            let s = Scope::parse(raw).map_err(|_| meta_err("scope is malformed"))?;
            meta.scope = Some(s.to_string());
            Some(s)
        }
    };

    if let Some(name) = &meta.client_name
        && (name.chars().count() > 200 || name.chars().any(char::is_control))
    {
        return Err(meta_err(
            "client_name must be at most 200 printable characters",
        ));
    }
    for (field, value) in [
        ("client_uri", &meta.client_uri),
        ("logo_uri", &meta.logo_uri),
        ("tos_uri", &meta.tos_uri),
        ("policy_uri", &meta.policy_uri),
    ] {
        if let Some(v) = value {
            check_web_uri(field, v)?;
        }
    }
    if let Some(contacts) = &meta.contacts
        && (contacts.len() > 20 || contacts.iter().any(|c| c.len() > 320))
    {
        return Err(meta_err(
            "contacts: at most 20 entries of at most 320 characters",
        ));
    }
    for (field, value) in [
        ("software_id", &meta.software_id),
        ("software_version", &meta.software_version),
    ] {
        if value.as_ref().is_some_and(|v| v.len() > 256) {
            return Err(meta_err(format!("{field} is too long")));
        }
    }

    Ok(ValidatedMetadata {
        auth_method,
        grant_types,
        redirect_uris,
        jwks: meta.jwks.clone(),
        jwks_uri: meta.jwks_uri.clone(),
        auth_signing_alg,
        client_name: meta.client_name.clone(),
        scope,
        metadata: meta,
    })
}

/// Parses a JSON registration body into metadata; a wrong type is `invalid_client_metadata`.
pub fn parse_metadata(body: &[u8]) -> Result<ClientMetadata, OAuthError> {
    if body.len() > MAX_METADATA_BYTES {
        return Err(meta_err("client metadata is too large"));
    }
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|_| OAuthError::invalid_request("the request body must be a JSON object"))?;
    if !value.is_object() {
        return Err(OAuthError::invalid_request(
            "the request body must be a JSON object",
        ));
    }
    serde_json::from_value(value).map_err(|e| {
        // serde's message names the field and the expected type, never a secret.
        let msg: String = e.to_string().chars().take(200).collect();
        meta_err(format!("client metadata is malformed: {msg}"))
    })
}

impl Engine {
    /// Builds a new client from validated metadata; returns it with its fresh secret.
    pub(crate) fn build_client(
        &self,
        validated: ValidatedMetadata,
        name_fallback: &str,
        now: UnixTime,
    ) -> Result<(Client, Option<SecretString>), OAuthError> {
        let client_id = random_id();
        let (stored, secret) = self.new_secret(&client_id, validated.auth_method)?;
        let client = Client {
            client_id: ClientId::new(client_id),
            name: validated
                .client_name
                .clone()
                .unwrap_or_else(|| name_fallback.to_owned()),
            auth_method: validated.auth_method,
            secret: stored,
            jwks: validated.jwks,
            jwks_uri: validated.jwks_uri,
            auth_signing_alg: validated.auth_signing_alg,
            grant_types: validated.grant_types,
            redirect_uris: validated.redirect_uris,
            grants: BTreeMap::new(),
            registered_scope: validated.scope,
            allowed_apis: None,
            serves_api: None,
            metadata: validated.metadata,
            registration_token_hash: None,
            registration_token_sealed: None,
            created_at: now,
            updated_at: now,
        };
        Ok((client, secret))
    }

    /// A fresh secret for `method`, if it uses one: hashed, and sealed for client_secret_jwt.
    pub(crate) fn new_secret(
        &self,
        client_id: &str,
        method: TokenEndpointAuthMethod,
    ) -> Result<(Option<StoredSecret>, Option<SecretString>), OAuthError> {
        if !method.uses_secret() {
            return Ok((None, None));
        }
        let secret = generate_client_secret();
        let sealed = if method == TokenEndpointAuthMethod::ClientSecretJwt {
            Some(self.seal_client_secret(client_id, secret.expose())?)
        } else {
            None
        };
        let stored = StoredSecret {
            hash: self.hasher.hash(secret.expose()),
            sealed,
        };
        Ok((Some(stored), Some(secret)))
    }

    /// The public view of a client (no secret, no tokens).
    pub fn client_information(&self, client: &Client) -> ClientInformation {
        let mut metadata = client.metadata.clone();
        metadata.client_name = Some(client.name.clone());
        metadata.token_endpoint_auth_method = Some(client.auth_method.as_str().to_owned());
        metadata.grant_types = Some(
            client
                .grant_types
                .iter()
                .map(|g| g.as_str().to_owned())
                .collect(),
        );
        if !client.redirect_uris.is_empty() {
            metadata.redirect_uris = Some(client.redirect_uris.clone());
        }
        metadata.jwks = client.jwks.clone();
        metadata.jwks_uri = client.jwks_uri.clone();
        metadata.scope = client.registered_scope.as_ref().map(|s| s.to_string());
        metadata.token_endpoint_auth_signing_alg =
            client.auth_signing_alg.map(|a| a.as_str().to_owned());
        let grants = (!client.grants.is_empty()).then(|| {
            client
                .grants
                .iter()
                .map(|(api, scope)| (api.as_str().to_owned(), scope.to_string()))
                .collect()
        });
        ClientInformation {
            client_id: client.client_id.as_str().to_owned(),
            client_secret: None,
            client_id_issued_at: client.created_at,
            client_secret_expires_at: client.secret.as_ref().map(|_| 0),
            registration_access_token: None,
            registration_client_uri: client
                .registration_token_hash
                .as_ref()
                .map(|_| format!("{}/{}", self.config.registration_endpoint, client.client_id)),
            metadata,
            grants,
        }
    }

    /// RFC 7591 §3: registers a client. `bearer` is the initial access token, if sent.
    pub async fn register(
        &self,
        body: &[u8],
        bearer: Option<&str>,
        now: UnixTime,
    ) -> Result<ClientInformation, OAuthError> {
        let token = if self.config.registration_requires_token {
            let Some(token) = bearer else {
                return Err(OAuthError::invalid_token(
                    "an initial access token is required",
                ));
            };
            if !well_formed(token, INITIAL_ACCESS_TOKEN_PREFIX) {
                return Err(OAuthError::invalid_token(
                    "the initial access token is invalid",
                ));
            }
            Some(token)
        } else {
            None
        };
        // Validate before the token is used, so a malformed request does not spend a
        // single-use token.
        let validated = validate_metadata(parse_metadata(body)?)?;
        let allowed_apis = match token {
            Some(token) => {
                let Some(record) = self
                    .store
                    .use_initial_access_token(&token_hash(token), now)
                    .await?
                else {
                    return Err(OAuthError::invalid_token(
                        "the initial access token is invalid, expired or used",
                    ));
                };
                record.allowed_apis
            }
            None => None,
        };
        let (mut client, secret) = self.build_client(validated, "", now)?;
        if client.name.is_empty() {
            client.name = client.client_id.as_str().to_owned();
        }
        client.allowed_apis = allowed_apis;
        let rat = generate_token(REGISTRATION_TOKEN_PREFIX);
        client.registration_token_hash = Some(token_hash(rat.expose()));
        client.registration_token_sealed = Some(self.seal_client_secret(
            &registration_token_aad(client.client_id.as_str()),
            rat.expose(),
        )?);
        self.store.insert_client(&client).await?;
        self.audit(AuditEvent {
            at: now,
            kind: String::from("client_created"),
            actor: Some(String::from("registration")),
            source: None,
            detail: serde_json::json!({ "client_id": client.client_id.as_str(), "method": client.auth_method.as_str() }),
        });
        self.reload_quietly().await;
        let mut info = self.client_information(&client);
        info.client_secret = secret.map(|s| s.expose().to_owned());
        info.registration_access_token = Some(rat.expose().to_owned());
        Ok(info)
    }

    async fn reload_quietly(&self) {
        if let Err(e) = self.reload().await {
            tracing::warn!(error = %e, "registry reload after a change failed");
        }
    }

    /// RFC 7592 §2: checks the registration access token and returns the client.
    async fn managed_client(
        &self,
        client_id: &str,
        bearer: Option<&str>,
    ) -> Result<Client, OAuthError> {
        let Some(token) = bearer else {
            return Err(OAuthError::invalid_token(
                "a registration access token is required",
            ));
        };
        let invalid = || OAuthError::invalid_token("the registration access token is invalid");
        if !well_formed(token, REGISTRATION_TOKEN_PREFIX) {
            return Err(invalid());
        }
        // Client ids are short printable strings; anything else names no client and must not
        // reach the database (PostgreSQL refuses NUL bytes in text).
        if client_id.is_empty() || client_id.len() > 256 || client_id.chars().any(char::is_control)
        {
            return Err(invalid());
        }
        // Read from the database, not the cache: management must see the latest state.
        let Some(client) = self.store.client(client_id).await? else {
            return Err(invalid());
        };
        let Some(stored) = &client.registration_token_hash else {
            return Err(invalid());
        };
        if !constant_time_eq(token_hash(token).as_bytes(), stored.as_bytes()) {
            return Err(invalid());
        }
        Ok(client)
    }

    /// RFC 7592 §2.1 read.
    pub async fn read_registration(
        &self,
        client_id: &str,
        bearer: Option<&str>,
    ) -> Result<ClientInformation, OAuthError> {
        let client = self.managed_client(client_id, bearer).await?;
        let mut info = self.client_information(&client);
        info.registration_access_token = self.registration_token(&client)?;
        Ok(info)
    }

    /// The client's registration access token, opened from its sealed copy.
    fn registration_token(&self, client: &Client) -> Result<Option<String>, OAuthError> {
        let Some(sealed) = &client.registration_token_sealed else {
            return Ok(None);
        };
        let token =
            self.open_client_secret(&registration_token_aad(client.client_id.as_str()), sealed)?;
        Ok(Some(String::from_utf8_lossy(&token).into_owned()))
    }

    /// RFC 7592 §2.2 update: the body replaces the metadata.
    pub async fn update_registration(
        &self,
        client_id: &str,
        bearer: Option<&str>,
        body: &[u8],
        now: UnixTime,
    ) -> Result<ClientInformation, OAuthError> {
        let mut client = self.managed_client(client_id, bearer).await?;
        let raw: serde_json::Value = serde_json::from_slice(body)
            .map_err(|_| OAuthError::invalid_request("the request body must be a JSON object"))?;
        // RFC 7592 §2.2: "The client MUST include its client_id field in the request, and it
        // MUST be the same as its currently issued client identifier."
        if raw.get("client_id").and_then(|v| v.as_str()) != Some(client_id) {
            return Err(OAuthError::invalid_request(
                "client_id must be present and match the client being updated",
            ));
        }
        // "If the client includes the client_secret field in the request, the value of this
        // field MUST match the currently issued client secret for that client."
        if let Some(presented) = raw.get("client_secret") {
            let ok = match (presented.as_str(), &client.secret) {
                (Some(p), Some(stored)) => self.hasher.verify(p, &stored.hash),
                _ => false,
            };
            if !ok {
                return Err(OAuthError::invalid_request(
                    "client_secret does not match the current secret",
                ));
            }
        }
        for forbidden in [
            "registration_access_token",
            "registration_client_uri",
            "client_secret_expires_at",
            "client_id_issued_at",
        ] {
            if raw.get(forbidden).is_some() {
                return Err(OAuthError::invalid_request(format!(
                    "{forbidden} must not be sent in an update"
                )));
            }
        }
        let validated = validate_metadata(parse_metadata(body)?)?;
        let method_changed = validated.auth_method != client.auth_method;
        let mut new_secret = None;
        if method_changed
            || (validated.auth_method == TokenEndpointAuthMethod::ClientSecretJwt
                && client.secret.as_ref().is_some_and(|s| s.sealed.is_none()))
        {
            let (stored, secret) = self.new_secret(client_id, validated.auth_method)?;
            client.secret = stored;
            new_secret = secret;
        }
        client.auth_method = validated.auth_method;
        if let Some(name) = validated.client_name.clone() {
            client.name = name;
        }
        client.grant_types = validated.grant_types;
        client.redirect_uris = validated.redirect_uris;
        client.jwks = validated.jwks;
        client.jwks_uri = validated.jwks_uri;
        client.auth_signing_alg = validated.auth_signing_alg;
        client.registered_scope = validated.scope;
        client.metadata = validated.metadata;
        client.updated_at = now.max(client.updated_at + 1);
        if !self.store.update_client(&client).await? {
            return Err(OAuthError::invalid_token(
                "the registration access token is invalid",
            ));
        }
        self.audit(AuditEvent {
            at: now,
            kind: String::from("client_updated"),
            actor: Some(client_id.to_owned()),
            source: None,
            detail: serde_json::json!({ "client_id": client_id, "via": "registration" }),
        });
        self.reload_quietly().await;
        let mut info = self.client_information(&client);
        info.client_secret = new_secret.map(|s| s.expose().to_owned());
        info.registration_access_token = self.registration_token(&client)?;
        Ok(info)
    }

    /// RFC 7592 §2.3 delete.
    pub async fn delete_registration(
        &self,
        client_id: &str,
        bearer: Option<&str>,
        now: UnixTime,
    ) -> Result<(), OAuthError> {
        self.managed_client(client_id, bearer).await?;
        self.store.delete_client(client_id).await?;
        self.audit(AuditEvent {
            at: now,
            kind: String::from("client_deleted"),
            actor: Some(client_id.to_owned()),
            source: None,
            detail: serde_json::json!({ "client_id": client_id, "via": "registration" }),
        });
        self.reload_quietly().await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use warden_types::ErrorCode;

    use super::*;

    fn meta(json: &str) -> Result<ValidatedMetadata, OAuthError> {
        validate_metadata(parse_metadata(json.as_bytes())?)
    }

    #[test]
    fn defaults() {
        let v = meta("{}").unwrap();
        assert_eq!(v.auth_method, TokenEndpointAuthMethod::ClientSecretBasic);
        assert_eq!(v.grant_types, vec![GrantType::ClientCredentials]);
    }

    #[test]
    fn precise_errors() {
        let cases = [
            (
                r#"{"token_endpoint_auth_method":"magic"}"#,
                ErrorCode::InvalidClientMetadata,
            ),
            (
                r#"{"grant_types":["password"]}"#,
                ErrorCode::InvalidClientMetadata,
            ),
            (
                r#"{"redirect_uris":["http://evil.example/cb"]}"#,
                ErrorCode::InvalidRedirectUri,
            ),
            (
                r#"{"redirect_uris":["https://a.example/cb#x"]}"#,
                ErrorCode::InvalidRedirectUri,
            ),
            (
                r#"{"redirect_uris":"https://a.example/cb"}"#,
                ErrorCode::InvalidClientMetadata,
            ),
            (
                r#"{"token_endpoint_auth_method":"private_key_jwt"}"#,
                ErrorCode::InvalidClientMetadata,
            ),
            (
                r#"{"jwks":{"keys":[]},"jwks_uri":"https://a.example/jwks"}"#,
                ErrorCode::InvalidClientMetadata,
            ),
            (
                r#"{"token_endpoint_auth_method":"none"}"#,
                ErrorCode::InvalidClientMetadata,
            ),
            (r#"{"scope":"a\"b"}"#, ErrorCode::InvalidClientMetadata),
            (
                r#"{"jwks_uri":"http://keys.example/jwks","token_endpoint_auth_method":"private_key_jwt"}"#,
                ErrorCode::InvalidClientMetadata,
            ),
            (
                r#"{"token_endpoint_auth_method":"client_secret_jwt","token_endpoint_auth_signing_alg":"RS256"}"#,
                ErrorCode::InvalidClientMetadata,
            ),
            ("[]", ErrorCode::InvalidRequest),
            ("not json", ErrorCode::InvalidRequest),
        ];
        for (body, code) in cases {
            assert_eq!(meta(body).unwrap_err().code, code, "{body}");
        }
    }

    #[test]
    fn loopback_jwks_uri_is_allowed() {
        assert!(meta(r#"{"jwks_uri":"http://127.0.0.1:9999/jwks","token_endpoint_auth_method":"private_key_jwt"}"#).is_ok());
    }
}
