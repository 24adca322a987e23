//! Administration of trusted external issuers for workload identity (`warden issuer ...`):
//! which identity platforms Warden believes, with which keys and audience, and which of their
//! subjects authenticate as which client.

use warden_types::jwk::JwkSet;
use warden_types::{ClientId, UnixTime};

use crate::admin::AdminError;
use crate::engine::Engine;
use crate::model::{AuditEvent, DEFAULT_FEDERATED_MAX_LIFETIME, TrustedIssuer};

/// Longest lifetime an operator may allow for external tokens (one day: Kubernetes' longest
/// automatic rotation); a stolen platform token should not be a long-lived credential.
pub const MAX_FEDERATED_LIFETIME: i64 = 24 * 60 * 60;

/// Where a trusted issuer's keys come from.
#[derive(Debug, Clone)]
pub enum IssuerKeys {
    /// Fetched from this URL and cached.
    Uri(String),
    /// Stored by value.
    Set(JwkSet),
}

/// Input of `warden issuer create`.
#[derive(Debug, Clone)]
pub struct NewTrustedIssuer {
    /// The exact `iss` value.
    pub issuer: String,
    /// Display name (defaults to the issuer).
    pub name: Option<String>,
    /// Keys.
    pub keys: IssuerKeys,
    /// Expected `aud` (default: Warden's issuer URL or token endpoint).
    pub audience: Option<String>,
    /// Longest accepted token lifetime in seconds (default one hour).
    pub max_lifetime: Option<i64>,
    /// Subject → client id mappings.
    pub subjects: Vec<(String, String)>,
}

/// Input of `warden issuer update`: `None` keeps a setting.
#[derive(Debug, Clone, Default)]
pub struct TrustedIssuerChange {
    /// New keys.
    pub keys: Option<IssuerKeys>,
    /// New audience (`Some(None)` returns to the default).
    pub audience: Option<Option<String>>,
    /// New lifetime bound.
    pub max_lifetime: Option<i64>,
    /// New name.
    pub name: Option<String>,
}

fn check_issuer(issuer: &str) -> Result<(), AdminError> {
    // Issuers are URLs in every platform we target (Kubernetes, SPIFFE OIDC discovery,
    // GitHub); a `spiffe://` trust domain is a URI too. Refuse what is obviously not one.
    let ok = !issuer.is_empty()
        && issuer.len() <= 2048
        && issuer.contains(':')
        && !issuer.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(AdminError::Invalid(format!(
            "issuer '{issuer}' is not a URI"
        )))
    }
}

fn check_keys(keys: &IssuerKeys) -> Result<(), AdminError> {
    match keys {
        IssuerKeys::Uri(uri) => {
            // The same rule as a client's jwks_uri: https, or http on a loopback host.
            crate::registration::check_web_uri("--jwks-uri", uri)
                .map_err(|e| AdminError::Invalid(e.description.into_owned()))?;
        }
        IssuerKeys::Set(set) => {
            let usable = warden_jose::VerifyingKeySet::from_jwk_set(set);
            if usable.is_empty() {
                return Err(AdminError::Invalid(String::from(
                    "the JWK Set has no usable public signature key",
                )));
            }
        }
    }
    Ok(())
}

fn check_lifetime(seconds: i64) -> Result<i64, AdminError> {
    if seconds <= 0 || seconds > MAX_FEDERATED_LIFETIME {
        return Err(AdminError::Invalid(String::from(
            "--max-lifetime must be between 1 second and 24 hours",
        )));
    }
    Ok(seconds)
}

impl Engine {
    /// Adds a trusted issuer.
    pub async fn create_trusted_issuer(
        &self,
        new: NewTrustedIssuer,
        now: UnixTime,
    ) -> Result<TrustedIssuer, AdminError> {
        check_issuer(&new.issuer)?;
        check_keys(&new.keys)?;
        let mut record = TrustedIssuer {
            name: new.name.unwrap_or_else(|| new.issuer.clone()),
            issuer: new.issuer,
            jwks_uri: None,
            jwks: None,
            audience: new.audience,
            max_lifetime: check_lifetime(
                new.max_lifetime.unwrap_or(DEFAULT_FEDERATED_MAX_LIFETIME),
            )?,
            subjects: Default::default(),
            created_at: now,
            updated_at: now,
        };
        set_keys(&mut record, new.keys);
        for (subject, client_id) in new.subjects {
            self.add_mapping(&mut record, subject, &client_id).await?;
        }
        match self.store.insert_trusted_issuer(&record).await {
            Ok(()) => {}
            Err(crate::store::StoreError::Conflict) => {
                return Err(AdminError::Exists(format!("issuer {}", record.issuer)));
            }
            Err(e) => return Err(e.into()),
        }
        self.audit_issuer("issuer_created", &record.issuer, now);
        Ok(record)
    }

    /// Changes a trusted issuer's keys, audience, lifetime bound or name.
    pub async fn update_trusted_issuer(
        &self,
        issuer: &str,
        change: TrustedIssuerChange,
        now: UnixTime,
    ) -> Result<TrustedIssuer, AdminError> {
        let mut record = self.existing_issuer(issuer).await?;
        if let Some(keys) = change.keys {
            check_keys(&keys)?;
            set_keys(&mut record, keys);
        }
        if let Some(audience) = change.audience {
            record.audience = audience;
        }
        if let Some(lifetime) = change.max_lifetime {
            record.max_lifetime = check_lifetime(lifetime)?;
        }
        if let Some(name) = change.name {
            record.name = name;
        }
        self.save_issuer(record, "issuer_updated", now).await
    }

    /// Maps a subject of the issuer to a client (replacing an earlier mapping of it).
    pub async fn map_issuer_subject(
        &self,
        issuer: &str,
        subject: String,
        client_id: &str,
        now: UnixTime,
    ) -> Result<TrustedIssuer, AdminError> {
        let mut record = self.existing_issuer(issuer).await?;
        self.add_mapping(&mut record, subject, client_id).await?;
        self.save_issuer(record, "issuer_updated", now).await
    }

    /// Removes a subject mapping.
    pub async fn unmap_issuer_subject(
        &self,
        issuer: &str,
        subject: &str,
        now: UnixTime,
    ) -> Result<TrustedIssuer, AdminError> {
        let mut record = self.existing_issuer(issuer).await?;
        if record.subjects.remove(subject).is_none() {
            return Err(AdminError::NotFound(format!("subject {subject}")));
        }
        self.save_issuer(record, "issuer_updated", now).await
    }

    /// Deletes a trusted issuer: its tokens stop working as soon as servers reload.
    pub async fn delete_trusted_issuer(
        &self,
        issuer: &str,
        now: UnixTime,
    ) -> Result<(), AdminError> {
        if !self.store.delete_trusted_issuer(issuer).await? {
            return Err(AdminError::NotFound(format!("issuer {issuer}")));
        }
        self.audit_issuer("issuer_deleted", issuer, now);
        Ok(())
    }

    async fn existing_issuer(&self, issuer: &str) -> Result<TrustedIssuer, AdminError> {
        self.store
            .trusted_issuer(issuer)
            .await?
            .ok_or_else(|| AdminError::NotFound(format!("issuer {issuer}")))
    }

    async fn add_mapping(
        &self,
        record: &mut TrustedIssuer,
        subject: String,
        client_id: &str,
    ) -> Result<(), AdminError> {
        if subject.is_empty() || subject.len() > 1024 || subject.chars().any(char::is_control) {
            return Err(AdminError::Invalid(String::from(
                "a subject must be 1 to 1024 printable characters",
            )));
        }
        let Some(client) = self.store.client(client_id).await? else {
            return Err(AdminError::NotFound(format!("client {client_id}")));
        };
        if client.auth_method != warden_types::TokenEndpointAuthMethod::PrivateKeyJwt
            && !client
                .grant_types
                .contains(&warden_types::GrantType::JwtBearer)
        {
            return Err(AdminError::Invalid(format!(
                "client {client_id} can use the mapping neither for client authentication \
                 (its method is {}, not private_key_jwt) nor for the JWT bearer grant \
                 (it does not have the grant type)",
                client.auth_method
            )));
        }
        record
            .subjects
            .insert(subject, ClientId::new(client_id.to_owned()));
        Ok(())
    }

    async fn save_issuer(
        &self,
        mut record: TrustedIssuer,
        kind: &str,
        now: UnixTime,
    ) -> Result<TrustedIssuer, AdminError> {
        record.updated_at = now.max(record.updated_at + 1);
        if !self.store.update_trusted_issuer(&record).await? {
            return Err(AdminError::NotFound(format!("issuer {}", record.issuer)));
        }
        self.audit_issuer(kind, &record.issuer, now);
        Ok(record)
    }

    fn audit_issuer(&self, kind: &str, issuer: &str, now: UnixTime) {
        self.audit(AuditEvent {
            at: now,
            kind: kind.to_owned(),
            actor: Some(String::from("admin")),
            source: None,
            detail: serde_json::json!({ "issuer": issuer }),
        });
    }
}

fn set_keys(record: &mut TrustedIssuer, keys: IssuerKeys) {
    match keys {
        IssuerKeys::Uri(uri) => {
            record.jwks_uri = Some(uri);
            record.jwks = None;
        }
        IssuerKeys::Set(set) => {
            record.jwks = Some(set);
            record.jwks_uri = None;
        }
    }
}
