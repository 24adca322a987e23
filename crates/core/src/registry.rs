//! The in-memory snapshot of APIs and clients the hot path reads. It is replaced wholesale
//! when the database's registry version moves (DESIGN.md: "The hot path reads from memory").

use std::collections::HashMap;
use std::sync::Arc;

use crate::model::{Api, Client, TrustedIssuer};

/// An immutable snapshot of the registry.
#[derive(Debug, Default)]
pub struct Registry {
    /// The registry version this snapshot was read at.
    pub version: i64,
    apis: HashMap<String, Arc<Api>>,
    clients: HashMap<String, Arc<Client>>,
    issuers: HashMap<String, Arc<TrustedIssuer>>,
}

impl Registry {
    /// Builds a snapshot.
    pub fn new(version: i64, apis: Vec<Api>, clients: Vec<Client>) -> Self {
        Self {
            version,
            apis: apis
                .into_iter()
                .map(|a| (a.identifier.as_str().to_owned(), Arc::new(a)))
                .collect(),
            clients: clients
                .into_iter()
                .map(|c| (c.client_id.as_str().to_owned(), Arc::new(c)))
                .collect(),
            issuers: HashMap::new(),
        }
    }

    /// Adds the trusted external issuers to the snapshot.
    pub fn with_issuers(mut self, issuers: Vec<TrustedIssuer>) -> Self {
        self.issuers = issuers
            .into_iter()
            .map(|i| (i.issuer.clone(), Arc::new(i)))
            .collect();
        self
    }

    /// One trusted external issuer by its exact `iss` value.
    pub fn trusted_issuer(&self, issuer: &str) -> Option<&Arc<TrustedIssuer>> {
        self.issuers.get(issuer)
    }

    /// One API by identifier.
    pub fn api(&self, identifier: &str) -> Option<&Arc<Api>> {
        self.apis.get(identifier)
    }

    /// One client by id.
    pub fn client(&self, client_id: &str) -> Option<&Arc<Client>> {
        self.clients.get(client_id)
    }

    /// Every API.
    pub fn apis(&self) -> impl Iterator<Item = &Arc<Api>> {
        self.apis.values()
    }
}
