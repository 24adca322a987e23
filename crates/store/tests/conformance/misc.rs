//! Audit events, settings and pruning.

use std::sync::Arc;

use warden_core::model::KeyState;
use warden_core::store::Store;

use crate::fixtures::{self, NOW};

pub(crate) async fn audit_retention_prunes_old_events(store: Arc<dyn Store>) {
    // More than one multi-row insert's worth, so the batching is exercised too.
    let events: Vec<_> = (0..450)
        .map(|i| fixtures::audit_event(NOW + i, "token_issued"))
        .collect();
    store.append_audit_events(&events).await.unwrap();
    assert_eq!(store.audit_events(1000).await.unwrap().len(), 450);
    assert_eq!(store.prune_audit_events(NOW + 100).await.unwrap(), 100);
    let left = store.audit_events(1000).await.unwrap();
    assert_eq!(left.len(), 350);
    assert!(left.iter().all(|e| e.at >= NOW + 100));
    assert_eq!(store.prune_audit_events(NOW).await.unwrap(), 0);
}

pub(crate) async fn audit_append_and_list(store: Arc<dyn Store>) {
    store.append_audit_events(&[]).await.unwrap();
    assert!(store.audit_events(10).await.unwrap().is_empty());

    let first_batch = [
        fixtures::audit_event(NOW, "client_created"),
        fixtures::audit_event(NOW + 1, "token_issued"),
    ];
    store.append_audit_events(&first_batch).await.unwrap();
    let second_batch = [
        fixtures::audit_event(NOW + 2, "token_refused"),
        fixtures::audit_event(NOW + 2, "client_auth_failed"),
        fixtures::audit_event(NOW + 3, "key_rotated"),
    ];
    store.append_audit_events(&second_batch).await.unwrap();

    // Newest first; events in the same second in the order they were appended, reversed.
    let all = store.audit_events(100).await.unwrap();
    let kinds: Vec<_> = all.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "key_rotated",
            "client_auth_failed",
            "token_refused",
            "token_issued",
            "client_created"
        ]
    );
    assert_eq!(all[0], second_batch[2]);
    assert_eq!(all[4], first_batch[0]);

    let latest = store.audit_events(2).await.unwrap();
    assert_eq!(latest, all[..2]);
    assert!(store.audit_events(0).await.unwrap().is_empty());
}

pub(crate) async fn settings_keep_first_value(store: Arc<dyn Store>) {
    assert_eq!(store.setting("issuer").await.unwrap(), None);
    assert_eq!(
        store
            .init_setting("issuer", "https://a.example")
            .await
            .unwrap(),
        "https://a.example"
    );
    assert_eq!(
        store
            .init_setting("issuer", "https://b.example")
            .await
            .unwrap(),
        "https://a.example"
    );
    assert_eq!(
        store.setting("issuer").await.unwrap().as_deref(),
        Some("https://a.example")
    );
    assert_eq!(store.init_setting("other", "").await.unwrap(), "");
    assert_eq!(store.setting("other").await.unwrap().as_deref(), Some(""));

    // Racing first initialisations agree on one value.
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .init_setting("pepper-id", &format!("value-{i}"))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut values = Vec::new();
    for task in tasks {
        values.push(task.await.unwrap());
    }
    values.dedup();
    assert_eq!(values.len(), 1, "{values:?}");
    assert_eq!(
        store.setting("pepper-id").await.unwrap(),
        Some(values[0].clone())
    );
}

pub(crate) async fn prune_removes_only_expired_rows(store: Arc<dyn Store>) {
    // Expired at NOW (expiry <= NOW) ...
    store
        .record_assertion_jti("svc-a", "old", NOW, NOW - 10)
        .await
        .unwrap();
    store.revoke_jti("old", NOW - 5).await.unwrap();
    store
        .insert_opaque_token(&fixtures::opaque_token("old", NOW))
        .await
        .unwrap();
    store
        .insert_initial_access_token(&fixtures::initial_access_token("old", false, NOW - 1))
        .await
        .unwrap();
    // ... and live at NOW.
    store
        .record_assertion_jti("svc-a", "new", NOW + 1, NOW - 10)
        .await
        .unwrap();
    store.revoke_jti("new", NOW + 60).await.unwrap();
    store
        .insert_opaque_token(&fixtures::opaque_token("new", NOW + 1))
        .await
        .unwrap();
    store
        .insert_initial_access_token(&fixtures::initial_access_token("new", true, NOW + 1))
        .await
        .unwrap();
    // Registry rows are never pruned.
    store
        .insert_api(&fixtures::api("https://api.example.com/payments"))
        .await
        .unwrap();
    let mut key = fixtures::key("retired", KeyState::Retired, NOW - 100);
    key.remove_after = Some(NOW - 50);
    store.insert_signing_key(&key).await.unwrap();
    let issuer = fixtures::trusted_issuer("https://k8s.example.com");
    store.insert_trusted_issuer(&issuer).await.unwrap();
    let v = store.registry_version().await.unwrap();

    assert_eq!(store.prune_expired(NOW).await.unwrap(), 4);
    assert_eq!(store.prune_expired(NOW).await.unwrap(), 0);

    // The pruned jti is gone (reusable even at a time before its old expiry would allow,
    // which shows the row left), the live one still refuses a replay.
    assert!(
        store
            .record_assertion_jti("svc-a", "old", NOW + 5, NOW - 20)
            .await
            .unwrap()
    );
    assert!(
        !store
            .record_assertion_jti("svc-a", "new", NOW + 5, NOW)
            .await
            .unwrap()
    );
    assert!(!store.is_jti_revoked("old").await.unwrap());
    assert!(store.is_jti_revoked("new").await.unwrap());
    assert_eq!(store.opaque_token("old").await.unwrap(), None);
    assert!(store.opaque_token("new").await.unwrap().is_some());
    assert_eq!(
        store
            .use_initial_access_token("old", NOW - 10)
            .await
            .unwrap(),
        None
    );
    assert!(
        store
            .use_initial_access_token("new", NOW)
            .await
            .unwrap()
            .is_some()
    );

    assert_eq!(store.apis().await.unwrap().len(), 1);
    assert_eq!(store.signing_keys().await.unwrap().len(), 1);
    assert_eq!(store.trusted_issuers().await.unwrap(), vec![issuer]);
    assert_eq!(store.registry_version().await.unwrap(), v);
}
