//! Helpers for the OpenID Connect browser flow over plain HTTP: a "browser" (a reqwest client
//! that does not follow redirects, with a cookie jar kept by hand), the pages it sees (hidden
//! form fields, error pages), authorization requests with PKCE, the callback the client
//! receives, and the token requests that follow.

use std::collections::BTreeMap;

use reqwest::header::HeaderMap;
use tokio::sync::mpsc;
use warden_core::admin::NewClient;
use warden_core::clock::Clock;
use warden_core::users::NewUser;
use warden_testkit::TestServer;
use warden_types::{SecretString, TokenEndpointAuthMethod};

use crate::support::{Reply, b64, post, random_id, reply};

/// The redirect URI clients register.
pub(crate) const CALLBACK: &str = "https://app.example.com/callback";
/// A second registered redirect URI.
pub(crate) const CALLBACK2: &str = "https://app.example.com/callback2";
/// Where RP-initiated logout may return.
pub(crate) const LOGGED_OUT: &str = "https://app.example.com/logged-out";

/// The test user.
pub(crate) const USERNAME: &str = "alice";
pub(crate) const PASSWORD: &str = "correct horse battery staple";
pub(crate) const EMAIL: &str = "alice@example.com";
pub(crate) const FULL_NAME: &str = "Alice Liddell";

/// Creates the test user; returns its `sub`.
pub(crate) async fn create_alice(server: &TestServer) -> String {
    server
        .engine
        .create_user(
            NewUser {
                username: USERNAME.to_owned(),
                email: EMAIL.to_owned(),
                name: Some(FULL_NAME.to_owned()),
                password: SecretString::new(PASSWORD.to_owned()),
            },
            server.clock.now(),
        )
        .await
        .expect("create user")
        .sub
}

// ---- clients ---------------------------------------------------------------------------------

/// A registered client: its id and, for a confidential one, its secret.
#[derive(Debug, Clone)]
pub(crate) struct App {
    pub(crate) id: String,
    pub(crate) secret: Option<String>,
}

impl App {
    /// HTTP Basic credentials of a confidential client.
    pub(crate) fn basic(&self) -> Option<(&str, &str)> {
        self.secret.as_deref().map(|s| (self.id.as_str(), s))
    }

    /// The Basic credentials, asserting the client is confidential.
    pub(crate) fn creds(&self) -> (&str, &str) {
        self.basic().expect("a confidential client")
    }

    /// POSTs `form` to `path` authenticated as this client: Basic for a confidential client,
    /// `client_id` in the body for a public one.
    pub(crate) async fn post(
        &self,
        server: &TestServer,
        path: &str,
        form: &[(&str, &str)],
    ) -> Reply {
        let mut form = form.to_vec();
        if self.secret.is_none() {
            form.push(("client_id", &self.id));
        }
        post(server, path, &form, self.basic()).await
    }

    /// A refresh request (with extra parameters such as `scope`).
    pub(crate) async fn refresh(
        &self,
        server: &TestServer,
        refresh_token: &str,
        extra: &[(&str, &str)],
    ) -> Reply {
        let mut form = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ];
        form.extend_from_slice(extra);
        self.post(server, "/token", &form).await
    }
}

/// A client for the browser flow: authorization_code and refresh_token, [`CALLBACK`] and
/// [`CALLBACK2`] as redirect URIs, [`LOGGED_OUT`] for logout; `tweak` adjusts the rest.
pub(crate) async fn oidc_client(
    server: &TestServer,
    auth_method: TokenEndpointAuthMethod,
    audiences: &[&str],
    tweak: impl FnOnce(&mut NewClient),
) -> App {
    let public = auth_method == TokenEndpointAuthMethod::None;
    let mut new = NewClient {
        name: String::from("Example App"),
        auth_method,
        grant_types: if public {
            vec![String::from("authorization_code")]
        } else {
            vec![
                String::from("authorization_code"),
                String::from("refresh_token"),
            ]
        },
        audiences: audiences.iter().map(|s| (*s).to_owned()).collect(),
        redirect_uris: vec![CALLBACK.to_owned(), CALLBACK2.to_owned()],
        post_logout_redirect_uris: vec![LOGGED_OUT.to_owned()],
        ..NewClient::default()
    };
    tweak(&mut new);
    let info = server.client(new).await;
    App {
        id: info.client_id,
        secret: info.client_secret,
    }
}

/// A confidential (`client_secret_basic`) browser-flow client on `audiences`.
pub(crate) async fn confidential(server: &TestServer, audiences: &[&str]) -> App {
    oidc_client(
        server,
        TokenEndpointAuthMethod::ClientSecretBasic,
        audiences,
        |_| {},
    )
    .await
}

// ---- authorization requests ------------------------------------------------------------------

/// A PKCE code verifier (43 to 128 unreserved characters; here 64).
pub(crate) fn new_verifier() -> String {
    format!("{}{}", random_id(), random_id())
}

/// The S256 challenge of a verifier (RFC 7636 §4.2).
pub(crate) fn s256(verifier: &str) -> String {
    b64(&warden_jose::sha256(verifier.as_bytes()))
}

/// base64url of the left half of SHA-256 (`at_hash`, `c_hash` for RS256/ES256/PS256).
pub(crate) fn half_hash(value: &str) -> String {
    b64(&warden_jose::sha256(value.as_bytes())[..16])
}

/// An authorization request: ordered parameters plus the PKCE verifier behind the challenge.
#[derive(Debug, Clone)]
pub(crate) struct Authz {
    pub(crate) params: Vec<(String, String)>,
    pub(crate) verifier: String,
}

impl Authz {
    /// `response_type=code` for `client_id` to [`CALLBACK`] with `scope=openid profile email`,
    /// a fresh `state` and `nonce`, and an S256 challenge.
    pub(crate) fn new(client_id: &str) -> Self {
        let verifier = new_verifier();
        let params = [
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", CALLBACK),
            ("scope", "openid profile email"),
            ("state", &random_id()),
            ("nonce", &random_id()),
            ("code_challenge", &s256(&verifier)),
            ("code_challenge_method", "S256"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        Self { params, verifier }
    }

    /// Sets (replacing) a parameter.
    pub(crate) fn with(mut self, name: &str, value: &str) -> Self {
        match self.params.iter_mut().find(|(k, _)| k == name) {
            Some(p) => p.1 = value.to_owned(),
            None => self.params.push((name.to_owned(), value.to_owned())),
        }
        self
    }

    /// Adds a parameter even if it is already there.
    pub(crate) fn also(mut self, name: &str, value: &str) -> Self {
        self.params.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Removes a parameter.
    pub(crate) fn without(mut self, name: &str) -> Self {
        self.params.retain(|(k, _)| k != name);
        self
    }

    /// A parameter's value.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// `state`.
    pub(crate) fn state(&self) -> &str {
        self.get("state").expect("state")
    }

    /// `nonce`.
    pub(crate) fn nonce(&self) -> &str {
        self.get("nonce").expect("nonce")
    }

    /// The parameters as pairs of `&str`.
    pub(crate) fn pairs(&self) -> Vec<(&str, &str)> {
        self.params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    /// `/authorize?...`
    pub(crate) fn path(&self) -> String {
        format!("/authorize?{}", encode(&self.pairs()))
    }
}

/// Form-encodes pairs.
pub(crate) fn encode(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

// ---- the browser -----------------------------------------------------------------------------

/// What the browser received.
#[derive(Debug)]
pub(crate) struct Page {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) text: String,
}

impl Page {
    /// A header as a string.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `Set-Cookie` headers.
    pub(crate) fn set_cookies(&self) -> Vec<&str> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect()
    }

    /// The `Set-Cookie` header for `name`, if any.
    pub(crate) fn set_cookie(&self, name: &str) -> Option<&str> {
        self.set_cookies()
            .into_iter()
            .find(|c| c.split_once('=').is_some_and(|(n, _)| n.trim() == name))
    }

    /// The value of the first `<input>` named `name`.
    pub(crate) fn input(&self, name: &str) -> Option<String> {
        input_value(&self.text, name)
    }

    /// Every hidden `<input>` of the page, in order.
    pub(crate) fn hidden_inputs(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut rest = self.text.as_str();
        while let Some(at) = rest.find("<input") {
            let end = at + rest[at..].find('>').unwrap_or(rest.len() - at);
            let tag = &rest[at..end];
            if tag.contains("type=\"hidden\"")
                && let (Some(name), Some(value)) = (attribute(tag, "name"), attribute(tag, "value"))
            {
                out.push((name, value));
            }
            rest = &rest[end..];
        }
        out
    }

    /// Whether this is the login form.
    pub(crate) fn is_login(&self) -> bool {
        self.status == 200
            && self.text.contains("name=\"password\"")
            && self.input("interaction").is_some()
            && self.input("csrf").is_some()
    }

    /// Whether this is the consent form.
    pub(crate) fn is_consent(&self) -> bool {
        self.status == 200
            && !self.text.contains("name=\"password\"")
            && self.text.contains("name=\"decision\"")
            && self.input("interaction").is_some()
            && self.input("csrf").is_some()
    }

    /// Asserts the login page and returns `(interaction, csrf)`.
    #[track_caller]
    pub(crate) fn login_form(&self) -> (String, String) {
        assert!(self.is_login(), "expected the login page, got {self}");
        (
            self.input("interaction").unwrap(),
            self.input("csrf").unwrap(),
        )
    }

    /// Asserts the consent page and returns `(interaction, csrf)`.
    #[track_caller]
    pub(crate) fn consent_form(&self) -> (String, String) {
        assert!(self.is_consent(), "expected the consent page, got {self}");
        (
            self.input("interaction").unwrap(),
            self.input("csrf").unwrap(),
        )
    }

    /// Asserts an HTML error page with `status` and no redirect.
    #[track_caller]
    pub(crate) fn assert_error_page(&self, status: u16) -> &Self {
        assert_eq!(self.status, status, "{self}");
        assert_eq!(
            self.header("location"),
            None,
            "an error page never redirects: {self}"
        );
        assert!(
            self.header("content-type")
                .is_some_and(|c| c.starts_with("text/html")),
            "an HTML page: {self}"
        );
        assert!(
            !self.is_login() && !self.is_consent(),
            "an error page, not a form: {self}"
        );
        self
    }

    /// Asserts a redirect (302 or 303) and parses where it goes.
    #[track_caller]
    pub(crate) fn callback(&self) -> Callback {
        assert!(
            matches!(self.status, 302 | 303),
            "expected a redirect to the client, got {self}"
        );
        let location = self.header("location").expect("Location");
        Callback::parse(location)
    }

    /// The text of the element with `role="alert"`, if any (tags stripped).
    pub(crate) fn alert(&self) -> Option<String> {
        let at = self.text.find("role=\"alert\"")?;
        let rest = &self.text[at..];
        let open_end = rest.find('>')? + 1;
        let body = &rest[open_end..];
        // The alert's content up to its closing tag (nested inline tags stripped).
        let mut depth = 0i32;
        let mut out = String::new();
        let mut chars = body.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if c == '<' {
                let tag_end = body[i..].find('>').map(|e| i + e)?;
                let tag = &body[i..=tag_end];
                if tag.starts_with("</") {
                    if depth == 0 {
                        break;
                    }
                    depth -= 1;
                } else if !tag.ends_with("/>") {
                    depth += 1;
                }
                while chars.peek().is_some_and(|(j, _)| *j <= tag_end) {
                    chars.next();
                }
                continue;
            }
            out.push(c);
        }
        Some(unescape(
            out.split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .as_str(),
        ))
    }
}

impl std::fmt::Display for Page {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let head: String = self.text.chars().take(1500).collect();
        write!(
            f,
            "HTTP {} location={:?} set-cookie={:?}\n{head}",
            self.status,
            self.header("location"),
            self.set_cookies()
        )
    }
}

/// The value of the first `<input ... name="NAME" ...>`'s `value` attribute, unescaped.
pub(crate) fn input_value(html: &str, name: &str) -> Option<String> {
    let needle = format!("name=\"{name}\"");
    let mut offset = 0;
    while let Some(found) = html[offset..].find(&needle) {
        let pos = offset + found;
        let start = html[..pos].rfind('<')?;
        let end = pos + html[pos..].find('>')?;
        let tag = &html[start..end];
        if tag.starts_with("<input")
            && let Some(v) = attribute(tag, "value")
        {
            return Some(v);
        }
        offset = end;
    }
    None
}

/// An attribute of a tag's text (`<x a="1" b="2"`), unescaped.
pub(crate) fn attribute(tag: &str, name: &str) -> Option<String> {
    let needle = format!(" {name}=\"");
    let at = tag.find(&needle)? + needle.len();
    let len = tag[at..].find('"')?;
    Some(unescape(&tag[at..at + len]))
}

/// Undoes HTML escaping of the characters templates escape.
pub(crate) fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#x2F;", "/")
        .replace("&#x2f;", "/")
        .replace("&#47;", "/")
        .replace("&#x3D;", "=")
        .replace("&#61;", "=")
        .replace("&amp;", "&")
}

/// Where the server sent the browser back to the client, with the response parameters from
/// the query or the fragment.
#[derive(Debug, Clone)]
pub(crate) struct Callback {
    /// The full Location.
    pub(crate) location: String,
    /// The URL without query and fragment.
    pub(crate) base: String,
    /// Parameters of the query.
    pub(crate) query: BTreeMap<String, String>,
    /// Parameters of the fragment.
    pub(crate) fragment: BTreeMap<String, String>,
}

impl Callback {
    /// Parses a Location.
    pub(crate) fn parse(location: &str) -> Self {
        let url = url::Url::parse(location).unwrap_or_else(|e| panic!("{location:?}: {e}"));
        let query = url.query_pairs().into_owned().collect();
        let fragment = url
            .fragment()
            .map(|f| {
                url::form_urlencoded::parse(f.as_bytes())
                    .into_owned()
                    .collect()
            })
            .unwrap_or_default();
        let mut base = url.clone();
        base.set_query(None);
        base.set_fragment(None);
        Self {
            location: location.to_owned(),
            base: base.to_string(),
            query,
            fragment,
        }
    }

    /// A parameter from the query, else the fragment.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.query
            .get(name)
            .or_else(|| self.fragment.get(name))
            .map(String::as_str)
    }

    /// The `code` (asserts there is one and no error).
    #[track_caller]
    pub(crate) fn code(&self) -> String {
        assert_eq!(self.get("error"), None, "{}", self.location);
        self.get("code")
            .unwrap_or_else(|| panic!("no code in {}", self.location))
            .to_owned()
    }

    /// Asserts an error response (RFC 6749 §4.1.2.1) for `authz` with `iss` (RFC 9207).
    #[track_caller]
    pub(crate) fn assert_error(&self, server: &TestServer, authz: &Authz, code: &str) -> &Self {
        assert_eq!(self.get("error"), Some(code), "{}", self.location);
        assert_eq!(self.get("code"), None, "{}", self.location);
        assert_eq!(
            self.get("state"),
            authz.get("state"),
            "state is returned: {}",
            self.location
        );
        assert_eq!(
            self.get("iss"),
            Some(server.issuer.as_str()),
            "{}",
            self.location
        );
        let mut expected =
            url::Url::parse(authz.get("redirect_uri").unwrap_or(CALLBACK)).expect("redirect_uri");
        let registered_query: BTreeMap<String, String> =
            expected.query_pairs().into_owned().collect();
        expected.set_query(None);
        assert_eq!(self.base, expected.as_str(), "{}", self.location);
        for (k, v) in &registered_query {
            assert_eq!(self.query.get(k), Some(v), "query kept: {}", self.location);
        }
        assert!(
            self.get("error_description").is_some_and(|d| !d.is_empty()),
            "{}",
            self.location
        );
        self
    }
}

/// A browser: no automatic redirects, cookies kept by hand.
pub(crate) struct Browser {
    http: reqwest::Client,
    base_url: String,
    /// Cookies by name.
    pub(crate) cookies: BTreeMap<String, String>,
}

/// The session cookie's name (the issuer is plain http, so no `__Host-` prefix).
pub(crate) const SESSION_COOKIE: &str = "warden_session";
/// The CSRF binding cookie's name.
pub(crate) const CSRF_COOKIE: &str = "warden_csrf";

impl Browser {
    /// A browser with an empty cookie jar.
    pub(crate) fn new(server: &TestServer) -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            base_url: server.base_url.clone(),
            cookies: BTreeMap::new(),
        }
    }

    /// The session cookie.
    pub(crate) fn session(&self) -> Option<String> {
        self.cookies.get(SESSION_COOKIE).cloned()
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{}", self.base_url, path)
        }
    }

    fn cookie_header(&self) -> Option<String> {
        (!self.cookies.is_empty()).then(|| {
            self.cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }

    async fn send(&mut self, mut req: reqwest::RequestBuilder) -> Page {
        if let Some(c) = self.cookie_header() {
            req = req.header("cookie", c);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        let page = Page {
            status,
            headers,
            text,
        };
        self.absorb(&page);
        page
    }

    /// Stores cookies from `Set-Cookie`; an empty value or `Max-Age=0` removes one.
    fn absorb(&mut self, page: &Page) {
        for set in page.set_cookies() {
            let mut parts = set.split(';');
            let Some((name, value)) = parts.next().and_then(|p| p.split_once('=')) else {
                continue;
            };
            let expired = parts.any(|a| a.trim().eq_ignore_ascii_case("max-age=0"));
            if value.is_empty() || expired {
                self.cookies.remove(name.trim());
            } else {
                self.cookies
                    .insert(name.trim().to_owned(), value.trim().to_owned());
            }
        }
    }

    /// GET a path on the server (or an absolute URL).
    pub(crate) async fn get(&mut self, path: &str) -> Page {
        let req = self.http.get(self.url(path));
        self.send(req).await
    }

    /// POST a form.
    pub(crate) async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let req = self
            .http
            .post(self.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(encode(form));
        self.send(req).await
    }

    /// Submits the login form of `page`.
    pub(crate) async fn login(&mut self, page: &Page, username: &str, password: &str) -> Page {
        let (interaction, csrf) = page.login_form();
        self.post(
            "/login",
            &[
                ("interaction", &interaction),
                ("csrf", &csrf),
                ("username", username),
                ("password", password),
            ],
        )
        .await
    }

    /// Submits the consent form of `page` with `decision`.
    pub(crate) async fn consent(&mut self, page: &Page, decision: &str) -> Page {
        let (interaction, csrf) = page.consent_form();
        self.post(
            "/consent",
            &[
                ("interaction", &interaction),
                ("csrf", &csrf),
                ("decision", decision),
            ],
        )
        .await
    }

    /// Runs an authorization request to its end as Alice: logs in if asked, allows if asked;
    /// returns the final response (a redirect, or the form_post page).
    pub(crate) async fn authorize_through(&mut self, authz: &Authz) -> Page {
        let mut page = self.get(&authz.path()).await;
        if page.is_login() {
            page = self.login(&page, USERNAME, PASSWORD).await;
        }
        if page.is_consent() {
            page = self.consent(&page, "allow").await;
        }
        page
    }

    /// Like [`Self::authorize_through`], asserting a successful redirect; returns the callback.
    pub(crate) async fn authorize(&mut self, authz: &Authz) -> Callback {
        let page = self.authorize_through(authz).await;
        let cb = page.callback();
        cb.code();
        cb
    }
}

/// The whole browser journey for `authz` in a fresh browser (log in as Alice, allow): the
/// callback the client receives and the browser (with its session cookie).
pub(crate) async fn login_and_consent(server: &TestServer, authz: &Authz) -> (Callback, Browser) {
    let mut browser = Browser::new(server);
    let cb = browser.authorize(authz).await;
    (cb, browser)
}

// ---- token requests --------------------------------------------------------------------------

/// Redeems a code as `app` with the request's `redirect_uri` and verifier.
pub(crate) async fn redeem(server: &TestServer, app: &App, code: &str, authz: &Authz) -> Reply {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("code_verifier", authz.verifier.as_str()),
    ];
    if let Some(uri) = authz.get("redirect_uri") {
        form.push(("redirect_uri", uri));
    }
    app.post(server, "/token", &form).await
}

/// Tokens of a successful token response.
#[derive(Debug, Clone)]
pub(crate) struct Tokens {
    pub(crate) access: String,
    pub(crate) id: Option<String>,
    pub(crate) refresh: Option<String>,
    pub(crate) scope: String,
}

impl Tokens {
    /// From a reply (asserts 200).
    #[track_caller]
    pub(crate) fn from_reply(r: &Reply) -> Self {
        r.ok();
        let s = |k: &str| r.body[k].as_str().map(str::to_owned);
        Self {
            access: s("access_token").expect("access_token"),
            id: s("id_token"),
            refresh: s("refresh_token"),
            scope: s("scope").unwrap_or_default(),
        }
    }

    /// The refresh token (asserts there is one).
    #[track_caller]
    pub(crate) fn refresh(&self) -> &str {
        self.refresh.as_deref().expect("a refresh token")
    }
}

/// The full journey and the code redemption: tokens for `authz`, and the browser.
pub(crate) async fn tokens_for(server: &TestServer, app: &App, authz: &Authz) -> (Tokens, Browser) {
    let (cb, browser) = login_and_consent(server, authz).await;
    let r = redeem(server, app, &cb.code(), authz).await;
    (Tokens::from_reply(&r), browser)
}

/// A scope string as a sorted set of words.
pub(crate) fn words(s: &str) -> Vec<String> {
    let mut v: Vec<String> = s
        .split(' ')
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect();
    v.sort();
    v
}

/// GET /userinfo with a bearer token.
pub(crate) async fn userinfo(server: &TestServer, token: &str) -> Reply {
    reply(
        server
            .http
            .get(server.url("/userinfo"))
            .bearer_auth(token)
            .send()
            .await
            .expect("GET /userinfo"),
    )
    .await
}

// ---- a back-channel logout receiver ----------------------------------------------------------

/// A local HTTP server that records the form bodies POSTed to `/backchannel`.
pub(crate) struct LogoutReceiver {
    pub(crate) url: String,
    rx: mpsc::UnboundedReceiver<BTreeMap<String, String>>,
    task: tokio::task::JoinHandle<()>,
}

impl LogoutReceiver {
    /// Starts listening on 127.0.0.1.
    pub(crate) async fn start() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/backchannel", listener.local_addr().unwrap());
        let app = axum::Router::new().route(
            "/backchannel",
            axum::routing::post(move |body: axum::body::Bytes| {
                let tx = tx.clone();
                async move {
                    let form: BTreeMap<String, String> =
                        url::form_urlencoded::parse(&body).into_owned().collect();
                    let _ = tx.send(form);
                    axum::http::StatusCode::OK
                }
            }),
        );
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url, rx, task }
    }

    /// The next form received, waiting up to `limit`.
    pub(crate) async fn next(
        &mut self,
        limit: std::time::Duration,
    ) -> Option<BTreeMap<String, String>> {
        tokio::time::timeout(limit, self.rx.recv())
            .await
            .ok()
            .flatten()
    }
}

impl Drop for LogoutReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}
