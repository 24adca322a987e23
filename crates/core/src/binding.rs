//! Sender-constrained tokens: what the transport tells the engine about the caller's proof of
//! possession, and the confirmation (`cnf`, RFC 7800) a bound token carries.
//!
//! The server fills a [`PresentedCertificate`] from the TLS handshake (or, behind a
//! TLS-terminating proxy, from a header accepted only from configured proxy addresses) and
//! passes the raw `DPoP` header; the engine decides what they prove.

use serde::{Deserialize, Serialize};
use warden_jose::{base64url_encode, sha256};
use warden_types::ErrorCode;

use crate::client_auth::CallContext;
use crate::engine::Engine;
use crate::error::OAuthError;
use crate::model::{BindingRequirement, Client};

/// The client certificate presented on this request's connection.
#[derive(Clone, PartialEq, Eq)]
pub struct PresentedCertificate {
    /// The end-entity certificate, DER.
    pub der: Vec<u8>,
    /// Whether it chains to one of the configured client CAs and is within its validity
    /// period (checked by the transport with the system clock). `tls_client_auth` requires
    /// it; `self_signed_tls_client_auth` does not (the certificate is matched by value).
    pub chain_verified: bool,
}

impl PresentedCertificate {
    /// RFC 8705 §3.1 `x5t#S256`: base64url SHA-256 of the DER certificate.
    pub fn thumbprint(&self) -> String {
        base64url_encode(&sha256(&self.der))
    }
}

impl std::fmt::Debug for PresentedCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PresentedCertificate")
            .field("x5t#S256", &self.thumbprint())
            .field("chain_verified", &self.chain_verified)
            .finish()
    }
}

/// RFC 7800 confirmation of a bound token: the key its holder must prove.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    /// RFC 8705 §3.1: SHA-256 thumbprint of the client certificate.
    #[serde(rename = "x5t#S256", default, skip_serializing_if = "Option::is_none")]
    pub x5t_s256: Option<String>,
    /// RFC 9449 §6.1: JWK SHA-256 thumbprint (RFC 7638) of the DPoP key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jkt: Option<String>,
}

impl Confirmation {
    /// Whether the token is bound at all.
    pub fn is_empty(&self) -> bool {
        self.x5t_s256.is_none() && self.jkt.is_none()
    }

    /// The `cnf` claim value, or `None` when unbound.
    pub fn to_claim(&self) -> Option<serde_json::Value> {
        if self.is_empty() {
            return None;
        }
        serde_json::to_value(self).ok()
    }

    /// Reads a `cnf` claim (unknown members are ignored).
    pub fn from_claim(value: &serde_json::Value) -> Self {
        serde_json::from_value(value.clone()).unwrap_or_default()
    }
}

impl Confirmation {
    /// The token type of a token with this confirmation: `DPoP` for a DPoP-bound token
    /// (RFC 9449 §5), `Bearer` otherwise (certificate-bound tokens stay `Bearer`, RFC 8705).
    pub fn token_type(&self) -> &'static str {
        if self.jkt.is_some() { "DPoP" } else { "Bearer" }
    }

    /// Whether this confirmation satisfies what `api` demands.
    pub fn satisfies(&self, requirement: BindingRequirement) -> bool {
        match requirement {
            BindingRequirement::None => true,
            BindingRequirement::Certificate => self.x5t_s256.is_some(),
            BindingRequirement::Dpop => self.jkt.is_some(),
            BindingRequirement::Any => !self.is_empty(),
        }
    }
}

/// RFC 8705 §3: a token bound to a certificate (`cnf.x5t#S256`) is accepted only on a
/// connection presenting that very certificate; unbound tokens need none.
pub fn check_certificate_binding(
    cnf: Option<&serde_json::Value>,
    certificate: Option<&PresentedCertificate>,
) -> Result<(), OAuthError> {
    let Some(bound) = cnf.map(Confirmation::from_claim).and_then(|c| c.x5t_s256) else {
        return Ok(());
    };
    match certificate {
        Some(cert) if cert.thumbprint() == bound => Ok(()),
        Some(_) => Err(OAuthError::invalid_token(
            "this access token is bound to another client certificate than the one presented",
        )),
        None => Err(OAuthError::invalid_token(
            "this access token is bound to a client certificate: present it (mutual TLS)",
        )),
    }
}

impl Engine {
    /// What the caller proved at the token endpoint, and so what its tokens will be bound
    /// to: the connection's client certificate (RFC 8705 §3, whatever the authentication
    /// method) and the key of a valid DPoP proof (RFC 9449 §5). Enforces the client's own
    /// binding settings; an API's requirement is checked when its token is minted.
    pub(crate) async fn sender_confirmation(
        &self,
        client: &Client,
        ctx: &CallContext<'_>,
    ) -> Result<Confirmation, OAuthError> {
        let x5t_s256 = ctx.certificate.map(PresentedCertificate::thumbprint);
        let jkt = self.token_endpoint_dpop(ctx).await?;
        if client.binding.certificate_bound && x5t_s256.is_none() {
            return Err(OAuthError::invalid_request(
                "this client's tokens are certificate-bound: present its client certificate \
                 (mutual TLS)",
            ));
        }
        if client.binding.dpop_bound && jkt.is_none() {
            return Err(OAuthError::new(
                ErrorCode::InvalidDpopProof,
                "this client's tokens are DPoP-bound: send a DPoP proof",
            ));
        }
        Ok(Confirmation { x5t_s256, jkt })
    }
}
