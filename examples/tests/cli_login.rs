//! The `cli_login` example, run as a real process against a real Warden (the testkit's server
//! on a fresh SQLite database), exactly as docs/guide-cli.md tells people to run it: the test
//! reads the authorization URL from the program's stderr, signs in as a person would, and
//! checks the JSON the program prints.
//!
//! The sign-in is done twice: over plain HTTP (a cookie-keeping client that follows nothing by
//! itself: login form, consent form, then the redirect to the program's loopback port), which
//! always runs; and in headless Chromium through WebDriver (`warden_testkit::browser`), skipped
//! with a note when Chromium is not installed unless `WARDEN_TEST_BROWSER=1`.

// Test code: a failed expectation is a test failure, so unwrap/expect/panic are the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::BTreeMap;
use std::process::ExitStatus;
use std::time::Duration;

use warden_core::admin::NewClient;
use warden_testkit::browser::Browser;
use warden_testkit::{Backend, TestServer};
use warden_types::TokenEndpointAuthMethod;

use support::{HttpBrowser, PASSWORD, Program, USERNAME, create_alice};

/// A Warden with a user and the example's client registered as docs/guide-cli.md says:
/// `--auth-method none --application-type native --redirect-uri http://127.0.0.1/callback`.
struct Setup {
    server: TestServer,
    client_id: String,
    sub: String,
}

async fn setup() -> Setup {
    let server = TestServer::start(Backend::Sqlite).await;
    let sub = create_alice(&server).await;
    let client = server
        .client(NewClient {
            name: String::from("Example CLI"),
            auth_method: TokenEndpointAuthMethod::None,
            grant_types: vec![String::from("authorization_code")],
            redirect_uris: vec![String::from("http://127.0.0.1/callback")],
            application_type: Some(String::from("native")),
            ..NewClient::default()
        })
        .await;
    Setup {
        server,
        client_id: client.client_id,
        sub,
    }
}

/// Runs the example as docs/guide-cli.md does, and waits for the authorization URL it prints.
async fn start_cli_login(setup: &Setup) -> (Program, String) {
    let mut cli = Program::start(
        "cli_login",
        env!("CARGO_BIN_EXE_cli_login"),
        &[
            "--issuer",
            &setup.server.issuer,
            "--client-id",
            &setup.client_id,
            "--scope",
            "openid profile email",
            "--timeout",
            "60",
        ],
        &[],
    );
    let prefix = format!("{}?", setup.server.url("/authorize"));
    let url = cli.stderr_line(|line| line.starts_with(&prefix)).await;
    (cli, url)
}

/// Asserts a successful run and returns the JSON summary.
fn success_summary(status: ExitStatus, stdout: &str, stderr: &str) -> serde_json::Value {
    assert!(
        status.success(),
        "cli_login failed ({status}):\nstdout: {stdout}\nstderr:\n{stderr}"
    );
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {stdout:?}\nstderr:\n{stderr}"))
}

fn assert_summary(summary: &serde_json::Value, setup: &Setup) {
    assert_eq!(summary["sub"], setup.sub.as_str(), "{summary}");
    let scope = summary["scope"].as_str().expect("scope");
    let mut words: Vec<&str> = scope.split(' ').collect();
    words.sort_unstable();
    assert_eq!(words, ["email", "openid", "profile"], "{summary}");
    assert_eq!(summary["expires_in"], 900, "{summary}");
    // A public client gets no refresh token unless registered with --allow-public-refresh.
    assert_eq!(summary["refresh_token"], false, "{summary}");
}

/// The program's loopback redirect URI, from the authorization URL it printed.
fn redirect_uri_of(url: &str) -> String {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "redirect_uri")
        .map(|(_, v)| v.into_owned())
        .expect("redirect_uri in the authorization URL")
}

// ---- tests -----------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_login_signs_in_over_http() {
    let setup = setup().await;
    let (cli, url) = start_cli_login(&setup).await;

    // RFC 8252 §7.3: a loopback IP literal, a port of the OS's choosing, PKCE S256, state.
    let redirect_uri = redirect_uri_of(&url);
    let parsed = url::Url::parse(&redirect_uri).unwrap();
    assert_eq!(parsed.host_str(), Some("127.0.0.1"), "{redirect_uri}");
    assert!(parsed.port().is_some_and(|p| p != 0), "{redirect_uri}");
    assert_eq!(parsed.path(), "/callback");
    let query: BTreeMap<String, String> = url::Url::parse(&url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(query["response_type"], "code");
    assert!(
        query["state"].len() >= 43 && query["nonce"].len() >= 43,
        "{url}"
    );

    let mut browser = HttpBrowser::new();
    let location = browser
        .sign_in(&setup.server, &url, "allow")
        .await
        .redirect();
    assert!(
        location.starts_with(&format!("{redirect_uri}?")),
        "Warden redirects to the program's port: {location}"
    );
    let answer = browser.get(&location).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert!(
        answer.text.contains("You can close this tab"),
        "{}",
        answer.text
    );

    let (status, stdout, stderr) = cli.finish().await;
    let summary = success_summary(status, &stdout, &stderr);
    assert_summary(&summary, &setup);
    // Tokens are never printed.
    assert!(
        !stdout.contains("wdn_") && !stdout.contains("eyJ"),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_login_refuses_a_callback_with_another_state() {
    let setup = setup().await;
    let (cli, url) = start_cli_login(&setup).await;
    // Someone else's response (or a forged one) delivered to the program's port.
    let mut forged = url::Url::parse(&redirect_uri_of(&url)).unwrap();
    forged
        .query_pairs_mut()
        .append_pair("code", "wdn_ac_forged")
        .append_pair("state", "not-the-state")
        .append_pair("iss", &setup.server.issuer);
    let answer = HttpBrowser::new().get(forged.as_str()).await;
    assert_eq!(answer.status, 200);

    let (status, stdout, stderr) = cli.finish().await;
    assert!(!status.success(), "a forged state must fail: {stdout}");
    assert!(stdout.trim().is_empty(), "no summary: {stdout}");
    assert!(stderr.contains("state does not match"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_login_reports_a_denied_consent() {
    let setup = setup().await;
    let (cli, url) = start_cli_login(&setup).await;
    let mut browser = HttpBrowser::new();
    let location = browser
        .sign_in(&setup.server, &url, "deny")
        .await
        .redirect();
    let answer = browser.get(&location).await;
    assert!(answer.text.contains("access_denied"), "{}", answer.text);

    let (status, stdout, stderr) = cli.finish().await;
    assert!(!status.success(), "{stdout}");
    assert!(stderr.contains("access_denied"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_login_signs_in_with_chromium() {
    if !Browser::gate("cli_login::cli_login_signs_in_with_chromium") {
        return;
    }
    let setup = setup().await;
    let (cli, url) = start_cli_login(&setup).await;
    let redirect_uri = redirect_uri_of(&url);

    let browser = Browser::start().await.unwrap();
    let outcome = async {
        browser.goto(&url).await?;
        browser.type_into("#username", USERNAME).await?;
        browser.type_into("#password", PASSWORD).await?;
        browser.click("#login").await?;
        browser.click("#allow").await?;
        browser
            .wait_for_url(
                |u| u.starts_with(&format!("{redirect_uri}?")),
                Duration::from_secs(15),
            )
            .await?;
        browser.text("#message").await
    }
    .await;
    let message = match outcome {
        Ok(message) => message,
        Err(e) => panic!("{}", browser.failure_report("cli-login", &e).await),
    };
    browser.close().await;
    assert!(message.contains("You can close this tab"), "{message}");

    let (status, stdout, stderr) = cli.finish().await;
    let summary = success_summary(status, &stdout, &stderr);
    assert_summary(&summary, &setup);
}
