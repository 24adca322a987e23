//! What each scenario sends, and the setup it needs before the clock starts.
//!
//! - `cc-basic`: `grant_type=client_credentials&resource=API` with `client_secret_basic`
//!   (RFC 6749 §4.4, §2.3.1; RFC 8707). The same bytes every time.
//! - `cc-pkjwt`: the same grant authenticated with an ES256 `private_key_jwt` assertion
//!   (RFC 7523 §2.2). Every request carries a fresh assertion, pre-signed here on every core the
//!   bench may use so that signing does not limit the generator.
//! - `introspect`: RFC 7662 introspection of opaque tokens obtained here first, cycled through.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HOST, HeaderMap, HeaderValue};
use hyper::{Method, Request, Uri};

use crate::Fallible;
use crate::assertion::{ASSERTION_LIFETIME_SECS, AssertionFactory, ClientKey};
use crate::cli::{RunArgs, ScenarioName, Target};
use crate::clock;
use crate::conn::Conn;
use crate::form;

/// `client_assertion_type` of RFC 7523 §2.2.
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Without --assertions or --rate: enough for this many requests per second over warm-up and
/// window, at most [`DEFAULT_ASSERTIONS`] (400 000 take about 8 s to sign on one core).
const GENEROUS_RATE: f64 = 35_000.0;
const DEFAULT_ASSERTIONS: usize = 400_000;
/// Upper bound on pre-signed assertions (memory: about 0.5 KiB each).
const MAX_ASSERTIONS: usize = 4_000_000;
/// Upper bound on tokens obtained for the introspect scenario.
const MAX_TOKENS: usize = 100_000;
/// Connections used to obtain the introspect scenario's tokens.
const SETUP_CONNECTIONS: usize = 16;
/// Timeout of one setup request.
const SETUP_TIMEOUT: Duration = Duration::from_secs(10);

/// The request every worker sends, and how its answer is judged.
pub(crate) struct Workload {
    uri: Uri,
    headers: HeaderMap,
    bodies: Bodies,
    expect: Expect,
    next: AtomicUsize,
    inline_signed: AtomicU64,
}

enum Bodies {
    /// The same body every time.
    Fixed(Bytes),
    /// Bodies taken in turn, starting over at the end.
    Cycle(Vec<Bytes>),
    /// Single-use bodies (fresh `jti`); once the pre-signed ones are used up, more are signed
    /// on the request path and counted in `inline_signed`.
    Unique {
        presigned: Vec<Bytes>,
        prefix: String,
        factory: AssertionFactory,
    },
}

/// What a 2xx answer must contain to count as a success.
#[derive(Clone, Copy)]
enum Expect {
    /// A token response (RFC 6749 §5.1).
    AccessToken,
    /// An introspection response saying the token is active (RFC 7662 §2.2).
    Active,
}

impl Workload {
    /// The next request to send.
    pub(crate) fn request(&self) -> Fallible<Request<Full<Bytes>>> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let body = match &self.bodies {
            Bodies::Fixed(body) => body.clone(),
            Bodies::Cycle(bodies) => bodies
                .get(n % bodies.len().max(1))
                .cloned()
                .unwrap_or_default(),
            Bodies::Unique {
                presigned,
                prefix,
                factory,
            } => match presigned.get(n) {
                Some(body) => body.clone(),
                None => {
                    self.inline_signed.fetch_add(1, Ordering::Relaxed);
                    let assertion = factory.sign(n as u64, clock::unix_now())?;
                    Bytes::from(format!("{prefix}{assertion}"))
                }
            },
        };
        let mut request = Request::new(Full::new(body));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = self.uri.clone();
        *request.headers_mut() = self.headers.clone();
        Ok(request)
    }

    /// Whether a 2xx `body` is the answer the scenario expects.
    pub(crate) fn accepts(&self, body: &[u8]) -> bool {
        match self.expect {
            Expect::AccessToken => contains(body, b"\"access_token\""),
            Expect::Active => json_true(body, b"\"active\""),
        }
    }

    /// Assertions that had to be signed during the run because the pre-signed ones ran out.
    pub(crate) fn inline_signed(&self) -> u64 {
        self.inline_signed.load(Ordering::Relaxed)
    }
}

/// Builds the scenario's workload, doing its setup against `target`.
pub(crate) async fn prepare(args: &RunArgs, target: &Target) -> Fallible<Workload> {
    let mut token_params = vec![
        ("grant_type", "client_credentials"),
        ("resource", args.resource.as_str()),
    ];
    if let Some(scope) = &args.scope {
        token_params.push(("scope", scope.as_str()));
    }
    match args.scenario {
        ScenarioName::CcBasic => {
            let secret = required(&args.client_secret, "--client-secret", args.scenario)?;
            let authorization = form::basic_authorization(&args.client_id, secret);
            Workload::new(
                target,
                &args.token_path,
                Some(&authorization),
                Bodies::Fixed(Bytes::from(form::body(&token_params))),
                Expect::AccessToken,
            )
        }
        ScenarioName::CcPkjwt => {
            let key_file = required(&args.key_file, "--key-file", args.scenario)?;
            let factory = AssertionFactory::new(
                ClientKey::load(key_file)?,
                &args.client_id,
                &args.token_endpoint(),
            )?;
            token_params.push(("client_assertion_type", JWT_BEARER));
            // The assertion is base64url and dots: nothing in it needs form encoding.
            let prefix = format!("{}&client_assertion=", form::body(&token_params));
            let count = assertion_count(args)?;
            let started = Instant::now();
            let (presigned, prefix, factory) =
                tokio::task::spawn_blocking(move || presign(factory, prefix, count)).await??;
            eprintln!(
                "warden-bench: pre-signed {} ES256 assertions in {:.1}s",
                presigned.len(),
                started.elapsed().as_secs_f64()
            );
            Workload::new(
                target,
                &args.token_path,
                None,
                Bodies::Unique {
                    presigned,
                    prefix,
                    factory,
                },
                Expect::AccessToken,
            )
        }
        ScenarioName::Introspect => {
            let secret = required(&args.client_secret, "--client-secret", args.scenario)?;
            if args.tokens == 0 || args.tokens > MAX_TOKENS {
                return Err(format!("--tokens must be 1..={MAX_TOKENS}").into());
            }
            let token_request = Workload::new(
                target,
                &args.token_path,
                Some(&form::basic_authorization(&args.client_id, secret)),
                Bodies::Fixed(Bytes::from(form::body(&token_params))),
                Expect::AccessToken,
            )?;
            let tokens = obtain_tokens(target, &token_request, args.tokens).await?;
            if tokens.iter().any(|t| t.split('.').count() == 3) {
                eprintln!(
                    "warden-bench: warning: {} issued JWTs, not opaque tokens, for {}",
                    args.target, args.resource
                );
            }
            eprintln!(
                "warden-bench: obtained {} tokens to introspect",
                tokens.len()
            );
            let caller_id = args
                .introspect_client_id
                .as_deref()
                .unwrap_or(&args.client_id);
            let caller_secret = args.introspect_client_secret.as_deref().unwrap_or(secret);
            let bodies = tokens
                .iter()
                .map(|t| Bytes::from(form::body(&[("token", t.as_str())])))
                .collect();
            Workload::new(
                target,
                &args.introspect_path,
                Some(&form::basic_authorization(caller_id, caller_secret)),
                Bodies::Cycle(bodies),
                Expect::Active,
            )
        }
    }
}

impl Workload {
    fn new(
        target: &Target,
        path: &str,
        authorization: Option<&str>,
        bodies: Bodies,
        expect: Expect,
    ) -> Fallible<Self> {
        let uri: Uri = path
            .parse()
            .map_err(|e| format!("invalid path {path:?}: {e}"))?;
        if uri.scheme().is_some() || !path.starts_with('/') {
            return Err(format!("{path:?}: give a path starting with '/'").into());
        }
        let mut headers = HeaderMap::new();
        headers.insert(HOST, HeaderValue::from_str(&target.authority)?);
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        if let Some(authorization) = authorization {
            let mut value = HeaderValue::from_str(authorization)?;
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
        }
        Ok(Self {
            uri,
            headers,
            bodies,
            expect,
            next: AtomicUsize::new(0),
            inline_signed: AtomicU64::new(0),
        })
    }
}

fn required<'a, T>(value: &'a Option<T>, flag: &str, scenario: ScenarioName) -> Fallible<&'a T> {
    value
        .as_ref()
        .ok_or_else(|| format!("{} needs {flag}", scenario.as_str()).into())
}

/// Enough assertions for the whole run: at `--rate` over warm-up and window with 10 % spare,
/// else at a generous rate. Assertions expire two minutes after signing: a run that long is
/// warned about, since its last pre-signed assertions may be refused.
fn assertion_count(args: &RunArgs) -> Fallible<usize> {
    let count = match (args.assertions, args.rate) {
        (Some(n), _) => n,
        (None, Some(rate)) => {
            let seconds = (args.warmup + args.duration).as_secs_f64();
            (rate * seconds * 1.1) as usize + 1_000
        }
        (None, None) => {
            let seconds = (args.warmup + args.duration).as_secs_f64();
            ((GENEROUS_RATE * seconds) as usize).clamp(1_000, DEFAULT_ASSERTIONS)
        }
    };
    if count > MAX_ASSERTIONS {
        return Err(format!(
            "{count} assertions is more than the {MAX_ASSERTIONS} the bench holds"
        )
        .into());
    }
    if (args.warmup + args.duration).as_secs() + 10 >= ASSERTION_LIFETIME_SECS {
        eprintln!(
            "warden-bench: warning: the run outlasts the assertions' {ASSERTION_LIFETIME_SECS}s lifetime"
        );
    }
    Ok(count)
}

/// Signs `count` request bodies on every core this process may use.
fn presign(
    factory: AssertionFactory,
    prefix: String,
    count: usize,
) -> Fallible<(Vec<Bytes>, String, AssertionFactory)> {
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(count.max(1));
    let per_thread = count.div_ceil(threads);
    let now = clock::unix_now();
    let chunks: Vec<Fallible<Vec<Bytes>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (factory, prefix) = (&factory, &prefix);
                scope.spawn(move || {
                    let range = (t * per_thread)..((t + 1) * per_thread).min(count);
                    range
                        .map(|n| {
                            Ok(Bytes::from(format!(
                                "{prefix}{}",
                                factory.sign(n as u64, now)?
                            )))
                        })
                        .collect::<Fallible<Vec<Bytes>>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("a signing thread died".into()))
            })
            .collect()
    });
    let mut presigned = Vec::with_capacity(count);
    for chunk in chunks {
        presigned.extend(chunk?);
    }
    Ok((presigned, prefix, factory))
}

/// Obtains `count` access tokens with `request`, over a few parallel connections.
async fn obtain_tokens(target: &Target, request: &Workload, count: usize) -> Fallible<Vec<String>> {
    let connections = SETUP_CONNECTIONS.min(count);
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..connections {
        let share = count / connections + usize::from(c < count % connections);
        let requests: Vec<_> = (0..share)
            .map(|_| request.request())
            .collect::<Fallible<_>>()?;
        let addr = target.addr;
        tasks.spawn(async move {
            let mut conn = Conn::open(addr).await?;
            let mut tokens = Vec::with_capacity(requests.len());
            for req in requests {
                let (status, body) = tokio::time::timeout(SETUP_TIMEOUT, conn.exchange(req))
                    .await
                    .map_err(|_| "token request timed out during setup")??;
                if !status.is_success() {
                    let text = String::from_utf8_lossy(&body);
                    return Err(
                        format!("token request failed during setup: {status} {text}").into(),
                    );
                }
                let response: serde_json::Value = serde_json::from_slice(&body)?;
                let token = response["access_token"]
                    .as_str()
                    .ok_or("token response without access_token")?;
                tokens.push(token.to_owned());
            }
            Fallible::Ok(tokens)
        });
    }
    let mut tokens = Vec::with_capacity(count);
    while let Some(joined) = tasks.join_next().await {
        tokens.extend(joined??);
    }
    Ok(tokens)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Whether the JSON object in `body` has `key` (quoted) set to `true`, allowing whitespace
/// around the colon. Cheap enough for the hot path; not a JSON parser.
fn json_true(body: &[u8], key: &[u8]) -> bool {
    let Some(at) = body.windows(key.len()).position(|w| w == key) else {
        return false;
    };
    let rest = body.get(at + key.len()..).unwrap_or_default();
    let mut rest = rest.iter().skip_while(|b| b.is_ascii_whitespace());
    if rest.next() != Some(&b':') {
        return false;
    }
    let value: Vec<u8> = rest
        .skip_while(|b| b.is_ascii_whitespace())
        .take(4)
        .copied()
        .collect();
    value == b"true"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_active_introspection_answers() {
        assert!(json_true(
            br#"{"active":true,"scope":"read"}"#,
            b"\"active\""
        ));
        assert!(json_true(
            br#"{ "scope": "x", "active" : true }"#,
            b"\"active\""
        ));
        assert!(!json_true(br#"{"active":false}"#, b"\"active\""));
        assert!(!json_true(br#"{"error":"invalid_client"}"#, b"\"active\""));
    }

    #[test]
    fn recognises_token_responses() {
        assert!(contains(
            br#"{"access_token":"x","token_type":"Bearer"}"#,
            b"\"access_token\""
        ));
        assert!(!contains(
            br#"{"error":"invalid_client"}"#,
            b"\"access_token\""
        ));
    }
}
