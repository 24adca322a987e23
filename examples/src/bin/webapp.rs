//! A server-side web application that signs people in with Warden (docs/guide-web-app.md).
//!
//! It is a *confidential* client: its secret stays on the server and authenticates it at the
//! token endpoint (`client_secret_basic`). Tokens never reach the browser, which only holds two
//! random cookies of this app: one for a login in progress, one for the signed-in session.
//!
//! - `GET /`         who is signed in, or a "Sign in" link
//! - `GET /login`    makes state, nonce and a PKCE verifier, keeps them server-side, and
//!   redirects to Warden's authorization endpoint
//! - `GET /callback` (`POST /callback` in hybrid mode) checks `state` and `iss`, redeems the
//!   code, verifies the ID token, calls `/userinfo`, starts a session
//! - `POST /logout`  ends the session here, then at Warden (RP-initiated logout)
//!
//! Environment: `WARDEN_ISSUER` (default `http://127.0.0.1:8080`), `CLIENT_ID`,
//! `CLIENT_SECRET`, `LISTEN` (default `127.0.0.1:3000`), `APP_URL` (default `http://LISTEN`),
//! `RESPONSE_TYPE` (`code`, the default, or `code id_token` for the hybrid flow).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use jsonwebtoken::Algorithm;
use serde_json::{Map, Value};
use warden_examples::{
    AuthorizationRequest, ClientAuth, IdTokenChecks, Pkce, ProviderMetadata, authorization_url,
    check_authorization_response, discover, exchange_code, html_escape, random_value, userinfo,
    verify_id_token,
};

/// The cookie of a login in progress (a random key into [`App::logins`]).
const LOGIN_COOKIE: &str = "webapp_login";
/// The cookie of a signed-in session (a random key into [`App::sessions`]).
const SESSION_COOKIE: &str = "webapp_session";
/// How long a person has to come back from Warden.
const LOGIN_TTL: Duration = Duration::from_secs(600);
/// What this app asks for: sign-in, name and email.
const SCOPE: &str = "openid profile email";
/// The ID token algorithm this client registered: Warden's default (`--id-token-alg`).
const ID_TOKEN_ALG: Algorithm = Algorithm::RS256;

struct Config {
    issuer: String,
    client_id: String,
    client_secret: String,
    listen: SocketAddr,
    /// The app's own base URL, without a trailing slash.
    app_url: String,
    /// `response_type=code id_token` with `response_mode=form_post`.
    hybrid: bool,
}

impl Config {
    fn from_env() -> Result<Self, String> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let required = |name: &str| {
            var(name).ok_or_else(|| {
                format!("set {name} (see docs/guide-web-app.md: warden client create ...)")
            })
        };
        let listen_raw = var("LISTEN").unwrap_or_else(|| String::from("127.0.0.1:3000"));
        let listen = listen_raw
            .parse()
            .map_err(|_| format!("LISTEN={listen_raw:?} is not an address like 127.0.0.1:3000"))?;
        let hybrid = match var("RESPONSE_TYPE").as_deref() {
            None | Some("code") => false,
            Some("code id_token") => true,
            Some(other) => {
                return Err(format!(
                    "RESPONSE_TYPE={other:?}: use code or \"code id_token\""
                ));
            }
        };
        Ok(Self {
            issuer: var("WARDEN_ISSUER").unwrap_or_else(|| String::from("http://127.0.0.1:8080")),
            client_id: required("CLIENT_ID")?,
            client_secret: required("CLIENT_SECRET")?,
            listen,
            app_url: var("APP_URL")
                .unwrap_or_else(|| format!("http://{listen_raw}"))
                .trim_end_matches('/')
                .to_owned(),
            hybrid,
        })
    }

    /// The registered redirect URI.
    fn redirect_uri(&self) -> String {
        format!("{}/callback", self.app_url)
    }

    /// The registered post-logout redirect URI.
    fn home(&self) -> String {
        format!("{}/", self.app_url)
    }

    /// Cookies get `Secure` when the app is served over https.
    fn secure(&self) -> bool {
        self.app_url.starts_with("https://")
    }
}

/// What `/login` remembers for `/callback`. Server-side only: the browser holds just the key.
struct PendingLogin {
    state: String,
    nonce: String,
    pkce_verifier: String,
    started: Instant,
}

/// A signed-in person.
struct Session {
    /// The verified ID token claims.
    claims: Map<String, Value>,
    /// What `/userinfo` said.
    userinfo: Map<String, Value>,
    /// Kept for `id_token_hint` at logout.
    id_token: String,
}

struct App {
    config: Config,
    provider: ProviderMetadata,
    http: reqwest::Client,
    logins: Mutex<HashMap<String, PendingLogin>>,
    sessions: Mutex<HashMap<String, Session>>,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let config = Config::from_env()?;
    // No redirects: an OAuth endpoint that redirects is misconfigured, and following it would
    // send credentials elsewhere.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()?;
    let provider = discover(&http, &config.issuer).await?;
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    eprintln!(
        "web app on {} (issuer {}, redirect URI {}, response_type {})",
        config.app_url,
        provider.issuer,
        config.redirect_uri(),
        if config.hybrid {
            "code id_token"
        } else {
            "code"
        }
    );
    let app = Arc::new(App {
        config,
        provider,
        http,
        logins: Mutex::new(HashMap::new()),
        sessions: Mutex::new(HashMap::new()),
    });
    let router = axum::Router::new()
        .route("/", get(home))
        .route("/login", get(login))
        .route("/callback", get(callback_query).post(callback_form_post))
        .route("/logout", post(logout))
        .with_state(app);
    axum::serve(listener, router).await?;
    Ok(())
}

// ---- pages -----------------------------------------------------------------------------------

/// `GET /`: the signed-in user, or a sign-in link.
async fn home(State(app): State<Arc<App>>, headers: HeaderMap) -> Html<String> {
    let sessions = app.sessions.lock().unwrap_or_else(PoisonError::into_inner);
    let session = cookie(&headers, SESSION_COOKIE).and_then(|id| sessions.get(id));
    let body = match session {
        None => String::from(
            "<p>You are not signed in.</p>\
             <p><a id=\"sign-in\" href=\"/login\">Sign in with Warden</a></p>",
        ),
        Some(s) => {
            let text = |m: &Map<String, Value>, k: &str| {
                m.get(k).and_then(Value::as_str).unwrap_or("-").to_owned()
            };
            format!(
                "<p>Signed in as <strong id=\"name\">{}</strong> \
                 (<span id=\"email\">{}</span>), sub <code id=\"sub\">{}</code>.</p>\
                 <form method=\"post\" action=\"/logout\"><button id=\"sign-out\">Sign out</button></form>\
                 <h2>ID token claims (verified)</h2><pre id=\"claims\">{}</pre>\
                 <h2>UserInfo</h2><pre id=\"userinfo\">{}</pre>",
                html_escape(&text(&s.userinfo, "name")),
                html_escape(&text(&s.userinfo, "email")),
                html_escape(&text(&s.claims, "sub")),
                html_escape(&pretty(&s.claims)),
                html_escape(&pretty(&s.userinfo)),
            )
        }
    };
    page("Example web app", &body)
}

/// `GET /login`: starts a login.
async fn login(State(app): State<Arc<App>>) -> Result<Response, Failure> {
    let pkce = Pkce::new()?;
    let pending = PendingLogin {
        state: random_value()?,
        nonce: random_value()?,
        pkce_verifier: pkce.verifier,
        started: Instant::now(),
    };
    let config = &app.config;
    let redirect_uri = config.redirect_uri();
    let url = authorization_url(
        &app.provider,
        &AuthorizationRequest {
            response_type: if config.hybrid {
                "code id_token"
            } else {
                "code"
            },
            client_id: &config.client_id,
            redirect_uri: &redirect_uri,
            scope: SCOPE,
            state: &pending.state,
            nonce: &pending.nonce,
            code_challenge: &pkce.challenge,
            // The hybrid response carries an ID token, which must not travel in a query
            // string; a server cannot read a fragment, so it comes as a form POST.
            response_mode: config.hybrid.then_some("form_post"),
        },
    )?;
    let login_id = random_value()?;
    {
        let mut logins = app.logins.lock().unwrap_or_else(PoisonError::into_inner);
        logins.retain(|_, l| l.started.elapsed() < LOGIN_TTL);
        logins.insert(login_id.clone(), pending);
    }
    // SameSite=Lax: the cookie comes back on Warden's top-level redirect to /callback (Strict
    // would drop it). A form_post arrives as a cross-site POST when Warden is on another site,
    // which only a SameSite=None cookie survives; that needs Secure, so https.
    let same_site = if config.hybrid && config.secure() {
        "None"
    } else {
        "Lax"
    };
    let mut response = Redirect::to(&url).into_response();
    set_cookie(
        &mut response,
        &format!(
            "{LOGIN_COOKIE}={login_id}; Path=/; Max-Age={}; HttpOnly; SameSite={same_site}{}",
            LOGIN_TTL.as_secs(),
            secure_attr(config)
        ),
    );
    Ok(response)
}

/// `GET /callback`: the authorization response in the query (`response_type=code`).
async fn callback_query(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, Failure> {
    callback(&app, &headers, &params).await
}

/// `POST /callback`: the authorization response as a form (`response_mode=form_post`).
async fn callback_form_post(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Form(params): Form<HashMap<String, String>>,
) -> Result<Response, Failure> {
    callback(&app, &headers, &params).await
}

async fn callback(
    app: &App,
    headers: &HeaderMap,
    params: &HashMap<String, String>,
) -> Result<Response, Failure> {
    let config = &app.config;
    // The login this browser started; taken out, so a response is accepted at most once.
    let pending = cookie(headers, LOGIN_COOKIE).and_then(|id| {
        app.logins
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(id)
    });
    let Some(pending) = pending.filter(|p| p.started.elapsed() < LOGIN_TTL) else {
        return Err(Failure::bad_request(
            "No sign-in is in progress in this browser (or it took longer than 10 minutes). \
             Start again.",
        ));
    };

    // state (CSRF) and iss (mix-up), then the code or the error.
    let code = check_authorization_response(params, &pending.state, &app.provider)?;

    // Hybrid flow: the front-channel ID token is checked before the code is used (OIDC Core
    // §3.3.2.12): signed by the issuer for us, our nonce, and c_hash/s_hash bind it to this
    // code and state, so neither can have been swapped. Warden puts no personal data in it.
    let front_channel_sub = if config.hybrid {
        let id_token = params
            .get("id_token")
            .ok_or("the hybrid response carries no id_token")?;
        let claims = verify_id_token(
            &app.http,
            &app.provider,
            id_token,
            &IdTokenChecks {
                alg: ID_TOKEN_ALG,
                issuer: &app.provider.issuer,
                client_id: &config.client_id,
                nonce: &pending.nonce,
                hashes: &[("c_hash", &code), ("s_hash", &pending.state)],
            },
        )
        .await?;
        Some(claims.sub)
    } else {
        None
    };

    // The code, with our secret and the PKCE verifier, over the back channel.
    let redirect_uri = config.redirect_uri();
    let tokens = exchange_code(
        &app.http,
        &app.provider,
        &ClientAuth::Basic {
            client_id: &config.client_id,
            client_secret: &config.client_secret,
        },
        &code,
        &redirect_uri,
        &pending.pkce_verifier,
    )
    .await?;
    let id_token = tokens
        .id_token
        .ok_or("the token response has no id_token (was openid granted?)")?;
    let claims = verify_id_token(
        &app.http,
        &app.provider,
        &id_token,
        &IdTokenChecks {
            alg: ID_TOKEN_ALG,
            issuer: &app.provider.issuer,
            client_id: &config.client_id,
            nonce: &pending.nonce,
            // at_hash ties the access token to this ID token.
            hashes: &[("at_hash", &tokens.access_token)],
        },
    )
    .await?;
    // OIDC Core §3.3.3.6: in the hybrid flow both ID tokens must name the same user.
    if front_channel_sub.is_some_and(|sub| sub != claims.sub) {
        return Err("the two ID tokens name different users: refused".into());
    }
    let info = userinfo(&app.http, &app.provider, &tokens.access_token, &claims.sub).await?;

    // A fresh session id at sign-in (never reuse the login cookie: session fixation).
    let session_id = random_value()?;
    app.sessions
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(
            session_id.clone(),
            Session {
                claims: claims.all,
                userinfo: info,
                id_token,
            },
        );
    let mut response = Redirect::to("/").into_response();
    set_cookie(
        &mut response,
        &format!(
            "{SESSION_COOKIE}={session_id}; Path=/; HttpOnly; SameSite=Lax{}",
            secure_attr(config)
        ),
    );
    set_cookie(
        &mut response,
        &format!("{LOGIN_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax"),
    );
    Ok(response)
}

/// `POST /logout`: ends the session here, then sends the browser to Warden's
/// `end_session_endpoint` to end the session there too. A POST, not a link: SameSite=Lax keeps
/// the session cookie off cross-site POSTs, so another site cannot sign people out.
async fn logout(State(app): State<Arc<App>>, headers: HeaderMap) -> Result<Response, Failure> {
    let session = cookie(&headers, SESSION_COOKIE).and_then(|id| {
        app.sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(id)
    });
    let target = match (session, &app.provider.end_session_endpoint) {
        (Some(session), Some(endpoint)) => {
            // OpenID Connect RP-Initiated Logout 1.0 §2: id_token_hint says who is logging out
            // and from which client, so Warden ends its session without asking; it then returns
            // the browser to a post_logout_redirect_uri registered for this client.
            let mut url = url::Url::parse(endpoint)
                .map_err(|e| format!("end_session_endpoint is not a URL: {e}"))?;
            url.query_pairs_mut()
                .append_pair("id_token_hint", &session.id_token)
                .append_pair("post_logout_redirect_uri", &app.config.home())
                .append_pair("client_id", &app.config.client_id);
            String::from(url)
        }
        _ => String::from("/"),
    };
    let mut response = Redirect::to(&target).into_response();
    set_cookie(
        &mut response,
        &format!("{SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax"),
    );
    Ok(response)
}

// ---- helpers ---------------------------------------------------------------------------------

/// A failed request: shown to the person as a page; details are for them, not secrets.
struct Failure {
    status: StatusCode,
    message: String,
}

impl Failure {
    fn bad_request(message: &str) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            message: message.to_owned(),
        }
    }
}

impl From<warden_examples::Error> for Failure {
    fn from(e: warden_examples::Error) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            message: e.to_string(),
        }
    }
}

impl From<&str> for Failure {
    fn from(message: &str) -> Self {
        Self::bad_request(message)
    }
}

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Self::bad_request(&message)
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        eprintln!("sign-in failed: {}", self.message);
        let body = format!(
            "<p id=\"error\">Sign-in failed: {}</p><p><a href=\"/\">Back</a></p>",
            html_escape(&self.message)
        );
        (self.status, page("Sign-in failed", &body)).into_response()
    }
}

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>{title}</title></head><body><h1>{title}</h1>{body}</body></html>"
    ))
}

fn pretty(map: &Map<String, Value>) -> String {
    serde_json::to_string_pretty(map).unwrap_or_default()
}

/// A cookie's value from the request.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn set_cookie(response: &mut Response, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
}

fn secure_attr(config: &Config) -> &'static str {
    if config.secure() { "; Secure" } else { "" }
}
