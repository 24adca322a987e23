//! How the client authenticates at the token endpoint
//! ([RFC 6749 §2.3](https://www.rfc-editor.org/rfc/rfc6749#section-2.3)), one variant per
//! `token_endpoint_auth_method`, and the RFC 7523 client assertion for `private_key_jwt`.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;
use warden_jose::{SigningKey, base64url_encode, random_bytes};
use warden_types::SecretString;

use crate::Error;
use crate::clock::unix_now;

/// RFC 7523 §2.2: the `client_assertion_type` of a JWT client assertion.
pub const JWT_BEARER_ASSERTION_TYPE: &str =
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Lifetime of each client assertion. Warden accepts at most 5 minutes; one minute leaves
/// room for clock skew while keeping a captured assertion useless soon after.
const ASSERTION_LIFETIME: i64 = 60;

/// The client's credentials. `Debug` never shows a secret or a private key.
pub enum Credentials {
    /// `client_secret_basic`
    /// ([RFC 6749 §2.3.1](https://www.rfc-editor.org/rfc/rfc6749#section-2.3.1)): id and
    /// secret, form-urlencoded, in an HTTP Basic `Authorization` header.
    ClientSecretBasic {
        /// The `client_id`.
        client_id: String,
        /// The client secret.
        secret: SecretString,
    },
    /// `client_secret_post`
    /// ([RFC 6749 §2.3.1](https://www.rfc-editor.org/rfc/rfc6749#section-2.3.1)): `client_id`
    /// and `client_secret` in the request body.
    ClientSecretPost {
        /// The `client_id`.
        client_id: String,
        /// The client secret.
        secret: SecretString,
    },
    /// `private_key_jwt` ([RFC 7523 §2.2](https://www.rfc-editor.org/rfc/rfc7523#section-2.2),
    /// OpenID Connect Core §9): a fresh assertion signed with `key` for every request. The
    /// algorithm is the key's ([`SigningKey::alg`]); load the key with [`crate::key`].
    PrivateKeyJwt {
        /// The `client_id`.
        client_id: String,
        /// The private key; its `kid` goes into the assertion header.
        key: Arc<SigningKey>,
    },
    /// Workload identity: a token from the platform the workload runs on (a Kubernetes
    /// projected service-account token, a SPIFFE JWT-SVID written to a file, a CI job's OIDC
    /// token), read from `path` for every request and sent as the client assertion
    /// ([RFC 7523 §2.2](https://www.rfc-editor.org/rfc/rfc7523#section-2.2)). Warden accepts it
    /// when the operator trusts its issuer and mapped its subject to `client_id`
    /// (`warden issuer map`). Warden accepts each platform token once, so keep the token cache
    /// (the default) and let the platform rotate the file.
    WorkloadToken {
        /// The `client_id` the platform identity is mapped to.
        client_id: String,
        /// The file the platform keeps the current token in.
        path: std::path::PathBuf,
    },
    /// `tls_client_auth` ([RFC 8705 §2.1](https://www.rfc-editor.org/rfc/rfc8705#section-2.1)):
    /// the client authenticates with a CA-issued certificate in the TLS handshake; only
    /// `client_id` goes into the form. The certificate is configured on the HTTP client:
    /// [`ClientBuilder::identity`](crate::ClientBuilder::identity), or a `reqwest::Client`
    /// built with a `reqwest::Identity` passed to
    /// [`ClientBuilder::http_client`](crate::ClientBuilder::http_client).
    TlsClientAuth {
        /// The `client_id`.
        client_id: String,
    },
    /// `self_signed_tls_client_auth`
    /// ([RFC 8705 §2.2](https://www.rfc-editor.org/rfc/rfc8705#section-2.2)): like
    /// [`TlsClientAuth`](Self::TlsClientAuth), with a self-signed certificate registered in
    /// the client's JWK Set (`x5c`).
    SelfSignedTlsClientAuth {
        /// The `client_id`.
        client_id: String,
    },
}

impl Credentials {
    /// `client_secret_basic` credentials.
    pub fn client_secret_basic(client_id: impl Into<String>, secret: impl Into<String>) -> Self {
        Self::ClientSecretBasic {
            client_id: client_id.into(),
            secret: SecretString::new(secret),
        }
    }

    /// `client_secret_post` credentials.
    pub fn client_secret_post(client_id: impl Into<String>, secret: impl Into<String>) -> Self {
        Self::ClientSecretPost {
            client_id: client_id.into(),
            secret: SecretString::new(secret),
        }
    }

    /// `private_key_jwt` credentials.
    pub fn private_key_jwt(client_id: impl Into<String>, key: SigningKey) -> Self {
        Self::PrivateKeyJwt {
            client_id: client_id.into(),
            key: Arc::new(key),
        }
    }

    /// Workload-identity credentials: the platform token in the file at `path`.
    pub fn workload_token(
        client_id: impl Into<String>,
        path: impl Into<std::path::PathBuf>,
    ) -> Self {
        Self::WorkloadToken {
            client_id: client_id.into(),
            path: path.into(),
        }
    }

    /// `tls_client_auth` credentials (RFC 8705 §2.1): the certificate goes on the HTTP
    /// client, see [`ClientBuilder::identity`](crate::ClientBuilder::identity).
    pub fn tls_client_auth(client_id: impl Into<String>) -> Self {
        Self::TlsClientAuth {
            client_id: client_id.into(),
        }
    }

    /// `self_signed_tls_client_auth` credentials (RFC 8705 §2.2): the certificate goes on the
    /// HTTP client, see [`ClientBuilder::identity`](crate::ClientBuilder::identity).
    pub fn self_signed_tls_client_auth(client_id: impl Into<String>) -> Self {
        Self::SelfSignedTlsClientAuth {
            client_id: client_id.into(),
        }
    }

    /// The `client_id`.
    pub fn client_id(&self) -> &str {
        match self {
            Self::ClientSecretBasic { client_id, .. }
            | Self::ClientSecretPost { client_id, .. }
            | Self::PrivateKeyJwt { client_id, .. }
            | Self::WorkloadToken { client_id, .. }
            | Self::TlsClientAuth { client_id }
            | Self::SelfSignedTlsClientAuth { client_id } => client_id,
        }
    }

    /// Adds the credentials to a token request: a header, or form parameters.
    pub(crate) fn apply(
        &self,
        request: reqwest::RequestBuilder,
        form: &mut Vec<(&'static str, String)>,
        token_endpoint: &str,
    ) -> Result<reqwest::RequestBuilder, Error> {
        match self {
            Self::ClientSecretBasic { client_id, secret } => {
                Ok(request.header(reqwest::header::AUTHORIZATION, basic(client_id, secret)))
            }
            Self::ClientSecretPost { client_id, secret } => {
                form.push(("client_id", client_id.clone()));
                form.push(("client_secret", secret.expose().to_owned()));
                Ok(request)
            }
            Self::PrivateKeyJwt { client_id, key } => {
                let assertion = assertion(key, client_id, token_endpoint, unix_now())?;
                form.push((
                    "client_assertion_type",
                    JWT_BEARER_ASSERTION_TYPE.to_owned(),
                ));
                form.push(("client_assertion", assertion));
                Ok(request)
            }
            Self::WorkloadToken { client_id, path } => {
                // A few kilobytes at most, read on each token request (not on each API call:
                // tokens are cached), so the blocking read is negligible.
                let token = std::fs::read_to_string(path)
                    .map_err(|e| Error::Key(format!("workload token {}: {e}", path.display())))?;
                let token = token.trim();
                if token.is_empty() {
                    return Err(Error::Key(format!(
                        "workload token {} is empty",
                        path.display()
                    )));
                }
                form.push(("client_id", client_id.clone()));
                form.push((
                    "client_assertion_type",
                    JWT_BEARER_ASSERTION_TYPE.to_owned(),
                ));
                form.push(("client_assertion", token.to_owned()));
                Ok(request)
            }
            // RFC 8705 §2: the TLS handshake authenticates; the form names the client.
            Self::TlsClientAuth { client_id } | Self::SelfSignedTlsClientAuth { client_id } => {
                form.push(("client_id", client_id.clone()));
                Ok(request)
            }
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (method, client_id) = match self {
            Self::ClientSecretBasic { client_id, .. } => ("client_secret_basic", client_id),
            Self::ClientSecretPost { client_id, .. } => ("client_secret_post", client_id),
            Self::PrivateKeyJwt { client_id, .. } => ("private_key_jwt", client_id),
            Self::WorkloadToken { client_id, .. } => ("workload_token", client_id),
            Self::TlsClientAuth { client_id } => ("tls_client_auth", client_id),
            Self::SelfSignedTlsClientAuth { client_id } => {
                ("self_signed_tls_client_auth", client_id)
            }
        };
        f.debug_struct("Credentials")
            .field("method", &method)
            .field("client_id", client_id)
            .finish_non_exhaustive()
    }
}

/// RFC 6749 §2.3.1: "the client identifier is encoded using the
/// "application/x-www-form-urlencoded" encoding algorithm [...] and the encoded value is used
/// as the username; the client password is encoded using the same algorithm and used as the
/// password." (reqwest's `basic_auth` skips the form encoding.)
fn basic(client_id: &str, secret: &SecretString) -> String {
    let encode = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let raw = format!("{}:{}", encode(client_id), encode(secret.expose()));
    format!("Basic {}", STANDARD.encode(raw))
}

/// The claims of a client assertion, RFC 7523 §3.
#[derive(Serialize)]
struct AssertionClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
    jti: String,
}

/// Signs a client assertion (RFC 7523 §3): `iss` = `sub` = client id (items 1, 2), `aud` =
/// the token endpoint (item 3), `exp` one minute ahead (item 4), `iat` (item 6) and a random
/// 128-bit `jti` (item 7; Warden accepts each `jti` once).
pub(crate) fn assertion(
    key: &SigningKey,
    client_id: &str,
    token_endpoint: &str,
    now: i64,
) -> Result<String, Error> {
    let claims = AssertionClaims {
        iss: client_id,
        sub: client_id,
        aud: token_endpoint,
        iat: now,
        exp: now + ASSERTION_LIFETIME,
        jti: base64url_encode(&random_bytes::<16>()),
    };
    Ok(key.sign_jwt("JWT", &claims)?)
}

#[cfg(test)]
mod tests {
    use warden_types::{Kid, SigningAlg};

    use super::*;

    fn payload(jwt: &str) -> serde_json::Value {
        let part = jwt.split('.').nth(1).unwrap();
        serde_json::from_slice(&warden_jose::base64url_decode(part).unwrap()).unwrap()
    }

    #[test]
    fn workload_token_is_read_from_its_file_for_each_request() {
        let dir = std::env::temp_dir().join(format!("wc-wl-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("token");
        let creds = Credentials::workload_token("orders", &path);
        let http = reqwest::Client::new();
        let mut form = Vec::new();
        let missing = creds.apply(http.post("http://x/token"), &mut form, "http://x/token");
        assert!(matches!(missing, Err(Error::Key(_))));
        for token in ["first.jwt.value", "second.jwt.value"] {
            std::fs::write(&path, format!("{token}\n")).unwrap();
            let mut form = Vec::new();
            let _request = creds
                .apply(http.post("http://x/token"), &mut form, "http://x/token")
                .unwrap();
            assert!(form.contains(&("client_assertion", token.to_owned())));
            assert!(form.contains(&("client_id", String::from("orders"))));
            assert!(form.contains(&(
                "client_assertion_type",
                JWT_BEARER_ASSERTION_TYPE.to_owned()
            )));
        }
        assert!(!format!("{creds:?}").contains("second"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn tls_client_auth_sends_only_the_client_id() {
        let http = reqwest::Client::new();
        for creds in [
            Credentials::tls_client_auth("m1"),
            Credentials::self_signed_tls_client_auth("m1"),
        ] {
            let mut form = Vec::new();
            let request = creds
                .apply(http.post("http://x/token"), &mut form, "http://x/token")
                .unwrap()
                .build()
                .unwrap();
            assert_eq!(form, [("client_id", String::from("m1"))]);
            assert!(request.headers().get("authorization").is_none());
            assert_eq!(creds.client_id(), "m1");
        }
        assert!(format!("{:?}", Credentials::tls_client_auth("m1")).contains("tls_client_auth"));
    }

    #[test]
    fn assertion_claims_follow_rfc_7523() {
        let key = SigningKey::generate(SigningAlg::ES256, Kid::new("k1")).unwrap();
        let a = assertion(&key, "c1", "https://as.example/token", 1_000).unwrap();
        let b = assertion(&key, "c1", "https://as.example/token", 1_000).unwrap();
        let claims = payload(&a);
        assert_eq!(claims["iss"], "c1");
        assert_eq!(claims["sub"], "c1");
        assert_eq!(claims["aud"], "https://as.example/token");
        assert_eq!(claims["iat"], 1_000);
        assert_eq!(claims["exp"], 1_060);
        assert_eq!(claims["jti"].as_str().unwrap().len(), 22);
        assert_ne!(claims["jti"], payload(&b)["jti"]);
    }

    #[test]
    fn basic_header_form_encodes_and_debug_hides_the_secret() {
        let secret = SecretString::new("a b:c");
        assert_eq!(
            basic("id+1", &secret),
            format!("Basic {}", STANDARD.encode("id%2B1:a+b%3Ac"))
        );
        let creds = Credentials::client_secret_post("id", "s3cr3t-value");
        let debug = format!("{creds:?}");
        assert!(!debug.contains("s3cr3t"), "{debug}");
        assert!(debug.contains("client_secret_post"));
    }
}
