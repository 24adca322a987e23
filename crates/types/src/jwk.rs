//! RFC 7517 JSON Web Key and JWK Set, as they travel on the wire.
//!
//! These are public keys only. Parameters that carry private material (`d`, `p`, `q`, `dp`,
//! `dq`, `qi`, `k`) are recognised only so registration can refuse a JWK Set that leaks them.

use serde::{Deserialize, Serialize};

/// A JSON Web Key (RFC 7517 §4) with the members Warden uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    /// Key type: `RSA`, `EC`, `OKP` (or `oct`, which Warden never accepts as a client key).
    pub kty: String,
    /// Key id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// Intended use: `sig` or `enc`.
    #[serde(rename = "use", default, skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
    /// The algorithm this key is meant for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// Permitted operations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_ops: Option<Vec<String>>,
    /// RSA modulus, base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    /// RSA public exponent, base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    /// Curve: `P-256`, `P-384`, `Ed25519`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    /// EC x coordinate or OKP public key, base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// EC y coordinate, base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    /// X.509 certificate chain (RFC 7517 §4.7), standard base64 DER.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x5c: Option<Vec<String>>,
    /// Private exponent or key; present only in keys that must be refused.
    #[serde(default, skip_serializing)]
    pub d: Option<serde_json::Value>,
    /// Symmetric key value; present only in keys that must be refused.
    #[serde(default, skip_serializing)]
    pub k: Option<serde_json::Value>,
}

impl Jwk {
    /// Whether the JWK carries private or symmetric key material.
    pub fn has_private_material(&self) -> bool {
        self.d.is_some() || self.k.is_some()
    }
}

/// A JWK Set (RFC 7517 §5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct JwkSet {
    /// The keys.
    pub keys: Vec<Jwk>,
}
