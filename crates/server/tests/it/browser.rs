//! End-to-end tests in a real browser (headless Chromium through chromedriver, see
//! `warden_testkit::browser`): the WebDriver client against a tiny local page, then the OpenID
//! Connect authorization-code flow with PKCE as a person goes through it: login (a wrong
//! password first), consent, the redirect back to the client, the code redeemed, the ID token
//! verified with `jsonwebtoken`, `/userinfo`, and a second `prompt=none` round on the same
//! browser session.
//!
//! Without Chromium these tests are skipped with a note, unless `WARDEN_TEST_BROWSER=1` (as in
//! CI). The browser is slow, so the flow runs on SQLite only. On a failure a screenshot is saved
//! as `target/browser-failure-*.png` and the panic message carries the current URL and the head
//! of the page source.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Form, Query, RawQuery};
use axum::response::{Html, Redirect};
use jsonwebtoken::Algorithm;
use serde_json::Value;
use warden_core::admin::NewClient;
use warden_core::clock::Clock;
use warden_testkit::browser::Browser;
use warden_testkit::{Backend, TestServer};
use warden_types::{Scope, SigningAlg, TokenEndpointAuthMethod, TokenFormat};

use crate::support::{b64, post, reply, verify_jwt};

/// The API the client asks a token for (RFC 8707 `resource`).
const SHOP_API: &str = "https://api.example.test/";
const USERNAME: &str = "alice";
const PASSWORD: &str = "correct horse battery";
const EMAIL: &str = "alice@example.test";
const FULL_NAME: &str = "Alice Example";

// ---- harness ---------------------------------------------------------------------------------

/// Runs `body` with a fresh browser. A panic in it (a failed assertion, an unwrapped browser
/// error) becomes a panic whose message adds a screenshot path, the current URL and the page
/// source head.
async fn with_browser<F, Fut>(label: &str, body: F)
where
    F: FnOnce(Arc<Browser>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let browser = Arc::new(Browser::start().await.unwrap());
    let outcome = tokio::spawn(body(browser.clone())).await;
    if let Err(e) = outcome {
        let message = if e.is_panic() {
            let payload = e.into_panic();
            payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| String::from("(non-string panic)"))
        } else {
            format!("the test task failed: {e}")
        };
        let report = browser.failure_report(label, &message).await;
        panic!("{report}");
    }
    if let Ok(browser) = Arc::try_unwrap(browser) {
        browser.close().await;
    }
}

/// Percent-encodes a query value (spaces as `%20`, not `+`).
fn enc(value: &str) -> String {
    // form_urlencoded writes a space as '+' and a literal '+' as %2B, so every '+' is a space.
    url::form_urlencoded::byte_serialize(value.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// `base?k=v&…` with each value percent-encoded.
fn with_query(base: &str, pairs: &[(&str, &str)]) -> String {
    let query: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect();
    format!("{base}?{}", query.join("&"))
}

/// The value of `name` in a query string.
fn query_param(query: &str, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Text safe inside HTML.
fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Serves `router` on 127.0.0.1 port 0; returns `http://127.0.0.1:PORT`.
async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    base
}

// ---- the WebDriver client against a tiny page ------------------------------------------------

/// A page with a form whose POST redirects (303) to a result page.
async fn form_site() -> String {
    #[derive(serde::Deserialize)]
    struct Submitted {
        name: String,
    }
    let router = axum::Router::new()
        .route(
            "/",
            axum::routing::get(|| async {
                Html(
                    "<!doctype html><html><head><title>Form</title></head><body>\
                     <form method=\"post\" action=\"/submit\">\
                     <label for=\"name\">Name</label>\
                     <input id=\"name\" name=\"name\" type=\"text\">\
                     <button id=\"go\" type=\"submit\">Go</button>\
                     </form></body></html>",
                )
            }),
        )
        .route(
            "/submit",
            axum::routing::post(|Form(form): Form<Submitted>| async move {
                Redirect::to(&with_query("/done", &[("name", &form.name)]))
            }),
        )
        .route(
            "/done",
            axum::routing::get(|Query(form): Query<Submitted>| async move {
                Html(format!(
                    "<!doctype html><html><body><p id=\"result\">Hello, {}</p></body></html>",
                    html_escape(&form.name)
                ))
            }),
        );
    serve(router).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webdriver_client_follows_a_form_redirect() {
    if !Browser::gate("browser::webdriver_client_follows_a_form_redirect") {
        return;
    }
    let site = form_site().await;
    with_browser("webdriver-client", move |browser| async move {
        browser.goto(&format!("{site}/")).await.unwrap();
        assert_eq!(browser.current_url().await.unwrap(), format!("{site}/"));
        assert!(browser.page_source().await.unwrap().contains("id=\"go\""));

        // type_into clears the field first.
        browser.type_into("#name", "to be replaced").await.unwrap();
        browser.type_into("#name", "Ada Lovelace").await.unwrap();
        browser.click("#go").await.unwrap();
        let landed = browser
            .wait_for_url(|u| u.contains("/done?"), Duration::from_secs(10))
            .await
            .unwrap();
        assert_eq!(landed, format!("{site}/done?name=Ada%20Lovelace"));
        assert_eq!(
            browser.text("#result").await.unwrap(),
            "Hello, Ada Lovelace"
        );
        assert!(browser.exists("#result").await.unwrap());
        assert!(!browser.exists("#name").await.unwrap());

        // A missing element: a clear error with the selector, the URL and the page source.
        let mut quick = Browser::start().await.unwrap();
        quick.timeout = Duration::from_millis(300);
        quick.goto(&format!("{site}/done?name=x")).await.unwrap();
        let err = quick.find("#nowhere").await.unwrap_err().to_string();
        assert!(err.contains("\"#nowhere\""), "{err}");
        assert!(err.contains(&format!("{site}/done?name=x")), "{err}");
        assert!(err.contains("Hello, x"), "{err}");
        quick.close().await;

        // Waiting for a URL that never comes fails with where the browser is.
        let err = browser
            .wait_for_url(|u| u.contains("/never"), Duration::from_millis(300))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("/done?name=Ada%20Lovelace"), "{err}");

        let png = browser.screenshot_png().await.unwrap();
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG screenshot");
    })
    .await;
}

// ---- the OpenID Connect authorization-code flow ----------------------------------------------

/// A client's redirect endpoint: records the query string of each `GET /callback`.
struct Callback {
    url: String,
    queries: Arc<Mutex<Vec<String>>>,
}

impl Callback {
    async fn start() -> Self {
        let queries = Arc::new(Mutex::new(Vec::new()));
        let seen = queries.clone();
        let router = axum::Router::new().route(
            "/callback",
            axum::routing::get(move |RawQuery(query): RawQuery| {
                let seen = seen.clone();
                async move {
                    seen.lock().unwrap().push(query.unwrap_or_default());
                    "ok"
                }
            }),
        );
        let base = serve(router).await;
        Self {
            url: format!("{base}/callback"),
            queries,
        }
    }

    /// The query strings received so far.
    fn received(&self) -> Vec<String> {
        self.queries.lock().unwrap().clone()
    }
}

/// A PKCE pair (RFC 7636 §4.1, §4.2): a 43-character verifier and its S256 challenge.
fn pkce() -> (String, String) {
    let verifier = b64(&warden_jose::random_bytes::<32>());
    let challenge = b64(&warden_jose::sha256(verifier.as_bytes()));
    (verifier, challenge)
}

/// A random value for `state` and `nonce`.
fn random() -> String {
    b64(&warden_jose::random_bytes::<16>())
}

/// An authorization request URL.
fn authorize_url(
    server: &TestServer,
    client_id: &str,
    redirect_uri: &str,
    state: &str,
    nonce: &str,
    challenge: &str,
    extra: &[(&str, &str)],
) -> String {
    let mut params = vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", redirect_uri),
        ("scope", "openid profile email offline_access orders:read"),
        ("state", state),
        ("nonce", nonce),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
        ("resource", SHOP_API),
    ];
    params.extend_from_slice(extra);
    with_query(&server.url("/authorize"), &params)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_code_flow_sqlite() {
    if !Browser::gate("browser::oidc_code_flow_sqlite") {
        return;
    }
    let server = Arc::new(TestServer::start(Backend::Sqlite).await);

    // Setup: an API, a user, the client's redirect endpoint, a confidential client.
    server
        .api(
            SHOP_API,
            "orders:read orders:write",
            TokenFormat::Jwt,
            SigningAlg::RS256,
        )
        .await;
    server
        .engine
        .create_user(
            warden_core::users::NewUser {
                username: USERNAME.into(),
                email: EMAIL.into(),
                name: Some(FULL_NAME.into()),
                password: warden_types::SecretString::new(PASSWORD),
            },
            server.clock.now(),
        )
        .await
        .expect("create user");
    let callback = Arc::new(Callback::start().await);
    let info = server
        .client(NewClient {
            name: String::from("Browser test app"),
            auth_method: TokenEndpointAuthMethod::ClientSecretBasic,
            grant_types: vec!["authorization_code".into(), "refresh_token".into()],
            redirect_uris: vec![callback.url.clone()],
            audiences: vec![SHOP_API.into()],
            scope: Some(Scope::parse("orders:read").unwrap()),
            ..Default::default()
        })
        .await;
    let client_id = info.client_id.clone();
    let secret = info
        .client_secret
        .clone()
        .expect("a confidential client has a secret");

    let (server2, callback2) = (server.clone(), callback.clone());
    with_browser("oidc-code-flow", move |browser| async move {
        let (server, callback) = (server2, callback2);
        let client = (client_id.as_str(), secret.as_str());

        // ---- round 1: login, consent, redirect ----
        let (verifier, challenge) = pkce();
        let (state, nonce) = (random(), random());
        let url = authorize_url(
            &server,
            &client_id,
            &callback.url,
            &state,
            &nonce,
            &challenge,
            &[],
        );
        browser.goto(&url).await.unwrap();

        // A wrong password: an error, and the form again.
        browser.type_into("#username", USERNAME).await.unwrap();
        browser
            .type_into("#password", "not the password")
            .await
            .unwrap();
        browser.click("#login").await.unwrap();
        let alert = browser.text("[role=\"alert\"]").await.unwrap();
        assert!(!alert.trim().is_empty(), "the error message is empty");
        for field in ["#username", "#password", "#login"] {
            assert!(
                browser.exists(field).await.unwrap(),
                "{field} is still there after a failed login"
            );
        }
        assert!(
            callback.received().is_empty(),
            "a failed login must not redirect to the client"
        );

        // The right password, then consent.
        browser.type_into("#username", USERNAME).await.unwrap();
        browser.type_into("#password", PASSWORD).await.unwrap();
        browser.click("#login").await.unwrap();
        browser.find("#deny").await.unwrap();
        browser.click("#allow").await.unwrap();
        let cb = callback.url.clone();
        browser
            .wait_for_url(|u| u.starts_with(&cb), Duration::from_secs(15))
            .await
            .unwrap();

        // RFC 6749 §4.1.2 and RFC 9207: code, the same state, iss.
        let received = callback.received();
        assert_eq!(
            received.len(),
            1,
            "one redirect to the client: {received:?}"
        );
        let query = &received[0];
        assert_eq!(query_param(query, "error"), None, "{query}");
        let code = query_param(query, "code").expect("code in the callback");
        assert!(!code.is_empty());
        assert_eq!(query_param(query, "state").as_deref(), Some(state.as_str()));
        assert_eq!(
            query_param(query, "iss").as_deref(),
            Some(server.issuer.as_str()),
            "RFC 9207 iss"
        );

        // ---- the code at the token endpoint ----
        let r = post(
            &server,
            "/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", &callback.url),
                ("code_verifier", &verifier),
            ],
            Some(client),
        )
        .await;
        r.ok();
        let body = &r.body;
        assert!(
            body["token_type"]
                .as_str()
                .is_some_and(|t| t.eq_ignore_ascii_case("Bearer")),
            "{body}"
        );
        let access_token = body["access_token"].as_str().expect("access_token");
        let id_token = body["id_token"].as_str().expect("id_token");
        assert!(
            body["refresh_token"]
                .as_str()
                .is_some_and(|t| !t.is_empty()),
            "offline_access was granted: {body}"
        );
        let scope = body["scope"].as_str().expect("scope");
        assert!(scope.split(' ').any(|s| s == "openid"), "{scope}");

        // ---- the ID token (OIDC Core §2, §3.1.3.6), verified by jsonwebtoken ----
        let (header, claims) = verify_jwt(&server, id_token, &client_id).await;
        assert_eq!(header.alg, Algorithm::RS256);
        assert_eq!(claims["iss"], server.issuer.as_str());
        // A single audience: the client, as a string or a one-element array.
        assert!(
            claims["aud"] == client_id.as_str() || claims["aud"] == serde_json::json!([client_id]),
            "aud: {claims}"
        );
        assert_eq!(claims["nonce"], nonce.as_str());
        let sub = claims["sub"].as_str().expect("sub").to_owned();
        assert!(!sub.is_empty());
        assert!(claims["auth_time"].is_i64(), "auth_time: {claims}");
        let digest = warden_jose::sha256(access_token.as_bytes());
        assert_eq!(claims["at_hash"], b64(&digest[..16]).as_str(), "at_hash");

        // ---- /userinfo (OIDC Core §5.3) ----
        let r = reply(
            server
                .http
                .get(server.url("/userinfo"))
                .bearer_auth(access_token)
                .send()
                .await
                .unwrap(),
        )
        .await;
        r.ok();
        assert_eq!(r.body["sub"], sub.as_str(), "{}", r.text);
        assert_eq!(r.body["email"], EMAIL, "{}", r.text);
        assert_eq!(r.body["name"], FULL_NAME, "{}", r.text);

        // ---- round 2: prompt=none in the same browser ----
        let (verifier2, challenge2) = pkce();
        let (state2, nonce2) = (random(), random());
        let url = authorize_url(
            &server,
            &client_id,
            &callback.url,
            &state2,
            &nonce2,
            &challenge2,
            &[("prompt", "none")],
        );
        browser.goto(&url).await.unwrap();
        let cb = callback.url.clone();
        browser
            .wait_for_url(|u| u.starts_with(&cb), Duration::from_secs(15))
            .await
            .unwrap();
        assert!(
            !browser.exists("#password").await.unwrap(),
            "no login page with prompt=none"
        );
        let received = callback.received();
        assert_eq!(received.len(), 2, "{received:?}");
        let query = &received[1];
        assert_eq!(
            query_param(query, "error"),
            None,
            "session and consent are remembered: {query}"
        );
        assert_eq!(
            query_param(query, "state").as_deref(),
            Some(state2.as_str())
        );
        let code2 = query_param(query, "code").expect("code in the second callback");
        assert_ne!(code2, code);
        let r = post(
            &server,
            "/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", &code2),
                ("redirect_uri", &callback.url),
                ("code_verifier", &verifier2),
            ],
            Some(client),
        )
        .await;
        r.ok();
        let id_token2: &Value = &r.body["id_token"];
        let (_, claims2) =
            verify_jwt(&server, id_token2.as_str().expect("id_token"), &client_id).await;
        assert_eq!(claims2["sub"], sub.as_str());
        assert_eq!(claims2["nonce"], nonce2.as_str());
    })
    .await;
}
