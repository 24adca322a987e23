//! Sender-constrained tokens: what the transport tells the engine about the caller's proof of
//! possession, and the confirmation (`cnf`, RFC 7800) a bound token carries.
//!
//! The server fills a [`PresentedCertificate`] from the TLS handshake (or, behind a
//! TLS-terminating proxy, from a header accepted only from configured proxy addresses) and
//! passes the raw `DPoP` header; the engine decides what they prove.

use serde::{Deserialize, Serialize};
use warden_jose::{base64url_encode, sha256};

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
