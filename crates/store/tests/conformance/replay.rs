//! Client-assertion `jti` replay detection and the JWT revocation list.

use std::sync::Arc;

use warden_core::store::Store;

use crate::fixtures::NOW;

pub(crate) async fn assertion_jti_replay(store: Arc<dyn Store>) {
    let exp = NOW + 300;
    assert!(
        store
            .record_assertion_jti("svc-a", "j1", exp, NOW)
            .await
            .unwrap()
    );
    // Replay by the same client: refused, however often.
    assert!(
        !store
            .record_assertion_jti("svc-a", "j1", exp, NOW + 1)
            .await
            .unwrap()
    );
    assert!(
        !store
            .record_assertion_jti("svc-a", "j1", exp + 60, NOW + 2)
            .await
            .unwrap()
    );
    // Same jti from another client: jtis are unique per client.
    assert!(
        store
            .record_assertion_jti("svc-b", "j1", exp, NOW)
            .await
            .unwrap()
    );
    // Another jti from the same client.
    assert!(
        store
            .record_assertion_jti("svc-a", "j2", exp, NOW)
            .await
            .unwrap()
    );
    // Still refused one second before expiry.
    assert!(
        !store
            .record_assertion_jti("svc-a", "j1", exp, exp - 1)
            .await
            .unwrap()
    );
}

pub(crate) async fn assertion_jti_reuse_after_expiry(store: Arc<dyn Store>) {
    let exp = NOW + 300;
    assert!(
        store
            .record_assertion_jti("svc-a", "j1", exp, NOW)
            .await
            .unwrap()
    );
    // An entry expires at its `exp`, like the JWT it stands for (RFC 7519 §4.1.4).
    assert!(
        store
            .record_assertion_jti("svc-a", "j1", exp + 300, exp)
            .await
            .unwrap()
    );
    // The new entry now guards the jti until its own expiry.
    assert!(
        !store
            .record_assertion_jti("svc-a", "j1", exp + 300, exp + 299)
            .await
            .unwrap()
    );
    assert!(
        store
            .record_assertion_jti("svc-a", "j1", exp + 900, exp + 301)
            .await
            .unwrap()
    );
    // Pruning then leaves the live entry alone.
    store.prune_expired(exp + 302).await.unwrap();
    assert!(
        !store
            .record_assertion_jti("svc-a", "j1", exp + 900, exp + 303)
            .await
            .unwrap()
    );
}

/// Many requests carrying the same assertion at once: exactly one is accepted.
pub(crate) async fn concurrent_assertion_jti_one_winner(store: Arc<dyn Store>) {
    race_jti(&[store]).await;
}

/// The same race, across two instances sharing the database.
pub(crate) async fn instances_share_the_replay_set(first: Arc<dyn Store>, second: Arc<dyn Store>) {
    race_jti(&[first.clone(), second.clone()]).await;
    // And sequentially: a jti recorded through one is a replay through the other.
    assert!(
        first
            .record_assertion_jti("svc-a", "seq", NOW + 60, NOW)
            .await
            .unwrap()
    );
    assert!(
        !second
            .record_assertion_jti("svc-a", "seq", NOW + 60, NOW)
            .await
            .unwrap()
    );
}

async fn race_jti(stores: &[Arc<dyn Store>]) {
    const TASKS: usize = 32;
    for round in 0..4 {
        let jti = format!("race-{round}");
        let tasks: Vec<_> = (0..TASKS)
            .map(|i| {
                let store = stores[i % stores.len()].clone();
                let jti = jti.clone();
                tokio::spawn(async move {
                    store
                        .record_assertion_jti("svc-a", &jti, NOW + 300, NOW)
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
        assert_eq!(winners, 1, "round {round}");
    }
    // Racing to reuse an expired entry: still exactly one winner.
    let tasks: Vec<_> = (0..TASKS)
        .map(|i| {
            let store = stores[i % stores.len()].clone();
            tokio::spawn(async move {
                store
                    .record_assertion_jti("svc-a", "race-0", NOW + 900, NOW + 600)
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
    assert_eq!(winners, 1, "reuse after expiry");
}

pub(crate) async fn revoked_jtis(store: Arc<dyn Store>) {
    assert!(!store.is_jti_revoked("t1").await.unwrap());
    store.revoke_jti("t1", NOW + 600).await.unwrap();
    assert!(store.is_jti_revoked("t1").await.unwrap());
    assert!(!store.is_jti_revoked("t2").await.unwrap());

    // Revoking again is fine; a shorter expiry does not shorten the entry.
    store.revoke_jti("t1", NOW + 60).await.unwrap();
    store.prune_expired(NOW + 300).await.unwrap();
    assert!(store.is_jti_revoked("t1").await.unwrap());

    // A later expiry extends it.
    store.revoke_jti("t1", NOW + 1200).await.unwrap();
    store.prune_expired(NOW + 900).await.unwrap();
    assert!(store.is_jti_revoked("t1").await.unwrap());

    store.prune_expired(NOW + 1200).await.unwrap();
    assert!(!store.is_jti_revoked("t1").await.unwrap());
}
