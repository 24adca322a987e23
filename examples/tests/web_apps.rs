//! The `webapp` and `spa` examples, run as real processes against a real Warden (the testkit's
//! server on a fresh SQLite database) with the configuration docs/guide-web-app.md and
//! docs/guide-spa.md give.
//!
//! The web app is driven over plain HTTP (always) and in headless Chromium; the single-page
//! app needs JavaScript, so only the page it serves is checked over HTTP and the flow itself
//! runs in Chromium. Browser tests are skipped with a note when Chromium is not installed,
//! unless `WARDEN_TEST_BROWSER=1`.

// Test code: a failed expectation is a test failure, so unwrap/expect/panic are the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::{Duration, Instant};

use warden_core::admin::NewClient;
use warden_testkit::browser::{Browser, BrowserError};
use warden_testkit::{Backend, TestServer};
use warden_types::TokenEndpointAuthMethod;

use support::{
    EMAIL, FULL_NAME, HttpBrowser, PASSWORD, Program, USERNAME, create_alice, free_port,
    wait_until_serving,
};

// ---- the web app -----------------------------------------------------------------------------

/// Warden, Alice, the web app's client (as registered in docs/guide-web-app.md) and the running
/// `webapp` example.
struct WebApp {
    server: TestServer,
    sub: String,
    /// `http://127.0.0.1:PORT` of the example.
    base: String,
    _program: Program,
}

async fn start_webapp(hybrid: bool) -> WebApp {
    let server = TestServer::start(Backend::Sqlite).await;
    let sub = create_alice(&server).await;
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let client = server
        .client(NewClient {
            name: String::from("Example web app"),
            auth_method: TokenEndpointAuthMethod::ClientSecretBasic,
            grant_types: vec![String::from("authorization_code")],
            redirect_uris: vec![format!("{base}/callback")],
            post_logout_redirect_uris: vec![format!("{base}/")],
            response_types: if hybrid {
                vec![String::from("code"), String::from("code id_token")]
            } else {
                vec![]
            },
            ..NewClient::default()
        })
        .await;
    let secret = client.client_secret.expect("a confidential client");
    let listen = format!("127.0.0.1:{port}");
    let mut env = vec![
        ("WARDEN_ISSUER", server.issuer.as_str()),
        ("CLIENT_ID", client.client_id.as_str()),
        ("CLIENT_SECRET", secret.as_str()),
        ("LISTEN", listen.as_str()),
    ];
    if hybrid {
        env.push(("RESPONSE_TYPE", "code id_token"));
    }
    let mut program = Program::start("webapp", env!("CARGO_BIN_EXE_webapp"), &[], &env);
    wait_until_serving(&mut program, &format!("{base}/")).await;
    WebApp {
        server,
        sub,
        base,
        _program: program,
    }
}

/// Asserts the home page shows Alice.
fn assert_signed_in(page: &support::Page, sub: &str) {
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(
        page.text
            .contains(&format!("<code id=\"sub\">{sub}</code>")),
        "{}",
        page.text
    );
    assert!(page.text.contains(FULL_NAME), "{}", page.text);
    assert!(page.text.contains(EMAIL), "{}", page.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webapp_signs_in_and_out_over_http() {
    let app = start_webapp(false).await;
    let (server, base) = (&app.server, app.base.as_str());
    let mut browser = HttpBrowser::new();
    let home = browser.get(&format!("{base}/")).await;
    assert!(home.text.contains("You are not signed in"), "{}", home.text);

    // A response that does not carry this login's state is refused (CSRF), and spends the login.
    let authorize = browser.get(&format!("{base}/login")).await.redirect();
    assert!(browser.cookies.contains_key("webapp_login"));
    let forged = browser
        .get(&format!(
            "{base}/callback?code=wdn_ac_forged&state=another&iss={}",
            url::form_urlencoded::byte_serialize(server.issuer.as_bytes()).collect::<String>()
        ))
        .await;
    assert_eq!(forged.status, 400, "{}", forged.text);
    assert!(
        forged.text.contains("state does not match"),
        "{}",
        forged.text
    );
    let _ = authorize;

    // The real thing: /login -> Warden (login, consent) -> /callback -> /.
    let authorize = browser.get(&format!("{base}/login")).await.redirect();
    assert!(
        authorize.starts_with(&format!("{}?", server.url("/authorize"))),
        "{authorize}"
    );
    let query: std::collections::BTreeMap<String, String> = url::Url::parse(&authorize)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    assert_eq!(query["response_type"], "code");
    assert_eq!(query["scope"], "openid profile email");
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(query["redirect_uri"], format!("{base}/callback"));
    let callback = browser
        .sign_in(server, &authorize, "allow")
        .await
        .redirect();
    assert!(
        callback.starts_with(&format!("{base}/callback?")),
        "{callback}"
    );
    let landed = browser.get(&callback).await.redirect();
    assert_eq!(landed, "/");
    assert!(browser.cookies.contains_key("webapp_session"));
    assert!(!browser.cookies.contains_key("webapp_login"));
    assert_signed_in(&browser.get(&format!("{base}/")).await, &app.sub);

    // The same response again: the login was used up.
    let replay = browser.get(&callback).await;
    assert_eq!(replay.status, 400, "{}", replay.text);

    // Sign out: here, then at Warden with id_token_hint, back to the registered home page.
    let end_session = browser
        .post(&format!("{base}/logout"), &[])
        .await
        .redirect();
    assert!(
        end_session.starts_with(&format!("{}?", server.url("/logout"))),
        "{end_session}"
    );
    assert!(end_session.contains("id_token_hint="), "{end_session}");
    let back = browser.get(&end_session).await.redirect();
    assert_eq!(back, format!("{base}/"));
    assert!(!browser.cookies.contains_key("warden_session"));
    let home = browser.get(&back).await;
    assert!(home.text.contains("You are not signed in"), "{}", home.text);

    // Warden's session is gone too: signing in again asks for the password.
    let authorize = browser.get(&format!("{base}/login")).await.redirect();
    let login = browser.get(&authorize).await;
    assert_eq!(login.status, 200);
    assert!(login.text.contains("name=\"password\""), "{}", login.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webapp_hybrid_flow_over_http() {
    let app = start_webapp(true).await;
    let (server, base) = (&app.server, app.base.as_str());
    let mut browser = HttpBrowser::new();
    let authorize = browser.get(&format!("{base}/login")).await.redirect();
    let query: std::collections::BTreeMap<String, String> = url::Url::parse(&authorize)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    assert_eq!(query["response_type"], "code id_token");
    assert_eq!(query["response_mode"], "form_post");

    // form_post: Warden answers with a page whose form posts the response to /callback.
    let form = browser.sign_in(server, &authorize, "allow").await;
    assert_eq!(form.status, 200, "{}", form.text);
    assert!(
        form.text
            .replace("&#x2f;", "/")
            .contains(&format!("action=\"{base}/callback\"")),
        "{}",
        form.text
    );
    let fields: Vec<(&str, String)> = ["code", "id_token", "state", "iss"]
        .into_iter()
        .map(|name| (name, form.input(name)))
        .collect();
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let landed = browser
        .post(&format!("{base}/callback"), &pairs)
        .await
        .redirect();
    assert_eq!(landed, "/");
    assert_signed_in(&browser.get(&format!("{base}/")).await, &app.sub);
}

/// A failed browser step, with a message for a person.
struct Failure(String);

impl From<BrowserError> for Failure {
    fn from(e: BrowserError) -> Self {
        Self(e.to_string())
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Polls the text of `css` until `wanted` holds (15 s).
async fn text_when(
    browser: &Browser,
    css: &str,
    wanted: impl Fn(&str) -> bool,
) -> Result<String, Failure> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let text = browser.text(css).await?;
        if wanted(&text) {
            return Ok(text);
        }
        if Instant::now() >= deadline {
            return Err(Failure(format!(
                "{css} reads {text:?} after 15 s\n{}",
                browser.where_am_i().await
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Logs in on Warden's page and allows.
async fn sign_in_on_warden(browser: &Browser) -> Result<(), Failure> {
    browser.type_into("#username", USERNAME).await?;
    browser.type_into("#password", PASSWORD).await?;
    browser.click("#login").await?;
    browser.click("#allow").await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webapp_signs_in_and_out_with_chromium() {
    if !Browser::gate("web_apps::webapp_signs_in_and_out_with_chromium") {
        return;
    }
    let app = start_webapp(false).await;
    let base = app.base.clone();
    let browser = Browser::start().await.unwrap();
    let outcome = async {
        browser.goto(&format!("{base}/")).await?;
        browser.click("#sign-in").await?;
        sign_in_on_warden(&browser).await?;
        browser
            .wait_for_url(|u| u == format!("{base}/"), Duration::from_secs(15))
            .await?;
        let sub = browser.text("#sub").await?;
        let name = browser.text("#name").await?;
        browser.click("#sign-out").await?;
        browser
            .wait_for_url(|u| u == format!("{base}/"), Duration::from_secs(15))
            .await?;
        browser.find("#sign-in").await?;
        Ok::<_, Failure>((sub, name))
    }
    .await;
    let (sub, name) = match outcome {
        Ok(v) => v,
        Err(e) => panic!("{}", browser.failure_report("webapp", &e).await),
    };
    browser.close().await;
    assert_eq!(sub, app.sub);
    assert_eq!(name, FULL_NAME);
}

// ---- the single-page app ---------------------------------------------------------------------

/// Warden, Alice, the SPA's public client (docs/guide-spa.md) and the running `spa` example
/// with `client_id` as its CLIENT_ID (a real one unless given).
async fn start_spa(client_id: Option<&str>) -> (TestServer, String, String, Program) {
    let server = TestServer::start(Backend::Sqlite).await;
    let sub = create_alice(&server).await;
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let client = server
        .client(NewClient {
            name: String::from("Example SPA"),
            auth_method: TokenEndpointAuthMethod::None,
            redirect_uris: vec![format!("{base}/")],
            post_logout_redirect_uris: vec![format!("{base}/")],
            ..NewClient::default()
        })
        .await;
    let listen = format!("127.0.0.1:{port}");
    let client_id = client_id.unwrap_or(&client.client_id);
    let mut program = Program::start(
        "spa",
        env!("CARGO_BIN_EXE_spa"),
        &[],
        &[
            ("WARDEN_ISSUER", server.issuer.as_str()),
            ("CLIENT_ID", client_id),
            ("LISTEN", listen.as_str()),
        ],
    );
    wait_until_serving(&mut program, &format!("{base}/")).await;
    (server, sub, base, program)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spa_page_carries_its_configuration_safely() {
    let hostile = "</script><script>alert(1)</script>";
    let (server, _, base, _program) = start_spa(Some(hostile)).await;
    let page = HttpBrowser::new().get(&format!("{base}/")).await;
    assert_eq!(page.status, 200);
    assert!(!page.text.contains(hostile), "{}", page.text);
    assert!(
        page.text
            .contains("\\u003c/script\\u003e\\u003cscript\\u003ealert(1)"),
        "{}",
        page.text
    );
    let csp = page.csp.expect("Content-Security-Policy");
    assert!(csp.contains("script-src 'sha256-"), "{csp}");
    assert!(
        csp.contains(&format!("connect-src {};", server.base_url)),
        "{csp}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spa_signs_in_and_out_with_chromium() {
    if !Browser::gate("web_apps::spa_signs_in_and_out_with_chromium") {
        return;
    }
    let (_server, sub, base, _program) = start_spa(None).await;
    let browser = Browser::start().await.unwrap();
    let outcome = async {
        browser.goto(&format!("{base}/")).await?;
        text_when(&browser, "#status", |t| t == "You are not signed in.").await?;
        browser.click("#sign-in").await?;
        sign_in_on_warden(&browser).await?;
        // Back on the page: the code exchange (a CORS fetch to /token), the ID token check and
        // /userinfo happen in JavaScript.
        let shown_sub = text_when(&browser, "#sub", |t| !t.is_empty()).await?;
        let name = browser.text("#name").await?;
        let url = browser.current_url().await?;
        let error = browser.text("#error").await?;
        browser.click("#sign-out").await?;
        text_when(&browser, "#status", |t| t == "You are not signed in.").await?;
        Ok::<_, Failure>((shown_sub, name, url, error))
    }
    .await;
    let (shown_sub, name, url, error) = match outcome {
        Ok(v) => v,
        Err(e) => panic!("{}", browser.failure_report("spa", &e).await),
    };
    browser.close().await;
    assert_eq!(error, "");
    assert_eq!(shown_sub, sub);
    assert_eq!(name, FULL_NAME);
    // The code was removed from the address bar.
    assert_eq!(url, format!("{base}/"));
}
