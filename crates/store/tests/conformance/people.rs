//! The human side: users, sessions, consent, authorization codes, refresh tokens, pending
//! requests and failed-login counters.

use std::future::Future;
use std::sync::Arc;

use warden_core::model::{
    CodeIssuance, CodeRedemption, LoginFailures, PendingKind, RefreshTokenRecord, RefreshUse, User,
};
use warden_core::store::{Store, StoreError};
use warden_types::{ClientId, Scope};

use crate::fixtures::{self, NOW};

/// Tasks per race.
const TASKS: usize = 32;

/// Runs `attempt` from [`TASKS`] tasks spread over `stores`, all at once, and returns their
/// answers.
async fn race<T, F, Fut>(stores: &[Arc<dyn Store>], attempt: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(Arc<dyn Store>, usize) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
{
    let tasks: Vec<_> = (0..TASKS)
        .map(|i| tokio::spawn(attempt(stores[i % stores.len()].clone(), i)))
        .collect();
    let mut answers = Vec::with_capacity(TASKS);
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    answers
}

fn assert_same_user(a: Option<User>, b: &User) {
    // User's Debug hides most fields, so compare the ones a failure should show.
    let a = a.unwrap_or_else(|| panic!("user {} missing", b.sub));
    assert_eq!(
        (&a.sub, &a.username, &a.email, &a.name),
        (&b.sub, &b.username, &b.email, &b.name)
    );
    assert!(a == *b, "user {} differs", b.sub);
}

// ---- users ------------------------------------------------------------------------------

pub(crate) async fn user_insert_conflicts_and_lookups(store: Arc<dyn Store>) {
    let alice = fixtures::user("sub-alice", "alice", "alice@example.com");
    // Two users without an email do not clash.
    let bob = fixtures::user("sub-bob", "bob", "");
    let carol = fixtures::user("sub-carol", "carol", "");
    for user in [&alice, &bob, &carol] {
        store.insert_user(user).await.unwrap();
    }

    assert_same_user(store.user("sub-alice").await.unwrap(), &alice);
    assert_same_user(store.user_by_username("alice").await.unwrap(), &alice);
    assert_same_user(
        store.user_by_email("alice@example.com").await.unwrap(),
        &alice,
    );
    assert_same_user(store.user_by_username("carol").await.unwrap(), &carol);
    assert!(store.user("sub-nobody").await.unwrap().is_none());
    assert!(store.user_by_username("nobody").await.unwrap().is_none());
    // No email is not an address anyone can be found by.
    assert!(store.user_by_email("").await.unwrap().is_none());
    // Lookups compare exactly: the engine lower-cases before storing and looking up.
    assert!(store.user_by_username("Alice").await.unwrap().is_none());
    assert!(
        store
            .user_by_email("ALICE@example.com")
            .await
            .unwrap()
            .is_none()
    );

    // The sub, the username and the email are each unique.
    let same_sub = fixtures::user("sub-alice", "alice2", "alice2@example.com");
    let same_username = fixtures::user("sub-alice2", "alice", "alice2@example.com");
    let same_email = fixtures::user("sub-alice2", "alice2", "alice@example.com");
    for duplicate in [&same_sub, &same_username, &same_email] {
        assert!(matches!(
            store.insert_user(duplicate).await,
            Err(StoreError::Conflict)
        ));
    }
    assert!(store.user("sub-alice2").await.unwrap().is_none());
    assert!(store.user_by_username("alice2").await.unwrap().is_none());
    assert_same_user(store.user("sub-alice").await.unwrap(), &alice);
    assert_eq!(store.users().await.unwrap().len(), 3);

    // Users are not part of the registry.
    assert_eq!(store.registry_version().await.unwrap(), 0);
}

pub(crate) async fn user_update_and_list_order(store: Arc<dyn Store>) {
    // Inserted out of order; listed by username.
    for (sub, username, email) in [
        ("sub-3", "mallory", "m@example.com"),
        ("sub-1", "dave", "d@example.com"),
        ("sub-2", "erin", ""),
    ] {
        store
            .insert_user(&fixtures::user(sub, username, email))
            .await
            .unwrap();
    }
    let names = |users: Vec<User>| -> Vec<String> {
        users.into_iter().map(|u| u.username).collect::<Vec<_>>()
    };
    assert_eq!(
        names(store.users().await.unwrap()),
        ["dave", "erin", "mallory"]
    );

    // Renaming frees the old username and email and takes the new ones.
    let mut dave = fixtures::user("sub-1", "zed", "zed@example.com");
    dave.disabled = true;
    dave.name = None;
    dave.updated_at = NOW + 10;
    assert!(store.update_user(&dave).await.unwrap());
    assert_same_user(store.user("sub-1").await.unwrap(), &dave);
    assert_same_user(store.user_by_username("zed").await.unwrap(), &dave);
    assert_same_user(store.user_by_email("zed@example.com").await.unwrap(), &dave);
    assert!(store.user_by_username("dave").await.unwrap().is_none());
    assert!(
        store
            .user_by_email("d@example.com")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        names(store.users().await.unwrap()),
        ["erin", "mallory", "zed"]
    );
    store
        .insert_user(&fixtures::user("sub-4", "dave", "d@example.com"))
        .await
        .unwrap();

    // Taking another user's username or email is a conflict and changes nothing.
    let erin = fixtures::user("sub-2", "erin", "");
    let steals_username = fixtures::user("sub-2", "mallory", "");
    let steals_email = fixtures::user("sub-2", "erin", "m@example.com");
    for update in [&steals_username, &steals_email] {
        assert!(matches!(
            store.update_user(update).await,
            Err(StoreError::Conflict)
        ));
    }
    assert_same_user(store.user("sub-2").await.unwrap(), &erin);

    // Dropping an email (empty) never clashes with another user without one.
    let mallory = fixtures::user("sub-3", "mallory", "");
    assert!(store.update_user(&mallory).await.unwrap());
    assert!(
        store
            .user_by_email("m@example.com")
            .await
            .unwrap()
            .is_none()
    );
    assert_same_user(store.user("sub-3").await.unwrap(), &mallory);

    assert!(
        !store
            .update_user(&fixtures::user("sub-missing", "ghost", ""))
            .await
            .unwrap()
    );
    assert!(store.user("sub-missing").await.unwrap().is_none());
    assert_eq!(store.registry_version().await.unwrap(), 0);
}

pub(crate) async fn delete_user_cascades(store: Arc<dyn Store>) {
    for (sub, username) in [("sub-a", "alice"), ("sub-b", "bob")] {
        store
            .insert_user(&fixtures::user(
                sub,
                username,
                &format!("{username}@example.com"),
            ))
            .await
            .unwrap();
        store
            .insert_session(&fixtures::session(&format!("sess-{sub}"), sub, NOW + 3600))
            .await
            .unwrap();
        store
            .save_consent(&fixtures::consent(sub, "web-a"))
            .await
            .unwrap();
        store
            .insert_refresh_token(&fixtures::refresh_token(
                &format!("rt-{sub}"),
                &format!("fam-{sub}"),
                "web-a",
                sub,
                NOW + 86_400,
            ))
            .await
            .unwrap();
        store
            .insert_authorization_code(&fixtures::authorization_code(
                &format!("code-{sub}"),
                sub,
                NOW + 60,
            ))
            .await
            .unwrap();
        store
            .insert_authorization_code(&fixtures::authorization_code(
                &format!("redeemed-{sub}"),
                sub,
                NOW + 60,
            ))
            .await
            .unwrap();
        assert!(matches!(
            store
                .redeem_authorization_code(&format!("redeemed-{sub}"), NOW)
                .await
                .unwrap(),
            Some(CodeRedemption::Fresh(_))
        ));
    }

    assert!(store.delete_user("sub-a").await.unwrap());
    assert!(store.user("sub-a").await.unwrap().is_none());
    assert!(store.user_by_username("alice").await.unwrap().is_none());
    assert!(store.session("sess-sub-a", NOW).await.unwrap().is_none());
    assert!(store.consent("sub-a", "web-a").await.unwrap().is_none());
    assert!(store.refresh_token("rt-sub-a").await.unwrap().is_none());
    assert!(
        store
            .redeem_authorization_code("code-sub-a", NOW)
            .await
            .unwrap()
            .is_none()
    );
    // A redeemed code stays, so its replay is still recognised.
    assert!(matches!(
        store
            .redeem_authorization_code("redeemed-sub-a", NOW + 1)
            .await
            .unwrap(),
        Some(CodeRedemption::AlreadyRedeemed(_))
    ));

    // The other user keeps everything.
    assert!(store.user("sub-b").await.unwrap().is_some());
    assert!(store.session("sess-sub-b", NOW).await.unwrap().is_some());
    assert!(store.consent("sub-b", "web-a").await.unwrap().is_some());
    assert!(store.refresh_token("rt-sub-b").await.unwrap().is_some());
    assert!(matches!(
        store
            .redeem_authorization_code("code-sub-b", NOW)
            .await
            .unwrap(),
        Some(CodeRedemption::Fresh(_))
    ));

    assert!(!store.delete_user("sub-a").await.unwrap());
    assert!(!store.delete_user("sub-missing").await.unwrap());
    // The username and email are free again.
    store
        .insert_user(&fixtures::user("sub-a2", "alice", "alice@example.com"))
        .await
        .unwrap();
    assert_eq!(store.users().await.unwrap().len(), 2);
    assert_eq!(store.registry_version().await.unwrap(), 0);
}

// ---- sessions ---------------------------------------------------------------------------

pub(crate) async fn sessions_expire_and_track_clients(store: Arc<dyn Store>) {
    let session = fixtures::session("sess-1", "sub-a", NOW + 3600);
    store.insert_session(&session).await.unwrap();
    let mut duplicate = fixtures::session("sess-1", "sub-b", NOW + 10);
    duplicate.sid = "other".to_owned();
    assert!(matches!(
        store.insert_session(&duplicate).await,
        Err(StoreError::Conflict)
    ));

    assert_eq!(
        store.session("sess-1", NOW).await.unwrap(),
        Some(session.clone())
    );
    assert_eq!(
        store.session("sess-1", NOW + 3599).await.unwrap(),
        Some(session.clone())
    );
    // Expired at its expiry time.
    assert_eq!(store.session("sess-1", NOW + 3600).await.unwrap(), None);
    assert_eq!(store.session("unknown", NOW).await.unwrap(), None);

    // Clients are appended once each.
    assert!(store.add_session_client("sess-1", "web-b").await.unwrap());
    assert!(store.add_session_client("sess-1", "web-a").await.unwrap());
    assert!(store.add_session_client("sess-1", "web-b").await.unwrap());
    assert!(store.add_session_client("sess-1", "web-c").await.unwrap());
    assert!(!store.add_session_client("unknown", "web-a").await.unwrap());
    let with_clients = store.session("sess-1", NOW).await.unwrap().unwrap();
    assert_eq!(
        with_clients.clients,
        [
            ClientId::new("web-a"),
            ClientId::new("web-b"),
            ClientId::new("web-c")
        ]
    );
    assert_eq!(
        with_clients,
        warden_core::model::Session {
            clients: with_clients.clients.clone(),
            ..session
        }
    );

    // Deleting returns the session even once expired, so logout can notify its clients.
    assert_eq!(
        store.delete_session("sess-1").await.unwrap(),
        Some(with_clients)
    );
    assert_eq!(store.delete_session("sess-1").await.unwrap(), None);
    assert!(!store.add_session_client("sess-1", "web-a").await.unwrap());
    let expired = fixtures::session("sess-expired", "sub-a", NOW - 1);
    store.insert_session(&expired).await.unwrap();
    assert_eq!(store.session("sess-expired", NOW).await.unwrap(), None);
    assert_eq!(
        store.delete_session("sess-expired").await.unwrap(),
        Some(expired)
    );
    assert_eq!(store.registry_version().await.unwrap(), 0);
}

pub(crate) async fn delete_user_sessions_returns_them(store: Arc<dyn Store>) {
    let mut later = fixtures::session("sess-later", "sub-a", NOW + 3600);
    later.created_at = NOW + 5;
    let earlier = fixtures::session("sess-earlier", "sub-a", NOW + 3600);
    let expired = fixtures::session("sess-expired", "sub-a", NOW - 100);
    let other = fixtures::session("sess-other", "sub-b", NOW + 3600);
    for session in [&later, &earlier, &expired, &other] {
        store.insert_session(session).await.unwrap();
    }

    let mut deleted = store.delete_user_sessions("sub-a").await.unwrap();
    deleted.sort_by(|a, b| a.id_hash.cmp(&b.id_hash));
    assert_eq!(deleted, [earlier, expired, later]);
    assert!(
        store
            .delete_user_sessions("sub-a")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.session("sess-earlier", NOW).await.unwrap().is_none());
    assert_eq!(store.session("sess-other", NOW).await.unwrap(), Some(other));
}

/// Clients added to one session at once, through one or two instances, are all kept.
pub(crate) async fn concurrent_session_clients_all_kept(store: Arc<dyn Store>) {
    add_clients_at_once(&[store]).await;
}

/// The same, across two instances sharing the database.
pub(crate) async fn instances_add_session_clients(first: Arc<dyn Store>, second: Arc<dyn Store>) {
    add_clients_at_once(&[first, second]).await;
}

async fn add_clients_at_once(stores: &[Arc<dyn Store>]) {
    let mut session = fixtures::session("sess-busy", "sub-a", NOW + 3600);
    session.clients.clear();
    stores[0].insert_session(&session).await.unwrap();
    // Every client twice: both copies race, one entry stays.
    let added = race(stores, |store, i| async move {
        store
            .add_session_client("sess-busy", &format!("client-{:02}", i % (TASKS / 2)))
            .await
            .unwrap()
    })
    .await;
    assert!(added.iter().all(|added| *added));
    for store in stores {
        let mut clients: Vec<_> = store
            .session("sess-busy", NOW)
            .await
            .unwrap()
            .unwrap()
            .clients
            .into_iter()
            .map(|c| c.as_str().to_owned())
            .collect();
        clients.sort();
        let expected: Vec<_> = (0..TASKS / 2).map(|i| format!("client-{i:02}")).collect();
        assert_eq!(clients, expected);
    }
}

// ---- consent ----------------------------------------------------------------------------

pub(crate) async fn consent_is_upserted(store: Arc<dyn Store>) {
    assert_eq!(store.consent("sub-a", "web-a").await.unwrap(), None);
    let first = fixtures::consent("sub-a", "web-a");
    store.save_consent(&first).await.unwrap();
    assert_eq!(
        store.consent("sub-a", "web-a").await.unwrap(),
        Some(first.clone())
    );

    let mut wider = first.clone();
    wider.scope = Scope::parse("openid profile email read write").unwrap();
    wider.resources.clear();
    wider.updated_at = NOW + 60;
    store.save_consent(&wider).await.unwrap();
    assert_eq!(
        store.consent("sub-a", "web-a").await.unwrap(),
        Some(wider.clone())
    );

    // Keyed by (user, client).
    let other_client = fixtures::consent("sub-a", "web-b");
    let other_user = fixtures::consent("sub-b", "web-a");
    store.save_consent(&other_client).await.unwrap();
    store.save_consent(&other_user).await.unwrap();
    assert_eq!(store.consent("sub-a", "web-a").await.unwrap(), Some(wider));
    assert_eq!(
        store.consent("sub-a", "web-b").await.unwrap(),
        Some(other_client)
    );
    assert_eq!(
        store.consent("sub-b", "web-a").await.unwrap(),
        Some(other_user)
    );
    assert_eq!(store.consent("sub-b", "web-b").await.unwrap(), None);
    assert_eq!(store.registry_version().await.unwrap(), 0);
}

// ---- authorization codes ----------------------------------------------------------------

pub(crate) async fn code_is_redeemed_once(store: Arc<dyn Store>) {
    let code = fixtures::authorization_code("code-1", "sub-a", NOW + 60);
    store.insert_authorization_code(&code).await.unwrap();
    let mut duplicate = fixtures::authorization_code("code-1", "sub-b", NOW + 5);
    duplicate.nonce = None;
    assert!(matches!(
        store.insert_authorization_code(&duplicate).await,
        Err(StoreError::Conflict)
    ));

    let redeemed = warden_core::model::AuthorizationCodeRecord {
        redeemed_at: Some(NOW + 1),
        ..code.clone()
    };
    assert_eq!(
        store
            .redeem_authorization_code("code-1", NOW + 1)
            .await
            .unwrap(),
        Some(CodeRedemption::Fresh(redeemed.clone()))
    );
    // A replay sees the first redemption's time, not its own.
    assert_eq!(
        store
            .redeem_authorization_code("code-1", NOW + 2)
            .await
            .unwrap(),
        Some(CodeRedemption::AlreadyRedeemed(redeemed.clone()))
    );

    // What the redemption issued is there for the replay to revoke.
    let issued = CodeIssuance {
        access_jti: "jti-1".to_owned(),
        access_exp: NOW + 901,
        access_token_hash: Some("at-hash-1".to_owned()),
    };
    assert!(store.record_code_issuance("code-1", &issued).await.unwrap());
    assert_eq!(
        store
            .redeem_authorization_code("code-1", NOW + 3)
            .await
            .unwrap(),
        Some(CodeRedemption::AlreadyRedeemed(
            warden_core::model::AuthorizationCodeRecord {
                issued: Some(issued.clone()),
                ..redeemed
            }
        ))
    );

    assert_eq!(
        store
            .redeem_authorization_code("unknown", NOW)
            .await
            .unwrap(),
        None
    );
    assert!(
        !store
            .record_code_issuance("unknown", &issued)
            .await
            .unwrap()
    );

    // Expiry is the caller's to check: an expired code is still redeemed and returned.
    let mut expired = fixtures::authorization_code("code-expired", "sub-a", NOW - 10);
    expired.sid = None;
    expired.nonce = None;
    expired.redirect_uri = None;
    expired.resource = None;
    store.insert_authorization_code(&expired).await.unwrap();
    assert_eq!(
        store
            .redeem_authorization_code("code-expired", NOW)
            .await
            .unwrap(),
        Some(CodeRedemption::Fresh(
            warden_core::model::AuthorizationCodeRecord {
                redeemed_at: Some(NOW),
                ..expired
            }
        ))
    );
    assert_eq!(store.registry_version().await.unwrap(), 0);
}

/// Many token requests carry the same code at once: exactly one redeems it.
pub(crate) async fn concurrent_code_redemption_one_fresh(store: Arc<dyn Store>) {
    race_code(&[store]).await;
}

/// The same race, across two instances sharing the database.
pub(crate) async fn instances_redeem_a_code_once(first: Arc<dyn Store>, second: Arc<dyn Store>) {
    race_code(&[first, second]).await;
}

async fn race_code(stores: &[Arc<dyn Store>]) {
    for round in 0..4 {
        let hash = format!("code-race-{round}");
        stores[0]
            .insert_authorization_code(&fixtures::authorization_code(&hash, "sub-a", NOW + 60))
            .await
            .unwrap();
        let answers = race(stores, |store, i| {
            let hash = hash.clone();
            async move {
                store
                    .redeem_authorization_code(&hash, NOW + i as i64)
                    .await
                    .unwrap()
            }
        })
        .await;
        let fresh: Vec<_> = answers
            .iter()
            .filter_map(|answer| match answer {
                Some(CodeRedemption::Fresh(code)) => Some(code.redeemed_at),
                _ => None,
            })
            .collect();
        assert_eq!(fresh.len(), 1, "round {round}");
        // Every other caller saw the winner's redemption.
        for answer in &answers {
            match answer {
                Some(CodeRedemption::Fresh(_)) => {}
                Some(CodeRedemption::AlreadyRedeemed(code)) => {
                    assert_eq!(code.redeemed_at, fresh[0], "round {round}");
                }
                None => panic!("round {round}: the code went missing"),
            }
        }
    }
}

// ---- refresh tokens ---------------------------------------------------------------------

fn family(
    family_id: &str,
    client_id: &str,
    user_sub: &str,
    hashes: &[&str],
) -> Vec<RefreshTokenRecord> {
    hashes
        .iter()
        .map(|hash| fixtures::refresh_token(hash, family_id, client_id, user_sub, NOW + 86_400))
        .collect()
}

pub(crate) async fn refresh_token_is_used_once(store: Arc<dyn Store>) {
    let token = fixtures::refresh_token("rt-1", "fam-1", "web-a", "sub-a", NOW + 86_400);
    store.insert_refresh_token(&token).await.unwrap();
    assert!(matches!(
        store.insert_refresh_token(&token).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(
        store.refresh_token("rt-1").await.unwrap(),
        Some(token.clone())
    );
    assert_eq!(store.refresh_token("unknown").await.unwrap(), None);

    let used = RefreshTokenRecord {
        used_at: Some(NOW + 5),
        ..token.clone()
    };
    assert_eq!(
        store.use_refresh_token("rt-1", NOW + 5).await.unwrap(),
        Some(RefreshUse::Fresh(used.clone()))
    );
    // A second use sees the first one's time.
    assert_eq!(
        store.use_refresh_token("rt-1", NOW + 6).await.unwrap(),
        Some(RefreshUse::Spent(used.clone()))
    );
    assert_eq!(store.refresh_token("rt-1").await.unwrap(), Some(used));
    assert_eq!(store.use_refresh_token("unknown", NOW).await.unwrap(), None);

    // A revoked token, never used, is spent too.
    let other = fixtures::refresh_token("rt-2", "fam-2", "web-a", "sub-a", NOW + 86_400);
    store.insert_refresh_token(&other).await.unwrap();
    assert_eq!(store.revoke_refresh_family("fam-2").await.unwrap(), 1);
    let revoked = RefreshTokenRecord {
        revoked: true,
        ..other
    };
    assert_eq!(
        store.use_refresh_token("rt-2", NOW).await.unwrap(),
        Some(RefreshUse::Spent(revoked.clone()))
    );
    assert_eq!(store.refresh_token("rt-2").await.unwrap(), Some(revoked));
    assert_eq!(store.registry_version().await.unwrap(), 0);
}

pub(crate) async fn refresh_tokens_are_revoked_by_family_and_user(store: Arc<dyn Store>) {
    let tokens = [
        family("fam-1", "web-a", "sub-a", &["a1", "a2", "a3"]),
        family("fam-2", "web-b", "sub-a", &["b1", "b2"]),
        family("fam-3", "web-a", "sub-a", &["c1"]),
        family("fam-4", "web-a", "sub-b", &["d1", "d2"]),
    ];
    for token in tokens.iter().flatten() {
        store.insert_refresh_token(token).await.unwrap();
    }
    // A used token is revoked like the others.
    assert!(matches!(
        store.use_refresh_token("a1", NOW).await.unwrap(),
        Some(RefreshUse::Fresh(_))
    ));

    // Counts only the tokens it changed.
    assert_eq!(store.revoke_refresh_family("fam-1").await.unwrap(), 3);
    assert_eq!(store.revoke_refresh_family("fam-1").await.unwrap(), 0);
    assert_eq!(store.revoke_refresh_family("unknown").await.unwrap(), 0);
    for hash in ["a1", "a2", "a3"] {
        assert!(store.refresh_token(hash).await.unwrap().unwrap().revoked);
    }
    let a1 = store.refresh_token("a1").await.unwrap().unwrap();
    assert_eq!(a1.used_at, Some(NOW));
    assert!(!store.refresh_token("b1").await.unwrap().unwrap().revoked);

    // One client of a user, then the rest of that user; the other user is untouched.
    assert_eq!(
        store
            .revoke_user_refresh_tokens("sub-a", Some("web-b"))
            .await
            .unwrap(),
        2
    );
    assert!(store.refresh_token("b2").await.unwrap().unwrap().revoked);
    assert!(!store.refresh_token("c1").await.unwrap().unwrap().revoked);
    assert_eq!(
        store
            .revoke_user_refresh_tokens("sub-a", None)
            .await
            .unwrap(),
        1
    );
    assert!(store.refresh_token("c1").await.unwrap().unwrap().revoked);
    assert_eq!(
        store
            .revoke_user_refresh_tokens("sub-a", None)
            .await
            .unwrap(),
        0
    );
    for hash in ["d1", "d2"] {
        assert!(!store.refresh_token(hash).await.unwrap().unwrap().revoked);
    }
    assert!(matches!(
        store.use_refresh_token("d1", NOW).await.unwrap(),
        Some(RefreshUse::Fresh(_))
    ));
    assert!(matches!(
        store.use_refresh_token("c1", NOW).await.unwrap(),
        Some(RefreshUse::Spent(_))
    ));
}

/// Many refreshes present the same token at once: exactly one gets to rotate it.
pub(crate) async fn concurrent_refresh_use_one_fresh(store: Arc<dyn Store>) {
    race_refresh(&[store]).await;
}

/// The same race, across two instances sharing the database.
pub(crate) async fn instances_use_a_refresh_token_once(
    first: Arc<dyn Store>,
    second: Arc<dyn Store>,
) {
    race_refresh(&[first, second]).await;
}

async fn race_refresh(stores: &[Arc<dyn Store>]) {
    for round in 0..4 {
        let hash = format!("rt-race-{round}");
        stores[0]
            .insert_refresh_token(&fixtures::refresh_token(
                &hash,
                "fam-race",
                "web-a",
                "sub-a",
                NOW + 86_400,
            ))
            .await
            .unwrap();
        let answers = race(stores, |store, i| {
            let hash = hash.clone();
            async move {
                store
                    .use_refresh_token(&hash, NOW + i as i64)
                    .await
                    .unwrap()
            }
        })
        .await;
        let fresh: Vec<_> = answers
            .iter()
            .filter_map(|answer| match answer {
                Some(RefreshUse::Fresh(token)) => Some(token.used_at),
                _ => None,
            })
            .collect();
        assert_eq!(fresh.len(), 1, "round {round}");
        for answer in &answers {
            match answer {
                Some(RefreshUse::Fresh(_)) => {}
                Some(RefreshUse::Spent(token)) => {
                    assert_eq!(token.used_at, fresh[0], "round {round}");
                }
                None => panic!("round {round}: the token went missing"),
            }
        }
    }
}

// ---- pending requests -------------------------------------------------------------------

pub(crate) async fn pending_request_is_taken_once(store: Arc<dyn Store>) {
    let par = fixtures::pending_request("req-1", PendingKind::Par, NOW + 60);
    store.insert_pending_request(&par).await.unwrap();
    assert!(matches!(
        store
            .insert_pending_request(&fixtures::pending_request(
                "req-1",
                PendingKind::Interaction,
                NOW + 600
            ))
            .await,
        Err(StoreError::Conflict)
    ));

    // Reading leaves it in place.
    for _ in 0..2 {
        assert_eq!(
            store
                .pending_request(PendingKind::Par, "req-1", NOW)
                .await
                .unwrap(),
            Some(par.clone())
        );
    }
    // The kind must match, for reading and for taking (which then leaves it alone).
    assert_eq!(
        store
            .pending_request(PendingKind::Interaction, "req-1", NOW)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .take_pending_request(PendingKind::Interaction, "req-1", NOW)
            .await
            .unwrap(),
        None
    );
    // Expired at its expiry time; a refused take does not consume it.
    assert_eq!(
        store
            .pending_request(PendingKind::Par, "req-1", NOW + 60)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .take_pending_request(PendingKind::Par, "req-1", NOW + 60)
            .await
            .unwrap(),
        None
    );

    assert_eq!(
        store
            .take_pending_request(PendingKind::Par, "req-1", NOW + 59)
            .await
            .unwrap(),
        Some(par)
    );
    assert_eq!(
        store
            .take_pending_request(PendingKind::Par, "req-1", NOW)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .pending_request(PendingKind::Par, "req-1", NOW)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .take_pending_request(PendingKind::Par, "unknown", NOW)
            .await
            .unwrap(),
        None
    );

    let interaction = fixtures::pending_request("req-2", PendingKind::Interaction, NOW + 600);
    store.insert_pending_request(&interaction).await.unwrap();
    assert_eq!(
        store
            .take_pending_request(PendingKind::Interaction, "req-2", NOW)
            .await
            .unwrap(),
        Some(interaction)
    );
    assert_eq!(store.registry_version().await.unwrap(), 0);
}

/// The same interaction completed twice at once: exactly one taker gets it.
pub(crate) async fn concurrent_pending_take_one_winner(store: Arc<dyn Store>) {
    race_pending(&[store]).await;
}

/// The same race, across two instances sharing the database.
pub(crate) async fn instances_take_a_pending_request_once(
    first: Arc<dyn Store>,
    second: Arc<dyn Store>,
) {
    race_pending(&[first, second]).await;
}

async fn race_pending(stores: &[Arc<dyn Store>]) {
    for round in 0..4 {
        let hash = format!("req-race-{round}");
        let request = fixtures::pending_request(&hash, PendingKind::Interaction, NOW + 600);
        stores[0].insert_pending_request(&request).await.unwrap();
        let answers = race(stores, |store, _| {
            let hash = hash.clone();
            async move {
                store
                    .take_pending_request(PendingKind::Interaction, &hash, NOW)
                    .await
                    .unwrap()
            }
        })
        .await;
        let taken: Vec<_> = answers.into_iter().flatten().collect();
        assert_eq!(taken, [request], "round {round}");
    }
}

// ---- login throttling -------------------------------------------------------------------

pub(crate) async fn login_failures_count_within_a_window(store: Arc<dyn Store>) {
    const WINDOW: i64 = 300;
    let failures = |count, last_failure| LoginFailures {
        count,
        last_failure,
    };
    assert_eq!(
        store.login_failures("user:a", NOW, WINDOW).await.unwrap(),
        None
    );
    assert_eq!(
        store
            .record_login_failure("user:a", NOW, WINDOW)
            .await
            .unwrap(),
        failures(1, NOW)
    );
    assert_eq!(
        store
            .record_login_failure("user:a", NOW + 10, WINDOW)
            .await
            .unwrap(),
        failures(2, NOW + 10)
    );
    // Exactly a window after the previous failure still counts on.
    assert_eq!(
        store
            .record_login_failure("user:a", NOW + 10 + WINDOW, WINDOW)
            .await
            .unwrap(),
        failures(3, NOW + 10 + WINDOW)
    );
    let last = NOW + 10 + WINDOW;
    assert_eq!(
        store.login_failures("user:a", last, WINDOW).await.unwrap(),
        Some(failures(3, last))
    );
    assert_eq!(
        store
            .login_failures("user:a", last + WINDOW, WINDOW)
            .await
            .unwrap(),
        Some(failures(3, last))
    );
    // Past the window the counter is no longer reported, and the next failure restarts it.
    assert_eq!(
        store
            .login_failures("user:a", last + WINDOW + 1, WINDOW)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .record_login_failure("user:a", last + WINDOW + 1, WINDOW)
            .await
            .unwrap(),
        failures(1, last + WINDOW + 1)
    );

    // Keys are independent.
    assert_eq!(
        store
            .record_login_failure("ip:10.0.0.1", NOW, WINDOW)
            .await
            .unwrap(),
        failures(1, NOW)
    );
    assert_eq!(
        store
            .login_failures("user:a", last + WINDOW + 1, WINDOW)
            .await
            .unwrap(),
        Some(failures(1, last + WINDOW + 1))
    );

    // A successful login clears its key only.
    store.clear_login_failures("user:a").await.unwrap();
    store.clear_login_failures("user:unknown").await.unwrap();
    assert_eq!(
        store
            .login_failures("user:a", last + WINDOW + 1, WINDOW)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .login_failures("ip:10.0.0.1", NOW, WINDOW)
            .await
            .unwrap(),
        Some(failures(1, NOW))
    );
    assert_eq!(
        store
            .record_login_failure("user:a", last + WINDOW + 2, WINDOW)
            .await
            .unwrap(),
        failures(1, last + WINDOW + 2)
    );
    assert_eq!(store.registry_version().await.unwrap(), 0);
}

/// Failures recorded at once, through two instances, are each counted.
pub(crate) async fn instances_count_every_login_failure(
    first: Arc<dyn Store>,
    second: Arc<dyn Store>,
) {
    let answers = race(&[first.clone(), second], |store, _| async move {
        store
            .record_login_failure("ip:10.0.0.9", NOW, 300)
            .await
            .unwrap()
            .count
    })
    .await;
    let mut counts = answers;
    counts.sort_unstable();
    let expected: Vec<u32> = (1..=TASKS as u32).collect();
    assert_eq!(counts, expected);
    assert_eq!(
        first.login_failures("ip:10.0.0.9", NOW, 300).await.unwrap(),
        Some(LoginFailures {
            count: TASKS as u32,
            last_failure: NOW
        })
    );
}

// ---- pruning ----------------------------------------------------------------------------

pub(crate) async fn prune_removes_expired_people_rows(store: Arc<dyn Store>) {
    // Users and consents are never pruned.
    store
        .insert_user(&fixtures::user("sub-a", "alice", "alice@example.com"))
        .await
        .unwrap();
    store
        .save_consent(&fixtures::consent("sub-a", "web-a"))
        .await
        .unwrap();
    // Expired at NOW (sessions, refresh tokens, pending requests: expiry <= NOW; codes: more
    // than an hour past expiry; failure counters: idle more than a day) ...
    store
        .insert_session(&fixtures::session("sess-old", "sub-a", NOW))
        .await
        .unwrap();
    store
        .insert_authorization_code(&fixtures::authorization_code(
            "code-old",
            "sub-a",
            NOW - 3601,
        ))
        .await
        .unwrap();
    store
        .insert_refresh_token(&fixtures::refresh_token(
            "rt-old", "fam-1", "web-a", "sub-a", NOW,
        ))
        .await
        .unwrap();
    store
        .insert_pending_request(&fixtures::pending_request("req-old", PendingKind::Par, NOW))
        .await
        .unwrap();
    store
        .record_login_failure("user:old", NOW - 86_401, 300)
        .await
        .unwrap();
    // ... and kept at NOW.
    store
        .insert_session(&fixtures::session("sess-new", "sub-a", NOW + 1))
        .await
        .unwrap();
    store
        .insert_authorization_code(&fixtures::authorization_code(
            "code-grace",
            "sub-a",
            NOW - 3600,
        ))
        .await
        .unwrap();
    store
        .insert_authorization_code(&fixtures::authorization_code("code-new", "sub-a", NOW + 60))
        .await
        .unwrap();
    store
        .insert_refresh_token(&fixtures::refresh_token(
            "rt-new",
            "fam-1",
            "web-a",
            "sub-a",
            NOW + 1,
        ))
        .await
        .unwrap();
    store
        .insert_pending_request(&fixtures::pending_request(
            "req-new",
            PendingKind::Interaction,
            NOW + 1,
        ))
        .await
        .unwrap();
    store
        .record_login_failure("user:new", NOW - 86_400, 300)
        .await
        .unwrap();

    assert_eq!(store.prune_expired(NOW).await.unwrap(), 5);
    assert_eq!(store.prune_expired(NOW).await.unwrap(), 0);

    // Gone even as seen from a time when they were live, which shows the rows left.
    assert_eq!(store.session("sess-old", NOW - 10).await.unwrap(), None);
    assert!(store.session("sess-new", NOW).await.unwrap().is_some());
    assert_eq!(
        store
            .redeem_authorization_code("code-old", NOW)
            .await
            .unwrap(),
        None
    );
    assert!(matches!(
        store
            .redeem_authorization_code("code-grace", NOW)
            .await
            .unwrap(),
        Some(CodeRedemption::Fresh(_))
    ));
    assert!(matches!(
        store
            .redeem_authorization_code("code-new", NOW)
            .await
            .unwrap(),
        Some(CodeRedemption::Fresh(_))
    ));
    assert_eq!(store.refresh_token("rt-old").await.unwrap(), None);
    assert!(store.refresh_token("rt-new").await.unwrap().is_some());
    assert_eq!(
        store
            .pending_request(PendingKind::Par, "req-old", NOW - 10)
            .await
            .unwrap(),
        None
    );
    assert!(
        store
            .pending_request(PendingKind::Interaction, "req-new", NOW)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        store
            .login_failures("user:old", NOW, 1_000_000)
            .await
            .unwrap(),
        None
    );
    assert!(
        store
            .login_failures("user:new", NOW, 1_000_000)
            .await
            .unwrap()
            .is_some()
    );
    assert!(store.user("sub-a").await.unwrap().is_some());
    assert!(store.consent("sub-a", "web-a").await.unwrap().is_some());
    assert_eq!(store.registry_version().await.unwrap(), 0);
}
