//! DPoP (RFC 9449): proofs of possession at the token endpoint, at `/par` (binding the
//! authorization code to a key, §10.1) and at `/userinfo`, and the server nonces that keep
//! proofs fresh.
//!
//! A proof is a JWS the client signs with its own key, whose public half travels in the
//! header. [`warden_jose::dpop::verify_dpop_proof`] checks the header and the signature; this
//! module checks the claims against the request (RFC 9449 §4.3): `htm` and `htu` name this
//! request, `iat` is recent, `nonce` is one of ours when we require it, `ath` is the hash of
//! the access token presented with it, and `jti` has not been seen before — recorded in the
//! store's assertion replay table, so a proof is single-use across every instance.
//!
//! Nonces (§8) are not stored: a nonce is the number of a time window with an HMAC of it
//! under a key derived from the master key. Every instance shares the master key and so
//! accepts every other's nonces; a nonce is accepted in its own window and the next.

use std::borrow::Cow;

use serde_json::Value;
use warden_jose::dpop::verify_dpop_proof;
use warden_jose::{base64url_decode, base64url_encode, hmac_sha256, hmac_sha256_verify, sha256};
use warden_types::{ErrorCode, JwsAlgorithm, UnixTime};

use crate::binding::Confirmation;
use crate::client_auth::CallContext;
use crate::engine::Engine;
use crate::error::{Challenge, OAuthError};

/// The algorithms a DPoP proof may be signed with: every asymmetric algorithm Warden
/// verifies (never `none` or `HS*`, RFC 9449 §4.3 check 5). Advertised as
/// `dpop_signing_alg_values_supported` and in `WWW-Authenticate: DPoP algs=".."`.
pub const DPOP_SIGNING_ALGS: [JwsAlgorithm; 9] = JwsAlgorithm::ASYMMETRIC;

/// The `algs` auth-param of a `DPoP` challenge (RFC 9449 §7.1): the supported algorithms,
/// space-separated.
pub fn dpop_algs_param() -> String {
    DPOP_SIGNING_ALGS
        .iter()
        .map(|a| a.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Longest `jti` recorded; longer ones are refused rather than truncated.
const MAX_JTI_LEN: usize = 256;

/// Label of the master-key-derived nonce key.
const NONCE_KEY_LABEL: &str = "warden dpop nonce v1";

/// Longest nonce we parse (a window number, a dot and a 43-character tag).
const MAX_NONCE_LEN: usize = 80;

/// How an access token was presented to an endpoint Warden protects itself (`/userinfo`).
#[derive(Debug, Clone, Copy)]
pub enum TokenPresentation<'a> {
    /// `Authorization: Bearer`, or the form body (RFC 6750).
    Bearer,
    /// `Authorization: DPoP` (RFC 9449 §7.1), with the request's `DPoP` header, if exactly
    /// one was sent, and the request's HTTP method.
    Dpop {
        /// The proof.
        proof: Option<&'a str>,
        /// The HTTP method, for `htm`.
        http_method: &'a str,
    },
}

/// The request a proof arrived with.
struct ProofRequest<'a> {
    htm: &'a str,
    htu: &'a str,
    now: UnixTime,
    require_nonce: bool,
    /// The access token presented with the proof: its hash must be the proof's `ath`.
    access_token: Option<&'a str>,
}

fn invalid(description: impl Into<Cow<'static, str>>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidDpopProof, description)
}

fn use_nonce(description: &'static str) -> OAuthError {
    OAuthError::new(ErrorCode::UseDpopNonce, description)
}

/// A URL as `htu` compares it: scheme and host lower-cased, default port dropped, dot
/// segments resolved, and without query and fragment (RFC 9449 §4.3 check 9, with the
/// syntax- and scheme-based normalisation of RFC 3986 §6.2.2–6.2.3).
fn normalized_htu(raw: &str) -> Option<String> {
    let mut url = url::Url::parse(raw).ok()?;
    if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
        return None;
    }
    url.set_query(None);
    url.set_fragment(None);
    Some(url.into())
}

/// A JSON number as whole seconds (fractions dropped); `None` for anything else.
fn seconds(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.is_finite() && f.abs() < 1e15)
                .map(|f| f.floor() as i64)
        }),
        _ => None,
    }
}

impl Engine {
    fn nonce_key(&self) -> zeroize::Zeroizing<[u8; 32]> {
        zeroize::Zeroizing::new(self.master.derive(NONCE_KEY_LABEL))
    }

    fn nonce_lifetime(&self) -> i64 {
        self.config.dpop.nonce_lifetime.max(1)
    }

    fn nonce_tag(key: &[u8], window: i64) -> [u8; 32] {
        hmac_sha256(key, format!("dpop-nonce\0{window}").as_bytes())
    }

    /// A fresh server nonce (RFC 9449 §8) for the `DPoP-Nonce` header: the current time
    /// window and its HMAC under a master-key-derived key, so any instance accepts it.
    pub fn dpop_nonce(&self, now: UnixTime) -> String {
        let window = now.div_euclid(self.nonce_lifetime());
        let tag = Self::nonce_tag(self.nonce_key().as_slice(), window);
        format!("{window}.{}", base64url_encode(&tag))
    }

    /// Whether `nonce` is one of ours and still fresh: made in the current window or the
    /// previous one (so it lives between one and two `nonce_lifetime`s), or — for an
    /// instance whose clock is a little ahead — in a window starting within the clock skew.
    pub fn dpop_nonce_is_valid(&self, nonce: &str, now: UnixTime) -> bool {
        if nonce.len() > MAX_NONCE_LEN {
            return false;
        }
        let Some((window, tag)) = nonce.split_once('.') else {
            return false;
        };
        if window.is_empty() || !window.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
        let Ok(window) = window.parse::<i64>() else {
            return false;
        };
        let lifetime = self.nonce_lifetime();
        let start = window.saturating_mul(lifetime);
        let fresh = start <= now.saturating_add(self.config.clock_skew)
            && now < start.saturating_add(lifetime.saturating_mul(2));
        if !fresh {
            return false;
        }
        let Ok(tag) = base64url_decode(tag) else {
            return false;
        };
        hmac_sha256_verify(
            self.nonce_key().as_slice(),
            format!("dpop-nonce\0{window}").as_bytes(),
            &tag,
        )
    }

    /// Verifies the request's DPoP proof, if any, for the token endpoint (RFC 9449 §4.3, §5)
    /// and returns the RFC 7638 thumbprint of its key, to which the tokens are bound.
    /// A missing or stale nonce (when required) is `use_dpop_nonce`; the transport answers
    /// it, like every response to a DPoP request, with a fresh `DPoP-Nonce`.
    pub(crate) async fn token_endpoint_dpop(
        &self,
        ctx: &CallContext<'_>,
    ) -> Result<Option<String>, OAuthError> {
        let Some(proof) = ctx.dpop else {
            return Ok(None);
        };
        let jkt = self
            .check_dpop_proof(
                proof,
                &ProofRequest {
                    htm: ctx.http_method,
                    htu: ctx.endpoint,
                    now: ctx.now,
                    require_nonce: self.config.dpop.require_nonce,
                    access_token: None,
                },
            )
            .await?;
        Ok(Some(jkt))
    }

    /// Verifies the DPoP proof sent with a pushed authorization request, if any, and returns
    /// its key's thumbprint, to which the authorization code is bound (RFC 9449 §10.1). The
    /// proof is checked like one at the token endpoint (signature, `typ`, `alg`, `htm`, `htu`,
    /// `iat`, single-use `jti`), except that no nonce is required: the proof only names the key.
    pub(crate) async fn par_endpoint_dpop(
        &self,
        ctx: &CallContext<'_>,
    ) -> Result<Option<String>, OAuthError> {
        let Some(proof) = ctx.dpop else {
            return Ok(None);
        };
        let jkt = self
            .check_dpop_proof(
                proof,
                &ProofRequest {
                    htm: ctx.http_method,
                    htu: ctx.endpoint,
                    now: ctx.now,
                    require_nonce: false,
                    access_token: None,
                },
            )
            .await?;
        Ok(Some(jkt))
    }

    /// Checks that a token was presented the way its binding demands (RFC 9449 §7): a
    /// DPoP-bound token only with the `DPoP` scheme and a valid proof by its key (with `ath`
    /// its hash; `endpoint` is the `htu`), an unbound one only as a bearer token. `cnf` is
    /// the token's confirmation claim. Errors carry a `DPoP` challenge.
    pub async fn check_token_presentation(
        &self,
        token: &str,
        cnf: Option<&Value>,
        presentation: TokenPresentation<'_>,
        endpoint: &str,
        now: UnixTime,
    ) -> Result<(), OAuthError> {
        let jkt = cnf.map(Confirmation::from_claim).and_then(|c| c.jkt);
        let challenge = |e: OAuthError| e.with_challenge(Challenge::Dpop);
        match (presentation, jkt) {
            (TokenPresentation::Bearer, None) => Ok(()),
            (TokenPresentation::Bearer, Some(_)) => Err(challenge(OAuthError::new(
                ErrorCode::InvalidToken,
                "this access token is DPoP-bound: send it with the DPoP authorization scheme \
                 and a DPoP proof",
            ))),
            (TokenPresentation::Dpop { .. }, None) => Err(challenge(OAuthError::new(
                ErrorCode::InvalidToken,
                "this access token is not DPoP-bound: send it with the Bearer scheme",
            ))),
            (TokenPresentation::Dpop { proof, http_method }, Some(bound)) => {
                let Some(proof) = proof else {
                    return Err(challenge(invalid(
                        "a DPoP-bound access token needs a DPoP proof in the DPoP header",
                    )));
                };
                let jkt = self
                    .check_dpop_proof(
                        proof,
                        &ProofRequest {
                            htm: http_method,
                            htu: endpoint,
                            now,
                            require_nonce: false,
                            access_token: Some(token),
                        },
                    )
                    .await
                    .map_err(challenge)?;
                if jkt != bound {
                    return Err(challenge(invalid(
                        "the DPoP proof is not signed by the key the access token is bound to",
                    )));
                }
                Ok(())
            }
        }
    }

    /// RFC 9449 §4.3: the proof's header and signature (by warden-jose), then its claims
    /// against the request, then single use of its `jti`. Returns the key's thumbprint.
    async fn check_dpop_proof(
        &self,
        proof: &str,
        request: &ProofRequest<'_>,
    ) -> Result<String, OAuthError> {
        // Checks 2 and 4–7: one well-formed JWS, `typ` dpop+jwt, an asymmetric allowed
        // `alg`, a public `jwk` without private members that verifies the signature.
        let verified = verify_dpop_proof(proof, &DPOP_SIGNING_ALGS)
            .map_err(|e| invalid(format!("the DPoP proof is invalid: {e}")))?;
        let claims = verified.claims();
        let text = |name: &'static str| -> Result<&str, OAuthError> {
            match claims.get(name) {
                Some(Value::String(s)) => Ok(s.as_str()),
                Some(_) => Err(invalid(format!("the DPoP proof's {name} is not a string"))),
                None => Err(invalid(format!("the DPoP proof has no {name}"))),
            }
        };
        // Check 3: the required claims (§4.2).
        let jti = text("jti")?;
        let htm = text("htm")?;
        let htu = text("htu")?;
        let Some(iat) = claims.get("iat") else {
            return Err(invalid("the DPoP proof has no iat"));
        };
        let Some(iat) = seconds(iat) else {
            return Err(invalid("the DPoP proof's iat is not a number"));
        };
        if jti.is_empty() || jti.len() > MAX_JTI_LEN || jti.chars().any(char::is_control) {
            return Err(invalid(
                "the DPoP proof's jti is empty, too long or not printable",
            ));
        }
        // Check 8: `htm` is the request's method (methods are case-sensitive, RFC 9110 §9.1).
        if htm != request.htm {
            return Err(invalid(
                "the DPoP proof's htm is not the method of this request",
            ));
        }
        // Check 9: `htu` is this endpoint's URL, ignoring query and fragment; with RFC 8705
        // `mtls_endpoint_aliases`, the same path on the mutual-TLS host is this endpoint too.
        let alias = self.config.mtls_endpoint_base.as_deref().and_then(|base| {
            let path = url::Url::parse(request.htu).ok()?.path().to_owned();
            normalized_htu(&format!("{}{path}", base.trim_end_matches('/')))
        });
        match (normalized_htu(htu), normalized_htu(request.htu)) {
            (Some(a), Some(b)) if a == b || alias.as_deref() == Some(a.as_str()) => {}
            _ => {
                return Err(invalid(
                    "the DPoP proof's htu is not the URL of this endpoint",
                ));
            }
        }
        // Check 11: created within the acceptable window (§11.1): not older than
        // `proof_max_age`, not in the future, each with the clock skew.
        let cfg = &self.config;
        let skew = cfg.clock_skew;
        let max_age = cfg.dpop.proof_max_age.max(1);
        if iat > request.now.saturating_add(skew) {
            return Err(invalid("the DPoP proof was issued in the future"));
        }
        if iat < request.now.saturating_sub(max_age.saturating_add(skew)) {
            return Err(invalid("the DPoP proof is too old"));
        }
        // Check 12 (resource access): `ath` is the hash of the access token presented.
        if let Some(token) = request.access_token {
            let expected = base64url_encode(&sha256(token.as_bytes()));
            match claims.get("ath") {
                Some(Value::String(ath)) if *ath == expected => {}
                Some(_) => {
                    return Err(invalid(
                        "the DPoP proof's ath is not the hash of this access token",
                    ));
                }
                None => return Err(invalid("the DPoP proof has no ath")),
            }
        }
        // Check 10 and §8: our nonce, when we require one. A nonce we did not make (or an
        // expired one) is answered like a missing one, so the client retries with a fresh
        // nonce from the `DPoP-Nonce` header.
        if request.require_nonce {
            match claims.get("nonce") {
                None => {
                    return Err(use_nonce(
                        "a DPoP nonce is required: sign a new proof with the nonce from the \
                         DPoP-Nonce header",
                    ));
                }
                Some(Value::String(nonce)) if self.dpop_nonce_is_valid(nonce, request.now) => {}
                Some(_) => {
                    return Err(use_nonce(
                        "the DPoP nonce is invalid or expired: sign a new proof with the nonce \
                         from the DPoP-Nonce header",
                    ));
                }
            }
        }
        // §11.1: single use. The replay table is keyed by the key's thumbprint, and a jti is
        // kept as long as its proof could still be accepted.
        let jkt = verified.thumbprint().to_owned();
        let expires_at = iat
            .saturating_add(max_age)
            .saturating_add(skew)
            .saturating_add(1);
        let fresh = self
            .store
            .record_assertion_jti(&format!("dpop:{jkt}"), jti, expires_at, request.now)
            .await?;
        if !fresh {
            return Err(invalid("the DPoP proof has already been used"));
        }
        Ok(jkt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn htu_normalisation() {
        let n = |s: &str| normalized_htu(s);
        assert_eq!(
            n("HTTPS://Auth.Example.COM:443/token"),
            n("https://auth.example.com/token")
        );
        assert_eq!(
            n("http://localhost:80/token?x=1#frag"),
            n("http://localhost/token")
        );
        assert_ne!(
            n("https://auth.example.com:8443/token"),
            n("https://auth.example.com/token")
        );
        assert_ne!(
            n("https://auth.example.com/Token"),
            n("https://auth.example.com/token")
        );
        assert_eq!(n("urn:x:y"), None);
        assert_eq!(n("not a url"), None);
    }

    #[test]
    fn numeric_dates() {
        assert_eq!(seconds(&serde_json::json!(12)), Some(12));
        assert_eq!(seconds(&serde_json::json!(12.9)), Some(12));
        assert_eq!(seconds(&serde_json::json!("12")), None);
        assert_eq!(seconds(&serde_json::json!(1e300)), None);
    }

    #[test]
    fn algs_param_lists_only_asymmetric_algorithms() {
        let algs = dpop_algs_param();
        assert!(algs.contains("ES256"));
        assert!(!algs.contains("HS"));
        assert!(!algs.contains("none"));
    }
}
