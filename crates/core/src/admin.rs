//! Administrative operations behind the CLI: APIs, clients, initial access tokens, keys.
//! They act directly on the database and bump the registry version, so running servers pick
//! the change up within seconds.

use std::collections::BTreeMap;

use warden_types::jwk::JwkSet;
use warden_types::metadata::{ClientInformation, ClientMetadata};
use warden_types::{
    ApiIdentifier, GrantType, JwsAlgorithm, Scope, SigningAlg, TokenEndpointAuthMethod,
    TokenFormat, UnixTime,
};

use crate::access_encryption::{ApiEncryptionRequest, api_encryption};
use crate::engine::Engine;
use crate::error::OAuthError;
use crate::model::{
    Api, ApiEncryption, ApiScope, AuditEvent, Client, InitialAccessToken, MAX_ACCESS_TOKEN_LIFETIME,
};
use crate::model::{BindingRequirement, ClientTls};
use crate::registration::validate_metadata_with;
use crate::secrets::{INITIAL_ACCESS_TOKEN_PREFIX, generate_token, token_hash};
use crate::store::StoreError;

/// Why an admin operation failed; the message is for the operator.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// Bad input.
    #[error("{0}")]
    Invalid(String),
    /// The named thing does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// Already exists.
    #[error("{0} already exists")]
    Exists(String),
    /// Storage failed.
    #[error("database error: {0}")]
    Store(String),
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        Self::Store(e.to_string())
    }
}

impl From<OAuthError> for AdminError {
    fn from(e: OAuthError) -> Self {
        Self::Invalid(e.description.into_owned())
    }
}

/// Input of `warden api create`.
#[derive(Debug, Clone)]
pub struct NewApi {
    /// Identifier (absolute URI).
    pub identifier: String,
    /// Name (defaults to the identifier).
    pub name: Option<String>,
    /// Scopes.
    pub scopes: Scope,
    /// Format.
    pub token_format: TokenFormat,
    /// Lifetime in seconds.
    pub token_lifetime: i64,
    /// Signing algorithm.
    pub signing_alg: SigningAlg,
}

/// Input of `warden client create`.
#[derive(Debug, Clone, Default)]
pub struct NewClient {
    /// Name.
    pub name: String,
    /// Method.
    pub auth_method: TokenEndpointAuthMethod,
    /// Grant types (default: client_credentials).
    pub grant_types: Vec<String>,
    /// Scopes: on the `audiences` if any, else on any API that defines them.
    pub scope: Option<Scope>,
    /// APIs the client may obtain tokens for.
    pub audiences: Vec<String>,
    /// Redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Public keys.
    pub jwks: Option<JwkSet>,
    /// Public keys by reference.
    pub jwks_uri: Option<String>,
    /// Assertion algorithm.
    pub auth_signing_alg: Option<JwsAlgorithm>,
    /// Response types (`code`, `code id_token`); default `code` with authorization_code.
    pub response_types: Vec<String>,
    /// A first-party client: users are not asked for consent.
    pub first_party: bool,
    /// Authorization requests must be pushed (RFC 9126).
    pub require_par: bool,
    /// A public client (`none`) may receive refresh tokens; adds the refresh_token grant.
    pub allow_public_refresh: bool,
    /// Where RP-initiated logout may return the browser.
    pub post_logout_redirect_uris: Vec<String>,
    /// Back-channel logout endpoint.
    pub backchannel_logout_uri: Option<String>,
    /// ID token signing algorithm (RS256 when unset).
    pub id_token_signed_response_alg: Option<SigningAlg>,
    /// Userinfo responses as JWTs signed with this algorithm (OIDC Core §5.3.2); unset = JSON.
    pub userinfo_signed_response_alg: Option<SigningAlg>,
    /// `web` (default) or `native`.
    pub application_type: Option<String>,
    /// The API this client is the service behind (token exchange policy).
    pub serves_api: Option<String>,
    /// APIs it may obtain tokens for by token exchange.
    pub exchange_targets: Vec<String>,
    /// The certificate identity of a `tls_client_auth` client (exactly one member).
    pub tls: ClientTls,
    /// Its access tokens must be certificate-bound (RFC 8705 §3.4).
    pub certificate_bound: bool,
    /// Its access tokens must be DPoP-bound (RFC 9449 §5.2 `dpop_bound_access_tokens`).
    pub dpop_bound: bool,
}

/// A change to a client's mutual-TLS settings (`warden client update`).
#[derive(Debug, Clone, Default)]
pub struct ClientTlsChange {
    /// `Some` replaces the certificate identity of a `tls_client_auth` client.
    pub tls: Option<ClientTls>,
    /// `Some` turns mandatory certificate binding on or off.
    pub certificate_bound: Option<bool>,
}

/// A change to a client's token exchange policy (`warden client update`).
#[derive(Debug, Clone, Default)]
pub struct ExchangePolicyChange {
    /// `Some(Some(api))` sets the served API, `Some(None)` clears it, `None` keeps it.
    pub serves_api: Option<Option<String>>,
    /// `Some(list)` replaces the exchange targets (empty clears them), `None` keeps them.
    pub exchange_targets: Option<Vec<String>>,
}

/// The validated encryption settings of an API; only JWT access tokens can be encrypted.
fn checked_encryption(
    format: TokenFormat,
    request: Option<&ApiEncryptionRequest>,
) -> Result<Option<ApiEncryption>, AdminError> {
    let Some(request) = request else {
        return Ok(None);
    };
    if format != TokenFormat::Jwt {
        return Err(AdminError::Invalid(String::from(
            "encryption is only for APIs with JWT access tokens: opaque tokens are references \
             that carry no claims (use --token-format jwt)",
        )));
    }
    api_encryption(request)
        .map(Some)
        .map_err(|e| AdminError::Invalid(e.to_string()))
}

impl Engine {
    /// Creates an API.
    pub async fn create_api(&self, new: NewApi, now: UnixTime) -> Result<Api, AdminError> {
        self.create_api_with_encryption(new, None, now).await
    }

    /// Creates an API whose JWT access tokens are encrypted to its public key when
    /// `encryption` is given (see [`crate::access_encryption`]).
    pub async fn create_api_with_encryption(
        &self,
        new: NewApi,
        encryption: Option<ApiEncryptionRequest>,
        now: UnixTime,
    ) -> Result<Api, AdminError> {
        let identifier = ApiIdentifier::parse(&new.identifier)
            .map_err(|e| AdminError::Invalid(format!("API identifier: {e}")))?;
        let encryption = checked_encryption(new.token_format, encryption.as_ref())?;
        if new.token_lifetime <= 0 || new.token_lifetime > MAX_ACCESS_TOKEN_LIFETIME {
            return Err(AdminError::Invalid(String::from(
                "token lifetime must be between 1 second and 60 minutes",
            )));
        }
        let api = Api {
            name: new.name.unwrap_or_else(|| identifier.as_str().to_owned()),
            identifier,
            scopes: new
                .scopes
                .iter()
                .map(|s| ApiScope {
                    name: s.to_owned(),
                    description: String::new(),
                })
                .collect(),
            token_format: new.token_format,
            token_lifetime: new.token_lifetime,
            signing_alg: new.signing_alg,
            require_binding: Default::default(),
            encryption,
            created_at: now,
            updated_at: now,
        };
        // The admin CLI may run without the server's configuration: also check the keys the
        // servers actually made. Once any key exists, the API's algorithm needs an active one.
        let keys = self.store.signing_keys().await?;
        if !keys.is_empty()
            && !keys
                .iter()
                .any(|k| k.alg == api.signing_alg && k.state == crate::model::KeyState::Active)
        {
            return Err(AdminError::Invalid(format!(
                "no active {} signing key: the server is not configured for this algorithm",
                api.signing_alg
            )));
        }
        if !self.config.signing_algs.contains(&api.signing_alg) {
            return Err(AdminError::Invalid(format!(
                "signing algorithm {} is not enabled on this server",
                api.signing_alg
            )));
        }
        match self.store.insert_api(&api).await {
            Ok(()) => {}
            Err(StoreError::Conflict) => {
                return Err(AdminError::Exists(format!("API {}", api.identifier)));
            }
            Err(e) => return Err(e.into()),
        }
        self.audit(AuditEvent {
            at: now,
            kind: String::from("api_created"),
            actor: Some(String::from("admin")),
            source: None,
            detail: serde_json::json!({ "api": api.identifier.as_str() }),
        });
        Ok(api)
    }

    /// Sets (`Some`) or removes (`None`) the encryption of an API's access tokens. Tokens
    /// already issued keep the form they were issued in.
    pub async fn update_api_encryption(
        &self,
        identifier: &str,
        encryption: Option<ApiEncryptionRequest>,
        now: UnixTime,
    ) -> Result<Api, AdminError> {
        self.modify_api(identifier, now, |api| {
            api.encryption = checked_encryption(api.token_format, encryption.as_ref())?;
            Ok(serde_json::json!({
                "api": api.identifier.as_str(),
                "encryption": api.encryption.as_ref().map(|e| {
                    serde_json::json!({ "alg": e.alg, "enc": e.enc, "kid": e.jwk.kid })
                }),
            }))
        })
        .await
    }

    /// Sets which proof of possession an API's tokens need (RFC 8705 §3, RFC 9449): token
    /// requests without it are refused for this API. Tokens already issued are unaffected.
    pub async fn update_api_binding(
        &self,
        identifier: &str,
        requirement: BindingRequirement,
        now: UnixTime,
    ) -> Result<Api, AdminError> {
        self.modify_api(identifier, now, |api| {
            api.require_binding = requirement;
            Ok(serde_json::json!({
                "api": api.identifier.as_str(),
                "require_binding": requirement.as_str(),
            }))
        })
        .await
    }

    /// The read-modify-write of an API update: loads the API (`NotFound` if missing), applies
    /// `change`, which returns the audit detail, bumps `updated_at`, stores the API
    /// (`NotFound` if it vanished meanwhile) and records `api_updated`.
    async fn modify_api(
        &self,
        identifier: &str,
        now: UnixTime,
        change: impl FnOnce(&mut Api) -> Result<serde_json::Value, AdminError>,
    ) -> Result<Api, AdminError> {
        let not_found = || AdminError::NotFound(format!("API {identifier}"));
        let Some(mut api) = self.store.api(identifier).await? else {
            return Err(not_found());
        };
        let detail = change(&mut api)?;
        api.updated_at = now.max(api.updated_at + 1);
        if !self.store.update_api(&api).await? {
            return Err(not_found());
        }
        self.audit(AuditEvent {
            at: now,
            kind: String::from("api_updated"),
            actor: Some(String::from("admin")),
            source: None,
            detail,
        });
        Ok(api)
    }

    /// Deletes an API and the explicit grants that name it.
    pub async fn delete_api(&self, identifier: &str, now: UnixTime) -> Result<(), AdminError> {
        if !self.store.delete_api(identifier).await? {
            return Err(AdminError::NotFound(format!("API {identifier}")));
        }
        // Grants and exchange policy naming the API go with it, so an API created again under
        // the same identifier starts with no access at all.
        for mut client in self.store.clients().await? {
            let served = client
                .serves_api
                .as_ref()
                .is_some_and(|a| a.as_str() == identifier);
            if served {
                client.serves_api = None;
            }
            let targets = client.exchange_targets.len();
            client.exchange_targets.retain(|a| a.as_str() != identifier);
            let policy_changed = served || targets != client.exchange_targets.len();
            if client.grants.remove(identifier).is_some() || policy_changed {
                client.updated_at = now.max(client.updated_at + 1);
                self.store.update_client(&client).await?;
            }
        }
        self.audit(AuditEvent {
            at: now,
            kind: String::from("api_deleted"),
            actor: Some(String::from("admin")),
            source: None,
            detail: serde_json::json!({ "api": identifier }),
        });
        Ok(())
    }

    /// Creates a client; the returned information carries the secret, shown once.
    pub async fn create_client(
        &self,
        new: NewClient,
        now: UnixTime,
    ) -> Result<ClientInformation, AdminError> {
        let public = new.auth_method == TokenEndpointAuthMethod::None;
        if new.allow_public_refresh && !public {
            return Err(AdminError::Invalid(String::from(
                "--allow-public-refresh is for public clients (auth method none); confidential clients get refresh tokens with the refresh_token grant type",
            )));
        }
        let mut grant_types = new.grant_types.clone();
        // A public client can only use the authorization code flow: that is its default.
        if public && grant_types.is_empty() {
            grant_types.push(GrantType::AuthorizationCode.as_str().to_owned());
        }
        if new.allow_public_refresh
            && !grant_types
                .iter()
                .any(|g| g == GrantType::RefreshToken.as_str())
        {
            grant_types.push(GrantType::RefreshToken.as_str().to_owned());
        }
        let non_empty = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
        let metadata = ClientMetadata {
            client_name: Some(new.name.clone()),
            token_endpoint_auth_method: Some(new.auth_method.as_str().to_owned()),
            grant_types: non_empty(&grant_types),
            response_types: non_empty(&new.response_types),
            redirect_uris: non_empty(&new.redirect_uris),
            post_logout_redirect_uris: non_empty(&new.post_logout_redirect_uris),
            backchannel_logout_uri: new.backchannel_logout_uri.clone(),
            id_token_signed_response_alg: new
                .id_token_signed_response_alg
                .map(|a| a.as_str().to_owned()),
            userinfo_signed_response_alg: new
                .userinfo_signed_response_alg
                .map(|a| a.as_str().to_owned()),
            application_type: new.application_type.clone(),
            require_pushed_authorization_requests: new.require_par.then_some(true),
            jwks: new.jwks.clone(),
            jwks_uri: new.jwks_uri.clone(),
            token_endpoint_auth_signing_alg: new.auth_signing_alg.map(|a| a.as_str().to_owned()),
            tls_client_auth_subject_dn: new.tls.subject_dn.clone(),
            tls_client_auth_san_dns: new.tls.san_dns.clone(),
            tls_client_auth_san_uri: new.tls.san_uri.clone(),
            tls_client_auth_san_ip: new.tls.san_ip.clone(),
            tls_client_auth_san_email: new.tls.san_email.clone(),
            tls_client_certificate_bound_access_tokens: new.certificate_bound.then_some(true),
            dpop_bound_access_tokens: new.dpop_bound.then_some(true),
            ..Default::default()
        };
        // An administrator may create a private_key_jwt client without keys: a workload that
        // authenticates only with tokens from a trusted issuer (`warden issuer map`).
        let validated = validate_metadata_with(metadata, false)?;
        self.check_server_support(&validated)?;
        let (mut client, secret) = self.build_client(validated, &new.name, now)?;
        client.oidc.first_party = new.first_party;
        // Grants: with --audience, the scopes on each named API (all of its scopes when no
        // scope is given); without, the scope applies to any API that defines it.
        let mut grants = BTreeMap::new();
        let mut covered = Scope::empty();
        for audience in &new.audiences {
            let Some(api) = self.store.api(audience).await? else {
                return Err(AdminError::NotFound(format!("API {audience}")));
            };
            let defined = api.scope_set();
            let granted = match &new.scope {
                Some(scope) => scope.intersection(&defined),
                None => defined.clone(),
            };
            covered = covered.union(&granted);
            grants.insert(api.identifier.clone(), granted);
        }
        if let (Some(scope), false) = (&new.scope, new.audiences.is_empty())
            && let Some(missing) = scope.difference(&covered).iter().next()
        {
            return Err(AdminError::Invalid(format!(
                "scope '{missing}' is not defined by any of the given APIs"
            )));
        }
        if new.audiences.is_empty() {
            client.registered_scope = new.scope.clone();
            client.metadata.scope = new.scope.as_ref().map(|s| s.to_string());
        }
        client.grants = grants;
        client.serves_api = match &new.serves_api {
            Some(id) => Some(self.existing_api(id).await?),
            None => None,
        };
        for id in &new.exchange_targets {
            let api = self.existing_api(id).await?;
            if !client.exchange_targets.contains(&api) {
                client.exchange_targets.push(api);
            }
        }
        self.store.insert_client(&client).await?;
        self.audit(AuditEvent {
            at: now,
            kind: String::from("client_created"),
            actor: Some(String::from("admin")),
            source: None,
            detail: serde_json::json!({ "client_id": client.client_id.as_str(), "method": client.auth_method.as_str() }),
        });
        let mut info = self.client_information(&client);
        info.client_secret = secret.map(|s| s.expose().to_owned());
        Ok(info)
    }

    /// The identifier of a registered API, or `NotFound`.
    async fn existing_api(&self, identifier: &str) -> Result<ApiIdentifier, AdminError> {
        match self.store.api(identifier).await? {
            Some(api) => Ok(api.identifier),
            None => Err(AdminError::NotFound(format!("API {identifier}"))),
        }
    }

    /// Changes a client's token exchange policy; returns the updated client.
    pub async fn update_exchange_policy(
        &self,
        client_id: &str,
        change: ExchangePolicyChange,
        now: UnixTime,
    ) -> Result<ClientInformation, AdminError> {
        // The APIs are looked up first (the change itself is synchronous), but their errors
        // are only raised inside it: a missing client still wins, then the served API, then
        // the first missing target, as when they were looked up one after the other.
        let serves_api = match change.serves_api {
            Some(Some(id)) => Some(self.existing_api(&id).await.map(Some)),
            Some(None) => Some(Ok(None)),
            None => None,
        };
        let exchange_targets = match change.exchange_targets {
            Some(targets) => Some(self.distinct_apis(targets).await),
            None => None,
        };
        let client = self
            .modify_client(client_id, now, "client_updated", |client| {
                if let Some(serves) = serves_api {
                    client.serves_api = serves?;
                }
                if let Some(targets) = exchange_targets {
                    client.exchange_targets = targets?;
                }
                Ok(serde_json::json!({
                    "client_id": client_id,
                    "serves_api": client.serves_api.as_ref().map(|a| a.as_str()),
                    "exchange_targets": client.exchange_targets.iter().map(|a| a.as_str()).collect::<Vec<_>>(),
                }))
            })
            .await?;
        Ok(self.client_information(&client))
    }

    /// The identifiers of registered APIs, without repeats, in order; `NotFound` for the
    /// first that is not registered.
    async fn distinct_apis(
        &self,
        identifiers: Vec<String>,
    ) -> Result<Vec<ApiIdentifier>, AdminError> {
        let mut list = Vec::new();
        for id in identifiers {
            let api = self.existing_api(&id).await?;
            if !list.contains(&api) {
                list.push(api);
            }
        }
        Ok(list)
    }

    /// The read-modify-write of a client update: loads the client (`NotFound` if missing),
    /// applies `change`, which returns the audit detail, bumps `updated_at`, stores the
    /// client (`NotFound` if it vanished meanwhile) and records an audit event of `kind`.
    async fn modify_client(
        &self,
        client_id: &str,
        now: UnixTime,
        kind: &str,
        change: impl FnOnce(&mut Client) -> Result<serde_json::Value, AdminError>,
    ) -> Result<Client, AdminError> {
        let not_found = || AdminError::NotFound(format!("client {client_id}"));
        let Some(mut client) = self.store.client(client_id).await? else {
            return Err(not_found());
        };
        let detail = change(&mut client)?;
        client.updated_at = now.max(client.updated_at + 1);
        if !self.store.update_client(&client).await? {
            return Err(not_found());
        }
        self.audit(AuditEvent {
            at: now,
            kind: kind.to_owned(),
            actor: Some(String::from("admin")),
            source: None,
            detail,
        });
        Ok(client)
    }

    /// Changes a client's mutual-TLS settings: the certificate identity of a `tls_client_auth`
    /// client, and whether its access tokens must be certificate-bound.
    pub async fn update_client_tls(
        &self,
        client_id: &str,
        change: ClientTlsChange,
        now: UnixTime,
    ) -> Result<ClientInformation, AdminError> {
        let client = self
            .modify_client(client_id, now, "client_updated", |client| {
                if let Some(tls) = change.tls {
                    if client.auth_method != TokenEndpointAuthMethod::TlsClientAuth {
                        return Err(AdminError::Invalid(format!(
                            "client {client_id} authenticates with {}: a certificate identity is only \
                             for tls_client_auth clients",
                            client.auth_method
                        )));
                    }
                    crate::client_auth::tls::validate_tls_identity(&tls)
                        .map_err(AdminError::Invalid)?;
                    client.tls = tls;
                }
                if let Some(bound) = change.certificate_bound {
                    client.binding.certificate_bound = bound;
                }
                Ok(serde_json::json!({
                    "client_id": client_id,
                    "tls": client.tls,
                    "certificate_bound": client.binding.certificate_bound,
                }))
            })
            .await?;
        Ok(self.client_information(&client))
    }

    /// Turns mandatory DPoP binding of a client's access tokens on or off (RFC 9449 §5.2
    /// `dpop_bound_access_tokens`): when on, token requests without a DPoP proof are refused.
    pub async fn update_client_dpop_bound(
        &self,
        client_id: &str,
        dpop_bound: bool,
        now: UnixTime,
    ) -> Result<ClientInformation, AdminError> {
        let client = self
            .modify_client(client_id, now, "client_updated", |client| {
                client.binding.dpop_bound = dpop_bound;
                Ok(serde_json::json!({ "client_id": client_id, "dpop_bound": dpop_bound }))
            })
            .await?;
        Ok(self.client_information(&client))
    }

    /// Replaces a client's secret; the new one is returned once. The old one stops working
    /// as soon as servers reload the registry.
    pub async fn rotate_client_secret(
        &self,
        client_id: &str,
        now: UnixTime,
    ) -> Result<ClientInformation, AdminError> {
        let mut secret = None;
        let client = self
            .modify_client(client_id, now, "client_secret_rotated", |client| {
                if !client.auth_method.uses_secret() {
                    return Err(AdminError::Invalid(format!(
                        "client {client_id} authenticates with {}, which uses no secret",
                        client.auth_method
                    )));
                }
                let (stored, new) = self.new_secret(client_id, client.auth_method)?;
                client.secret = stored;
                secret = new;
                Ok(serde_json::json!({ "client_id": client_id }))
            })
            .await?;
        let mut info = self.client_information(&client);
        info.client_secret = secret.map(|s| s.expose().to_owned());
        Ok(info)
    }

    /// Deletes a client.
    pub async fn delete_client(&self, client_id: &str, now: UnixTime) -> Result<(), AdminError> {
        if !self.store.delete_client(client_id).await? {
            return Err(AdminError::NotFound(format!("client {client_id}")));
        }
        self.audit(AuditEvent {
            at: now,
            kind: String::from("client_deleted"),
            actor: Some(String::from("admin")),
            source: None,
            detail: serde_json::json!({ "client_id": client_id }),
        });
        Ok(())
    }

    /// Creates an RFC 7591 initial access token; returns the token, shown once.
    pub async fn create_initial_access_token(
        &self,
        expires_in: i64,
        once: bool,
        allowed_apis: Option<Vec<String>>,
        now: UnixTime,
    ) -> Result<String, AdminError> {
        if expires_in <= 0 {
            return Err(AdminError::Invalid(String::from("expiry must be positive")));
        }
        let allowed_apis = match allowed_apis {
            None => None,
            Some(list) => {
                let mut out = Vec::new();
                for id in list {
                    if self.store.api(&id).await?.is_none() {
                        return Err(AdminError::NotFound(format!("API {id}")));
                    }
                    out.push(ApiIdentifier::new(id));
                }
                Some(out)
            }
        };
        let token = generate_token(INITIAL_ACCESS_TOKEN_PREFIX);
        let record = InitialAccessToken {
            token_hash: token_hash(token.expose()),
            expires_at: now + expires_in,
            once,
            allowed_apis,
            created_at: now,
        };
        self.store.insert_initial_access_token(&record).await?;
        Ok(token.expose().to_owned())
    }
}
