//! The `warden` binary's admin commands (DESIGN.md interface contract): JSON or a bare token on
//! stdout, messages on stderr, non-zero exit on failure, global flags before or after the
//! subcommand.

use serde_json::Value;
use warden_testkit::{Backend, Options, TestServer};

use crate::support::{API, CliDb as Db, CliOutput, access_token, jwt_part, run_warden};

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
                "--jwks-uri",
                "ftp://keys.example/jwks.json",
            ],
            "jwks_uri",
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

// ---- users -----------------------------------------------------------------------------------

const PASSWORD: &str = "correct horse battery staple 42";
const NEW_PASSWORD: &str = "Tr0ub4dor&3-but-much-longer";

/// `warden user create alice ...` with the password on stdin.
fn create_alice(db: &Db, input: &[u8]) -> CliOutput {
    db.run_with_stdin(
        &[
            "user",
            "create",
            "alice",
            "--email",
            "Alice@Example.com",
            "--name",
            "Alice Liddell",
            "--password-stdin",
        ],
        input,
    )
}

#[track_caller]
fn assert_user_json(user: &Value) {
    let obj = user.as_object().expect("a JSON object");
    for member in ["sub", "username", "email", "name", "disabled", "created_at"] {
        assert!(obj.contains_key(member), "{member} missing: {user}");
    }
    assert!(!obj.contains_key("password_hash"), "{user}");
    assert!(!user.to_string().contains("$argon2"), "{user}");
}

/// Whether `login` / `password` logs in on a server over the CLI's database.
async fn can_log_in(server: &TestServer, login: &str, password: &str) -> bool {
    use warden_core::clock::Clock;
    let outcome = server
        .engine
        .login(
            login,
            warden_types::SecretString::new(password),
            None,
            server.clock.now(),
        )
        .await
        .unwrap();
    matches!(outcome, warden_core::users::LoginOutcome::Success(_))
}

/// DESIGN.md: `warden user create NAME --email E [--name N] --password-stdin` prints the user
/// without its password hash; the password is one line, its newline not part of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_create_reads_one_line_and_prints_json() {
    let db = Db::new();
    let out = create_alice(&db, format!("{PASSWORD}\n").as_bytes());
    let user = out.json();
    assert_user_json(&user);
    assert_eq!(user["username"], "alice");
    assert_eq!(user["email"], "alice@example.com");
    assert_eq!(user["name"], "Alice Liddell");
    assert_eq!(user["disabled"], false);
    let sub = user["sub"].as_str().unwrap();
    assert!(!sub.is_empty() && sub != "alice");
    assert!(!out.stdout.contains(PASSWORD) && !out.stderr.contains(PASSWORD));

    // CRLF line ending; only the first line is read; no trailing newline at all.
    let bob = db
        .run_with_stdin(
            &[
                "user",
                "create",
                "bob",
                "--email",
                "bob@example.com",
                "--password-stdin",
            ],
            format!("{PASSWORD}\r\nsecond line\n").as_bytes(),
        )
        .json();
    assert!(bob["name"].is_null(), "{bob}");
    db.run_with_stdin(
        &[
            "user",
            "create",
            "carol",
            "--email",
            "carol@example.com",
            "--password-stdin",
        ],
        PASSWORD.as_bytes(),
    )
    .json();

    let server = db.server().await;
    assert!(can_log_in(&server, "alice", PASSWORD).await);
    assert!(can_log_in(&server, "alice@example.com", PASSWORD).await);
    assert!(!can_log_in(&server, "alice", &format!("{PASSWORD}\n")).await);
    assert!(can_log_in(&server, "bob", PASSWORD).await);
    assert!(!can_log_in(&server, "bob", &format!("{PASSWORD}\r")).await);
    assert!(can_log_in(&server, "carol", PASSWORD).await);
}

#[test]
fn user_create_failures() {
    let db = Db::new();
    create_alice(&db, format!("{PASSWORD}\n").as_bytes()).json();
    // Duplicate username (any case), duplicate email.
    let dup = db.run_with_stdin(
        &[
            "user",
            "create",
            "ALICE",
            "--email",
            "other@example.com",
            "--password-stdin",
        ],
        format!("{PASSWORD}\n").as_bytes(),
    );
    assert_failed(&dup, "already exists");
    let dup_email = db.run_with_stdin(
        &[
            "user",
            "create",
            "alice2",
            "--email",
            "alice@example.com",
            "--password-stdin",
        ],
        format!("{PASSWORD}\n").as_bytes(),
    );
    assert_failed(&dup_email, "already exists");
    // Weak or missing password.
    for input in [&b"abc\n"[..], b"\n", b""] {
        let out = db.run_with_stdin(
            &[
                "user",
                "create",
                "dave",
                "--email",
                "dave@example.com",
                "--password-stdin",
            ],
            input,
        );
        assert!(!out.success && out.stdout.is_empty(), "{input:?}: {out:?}");
        assert!(!out.stderr.is_empty(), "{out:?}");
    }
    // Bad username or email.
    for (name, email) in [("a b", "ab@example.com"), ("erin", "not-an-email")] {
        let out = db.run_with_stdin(
            &["user", "create", name, "--email", email, "--password-stdin"],
            format!("{PASSWORD}\n").as_bytes(),
        );
        assert!(!out.success && out.stdout.is_empty(), "{out:?}");
    }
    // --password-stdin and --email are required.
    let out = db.run(&["user", "create", "frank", "--email", "frank@example.com"]);
    assert!(!out.success && out.stdout.is_empty(), "{out:?}");
    assert!(out.stderr.contains("--password-stdin"), "{out:?}");
    let out = db.run_with_stdin(
        &["user", "create", "frank", "--password-stdin"],
        format!("{PASSWORD}\n").as_bytes(),
    );
    assert!(!out.success && out.stdout.is_empty(), "{out:?}");
    // Nothing was created by the failures.
    let list = db.run(&["user", "list"]).json();
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
}

#[test]
fn user_list_show_disable_enable_delete() {
    let db = Db::new();
    let alice = create_alice(&db, format!("{PASSWORD}\n").as_bytes()).json();
    let sub = alice["sub"].as_str().unwrap();
    db.run_with_stdin(
        &[
            "user",
            "create",
            "bob",
            "--email",
            "bob@example.com",
            "--password-stdin",
        ],
        format!("{PASSWORD}\n").as_bytes(),
    )
    .json();
    let list = db.run(&["user", "list"]).json();
    let list = list.as_array().expect("a JSON array");
    assert_eq!(list.len(), 2);
    list.iter().for_each(assert_user_json);
    // show by sub, username (any case) or email.
    for id in [sub, "alice", "Alice", "alice@example.com"] {
        let shown = db.run(&["user", "show", id]).json();
        assert_eq!(shown, alice, "{id}");
    }
    assert_failed(&db.run(&["user", "show", "nobody"]), "not found");

    let disabled = db.run(&["user", "disable", "alice"]).json();
    assert_user_json(&disabled);
    assert_eq!(disabled["disabled"], true);
    assert_eq!(db.run(&["user", "show", sub]).json()["disabled"], true);
    let enabled = db.run(&["user", "enable", "alice@example.com"]).json();
    assert_eq!(enabled["disabled"], false);
    assert_failed(&db.run(&["user", "disable", "nobody"]), "not found");

    let deleted = db.run(&["user", "delete", "alice"]).json();
    assert_eq!(deleted["deleted"], sub);
    assert_failed(&db.run(&["user", "show", sub]), "not found");
    assert_failed(&db.run(&["user", "delete", "alice"]), "not found");
    assert_eq!(
        db.run(&["user", "list"]).json().as_array().unwrap().len(),
        1
    );
}

/// A disabled user cannot log in; enabling restores it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_disable_blocks_login() {
    let db = Db::new();
    create_alice(&db, format!("{PASSWORD}\n").as_bytes()).json();
    db.run(&["user", "disable", "alice"]).json();
    let server = db.server().await;
    assert!(!can_log_in(&server, "alice", PASSWORD).await);
    db.run(&["user", "enable", "alice"]).json();
    assert!(can_log_in(&server, "alice", PASSWORD).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_set_password_replaces_the_old_one() {
    let db = Db::new();
    let alice = create_alice(&db, format!("{PASSWORD}\n").as_bytes()).json();
    let server = db.server().await;
    let hash_before = server
        .engine
        .find_user("alice")
        .await
        .unwrap()
        .password_hash;
    // A weak password is refused and changes nothing.
    let out = db.run_with_stdin(
        &["user", "set-password", "alice", "--password-stdin"],
        b"abc\n",
    );
    assert!(!out.success && out.stdout.is_empty(), "{out:?}");
    assert_eq!(
        server
            .engine
            .find_user("alice")
            .await
            .unwrap()
            .password_hash,
        hash_before
    );
    // An unknown user.
    assert_failed(
        &db.run_with_stdin(
            &["user", "set-password", "nobody", "--password-stdin"],
            format!("{NEW_PASSWORD}\n").as_bytes(),
        ),
        "not found",
    );

    let updated = db
        .run_with_stdin(
            &[
                "user",
                "set-password",
                "alice@example.com",
                "--password-stdin",
            ],
            format!("{NEW_PASSWORD}\r\n").as_bytes(),
        )
        .json();
    assert_user_json(&updated);
    assert_eq!(updated["sub"], alice["sub"]);
    let hash_after = server
        .engine
        .find_user("alice")
        .await
        .unwrap()
        .password_hash;
    assert_ne!(hash_before, hash_after);
    assert!(!can_log_in(&server, "alice", PASSWORD).await);
    assert!(can_log_in(&server, "alice", NEW_PASSWORD).await);
}

// ---- browser clients -------------------------------------------------------------------------

#[test]
fn client_create_with_browser_flow_flags() {
    let db = Db::new();
    let spa = db
        .run(&[
            "client",
            "create",
            "--name",
            "spa",
            "--auth-method",
            "none",
            "--redirect-uri",
            "http://127.0.0.1:5173/cb",
            "--redirect-uri",
            "com.example.app:/cb",
            "--application-type",
            "native",
            "--allow-public-refresh",
            "--first-party",
            "--require-par",
            "--post-logout-redirect-uri",
            "com.example.app:/bye",
            "--backchannel-logout-uri",
            "https://app.example/bcl",
            "--id-token-alg",
            "ES256",
        ])
        .json();
    assert!(spa.get("client_secret").is_none(), "{spa}");
    assert_eq!(spa["token_endpoint_auth_method"], "none");
    assert_eq!(
        spa["grant_types"],
        serde_json::json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(spa["response_types"], serde_json::json!(["code"]));
    assert_eq!(spa["application_type"], "native");
    let oidc = &spa["oidc"];
    assert_eq!(oidc["first_party"], true);
    assert_eq!(oidc["require_par"], true);
    assert_eq!(oidc["allow_public_refresh"], true);
    assert_eq!(oidc["application_type"], "native");
    assert_eq!(oidc["id_token_signed_response_alg"], "ES256");
    assert_eq!(
        oidc["post_logout_redirect_uris"],
        serde_json::json!(["com.example.app:/bye"])
    );
    assert_eq!(oidc["backchannel_logout_uri"], "https://app.example/bcl");
    // `client show` prints the same settings.
    let id = spa["client_id"].as_str().unwrap();
    let shown = db.run(&["client", "show", id]).json();
    assert_eq!(shown["oidc"], spa["oidc"]);
    assert_eq!(shown["redirect_uris"], spa["redirect_uris"]);

    // A confidential web client with the hybrid response type and client credentials too.
    let web = db
        .run(&[
            "client",
            "create",
            "--name",
            "web",
            "--auth-method",
            "client_secret_basic",
            "--grant-type",
            "authorization_code",
            "--grant-type",
            "refresh_token",
            "--grant-type",
            "client_credentials",
            "--response-type",
            "code",
            "--response-type",
            "code id_token",
            "--redirect-uri",
            "https://web.example/cb",
        ])
        .json();
    assert!(web["client_secret"].as_str().is_some(), "{web}");
    assert_eq!(
        web["response_types"],
        serde_json::json!(["code", "code id_token"])
    );
    assert_eq!(web["oidc"]["first_party"], false);
    assert_eq!(web["oidc"]["allow_public_refresh"], false);
    assert_eq!(web["oidc"]["id_token_signed_response_alg"], "RS256");
    assert_eq!(web["oidc"]["application_type"], "web");

    // A public client needs no --grant-type: authorization_code is its only flow.
    let minimal = db
        .run(&[
            "client",
            "create",
            "--name",
            "minimal",
            "--auth-method",
            "none",
            "--redirect-uri",
            "https://spa.example/cb",
        ])
        .json();
    assert_eq!(
        minimal["grant_types"],
        serde_json::json!(["authorization_code"])
    );
    assert_eq!(minimal["oidc"]["allow_public_refresh"], false);
}

#[test]
fn client_create_browser_flow_invalid_input_fails() {
    let db = Db::new();
    let base = ["client", "create", "--name", "x"];
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![
                "--auth-method",
                "none",
                "--redirect-uri",
                "http://app.example/cb",
            ],
            "https",
        ),
        (vec!["--auth-method", "none"], "redirect_uris"),
        (
            vec![
                "--auth-method",
                "none",
                "--redirect-uri",
                "https://app.example/cb#x",
            ],
            "fragment",
        ),
        (
            vec![
                "--auth-method",
                "none",
                "--redirect-uri",
                "https://app.example/cb",
                "--response-type",
                "code id_token",
            ],
            "confidential",
        ),
        (
            vec![
                "--auth-method",
                "client_secret_basic",
                "--grant-type",
                "authorization_code",
                "--redirect-uri",
                "https://app.example/cb",
                "--response-type",
                "token",
            ],
            "token",
        ),
        (
            vec![
                "--auth-method",
                "client_secret_basic",
                "--allow-public-refresh",
            ],
            "--allow-public-refresh",
        ),
        (
            vec![
                "--auth-method",
                "none",
                "--redirect-uri",
                "https://app.example/cb",
                "--id-token-alg",
                "HS256",
            ],
            "--id-token-alg",
        ),
        (
            vec![
                "--auth-method",
                "none",
                "--redirect-uri",
                "https://app.example/cb",
                "--application-type",
                "desktop",
            ],
            "--application-type",
        ),
        (
            vec![
                "--auth-method",
                "none",
                "--redirect-uri",
                "myapp:/cb",
                "--application-type",
                "native",
            ],
            "period",
        ),
        (
            vec![
                "--auth-method",
                "none",
                "--redirect-uri",
                "https://app.example/cb",
                "--post-logout-redirect-uri",
                "http://app.example/bye",
            ],
            "post_logout_redirect_uri",
        ),
        (
            vec![
                "--auth-method",
                "none",
                "--redirect-uri",
                "https://app.example/cb",
                "--backchannel-logout-uri",
                "http://app.example/bcl",
            ],
            "backchannel_logout_uri",
        ),
        (
            vec![
                "--auth-method",
                "none",
                "--grant-type",
                "client_credentials",
            ],
            "client_credentials",
        ),
    ];
    for (extra, message) in cases {
        let mut args = base.to_vec();
        args.extend(extra);
        assert_failed(&db.run(&args), message);
    }
    assert_eq!(db.run(&["client", "list"]).json(), serde_json::json!([]));
}

/// `--id-token-alg` must name an algorithm the server keeps keys for.
#[test]
fn client_create_id_token_alg_must_be_enabled() {
    let db = Db::new();
    let config = write_config(&db, "[keys]\nalgorithms = [\"RS256\", \"ES256\"]\n");
    let args = |alg: &'static str| {
        vec![
            "client",
            "create",
            "--name",
            "rp",
            "--auth-method",
            "client_secret_basic",
            "--grant-type",
            "authorization_code",
            "--redirect-uri",
            "https://rp.example/cb",
            "--id-token-alg",
            alg,
        ]
    };
    let mut ok = args("ES256");
    ok.extend(["--config", config.as_str()]);
    db.run(&ok).json();
    let mut bad = args("PS256");
    bad.extend(["--config", config.as_str()]);
    assert_failed(&db.run(&bad), "not enabled");
}
