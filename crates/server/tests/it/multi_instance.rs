//! Several instances on one database behave as one authorization server: replay and revocation
//! state is shared, opaque tokens are known everywhere, and registry and key changes reach
//! every instance within seconds (each polls the registry version every second).
//!
//! The in-process tests run on SQLite (siblings share the file) and PostgreSQL; the last test
//! runs two real `warden serve` processes on one PostgreSQL database.

use std::process::{Child, Stdio};
use std::time::Duration;

use serde_json::Value;
use warden_core::clock::{Clock, SystemClock};
use warden_testkit::{Backend, Options, TestServer};
use warden_types::SigningAlg;

use crate::support::{
    API, API2, ClientKey, access_token, assertion_claims, assertion_token, basic_client,
    eventually, is_active, jwt_api, jwt_part, opaque_api, private_key_client, published_kids,
    random_id, revoke, run_warden, sign_hmac, token, warden_command,
};

both!(
    assertion_jti_used_at_a_is_refused_at_b,
    opaque_token_issued_by_a_is_active_at_b,
    token_revoked_at_a_is_inactive_at_b,
    key_rotated_at_a_is_published_and_used_by_b,
    client_created_at_a_works_at_b_within_seconds,
    client_deleted_at_a_is_refused_at_b_within_seconds,
);
both!(concurrent_bootstrap_agrees_on_one_active_key_per_algorithm);

/// The public issuer both instances share, as behind a load balancer.
const SHARED_ISSUER: &str = "http://warden.test";

/// Instance A on a fresh database, with the shared issuer.
async fn instance_a(backend: Backend) -> TestServer {
    TestServer::start_with(
        backend,
        Options {
            issuer: Some(SHARED_ISSUER.to_owned()),
            ..Options::default()
        },
    )
    .await
}

/// Instance B on A's database and master key, with the same issuer.
async fn instance_b(a: &TestServer) -> TestServer {
    TestServer::start_with(
        Backend::Sqlite,
        Options {
            issuer: Some(SHARED_ISSUER.to_owned()),
            database: Some(a.database.clone()),
            master_key_file: Some(a.master_key_file.clone()),
            ..Options::default()
        },
    )
    .await
}

/// API (JWT), API2 (opaque) and a Basic client granted both, created before B starts.
async fn setup(a: &TestServer) -> (String, String) {
    jwt_api(a, API, "read write", SigningAlg::ES256).await;
    opaque_api(a, API2, "read").await;
    basic_client(a, &[API, API2], None).await
}

async fn assertion_jti_used_at_a_is_refused_at_b(backend: Backend) {
    let a = instance_a(backend).await;
    jwt_api(&a, API, "read", SigningAlg::ES256).await;
    let key = ClientKey::generate(SigningAlg::ES256, "k");
    let id = private_key_client(&a, &key, &[API]).await;
    let (sid, secret) = crate::support::secret_jwt_client(&a, &[API]).await;
    let b = instance_b(&a).await;

    let claims = assertion_claims(&id, SHARED_ISSUER, a.clock.now());
    let assertion = key.sign(&claims);
    assertion_token(&a, &assertion, &[]).await.ok();
    assertion_token(&b, &assertion, &[])
        .await
        .assert_error(401, "invalid_client")
        .assert_description("assertion jti has already been used");

    // The other way round, with client_secret_jwt.
    let claims = assertion_claims(&sid, SHARED_ISSUER, b.clock.now());
    let assertion = sign_hmac(&secret, jsonwebtoken::Algorithm::HS256, &claims);
    assertion_token(&b, &assertion, &[]).await.ok();
    assertion_token(&a, &assertion, &[])
        .await
        .assert_error(401, "invalid_client");
}

async fn opaque_token_issued_by_a_is_active_at_b(backend: Backend) {
    let a = instance_a(backend).await;
    let (id, secret) = setup(&a).await;
    let b = instance_b(&a).await;
    let t = access_token(&a, &id, &secret, &[("resource", API2)]).await;
    let r = crate::support::introspect(&b, (&id, &secret), &t).await;
    r.ok();
    assert_eq!(r.body["active"], true);
    assert_eq!(r.body["aud"], API2);
    // JWTs too: same issuer, same keys.
    let t = access_token(&a, &id, &secret, &[("resource", API)]).await;
    assert!(is_active(&b, (&id, &secret), &t).await);
}

async fn token_revoked_at_a_is_inactive_at_b(backend: Backend) {
    let a = instance_a(backend).await;
    let (id, secret) = setup(&a).await;
    let b = instance_b(&a).await;
    for resource in [API, API2] {
        let t = access_token(&b, &id, &secret, &[("resource", resource)]).await;
        assert!(is_active(&a, (&id, &secret), &t).await);
        revoke(&a, (&id, &secret), &t).await.ok();
        assert!(!is_active(&b, (&id, &secret), &t).await, "{resource}");
    }
}

/// A rotation through A reaches B within a few seconds: B publishes the same key set and
/// signs with the new active key.
async fn key_rotated_at_a_is_published_and_used_by_b(backend: Backend) {
    let a = instance_a(backend).await;
    let (id, secret) = setup(&a).await;
    let b = instance_b(&a).await;
    let old = access_token(&b, &id, &secret, &[("resource", API)]).await;
    let old_kid = jwt_part(&old, 0)["kid"].as_str().unwrap().to_owned();

    a.engine
        .maintain_keys(a.clock.now(), &[SigningAlg::ES256])
        .await
        .unwrap();
    let new_kid = a
        .engine
        .key_ring()
        .active(SigningAlg::ES256)
        .unwrap()
        .kid()
        .as_str()
        .to_owned();
    assert_ne!(old_kid, new_kid);
    let a_kids = published_kids(&a).await;

    let (b_ref, kids, kid, id, secret) = (&b, &a_kids, new_kid.as_str(), &id, &secret);
    eventually(
        "B publishes A's keys and signs with the new key",
        Duration::from_secs(5),
        move || async move {
            let kids_match = published_kids(b_ref).await == *kids;
            let t = access_token(b_ref, id, secret, &[("resource", API)]).await;
            kids_match && jwt_part(&t, 0)["kid"] == kid
        },
    )
    .await;
    // Tokens B signed before the rotation stay valid at both.
    assert!(is_active(&a, (id, secret), &old).await);
    assert!(is_active(&b, (id, secret), &old).await);
}

async fn client_created_at_a_works_at_b_within_seconds(backend: Backend) {
    let a = instance_a(backend).await;
    setup(&a).await;
    let b = instance_b(&a).await;
    let (id, secret) = basic_client(&a, &[API], None).await;
    let (b, id, secret) = (&b, &id, &secret);
    eventually(
        "B knows the new client",
        Duration::from_secs(5),
        move || async move { token(b, id, secret, &[]).await.status == 200 },
    )
    .await;
}

async fn client_deleted_at_a_is_refused_at_b_within_seconds(backend: Backend) {
    let a = instance_a(backend).await;
    let (id, secret) = setup(&a).await;
    let b = instance_b(&a).await;
    access_token(&b, &id, &secret, &[("resource", API)]).await;
    a.engine.delete_client(&id, a.clock.now()).await.unwrap();
    a.engine.reload().await.unwrap();
    token(&a, &id, &secret, &[("resource", API)])
        .await
        .assert_error(401, "invalid_client");
    let (b, id, secret) = (&b, &id, &secret);
    eventually(
        "B forgets the deleted client",
        Duration::from_secs(5),
        move || async move { token(b, id, secret, &[("resource", API)]).await.status == 401 },
    )
    .await;
}

/// Two instances started at the same moment on an empty database both create signing keys;
/// they must end up agreeing on one active key per algorithm, with one successor published.
async fn concurrent_bootstrap_agrees_on_one_active_key_per_algorithm(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let database = backend.fresh_url(dir.path());
    let key_file = dir.path().join("master.key");
    std::fs::write(&key_file, warden_jose::MasterKey::generate().to_base64()).unwrap();
    let options = Options {
        issuer: Some(SHARED_ISSUER.to_owned()),
        database: Some(database),
        master_key_file: Some(key_file),
        ..Options::default()
    };
    let (a, b) = tokio::join!(
        TestServer::start_with(Backend::Sqlite, options.clone()),
        TestServer::start_with(Backend::Sqlite, options.clone()),
    );
    let (a, b) = (&a, &b);
    eventually(
        "both publish the same keys",
        Duration::from_secs(5),
        move || async move { published_kids(a).await == published_kids(b).await },
    )
    .await;
    let stored = a.engine.store().signing_keys().await.unwrap();
    for alg in SigningAlg::ALL {
        let states: Vec<&str> = stored
            .iter()
            .filter(|k| k.alg == alg)
            .map(|k| k.state.as_str())
            .collect();
        assert_eq!(
            states.iter().filter(|s| **s == "active").count(),
            1,
            "{alg}: {states:?}"
        );
        assert_eq!(
            states.iter().filter(|s| **s == "published").count(),
            1,
            "{alg}: {states:?}"
        );
    }
    // Whatever the bootstrap left, one rotation and the retire grace later only the active
    // key and its published successor remain per algorithm.
    let now = a.clock.now();
    a.engine.maintain_keys(now, &SigningAlg::ALL).await.unwrap();
    a.engine.maintain_keys(now + 2 * 3600, &[]).await.unwrap();
    let stored = a.engine.store().signing_keys().await.unwrap();
    for alg in SigningAlg::ALL {
        let n = stored.iter().filter(|k| k.alg == alg).count();
        assert_eq!(n, 2, "{alg}: keys left after rotation and grace");
    }
}

// ---- two real processes ----------------------------------------------------------------------

/// A `warden serve` child process, killed when dropped.
struct ServeProcess {
    child: Child,
    base_url: String,
    log: std::path::PathBuf,
}

impl ServeProcess {
    fn start(database: &str, master_key: &str, dir: &std::path::Path, name: &str) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let listen = format!("127.0.0.1:{port}");
        let log = dir.join(format!("{name}.log"));
        let child = warden_command()
            .args([
                "serve",
                "--database",
                database,
                "--listen",
                &listen,
                "--issuer",
                SHARED_ISSUER,
            ])
            .env("WARDEN_MASTER_KEY", master_key)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("spawn warden serve");
        Self {
            child,
            base_url: format!("http://{listen}"),
            log,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    async fn wait_ready(&mut self, http: &reqwest::Client) {
        for _ in 0..300 {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("warden serve exited with {status}: {}", self.log());
            }
            if let Ok(resp) = http.get(self.url("/readyz")).send().await
                && resp.status() == 200
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("warden serve not ready within 30 s: {}", self.log());
    }

    async fn post_form(
        &self,
        http: &reqwest::Client,
        path: &str,
        form: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> crate::support::Reply {
        let mut req = http.post(self.url(path)).form(form);
        if let Some((id, secret)) = basic {
            req = req.header("authorization", warden_testkit::basic_header(id, secret));
        }
        crate::support::reply(req.send().await.unwrap()).await
    }

    async fn kids(&self, http: &reqwest::Client) -> Vec<String> {
        let jwks: Value = http
            .get(self.url("/jwks"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let mut kids: Vec<String> = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect();
        kids.sort();
        kids
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Two `warden serve` processes on one PostgreSQL database with a shared master key: assertion
/// replay, opaque tokens, and key rotation are shared; a CLI change reaches both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_share_one_postgres_database() {
    let Ok(base) = std::env::var("WARDEN_TEST_POSTGRES_URL") else {
        return;
    };
    if base.is_empty() {
        return;
    }
    let mut url = url::Url::parse(&base).unwrap();
    url.set_path(&format!("/warden_it_proc_{}", random_id()));
    let database = url.to_string();
    let master_key = warden_jose::MasterKey::generate().to_base64();
    let dir = tempfile::tempdir().unwrap();
    let cli = |args: &[&str]| {
        let mut full: Vec<&str> = args.to_vec();
        full.extend(["--database", database.as_str()]);
        run_warden(&full, &[("WARDEN_MASTER_KEY", master_key.as_str())])
    };

    // Set up through the CLI before the servers start (this also creates the database).
    cli(&[
        "api",
        "create",
        API,
        "--scopes",
        "read write",
        "--signing-alg",
        "ES256",
    ])
    .json();
    cli(&[
        "api",
        "create",
        API2,
        "--scopes",
        "read",
        "--token-format",
        "opaque",
    ])
    .json();
    let basic = cli(&[
        "client",
        "create",
        "--name",
        "svc",
        "--auth-method",
        "client_secret_basic",
        "--audience",
        API,
        "--audience",
        API2,
    ])
    .json();
    let (id, secret) = (
        basic["client_id"].as_str().unwrap().to_owned(),
        basic["client_secret"].as_str().unwrap().to_owned(),
    );

    let mut a = ServeProcess::start(&database, &master_key, dir.path(), "a");
    let mut b = ServeProcess::start(&database, &master_key, dir.path(), "b");
    let http = reqwest::Client::new();
    a.wait_ready(&http).await;
    b.wait_ready(&http).await;
    // Both bootstrapped signing keys on the empty database at the same moment; within a
    // registry poll or two they publish the same set.
    let (a_ref, b_ref, http_ref) = (&a, &b, &http);
    eventually(
        "both publish the same keys",
        Duration::from_secs(5),
        move || async move { a_ref.kids(http_ref).await == b_ref.kids(http_ref).await },
    )
    .await;

    // A client created through the CLI while both run reaches both within seconds.
    let jwt_client = cli(&[
        "client",
        "create",
        "--name",
        "signer",
        "--auth-method",
        "client_secret_jwt",
        "--audience",
        API,
    ])
    .json();
    let (jid, jsecret) = (
        jwt_client["client_id"].as_str().unwrap().to_owned(),
        jwt_client["client_secret"].as_str().unwrap().to_owned(),
    );
    let (jid, jsecret) = (&jid, &jsecret);
    let fresh_assertion = move || {
        let claims = assertion_claims(jid, SHARED_ISSUER, SystemClock.now());
        sign_hmac(jsecret, jsonwebtoken::Algorithm::HS256, &claims)
    };
    for server in [&a, &b] {
        eventually(
            "the CLI-created client is known",
            Duration::from_secs(5),
            move || async move {
                let assertion = fresh_assertion();
                let form = [
                    ("grant_type", "client_credentials"),
                    ("client_assertion_type", crate::support::JWT_BEARER),
                    ("client_assertion", assertion.as_str()),
                ];
                server
                    .post_form(http_ref, "/token", &form, None)
                    .await
                    .status
                    == 200
            },
        )
        .await;
    }

    // 1. An assertion used at A is refused at B.
    let assertion = fresh_assertion();
    let form = [
        ("grant_type", "client_credentials"),
        ("client_assertion_type", crate::support::JWT_BEARER),
        ("client_assertion", assertion.as_str()),
    ];
    a.post_form(&http, "/token", &form, None).await.ok();
    b.post_form(&http, "/token", &form, None)
        .await
        .assert_error(401, "invalid_client");

    // 2. An opaque token issued by A is active at B; a JWT too; revocation at B holds at A.
    let form = [("grant_type", "client_credentials"), ("resource", API2)];
    let r = a
        .post_form(&http, "/token", &form, Some((&id, &secret)))
        .await;
    let opaque = r.ok().body["access_token"].as_str().unwrap().to_owned();
    assert!(opaque.starts_with("wdn_at_"));
    let r = b
        .post_form(
            &http,
            "/introspect",
            &[("token", &opaque)],
            Some((&id, &secret)),
        )
        .await;
    assert_eq!(r.ok().body["active"], true, "{}", r.text);
    b.post_form(
        &http,
        "/revoke",
        &[("token", &opaque)],
        Some((&id, &secret)),
    )
    .await
    .ok();
    let r = a
        .post_form(
            &http,
            "/introspect",
            &[("token", &opaque)],
            Some((&id, &secret)),
        )
        .await;
    assert_eq!(r.ok().body["active"], false);

    // 3. A rotation (through the CLI, acting on the shared database) reaches both servers:
    // both publish the new key set and sign with the new key within seconds.
    let keys = cli(&["keys", "rotate", "--alg", "ES256"]).json();
    let new_kid = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["alg"] == "ES256" && k["state"] == "active")
        .unwrap()["kid"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut expected: Vec<String> = keys
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect();
    expected.sort();
    let (expected, kid, id_ref, secret_ref) = (&expected, new_kid.as_str(), &id, &secret);
    for server in [&a, &b] {
        eventually(
            "the rotated key is published and used",
            Duration::from_secs(5),
            move || async move {
                let form = [("grant_type", "client_credentials"), ("resource", API)];
                let r = server
                    .post_form(http_ref, "/token", &form, Some((id_ref, secret_ref)))
                    .await;
                let t = r.body["access_token"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                server.kids(http_ref).await == *expected
                    && t.split('.').count() == 3
                    && jwt_part(&t, 0)["kid"] == kid
            },
        )
        .await;
    }
    // A JWT from A is active at B.
    let form = [("grant_type", "client_credentials"), ("resource", API)];
    let r = a
        .post_form(&http, "/token", &form, Some((&id, &secret)))
        .await;
    let jwt = r.ok().body["access_token"].as_str().unwrap().to_owned();
    let r = b
        .post_form(
            &http,
            "/introspect",
            &[("token", &jwt)],
            Some((&id, &secret)),
        )
        .await;
    assert_eq!(r.ok().body["active"], true);

    drop(a);
    drop(b);
}
