//! Opaque access tokens and RFC 7591 initial access tokens.

use std::sync::Arc;

use warden_core::store::{Store, StoreError};

use crate::fixtures::{self, NOW};

pub(crate) async fn opaque_token_round_trip(store: Arc<dyn Store>) {
    let with_extra = fixtures::opaque_token("hash-1", NOW + 900);
    let mut plain = fixtures::opaque_token("hash-2", NOW + 900);
    plain.extra = None;
    plain.scope = warden_types::Scope::empty();
    store.insert_opaque_token(&with_extra).await.unwrap();
    store.insert_opaque_token(&plain).await.unwrap();

    assert_eq!(
        store.opaque_token("hash-1").await.unwrap(),
        Some(with_extra.clone())
    );
    assert_eq!(store.opaque_token("hash-2").await.unwrap(), Some(plain));
    assert_eq!(store.opaque_token("hash-3").await.unwrap(), None);

    // The hash is the key: a second record under it is a conflict and changes nothing.
    let mut duplicate = fixtures::opaque_token("hash-1", NOW + 5);
    duplicate.sub = "someone-else".to_owned();
    assert!(matches!(
        store.insert_opaque_token(&duplicate).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(
        store.opaque_token("hash-1").await.unwrap(),
        Some(with_extra)
    );

    // Opaque tokens are not part of the registry.
    assert_eq!(store.registry_version().await.unwrap(), 0);
}

pub(crate) async fn opaque_token_revocation(store: Arc<dyn Store>) {
    let token = fixtures::opaque_token("hash-1", NOW + 900);
    store.insert_opaque_token(&token).await.unwrap();
    assert!(store.revoke_opaque_token("hash-1").await.unwrap());
    let revoked = store.opaque_token("hash-1").await.unwrap().unwrap();
    assert!(revoked.revoked);
    assert_eq!(
        revoked,
        warden_core::model::OpaqueTokenRecord {
            revoked: true,
            ..token
        }
    );
    // Revoking again still finds the token.
    assert!(store.revoke_opaque_token("hash-1").await.unwrap());
    assert!(!store.revoke_opaque_token("unknown").await.unwrap());
    assert_eq!(store.opaque_token("unknown").await.unwrap(), None);
}

pub(crate) async fn reusable_initial_access_token(store: Arc<dyn Store>) {
    let token = fixtures::initial_access_token("iat-1", false, NOW + 3600);
    store.insert_initial_access_token(&token).await.unwrap();
    for i in 0..3 {
        assert_eq!(
            store
                .use_initial_access_token("iat-1", NOW + i)
                .await
                .unwrap(),
            Some(token.clone())
        );
    }
    assert_eq!(
        store
            .use_initial_access_token("iat-1", NOW + 3599)
            .await
            .unwrap(),
        Some(token.clone())
    );
    // Expired at its expiry time.
    assert_eq!(
        store
            .use_initial_access_token("iat-1", NOW + 3600)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .use_initial_access_token("unknown", NOW)
            .await
            .unwrap(),
        None
    );

    assert!(matches!(
        store.insert_initial_access_token(&token).await,
        Err(StoreError::Conflict)
    ));
}

pub(crate) async fn single_use_initial_access_token(store: Arc<dyn Store>) {
    let token = fixtures::initial_access_token("iat-once", true, NOW + 3600);
    assert!(token.allowed_apis.is_some());
    store.insert_initial_access_token(&token).await.unwrap();
    assert_eq!(
        store
            .use_initial_access_token("iat-once", NOW)
            .await
            .unwrap(),
        Some(token)
    );
    assert_eq!(
        store
            .use_initial_access_token("iat-once", NOW)
            .await
            .unwrap(),
        None
    );

    // An expired single-use token is refused, not consumed by the refusal.
    let expired = fixtures::initial_access_token("iat-expired", true, NOW);
    store.insert_initial_access_token(&expired).await.unwrap();
    assert_eq!(
        store
            .use_initial_access_token("iat-expired", NOW)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .use_initial_access_token("iat-expired", NOW - 1)
            .await
            .unwrap(),
        Some(expired)
    );
}

/// Many registrations present the same single-use token at once: exactly one gets it.
pub(crate) async fn concurrent_single_use_one_winner(store: Arc<dyn Store>) {
    race_once(&[store]).await;
}

/// The same race, across two instances sharing the database.
pub(crate) async fn instances_share_single_use_tokens(
    first: Arc<dyn Store>,
    second: Arc<dyn Store>,
) {
    race_once(&[first, second]).await;
}

async fn race_once(stores: &[Arc<dyn Store>]) {
    const TASKS: usize = 32;
    for round in 0..4 {
        let hash = format!("iat-race-{round}");
        stores[0]
            .insert_initial_access_token(&fixtures::initial_access_token(&hash, true, NOW + 60))
            .await
            .unwrap();
        let tasks: Vec<_> = (0..TASKS)
            .map(|i| {
                let store = stores[i % stores.len()].clone();
                let hash = hash.clone();
                tokio::spawn(
                    async move { store.use_initial_access_token(&hash, NOW).await.unwrap() },
                )
            })
            .collect();
        let mut winners = 0;
        for task in tasks {
            if let Some(token) = task.await.unwrap() {
                assert_eq!(token.token_hash, hash);
                winners += 1;
            }
        }
        assert_eq!(winners, 1, "round {round}");
    }
}
