//! `/jwks` and the signing-key lifecycle: every algorithm published, caching headers, rotation
//! that never breaks verification, and keys that survive a restart.

use std::collections::BTreeSet;

use warden_core::clock::Clock;
use warden_testkit::{Backend, Options, TestServer};
use warden_types::SigningAlg;

use crate::support::{
    API, access_token, basic_client, get, is_active, jwt_api, jwt_part, published_jwks,
    published_kids, verify_jwt,
};

both!(
    jwks_has_cache_control_max_age,
    jwks_publishes_every_algorithm,
    forced_rotation_changes_the_kid_and_keeps_old_tokens_verifiable,
    restart_publishes_the_same_keys,
    restart_after_stop_publishes_the_same_keys,
);

async fn jwks_has_cache_control_max_age(backend: Backend) {
    let server = TestServer::start(backend).await;
    let r = get(&server, "/jwks").await;
    r.ok();
    let cache = r.header("cache-control").unwrap_or_default();
    assert!(cache.contains("max-age=300"), "{cache}");
    assert!(!cache.contains("no-store"), "{cache}");
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("application/json"))
    );
}

/// RFC 7517: public keys only, each with kid, use sig and alg; at least one per algorithm
/// (the active key, and the next one already published ahead of its use).
async fn jwks_publishes_every_algorithm(backend: Backend) {
    let server = TestServer::start(backend).await;
    let jwks = published_jwks(&server).await;
    let keys = jwks["keys"].as_array().expect("keys");
    let mut kids = BTreeSet::new();
    for key in keys {
        let kid = key["kid"].as_str().expect("kid");
        assert!(kids.insert(kid.to_owned()), "duplicate kid {kid}");
        assert_eq!(key["use"], "sig");
        for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
            assert!(
                key.get(private).is_none(),
                "private member {private}: {key}"
            );
        }
        let expected_kty = match key["alg"].as_str().unwrap() {
            "RS256" | "PS256" => "RSA",
            "ES256" => "EC",
            "EdDSA" => "OKP",
            other => panic!("unexpected alg {other}"),
        };
        assert_eq!(key["kty"], expected_kty);
    }
    for alg in ["RS256", "PS256", "ES256", "EdDSA"] {
        let n = keys.iter().filter(|k| k["alg"] == alg).count();
        assert!(n >= 1, "no {alg} key");
    }
    // jsonwebtoken accepts the document as a JWK Set.
    let set: jsonwebtoken::jwk::JwkSet = serde_json::from_value(jwks.clone()).unwrap();
    for jwk in &set.keys {
        jsonwebtoken::DecodingKey::from_jwk(jwk).expect("usable key");
    }
}

/// After a forced rotation new tokens carry the new kid; tokens signed before still verify
/// against /jwks (the old key is retired but still published) and still introspect active.
async fn forced_rotation_changes_the_kid_and_keeps_old_tokens_verifiable(backend: Backend) {
    let server = TestServer::start(backend).await;
    jwt_api(&server, API, "read", SigningAlg::ES256).await;
    let (id, secret) = basic_client(&server, &[API], None).await;
    let before = access_token(&server, &id, &secret, &[]).await;
    let old_kid = jwt_part(&before, 0)["kid"].as_str().unwrap().to_owned();
    let kids_before = published_kids(&server).await;

    server.clock.advance(10);
    let actions = server
        .engine
        .maintain_keys(server.clock.now(), &[SigningAlg::ES256])
        .await
        .unwrap();
    assert!(!actions.is_empty());

    let after = access_token(&server, &id, &secret, &[]).await;
    let new_kid = jwt_part(&after, 0)["kid"].as_str().unwrap().to_owned();
    assert_ne!(old_kid, new_kid);
    // The new key was published before it signed: it was in the JWKS before the rotation.
    assert!(
        kids_before.contains(&new_kid),
        "new key was not pre-published"
    );
    let kids_after = published_kids(&server).await;
    assert!(kids_after.contains(&old_kid), "retired key still published");
    assert!(kids_after.contains(&new_kid));
    // And a successor for the next rotation is published already.
    let es256: Vec<_> = published_jwks(&server).await["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["alg"] == "ES256")
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        es256.len() >= 3,
        "retired, active and next ES256 keys: {es256:?}"
    );

    verify_jwt(&server, &before, API).await;
    verify_jwt(&server, &after, API).await;
    assert!(is_active(&server, (&id, &secret), &before).await);
    assert!(is_active(&server, (&id, &secret), &after).await);
    // Other algorithms were not rotated.
    let rs = published_jwks(&server).await["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["alg"] == "RS256")
        .count();
    assert_eq!(rs, 2, "RS256: active and next only");
}

/// DESIGN.md: "restarting never changes the published keys".
async fn restart_publishes_the_same_keys(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (id, secret) = crate::support::api_and_client(&server).await;
    let t = access_token(&server, &id, &secret, &[]).await;
    let kids = published_kids(&server).await;
    let sibling = server.start_sibling().await;
    assert_eq!(published_kids(&sibling).await, kids);
    // The sibling signs with the same active key.
    let t2 = access_token(&sibling, &id, &secret, &[]).await;
    assert_eq!(jwt_part(&t, 0)["kid"], jwt_part(&t2, 0)["kid"]);
}

async fn restart_after_stop_publishes_the_same_keys(backend: Backend) {
    let mut first = TestServer::start(backend.clone()).await;
    let jwks = published_jwks(&first).await;
    first.stop();
    let second = TestServer::start_with(
        backend,
        Options {
            database: Some(first.database.clone()),
            master_key_file: Some(first.master_key_file.clone()),
            ..Options::default()
        },
    )
    .await;
    assert_eq!(published_jwks(&second).await, jwks);
}
