//! Signing-key lifecycle: published → active → retired → removed.

use std::sync::Arc;

use warden_core::model::{KeyState, StoredKey};
use warden_core::store::{Store, StoreError};

use crate::fixtures::{self, NOW};

async fn key(store: &Arc<dyn Store>, kid: &str) -> StoredKey {
    store
        .signing_keys()
        .await
        .unwrap()
        .into_iter()
        .find(|k| k.kid.as_str() == kid)
        .unwrap_or_else(|| panic!("key {kid} missing"))
}

fn assert_same_key(a: &StoredKey, b: &StoredKey) {
    // StoredKey's Debug hides the sealed key, so compare field by field for useful failures.
    assert_eq!(a.kid, b.kid);
    assert_eq!(a.alg, b.alg);
    assert_eq!(a.state, b.state);
    assert_eq!(a.sealed_private_key, b.sealed_private_key);
    assert_eq!(a.public_jwk, b.public_jwk);
    assert_eq!(a.created_at, b.created_at);
    assert_eq!(a.activated_at, b.activated_at);
    assert_eq!(a.retired_at, b.retired_at);
    assert_eq!(a.remove_after, b.remove_after);
    assert!(a == b);
}

pub(crate) async fn key_insert_and_list(store: Arc<dyn Store>) {
    let v0 = store.registry_version().await.unwrap();
    let later = fixtures::key("k-later", KeyState::Published, NOW + 100);
    let mut retired = fixtures::key("k-retired", KeyState::Retired, NOW - 100);
    retired.retired_at = Some(NOW - 50);
    retired.remove_after = Some(NOW + 3600);
    let active = fixtures::key("k-active", KeyState::Active, NOW);

    store.insert_signing_key(&later).await.unwrap();
    store.insert_signing_key(&retired).await.unwrap();
    store.insert_signing_key(&active).await.unwrap();
    assert_eq!(store.registry_version().await.unwrap(), v0 + 3);

    let keys = store.signing_keys().await.unwrap();
    assert_eq!(keys.len(), 3);
    // Ordered by creation time.
    assert_same_key(&keys[0], &retired);
    assert_same_key(&keys[1], &active);
    assert_same_key(&keys[2], &later);

    let mut duplicate = fixtures::key("k-active", KeyState::Published, NOW + 5);
    duplicate.sealed_private_key = "other".to_owned();
    assert!(matches!(
        store.insert_signing_key(&duplicate).await,
        Err(StoreError::Conflict)
    ));
    assert_same_key(&key(&store, "k-active").await, &active);
    assert_eq!(store.registry_version().await.unwrap(), v0 + 3);
}

pub(crate) async fn first_activation_without_previous(store: Arc<dyn Store>) {
    store
        .insert_signing_key(&fixtures::key("k1", KeyState::Published, NOW))
        .await
        .unwrap();
    let v = store.registry_version().await.unwrap();

    assert!(
        store
            .activate_signing_key("k1", None, NOW + 60, NOW + 999)
            .await
            .unwrap()
    );
    let k1 = key(&store, "k1").await;
    assert_eq!(k1.state, KeyState::Active);
    assert_eq!(k1.activated_at, Some(NOW + 60));
    assert_eq!(k1.retired_at, None);
    assert_eq!(k1.remove_after, None);
    assert_eq!(store.registry_version().await.unwrap(), v + 1);

    // Already active: the precondition fails.
    assert!(
        !store
            .activate_signing_key("k1", None, NOW + 70, NOW + 999)
            .await
            .unwrap()
    );
    // Unknown key.
    assert!(
        !store
            .activate_signing_key("nope", None, NOW + 70, NOW + 999)
            .await
            .unwrap()
    );
    assert_eq!(key(&store, "k1").await.activated_at, Some(NOW + 60));
    assert_eq!(store.registry_version().await.unwrap(), v + 1);
}

pub(crate) async fn key_rotation_is_compare_and_set(store: Arc<dyn Store>) {
    store
        .insert_signing_key(&fixtures::key("k1", KeyState::Active, NOW))
        .await
        .unwrap();
    store
        .insert_signing_key(&fixtures::key("k2", KeyState::Published, NOW + 1))
        .await
        .unwrap();
    store
        .insert_signing_key(&fixtures::key("k3", KeyState::Published, NOW + 2))
        .await
        .unwrap();
    let v = store.registry_version().await.unwrap();

    // k2 takes over from k1.
    assert!(
        store
            .activate_signing_key("k2", Some("k1"), NOW + 100, NOW + 4000)
            .await
            .unwrap()
    );
    assert_eq!(store.registry_version().await.unwrap(), v + 1);
    let k1 = key(&store, "k1").await;
    assert_eq!(k1.state, KeyState::Retired);
    assert_eq!(k1.retired_at, Some(NOW + 100));
    assert_eq!(k1.remove_after, Some(NOW + 4000));
    let k2 = key(&store, "k2").await;
    assert_eq!(k2.state, KeyState::Active);
    assert_eq!(k2.activated_at, Some(NOW + 100));

    // A second instance, rotating from the same stale view (k1 active), must fail and change
    // nothing: k3 stays published even though its own precondition holds.
    let before = store.signing_keys().await.unwrap();
    assert!(
        !store
            .activate_signing_key("k3", Some("k1"), NOW + 101, NOW + 4001)
            .await
            .unwrap()
    );
    let after = store.signing_keys().await.unwrap();
    assert_eq!(before.len(), after.len());
    for (a, b) in before.iter().zip(&after) {
        assert_same_key(a, b);
    }
    assert_eq!(store.registry_version().await.unwrap(), v + 1);

    // Next key not published (k2 is active), previous fine.
    assert!(
        !store
            .activate_signing_key("k2", Some("k2"), NOW + 102, NOW + 4002)
            .await
            .unwrap()
    );
    assert!(
        !store
            .activate_signing_key("k1", Some("k2"), NOW + 102, NOW + 4002)
            .await
            .unwrap()
    );
    assert_eq!(key(&store, "k2").await.state, KeyState::Active);
    assert_eq!(key(&store, "k1").await.state, KeyState::Retired);

    // The right preconditions succeed.
    assert!(
        store
            .activate_signing_key("k3", Some("k2"), NOW + 200, NOW + 5000)
            .await
            .unwrap()
    );
    assert_eq!(key(&store, "k3").await.state, KeyState::Active);
    assert_eq!(key(&store, "k2").await.state, KeyState::Retired);
    assert_eq!(store.registry_version().await.unwrap(), v + 2);
}

/// Several rotations race from the same view: exactly one key is promoted.
pub(crate) async fn concurrent_rotations_promote_one_key(store: Arc<dyn Store>) {
    race_rotations(&[store.clone(), store]).await;
}

/// The same race, split between two instances of the store.
pub(crate) async fn instances_rotate_once(first: Arc<dyn Store>, second: Arc<dyn Store>) {
    race_rotations(&[first, second]).await;
}

async fn race_rotations(stores: &[Arc<dyn Store>]) {
    const CANDIDATES: usize = 8;
    let store = &stores[0];
    store
        .insert_signing_key(&fixtures::key("current", KeyState::Active, NOW))
        .await
        .unwrap();
    for i in 0..CANDIDATES {
        store
            .insert_signing_key(&fixtures::key(
                &format!("next-{i}"),
                KeyState::Published,
                NOW + 1,
            ))
            .await
            .unwrap();
    }
    let v = store.registry_version().await.unwrap();

    let tasks: Vec<_> = (0..CANDIDATES)
        .map(|i| {
            let store = stores[i % stores.len()].clone();
            tokio::spawn(async move {
                store
                    .activate_signing_key(&format!("next-{i}"), Some("current"), NOW + 10, NOW + 99)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut winners = 0;
    for task in tasks {
        if task.await.unwrap() {
            winners += 1;
        }
    }
    assert_eq!(winners, 1);

    let keys = store.signing_keys().await.unwrap();
    let count = |state| keys.iter().filter(|k| k.state == state).count();
    assert_eq!(count(KeyState::Active), 1);
    assert_eq!(count(KeyState::Retired), 1);
    assert_eq!(count(KeyState::Published), CANDIDATES - 1);
    assert_eq!(store.registry_version().await.unwrap(), v + 1);
}

pub(crate) async fn remove_expired_keys(store: Arc<dyn Store>) {
    let mut old = fixtures::key("old", KeyState::Retired, NOW - 1000);
    old.retired_at = Some(NOW - 500);
    old.remove_after = Some(NOW - 1);
    let mut boundary = fixtures::key("boundary", KeyState::Retired, NOW - 900);
    boundary.retired_at = Some(NOW - 400);
    boundary.remove_after = Some(NOW);
    let mut recent = fixtures::key("recent", KeyState::Retired, NOW - 800);
    recent.retired_at = Some(NOW - 10);
    recent.remove_after = Some(NOW + 3600);
    // Not retired, so never removed whatever its remove_after says.
    let mut active = fixtures::key("active", KeyState::Active, NOW - 700);
    active.remove_after = Some(NOW - 100);
    let published = fixtures::key("published", KeyState::Published, NOW - 600);
    for k in [&old, &boundary, &recent, &active, &published] {
        store.insert_signing_key(k).await.unwrap();
    }
    let v = store.registry_version().await.unwrap();

    // "remove_after is before now": strictly earlier.
    assert_eq!(store.remove_expired_signing_keys(NOW).await.unwrap(), 1);
    assert_eq!(store.registry_version().await.unwrap(), v + 1);
    let kids: Vec<_> = store
        .signing_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.kid.into_string())
        .collect();
    assert_eq!(kids, ["boundary", "recent", "active", "published"]);

    // Nothing to remove: no bump.
    assert_eq!(store.remove_expired_signing_keys(NOW).await.unwrap(), 0);
    assert_eq!(store.registry_version().await.unwrap(), v + 1);

    assert_eq!(
        store.remove_expired_signing_keys(NOW + 3601).await.unwrap(),
        2
    );
    assert_eq!(store.registry_version().await.unwrap(), v + 2);
    assert_eq!(store.signing_keys().await.unwrap().len(), 2);
}
