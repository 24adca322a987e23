//! Helpers shared by the test modules: requests and replies, setup of APIs and clients, client
//! keys and assertions signed with `jsonwebtoken`, verification of issued JWTs against `/jwks`,
//! a local JWKS server for `jwks_uri` clients, and raw HTTP for requests reqwest will not send.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use warden_core::admin::{NewApi, NewClient};
use warden_core::clock::Clock;
use warden_jose::SigningKey;
use warden_testkit::TestServer;
use warden_types::jwk::{Jwk, JwkSet};
use warden_types::{GrantType, Kid, Scope, SigningAlg, TokenEndpointAuthMethod, TokenFormat};

/// The API most tests issue tokens for.
pub(crate) const API: &str = "https://api.example.com";
/// A second API.
pub(crate) const API2: &str = "https://billing.example.com";
/// A third API.
pub(crate) const API3: &str = "https://reports.example.com";
/// RFC 7523 §2.2 client assertion type.
pub(crate) const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

// ---- replies ---------------------------------------------------------------------------------

/// A response, read once: status, headers, raw text and the JSON body (or the text as a JSON
/// string when it is not JSON).
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) text: String,
    pub(crate) body: Value,
}

impl Reply {
    /// A header as a string.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `error` member of the body.
    pub(crate) fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or("")
    }

    /// Asserts a 200 and returns self.
    #[track_caller]
    pub(crate) fn ok(&self) -> &Self {
        assert_eq!(
            self.status, 200,
            "expected 200, got {}: {}",
            self.status, self.text
        );
        self
    }

    /// Asserts an RFC 6749 §5.2 error: status, `error` code, a description, a JSON body that
    /// must not be cached.
    #[track_caller]
    pub(crate) fn assert_error(&self, status: u16, code: &str) -> &Self {
        assert_eq!(
            (self.status, self.error()),
            (status, code),
            "unexpected reply: {}",
            self.text
        );
        assert!(
            self.body["error_description"]
                .as_str()
                .is_some_and(|d| !d.is_empty()),
            "error_description missing: {}",
            self.text
        );
        assert!(
            self.header("content-type")
                .is_some_and(|c| c.starts_with("application/json")),
            "content-type of an error: {:?}",
            self.header("content-type")
        );
        assert_eq!(
            self.header("cache-control"),
            Some("no-store"),
            "{}",
            self.text
        );
        self
    }

    /// Asserts the exact `error_description`.
    #[track_caller]
    pub(crate) fn assert_description(&self, description: &str) -> &Self {
        assert_eq!(
            self.body["error_description"].as_str(),
            Some(description),
            "{}",
            self.text
        );
        self
    }

    /// Asserts there is no `WWW-Authenticate` header.
    #[track_caller]
    pub(crate) fn assert_no_challenge(&self) -> &Self {
        assert_eq!(self.header("www-authenticate"), None, "{}", self.text);
        self
    }

    /// Asserts a Basic challenge (RFC 6749 §5.2, RFC 7617).
    #[track_caller]
    pub(crate) fn assert_basic_challenge(&self) -> &Self {
        let challenge = self.header("www-authenticate").unwrap_or_default();
        assert!(
            challenge.starts_with("Basic "),
            "expected a Basic challenge, got {challenge:?}"
        );
        self
    }
}

/// Reads a response.
pub(crate) async fn reply(resp: reqwest::Response) -> Reply {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or_else(|_| Value::String(text.clone()));
    Reply {
        status,
        headers,
        text,
        body,
    }
}

// ---- requests --------------------------------------------------------------------------------

/// POSTs a form, with Basic credentials when given.
pub(crate) async fn post(
    server: &TestServer,
    path: &str,
    form: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> Reply {
    reply(server.post_form(path, form, basic).await).await
}

/// GETs a path.
pub(crate) async fn get(server: &TestServer, path: &str) -> Reply {
    reply(server.http.get(server.url(path)).send().await.expect("GET")).await
}

/// A client-credentials request with HTTP Basic and extra parameters.
pub(crate) async fn token(
    server: &TestServer,
    id: &str,
    secret: &str,
    extra: &[(&str, &str)],
) -> Reply {
    let mut form = vec![("grant_type", "client_credentials")];
    form.extend_from_slice(extra);
    post(server, "/token", &form, Some((id, secret))).await
}

/// A client-credentials access token (asserts success).
pub(crate) async fn access_token(
    server: &TestServer,
    id: &str,
    secret: &str,
    extra: &[(&str, &str)],
) -> String {
    let r = token(server, id, secret, extra).await;
    r.ok();
    r.body["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned()
}

/// A client-credentials request authenticated by a client assertion.
pub(crate) async fn assertion_token(
    server: &TestServer,
    assertion: &str,
    extra: &[(&str, &str)],
) -> Reply {
    let mut form = vec![
        ("grant_type", "client_credentials"),
        ("client_assertion_type", JWT_BEARER),
        ("client_assertion", assertion),
    ];
    form.extend_from_slice(extra);
    post(server, "/token", &form, None).await
}

/// Introspects `token` as the Basic client `caller`.
pub(crate) async fn introspect(server: &TestServer, caller: (&str, &str), token: &str) -> Reply {
    post(server, "/introspect", &[("token", token)], Some(caller)).await
}

/// Whether introspection by `caller` says `token` is active.
pub(crate) async fn is_active(server: &TestServer, caller: (&str, &str), token: &str) -> bool {
    let r = introspect(server, caller, token).await;
    r.ok();
    r.body["active"].as_bool().expect("active")
}

/// Revokes `token` as the Basic client `caller`.
pub(crate) async fn revoke(server: &TestServer, caller: (&str, &str), token: &str) -> Reply {
    post(server, "/revoke", &[("token", token)], Some(caller)).await
}

/// Polls `check` every 100 ms until it holds; panics after `limit`.
pub(crate) async fn eventually<F, Fut>(what: &str, limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if check().await {
            return;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!("{what}: did not happen within {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Runs futures concurrently on the current task and collects their outputs in order.
pub(crate) async fn join_all<F: std::future::Future>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output> {
    let mut set = Vec::new();
    for f in futures {
        set.push(Box::pin(f));
    }
    let mut outputs: Vec<Option<F::Output>> = set.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in set.iter_mut().enumerate() {
            if outputs[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => outputs[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().map(|o| o.unwrap()).collect()
}

// ---- setup -----------------------------------------------------------------------------------

/// Creates an API with a JWT format.
pub(crate) async fn jwt_api(server: &TestServer, identifier: &str, scopes: &str, alg: SigningAlg) {
    server.api(identifier, scopes, TokenFormat::Jwt, alg).await;
}

/// Creates an API with an opaque format.
pub(crate) async fn opaque_api(server: &TestServer, identifier: &str, scopes: &str) {
    server
        .api(identifier, scopes, TokenFormat::Opaque, SigningAlg::ES256)
        .await;
}

/// Creates an API with a chosen lifetime (the testkit helper always uses 900 s).
pub(crate) async fn api_with_lifetime(
    server: &TestServer,
    identifier: &str,
    format: TokenFormat,
    alg: SigningAlg,
    lifetime: i64,
) {
    server
        .engine
        .create_api(
            NewApi {
                identifier: identifier.to_owned(),
                name: None,
                scopes: Scope::parse("read write").unwrap(),
                token_format: format,
                token_lifetime: lifetime,
                signing_alg: alg,
            },
            server.clock.now(),
        )
        .await
        .expect("create api");
    server.engine.reload().await.unwrap();
}

/// A `client_secret_basic` client granted `scope` (all when None) on `audiences`.
pub(crate) async fn basic_client(
    server: &TestServer,
    audiences: &[&str],
    scope: Option<&str>,
) -> (String, String) {
    server
        .secret_client(TokenEndpointAuthMethod::ClientSecretBasic, audiences, scope)
        .await
}

/// The API [`API`] (ES256 JWTs, scopes `read write admin`) and a Basic client granted all of it.
pub(crate) async fn api_and_client(server: &TestServer) -> (String, String) {
    jwt_api(server, API, "read write admin", SigningAlg::ES256).await;
    basic_client(server, &[API], None).await
}

/// A client definition with defaults.
pub(crate) fn new_client(method: TokenEndpointAuthMethod, audiences: &[&str]) -> NewClient {
    NewClient {
        name: String::from("test client"),
        auth_method: method,
        grant_types: vec![],
        scope: None,
        audiences: audiences.iter().map(|s| (*s).to_owned()).collect(),
        redirect_uris: vec![],
        jwks: None,
        jwks_uri: None,
        auth_signing_alg: None,
        ..NewClient::default()
    }
}

/// A `private_key_jwt` client registered with `key`'s public JWK by value.
pub(crate) async fn private_key_client(
    server: &TestServer,
    key: &ClientKey,
    audiences: &[&str],
) -> String {
    let mut new = new_client(TokenEndpointAuthMethod::PrivateKeyJwt, audiences);
    new.jwks = Some(key.jwks());
    server.client(new).await.client_id
}

/// A `client_secret_jwt` client; returns id and secret.
pub(crate) async fn secret_jwt_client(server: &TestServer, audiences: &[&str]) -> (String, String) {
    server
        .secret_client(TokenEndpointAuthMethod::ClientSecretJwt, audiences, None)
        .await
}

/// Replaces a client's grant types directly in the store (the admin API only accepts grant
/// types the server implements), then reloads.
pub(crate) async fn set_grant_types(server: &TestServer, client_id: &str, grants: Vec<GrantType>) {
    let store = server.engine.store();
    let mut client = store
        .client(client_id)
        .await
        .unwrap()
        .expect("client exists");
    client.grant_types = grants;
    client.updated_at += 1;
    assert!(store.update_client(&client).await.unwrap());
    server.engine.reload().await.unwrap();
}

// ---- client keys and assertions --------------------------------------------------------------

/// A client's private key. Assertions are signed with `jsonwebtoken` from the PKCS#8 that
/// `warden_jose` generated; the public JWK is what the client registers.
pub(crate) struct ClientKey {
    pub(crate) kid: String,
    key: SigningKey,
}

impl ClientKey {
    /// A fresh key for `alg` with key id `kid`.
    pub(crate) fn generate(alg: SigningAlg, kid: &str) -> Self {
        Self {
            kid: kid.to_owned(),
            key: SigningKey::generate(alg, Kid::new(kid)).expect("key generation"),
        }
    }

    /// The public JWK.
    pub(crate) fn jwk(&self) -> Jwk {
        self.key.public_jwk()
    }

    /// A JWK Set with only this key.
    pub(crate) fn jwks(&self) -> JwkSet {
        JwkSet {
            keys: vec![self.jwk()],
        }
    }

    /// Signs `claims` with this key's `kid` in the header.
    pub(crate) fn sign(&self, claims: &Value) -> String {
        self.sign_with_kid(Some(&self.kid), claims)
    }

    /// Signs `claims` with the given `kid` (or none) in the header.
    pub(crate) fn sign_with_kid(&self, kid: Option<&str>, claims: &Value) -> String {
        let mut header = Header::new(jwt_alg(self.key.alg()));
        header.kid = kid.map(str::to_owned);
        jsonwebtoken::encode(&header, claims, &encoding_key(&self.key)).expect("sign assertion")
    }

    /// Signs `claims` with a chosen `typ` header (for access-token forgeries).
    pub(crate) fn sign_typed(&self, typ: &str, kid: &str, claims: &Value) -> String {
        let mut header = Header::new(jwt_alg(self.key.alg()));
        header.kid = Some(kid.to_owned());
        header.typ = Some(typ.to_owned());
        jsonwebtoken::encode(&header, claims, &encoding_key(&self.key)).expect("sign")
    }
}

/// The `jsonwebtoken` algorithm of a Warden signing algorithm.
pub(crate) fn jwt_alg(alg: SigningAlg) -> Algorithm {
    match alg {
        SigningAlg::RS256 => Algorithm::RS256,
        SigningAlg::PS256 => Algorithm::PS256,
        SigningAlg::ES256 => Algorithm::ES256,
        SigningAlg::EdDSA => Algorithm::EdDSA,
    }
}

fn encoding_key(key: &SigningKey) -> EncodingKey {
    match key.alg() {
        // jsonwebtoken (aws-lc) loads RSA keys as PKCS#1 RSAPrivateKey, not PKCS#8.
        SigningAlg::RS256 | SigningAlg::PS256 => {
            EncodingKey::from_rsa_der(&rsa_private_key_from_pkcs8(key.pkcs8_der()))
        }
        SigningAlg::ES256 => EncodingKey::from_ec_der(key.pkcs8_der()),
        SigningAlg::EdDSA => EncodingKey::from_ed_der(key.pkcs8_der()),
    }
}

/// One DER element: (tag, content, rest).
fn der_element(input: &[u8]) -> (u8, &[u8], &[u8]) {
    let tag = input[0];
    let first = input[1];
    let (len, head) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let n = usize::from(first & 0x7f);
        let len = input[2..2 + n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, 2 + n)
    };
    (tag, &input[head..head + len], &input[head + len..])
}

/// RFC 5208 PrivateKeyInfo → the RFC 8017 RSAPrivateKey inside its `privateKey` OCTET STRING.
fn rsa_private_key_from_pkcs8(der: &[u8]) -> Vec<u8> {
    let (tag, info, _) = der_element(der);
    assert_eq!(tag, 0x30, "PrivateKeyInfo is a SEQUENCE");
    let (tag, _version, rest) = der_element(info);
    assert_eq!(tag, 0x02, "version INTEGER");
    let (tag, _algorithm, rest) = der_element(rest);
    assert_eq!(tag, 0x30, "AlgorithmIdentifier SEQUENCE");
    let (tag, key, _) = der_element(rest);
    assert_eq!(tag, 0x04, "privateKey OCTET STRING");
    key.to_vec()
}

/// Signs `claims` with an HMAC algorithm and the client secret as key (`client_secret_jwt`).
pub(crate) fn sign_hmac(secret: &str, alg: Algorithm, claims: &Value) -> String {
    jsonwebtoken::encode(
        &Header::new(alg),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("sign hmac")
}

/// RFC 7523 §3 claims for client authentication: iss = sub = client id, one audience, a
/// two-minute lifetime, a fresh jti.
pub(crate) fn assertion_claims(client_id: &str, aud: &str, now: i64) -> Value {
    json!({
        "iss": client_id,
        "sub": client_id,
        "aud": aud,
        "iat": now,
        "exp": now + 120,
        "jti": random_id(),
    })
}

/// 128 random bits, hex.
pub(crate) fn random_id() -> String {
    warden_jose::random_bytes::<16>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

// ---- JWTs ------------------------------------------------------------------------------------

/// base64url without padding.
pub(crate) fn b64(bytes: &[u8]) -> String {
    warden_jose::base64url_encode(bytes)
}

/// The decoded JSON of part `index` (0 header, 1 payload) of a compact JWS.
pub(crate) fn jwt_part(token: &str, index: usize) -> Value {
    let part = token.split('.').nth(index).expect("JWT part");
    serde_json::from_slice(&warden_jose::base64url_decode(part).expect("base64url")).expect("JSON")
}

/// A compact JWS assembled from JSON header and claims and a literal signature part.
pub(crate) fn assemble_jwt(header: &Value, claims: &Value, signature: &str) -> String {
    format!(
        "{}.{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes()),
        signature
    )
}

/// The `/jwks` document (asserts 200).
pub(crate) async fn published_jwks(server: &TestServer) -> Value {
    let r = get(server, "/jwks").await;
    r.ok();
    r.body
}

/// The key ids published at `/jwks`.
pub(crate) async fn published_kids(server: &TestServer) -> BTreeSet<String> {
    published_jwks(server).await["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k["kid"].as_str().expect("kid").to_owned())
        .collect()
}

/// Verifies an access token with `jsonwebtoken` against the key `/jwks` publishes under its
/// `kid`, with `iss` = the server's issuer and `aud` = `audience` required; returns the header
/// and the claims.
pub(crate) async fn verify_jwt(
    server: &TestServer,
    token: &str,
    audience: &str,
) -> (Header, Value) {
    let header = jsonwebtoken::decode_header(token).expect("JWT header");
    let kid = header.kid.clone().expect("kid in the header");
    let set: jsonwebtoken::jwk::JwkSet =
        serde_json::from_value(published_jwks(server).await).expect("/jwks parses as a JWK Set");
    let jwk = set.find(&kid).expect("the kid is published at /jwks");
    let key = DecodingKey::from_jwk(jwk).expect("published JWK is usable");
    let mut validation = Validation::new(header.alg);
    validation.set_issuer(&[&server.issuer]);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    let data = jsonwebtoken::decode::<Value>(token, &key, &validation)
        .unwrap_or_else(|e| panic!("jsonwebtoken rejects the token: {e}"));
    (data.header, data.claims)
}

// ---- a JWKS server for jwks_uri clients ------------------------------------------------------

/// A tiny HTTP server on 127.0.0.1 serving a JWK Set at `/jwks`, counting fetches.
pub(crate) struct JwksServer {
    pub(crate) url: String,
    body: Arc<Mutex<String>>,
    hits: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl JwksServer {
    /// Starts serving `set`.
    pub(crate) async fn start(set: &JwkSet) -> Self {
        let body = Arc::new(Mutex::new(serde_json::to_string(set).unwrap()));
        let hits = Arc::new(AtomicUsize::new(0));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/jwks", listener.local_addr().unwrap());
        let (served, counter) = (body.clone(), hits.clone());
        let app = axum::Router::new().route(
            "/jwks",
            axum::routing::get(move || {
                let (served, counter) = (served.clone(), counter.clone());
                async move {
                    counter.fetch_add(1, Ordering::SeqCst);
                    let text = served.lock().unwrap().clone();
                    (
                        [(axum::http::header::CONTENT_TYPE, "application/json")],
                        text,
                    )
                }
            }),
        );
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            url,
            body,
            hits,
            task,
        }
    }

    /// Serves `set` from now on (the client rotated its keys).
    pub(crate) fn set(&self, set: &JwkSet) {
        *self.body.lock().unwrap() = serde_json::to_string(set).unwrap();
    }

    /// Serves `text` verbatim (a broken key server).
    pub(crate) fn set_raw(&self, text: &str) {
        *self.body.lock().unwrap() = text.to_owned();
    }

    /// How many times the document was fetched.
    pub(crate) fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

// ---- raw HTTP --------------------------------------------------------------------------------

/// A response read off a raw socket.
#[derive(Debug)]
pub(crate) struct RawReply {
    pub(crate) status: u16,
    /// Header lines, lower-cased names.
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl RawReply {
    /// A header value.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON, if it is.
    pub(crate) fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// Sends `request` verbatim (it should say `Connection: close`) and reads the response. Write
/// errors are ignored: the server may answer and close before reading everything.
pub(crate) async fn raw_http(server: &TestServer, request: &[u8]) -> RawReply {
    let addr = server.base_url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let _ = stream.write_all(request).await;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let read_all = async {
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    buf.extend_from_slice(&chunk[..n]);
                    if response_complete(&buf) {
                        break;
                    }
                }
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), read_all)
        .await
        .expect("raw response within 20 s");
    parse_raw(&buf)
}

fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

fn response_complete(buf: &[u8]) -> bool {
    let Some(end) = head_end(buf) else {
        return false;
    };
    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok());
    match length {
        Some(len) => buf.len() >= end + len,
        None => false,
    }
}

fn parse_raw(buf: &[u8]) -> RawReply {
    let end = head_end(buf).unwrap_or_else(|| {
        panic!(
            "no complete HTTP response: {:?}",
            String::from_utf8_lossy(buf)
        )
    });
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("status line {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = buf[end..].to_vec();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    RawReply {
        status,
        headers,
        body,
    }
}

fn dechunk(mut input: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = input.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&input[..line_end]).into_owned();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("0").trim(), 16)
            .unwrap_or(0);
        input = &input[line_end + 2..];
        if size == 0 || input.len() < size {
            break;
        }
        out.extend_from_slice(&input[..size]);
        input = input.get(size + 2..).unwrap_or_default();
    }
    out
}

// ---- the warden binary -----------------------------------------------------------------------

/// What a `warden` command printed and how it exited.
#[derive(Debug)]
pub(crate) struct CliOutput {
    pub(crate) success: bool,
    pub(crate) code: Option<i32>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl CliOutput {
    /// Asserts success and parses stdout as JSON.
    #[track_caller]
    pub(crate) fn json(&self) -> Value {
        assert!(self.success, "warden failed: {self:?}");
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:?}"))
    }
}

/// The real `warden` binary, with no `WARDEN_*` variable inherited from the test process.
pub(crate) fn warden_command() -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_warden"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("WARDEN_") {
            cmd.env_remove(name);
        }
    }
    cmd.stdin(std::process::Stdio::null());
    cmd
}

/// Runs `warden args...` with extra environment variables and waits for it.
pub(crate) fn run_warden(args: &[&str], envs: &[(&str, &str)]) -> CliOutput {
    let mut cmd = warden_command();
    cmd.args(args);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run warden");
    CliOutput {
        success: out.status.success(),
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A temporary directory with a SQLite database URL inside it, for driving the `warden`
/// binary's admin commands and then checking what they stored at a server on the same
/// database.
pub(crate) struct CliDb {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) url: String,
}

impl CliDb {
    pub(crate) fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("w.db").display());
        Self { dir, url }
    }

    /// Runs `warden <args> --database <url>`.
    pub(crate) fn run(&self, args: &[&str]) -> CliOutput {
        let mut full: Vec<&str> = args.to_vec();
        full.extend(["--database", self.url.as_str()]);
        run_warden(&full, &[])
    }

    /// Runs and asserts success; the JSON printed.
    #[track_caller]
    pub(crate) fn json(&self, args: &[&str]) -> Value {
        self.run(args).json()
    }

    /// Runs `warden <args> --database <url>` with `input` on stdin.
    pub(crate) fn run_with_stdin(&self, args: &[&str], input: &[u8]) -> CliOutput {
        use std::io::Write;
        let mut child = warden_command()
            .args(args)
            .args(["--database", self.url.as_str()])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn warden");
        let mut stdin = child.stdin.take().unwrap();
        // The command may fail (and close stdin) before reading: ignore write errors.
        let _ = stdin.write_all(input);
        drop(stdin);
        let out = child.wait_with_output().expect("wait for warden");
        CliOutput {
            success: out.status.success(),
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// A file in the temporary directory; its path.
    pub(crate) fn file(&self, name: &str, contents: &str) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, contents).unwrap();
        path.display().to_string()
    }

    /// A server on this database (to check what the CLI stored).
    pub(crate) async fn server(&self) -> TestServer {
        TestServer::start_with(
            warden_testkit::Backend::Sqlite,
            warden_testkit::Options {
                database: Some(self.url.clone()),
                master_key_file: Some(self.dir.path().join("w.db.key")),
                ..warden_testkit::Options::default()
            },
        )
        .await
    }
}
