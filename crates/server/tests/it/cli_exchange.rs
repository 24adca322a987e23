//! The `warden` binary's token exchange and workload identity commands: `client create
//! --serves/--exchange-target`, `client update`, and `warden issuer ...`. JSON on stdout,
//! messages on stderr and a non-zero exit on failure; what the commands store is then checked
//! at a server started on the same database.

use serde_json::{Value, json};
use warden_core::clock::Clock;

use crate::support::{
    API, API2, API3, CliDb, CliOutput, ClientKey, access_token, post, random_id, run_warden,
    verify_jwt,
};

const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
const ISSUER: &str = "https://token.actions.githubusercontent.com";
const SUBJECT: &str = "repo:example/shop:ref:refs/heads/main";

/// The shared CLI database helper, with this module's setups.
struct Db(CliDb);

impl std::ops::Deref for Db {
    type Target = CliDb;

    fn deref(&self) -> &CliDb {
        &self.0
    }
}

impl Db {
    fn new() -> Self {
        Self(CliDb::new())
    }

    /// Three APIs with the same scopes.
    fn apis(&self) {
        for api in [API, API2, API3] {
            self.json(&["api", "create", api, "--scopes", "read write"]);
        }
    }

    /// A token-exchange client serving `API`, allowed toward `API2`.
    fn exchanger(&self) -> Value {
        self.json(&[
            "client",
            "create",
            "--name",
            "gateway",
            "--auth-method",
            "client_secret_basic",
            "--grant-type",
            "token-exchange",
            "--serves",
            API,
            "--exchange-target",
            API2,
            "--audience",
            API2,
            "--scope",
            "read",
        ])
    }

    /// A private_key_jwt client without keys (a workload), with the grant types given.
    fn workload(&self, grant_types: &[&str]) -> String {
        let mut args = vec![
            "client",
            "create",
            "--name",
            "workload",
            "--auth-method",
            "private_key_jwt",
            "--audience",
            API,
        ];
        for g in grant_types {
            args.extend(["--grant-type", g]);
        }
        let client = self.json(&args);
        client["client_id"].as_str().unwrap().to_owned()
    }
}

#[track_caller]
fn assert_failed(out: &CliOutput, stderr_contains: &str) {
    assert!(!out.success, "expected failure: {out:?}");
    assert_ne!(out.code, Some(0));
    assert!(
        out.stdout.is_empty(),
        "nothing on stdout on failure: {out:?}"
    );
    assert!(
        out.stderr.contains(stderr_contains),
        "stderr should mention {stderr_contains:?}: {out:?}"
    );
}

/// The field is absent or null (an empty policy).
#[track_caller]
fn assert_unset(value: &Value, field: &str) {
    assert!(
        value.get(field).is_none_or(Value::is_null),
        "{field} should be unset: {value}"
    );
}

// ---- client create / update ------------------------------------------------------------------

#[test]
fn client_create_with_exchange_policy_prints_it() {
    let db = Db::new();
    db.apis();
    let client = db.exchanger();
    assert_eq!(client["serves_api"], API);
    assert_eq!(client["token_exchange_targets"], json!([API2]));
    assert_eq!(
        client["grant_types"],
        json!([TOKEN_EXCHANGE]),
        "alias expanded"
    );
    assert!(client["client_secret"].as_str().is_some(), "{client}");
    let id = client["client_id"].as_str().unwrap();
    let shown = db.json(&["client", "show", id]);
    assert_eq!(shown["serves_api"], API);
    assert_eq!(shown["token_exchange_targets"], json!([API2]));
    assert!(shown.get("client_secret").is_none(), "{shown}");
    let listed = db.json(&["client", "list"]);
    let entry = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["client_id"] == id)
        .expect("listed");
    assert_eq!(entry["token_exchange_targets"], json!([API2]));

    // The full URN, the other spelling of the alias, and repeated targets (deduplicated).
    for grant in [TOKEN_EXCHANGE, "token_exchange"] {
        let c = db.json(&[
            "client",
            "create",
            "--name",
            "svc",
            "--auth-method",
            "client_secret_post",
            "--grant-type",
            grant,
            "--grant-type",
            "client_credentials",
            "--serves",
            API2,
            "--exchange-target",
            API3,
            "--exchange-target",
            API,
            "--exchange-target",
            API3,
        ]);
        assert_eq!(
            c["grant_types"],
            json!([TOKEN_EXCHANGE, "client_credentials"]),
            "{c}"
        );
        assert_eq!(c["token_exchange_targets"], json!([API3, API]));
        assert_eq!(c["serves_api"], API2);
    }
    // jwt-bearer alias.
    let c = db.json(&[
        "client",
        "create",
        "--name",
        "w",
        "--auth-method",
        "private_key_jwt",
        "--grant-type",
        "jwt-bearer",
        "--audience",
        API,
    ]);
    assert_eq!(c["grant_types"], json!([JWT_BEARER_GRANT]));
    assert_unset(&c, "serves_api");
    assert_unset(&c, "token_exchange_targets");
}

#[test]
fn client_update_changes_the_exchange_policy() {
    let db = Db::new();
    db.apis();
    let id = db.exchanger()["client_id"].as_str().unwrap().to_owned();

    // --exchange-target replaces the list.
    let c = db.json(&[
        "client",
        "update",
        &id,
        "--exchange-target",
        API3,
        "--exchange-target",
        API,
    ]);
    assert_eq!(c["token_exchange_targets"], json!([API3, API]));
    assert_eq!(c["serves_api"], API, "kept");
    assert!(c.get("client_secret").is_none(), "{c}");

    let c = db.json(&["client", "update", &id, "--no-exchange-targets"]);
    assert_unset(&c, "token_exchange_targets");
    assert_eq!(c["serves_api"], API);
    assert_unset(&db.json(&["client", "show", &id]), "token_exchange_targets");

    let c = db.json(&["client", "update", &id, "--serves", API3]);
    assert_eq!(c["serves_api"], API3);
    let c = db.json(&[
        "client",
        "update",
        &id,
        "--no-serves",
        "--exchange-target",
        API2,
    ]);
    assert_unset(&c, "serves_api");
    assert_eq!(c["token_exchange_targets"], json!([API2]));
    let shown = db.json(&["client", "show", &id]);
    assert_unset(&shown, "serves_api");
    assert_eq!(shown["token_exchange_targets"], json!([API2]));
    // The rest of the client is untouched.
    assert_eq!(shown["grant_types"], json!([TOKEN_EXCHANGE]));
    assert_eq!(shown["grants"], json!({API2: "read"}));
}

#[test]
fn client_exchange_policy_errors() {
    let db = Db::new();
    db.apis();
    let id = db.exchanger()["client_id"].as_str().unwrap().to_owned();
    let create = |extra: &[&str]| {
        let mut args = vec![
            "client",
            "create",
            "--name",
            "x",
            "--auth-method",
            "client_secret_basic",
            "--grant-type",
            "token-exchange",
        ];
        args.extend_from_slice(extra);
        db.run(&args)
    };
    assert_failed(
        &create(&["--serves", "https://unknown.example"]),
        "not found",
    );
    assert_failed(
        &create(&[
            "--serves",
            API,
            "--exchange-target",
            "https://unknown.example",
        ]),
        "not found",
    );
    assert_failed(
        &db.run(&[
            "client",
            "update",
            &id,
            "--serves",
            "https://unknown.example",
        ]),
        "not found",
    );
    assert_failed(
        &db.run(&[
            "client",
            "update",
            &id,
            "--exchange-target",
            "https://unknown.example",
        ]),
        "not found",
    );
    assert_failed(
        &db.run(&["client", "update", "no-such-client", "--no-serves"]),
        "not found",
    );
    assert_failed(&db.run(&["client", "update", &id]), "nothing to change");
    // Contradictory flags are refused by the parser.
    let out = db.run(&["client", "update", &id, "--serves", API, "--no-serves"]);
    assert!(!out.success && out.stdout.is_empty(), "{out:?}");
    let out = db.run(&[
        "client",
        "update",
        &id,
        "--exchange-target",
        API2,
        "--no-exchange-targets",
    ]);
    assert!(!out.success && out.stdout.is_empty(), "{out:?}");
    // None of the failures changed the client.
    let shown = db.json(&["client", "show", &id]);
    assert_eq!(shown["serves_api"], API);
    assert_eq!(shown["token_exchange_targets"], json!([API2]));
}

/// A policy set by the CLI is what a server enforces.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_exchange_policy_works_at_a_server() {
    let db = Db::new();
    db.apis();
    let gateway = db.exchanger();
    let (gw_id, gw_secret) = (
        gateway["client_id"].as_str().unwrap().to_owned(),
        gateway["client_secret"].as_str().unwrap().to_owned(),
    );
    let frontend = db.json(&[
        "client",
        "create",
        "--name",
        "frontend",
        "--auth-method",
        "client_secret_basic",
        "--audience",
        API,
    ]);
    let (fe_id, fe_secret) = (
        frontend["client_id"].as_str().unwrap().to_owned(),
        frontend["client_secret"].as_str().unwrap().to_owned(),
    );
    let server = db.server().await;
    let subject = access_token(&server, &fe_id, &fe_secret, &[]).await;
    let exchange = |resource: &'static str| {
        let (server, subject, gw_id, gw_secret) = (&server, &subject, &gw_id, &gw_secret);
        async move {
            post(
                server,
                "/token",
                &[
                    ("grant_type", TOKEN_EXCHANGE),
                    ("subject_token", subject.as_str()),
                    ("subject_token_type", ACCESS_TOKEN_TYPE),
                    ("resource", resource),
                ],
                Some((gw_id.as_str(), gw_secret.as_str())),
            )
            .await
        }
    };
    let r = exchange(API2).await;
    r.ok();
    assert_eq!(r.body["scope"], "read");
    let (_, at) = verify_jwt(&server, r.body["access_token"].as_str().unwrap(), API2).await;
    assert_eq!(at["sub"], fe_id.as_str());
    assert_eq!(at["client_id"], gw_id.as_str());
    assert_eq!(at["act"], json!({"sub": gw_id}));
    exchange(API3).await.assert_error(400, "invalid_target");

    // The CLI changes the policy while the server runs; it follows after a reload.
    db.json(&["client", "update", &gw_id, "--no-exchange-targets"]);
    server.engine.reload().await.unwrap();
    exchange(API2)
        .await
        .assert_error(400, "unauthorized_client");
}

// ---- warden issuer ---------------------------------------------------------------------------

#[test]
fn issuer_create_map_unmap_show_list_delete() {
    let db = Db::new();
    db.apis();
    let worker = db.workload(&["jwt-bearer"]);
    let front = db.workload(&[]);
    let key = ClientKey::generate(warden_types::SigningAlg::ES256, "gh-1");
    let jwks = db.file("jwks.json", &serde_json::to_string(&key.jwks()).unwrap());

    let subject_arg = format!("{SUBJECT}={worker}");
    let created = db.json(&[
        "issuer",
        "create",
        ISSUER,
        "--jwks-file",
        &jwks,
        "--subject",
        &subject_arg,
    ]);
    assert_eq!(created["issuer"], ISSUER);
    assert_eq!(created["name"], ISSUER, "the name defaults to the issuer");
    assert_eq!(created["max_lifetime"], 3600);
    assert_eq!(created["audience"], Value::Null);
    assert_eq!(created["jwks_uri"], Value::Null);
    assert_eq!(created["jwks"]["keys"][0]["kid"], "gh-1");
    assert!(
        created["jwks"]["keys"][0].get("x").is_none(),
        "only a summary of the keys is printed: {created}"
    );
    assert_eq!(created["subjects"], json!({SUBJECT: worker}));

    // map (a second subject; a subject containing '=' too), unmap.
    let odd = "repo:example/shop:environment:prod=eu";
    let mapped = db.json(&[
        "issuer",
        "map",
        ISSUER,
        "--subject",
        odd,
        "--client",
        &front,
    ]);
    assert_eq!(mapped["subjects"], json!({SUBJECT: worker, odd: front}));
    let remapped = db.json(&[
        "issuer",
        "map",
        ISSUER,
        "--subject",
        SUBJECT,
        "--client",
        &front,
    ]);
    assert_eq!(remapped["subjects"][SUBJECT], front.as_str(), "replaced");
    let unmapped = db.json(&["issuer", "unmap", ISSUER, "--subject", odd]);
    assert_eq!(unmapped["subjects"], json!({SUBJECT: front}));

    let shown = db.json(&["issuer", "show", ISSUER]);
    assert_eq!(shown["subjects"], json!({SUBJECT: front}));
    assert!(int(&shown["updated_at"]) >= int(&shown["created_at"]));

    // A second issuer with every option; both are listed.
    let other = "https://oidc.eks.example/id/ABC";
    let created = db.json(&[
        "issuer",
        "create",
        other,
        "--jwks-uri",
        "https://oidc.eks.example/id/ABC/keys",
        "--audience",
        "sts.example",
        "--name",
        "EKS",
        "--max-lifetime",
        "10m",
    ]);
    assert_eq!(created["jwks_uri"], "https://oidc.eks.example/id/ABC/keys");
    assert_eq!(created["jwks"], Value::Null);
    assert_eq!(created["audience"], "sts.example");
    assert_eq!(created["name"], "EKS");
    assert_eq!(created["max_lifetime"], 600);
    assert_eq!(created["subjects"], json!({}));
    let updated = db.json(&[
        "issuer",
        "update",
        other,
        "--default-audience",
        "--max-lifetime",
        "2h",
        "--jwks-file",
        &jwks,
    ]);
    assert_eq!(updated["audience"], Value::Null);
    assert_eq!(updated["max_lifetime"], 7200);
    assert_eq!(updated["jwks_uri"], Value::Null);
    assert_eq!(updated["jwks"]["keys"][0]["kid"], "gh-1");

    let list = db.json(&["issuer", "list"]);
    let mut issuers: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["issuer"].as_str().unwrap())
        .collect();
    issuers.sort_unstable();
    assert_eq!(issuers, [other, ISSUER]);

    assert_eq!(
        db.json(&["issuer", "delete", other]),
        json!({"deleted": other})
    );
    assert_failed(&db.run(&["issuer", "show", other]), "not found");
    assert_eq!(db.json(&["issuer", "list"]).as_array().unwrap().len(), 1);
}

fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or_else(|| panic!("not an integer: {v}"))
}

#[test]
fn issuer_command_errors() {
    let db = Db::new();
    db.apis();
    let worker = db.workload(&["jwt-bearer"]);
    let secret_client = db.json(&[
        "client",
        "create",
        "--name",
        "secretive",
        "--auth-method",
        "client_secret_basic",
        "--audience",
        API,
    ])["client_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let key = ClientKey::generate(warden_types::SigningAlg::RS256, "k");
    let jwks = db.file("jwks.json", &serde_json::to_string(&key.jwks()).unwrap());
    let mut private = serde_json::to_value(key.jwk()).unwrap();
    private["d"] = json!("c2VjcmV0");
    let private_file = db.file("private.json", &json!({"keys": [private]}).to_string());
    let empty_file = db.file("empty.json", r#"{"keys": []}"#);
    let missing = db.dir.path().join("missing.json").display().to_string();
    let unknown_client = format!("{SUBJECT}=no-such-client");
    let secret_mapping = format!("{SUBJECT}={secret_client}");
    let good_mapping = format!("{SUBJECT}={worker}");

    let create = |extra: &[&str]| {
        let mut args = vec!["issuer", "create", ISSUER];
        args.extend_from_slice(extra);
        db.run(&args)
    };
    for (args, message) in [
        (vec!["--jwks-file", missing.as_str()], "missing.json"),
        (vec!["--jwks-file", private_file.as_str()], "public"),
        (vec!["--jwks-file", empty_file.as_str()], "no usable"),
        (vec!["--jwks-uri", "ftp://keys.example/jwks"], "http"),
        (
            vec!["--jwks-file", jwks.as_str(), "--subject", "no-equals-sign"],
            "SUB=CLIENT_ID",
        ),
        (
            vec![
                "--jwks-file",
                jwks.as_str(),
                "--subject",
                unknown_client.as_str(),
            ],
            "not found",
        ),
        (
            vec![
                "--jwks-file",
                jwks.as_str(),
                "--subject",
                secret_mapping.as_str(),
            ],
            "private_key_jwt",
        ),
        (
            vec!["--jwks-file", jwks.as_str(), "--max-lifetime", "48h"],
            "24 hours",
        ),
        (
            vec!["--jwks-file", jwks.as_str(), "--max-lifetime", "soon"],
            "--max-lifetime",
        ),
    ] {
        assert_failed(&create(&args), message);
    }
    // Neither key source, or both: refused by the parser.
    let out = create(&[]);
    assert!(
        !out.success && out.stdout.is_empty() && !out.stderr.is_empty(),
        "{out:?}"
    );
    let out = create(&["--jwks-file", &jwks, "--jwks-uri", "https://keys.example"]);
    assert!(!out.success && out.stdout.is_empty(), "{out:?}");
    assert_failed(
        &db.run(&["issuer", "create", "not a uri", "--jwks-file", &jwks]),
        "not a URI",
    );
    // Nothing was created by the failures.
    assert_eq!(db.json(&["issuer", "list"]), json!([]));

    db.json(&[
        "issuer",
        "create",
        ISSUER,
        "--jwks-file",
        &jwks,
        "--subject",
        &good_mapping,
    ]);
    assert_failed(&create(&["--jwks-file", &jwks]), "already exists");
    assert_failed(
        &db.run(&[
            "issuer",
            "map",
            ISSUER,
            "--subject",
            "s",
            "--client",
            "no-such-client",
        ]),
        "not found",
    );
    assert_failed(
        &db.run(&[
            "issuer",
            "map",
            ISSUER,
            "--subject",
            "s",
            "--client",
            &secret_client,
        ]),
        "private_key_jwt",
    );
    assert_failed(
        &db.run(&[
            "issuer",
            "map",
            "https://unknown.example",
            "--subject",
            "s",
            "--client",
            &worker,
        ]),
        "not found",
    );
    assert_failed(
        &db.run(&["issuer", "unmap", ISSUER, "--subject", "never-mapped"]),
        "not found",
    );
    assert_failed(
        &db.run(&["issuer", "show", "https://unknown.example"]),
        "not found",
    );
    assert_failed(
        &db.run(&["issuer", "delete", "https://unknown.example"]),
        "not found",
    );
    assert_failed(
        &db.run(&["issuer", "update", ISSUER, "--max-lifetime", "25h"]),
        "24 hours",
    );
    // The issuer is as created.
    let shown = db.json(&["issuer", "show", ISSUER]);
    assert_eq!(shown["subjects"], json!({SUBJECT: worker}));
    assert_eq!(shown["max_lifetime"], 3600);
}

/// An issuer created by the CLI (keys from a file, read at command time) is trusted by a
/// server on the same database, for the JWT bearer grant and federated client
/// authentication; `issuer delete` ends it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_issuer_works_at_a_server() {
    let db = Db::new();
    db.apis();
    let worker = db.workload(&["jwt-bearer"]);
    let front = db.workload(&[]);
    let key = ClientKey::generate(warden_types::SigningAlg::EdDSA, "ci-key");
    let jwks = db.file("jwks.json", &serde_json::to_string(&key.jwks()).unwrap());
    let front_subject = "repo:example/shop:ref:refs/heads/front";
    db.json(&[
        "issuer",
        "create",
        ISSUER,
        "--jwks-file",
        &jwks,
        "--subject",
        &format!("{SUBJECT}={worker}"),
        "--subject",
        &format!("{front_subject}={front}"),
    ]);
    // The file is not needed any more: the keys are in the database.
    std::fs::remove_file(&jwks).unwrap();

    let server = db.server().await;
    let claims = |sub: &str| {
        let now = server.clock.now();
        json!({"iss": ISSUER, "sub": sub, "aud": server.issuer, "iat": now, "exp": now + 300, "jti": random_id()})
    };
    let r = post(
        &server,
        "/token",
        &[
            ("grant_type", JWT_BEARER_GRANT),
            ("assertion", &key.sign(&claims(SUBJECT))),
        ],
        None,
    )
    .await;
    r.ok();
    let (_, at) = verify_jwt(&server, r.body["access_token"].as_str().unwrap(), API).await;
    assert_eq!(at["sub"], worker.as_str());

    let federated = |assertion: String| {
        let server = &server;
        async move {
            post(
                server,
                "/token",
                &[
                    ("grant_type", "client_credentials"),
                    ("client_assertion_type", crate::support::JWT_BEARER),
                    ("client_assertion", &assertion),
                ],
                None,
            )
            .await
        }
    };
    let r = federated(key.sign(&claims(front_subject))).await;
    r.ok();
    let (_, at) = verify_jwt(&server, r.body["access_token"].as_str().unwrap(), API).await;
    assert_eq!(at["sub"], front.as_str());

    // `issuer unmap` then `issuer delete` while the server runs.
    db.json(&["issuer", "unmap", ISSUER, "--subject", front_subject]);
    server.engine.reload().await.unwrap();
    federated(key.sign(&claims(front_subject)))
        .await
        .assert_error(401, "invalid_client");
    db.json(&["issuer", "delete", ISSUER]);
    server.engine.reload().await.unwrap();
    post(
        &server,
        "/token",
        &[
            ("grant_type", JWT_BEARER_GRANT),
            ("assertion", &key.sign(&claims(SUBJECT))),
        ],
        None,
    )
    .await
    .assert_error(400, "invalid_grant");
}

// ---- the chain-depth setting -----------------------------------------------------------------

/// `[token_exchange] max_chain_depth` and its environment variable are validated.
#[test]
fn check_config_token_exchange_section() {
    let db = Db::new();
    let good = db.file("good.toml", "[token_exchange]\nmax_chain_depth = 2\n");
    assert_eq!(db.json(&["check-config", "--config", &good])["ok"], true);
    for (name, text) in [
        ("zero.toml", "[token_exchange]\nmax_chain_depth = 0\n"),
        ("big.toml", "[token_exchange]\nmax_chain_depth = 17\n"),
    ] {
        let file = db.file(name, text);
        assert_failed(
            &db.run(&["check-config", "--config", &file]),
            "token_exchange.max_chain_depth",
        );
    }
    let typo = db.file("typo.toml", "[token_exchange]\nmax_chain_dept = 2\n");
    assert_failed(
        &db.run(&["check-config", "--config", &typo]),
        "max_chain_dept",
    );
    let out = run_warden(
        &["check-config", "--database", db.url.as_str()],
        &[("WARDEN_TOKEN_EXCHANGE_MAX_CHAIN_DEPTH", "deep")],
    );
    assert_failed(&out, "WARDEN_TOKEN_EXCHANGE_MAX_CHAIN_DEPTH");
    let out = run_warden(
        &["check-config", "--database", db.url.as_str()],
        &[("WARDEN_TOKEN_EXCHANGE_MAX_CHAIN_DEPTH", "3")],
    );
    assert!(out.success, "{out:?}");
}

/// A `warden serve` child process on the test database, killed when dropped.
struct Served {
    child: std::process::Child,
    base_url: String,
    log: std::path::PathBuf,
}

impl Served {
    async fn start(db: &Db, config: &str, envs: &[(&str, &str)]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let listen = format!("127.0.0.1:{port}");
        let log = db.dir.path().join(format!("serve-{port}.log"));
        let mut cmd = crate::support::warden_command();
        cmd.args([
            "serve",
            "--database",
            db.url.as_str(),
            "--listen",
            &listen,
            "--config",
            config,
        ])
        .current_dir(db.dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let mut served = Self {
            child: cmd.spawn().expect("spawn warden serve"),
            base_url: format!("http://{listen}"),
            log,
        };
        let http = reqwest::Client::new();
        for _ in 0..300 {
            if let Ok(Some(status)) = served.child.try_wait() {
                panic!(
                    "warden serve exited with {status}: {}",
                    std::fs::read_to_string(&served.log).unwrap_or_default()
                );
            }
            if let Ok(resp) = http.get(format!("{}/readyz", served.base_url)).send().await
                && resp.status() == 200
            {
                return served;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let _ = served.child.kill();
        panic!("warden serve not ready within 30 s");
    }

    async fn post(&self, form: &[(&str, &str)], basic: (&str, &str)) -> crate::support::Reply {
        let resp = reqwest::Client::new()
            .post(format!("{}/token", self.base_url))
            .form(form)
            .header(
                "authorization",
                warden_testkit::basic_header(basic.0, basic.1),
            )
            .send()
            .await
            .unwrap();
        crate::support::reply(resp).await
    }

    async fn exchange(&self, who: (&str, &str), subject: &str) -> crate::support::Reply {
        self.post(
            &[
                ("grant_type", TOKEN_EXCHANGE),
                ("subject_token", subject),
                ("subject_token_type", ACCESS_TOKEN_TYPE),
            ],
            who,
        )
        .await
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The limit from the configuration file reaches a real `warden serve`, and the environment
/// variable overrides the file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn served_chain_depth_comes_from_the_config_file_or_the_environment() {
    let db = Db::new();
    db.apis();
    let create = |name: &str, extra: &[&str]| {
        let mut args = vec![
            "client",
            "create",
            "--name",
            name,
            "--auth-method",
            "client_secret_basic",
        ];
        args.extend_from_slice(extra);
        let c = db.json(&args);
        (
            c["client_id"].as_str().unwrap().to_owned(),
            c["client_secret"].as_str().unwrap().to_owned(),
        )
    };
    let frontend = create("frontend", &["--audience", API]);
    let first = create(
        "first",
        &[
            "--grant-type",
            "token-exchange",
            "--serves",
            API,
            "--exchange-target",
            API2,
        ],
    );
    let second = create(
        "second",
        &[
            "--grant-type",
            "token-exchange",
            "--serves",
            API2,
            "--exchange-target",
            API3,
        ],
    );
    let creds = |c: &(String, String)| (c.0.clone(), c.1.clone());
    let config = db.file("warden.toml", "[token_exchange]\nmax_chain_depth = 1\n");

    for (envs, second_hop_allowed) in [
        (vec![], false),
        (vec![("WARDEN_TOKEN_EXCHANGE_MAX_CHAIN_DEPTH", "2")], true),
    ] {
        let served = Served::start(&db, &config, &envs).await;
        let (fe_id, fe_secret) = creds(&frontend);
        let r = served
            .post(
                &[("grant_type", "client_credentials")],
                (&fe_id, &fe_secret),
            )
            .await;
        let subject = r.ok().body["access_token"].as_str().unwrap().to_owned();
        let (id, secret) = creds(&first);
        let r = served.exchange((&id, &secret), &subject).await;
        let one = r.ok().body["access_token"].as_str().unwrap().to_owned();
        let (id, secret) = creds(&second);
        let r = served.exchange((&id, &secret), &one).await;
        if second_hop_allowed {
            r.ok();
        } else {
            r.assert_error(400, "invalid_request");
        }
    }
}
