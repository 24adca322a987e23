//! The admin subcommands. They act directly on the database (also while a server runs):
//! results as JSON on stdout, messages on stderr, non-zero exit on failure.

use std::sync::Arc;

use serde_json::json;
use warden_core::Engine;
use warden_core::access_encryption::ApiEncryptionRequest;
use warden_core::admin::{AdminError, ClientTlsChange, ExchangePolicyChange, NewApi, NewClient};
use warden_core::audit::MemoryAudit;
use warden_core::clock::Clock;
use warden_core::issuers::{IssuerKeys, NewTrustedIssuer, TrustedIssuerChange};
use warden_core::model::{Api, Client, StoredKey, TrustedIssuer, User};
use warden_core::model::{BindingRequirement, ClientTls};
use warden_core::users::NewUser;
use warden_types::jwk::JwkSet;
use warden_types::{
    GrantType, JwsAlgorithm, Scope, SecretString, SigningAlg, TokenEndpointAuthMethod, TokenFormat,
};

use crate::cli::{
    ApiCommand, ApiEncryptionArgs, AuditCommand, ClientCommand, IssuerCommand, KeysCommand,
    RegistrationTokenCommand, UserCommand,
};
use crate::cli::{ClientMtlsArgs, ClientTlsIdentityArgs};
use crate::config::Settings;
use crate::duration::parse_duration;
use crate::state::open_engine;

/// A command's failure, printed on stderr.
pub type CmdResult = Result<serde_json::Value, String>;

fn admin(e: AdminError) -> String {
    e.to_string()
}

/// Runs an admin command with an engine opened on the configured database.
pub async fn with_engine<F, Fut>(
    settings: &Settings,
    clock: Arc<dyn Clock>,
    create_keys: bool,
    f: F,
) -> CmdResult
where
    F: FnOnce(Arc<Engine>, i64) -> Fut,
    Fut: std::future::Future<Output = CmdResult>,
{
    // Audit events of admin commands are collected and written before the command exits.
    let audit = Arc::new(MemoryAudit::default());
    let engine = Arc::new(open_engine(settings, &clock, audit.clone(), create_keys).await?);
    let result = f(engine.clone(), clock.now()).await;
    let events = audit.take();
    if !events.is_empty()
        && let Err(e) = engine.store().append_audit_events(&events).await
    {
        tracing::warn!(error = %e, "writing audit events failed");
    }
    result
}

fn api_json(api: &Api) -> serde_json::Value {
    json!({
        "identifier": api.identifier.as_str(),
        "name": api.name,
        "scopes": api.scopes.iter().map(|s| s.name.clone()).collect::<Vec<_>>(),
        "token_format": api.token_format.as_str(),
        "token_lifetime": api.token_lifetime,
        "signing_alg": api.signing_alg.as_str(),
        "require_binding": api.require_binding.as_str(),
        "encryption": api.encryption.as_ref().map(|e| json!({
            "jwk": e.jwk,
            "alg": e.alg,
            "enc": e.enc,
        })),
        "created_at": api.created_at,
    })
}

/// `--require-binding`.
fn binding_requirement(value: &str) -> Result<BindingRequirement, String> {
    match value {
        "none" => Ok(BindingRequirement::None),
        "certificate" | "mtls" => Ok(BindingRequirement::Certificate),
        "dpop" => Ok(BindingRequirement::Dpop),
        "any" => Ok(BindingRequirement::Any),
        other => Err(format!(
            "--require-binding must be none, certificate, dpop or any, not '{other}'"
        )),
    }
}

/// The certificate identity of `--tls-subject-dn` / `--tls-san-*`, if one was given.
fn tls_identity(args: ClientTlsIdentityArgs) -> Option<ClientTls> {
    let tls = ClientTls {
        subject_dn: args.tls_subject_dn,
        san_dns: args.tls_san_dns,
        san_uri: args.tls_san_uri,
        san_ip: args.tls_san_ip,
        san_email: args.tls_san_email,
    };
    (!tls.is_empty()).then_some(tls)
}

/// The JWK Set of `--cert-file`: the certificate's public key with the certificate as `x5c`.
fn jwks_from_cert_file(path: &std::path::Path) -> Result<JwkSet, String> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let shown = path.display();
    let bytes = std::fs::read(path).map_err(|e| format!("--cert-file {shown}: {e}"))?;
    let der = match CertificateDer::pem_slice_iter(&bytes).next() {
        Some(cert) => cert
            .map_err(|e| format!("--cert-file {shown}: bad PEM: {e}"))?
            .to_vec(),
        // Not PEM: perhaps DER.
        None => bytes,
    };
    let jwk = warden_core::client_auth::tls::jwk_from_certificate(&der)
        .map_err(|e| format!("--cert-file {shown}: {e}"))?;
    Ok(JwkSet { keys: vec![jwk] })
}

/// The encryption request of `--encryption-key-file` (with `--encryption-alg/-enc`), if any.
fn encryption_request(args: ApiEncryptionArgs) -> Result<Option<ApiEncryptionRequest>, String> {
    let Some(path) = args.encryption_key_file else {
        return Ok(None);
    };
    let shown = path.display();
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("--encryption-key-file {shown}: {e}"))?;
    let key: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| format!("--encryption-key-file {shown}: not JSON: {e}"))?;
    Ok(Some(ApiEncryptionRequest {
        key,
        alg: args.encryption_alg,
        enc: args.encryption_enc,
    }))
}

/// `warden api ...`
pub async fn api(engine: Arc<Engine>, now: i64, cmd: ApiCommand) -> CmdResult {
    match cmd {
        ApiCommand::Create {
            identifier,
            scopes,
            name,
            token_format,
            token_lifetime,
            signing_alg,
            encryption,
            require_binding,
        } => {
            let require_binding = binding_requirement(&require_binding)?;
            let scopes = Scope::parse(&scopes).map_err(|e| format!("--scopes: {e}"))?;
            let token_format: TokenFormat = token_format
                .parse()
                .map_err(|_| String::from("--token-format must be jwt or opaque"))?;
            let token_lifetime =
                parse_duration(&token_lifetime).map_err(|e| format!("--token-lifetime: {e}"))?;
            let signing_alg: SigningAlg = signing_alg
                .parse()
                .map_err(|_| String::from("--signing-alg must be RS256, ES256, PS256 or EdDSA"))?;
            let encryption = encryption_request(encryption)?;
            let api = engine
                .create_api_with_encryption(
                    NewApi {
                        identifier,
                        name,
                        scopes,
                        token_format,
                        token_lifetime,
                        signing_alg,
                    },
                    encryption,
                    now,
                )
                .await
                .map_err(admin)?;
            if require_binding == BindingRequirement::None {
                return Ok(api_json(&api));
            }
            let api = engine
                .update_api_binding(api.identifier.as_str(), require_binding, now)
                .await
                .map_err(admin)?;
            Ok(api_json(&api))
        }
        ApiCommand::Update {
            identifier,
            encryption,
            no_encryption,
            require_binding,
        } => {
            let request = encryption_request(encryption)?;
            let binding = require_binding
                .as_deref()
                .map(binding_requirement)
                .transpose()?;
            if request.is_none() && !no_encryption && binding.is_none() {
                return Err(String::from(
                    "nothing to change: give --encryption-key-file, --no-encryption or \
                     --require-binding",
                ));
            }
            if request.is_some() || no_encryption {
                engine
                    .update_api_encryption(&identifier, request, now)
                    .await
                    .map_err(admin)?;
            }
            if let Some(binding) = binding {
                engine
                    .update_api_binding(&identifier, binding, now)
                    .await
                    .map_err(admin)?;
            }
            match engine.store().api(&identifier).await {
                Ok(Some(api)) => Ok(api_json(&api)),
                Ok(None) => Err(format!("API {identifier} not found")),
                Err(e) => Err(e.to_string()),
            }
        }
        ApiCommand::List => {
            let apis = engine.store().apis().await.map_err(|e| e.to_string())?;
            Ok(json!(apis.iter().map(api_json).collect::<Vec<_>>()))
        }
        ApiCommand::Show { identifier } => match engine.store().api(&identifier).await {
            Ok(Some(api)) => Ok(api_json(&api)),
            Ok(None) => Err(format!("API {identifier} not found")),
            Err(e) => Err(e.to_string()),
        },
        ApiCommand::Delete { identifier } => {
            engine.delete_api(&identifier, now).await.map_err(admin)?;
            Ok(json!({ "deleted": identifier }))
        }
    }
}

/// `warden client ...`
pub async fn client(engine: Arc<Engine>, now: i64, cmd: ClientCommand) -> CmdResult {
    match cmd {
        ClientCommand::Create {
            name,
            auth_method,
            grant_types,
            scope,
            audiences,
            redirect_uris,
            jwks_file,
            jwks_uri,
            signing_alg,
            response_types,
            first_party,
            require_par,
            allow_public_refresh,
            post_logout_redirect_uris,
            backchannel_logout_uri,
            id_token_alg,
            userinfo_alg,
            application_type,
            serves,
            exchange_targets,
            mtls,
            dpop_bound_tokens,
        } => {
            let ClientMtlsArgs {
                identity,
                cert_file,
                certificate_bound_tokens,
            } = mtls;
            let grant_types = grant_types.iter().map(|g| grant_alias(g)).collect();
            let auth_method: TokenEndpointAuthMethod = auth_method.parse().map_err(|_| {
                String::from(
                    "--auth-method must be one of client_secret_basic, client_secret_post, \
                     client_secret_jwt, private_key_jwt, tls_client_auth, \
                     self_signed_tls_client_auth, none",
                )
            })?;
            let scope = match scope {
                Some(s) => Some(Scope::parse(&s).map_err(|e| format!("--scope: {e}"))?),
                None => None,
            };
            let jwks: Option<JwkSet> = match jwks_file {
                Some(path) => {
                    let text = std::fs::read_to_string(&path)
                        .map_err(|e| format!("--jwks-file {}: {e}", path.display()))?;
                    Some(
                        parse_jwks(&text)
                            .map_err(|e| format!("--jwks-file {}: {e}", path.display()))?,
                    )
                }
                None => match &cert_file {
                    Some(path) => Some(jwks_from_cert_file(path)?),
                    None => None,
                },
            };
            let tls = tls_identity(identity).unwrap_or_default();
            let auth_signing_alg: Option<JwsAlgorithm> = match signing_alg {
                Some(a) => Some(
                    a.parse()
                        .map_err(|_| format!("--signing-alg: unsupported algorithm '{a}'"))?,
                ),
                None => None,
            };
            let id_token_signed_response_alg: Option<SigningAlg> = match id_token_alg {
                Some(a) => Some(a.parse().map_err(|_| {
                    format!("--id-token-alg: '{a}' is not one of RS256, PS256, ES256, EdDSA")
                })?),
                None => None,
            };
            let userinfo_signed_response_alg: Option<SigningAlg> = match userinfo_alg {
                Some(a) => Some(a.parse().map_err(|_| {
                    format!("--userinfo-alg: '{a}' is not one of RS256, PS256, ES256, EdDSA")
                })?),
                None => None,
            };
            if let Some(t) = &application_type
                && t != "web"
                && t != "native"
            {
                return Err(format!(
                    "--application-type must be web or native, not '{t}'"
                ));
            }
            let info = engine
                .create_client(
                    NewClient {
                        name,
                        auth_method,
                        grant_types,
                        scope,
                        audiences,
                        redirect_uris,
                        jwks,
                        jwks_uri,
                        auth_signing_alg,
                        response_types,
                        first_party,
                        require_par,
                        allow_public_refresh,
                        post_logout_redirect_uris,
                        backchannel_logout_uri,
                        id_token_signed_response_alg,
                        userinfo_signed_response_alg,
                        application_type,
                        serves_api: serves,
                        exchange_targets,
                        tls,
                        certificate_bound: certificate_bound_tokens,
                        dpop_bound: dpop_bound_tokens,
                    },
                    now,
                )
                .await
                .map_err(admin)?;
            let mut value = serde_json::to_value(&info).map_err(|e| e.to_string())?;
            // The stored client, for its browser-flow settings.
            if let Ok(Some(c)) = engine.store().client(&info.client_id).await {
                value["oidc"] = oidc_json(&c);
                value["binding"] = json!(c.binding);
            }
            Ok(value)
        }
        ClientCommand::List => {
            let clients = engine.store().clients().await.map_err(|e| e.to_string())?;
            clients
                .iter()
                .map(|c| client_json(&engine, c))
                .collect::<Result<Vec<_>, _>>()
                .map(serde_json::Value::Array)
        }
        ClientCommand::Show { client_id } => match engine.store().client(&client_id).await {
            Ok(Some(c)) => client_json(&engine, &c),
            Ok(None) => Err(format!("client {client_id} not found")),
            Err(e) => Err(e.to_string()),
        },
        ClientCommand::Delete { client_id } => {
            engine.delete_client(&client_id, now).await.map_err(admin)?;
            Ok(json!({ "deleted": client_id }))
        }
        ClientCommand::Update {
            client_id,
            serves,
            no_serves,
            exchange_targets,
            no_exchange_targets,
            mtls,
            dpop_bound_tokens,
            no_dpop_bound_tokens,
        } => {
            let dpop_change = if no_dpop_bound_tokens {
                Some(false)
            } else {
                dpop_bound_tokens.then_some(true)
            };
            let tls_change = ClientTlsChange {
                tls: tls_identity(mtls.identity),
                certificate_bound: if mtls.no_certificate_bound_tokens {
                    Some(false)
                } else {
                    mtls.certificate_bound_tokens.then_some(true)
                },
            };
            let tls_changed = tls_change.tls.is_some() || tls_change.certificate_bound.is_some();
            let change = ExchangePolicyChange {
                serves_api: if no_serves {
                    Some(None)
                } else {
                    serves.map(Some)
                },
                exchange_targets: if no_exchange_targets {
                    Some(Vec::new())
                } else {
                    (!exchange_targets.is_empty()).then_some(exchange_targets)
                },
            };
            let exchange_changed = change.serves_api.is_some() || change.exchange_targets.is_some();
            if !exchange_changed && !tls_changed && dpop_change.is_none() {
                return Err(String::from(
                    "nothing to change: give --serves, --no-serves, --exchange-target, \
                     --no-exchange-targets, --tls-subject-dn / --tls-san-*, \
                     --certificate-bound-tokens, --no-certificate-bound-tokens, \
                     --dpop-bound-tokens or --no-dpop-bound-tokens",
                ));
            }
            if let Some(bound) = dpop_change {
                engine
                    .update_client_dpop_bound(&client_id, bound, now)
                    .await
                    .map_err(admin)?;
            }
            if tls_changed {
                engine
                    .update_client_tls(&client_id, tls_change, now)
                    .await
                    .map_err(admin)?;
            }
            if exchange_changed {
                engine
                    .update_exchange_policy(&client_id, change, now)
                    .await
                    .map_err(admin)?;
            }
            match engine.store().client(&client_id).await {
                Ok(Some(c)) => client_json(&engine, &c),
                Ok(None) => Err(format!("client {client_id} not found")),
                Err(e) => Err(e.to_string()),
            }
        }
        ClientCommand::RotateSecret { client_id } => {
            let info = engine
                .rotate_client_secret(&client_id, now)
                .await
                .map_err(admin)?;
            serde_json::to_value(info).map_err(|e| e.to_string())
        }
    }
}

/// Short names of the extension grants, accepted by `--grant-type`.
fn grant_alias(name: &str) -> String {
    match name {
        "token-exchange" | "token_exchange" => GrantType::TokenExchange.as_str().to_owned(),
        "jwt-bearer" | "jwt_bearer" => GrantType::JwtBearer.as_str().to_owned(),
        other => other.to_owned(),
    }
}

/// A client's browser-flow settings, as `client show` prints them.
fn oidc_json(client: &Client) -> serde_json::Value {
    let o = &client.oidc;
    json!({
        "response_types": if o.response_types.is_empty()
            && client.grant_types.contains(&GrantType::AuthorizationCode)
        {
            vec![String::from("code")]
        } else {
            o.response_types.clone()
        },
        "first_party": o.first_party,
        "require_par": o.require_par,
        "allow_public_refresh": o.allow_public_refresh,
        "post_logout_redirect_uris": o.post_logout_redirect_uris,
        "backchannel_logout_uri": o.backchannel_logout_uri,
        "backchannel_logout_session_required": o.backchannel_logout_session_required,
        "id_token_signed_response_alg": client.id_token_alg().as_str(),
        "id_token_encrypted_response_alg": o.id_token_encrypted_response_alg,
        "id_token_encrypted_response_enc": o.id_token_encrypted_response_enc,
        "userinfo_signed_response_alg": o.userinfo_signed_response_alg.map(|a| a.as_str()),
        "userinfo_encrypted_response_alg": o.userinfo_encrypted_response_alg,
        "userinfo_encrypted_response_enc": o.userinfo_encrypted_response_enc,
        "application_type": o.application_type.as_deref().unwrap_or("web"),
    })
}

/// The public view of a client with its browser-flow settings under `oidc`.
fn client_json(engine: &Engine, client: &Client) -> CmdResult {
    let mut value =
        serde_json::to_value(engine.client_information(client)).map_err(|e| e.to_string())?;
    value["oidc"] = oidc_json(client);
    value["binding"] = json!(client.binding);
    Ok(value)
}

/// The user as the CLI prints it: never the password hash.
fn user_json(user: &User) -> serde_json::Value {
    json!({
        "sub": user.sub,
        "username": user.username,
        "email": user.email,
        "name": user.name,
        "disabled": user.disabled,
        "created_at": user.created_at,
    })
}

/// Longest password line read from stdin, in bytes.
const MAX_PASSWORD_LINE: u64 = 4096;

/// Reads one line from stdin; a trailing `\n` or `\r\n` is not part of the password.
async fn read_password_line() -> Result<SecretString, String> {
    tokio::task::spawn_blocking(|| {
        use std::io::{BufRead, Read};
        let stdin = std::io::stdin();
        let mut bytes = Vec::new();
        stdin
            .lock()
            .take(MAX_PASSWORD_LINE + 2)
            .read_until(b'\n', &mut bytes)
            .map_err(|e| format!("reading the password from stdin: {e}"))?;
        if bytes.is_empty() {
            return Err(String::from("--password-stdin: no password on stdin"));
        }
        let had_newline = bytes.last() == Some(&b'\n');
        if had_newline {
            bytes.pop();
            if bytes.last() == Some(&b'\r') {
                bytes.pop();
            }
        }
        if bytes.len() as u64 > MAX_PASSWORD_LINE
            || (!had_newline && bytes.len() as u64 >= MAX_PASSWORD_LINE)
        {
            return Err(String::from(
                "--password-stdin: the password line is too long",
            ));
        }
        let text = String::from_utf8(bytes)
            .map_err(|_| String::from("--password-stdin: the password is not UTF-8"))?;
        Ok(SecretString::new(text))
    })
    .await
    .map_err(|_| String::from("reading the password from stdin failed"))?
}

/// `warden user ...`
pub async fn user(engine: Arc<Engine>, now: i64, cmd: UserCommand) -> CmdResult {
    match cmd {
        UserCommand::Create {
            username,
            email,
            name,
            password_stdin: _,
        } => {
            let password = read_password_line().await?;
            let user = engine
                .create_user(
                    NewUser {
                        username,
                        email,
                        name,
                        password,
                    },
                    now,
                )
                .await
                .map_err(admin)?;
            Ok(user_json(&user))
        }
        UserCommand::List => {
            let users = engine.list_users().await.map_err(admin)?;
            Ok(json!(users.iter().map(user_json).collect::<Vec<_>>()))
        }
        UserCommand::Show { id } => Ok(user_json(&engine.find_user(&id).await.map_err(admin)?)),
        UserCommand::Disable { id } => Ok(user_json(
            &engine
                .set_user_disabled(&id, true, now)
                .await
                .map_err(admin)?,
        )),
        UserCommand::Enable { id } => Ok(user_json(
            &engine
                .set_user_disabled(&id, false, now)
                .await
                .map_err(admin)?,
        )),
        UserCommand::Delete { id } => {
            let user = engine.delete_user(&id, now).await.map_err(admin)?;
            Ok(json!({ "deleted": user.sub, "username": user.username }))
        }
        UserCommand::SetPassword {
            id,
            password_stdin: _,
        } => {
            // Find the user first, so a wrong ID fails before stdin is read.
            engine.find_user(&id).await.map_err(admin)?;
            let password = read_password_line().await?;
            let user = engine
                .set_user_password(&id, password, now)
                .await
                .map_err(admin)?;
            Ok(user_json(&user))
        }
    }
}

/// Accepts a JWK Set, or a single JWK for convenience.
fn parse_jwks(text: &str) -> Result<JwkSet, String> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    if value.get("keys").is_some() {
        serde_json::from_value(value).map_err(|e| e.to_string())
    } else {
        let key = serde_json::from_value(value).map_err(|e| e.to_string())?;
        Ok(JwkSet { keys: vec![key] })
    }
}

/// `warden registration-token create` — prints the bare token.
pub async fn registration_token(
    engine: Arc<Engine>,
    now: i64,
    cmd: RegistrationTokenCommand,
) -> Result<String, String> {
    let RegistrationTokenCommand::Create {
        expires_in,
        once,
        audiences,
    } = cmd;
    let expires_in = parse_duration(&expires_in).map_err(|e| format!("--expires-in: {e}"))?;
    let allowed = (!audiences.is_empty()).then_some(audiences);
    engine
        .create_initial_access_token(expires_in, once, allowed, now)
        .await
        .map_err(admin)
}

fn key_json(key: &StoredKey) -> serde_json::Value {
    json!({
        "kid": key.kid.as_str(),
        "alg": key.alg.as_str(),
        "state": key.state.as_str(),
        "created_at": key.created_at,
        "activated_at": key.activated_at,
        "retired_at": key.retired_at,
        "remove_after": key.remove_after,
    })
}

/// `warden keys ...`
pub async fn keys(engine: Arc<Engine>, now: i64, cmd: KeysCommand) -> CmdResult {
    match cmd {
        KeysCommand::List => {}
        KeysCommand::Rotate { alg } => {
            let algs: Vec<SigningAlg> = match alg {
                Some(a) => vec![
                    a.parse()
                        .map_err(|_| format!("--alg: unsupported algorithm '{a}'"))?,
                ],
                None => engine.config().signing_algs.clone(),
            };
            engine
                .maintain_keys(now, &algs)
                .await
                .map_err(|e| e.to_string())?;
        }
    }
    let keys = engine
        .store()
        .signing_keys()
        .await
        .map_err(|e| e.to_string())?;
    Ok(json!(keys.iter().map(key_json).collect::<Vec<_>>()))
}

/// `warden audit list`
pub async fn audit(engine: Arc<Engine>, cmd: AuditCommand) -> CmdResult {
    let AuditCommand::List { limit } = cmd;
    let events = engine
        .store()
        .audit_events(limit)
        .await
        .map_err(|e| e.to_string())?;
    serde_json::to_value(events).map_err(|e| e.to_string())
}

fn issuer_json(issuer: &TrustedIssuer) -> serde_json::Value {
    json!({
        "issuer": issuer.issuer,
        "name": issuer.name,
        "jwks_uri": issuer.jwks_uri,
        "jwks": issuer.jwks.as_ref().map(|set| json!({
            "keys": set.keys.iter().map(|k| json!({"kid": k.kid, "kty": k.kty, "alg": k.alg})).collect::<Vec<_>>(),
        })),
        "audience": issuer.audience,
        "max_lifetime": issuer.max_lifetime,
        "subjects": issuer.subjects.iter().map(|(s, c)| (s.clone(), json!(c.as_str()))).collect::<serde_json::Map<_, _>>(),
        "created_at": issuer.created_at,
        "updated_at": issuer.updated_at,
    })
}

fn issuer_keys(
    jwks_uri: Option<String>,
    jwks_file: Option<std::path::PathBuf>,
) -> Result<Option<IssuerKeys>, String> {
    match (jwks_uri, jwks_file) {
        (Some(uri), _) => Ok(Some(IssuerKeys::Uri(uri))),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("--jwks-file {}: {e}", path.display()))?;
            let set =
                parse_jwks(&text).map_err(|e| format!("--jwks-file {}: {e}", path.display()))?;
            Ok(Some(IssuerKeys::Set(set)))
        }
        (None, None) => Ok(None),
    }
}

/// `warden issuer ...`
pub async fn issuer(engine: Arc<Engine>, now: i64, cmd: IssuerCommand) -> CmdResult {
    let lifetime = |raw: Option<String>| -> Result<Option<i64>, String> {
        raw.map(|r| parse_duration(&r).map_err(|e| format!("--max-lifetime: {e}")))
            .transpose()
    };
    match cmd {
        IssuerCommand::Create {
            issuer,
            jwks_uri,
            jwks_file,
            audience,
            name,
            max_lifetime,
            subjects,
        } => {
            let Some(keys) = issuer_keys(jwks_uri, jwks_file)? else {
                return Err(String::from("give --jwks-uri or --jwks-file"));
            };
            let mut pairs = Vec::new();
            for raw in subjects {
                let Some((sub, client)) = raw.rsplit_once('=') else {
                    return Err(format!("--subject '{raw}': expected SUB=CLIENT_ID"));
                };
                pairs.push((sub.to_owned(), client.to_owned()));
            }
            let record = engine
                .create_trusted_issuer(
                    NewTrustedIssuer {
                        issuer,
                        name,
                        keys,
                        audience,
                        max_lifetime: lifetime(max_lifetime)?,
                        subjects: pairs,
                    },
                    now,
                )
                .await
                .map_err(admin)?;
            Ok(issuer_json(&record))
        }
        IssuerCommand::Update {
            issuer,
            jwks_uri,
            jwks_file,
            audience,
            default_audience,
            max_lifetime,
            name,
        } => {
            let change = TrustedIssuerChange {
                keys: issuer_keys(jwks_uri, jwks_file)?,
                audience: if default_audience {
                    Some(None)
                } else {
                    audience.map(Some)
                },
                max_lifetime: lifetime(max_lifetime)?,
                name,
            };
            let record = engine
                .update_trusted_issuer(&issuer, change, now)
                .await
                .map_err(admin)?;
            Ok(issuer_json(&record))
        }
        IssuerCommand::Map {
            issuer,
            subject,
            client,
        } => {
            let record = engine
                .map_issuer_subject(&issuer, subject, &client, now)
                .await
                .map_err(admin)?;
            Ok(issuer_json(&record))
        }
        IssuerCommand::Unmap { issuer, subject } => {
            let record = engine
                .unmap_issuer_subject(&issuer, &subject, now)
                .await
                .map_err(admin)?;
            Ok(issuer_json(&record))
        }
        IssuerCommand::List => {
            let all = engine
                .store()
                .trusted_issuers()
                .await
                .map_err(|e| e.to_string())?;
            Ok(json!(all.iter().map(issuer_json).collect::<Vec<_>>()))
        }
        IssuerCommand::Show { issuer } => match engine.store().trusted_issuer(&issuer).await {
            Ok(Some(record)) => Ok(issuer_json(&record)),
            Ok(None) => Err(format!("issuer {issuer} not found")),
            Err(e) => Err(e.to_string()),
        },
        IssuerCommand::Delete { issuer } => {
            engine
                .delete_trusted_issuer(&issuer, now)
                .await
                .map_err(admin)?;
            Ok(json!({ "deleted": issuer }))
        }
    }
}
