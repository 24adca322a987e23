//! The browser's journey: an authorization request arrives; if the user has no suitable
//! session they log in; if they have not yet allowed this client these scopes they consent;
//! then a code (and, for the hybrid flow, an ID token) goes back to the client.
//!
//! Between pages the request is kept server-side as an *interaction* (a [`PendingRequest`]
//! referenced by a random id in the form), so nothing the browser sends back can alter the
//! validated request. Each step takes its interaction (single use) and, if another page
//! follows, creates a fresh one.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use warden_types::{ClientId, ErrorCode, Scope, SecretString, UnixTime};

use super::AuthorizeError;
use super::par::PAR_URN_PREFIX;
use super::request::{AuthorizationParams, AuthorizationRequest, Prompt, ResponseType};
use super::response::AuthorizationResponse;
use crate::engine::Engine;
use crate::id_token::IdTokenInput;
use crate::model::{
    AuthorizationCodeRecord, Client, Consent, PendingKind, PendingRequest, Session, User,
};
use crate::secrets::{
    AUTHORIZATION_CODE_PREFIX, INTERACTION_PREFIX, SESSION_PREFIX, generate_token, random_id,
    token_hash, well_formed,
};
use crate::users::LoginOutcome;

/// Which page an interaction is waiting on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Stage {
    Login,
    Consent,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Interaction {
    request: AuthorizationRequest,
    stage: Stage,
    /// For the consent stage: the session (by hash) the user logged in with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    session_hash: Option<String>,
}

/// What the login or consent page needs to show.
#[derive(Debug)]
pub struct InteractionView {
    /// The interaction reference to put in the form (single use).
    pub interaction: SecretString,
    /// The client's name.
    pub client_name: String,
    /// The client's home page (from its metadata), if any.
    pub client_uri: Option<String>,
    /// The client's logo (from its metadata), if any.
    pub logo_uri: Option<String>,
    /// Prefill for the username field.
    pub login_hint: Option<String>,
    /// Why the user must log in again (prompt=login, max_age).
    pub notice: Option<&'static str>,
    /// The error to show (failed login).
    pub error: Option<String>,
    /// For consent: who is logged in.
    pub user_display: Option<String>,
    /// For consent: the scopes with their descriptions.
    pub consent_items: Vec<(String, String)>,
    /// For consent: the API's name.
    pub api_name: Option<String>,
}

/// What the authorization endpoint does next.
#[derive(Debug)]
pub enum AuthorizeOutcome {
    /// Send the browser back to the client.
    Respond(AuthorizationResponse),
    /// Show the login page.
    Login(InteractionView),
    /// Show the consent page.
    Consent(InteractionView),
}

/// A login form submission's result.
#[derive(Debug)]
pub struct LoginResult {
    /// A new session cookie value and its expiry, to set in the browser.
    pub new_session: Option<(SecretString, UnixTime)>,
    /// What to show or do.
    pub outcome: Result<AuthorizeOutcome, AuthorizeError>,
}

/// The descriptions shown for OIDC scopes.
fn oidc_scope_description(scope: &str) -> Option<&'static str> {
    match scope {
        "openid" => Some("Sign you in with your account"),
        "profile" => Some("See your name and username"),
        "email" => Some("See your email address"),
        "offline_access" => Some("Stay connected when you are not using it (refresh tokens)"),
        _ => None,
    }
}

/// A request's scope split into its OpenID Connect scopes and its API scopes.
fn split_scope(scope: &Scope) -> (Scope, Scope) {
    let mut oidc = Scope::empty();
    let mut api = Scope::empty();
    for s in scope.iter() {
        if super::request::OIDC_SCOPES.contains(&s) {
            oidc.insert(s);
        } else {
            api.insert(s);
        }
    }
    (oidc, api)
}

fn expired_page() -> AuthorizeError {
    AuthorizeError::page(
        ErrorCode::InvalidRequest,
        "This sign-in request has expired or was already used. Go back to the application and start again.",
    )
}

impl Engine {
    /// Handles `/authorize` (GET query or POST form): validates the request and decides what
    /// the browser sees next. `session_cookie` is the value of the session cookie, if any.
    pub async fn authorize(
        &self,
        raw: &[u8],
        session_cookie: Option<&str>,
        now: UnixTime,
    ) -> Result<AuthorizeOutcome, AuthorizeError> {
        let params = AuthorizationParams::parse(raw);
        let (request, client) = match params.get("request_uri") {
            Some(uri) if uri.starts_with(PAR_URN_PREFIX) => {
                self.take_pushed_request(&params, uri, now).await?
            }
            _ => {
                let (client, redirect_uri, sent) = self.client_and_redirect(&params)?;
                if client.oidc.require_par || self.config.people.require_par {
                    return Err(self.finish_error(AuthorizeError::Redirect(
                        AuthorizationResponse::error(
                            &redirect_uri,
                            params
                                .get("response_mode")
                                .and_then(|m| match m {
                                    "fragment" => Some(super::ResponseMode::Fragment),
                                    "form_post" => Some(super::ResponseMode::FormPost),
                                    _ => None,
                                })
                                .unwrap_or(super::ResponseMode::Query),
                            ErrorCode::InvalidRequest,
                            "this client must use pushed authorization requests (RFC 9126)",
                            params.get("state"),
                        ),
                    )));
                }
                let request = self
                    .validate_authorization_request(&params, &client, redirect_uri, sent)
                    .map_err(|e| self.finish_error(e))?;
                (request, client)
            }
        };
        let session = self.current_session(session_cookie, now).await?;
        self.decide(request, &client, session, false, now)
            .await
            .map_err(|e| self.finish_error(e))
    }

    /// Adds `iss` to error redirects.
    pub(crate) fn finish_error(&self, err: AuthorizeError) -> AuthorizeError {
        match err {
            AuthorizeError::Redirect(r) => {
                AuthorizeError::Redirect(r.with_issuer(&self.config.issuer))
            }
            page => page,
        }
    }

    /// The session behind a cookie, with its user, if both are still good.
    pub async fn current_session(
        &self,
        cookie: Option<&str>,
        now: UnixTime,
    ) -> Result<Option<(Session, User)>, AuthorizeError> {
        let Some(cookie) = cookie.filter(|c| well_formed(c, SESSION_PREFIX)) else {
            return Ok(None);
        };
        let Some(session) = self.store.session(&token_hash(cookie), now).await? else {
            return Ok(None);
        };
        match self.store.user(&session.user_sub).await? {
            Some(user) if !user.disabled => Ok(Some((session, user))),
            _ => Ok(None),
        }
    }

    /// Decides between login, consent and answering. `just_logged_in` is set right after a
    /// password login in this interaction, so `prompt=login` and `max_age` are satisfied.
    async fn decide(
        &self,
        request: AuthorizationRequest,
        client: &Arc<Client>,
        session: Option<(Session, User)>,
        just_logged_in: bool,
        now: UnixTime,
    ) -> Result<AuthorizeOutcome, AuthorizeError> {
        let mut notice = None;
        let usable = match &session {
            None => false,
            Some(_) if just_logged_in => true,
            Some((s, _)) => {
                let too_old = request.max_age.is_some_and(|m| now - s.auth_time > m);
                if request.has_prompt(Prompt::Login) {
                    notice = Some("The application asked you to sign in again.");
                    false
                } else if too_old {
                    notice =
                        Some("Your sign-in is too old for this application. Please sign in again.");
                    false
                } else {
                    true
                }
            }
        };
        let Some((session, user)) = session.filter(|_| usable) else {
            if request.has_prompt(Prompt::None) {
                return Err(request.error(ErrorCode::LoginRequired, "the user must log in"));
            }
            let login_hint = request.login_hint.clone();
            let interaction = self
                .save_interaction(request, Stage::Login, None, now)
                .await?;
            return Ok(AuthorizeOutcome::Login(InteractionView {
                notice,
                login_hint,
                ..self.view(client, interaction)
            }));
        };
        let consented = client.oidc.first_party
            || match self
                .store
                .consent(&user.sub, client.client_id.as_str())
                .await?
            {
                Some(c) => {
                    let (oidc, api) = split_scope(&request.scope);
                    c.scope.is_superset(&oidc)
                        && match &request.resource {
                            Some(r) => c.api_scopes.get(r).is_some_and(|s| s.is_superset(&api)),
                            None => api.is_empty(),
                        }
                }
                None => false,
            };
        if !consented || request.has_prompt(Prompt::Consent) {
            if request.has_prompt(Prompt::None) {
                return Err(request.error(ErrorCode::ConsentRequired, "the user must consent"));
            }
            return self
                .consent_view(request, client, &session, &user, now)
                .await;
        }
        let response = self
            .issue_code(&request, client, &session, &user, now)
            .await?;
        Ok(AuthorizeOutcome::Respond(response))
    }

    async fn consent_view(
        &self,
        request: AuthorizationRequest,
        client: &Arc<Client>,
        session: &Session,
        user: &User,
        now: UnixTime,
    ) -> Result<AuthorizeOutcome, AuthorizeError> {
        let registry = self.registry();
        let api = request
            .resource
            .as_ref()
            .and_then(|r| registry.api(r.as_str()));
        let items = request
            .scope
            .iter()
            .map(|s| {
                let description = oidc_scope_description(s)
                    .map(str::to_owned)
                    .or_else(|| {
                        api.and_then(|a| {
                            a.scopes
                                .iter()
                                .find(|d| d.name == s && !d.description.is_empty())
                                .map(|d| d.description.clone())
                        })
                    })
                    .unwrap_or_else(|| format!("Use the permission \u{201c}{s}\u{201d}"));
                (s.to_owned(), description)
            })
            .collect();
        let api_name = api.map(|a| a.name.clone());
        let interaction = self
            .save_interaction(request, Stage::Consent, Some(session.id_hash.clone()), now)
            .await?;
        let display = match &user.name {
            Some(name) => format!("{name} ({})", user.username),
            None => user.username.clone(),
        };
        Ok(AuthorizeOutcome::Consent(InteractionView {
            user_display: Some(display),
            consent_items: items,
            api_name,
            ..self.view(client, interaction)
        }))
    }

    fn view(&self, client: &Client, interaction: SecretString) -> InteractionView {
        let http = |u: &Option<String>| {
            u.as_ref()
                .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
                .cloned()
        };
        InteractionView {
            interaction,
            client_name: client.name.clone(),
            client_uri: http(&client.metadata.client_uri),
            logo_uri: http(&client.metadata.logo_uri),
            login_hint: None,
            notice: None,
            error: None,
            user_display: None,
            consent_items: Vec::new(),
            api_name: None,
        }
    }

    async fn save_interaction(
        &self,
        request: AuthorizationRequest,
        stage: Stage,
        session_hash: Option<String>,
        now: UnixTime,
    ) -> Result<SecretString, AuthorizeError> {
        let reference = generate_token(INTERACTION_PREFIX);
        let client_id = ClientId::new(request.client_id.clone());
        let data = serde_json::to_value(Interaction {
            request,
            stage,
            session_hash,
        })
        .map_err(|e| {
            tracing::error!(error = %e, "cannot encode interaction");
            AuthorizeError::page(ErrorCode::ServerError, "The server could not continue.")
        })?;
        self.store
            .insert_pending_request(&PendingRequest {
                id_hash: token_hash(reference.expose()),
                kind: PendingKind::Interaction,
                client_id,
                data,
                created_at: now,
                expires_at: now + self.config.people.interaction_lifetime,
            })
            .await?;
        Ok(reference)
    }

    async fn load_interaction(
        &self,
        reference: &str,
        take: bool,
        now: UnixTime,
    ) -> Result<(Interaction, Arc<Client>), AuthorizeError> {
        if !well_formed(reference, INTERACTION_PREFIX) {
            return Err(expired_page());
        }
        let hash = token_hash(reference);
        let pending = if take {
            self.store
                .take_pending_request(PendingKind::Interaction, &hash, now)
                .await?
        } else {
            self.store
                .pending_request(PendingKind::Interaction, &hash, now)
                .await?
        };
        let Some(pending) = pending else {
            return Err(expired_page());
        };
        let interaction: Interaction =
            serde_json::from_value(pending.data).map_err(|_| expired_page())?;
        let Some(client) = self
            .registry()
            .client(&interaction.request.client_id)
            .cloned()
        else {
            return Err(AuthorizeError::page(
                ErrorCode::InvalidClient,
                "The application is no longer registered.",
            ));
        };
        Ok((interaction, client))
    }

    /// Handles the login form. A wrong password shows the form again with one generic message;
    /// the interaction survives until it is completed or expires.
    pub async fn submit_login(
        &self,
        reference: &str,
        username: &str,
        password: SecretString,
        old_session_cookie: Option<&str>,
        source: Option<&str>,
        now: UnixTime,
    ) -> LoginResult {
        let fail = |e| LoginResult {
            new_session: None,
            outcome: Err(e),
        };
        let (interaction, client) = match self.load_interaction(reference, false, now).await {
            Ok(v) => v,
            Err(e) => return fail(e),
        };
        if interaction.stage != Stage::Login {
            return fail(expired_page());
        }
        let outcome = match self.login(username, password, source, now).await {
            Ok(o) => o,
            Err(e) => return fail(e.into()),
        };
        let retry = |message: String| LoginResult {
            new_session: None,
            outcome: Ok(AuthorizeOutcome::Login(InteractionView {
                error: Some(message),
                login_hint: Some(username.chars().take(254).collect()),
                ..self.view(&client, SecretString::new(reference.to_owned()))
            })),
        };
        let user = match outcome {
            LoginOutcome::Success(user) => user,
            LoginOutcome::Failed => {
                return retry(String::from("The username or password is incorrect."));
            }
            LoginOutcome::Throttled(secs) => {
                return retry(format!(
                    "Too many failed sign-in attempts. Wait {secs} seconds and try again."
                ));
            }
        };
        // Single use from here on: a replayed form post finds nothing.
        let (interaction, client) = match self.load_interaction(reference, true, now).await {
            Ok(v) => v,
            Err(e) => return fail(e),
        };
        if let Some(old) = old_session_cookie.filter(|c| well_formed(c, SESSION_PREFIX))
            && let Err(e) = self.store.delete_session(&token_hash(old)).await
        {
            return fail(e.into());
        }
        let cookie = generate_token(SESSION_PREFIX);
        let session = Session {
            id_hash: token_hash(cookie.expose()),
            sid: random_id(),
            user_sub: user.sub.clone(),
            auth_time: now,
            amr: vec![String::from("pwd")],
            clients: Vec::new(),
            created_at: now,
            expires_at: now + self.config.people.session_lifetime,
        };
        if let Err(e) = self.store.insert_session(&session).await {
            return fail(e.into());
        }
        let expires = session.expires_at;
        let outcome = self
            .decide(
                interaction.request,
                &client,
                Some((session, user)),
                true,
                now,
            )
            .await
            .map_err(|e| self.finish_error(e));
        LoginResult {
            new_session: Some((cookie, expires)),
            outcome,
        }
    }

    /// Handles the consent form.
    pub async fn submit_consent(
        &self,
        reference: &str,
        allow: bool,
        session_cookie: Option<&str>,
        now: UnixTime,
    ) -> Result<AuthorizeOutcome, AuthorizeError> {
        let (interaction, client) = self.load_interaction(reference, true, now).await?;
        if interaction.stage != Stage::Consent {
            return Err(expired_page());
        }
        let request = interaction.request;
        let Some((session, user)) = self.current_session(session_cookie, now).await? else {
            return Err(AuthorizeError::page(
                ErrorCode::AccessDenied,
                "Your session has ended. Go back to the application and sign in again.",
            ));
        };
        if interaction.session_hash.as_deref() != Some(session.id_hash.as_str()) {
            return Err(AuthorizeError::page(
                ErrorCode::AccessDenied,
                "This consent request belongs to another sign-in. Go back to the application and start again.",
            ));
        }
        if !allow {
            return Err(self.finish_error(
                request.error(ErrorCode::AccessDenied, "the user denied the request"),
            ));
        }
        let previous = self
            .store
            .consent(&user.sub, client.client_id.as_str())
            .await?;
        let mut consent = previous.unwrap_or(Consent {
            user_sub: user.sub.clone(),
            client_id: client.client_id.clone(),
            scope: Scope::empty(),
            resources: Vec::new(),
            api_scopes: Default::default(),
            updated_at: now,
        });
        let (oidc, api) = split_scope(&request.scope);
        consent.scope = consent.scope.union(&oidc);
        if let Some(r) = &request.resource {
            if !consent.resources.contains(r) {
                consent.resources.push(r.clone());
            }
            let entry = consent.api_scopes.entry(r.clone()).or_default();
            *entry = entry.union(&api);
        }
        consent.updated_at = now;
        self.store.save_consent(&consent).await?;
        self.audit(crate::model::AuditEvent {
            at: now,
            kind: String::from("consent_granted"),
            actor: Some(user.sub.clone()),
            source: None,
            detail: serde_json::json!({
                "client_id": client.client_id.as_str(),
                "scope": request.scope.to_string(),
            }),
        });
        let response = self
            .issue_code(&request, &client, &session, &user, now)
            .await
            .map_err(|e| self.finish_error(e))?;
        Ok(AuthorizeOutcome::Respond(response))
    }

    /// Issues the authorization code (and the hybrid flow's ID token).
    async fn issue_code(
        &self,
        request: &AuthorizationRequest,
        client: &Client,
        session: &Session,
        user: &User,
        now: UnixTime,
    ) -> Result<AuthorizationResponse, AuthorizeError> {
        let code = generate_token(AUTHORIZATION_CODE_PREFIX);
        let record = AuthorizationCodeRecord {
            code_hash: token_hash(code.expose()),
            grant_id: random_id(),
            client_id: client.client_id.clone(),
            user_sub: user.sub.clone(),
            redirect_uri: request
                .redirect_uri_sent
                .then(|| request.redirect_uri.clone()),
            scope: request.scope.clone(),
            resource: request.resource.clone(),
            code_challenge: request.code_challenge.clone(),
            nonce: request.nonce.clone(),
            auth_time: session.auth_time,
            amr: session.amr.clone(),
            sid: Some(session.sid.clone()),
            openid: request.is_openid(),
            created_at: now,
            expires_at: now + self.config.people.code_lifetime.clamp(1, 60),
            dpop_jkt: request.dpop_jkt.clone(),
            redeemed_at: None,
            issued: None,
        };
        self.store.insert_authorization_code(&record).await?;
        if request.is_openid() {
            self.store
                .add_session_client(&session.id_hash, client.client_id.as_str())
                .await?;
        }
        let mut params = vec![(String::from("code"), code.expose().to_owned())];
        if request.response_type == ResponseType::CodeIdToken {
            let id_token = self
                .mint_id_token(
                    &IdTokenInput {
                        client,
                        user,
                        scope: &request.scope,
                        nonce: request.nonce.as_deref(),
                        auth_time: session.auth_time,
                        amr: &session.amr,
                        sid: Some(&session.sid),
                        access_token: None,
                        code: Some(code.expose()),
                        state: request.state.as_deref(),
                        with_claims: false,
                    },
                    now,
                )
                .await
                .map_err(|_| {
                    request.error(ErrorCode::ServerError, "the ID token could not be issued")
                })?;
            params.push((String::from("id_token"), id_token));
        }
        if let Some(state) = &request.state {
            params.push((String::from("state"), state.clone()));
        }
        self.audit(crate::model::AuditEvent {
            at: now,
            kind: String::from("code_issued"),
            actor: Some(client.client_id.as_str().to_owned()),
            source: None,
            detail: serde_json::json!({
                "sub": user.sub,
                "scope": request.scope.to_string(),
                "response_type": request.response_type.as_str(),
            }),
        });
        Ok(AuthorizationResponse {
            redirect_uri: request.redirect_uri.clone(),
            mode: request.response_mode,
            params,
        }
        .with_issuer(&self.config.issuer))
    }
}
