//! APIs, clients, trusted issuers and the registry version.

use std::sync::Arc;

use warden_core::store::{Store, StoreError};
use warden_types::{ApiIdentifier, ClientId, TokenFormat};

use crate::fixtures::{self, NOW};

pub(crate) async fn fresh_database_answers(store: Arc<dyn Store>) {
    store.ping().await.unwrap();
    assert_eq!(store.registry_version().await.unwrap(), 0);
    assert!(store.apis().await.unwrap().is_empty());
    assert!(store.clients().await.unwrap().is_empty());
    assert!(store.trusted_issuers().await.unwrap().is_empty());
    assert!(store.signing_keys().await.unwrap().is_empty());
    assert!(store.audit_events(10).await.unwrap().is_empty());
}

pub(crate) async fn api_crud(store: Arc<dyn Store>) {
    let v0 = store.registry_version().await.unwrap();
    let payments = fixtures::api("https://api.example.com/payments");
    let ledger = fixtures::api("https://api.example.com/ledger");

    store.insert_api(&payments).await.unwrap();
    assert_eq!(store.registry_version().await.unwrap(), v0 + 1);
    store.insert_api(&ledger).await.unwrap();
    assert_eq!(store.registry_version().await.unwrap(), v0 + 2);

    assert_eq!(
        store.api(payments.identifier.as_str()).await.unwrap(),
        Some(payments.clone())
    );
    assert_eq!(
        store.api("https://api.example.com/none").await.unwrap(),
        None
    );
    // Ordered by identifier.
    assert_eq!(
        store.apis().await.unwrap(),
        vec![ledger.clone(), payments.clone()]
    );

    let mut changed = payments.clone();
    changed.name = "Payments".to_owned();
    changed.token_format = TokenFormat::Opaque;
    changed.token_lifetime = 300;
    changed.scopes.pop();
    changed.updated_at = NOW + 60;
    assert!(store.update_api(&changed).await.unwrap());
    assert_eq!(store.registry_version().await.unwrap(), v0 + 3);
    assert_eq!(
        store.api(payments.identifier.as_str()).await.unwrap(),
        Some(changed.clone())
    );

    assert!(
        store
            .delete_api(payments.identifier.as_str())
            .await
            .unwrap()
    );
    assert_eq!(store.registry_version().await.unwrap(), v0 + 4);
    assert_eq!(store.api(payments.identifier.as_str()).await.unwrap(), None);
    assert_eq!(store.apis().await.unwrap(), vec![ledger]);

    // Deleted, so it can be created again.
    store.insert_api(&payments).await.unwrap();
    assert_eq!(store.registry_version().await.unwrap(), v0 + 5);
}

pub(crate) async fn api_conflict_and_misses_leave_version_alone(store: Arc<dyn Store>) {
    let api = fixtures::api("https://api.example.com/payments");
    store.insert_api(&api).await.unwrap();
    let v = store.registry_version().await.unwrap();

    let mut other = api.clone();
    other.name = "Impostor".to_owned();
    assert!(matches!(
        store.insert_api(&other).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(store.api(api.identifier.as_str()).await.unwrap(), Some(api));

    let missing = fixtures::api("https://api.example.com/missing");
    assert!(!store.update_api(&missing).await.unwrap());
    assert!(!store.delete_api(missing.identifier.as_str()).await.unwrap());
    assert_eq!(store.api(missing.identifier.as_str()).await.unwrap(), None);
    assert_eq!(store.registry_version().await.unwrap(), v);
}

pub(crate) async fn client_crud_round_trips_every_field(store: Arc<dyn Store>) {
    let v0 = store.registry_version().await.unwrap();
    let a = fixtures::client("svc-a");
    let mut b = fixtures::client("svc-b");
    b.secret = None;
    b.jwks = None;
    b.jwks_uri = Some("https://svc-b.example.com/jwks".to_owned());
    b.allowed_apis = None;
    b.serves_api = None;
    b.registration_token_hash = None;
    b.exchange_targets = Vec::new();
    assert!(!a.exchange_targets.is_empty());

    store.insert_client(&b).await.unwrap();
    store.insert_client(&a).await.unwrap();
    assert_eq!(store.registry_version().await.unwrap(), v0 + 2);

    assert_eq!(store.client("svc-a").await.unwrap(), Some(a.clone()));
    assert_eq!(store.client("svc-b").await.unwrap(), Some(b.clone()));
    assert_eq!(
        store
            .client("svc-a")
            .await
            .unwrap()
            .unwrap()
            .exchange_targets,
        vec![ApiIdentifier::new("https://api.example.com/payments")]
    );
    assert!(
        store
            .client("svc-b")
            .await
            .unwrap()
            .unwrap()
            .exchange_targets
            .is_empty()
    );
    assert_eq!(store.client("svc-c").await.unwrap(), None);
    assert_eq!(store.clients().await.unwrap(), vec![a.clone(), b.clone()]);

    let mut rotated = a.clone();
    rotated.secret = Some(warden_core::model::StoredSecret {
        hash: "bmV3LWhhc2g".to_owned(),
        sealed: None,
    });
    rotated.exchange_targets = vec![
        ApiIdentifier::new("https://api.example.com/ledger"),
        ApiIdentifier::new("https://api.example.com/payments"),
    ];
    rotated.updated_at = NOW + 5;
    assert!(store.update_client(&rotated).await.unwrap());
    assert_eq!(store.registry_version().await.unwrap(), v0 + 3);
    assert_eq!(store.client("svc-a").await.unwrap(), Some(rotated));

    assert!(store.delete_client("svc-a").await.unwrap());
    assert_eq!(store.registry_version().await.unwrap(), v0 + 4);
    assert_eq!(store.client("svc-a").await.unwrap(), None);
    assert_eq!(store.clients().await.unwrap(), vec![b]);
}

pub(crate) async fn client_conflict_and_misses_leave_version_alone(store: Arc<dyn Store>) {
    let client = fixtures::client("svc-a");
    store.insert_client(&client).await.unwrap();
    let v = store.registry_version().await.unwrap();

    let mut other = client.clone();
    other.name = "Impostor".to_owned();
    assert!(matches!(
        store.insert_client(&other).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(store.client("svc-a").await.unwrap(), Some(client));

    let missing = fixtures::client("svc-missing");
    assert!(!store.update_client(&missing).await.unwrap());
    assert!(!store.delete_client("svc-missing").await.unwrap());
    assert_eq!(store.client("svc-missing").await.unwrap(), None);
    assert_eq!(store.registry_version().await.unwrap(), v);
}

pub(crate) async fn trusted_issuer_crud_round_trips_every_field(store: Arc<dyn Store>) {
    let v0 = store.registry_version().await.unwrap();
    // Orders the same under any collation: "c" < "k".
    let ci = fixtures::trusted_issuer("https://ci.example.com");
    let mut k8s = fixtures::trusted_issuer("https://k8s.example.com");
    // The optional fields unset, so both shapes of the record round-trip.
    k8s.jwks_uri = None;
    k8s.jwks = None;
    k8s.audience = None;
    k8s.subjects.clear();
    k8s.max_lifetime = warden_core::model::DEFAULT_FEDERATED_MAX_LIFETIME;
    k8s.created_at = NOW + 1;
    k8s.updated_at = NOW + 2;
    assert!(ci.jwks.as_ref().is_some_and(|set| set.keys.len() == 2));
    assert_eq!(ci.subjects.len(), 2);

    store.insert_trusted_issuer(&k8s).await.unwrap();
    assert_eq!(store.registry_version().await.unwrap(), v0 + 1);
    store.insert_trusted_issuer(&ci).await.unwrap();
    assert_eq!(store.registry_version().await.unwrap(), v0 + 2);

    assert_eq!(
        store
            .trusted_issuer("https://ci.example.com")
            .await
            .unwrap(),
        Some(ci.clone())
    );
    assert_eq!(
        store
            .trusted_issuer("https://k8s.example.com")
            .await
            .unwrap(),
        Some(k8s.clone())
    );
    // Exact match only.
    assert_eq!(
        store
            .trusted_issuer("https://ci.example.com/")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .trusted_issuer("https://none.example.com")
            .await
            .unwrap(),
        None
    );
    // Ordered by issuer, not by insertion.
    assert_eq!(
        store.trusted_issuers().await.unwrap(),
        vec![ci.clone(), k8s.clone()]
    );

    let mut changed = ci.clone();
    changed.name = "CI".to_owned();
    changed.jwks_uri = None;
    changed.jwks = Some(warden_types::jwk::JwkSet {
        keys: vec![fixtures::jwk("cluster-key-3")],
    });
    changed.audience = Some("https://warden.example.com/token".to_owned());
    changed.max_lifetime = 600;
    changed
        .subjects
        .remove("system:serviceaccount:ledger:worker");
    changed.subjects.insert(
        "repo:example/deploy:ref:refs/heads/main".to_owned(),
        ClientId::new("svc-deploy"),
    );
    changed.updated_at = NOW + 60;
    assert!(store.update_trusted_issuer(&changed).await.unwrap());
    assert_eq!(store.registry_version().await.unwrap(), v0 + 3);
    assert_eq!(
        store
            .trusted_issuer("https://ci.example.com")
            .await
            .unwrap(),
        Some(changed.clone())
    );

    assert!(
        store
            .delete_trusted_issuer("https://ci.example.com")
            .await
            .unwrap()
    );
    assert_eq!(store.registry_version().await.unwrap(), v0 + 4);
    assert_eq!(
        store
            .trusted_issuer("https://ci.example.com")
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.trusted_issuers().await.unwrap(), vec![k8s.clone()]);

    // Deleted, so it can be created again.
    store.insert_trusted_issuer(&ci).await.unwrap();
    assert_eq!(store.registry_version().await.unwrap(), v0 + 5);
    assert_eq!(store.trusted_issuers().await.unwrap(), vec![ci, k8s]);
}

pub(crate) async fn trusted_issuer_conflict_and_misses_leave_version_alone(store: Arc<dyn Store>) {
    let issuer = fixtures::trusted_issuer("https://k8s.example.com");
    store.insert_trusted_issuer(&issuer).await.unwrap();
    let v = store.registry_version().await.unwrap();

    let mut other = issuer.clone();
    other.name = "Impostor".to_owned();
    other.subjects.clear();
    assert!(matches!(
        store.insert_trusted_issuer(&other).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(
        store
            .trusted_issuer("https://k8s.example.com")
            .await
            .unwrap(),
        Some(issuer)
    );

    let missing = fixtures::trusted_issuer("https://missing.example.com");
    assert!(!store.update_trusted_issuer(&missing).await.unwrap());
    assert!(
        !store
            .delete_trusted_issuer("https://missing.example.com")
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .trusted_issuer("https://missing.example.com")
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.trusted_issuers().await.unwrap().len(), 1);
    assert_eq!(store.registry_version().await.unwrap(), v);
}

/// A change made through one instance is visible, with its version bump, to another.
pub(crate) async fn instances_see_registry_changes(first: Arc<dyn Store>, second: Arc<dyn Store>) {
    let v0 = second.registry_version().await.unwrap();
    first
        .insert_client(&fixtures::client("svc-a"))
        .await
        .unwrap();
    assert_eq!(second.registry_version().await.unwrap(), v0 + 1);
    assert!(second.client("svc-a").await.unwrap().is_some());

    // Both instances insert the same API at once: one wins, the other sees Conflict.
    let api = fixtures::api("https://api.example.com/payments");
    let (a, b) = tokio::join!(first.insert_api(&api), second.insert_api(&api));
    let conflicts = [&a, &b]
        .iter()
        .filter(|r| matches!(r, Err(StoreError::Conflict)))
        .count();
    assert_eq!(conflicts, 1, "{a:?} {b:?}");
    assert!(a.is_ok() || b.is_ok());
    assert_eq!(first.registry_version().await.unwrap(), v0 + 2);

    // Trusted issuers too.
    let issuer = fixtures::trusted_issuer("https://k8s.example.com");
    second.insert_trusted_issuer(&issuer).await.unwrap();
    assert_eq!(first.registry_version().await.unwrap(), v0 + 3);
    assert_eq!(
        first
            .trusted_issuer("https://k8s.example.com")
            .await
            .unwrap(),
        Some(issuer.clone())
    );
    assert!(matches!(
        first.insert_trusted_issuer(&issuer).await,
        Err(StoreError::Conflict)
    ));
    assert!(
        first
            .delete_trusted_issuer("https://k8s.example.com")
            .await
            .unwrap()
    );
    assert_eq!(second.registry_version().await.unwrap(), v0 + 4);
    assert!(second.trusted_issuers().await.unwrap().is_empty());
}
