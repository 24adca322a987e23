//! The `warden` binary's admin commands (DESIGN.md interface contract): JSON or a bare token on
//! stdout, messages on stderr, non-zero exit on failure, global flags before or after the
//! subcommand.

use serde_json::Value;
use warden_testkit::{Backend, Options, TestServer};

use crate::support::{API, CliOutput, access_token, jwt_part, run_warden};

/// A temporary directory with a SQLite database URL inside it.
struct Db {
    dir: tempfile::TempDir,
    url: String,
}

impl Db {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("w.db").display());
        Self { dir, url }
    }

    /// Runs `warden <args> --database <url>`.
    fn run(&self, args: &[&str]) -> CliOutput {
        let mut full: Vec<&str> = args.to_vec();
        full.extend(["--database", self.url.as_str()]);
        run_warden(&full, &[])
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

#[test]
fn api_create_prints_json() {
    let db = Db::new();
    let api = db
        .run(&["api", "create", API, "--scopes", "read write"])
        .json();
    assert_eq!(api["identifier"], API);
    assert_eq!(api["scopes"], serde_json::json!(["read", "write"]));
    assert_eq!(api["token_format"], "jwt");
    assert_eq!(api["token_lifetime"], 900);
    assert_eq!(api["signing_alg"], "RS256");
}

#[test]
fn api_create_options_and_scope_synonym() {
    let db = Db::new();
    let api = db
        .run(&[
            "api",
            "create",
            API,
            "--scope",
            "read",
            "--name",
            "Payments",
            "--token-format",
            "opaque",
            "--token-lifetime",
            "5m",
            "--signing-alg",
            "EdDSA",
        ])
        .json();
    assert_eq!(api["name"], "Payments");
    assert_eq!(api["scopes"], serde_json::json!(["read"]));
    assert_eq!(api["token_format"], "opaque");
    assert_eq!(api["token_lifetime"], 300);
    assert_eq!(api["signing_alg"], "EdDSA");
}

#[test]
fn api_create_duplicate_fails_on_stderr() {
    let db = Db::new();
    db.run(&["api", "create", API, "--scopes", "read"]).json();
    let out = db.run(&["api", "create", API, "--scopes", "read"]);
    assert_failed(&out, "already exists");
}

#[test]
fn api_create_invalid_input_fails() {
    let db = Db::new();
    for (args, message) in [
        (vec!["api", "create", "not a uri"], "absolute URI"),
        (
            vec!["api", "create", API, "--token-lifetime", "2h"],
            "60 minutes",
        ),
        (
            vec!["api", "create", API, "--token-lifetime", "soon"],
            "--token-lifetime",
        ),
        (
            vec!["api", "create", API, "--signing-alg", "HS256"],
            "--signing-alg",
        ),
        (
            vec!["api", "create", API, "--token-format", "xml"],
            "--token-format",
        ),
        (vec!["api", "create", API, "--scopes", "a\"b"], "--scopes"),
    ] {
        assert_failed(&db.run(&args), message);
    }
}

#[test]
fn api_list_show_delete() {
    let db = Db::new();
    db.run(&["api", "create", API, "--scopes", "read"]).json();
    db.run(&["api", "create", "https://b.example", "--scopes", "x"])
        .json();
    let list = db.run(&["api", "list"]).json();
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(db.run(&["api", "show", API]).json()["identifier"], API);
    db.run(&["api", "delete", API]).json();
    assert_eq!(db.run(&["api", "list"]).json().as_array().unwrap().len(), 1);
    assert_failed(&db.run(&["api", "show", API]), "not found");
    assert_failed(&db.run(&["api", "delete", API]), "not found");
}

#[test]
fn client_create_prints_id_and_secret() {
    let db = Db::new();
    db.run(&["api", "create", API, "--scopes", "read write"])
        .json();
    let client = db
        .run(&[
            "client",
            "create",
            "--name",
            "svc",
            "--auth-method",
            "client_secret_basic",
            "--audience",
            API,
            "--scopes",
            "read",
        ])
        .json();
    let id = client["client_id"].as_str().unwrap();
    assert!(!id.is_empty());
    assert!(
        client["client_secret"]
            .as_str()
            .is_some_and(|s| s.starts_with("wdn_cs_"))
    );
    assert_eq!(client["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(client["grants"][API], "read");
    // The secret is shown once: show and list do not repeat it.
    let shown = db.run(&["client", "show", id]).json();
    assert_eq!(shown["client_id"], id);
    assert!(shown.get("client_secret").is_none());
    let list = db.run(&["client", "list"]).json();
    assert!(!list.to_string().contains("wdn_cs_"));
    // rotate-secret prints a new one.
    let rotated = db.run(&["client", "rotate-secret", id]).json();
    assert_ne!(rotated["client_secret"], client["client_secret"]);
    db.run(&["client", "delete", id]).json();
    assert_failed(&db.run(&["client", "show", id]), "not found");
}

#[test]
fn client_create_invalid_input_fails() {
    let db = Db::new();
    db.run(&["api", "create", API, "--scopes", "read"]).json();
    for (args, message) in [
        (
            vec!["client", "create", "--name", "x", "--auth-method", "magic"],
            "--auth-method",
        ),
        (
            vec![
                "client",
                "create",
                "--name",
                "x",
                "--auth-method",
                "client_secret_basic",
                "--audience",
                "https://unknown.example",
            ],
            "not found",
        ),
        (
            vec![
                "client",
                "create",
                "--name",
                "x",
                "--auth-method",
                "client_secret_basic",
                "--audience",
                API,
                "--scope",
                "write",
            ],
            "write",
        ),
        (
            vec![
                "client",
                "create",
                "--name",
                "x",
                "--auth-method",
                "private_key_jwt",
            ],
            "jwks",
        ),
        (
            vec![
                "client",
                "create",
                "--name",
                "x",
                "--auth-method",
                "client_secret_basic",
                "--jwks-file",
                "/nonexistent/jwks.json",
            ],
            "--jwks-file",
        ),
    ] {
        assert_failed(&db.run(&args), message);
    }
}

#[test]
fn registration_token_create_prints_a_bare_token() {
    let db = Db::new();
    for args in [
        vec!["registration-token", "create"],
        vec![
            "registration-token",
            "create",
            "--once",
            "--expires-in",
            "10m",
        ],
    ] {
        let out = db.run(&args);
        assert!(out.success, "{out:?}");
        assert!(out.stdout.ends_with('\n'));
        let lines: Vec<&str> = out.stdout.lines().collect();
        assert_eq!(lines.len(), 1, "one line: {out:?}");
        assert!(lines[0].starts_with("wdn_iat_"), "{out:?}");
        assert!(!lines[0].contains(' ') && !lines[0].contains('"'));
    }
    assert_failed(
        &db.run(&["registration-token", "create", "--expires-in", "forever"]),
        "--expires-in",
    );
}

#[test]
fn keys_list_and_rotate() {
    let db = Db::new();
    let keys = db.run(&["keys", "list"]).json();
    let keys = keys.as_array().expect("a JSON array");
    for alg in ["RS256", "PS256", "ES256", "EdDSA"] {
        let of_alg: Vec<&Value> = keys.iter().filter(|k| k["alg"] == alg).collect();
        assert_eq!(
            of_alg.iter().filter(|k| k["state"] == "active").count(),
            1,
            "{alg}: {keys:?}"
        );
        assert!(of_alg.iter().any(|k| k["state"] == "published"), "{alg}");
    }
    for key in keys {
        assert!(key["kid"].as_str().is_some_and(|k| !k.is_empty()));
        assert!(key.get("private_key").is_none() && key.get("d").is_none());
    }
    let active = |keys: &Value, alg: &str| {
        keys.as_array()
            .unwrap()
            .iter()
            .find(|k| k["alg"] == alg && k["state"] == "active")
            .unwrap()["kid"]
            .clone()
    };
    let before = db.run(&["keys", "list"]).json();
    let after = db.run(&["keys", "rotate", "--alg", "ES256"]).json();
    assert_ne!(active(&before, "ES256"), active(&after, "ES256"));
    assert_eq!(active(&before, "RS256"), active(&after, "RS256"));
    // Listing again does not change anything.
    assert_eq!(db.run(&["keys", "list"]).json(), after);
}

/// DESIGN.md: global options are accepted before or after the subcommand's name.
#[test]
fn global_flags_before_or_after_the_subcommand() {
    let db = Db::new();
    db.run(&["api", "create", API, "--scopes", "read"]).json();
    let before = run_warden(&["--database", &db.url, "api", "list"], &[]).json();
    let after = run_warden(&["api", "list", "--database", &db.url], &[]).json();
    let middle = run_warden(&["api", "--database", &db.url, "list"], &[]).json();
    assert_eq!(before, after);
    assert_eq!(before, middle);
    assert_eq!(before.as_array().unwrap().len(), 1);
    // And through the environment.
    let env = run_warden(&["api", "list"], &[("WARDEN_DATABASE_URL", &db.url)]).json();
    assert_eq!(before, env);
}

#[test]
fn bad_database_url_fails() {
    let out = run_warden(&["api", "list", "--database", "mysql://x/y"], &[]);
    assert!(!out.success);
    assert!(out.stdout.is_empty());
    assert!(out.stderr.contains("database"), "{out:?}");
}

#[test]
fn unknown_subcommand_or_flag_fails() {
    let db = Db::new();
    let out = db.run(&["api", "frobnicate"]);
    assert!(!out.success && out.stdout.is_empty(), "{out:?}");
    let out = db.run(&["api", "list", "--no-such-flag"]);
    assert!(!out.success && out.stdout.is_empty(), "{out:?}");
}

fn write_config(db: &Db, text: &str) -> String {
    let path = db.dir.path().join("warden.toml");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn check_config_accepts_a_good_file() {
    let db = Db::new();
    let config = write_config(
        &db,
        "listen = \"127.0.0.1:9999\"\nissuer = \"https://auth.example.com\"\nclock_skew = \"45s\"\n\n[keys]\nrotation_interval = \"7d\"\nalgorithms = [\"ES256\", \"EdDSA\"]\n",
    );
    let out = db.run(&["check-config", "--config", &config]);
    let summary = out.json();
    assert_eq!(summary["ok"], true);
    assert_eq!(summary["issuer"], "https://auth.example.com");
    assert_eq!(summary["listen"], "127.0.0.1:9999");
    assert_eq!(
        summary["signing_algs"],
        serde_json::json!(["ES256", "EdDSA"])
    );
}

/// Several bad values (no unknown key): every one is reported, exit non-zero.
#[test]
fn check_config_reports_every_bad_value() {
    let db = Db::new();
    let config = write_config(
        &db,
        "clock_skew = \"soon\"\nlog_format = \"xml\"\nlisten = \"nowhere\"\n\n[keys]\nrotation_interval = \"1 week\"\nalgorithms = [\"HS256\"]\n",
    );
    let out = db.run(&["check-config", "--config", &config]);
    assert!(!out.success, "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
    for needle in [
        "clock_skew",
        "log_format",
        "listen",
        "keys.rotation_interval",
        "HS256",
    ] {
        assert!(
            out.stderr.contains(needle),
            "{needle} not reported: {}",
            out.stderr
        );
    }
}

/// The issue: a bad config file (unknown key, bad duration) is reported completely.
#[test]
fn check_config_reports_unknown_key_and_bad_duration() {
    let db = Db::new();
    let config = write_config(
        &db,
        "clock_skew = \"soon\"\nlisten_adress = \"127.0.0.1:8080\"\n\n[keys]\nrotation_interval = \"1 week\"\n",
    );
    let out = db.run(&["check-config", "--config", &config]);
    assert!(!out.success, "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
    for needle in ["listen_adress", "clock_skew", "rotation_interval"] {
        assert!(
            out.stderr.contains(needle),
            "{needle} not reported: {}",
            out.stderr
        );
    }
}

#[test]
fn check_config_unknown_key_fails() {
    let db = Db::new();
    let config = write_config(&db, "listen_adress = \"127.0.0.1:8080\"\n");
    let out = db.run(&["check-config", "--config", &config]);
    assert!(!out.success, "{out:?}");
    assert!(out.stdout.is_empty());
    assert!(out.stderr.contains("listen_adress"), "{}", out.stderr);
}

/// A client created with the CLI authenticates at a server running on the same database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_created_client_works_at_a_server() {
    let db = Db::new();
    let (url, key_file) = (db.url.clone(), db.dir.path().join("w.db.key"));
    let api = db
        .run(&[
            "api",
            "create",
            API,
            "--scopes",
            "read write",
            "--signing-alg",
            "PS256",
        ])
        .json();
    assert_eq!(api["signing_alg"], "PS256");
    let client = db
        .run(&[
            "client",
            "create",
            "--name",
            "svc",
            "--auth-method",
            "client_secret_basic",
            "--audience",
            API,
        ])
        .json();
    let server = TestServer::start_with(
        Backend::Sqlite,
        Options {
            database: Some(url),
            master_key_file: Some(key_file),
            ..Options::default()
        },
    )
    .await;
    let t = access_token(
        &server,
        client["client_id"].as_str().unwrap(),
        client["client_secret"].as_str().unwrap(),
        &[],
    )
    .await;
    assert_eq!(jwt_part(&t, 0)["alg"], "PS256");
    assert_eq!(jwt_part(&t, 1)["scope"], "read write");
    // The server publishes the keys the CLI created.
    let cli_kids: std::collections::BTreeSet<String> = db
        .run(&["keys", "list"])
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(crate::support::published_kids(&server).await, cli_kids);
}

/// Several commands started at once on a fresh machine (no database, no key file yet) must
/// agree on one master key: every one succeeds, and the database stays usable afterwards.
#[test]
fn concurrent_first_runs_agree_on_the_master_key() {
    for _ in 0..3 {
        let db = Db::new();
        let children: Vec<std::process::Child> = (0..6)
            .map(|_| {
                crate::support::warden_command()
                    .args(["api", "list", "--database", &db.url])
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for child in children {
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        db.run(&["api", "list"]).json();
    }
}

/// DESIGN.md: "env overrides file, flags override env".
#[test]
fn database_setting_precedence_is_flag_env_file() {
    let (file_db, env_db, flag_db) = (Db::new(), Db::new(), Db::new());
    file_db
        .run(&["api", "create", "https://file.example", "--scopes", "a"])
        .json();
    env_db
        .run(&["api", "create", "https://env.example", "--scopes", "a"])
        .json();
    flag_db
        .run(&["api", "create", "https://flag.example", "--scopes", "a"])
        .json();
    let config = write_config(&file_db, &format!("database = \"{}\"\n", file_db.url));
    let only = |out: CliOutput| out.json()[0]["identifier"].as_str().unwrap().to_owned();
    assert_eq!(
        only(run_warden(&["api", "list", "--config", &config], &[])),
        "https://file.example"
    );
    assert_eq!(
        only(run_warden(
            &["api", "list", "--config", &config],
            &[("WARDEN_DATABASE_URL", &env_db.url)]
        )),
        "https://env.example"
    );
    assert_eq!(
        only(run_warden(
            &[
                "--config",
                &config,
                "api",
                "list",
                "--database",
                &flag_db.url
            ],
            &[("WARDEN_DATABASE_URL", &env_db.url)]
        )),
        "https://flag.example"
    );
}

/// `client create --jwks-file` (a JWK Set, or a single JWK) registers private_key_jwt keys a
/// running server accepts; `--signing-alg` pins the assertion algorithm.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_private_key_jwt_client_with_jwks_file() {
    use warden_core::clock::Clock;
    let db = Db::new();
    db.run(&["api", "create", API, "--scopes", "read"]).json();
    let set_key = crate::support::ClientKey::generate(warden_types::SigningAlg::ES256, "set-key");
    let single_key =
        crate::support::ClientKey::generate(warden_types::SigningAlg::EdDSA, "one-key");
    let set_file = db.dir.path().join("set.json");
    std::fs::write(&set_file, serde_json::to_string(&set_key.jwks()).unwrap()).unwrap();
    let single_file = db.dir.path().join("single.json");
    std::fs::write(
        &single_file,
        serde_json::to_string(&single_key.jwk()).unwrap(),
    )
    .unwrap();
    let mut ids = Vec::new();
    for (file, alg) in [(&set_file, "ES256"), (&single_file, "EdDSA")] {
        let client = db
            .run(&[
                "client",
                "create",
                "--name",
                "signer",
                "--auth-method",
                "private_key_jwt",
                "--audience",
                API,
                "--jwks-file",
                &file.display().to_string(),
                "--signing-alg",
                alg,
            ])
            .json();
        assert!(client.get("client_secret").is_none(), "{client}");
        assert_eq!(client["token_endpoint_auth_signing_alg"], alg);
        ids.push(client["client_id"].as_str().unwrap().to_owned());
    }
    // A JWK Set holding a private key is refused.
    let mut private = serde_json::to_value(set_key.jwk()).unwrap();
    private["d"] = serde_json::json!("c2VjcmV0");
    let private_file = db.dir.path().join("private.json");
    std::fs::write(&private_file, private.to_string()).unwrap();
    assert_failed(
        &db.run(&[
            "client",
            "create",
            "--name",
            "leaky",
            "--auth-method",
            "private_key_jwt",
            "--jwks-file",
            &private_file.display().to_string(),
        ]),
        "public keys only",
    );

    let server = TestServer::start_with(
        Backend::Sqlite,
        Options {
            database: Some(db.url.clone()),
            master_key_file: Some(db.dir.path().join("w.db.key")),
            ..Options::default()
        },
    )
    .await;
    for (id, key) in ids.iter().zip([&set_key, &single_key]) {
        let claims =
            crate::support::assertion_claims(id, &server.token_endpoint(), server.clock.now());
        crate::support::assertion_token(&server, &key.sign(&claims), &[])
            .await
            .ok();
    }
}

/// `registration-token create --audience` limits what registered clients may reach.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_registration_token_limited_to_an_api() {
    let db = Db::new();
    db.run(&["api", "create", API, "--scopes", "read"]).json();
    db.run(&["api", "create", "https://other.example", "--scopes", "read"])
        .json();
    let out = db.run(&["registration-token", "create", "--once", "--audience", API]);
    assert!(out.success, "{out:?}");
    let iat = out.stdout.trim().to_owned();
    assert_failed(
        &db.run(&[
            "registration-token",
            "create",
            "--audience",
            "https://unknown.example",
        ]),
        "not found",
    );
    let server = TestServer::start_with(
        Backend::Sqlite,
        Options {
            database: Some(db.url.clone()),
            master_key_file: Some(db.dir.path().join("w.db.key")),
            ..Options::default()
        },
    )
    .await;
    let resp = server
        .http
        .post(server.url("/register"))
        .bearer_auth(&iat)
        .header("content-type", "application/json")
        .body(r#"{"scope":"read"}"#)
        .send()
        .await
        .unwrap();
    let r = crate::support::reply(resp).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let (id, secret) = (
        r.body["client_id"].as_str().unwrap(),
        r.body["client_secret"].as_str().unwrap(),
    );
    let t = access_token(&server, id, secret, &[]).await;
    assert_eq!(jwt_part(&t, 1)["aud"], API);
    crate::support::token(
        &server,
        id,
        secret,
        &[("resource", "https://other.example")],
    )
    .await
    .assert_error(400, "invalid_target");
}
