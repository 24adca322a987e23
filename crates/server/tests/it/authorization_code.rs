//! The OpenID Connect browser flow over HTTP: `/authorize` → login page → `/login` → consent
//! page → `/consent` → the client's redirect URI with a code (RFC 6749 §4.1, OIDC Core §3.1
//! and §3.3, RFC 7636 PKCE, RFC 9207 `iss`, RFC 9126 PAR), the code and refresh grants at
//! `/token`, `/userinfo`, RP-initiated and back-channel logout, and the ways each can be
//! misused.

use std::time::Duration;

use serde_json::Value;
use warden_core::clock::Clock;
use warden_testkit::{Backend, TestServer};
use warden_types::{Scope, SigningAlg, TokenEndpointAuthMethod};

use crate::oidc_support::{
    App, Authz, Browser, CALLBACK, CALLBACK2, CSRF_COOKIE, EMAIL, FULL_NAME, LOGGED_OUT,
    LogoutReceiver, PASSWORD, SESSION_COOKIE, Tokens, USERNAME, attribute, confidential,
    create_alice, encode, half_hash, login_and_consent, new_verifier, oidc_client, redeem,
    tokens_for, userinfo, words,
};
use crate::support::{
    API, access_token, basic_client, get, introspect, is_active, jwt_api, jwt_part, post, revoke,
    verify_jwt,
};

both!(
    // happy paths
    confidential_client_gets_verified_tokens,
    userinfo_releases_claims_by_scope,
    userinfo_errors,
    public_client_with_pkce,
    public_client_with_allow_public_refresh_gets_refresh_token,
    remembered_consent_skips_login_and_consent,
    prompt_login_asks_for_the_password_again,
    prompt_consent_asks_again,
    max_age_zero_forces_login,
    first_party_client_skips_consent,
    form_post_response_mode,
    fragment_response_mode,
    hybrid_flow,
    hybrid_without_nonce_is_invalid_request,
    hybrid_for_a_public_client_is_unauthorized_client,
    par_flow,
    require_par_client_refuses_a_plain_request,
    par_errors,
    // misuse
    wrong_code_verifier_is_invalid_grant,
    reused_code_revokes_what_it_issued,
    expired_code_is_invalid_grant,
    unregistered_redirect_uri_is_an_error_page,
    unknown_client_is_an_error_page,
    missing_code_challenge_is_invalid_request,
    plain_code_challenge_method_is_invalid_request,
    missing_code_challenge_method_is_invalid_request,
    login_and_consent_need_the_csrf_token,
    token_redirect_uri_must_match,
    code_of_another_client_is_invalid_grant,
    prompt_none_without_session_is_login_required,
    prompt_none_without_consent_is_consent_required,
    consent_on_one_api_is_not_consent_on_another,
    parallel_logins_cannot_bypass_throttling,
    consent_denied_is_access_denied,
    wrong_password_and_unknown_user_get_one_generic_message,
    failed_logins_are_throttled,
    response_type_token_is_unsupported,
    repeated_client_id_is_an_error_page,
    scope_not_granted_is_invalid_scope,
    unknown_resource_is_invalid_target,
    // refresh
    refresh_rotates_and_reuse_revokes_the_family,
    refresh_reuse_within_grace_succeeds,
    refresh_can_narrow_but_not_widen_scope,
    refused_refresh_does_not_spend_the_token,
    refresh_token_of_another_client_is_invalid_grant,
    revoked_refresh_token_fails,
    refresh_family_has_an_absolute_lifetime,
    disabled_user_cannot_refresh,
    disabled_user_is_logged_out_and_cannot_log_in,
    // logout
    logout_with_id_token_hint_redirects_and_ends_the_session,
    logout_to_an_unregistered_uri_is_an_error_page,
    logout_without_hint_asks_for_confirmation,
    backchannel_logout_token_is_delivered,
    // discovery
    discovery_advertises_the_browser_flow,
);
// More request variants, misuse, logout and configuration.
both!(
    authorize_by_post,
    login_hint_prefills_the_username,
    redirect_uri_may_be_omitted_without_openid,
    loopback_redirect_uri_accepts_any_port,
    forms_are_single_use,
    session_and_interaction_expire,
    invalid_prompt_and_max_age_are_invalid_request,
    pushed_request_is_bound_and_expires,
    confidential_client_must_authenticate_to_redeem,
    concurrent_redemptions_issue_once,
    offline_access_needs_the_refresh_grant,
    state_and_redirect_query_are_kept,
    logout_id_token_hint_is_checked,
    logout_confirmation_carries_the_request,
    failed_logins_are_throttled_per_address,
    server_wide_require_par,
);

/// The API scopes of [`API`].
const API_SCOPES: &str = "read write admin";

/// An ES256 JWT API, Alice, and a confidential client on it: `(alice's sub, client)`.
async fn setup(server: &TestServer) -> (String, App) {
    jwt_api(server, API, API_SCOPES, SigningAlg::ES256).await;
    let sub = create_alice(server).await;
    let app = confidential(server, &[API]).await;
    (sub, app)
}

/// A request for OIDC scopes, refresh, and `read` on [`API`].
fn full_request(app: &App) -> Authz {
    Authz::new(&app.id)
        .with("scope", "openid profile email offline_access read")
        .with("resource", API)
}

/// Verifies an ID token for `app` against `/jwks` and returns its claims.
async fn id_claims(server: &TestServer, app: &App, id_token: &str) -> Value {
    let (header, claims) = verify_jwt(server, id_token, &app.id).await;
    assert_eq!(
        header.alg,
        jsonwebtoken::Algorithm::RS256,
        "RS256 by default"
    );
    claims
}

/// A browser with a session for Alice and consent for `authz`'s scopes, after one flow.
async fn logged_in(server: &TestServer, app: &App, authz: &Authz) -> Browser {
    let (cb, browser) = login_and_consent(server, authz).await;
    redeem(server, app, &cb.code(), authz).await.ok();
    browser
}

// ---- happy paths -----------------------------------------------------------------------------

/// The whole flow for a confidential client, checking every step and the tokens.
async fn confidential_client_gets_verified_tokens(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (sub, app) = setup(&server).await;
    let authz = full_request(&app);
    let login_time = server.clock.now();
    let mut browser = Browser::new(&server);

    // GET /authorize: the login page, with a CSRF binding cookie.
    let page = browser.get(&authz.path()).await;
    page.login_form();
    assert!(
        page.header("content-type")
            .is_some_and(|c| c.starts_with("text/html")),
        "{page}"
    );
    let csrf_cookie = page.set_cookie(CSRF_COOKIE).expect("CSRF cookie");
    assert!(csrf_cookie.contains("HttpOnly"), "{csrf_cookie}");
    assert!(csrf_cookie.contains("SameSite=Lax"), "{csrf_cookie}");
    assert_eq!(page.set_cookie(SESSION_COOKIE), None, "no session yet");

    // POST /login: the consent page and a session cookie.
    let page = browser.login(&page, USERNAME, PASSWORD).await;
    page.consent_form();
    // The pages cannot be framed (clickjacking) or cached.
    assert_eq!(page.header("x-frame-options"), Some("DENY"));
    assert!(
        page.header("content-security-policy")
            .is_some_and(|c| c.contains("frame-ancestors 'none'")),
        "{page}"
    );
    assert_eq!(page.header("cache-control"), Some("no-store"));
    let session_cookie = page.set_cookie(SESSION_COOKIE).expect("session cookie");
    assert!(session_cookie.contains("HttpOnly"), "{session_cookie}");
    assert!(session_cookie.contains("SameSite=Lax"), "{session_cookie}");
    assert!(page.text.contains(FULL_NAME) || page.text.contains(USERNAME));

    // POST /consent: 303 to the redirect URI with code, state and iss (RFC 9207).
    let page = browser.consent(&page, "allow").await;
    assert_eq!(page.status, 303, "{page}");
    assert_eq!(page.header("cache-control"), Some("no-store"));
    assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
    let cb = page.callback();
    assert_eq!(cb.base, CALLBACK);
    assert!(cb.fragment.is_empty(), "query mode: {}", cb.location);
    assert_eq!(cb.get("state"), Some(authz.state()));
    assert_eq!(cb.get("iss"), Some(server.issuer.as_str()));
    let code = cb.code();
    assert_eq!(
        cb.query.keys().map(String::as_str).collect::<Vec<_>>(),
        ["code", "iss", "state"],
        "{}",
        cb.location
    );

    // POST /token.
    let r = redeem(&server, &app, &code, &authz).await;
    let tokens = Tokens::from_reply(&r);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(r.body["token_type"], "Bearer");
    assert_eq!(r.body["expires_in"], 900, "the API's lifetime");
    assert_eq!(
        words(&tokens.scope),
        words("openid profile email offline_access read")
    );

    // The access token: RFC 9068 for the API, about Alice.
    let (header, at) = verify_jwt(&server, &tokens.access, API).await;
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    assert_eq!(at["sub"], sub.as_str());
    assert_eq!(at["client_id"], app.id.as_str());
    assert_eq!(at["aud"], API);
    assert_eq!(
        words(at["scope"].as_str().unwrap()),
        words("openid profile email offline_access read")
    );

    // The ID token (OIDC Core §2, §3.1.3.6).
    let id_token = tokens.id.clone().expect("id_token");
    let id = id_claims(&server, &app, &id_token).await;
    assert_eq!(id["iss"], server.issuer.as_str());
    assert_eq!(id["sub"], sub.as_str());
    assert_eq!(id["aud"], app.id.as_str());
    assert_eq!(id["nonce"], authz.nonce());
    assert_eq!(id["auth_time"], login_time);
    assert_eq!(id["at_hash"], half_hash(&tokens.access).as_str());
    assert!(id["sid"].as_str().is_some_and(|s| !s.is_empty()), "{id}");
    assert_eq!(id["email"], EMAIL);
    assert_eq!(id["name"], FULL_NAME);
    assert!(id.get("c_hash").is_none(), "{id}");

    // The refresh token works.
    let refresh = tokens.refresh().to_owned();
    let r = app.refresh(&server, &refresh, &[]).await;
    let refreshed = Tokens::from_reply(&r);
    let (_, at2) = verify_jwt(&server, &refreshed.access, API).await;
    assert_eq!(at2["sub"], sub.as_str());
    // A refreshed ID token has no nonce (OIDC Core §12.2) but keeps auth_time.
    let id2 = id_claims(&server, &app, refreshed.id.as_deref().expect("id_token")).await;
    assert_eq!(id2["auth_time"], login_time);
    assert_eq!(id2["sub"], sub.as_str());
}

/// OIDC Core §5.3–5.4: `profile` releases name and preferred_username, `email` the email.
async fn userinfo_releases_claims_by_scope(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (sub, app) = setup(&server).await;
    let mut browser = Browser::new(&server);

    let authz = Authz::new(&app.id).with("scope", "openid profile email");
    let cb = browser.authorize(&authz).await;
    let tokens = Tokens::from_reply(&redeem(&server, &app, &cb.code(), &authz).await);
    let r = userinfo(&server, &tokens.access).await;
    r.ok();
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(r.body["sub"], sub.as_str());
    assert_eq!(r.body["name"], FULL_NAME);
    assert_eq!(r.body["preferred_username"], USERNAME);
    assert_eq!(r.body["email"], EMAIL);

    // POST with the token in the form body (RFC 6750 §2.2).
    let r = post(
        &server,
        "/userinfo",
        &[("access_token", &tokens.access)],
        None,
    )
    .await;
    r.ok();
    assert_eq!(r.body["sub"], sub.as_str());
    assert_eq!(r.body["email"], EMAIL);

    // Only `email`.
    let authz = Authz::new(&app.id).with("scope", "openid email");
    let cb = browser.authorize(&authz).await;
    let tokens = Tokens::from_reply(&redeem(&server, &app, &cb.code(), &authz).await);
    let r = userinfo(&server, &tokens.access).await;
    r.ok();
    assert_eq!(r.body["sub"], sub.as_str());
    assert_eq!(r.body["email"], EMAIL);
    assert!(r.body.get("name").is_none(), "{}", r.text);
    assert!(r.body.get("preferred_username").is_none(), "{}", r.text);

    // Only `openid`: just the subject.
    let authz = Authz::new(&app.id).with("scope", "openid");
    let cb = browser.authorize(&authz).await;
    let tokens = Tokens::from_reply(&redeem(&server, &app, &cb.code(), &authz).await);
    let r = userinfo(&server, &tokens.access).await;
    r.ok();
    assert_eq!(r.body["sub"], sub.as_str());
    for absent in ["name", "preferred_username", "email", "email_verified"] {
        assert!(r.body.get(absent).is_none(), "{absent}: {}", r.text);
    }

    // Expired (the userinfo token lives 900 s by default).
    server.clock.advance(901);
    let r = userinfo(&server, &tokens.access).await;
    assert_eq!((r.status, r.error()), (401, "invalid_token"), "{}", r.text);
}

/// RFC 6750 §3.1 challenges at `/userinfo`.
async fn userinfo_errors(backend: Backend) {
    let server = TestServer::start(backend).await;
    jwt_api(&server, API, API_SCOPES, SigningAlg::ES256).await;

    // No token: 401 with the bare challenge.
    let r = get(&server, "/userinfo").await;
    assert_eq!(r.status, 401, "{}", r.text);
    assert_eq!(
        r.header("www-authenticate"),
        Some("Bearer realm=\"warden\"")
    );

    // A bad token.
    let r = userinfo(&server, "garbage").await;
    assert_eq!(r.status, 401, "{}", r.text);
    let challenge = r.header("www-authenticate").unwrap_or_default();
    assert!(challenge.starts_with("Bearer "), "{challenge}");
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    assert_eq!(r.error(), "invalid_token");

    // A client-credentials token has no user and no openid scope.
    let (id, secret) = basic_client(&server, &[API], None).await;
    let t = access_token(&server, &id, &secret, &[]).await;
    let r = userinfo(&server, &t).await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert_eq!(r.error(), "insufficient_scope");
    let challenge = r.header("www-authenticate").unwrap_or_default();
    assert!(
        challenge.contains("error=\"insufficient_scope\""),
        "{challenge}"
    );
}

/// A public client authenticates with PKCE only; without `allow_public_refresh` it gets no
/// refresh token even when it asks for `offline_access`.
async fn public_client_with_pkce(backend: Backend) {
    let server = TestServer::start(backend).await;
    let sub = create_alice(&server).await;
    let app = oidc_client(&server, TokenEndpointAuthMethod::None, &[], |_| {}).await;
    assert!(app.secret.is_none(), "a public client has no secret");
    let authz = Authz::new(&app.id).with("scope", "openid profile offline_access");
    let (cb, _) = login_and_consent(&server, &authz).await;

    // Without the verifier, a public client proves nothing.
    let r = app
        .post(
            &server,
            "/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", &cb.code()),
                ("redirect_uri", CALLBACK),
            ],
        )
        .await;
    r.assert_error(400, "invalid_request");

    let authz = Authz::new(&app.id).with("scope", "openid profile offline_access");
    let (cb, _) = login_and_consent(&server, &authz).await;
    let r = redeem(&server, &app, &cb.code(), &authz).await;
    let tokens = Tokens::from_reply(&r);
    assert!(tokens.refresh.is_none(), "{}", r.text);
    assert!(!words(&tokens.scope).contains(&String::from("offline_access")));
    let id = id_claims(&server, &app, tokens.id.as_deref().expect("id_token")).await;
    assert_eq!(id["sub"], sub.as_str());
    assert_eq!(id["nonce"], authz.nonce());
    userinfo(&server, &tokens.access).await.ok();
}

async fn public_client_with_allow_public_refresh_gets_refresh_token(backend: Backend) {
    let server = TestServer::start(backend).await;
    create_alice(&server).await;
    let app = oidc_client(&server, TokenEndpointAuthMethod::None, &[], |c| {
        c.allow_public_refresh = true;
    })
    .await;
    let authz = Authz::new(&app.id).with("scope", "openid offline_access");
    let (tokens, _) = tokens_for(&server, &app, &authz).await;
    let first = tokens.refresh().to_owned();
    let r = app.refresh(&server, &first, &[]).await;
    let next = Tokens::from_reply(&r);
    assert_ne!(next.refresh(), first, "rotated");
}

/// Consent is remembered and the session is reused: the second request goes straight back.
async fn remembered_consent_skips_login_and_consent(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (sub, app) = setup(&server).await;
    let mut browser = logged_in(&server, &app, &full_request(&app)).await;

    let authz = full_request(&app);
    let page = browser.get(&authz.path()).await;
    let cb = page.callback();
    assert_eq!(cb.get("state"), Some(authz.state()));
    assert_eq!(cb.get("iss"), Some(server.issuer.as_str()));
    let tokens = Tokens::from_reply(&redeem(&server, &app, &cb.code(), &authz).await);
    let (_, at) = verify_jwt(&server, &tokens.access, API).await;
    assert_eq!(at["sub"], sub.as_str());

    // A subset of the consented scopes also needs no consent...
    let authz = Authz::new(&app.id)
        .with("scope", "openid read")
        .with("resource", API);
    browser.get(&authz.path()).await.callback().code();
    // ...but a scope never consented to does.
    let authz = Authz::new(&app.id)
        .with("scope", "openid write")
        .with("resource", API);
    let page = browser.get(&authz.path()).await;
    page.consent_form();
}

/// OIDC Core §3.1.2.1 `prompt=login`: the user authenticates again despite the session.
async fn prompt_login_asks_for_the_password_again(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, app) = setup(&server).await;
    let mut browser = logged_in(&server, &app, &Authz::new(&app.id)).await;
    let old_session = browser.session().expect("session");
    server.clock.advance(5);

    let authz = Authz::new(&app.id).with("prompt", "login");
    let page = browser.get(&authz.path()).await;
    page.login_form();
    let page = browser.login(&page, USERNAME, PASSWORD).await;
    // Consent is remembered: straight back to the client.
    assert_eq!(page.status, 303, "{page}");
    let cb = page.callback();
    let tokens = Tokens::from_reply(&redeem(&server, &app, &cb.code(), &authz).await);
    let id = id_claims(&server, &app, tokens.id.as_deref().unwrap()).await;
    assert_eq!(
        id["auth_time"],
        server.clock.now(),
        "a fresh authentication"
    );
    assert_ne!(browser.session(), Some(old_session), "a new session cookie");
}

/// `prompt=consent`: the consent page again, although consent was given.
async fn prompt_consent_asks_again(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, app) = setup(&server).await;
    let mut browser = logged_in(&server, &app, &Authz::new(&app.id)).await;

    let authz = Authz::new(&app.id).with("prompt", "consent");
    let page = browser.get(&authz.path()).await;
    let page = browser.consent(&page, "allow").await;
    let cb = page.callback();
    redeem(&server, &app, &cb.code(), &authz).await.ok();
}

/// `max_age=0`: any authentication is too old once a second has passed.
async fn max_age_zero_forces_login(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, app) = setup(&server).await;
    let mut browser = logged_in(&server, &app, &Authz::new(&app.id)).await;
    server.clock.advance(1);

    // A generous max_age is satisfied by the session.
    let authz = Authz::new(&app.id).with("max_age", "3600");
    browser.get(&authz.path()).await.callback().code();

    // With prompt=none, a too old authentication is login_required.
    let authz = Authz::new(&app.id)
        .with("max_age", "0")
        .with("prompt", "none");
    browser
        .get(&authz.path())
        .await
        .callback()
        .assert_error(&server, &authz, "login_required");

    let authz = Authz::new(&app.id).with("max_age", "0");
    let page = browser.get(&authz.path()).await;
    let page = browser.login(&page, USERNAME, PASSWORD).await;
    let cb = page.callback();
    let tokens = Tokens::from_reply(&redeem(&server, &app, &cb.code(), &authz).await);
    let id = id_claims(&server, &app, tokens.id.as_deref().unwrap()).await;
    assert_eq!(id["auth_time"], server.clock.now());
}

async fn first_party_client_skips_consent(backend: Backend) {
    let server = TestServer::start(backend).await;
    jwt_api(&server, API, API_SCOPES, SigningAlg::ES256).await;
    create_alice(&server).await;
    let app = oidc_client(
        &server,
        TokenEndpointAuthMethod::ClientSecretBasic,
        &[API],
        |c| c.first_party = true,
    )
    .await;
    let authz = full_request(&app);
    let mut browser = Browser::new(&server);
    let page = browser.get(&authz.path()).await;
    let page = browser.login(&page, USERNAME, PASSWORD).await;
    assert_eq!(page.status, 303, "no consent page: {page}");
    let cb = page.callback();
    redeem(&server, &app, &cb.code(), &authz).await.ok();
}

/// OAuth 2.0 Form Post Response Mode: an HTML form that posts code, state and iss.
async fn form_post_response_mode(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, app) = setup(&server).await;
    let authz = Authz::new(&app.id).with("response_mode", "form_post");
    let mut browser = Browser::new(&server);
    let page = browser.authorize_through(&authz).await;
    assert_eq!(page.status, 200, "{page}");
    assert_eq!(page.header("location"), None);
    assert!(
        page.header("content-type")
            .is_some_and(|c| c.starts_with("text/html")),
        "{page}"
    );
    let form_at = page.text.find("<form").expect("a form");
    let form_tag = &page.text[form_at..form_at + page.text[form_at..].find('>').unwrap()];
    assert_eq!(attribute(form_tag, "action").as_deref(), Some(CALLBACK));
    assert_eq!(
        attribute(form_tag, "method").map(|m| m.to_ascii_lowercase()),
        Some(String::from("post"))
    );
    assert_eq!(page.input("state").as_deref(), Some(authz.state()));
    assert_eq!(page.input("iss").as_deref(), Some(server.issuer.as_str()));
    let code = page.input("code").expect("code");
    redeem(&server, &app, &code, &authz).await.ok();
}

async fn fragment_response_mode(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, app) = setup(&server).await;
    let authz = Authz::new(&app.id).with("response_mode", "fragment");
    let (cb, _) = login_and_consent(&server, &authz).await;
    assert!(cb.query.is_empty(), "{}", cb.location);
    assert!(cb.location.starts_with(&format!("{CALLBACK}#")));
    assert_eq!(
        cb.fragment.get("state").map(String::as_str),
        Some(authz.state())
    );
    assert_eq!(
        cb.fragment.get("iss").map(String::as_str),
        Some(server.issuer.as_str())
    );
    let code = cb.fragment.get("code").expect("code").clone();
    redeem(&server, &app, &code, &authz).await.ok();
}

/// OIDC Core §3.3: `code id_token` returns an ID token in the fragment with `c_hash`, and
/// (seed 004) no personal claims in the front channel.
async fn hybrid_flow(backend: Backend) {
    let server = TestServer::start(backend).await;
    jwt_api(&server, API, API_SCOPES, SigningAlg::ES256).await;
    let sub = create_alice(&server).await;
    let app = oidc_client(
        &server,
        TokenEndpointAuthMethod::ClientSecretBasic,
        &[API],
        |c| c.response_types = vec![String::from("code"), String::from("code id_token")],
    )
    .await;
    let authz = full_request(&app).with("response_type", "code id_token");
    let (cb, _) = login_and_consent(&server, &authz).await;
    assert!(cb.query.is_empty(), "fragment by default: {}", cb.location);
    let f = |k: &str| cb.fragment.get(k).cloned();
    assert_eq!(f("state").as_deref(), Some(authz.state()));
    assert_eq!(f("iss").as_deref(), Some(server.issuer.as_str()));
    let code = f("code").expect("code");
    let id_token = f("id_token").expect("id_token");

    let id = id_claims(&server, &app, &id_token).await;
    assert_eq!(id["sub"], sub.as_str());
    assert_eq!(id["nonce"], authz.nonce());
    assert_eq!(id["c_hash"], half_hash(&code).as_str());
    assert!(id.get("auth_time").is_some(), "{id}");
    for absent in [
        "email",
        "email_verified",
        "name",
        "preferred_username",
        "at_hash",
    ] {
        assert!(
            id.get(absent).is_none(),
            "{absent} in the front channel: {id}"
        );
    }

    let tokens = Tokens::from_reply(&redeem(&server, &app, &code, &authz).await);
    let id2 = id_claims(&server, &app, tokens.id.as_deref().unwrap()).await;
    assert_eq!(id2["sub"], sub.as_str());
    assert_eq!(id2["at_hash"], half_hash(&tokens.access).as_str());
}

/// OIDC Core §3.3.2.11: nonce is required when an ID token comes from `/authorize`.
async fn hybrid_without_nonce_is_invalid_request(backend: Backend) {
    let server = TestServer::start(backend).await;
    jwt_api(&server, API, API_SCOPES, SigningAlg::ES256).await;
    create_alice(&server).await;
    let app = oidc_client(
        &server,
        TokenEndpointAuthMethod::ClientSecretBasic,
        &[API],
        |c| c.response_types = vec![String::from("code"), String::from("code id_token")],
    )
    .await;
    let authz = Authz::new(&app.id)
        .with("response_type", "code id_token")
        .without("nonce");
    let mut browser = Browser::new(&server);
    let cb = browser.get(&authz.path()).await.callback();
    cb.assert_error(&server, &authz, "invalid_request");
    assert!(
        cb.query.is_empty(),
        "an error in the fragment: {}",
        cb.location
    );
}

async fn hybrid_for_a_public_client_is_unauthorized_client(backend: Backend) {
    let server = TestServer::start(backend).await;
    create_alice(&server).await;
    let app = oidc_client(&server, TokenEndpointAuthMethod::None, &[], |_| {}).await;
    let authz = Authz::new(&app.id).with("response_type", "code id_token");
    let mut browser = Browser::new(&server);
    browser.get(&authz.path()).await.callback().assert_error(
        &server,
        &authz,
        "unauthorized_client",
    );
}

/// RFC 9126: push, then `/authorize` with the `request_uri` only, once.
async fn par_flow(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (sub, app) = setup(&server).await;
    let authz = full_request(&app);
    let r = app.post(&server, "/par", &authz.pairs()).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let request_uri = r.body["request_uri"]
        .as_str()
        .expect("request_uri")
        .to_owned();
    assert!(
        request_uri.starts_with("urn:ietf:params:oauth:request_uri:"),
        "{request_uri}"
    );
    let expires_in = r.body["expires_in"].as_i64().expect("expires_in");
    assert!((1..=600).contains(&expires_in), "{expires_in}");

    let path = format!(
        "/authorize?{}",
        encode(&[("client_id", &app.id), ("request_uri", &request_uri)])
    );
    let mut browser = Browser::new(&server);
    let page = browser.get(&path).await;
    let page = browser.login(&page, USERNAME, PASSWORD).await;
    let page = browser.consent(&page, "allow").await;
    let cb = page.callback();
    assert_eq!(cb.get("state"), Some(authz.state()));
    assert_eq!(cb.get("iss"), Some(server.issuer.as_str()));
    let tokens = Tokens::from_reply(&redeem(&server, &app, &cb.code(), &authz).await);
    let (_, at) = verify_jwt(&server, &tokens.access, API).await;
    assert_eq!(at["sub"], sub.as_str());

    // RFC 9126 §4: single use.
    browser.get(&path).await.assert_error_page(400);
}

async fn require_par_client_refuses_a_plain_request(backend: Backend) {
    let server = TestServer::start(backend).await;
    jwt_api(&server, API, API_SCOPES, SigningAlg::ES256).await;
    create_alice(&server).await;
    let app = oidc_client(
        &server,
        TokenEndpointAuthMethod::ClientSecretBasic,
        &[API],
        |c| c.require_par = true,
    )
    .await;
    let authz = Authz::new(&app.id);
    let mut browser = Browser::new(&server);
    browser
        .get(&authz.path())
        .await
        .callback()
        .assert_error(&server, &authz, "invalid_request");

    // Pushed, it works.
    let r = app.post(&server, "/par", &authz.pairs()).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let path = format!(
        "/authorize?{}",
        encode(&[
            ("client_id", &app.id),
            ("request_uri", r.body["request_uri"].as_str().unwrap()),
        ])
    );
    browser.get(&path).await.login_form();
}

/// RFC 9126 §2.3: errors are JSON; the client must authenticate.
async fn par_errors(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, app) = setup(&server).await;

    let authz = Authz::new(&app.id).with("redirect_uri", "https://evil.example/cb");
    app.post(&server, "/par", &authz.pairs())
        .await
        .assert_error(400, "invalid_request");

    let authz = Authz::new(&app.id).without("code_challenge");
    app.post(&server, "/par", &authz.pairs())
        .await
        .assert_error(400, "invalid_request");

    let authz = Authz::new(&app.id);
    post(&server, "/par", &authz.pairs(), None)
        .await
        .assert_error(401, "invalid_client");
    post(&server, "/par", &authz.pairs(), Some((&app.id, "wrong")))
        .await
        .assert_error(401, "invalid_client");

    // RFC 9126 §2.1: client_id must be the authenticated client's; no request_uri.
    let other = confidential(&server, &[API]).await;
    let authz = Authz::new(&other.id);
    app.post(&server, "/par", &authz.pairs())
        .await
        .assert_error(400, "invalid_request");
    let authz = Authz::new(&app.id).with("request_uri", "urn:example:x");
    app.post(&server, "/par", &authz.pairs())
        .await
        .assert_error(400, "invalid_request");
}

/// A pushed request is bound to its client and expires.
async fn pushed_request_is_bound_and_expires(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, app) = setup(&server).await;
    let other = confidential(&server, &[API]).await;
    let push = |app: App| {
        let server = &server;
        async move {
            let r = app.post(server, "/par", &Authz::new(&app.id).pairs()).await;
            assert_eq!(r.status, 201, "{}", r.text);
            r.body["request_uri"].as_str().unwrap().to_owned()
        }
    };
    let path = |client_id: &str, uri: &str| {
        format!(
            "/authorize?{}",
            encode(&[("client_id", client_id), ("request_uri", uri)])
        )
    };
    // Another client_id.
    let uri = push(app.clone()).await;
    Browser::new(&server)
        .get(&path(&other.id, &uri))
        .await
        .assert_error_page(400);
    // Expired.
    let uri = push(app.clone()).await;
    server.clock.advance(61);
    Browser::new(&server)
        .get(&path(&app.id, &uri))
        .await
        .assert_error_page(400);
    // Not from /par at all: request_uri_not_supported (OIDC Core §6.2); request objects
    // are not supported either.
    let authz = Authz::new(&app.id).with("request_uri", "https://app.example.com/req.jwt");
    Browser::new(&server)
        .get(&authz.path())
        .await
        .callback()
        .assert_error(&server, &authz, "request_uri_not_supported");
    let authz = Authz::new(&app.id).with("request", "eyJhbGciOiJub25lIn0.e30.");
    Browser::new(&server)
        .get(&authz.path())
        .await
        .callback()
        .assert_error(&server, &authz, "request_not_supported");
}

/// A confidential client's code needs the client's authentication, not just its id.
async fn confidential_client_must_authenticate_to_redeem(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, app) = setup(&server).await;
    let authz = full_request(&app);
    let (cb, _) = login_and_consent(&server, &authz).await;
    let code = cb.code();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CALLBACK),
        ("code_verifier", authz.verifier.as_str()),
        ("client_id", app.id.as_str()),
    ];
    post(&server, "/token", &form, None)
        .await
        .assert_error(401, "invalid_client");
    post(&server, "/token", &form[..4], Some((&app.id, "wrong")))
        .await
        .assert_error(401, "invalid_client");
    // A refused authentication does not spend the code.
    redeem(&server, &app, &code, &authz).await.ok();
}

/// RFC 6749 §4.1.2: one code, one issuance, even under concurrent redemption.
async fn concurrent_redemptions_issue_once(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, app) = setup(&server).await;
    let authz = full_request(&app);
    let (cb, _) = login_and_consent(&server, &authz).await;
    let code = cb.code();
    let replies =
        crate::support::join_all((0..6).map(|_| redeem(&server, &app, &code, &authz))).await;
    let ok = replies.iter().filter(|r| r.status == 200).count();
    // At most one redemption succeeds; when a replay overlaps the first redemption, the
    // first one notices and refuses too, so none may.
    assert!(
        ok <= 1,
        "{:?}",
        replies.iter().map(|r| &r.text).collect::<Vec<_>>()
    );
    for r in replies.iter().filter(|r| r.status != 200) {
        r.assert_error(400, "invalid_grant");
    }
    // The replays are code reuse: what the one redemption issued is revoked, whichever
    // request came first.
    if let Some(reply) = replies.iter().find(|r| r.status == 200) {
        let winner = Tokens::from_reply(reply);
        let active = is_active(&server, app.creds(), &winner.access).await;
        let refresh = app.refresh(&server, winner.refresh(), &[]).await;
        assert!(
            !active && refresh.status == 400,
            "after concurrent reuse: access token active = {active}, refresh = {} {}",
            refresh.status,
            refresh.text
        );
    }
}

/// OIDC Core §11: `offline_access` needs the refresh_token grant; without it the scope is
/// dropped and no refresh token is issued.
async fn offline_access_needs_the_refresh_grant(backend: Backend) {
    let server = TestServer::start(backend).await;
    jwt_api(&server, API, API_SCOPES, SigningAlg::ES256).await;
    create_alice(&server).await;
    let app = oidc_client(
        &server,
        TokenEndpointAuthMethod::ClientSecretBasic,
        &[API],
        |c| c.grant_types = vec![String::from("authorization_code")],
    )
    .await;
    let (tokens, _) = tokens_for(&server, &app, &full_request(&app)).await;
    assert!(tokens.refresh.is_none());
    assert_eq!(words(&tokens.scope), words("openid profile email read"));
}

/// RFC 6749 §4.1.2: `state` comes back exactly, in every response mode; a registered
/// redirect URI's query is kept (§3.1.2).
async fn state_and_redirect_query_are_kept(backend: Backend) {
    let server = TestServer::start(backend).await;
    jwt_api(&server, API, API_SCOPES, SigningAlg::ES256).await;
    create_alice(&server).await;
    let with_query = "https://app.example.com/callback?tenant=blue";
    let app = oidc_client(
        &server,
        TokenEndpointAuthMethod::ClientSecretBasic,
        &[API],
        |c| c.redirect_uris = vec![CALLBACK.to_owned(), with_query.to_owned()],
    )
    .await;
    let state = "a b&c=d#e+f/%20\u{e9}\"<x>";
    let mut browser = logged_in(&server, &app, &Authz::new(&app.id)).await;

    let authz = Authz::new(&app.id)
        .with("state", state)
        .with("redirect_uri", with_query);
    let cb = browser.get(&authz.path()).await.callback();
    assert_eq!(cb.get("state"), Some(state));
    assert_eq!(cb.query.get("tenant").map(String::as_str), Some("blue"));
    redeem(&server, &app, &cb.code(), &authz).await.ok();

    let authz = Authz::new(&app.id)
        .with("state", state)
        .with("response_mode", "fragment");
    let cb = browser.get(&authz.path()).await.callback();
    assert_eq!(cb.fragment.get("state").map(String::as_str), Some(state));

    let authz = Authz::new(&app.id)
        .with("state", state)
        .with("response_mode", "form_post");
    let page = browser.get(&authz.path()).await;
    assert_eq!(page.status, 200, "{page}");
    assert_eq!(page.input("state").as_deref(), Some(state));

    // An error response keeps them too.
    let authz = Authz::new(&app.id)
        .with("state", state)
        .with("redirect_uri", with_query)
        .without("code_challenge");
    let cb = browser.get(&authz.path()).await.callback();
    cb.assert_error(&server, &authz, "invalid_request");
    assert_eq!(cb.query.get("tenant").map(String::as_str), Some("blue"));
}

// ---- misuse ----------------------------------------------------------------------------------

/// RFC 7636 §4.6: a wrong verifier is `invalid_grant`, and the code is spent.
async fn wrong_code_verifier_is_invalid_grant(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, app) = setup(&server).await;
    let authz = full_request(&app);
    let (cb, _) = login_and_consent(&server, &authz).await;
    let code = cb.code();
    let mut wrong = authz.clone();
    wrong.verifier = new_verifier();
    redeem(&server, &app, &code, &wrong)
        .await
        .assert_error(400, "invalid_grant");
    redeem(&server, &app, &code, &authz)
        .await
        .assert_error(400, "invalid_grant");
}

/// RFC 6749 §4.1.2: a code used twice is refused, and what it issued is revoked.
async fn reused_code_revokes_what_it_issued(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, app) = setup(&server).await;
    let authz = full_request(&app);
    let (cb, _) = login_and_consent(&server, &authz).await;
    let code = cb.code();
    let tokens = Tokens::from_reply(&redeem(&server, &app, &code, &authz).await);
    assert!(is_active(&server, app.creds(), &tokens.access).await);

    redeem(&server, &app, &code, &authz)
        .await
        .assert_error(400, "invalid_grant");
    let r = introspect(&server, app.creds(), &tokens.access).await;
    r.ok();
    assert_eq!(r.body["active"], false, "{}", r.text);
    app.refresh(&server, tokens.refresh(), &[])
        .await
        .assert_error(400, "invalid_grant");

    // The same for a token that is only for /userinfo (no resource).
    let mut browser = logged_in(&server, &app, &Authz::new(&app.id)).await;
    let authz = Authz::new(&app.id);
    let code = browser.get(&authz.path()).await.callback().code();
    let tokens = Tokens::from_reply(&redeem(&server, &app, &code, &authz).await);
    userinfo(&server, &tokens.access).await.ok();
    redeem(&server, &app, &code, &authz)
        .await
        .assert_error(400, "invalid_grant");
    let r = userinfo(&server, &tokens.access).await;
    assert_eq!((r.status, r.error()), (401, "invalid_token"), "{}", r.text);
}

/// Codes live at most 60 s.
async fn expired_code_is_invalid_grant(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, app) = setup(&server).await;
    let authz = full_request(&app);
    let (cb, _) = login_and_consent(&server, &authz).await;
    server.clock.advance(61);
    redeem(&server, &app, &cb.code(), &authz)
        .await
        .assert_error(400, "invalid_grant");
}

/// RFC 6749 §4.1.2.1: never redirect to an unregistered URI.
async fn unregistered_redirect_uri_is_an_error_page(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, app) = setup(&server).await;
    let mut browser = Browser::new(&server);
    for uri in [
        "https://evil.example/callback",
        "https://app.example.com/callback/",
        "https://app.example.com/callback?x=1",
        "https://app.example.com.evil.example/callback",
    ] {
        let authz = Authz::new(&app.id).with("redirect_uri", uri);
        browser.get(&authz.path()).await.assert_error_page(400);
    }
    // Even an otherwise broken request is not redirected.
    let authz = Authz::new(&app.id)
        .with("redirect_uri", "https://evil.example/callback")
        .with("response_type", "token");
    browser.get(&authz.path()).await.assert_error_page(400);
}

async fn unknown_client_is_an_error_page(backend: Backend) {
    let server = TestServer::start(backend).await;
    setup(&server).await;
    let authz = Authz::new("no-such-client");
    let page = Browser::new(&server).get(&authz.path()).await;
    page.assert_error_page(400);
    assert!(page.text.contains("invalid_client"), "{page}");
    let authz = Authz::new("x").without("client_id");
    Browser::new(&server)
        .get(&authz.path())
        .await
        .assert_error_page(400);
}

/// Seed 004 / RFC 9700 §2.1.1: PKCE is mandatory.
async fn missing_code_challenge_is_invalid_request(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, app) = setup(&server).await;
    let authz = Authz::new(&app.id).without("code_challenge");
    Browser::new(&server)
        .get(&authz.path())
        .await
        .callback()
        .assert_error(&server, &authz, "invalid_request");
}

/// Only S256: `plain` protects nothing once the request is seen.
async fn plain_code_challenge_method_is_invalid_request(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, app) = setup(&server).await;
    let verifier = new_verifier();
    let authz = Authz::new(&app.id)
        .with("code_challenge", &verifier)
        .with("code_challenge_method", "plain");
    Browser::new(&server)
        .get(&authz.path())
        .await
        .callback()
        .assert_error(&server, &authz, "invalid_request");
}

/// RFC 7636 §4.3 defaults a missing method to `plain`, which Warden refuses.
async fn missing_code_challenge_method_is_invalid_request(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, app) = setup(&server).await;
    let authz = Authz::new(&app.id).without("code_challenge_method");
    Browser::new(&server)
        .get(&authz.path())
        .await
        .callback()
        .assert_error(&server, &authz, "invalid_request");
}

/// The login and consent forms need the CSRF token bound to this browser's cookie.
async fn login_and_consent_need_the_csrf_token(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, app) = setup(&server).await;
    let authz = Authz::new(&app.id);
    let mut browser = Browser::new(&server);
    let page = browser.get(&authz.path()).await;
    let (interaction, csrf) = page.login_form();

    // Missing.
    let r = browser
        .post(
            "/login",
            &[
                ("interaction", &interaction),
                ("username", USERNAME),
                ("password", PASSWORD),
            ],
        )
        .await;
    r.assert_error_page(403);
    assert_eq!(r.set_cookie(SESSION_COOKIE), None);

    // Forged.
    let forged = crate::support::b64(&[7u8; 32]);
    browser
        .post(
            "/login",
            &[
                ("interaction", &interaction),
                ("csrf", &forged),
                ("username", USERNAME),
                ("password", PASSWORD),
            ],
        )
        .await
        .assert_error_page(403);

    // A token valid in another browser (its own cookie, its own interaction) does not fit
    // this browser's cookie.
    let mut other = Browser::new(&server);
    let other_page = other.get(&authz.path()).await;
    let (other_interaction, other_csrf) = other_page.login_form();
    assert_ne!(
        other.cookies.get(CSRF_COOKIE),
        browser.cookies.get(CSRF_COOKIE)
    );
    let r = browser
        .post(
            "/login",
            &[
                ("interaction", &other_interaction),
                ("csrf", &other_csrf),
                ("username", USERNAME),
                ("password", PASSWORD),
            ],
        )
        .await;
    r.assert_error_page(403);
    // Nor this browser's token with the other browser's interaction.
    let r = browser
        .post(
            "/login",
            &[
                ("interaction", &other_interaction),
                ("csrf", &csrf),
                ("username", USERNAME),
                ("password", PASSWORD),
            ],
        )
        .await;
    r.assert_error_page(403);
    // Nor with no CSRF cookie at all.
    let mut cookieless = Browser::new(&server);
    cookieless
        .post(
            "/login",
            &[
                ("interaction", &interaction),
                ("csrf", &csrf),
                ("username", USERNAME),
                ("password", PASSWORD),
            ],
        )
        .await
        .assert_error_page(403);

    // The real form still works; then the consent form has the same protection.
    let page = browser.login(&page, USERNAME, PASSWORD).await;
    let (interaction, _) = page.consent_form();
    browser
        .post(
            "/consent",
            &[("interaction", &interaction), ("decision", "allow")],
        )
        .await
        .assert_error_page(403);
    browser
        .post(
            "/consent",
            &[
                ("interaction", &interaction),
                ("csrf", &forged),
                ("decision", "allow"),
            ],
        )
        .await
        .assert_error_page(403);
    let cb = browser.consent(&page, "allow").await.callback();
    assert_eq!(cb.get("state"), Some(authz.state()));
    cb.code();
}

/// RFC 6749 §4.1.3: a `redirect_uri` sent at `/authorize` must be repeated, identical.
async fn token_redirect_uri_must_match(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, app) = setup(&server).await;
    let mut browser = logged_in(&server, &app, &Authz::new(&app.id)).await;

    let authz = Authz::new(&app.id);
    let code = browser.get(&authz.path()).await.callback().code();
    app.post(
        &server,
        "/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", &authz.verifier),
        ],
    )
    .await
    .assert_error(400, "invalid_grant");

    let authz = Authz::new(&app.id);
    let code = browser.get(&authz.path()).await.callback().code();
    let other = authz.clone().with("redirect_uri", CALLBACK2);
    redeem(&server, &app, &code, &other)
        .await
        .assert_error(400, "invalid_grant");

    // Control: the same steps with the right redirect_uri succeed.
    let authz = Authz::new(&app.id);
    let code = browser.get(&authz.path()).await.callback().code();
    redeem(&server, &app, &code, &authz).await.ok();
}

/// RFC 6749 §4.1.3: the code was issued to another client.
async fn code_of_another_client_is_invalid_grant(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, app) = setup(&server).await;
    let thief = confidential(&server, &[API]).await;
    let authz = full_request(&app);
    let (cb, _) = login_and_consent(&server, &authz).await;
    redeem(&server, &thief, &cb.code(), &authz)
        .await
        .assert_error(400, "invalid_grant");
}

/// OIDC Core §3.1.2.6 `login_required`.
async fn prompt_none_without_session_is_login_required(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, app) = setup(&server).await;
    let authz = Authz::new(&app.id).with("prompt", "none");
    Browser::new(&server)
        .get(&authz.path())
        .await
        .callback()
        .assert_error(&server, &authz, "login_required");
}

/// OIDC Core §3.1.2.6 `consent_required`; with consent, `prompt=none` returns a code.
async fn prompt_none_without_consent_is_consent_required(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, app) = setup(&server).await;
    let other = confidential(&server, &[API]).await;
    let mut browser = logged_in(&server, &app, &Authz::new(&app.id)).await;

    let authz = Authz::new(&other.id).with("prompt", "none");
    browser
        .get(&authz.path())
        .await
        .callback()
        .assert_error(&server, &authz, "consent_required");

    let authz = Authz::new(&app.id).with("prompt", "none");
    let code = browser.get(&authz.path()).await.callback().code();
    redeem(&server, &app, &code, &authz).await.ok();
}

/// Consent is per API: `read` allowed on one API does not allow `read` on another.
async fn consent_on_one_api_is_not_consent_on_another(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, _) = setup(&server).await;
    let other_api = "https://other.example.com/";
    jwt_api(&server, other_api, API_SCOPES, SigningAlg::ES256).await;
    let app = confidential(&server, &[API, other_api]).await;
    let first = Authz::new(&app.id)
        .with("scope", "openid read")
        .with("resource", API);
    let mut browser = logged_in(&server, &app, &first).await;

    let same = Authz::new(&app.id)
        .with("scope", "openid read")
        .with("resource", API)
        .with("prompt", "none");
    let code = browser.get(&same.path()).await.callback().code();
    redeem(&server, &app, &code, &same).await.ok();

    let other = Authz::new(&app.id)
        .with("scope", "openid read")
        .with("resource", other_api)
        .with("prompt", "none");
    browser
        .get(&other.path())
        .await
        .callback()
        .assert_error(&server, &other, "consent_required");
}

/// Parallel wrong passwords cannot all slip past the throttle: past the free allowance, an
/// attempt that overlaps others is refused without a password check.
async fn parallel_logins_cannot_bypass_throttling(backend: Backend) {
    let server = TestServer::start(backend).await;
    create_alice(&server).await;
    let now = server.clock.now();
    let attempts = (0..20).map(|_| {
        let engine = server.engine.clone();
        tokio::spawn(async move {
            engine
                .login(
                    USERNAME,
                    warden_types::SecretString::new("wrong password!"),
                    None,
                    now,
                )
                .await
                .unwrap()
        })
    });
    let mut checked = 0;
    for handle in attempts.collect::<Vec<_>>() {
        if matches!(
            handle.await.unwrap(),
            warden_core::users::LoginOutcome::Failed
        ) {
            checked += 1;
        }
    }
    assert!(
        checked <= warden_core::users::ACCOUNT_FREE_FAILURES as usize,
        "{checked} passwords were checked"
    );
}

/// RFC 6749 §4.1.2.1 `access_denied`.
async fn consent_denied_is_access_denied(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, app) = setup(&server).await;
    let authz = full_request(&app);
    let mut browser = Browser::new(&server);
    let page = browser.get(&authz.path()).await;
    let page = browser.login(&page, USERNAME, PASSWORD).await;
    let page = browser.consent(&page, "deny").await;
    assert_eq!(page.status, 303, "{page}");
    page.callback()
        .assert_error(&server, &authz, "access_denied");
    // Nothing was remembered: the next request asks again.
    let authz = full_request(&app);
    browser.get(&authz.path()).await.consent_form();
}

/// One message for an unknown user and a wrong password; the form stays usable.
async fn wrong_password_and_unknown_user_get_one_generic_message(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, app) = setup(&server).await;
    let authz = Authz::new(&app.id);
    let mut browser = Browser::new(&server);
    let page = browser.get(&authz.path()).await;

    let wrong = browser.login(&page, USERNAME, "not the password").await;
    assert!(wrong.is_login(), "{wrong}");
    assert_eq!(wrong.set_cookie(SESSION_COOKIE), None);
    let wrong_alert = wrong.alert().expect("role=\"alert\"");

    let unknown = browser.login(&wrong, "mallory", "not the password").await;
    assert!(unknown.is_login(), "{unknown}");
    let unknown_alert = unknown.alert().expect("role=\"alert\"");
    assert_eq!(wrong_alert, unknown_alert);
    assert!(!wrong_alert.is_empty());

    // The right password on the same form continues.
    let page = browser.login(&unknown, USERNAME, PASSWORD).await;
    page.consent_form();
}

/// Five failures on one account, then every attempt waits the announced delay.
async fn failed_logins_are_throttled(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, app) = setup(&server).await;
    let authz = Authz::new(&app.id);
    let mut browser = Browser::new(&server);
    let mut page = browser.get(&authz.path()).await;
    for i in 0..5 {
        page = browser.login(&page, USERNAME, "not the password").await;
        assert!(page.is_login(), "attempt {i}: {page}");
        let alert = page.alert().unwrap_or_default();
        assert!(!alert.contains("Wait"), "attempt {i}: {alert}");
    }
    // The right password is not even checked now.
    let throttled = browser.login(&page, USERNAME, PASSWORD).await;
    assert!(throttled.is_login(), "{throttled}");
    assert_eq!(throttled.set_cookie(SESSION_COOKIE), None);
    let alert = throttled.alert().expect("role=\"alert\"");
    let secs: i64 = alert
        .split("Wait ")
        .nth(1)
        .and_then(|rest| rest.split(" seconds").next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no \"Wait N seconds\" in {alert:?}"));
    assert!((1..=60).contains(&secs), "{alert}");

    // After the announced delay, the right password works.
    server.clock.advance(secs);
    let page = browser.login(&throttled, USERNAME, PASSWORD).await;
    page.consent_form();
}

async fn response_type_token_is_unsupported(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, app) = setup(&server).await;
    let authz = Authz::new(&app.id).with("response_type", "token");
    Browser::new(&server)
        .get(&authz.path())
        .await
        .callback()
        .assert_error(&server, &authz, "unsupported_response_type");
}

/// RFC 6749 §3.1: parameters must not be repeated.
async fn repeated_client_id_is_an_error_page(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, app) = setup(&server).await;
    let other = confidential(&server, &[API]).await;
    for second in [other.id.as_str(), app.id.as_str()] {
        let authz = Authz::new(&app.id).also("client_id", second);
        Browser::new(&server)
            .get(&authz.path())
            .await
            .assert_error_page(400);
    }
}

async fn scope_not_granted_is_invalid_scope(backend: Backend) {
    let server = TestServer::start(backend).await;
    jwt_api(&server, API, API_SCOPES, SigningAlg::ES256).await;
    create_alice(&server).await;
    let app = oidc_client(
        &server,
        TokenEndpointAuthMethod::ClientSecretBasic,
        &[API],
        |c| c.scope = Some(Scope::parse("read").unwrap()),
    )
    .await;
    let authz = Authz::new(&app.id)
        .with("scope", "openid admin")
        .with("resource", API);
    Browser::new(&server)
        .get(&authz.path())
        .await
        .callback()
        .assert_error(&server, &authz, "invalid_scope");
    // Control: the granted scope is fine.
    let authz = Authz::new(&app.id)
        .with("scope", "openid read")
        .with("resource", API);
    Browser::new(&server).get(&authz.path()).await.login_form();
}

/// RFC 8707 §2: `invalid_target`.
async fn unknown_resource_is_invalid_target(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, app) = setup(&server).await;
    let authz = Authz::new(&app.id)
        .with("scope", "openid read")
        .with("resource", "https://unknown.example.com");
    Browser::new(&server)
        .get(&authz.path())
        .await
        .callback()
        .assert_error(&server, &authz, "invalid_target");
}

// ---- refresh ---------------------------------------------------------------------------------

/// RFC 9700 §4.14.2: every refresh rotates; a rotated token used after the grace window
/// revokes the whole family, including the newest token.
async fn refresh_rotates_and_reuse_revokes_the_family(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, app) = setup(&server).await;
    let (t0, _) = tokens_for(&server, &app, &full_request(&app)).await;
    let r1 = t0.refresh().to_owned();

    let t1 = Tokens::from_reply(&app.refresh(&server, &r1, &[]).await);
    let r2 = t1.refresh().to_owned();
    assert_ne!(r2, r1);
    assert_ne!(t1.access, t0.access);
    let t2 = Tokens::from_reply(&app.refresh(&server, &r2, &[]).await);
    let r3 = t2.refresh().to_owned();
    assert_ne!(r3, r2);

    server.clock.advance(11);
    app.refresh(&server, &r1, &[])
        .await
        .assert_error(400, "invalid_grant");
    app.refresh(&server, &r3, &[])
        .await
        .assert_error(400, "invalid_grant");
}

/// Two concurrent refreshes with one token (two tabs) both succeed within the grace window;
/// the late one gets an access token but no second refresh token, so the family cannot fork.
async fn refresh_reuse_within_grace_succeeds(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, app) = setup(&server).await;
    let (t0, _) = tokens_for(&server, &app, &full_request(&app)).await;
    let r1 = t0.refresh().to_owned();
    let a = Tokens::from_reply(&app.refresh(&server, &r1, &[]).await);
    let b = Tokens::from_reply(&app.refresh(&server, &r1, &[]).await);
    assert!(!b.access.is_empty());
    assert!(b.refresh.is_none(), "a grace use must not fork the family");
    // The family is intact: the one new refresh token works.
    Tokens::from_reply(&app.refresh(&server, a.refresh(), &[]).await);
}

/// RFC 6749 §6: a narrower scope is allowed; a wider one is `invalid_scope`.
async fn refresh_can_narrow_but_not_widen_scope(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, app) = setup(&server).await;
    let (t0, _) = tokens_for(&server, &app, &full_request(&app)).await;

    let narrow = Tokens::from_reply(
        &app.refresh(&server, t0.refresh(), &[("scope", "openid")])
            .await,
    );
    assert_eq!(words(&narrow.scope), words("openid"));
    let (_, at) = verify_jwt(&server, &narrow.access, API).await;
    assert_eq!(at["scope"], "openid");

    // The refresh token keeps the whole grant.
    let full = Tokens::from_reply(&app.refresh(&server, narrow.refresh(), &[]).await);
    assert_eq!(
        words(&full.scope),
        words("openid profile email offline_access read")
    );

    app.refresh(&server, full.refresh(), &[("scope", "openid write")])
        .await
        .assert_error(400, "invalid_scope");
}

/// A refresh refused for a bad request (here a wider scope) does not consume the refresh
/// token: the client may retry correctly later without tripping reuse detection.
async fn refused_refresh_does_not_spend_the_token(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, app) = setup(&server).await;
    let (t0, _) = tokens_for(&server, &app, &full_request(&app)).await;
    app.refresh(&server, t0.refresh(), &[("scope", "openid write")])
        .await
        .assert_error(400, "invalid_scope");
    server.clock.advance(11);
    Tokens::from_reply(&app.refresh(&server, t0.refresh(), &[]).await);
}

async fn refresh_token_of_another_client_is_invalid_grant(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, app) = setup(&server).await;
    let thief = confidential(&server, &[API]).await;
    let (t0, _) = tokens_for(&server, &app, &full_request(&app)).await;
    thief
        .refresh(&server, t0.refresh(), &[])
        .await
        .assert_error(400, "invalid_grant");
}

/// RFC 7009 §2: refresh tokens are revocable.
async fn revoked_refresh_token_fails(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, app) = setup(&server).await;
    let (t0, _) = tokens_for(&server, &app, &full_request(&app)).await;
    revoke(&server, app.creds(), t0.refresh()).await.ok();
    app.refresh(&server, t0.refresh(), &[])
        .await
        .assert_error(400, "invalid_grant");
}

/// Seed 004: the family lives at most 24 hours, and rotation does not extend it.
async fn refresh_family_has_an_absolute_lifetime(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, app) = setup(&server).await;
    let (t0, _) = tokens_for(&server, &app, &full_request(&app)).await;
    server.clock.advance(86_000);
    let t1 = Tokens::from_reply(&app.refresh(&server, t0.refresh(), &[]).await);
    server.clock.advance(401);
    app.refresh(&server, t1.refresh(), &[])
        .await
        .assert_error(400, "invalid_grant");

    let (t2, _) = tokens_for(&server, &app, &full_request(&app)).await;
    server.clock.advance(86_401);
    app.refresh(&server, t2.refresh(), &[])
        .await
        .assert_error(400, "invalid_grant");
}

async fn disabled_user_cannot_refresh(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (sub, app) = setup(&server).await;
    let (t0, _) = tokens_for(&server, &app, &full_request(&app)).await;
    userinfo(&server, &t0.access).await.ok();
    server
        .engine
        .set_user_disabled(&sub, true, server.clock.now())
        .await
        .expect("disable");
    app.refresh(&server, t0.refresh(), &[])
        .await
        .assert_error(400, "invalid_grant");
    let r = userinfo(&server, &t0.access).await;
    assert_eq!((r.status, r.error()), (401, "invalid_token"), "{}", r.text);
}

/// Disabling a user ends its sessions, and it cannot log in (with the generic message).
async fn disabled_user_is_logged_out_and_cannot_log_in(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (sub, app) = setup(&server).await;
    let browser = logged_in(&server, &app, &Authz::new(&app.id)).await;
    let session = browser.session().expect("session");
    assert!(session_is_alive(&server, &app, &session).await);
    server
        .engine
        .set_user_disabled(&sub, true, server.clock.now())
        .await
        .expect("disable");
    assert!(!session_is_alive(&server, &app, &session).await);

    let mut browser = Browser::new(&server);
    let page = browser.get(&Authz::new(&app.id).path()).await;
    let wrong = browser.login(&page, USERNAME, "not the password").await;
    let refused = browser.login(&wrong, USERNAME, PASSWORD).await;
    assert!(refused.is_login(), "{refused}");
    assert_eq!(refused.set_cookie(SESSION_COOKIE), None);
    assert_eq!(refused.alert(), wrong.alert());
}

// ---- logout ----------------------------------------------------------------------------------

/// A browser that still presents `session` (to check the server ended it, not just the
/// cookie).
fn browser_with_session(server: &TestServer, session: &str) -> Browser {
    let mut b = Browser::new(server);
    b.cookies
        .insert(SESSION_COOKIE.to_owned(), session.to_owned());
    b
}

/// Whether `prompt=none` still finds a session with consent behind `session`.
async fn session_is_alive(server: &TestServer, app: &App, session: &str) -> bool {
    let authz = Authz::new(&app.id).with("prompt", "none");
    let cb = browser_with_session(server, session)
        .get(&authz.path())
        .await
        .callback();
    match cb.get("error") {
        None => true,
        Some("login_required") => {
            cb.assert_error(server, &authz, "login_required");
            false
        }
        Some(other) => panic!("unexpected error {other}: {}", cb.location),
    }
}

/// RP-Initiated Logout §2–3 with a valid `id_token_hint`: no question, back to the client.
async fn logout_with_id_token_hint_redirects_and_ends_the_session(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, app) = setup(&server).await;
    let authz = Authz::new(&app.id);
    let (tokens, mut browser) = tokens_for(&server, &app, &authz).await;
    let session = browser.session().expect("session");
    assert!(session_is_alive(&server, &app, &session).await);

    let path = format!(
        "/logout?{}",
        encode(&[
            ("id_token_hint", tokens.id.as_deref().unwrap()),
            ("post_logout_redirect_uri", LOGGED_OUT),
            ("state", "xyz"),
        ])
    );
    let page = browser.get(&path).await;
    assert_eq!(page.status, 303, "{page}");
    assert_eq!(
        page.header("location"),
        Some(format!("{LOGGED_OUT}?state=xyz").as_str())
    );
    let cleared = page
        .set_cookie(SESSION_COOKIE)
        .expect("the session cookie is cleared");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    assert_eq!(browser.session(), None);

    assert!(!session_is_alive(&server, &app, &session).await);
    let authz = Authz::new(&app.id).with("prompt", "none");
    browser
        .get(&authz.path())
        .await
        .callback()
        .assert_error(&server, &authz, "login_required");
}

async fn logout_to_an_unregistered_uri_is_an_error_page(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, app) = setup(&server).await;
    let (tokens, mut browser) = tokens_for(&server, &app, &Authz::new(&app.id)).await;
    let session = browser.session().expect("session");
    let path = format!(
        "/logout?{}",
        encode(&[
            ("id_token_hint", tokens.id.as_deref().unwrap()),
            ("post_logout_redirect_uri", "https://evil.example/bye"),
            ("state", "xyz"),
        ])
    );
    let page = browser.get(&path).await;
    page.assert_error_page(400);
    assert_eq!(page.set_cookie(SESSION_COOKIE), None);
    assert!(session_is_alive(&server, &app, &session).await);
}

/// Without a hint the user is asked; the confirmation form is CSRF-protected.
async fn logout_without_hint_asks_for_confirmation(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, app) = setup(&server).await;
    let mut browser = logged_in(&server, &app, &Authz::new(&app.id)).await;
    let session = browser.session().expect("session");

    let page = browser.get("/logout").await;
    assert_eq!(page.status, 200, "{page}");
    assert_eq!(page.set_cookie(SESSION_COOKIE), None, "nothing ended yet");
    let csrf = page.input("csrf").expect("csrf");
    assert!(
        page.text.contains("name=\"decision\"") && page.text.contains("value=\"logout\""),
        "{page}"
    );
    assert!(session_is_alive(&server, &app, &session).await);

    // Without the CSRF token, or with a forged one, nothing happens.
    browser
        .post("/logout", &[("decision", "logout")])
        .await
        .assert_error_page(403);
    browser
        .post(
            "/logout",
            &[
                ("decision", "logout"),
                ("csrf", &crate::support::b64(&[1u8; 32])),
            ],
        )
        .await
        .assert_error_page(403);
    assert!(session_is_alive(&server, &app, &session).await);

    let page = browser
        .post("/logout", &[("csrf", &csrf), ("decision", "logout")])
        .await;
    assert_eq!(page.status, 200, "{page}");
    let cleared = page
        .set_cookie(SESSION_COOKIE)
        .expect("the session cookie is cleared");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    assert!(!session_is_alive(&server, &app, &session).await);
}

/// Back-Channel Logout 1.0 §2.4–2.5: a signed logout token is POSTed to the client.
async fn backchannel_logout_token_is_delivered(backend: Backend) {
    let server = TestServer::start(backend).await;
    jwt_api(&server, API, API_SCOPES, SigningAlg::ES256).await;
    let sub = create_alice(&server).await;
    let mut receiver = LogoutReceiver::start().await;
    let app = oidc_client(
        &server,
        TokenEndpointAuthMethod::ClientSecretBasic,
        &[API],
        |c| c.backchannel_logout_uri = Some(receiver.url.clone()),
    )
    .await;
    // A second client in the same session, and a third that registered no back-channel
    // URI.
    let second = oidc_client(
        &server,
        TokenEndpointAuthMethod::ClientSecretBasic,
        &[API],
        |c| c.backchannel_logout_uri = Some(receiver.url.clone()),
    )
    .await;
    let third = confidential(&server, &[API]).await;
    let (tokens, mut browser) = tokens_for(&server, &app, &Authz::new(&app.id)).await;
    let id_token = tokens.id.clone().unwrap();
    let id = id_claims(&server, &app, &id_token).await;
    let sid = id["sid"].as_str().expect("sid").to_owned();
    for other in [&second, &third] {
        let authz = Authz::new(&other.id);
        let cb = browser.authorize(&authz).await;
        redeem(&server, other, &cb.code(), &authz).await.ok();
    }

    let path = format!(
        "/logout?{}",
        encode(&[
            ("id_token_hint", id_token.as_str()),
            ("post_logout_redirect_uri", LOGGED_OUT),
        ])
    );
    let page = browser.get(&path).await;
    assert_eq!(page.status, 303, "{page}");
    assert_eq!(page.header("location"), Some(LOGGED_OUT));

    let mut audiences = Vec::new();
    for _ in 0..2 {
        let form = receiver
            .next(Duration::from_secs(5))
            .await
            .expect("a back-channel logout request within 5 s");
        let token = form.get("logout_token").expect("logout_token");
        assert_eq!(jwt_part(token, 0)["typ"], "logout+jwt");
        let aud = jwt_part(token, 1)["aud"].as_str().expect("aud").to_owned();
        let (_, claims) = verify_jwt(&server, token, &aud).await;
        assert_eq!(claims["iss"], server.issuer.as_str());
        assert_eq!(claims["sub"], sub.as_str());
        assert_eq!(claims["sid"], sid.as_str());
        assert!(
            claims["iat"].is_i64() && claims["jti"].is_string(),
            "{claims}"
        );
        assert!(
            claims["events"]
                .get("http://schemas.openid.net/event/backchannel-logout")
                .is_some_and(Value::is_object),
            "{claims}"
        );
        assert!(claims.get("nonce").is_none(), "{claims}");
        audiences.push(aud);
    }
    audiences.sort();
    let mut expected = vec![app.id.clone(), second.id.clone()];
    expected.sort();
    assert_eq!(
        audiences, expected,
        "one notice per client with a back-channel URI"
    );
    assert!(receiver.next(Duration::from_millis(300)).await.is_none());
}

// ---- discovery -------------------------------------------------------------------------------

async fn discovery_advertises_the_browser_flow(backend: Backend) {
    let server = TestServer::start(backend).await;
    let r = get(&server, "/.well-known/openid-configuration").await;
    r.ok();
    let doc = &r.body;
    let issuer = &server.issuer;
    assert_eq!(doc["authorization_endpoint"], format!("{issuer}/authorize"));
    assert_eq!(doc["userinfo_endpoint"], format!("{issuer}/userinfo"));
    assert_eq!(doc["end_session_endpoint"], format!("{issuer}/logout"));
    assert_eq!(
        doc["pushed_authorization_request_endpoint"],
        format!("{issuer}/par")
    );
    assert_eq!(
        doc["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    let types: Vec<&str> = doc["response_types_supported"]
        .as_array()
        .expect("response_types_supported")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(types.contains(&"code"), "{types:?}");
    assert!(types.contains(&"code id_token"), "{types:?}");
    assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
    let grants = doc["grant_types_supported"].to_string();
    assert!(grants.contains("\"authorization_code\""), "{grants}");
    assert!(grants.contains("\"refresh_token\""), "{grants}");
}

// ---- more of the request -----------------------------------------------------------------------

/// OIDC Core §3.1.2.1: the authorization endpoint also takes a form POST.
async fn authorize_by_post(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, app) = setup(&server).await;
    let mut browser = Browser::new(&server);
    let authz = Authz::new(&app.id);
    let page = browser.post("/authorize", &authz.pairs()).await;
    let page = browser.login(&page, USERNAME, PASSWORD).await;
    let cb = browser.consent(&page, "allow").await.callback();
    redeem(&server, &app, &cb.code(), &authz).await.ok();

    // With a session and consent: straight back, 303 after a POST.
    let authz = Authz::new(&app.id);
    let page = browser.post("/authorize", &authz.pairs()).await;
    assert_eq!(page.status, 303, "{page}");
    let cb = page.callback();
    assert_eq!(cb.get("state"), Some(authz.state()));
    redeem(&server, &app, &cb.code(), &authz).await.ok();
}

async fn login_hint_prefills_the_username(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, app) = setup(&server).await;
    let authz = Authz::new(&app.id).with("login_hint", "alice@example.com");
    let page = Browser::new(&server).get(&authz.path()).await;
    page.login_form();
    assert_eq!(page.input("username").as_deref(), Some("alice@example.com"));
}

/// RFC 6749 §3.1.2.3: without `openid`, `redirect_uri` may be omitted when exactly one is
/// registered, and then is not required at the token endpoint; OIDC Core §3.1.2.1 makes it
/// required with `openid`.
async fn redirect_uri_may_be_omitted_without_openid(backend: Backend) {
    let server = TestServer::start(backend).await;
    jwt_api(&server, API, API_SCOPES, SigningAlg::ES256).await;
    create_alice(&server).await;
    let app = oidc_client(
        &server,
        TokenEndpointAuthMethod::ClientSecretBasic,
        &[API],
        |c| c.redirect_uris = vec![CALLBACK.to_owned()],
    )
    .await;
    let authz = Authz::new(&app.id)
        .without("redirect_uri")
        .without("nonce")
        .with("scope", "read")
        .with("resource", API);
    let (cb, _) = login_and_consent(&server, &authz).await;
    assert_eq!(cb.base, CALLBACK);
    let tokens = Tokens::from_reply(&redeem(&server, &app, &cb.code(), &authz).await);
    assert!(tokens.id.is_none(), "no openid, no ID token");
    assert_eq!(words(&tokens.scope), words("read"));

    let authz = Authz::new(&app.id).without("redirect_uri");
    Browser::new(&server)
        .get(&authz.path())
        .await
        .assert_error_page(400);
}

/// RFC 8252 §7.3: any port on a loopback redirect URI; the token request repeats it exactly.
async fn loopback_redirect_uri_accepts_any_port(backend: Backend) {
    let server = TestServer::start(backend).await;
    create_alice(&server).await;
    let app = oidc_client(&server, TokenEndpointAuthMethod::None, &[], |c| {
        c.redirect_uris = vec![String::from("http://127.0.0.1/callback")];
    })
    .await;
    let uri = "http://127.0.0.1:53127/callback";
    let authz = Authz::new(&app.id).with("redirect_uri", uri);
    let (cb, mut browser) = login_and_consent(&server, &authz).await;
    assert_eq!(cb.base, uri);
    let registered = authz
        .clone()
        .with("redirect_uri", "http://127.0.0.1/callback");
    redeem(&server, &app, &cb.code(), &registered)
        .await
        .assert_error(400, "invalid_grant");

    let authz = Authz::new(&app.id).with("redirect_uri", uri);
    let code = browser.get(&authz.path()).await.callback().code();
    redeem(&server, &app, &code, &authz).await.ok();

    // A name is not a loopback literal, and the path must match.
    for bad in [
        "http://localhost:53127/callback",
        "http://127.0.0.1:53127/other",
    ] {
        let authz = Authz::new(&app.id).with("redirect_uri", bad);
        browser.get(&authz.path()).await.assert_error_page(400);
    }
}

/// A replayed login or consent form finds nothing: each interaction is single use.
async fn forms_are_single_use(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, app) = setup(&server).await;
    let authz = Authz::new(&app.id);
    let mut browser = Browser::new(&server);
    let login_page = browser.get(&authz.path()).await;
    let consent_page = browser.login(&login_page, USERNAME, PASSWORD).await;
    consent_page.consent_form();
    let session = browser.session();

    let replay = browser.login(&login_page, USERNAME, PASSWORD).await;
    replay.assert_error_page(400);
    assert_eq!(browser.session(), session, "no new session from a replay");

    let cb = browser.consent(&consent_page, "allow").await.callback();
    cb.code();
    let replay = browser.consent(&consent_page, "allow").await;
    replay.assert_error_page(400);
}

/// Sessions end after their lifetime (8 h by default); a login form after 15 minutes.
async fn session_and_interaction_expire(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, app) = setup(&server).await;
    let browser = logged_in(&server, &app, &Authz::new(&app.id)).await;
    let session = browser.session().expect("session");
    server.clock.advance(8 * 3600 - 1);
    assert!(session_is_alive(&server, &app, &session).await);
    server.clock.advance(2);
    assert!(!session_is_alive(&server, &app, &session).await);

    let mut browser = Browser::new(&server);
    let page = browser.get(&Authz::new(&app.id).path()).await;
    page.login_form();
    server.clock.advance(15 * 60 + 1);
    browser
        .login(&page, USERNAME, PASSWORD)
        .await
        .assert_error_page(400);
}

/// OIDC Core §3.1.2.1: `none` with another prompt value is an error; so is a bad `max_age`.
async fn invalid_prompt_and_max_age_are_invalid_request(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, app) = setup(&server).await;
    for (name, value) in [
        ("prompt", "none login"),
        ("prompt", "bogus"),
        ("max_age", "-1"),
        ("max_age", "soon"),
    ] {
        let authz = Authz::new(&app.id).with(name, value);
        Browser::new(&server)
            .get(&authz.path())
            .await
            .callback()
            .assert_error(&server, &authz, "invalid_request");
    }
}

/// RP-Initiated Logout §2: an expired ID token is still a valid hint; a forged one is not,
/// and neither is one for another client than `client_id`.
async fn logout_id_token_hint_is_checked(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, app) = setup(&server).await;
    let other = confidential(&server, &[API]).await;
    let (tokens, mut browser) = tokens_for(&server, &app, &Authz::new(&app.id)).await;
    let id_token = tokens.id.clone().unwrap();
    let session = browser.session().expect("session");

    // Forged: the payload changed, the signature kept.
    let parts: Vec<&str> = id_token.split('.').collect();
    let mut claims = jwt_part(&id_token, 1);
    claims["sub"] = Value::from("someone-else");
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        crate::support::b64(claims.to_string().as_bytes()),
        parts[2]
    );
    for (hint, client_id) in [
        (forged.as_str(), None),
        ("not-a-jwt", None),
        (id_token.as_str(), Some(other.id.as_str())),
    ] {
        let mut params = vec![
            ("id_token_hint", hint),
            ("post_logout_redirect_uri", LOGGED_OUT),
        ];
        if let Some(c) = client_id {
            params.push(("client_id", c));
        }
        let page = browser.get(&format!("/logout?{}", encode(&params))).await;
        page.assert_error_page(400);
        assert!(session_is_alive(&server, &app, &session).await);
    }

    // Expired (ID tokens live 600 s) but genuine: accepted.
    server.clock.advance(601);
    let page = browser
        .get(&format!(
            "/logout?{}",
            encode(&[
                ("id_token_hint", id_token.as_str()),
                ("post_logout_redirect_uri", LOGGED_OUT),
            ])
        ))
        .await;
    assert_eq!(page.status, 303, "{page}");
    assert_eq!(page.header("location"), Some(LOGGED_OUT));
    assert!(!session_is_alive(&server, &app, &session).await);
}

/// The confirmation form carries the logout request: after "Sign out" the browser goes to
/// the registered URI with `state`; "Stay signed in" keeps the session.
async fn logout_confirmation_carries_the_request(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, app) = setup(&server).await;
    let mut browser = logged_in(&server, &app, &Authz::new(&app.id)).await;
    let session = browser.session().expect("session");
    let path = format!(
        "/logout?{}",
        encode(&[
            ("client_id", app.id.as_str()),
            ("post_logout_redirect_uri", LOGGED_OUT),
            ("state", "s1"),
        ])
    );

    let page = browser.get(&path).await;
    assert_eq!(page.status, 200, "{page}");
    let mut form = page.hidden_inputs();
    form.push((String::from("decision"), String::from("cancel")));
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let page = browser.post("/logout", &pairs).await;
    assert_eq!(page.status, 200, "{page}");
    assert_eq!(page.set_cookie(SESSION_COOKIE), None);
    assert!(session_is_alive(&server, &app, &session).await);

    let page = browser.get(&path).await;
    let mut form = page.hidden_inputs();
    form.push((String::from("decision"), String::from("logout")));
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let page = browser.post("/logout", &pairs).await;
    assert_eq!(page.status, 303, "{page}");
    assert_eq!(
        page.header("location"),
        Some(format!("{LOGGED_OUT}?state=s1").as_str())
    );
    assert!(!session_is_alive(&server, &app, &session).await);
}

/// Guessing across accounts from one address is throttled too (after 20 failures).
async fn failed_logins_are_throttled_per_address(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, app) = setup(&server).await;
    let mut browser = Browser::new(&server);
    let mut page = browser.get(&Authz::new(&app.id).path()).await;
    for i in 0..20 {
        page = browser
            .login(&page, &format!("user{i}"), "not the password")
            .await;
        let alert = page.alert().unwrap_or_default();
        assert!(!alert.contains("Wait"), "attempt {i}: {alert}");
    }
    let throttled = browser.login(&page, USERNAME, PASSWORD).await;
    assert!(throttled.is_login(), "{throttled}");
    assert_eq!(throttled.set_cookie(SESSION_COOKIE), None);
    let alert = throttled.alert().expect("role=\"alert\"");
    assert!(alert.contains("Wait "), "{alert}");
    server.clock.advance(60);
    browser
        .login(&throttled, USERNAME, PASSWORD)
        .await
        .consent_form();
}

/// `require_par` for the whole server: discovery says so and plain requests are refused.
async fn server_wide_require_par(backend: Backend) {
    let server = TestServer::start_with(
        backend,
        warden_testkit::Options {
            people: warden_core::config::PeopleConfig {
                require_par: true,
                ..Default::default()
            },
            ..Default::default()
        },
    )
    .await;
    let (_, app) = setup(&server).await;
    let r = get(&server, "/.well-known/openid-configuration").await;
    assert_eq!(r.body["require_pushed_authorization_requests"], true);
    let authz = Authz::new(&app.id);
    Browser::new(&server)
        .get(&authz.path())
        .await
        .callback()
        .assert_error(&server, &authz, "invalid_request");
    let r = app.post(&server, "/par", &authz.pairs()).await;
    assert_eq!(r.status, 201, "{}", r.text);
}
