//! Client authentication methods (RFC 7591 §2, RFC 8705 §2), grant types and token formats.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// How a client authenticates at the token endpoint (`token_endpoint_auth_method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenEndpointAuthMethod {
    /// HTTP Basic with the client id and secret (RFC 6749 §2.3.1); the RFC 7591 §2 default.
    #[default]
    ClientSecretBasic,
    /// Client id and secret in the form body (RFC 6749 §2.3.1).
    ClientSecretPost,
    /// JWT assertion signed with the client secret (HMAC; OIDC Core §9, RFC 7523).
    ClientSecretJwt,
    /// JWT assertion signed with the client's private key (RFC 7523).
    PrivateKeyJwt,
    /// Mutual TLS with a PKI certificate (RFC 8705 §2.1).
    TlsClientAuth,
    /// Mutual TLS with a self-signed certificate (RFC 8705 §2.2).
    SelfSignedTlsClientAuth,
    /// A public client: no authentication.
    None,
}

impl TokenEndpointAuthMethod {
    /// Every method, in the order of the interface contract.
    pub const ALL: [TokenEndpointAuthMethod; 7] = [
        Self::ClientSecretBasic,
        Self::ClientSecretPost,
        Self::ClientSecretJwt,
        Self::PrivateKeyJwt,
        Self::TlsClientAuth,
        Self::SelfSignedTlsClientAuth,
        Self::None,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::ClientSecretJwt => "client_secret_jwt",
            Self::PrivateKeyJwt => "private_key_jwt",
            Self::TlsClientAuth => "tls_client_auth",
            Self::SelfSignedTlsClientAuth => "self_signed_tls_client_auth",
            Self::None => "none",
        }
    }

    /// Whether Warden generates a client secret for this method.
    pub fn uses_secret(self) -> bool {
        matches!(
            self,
            Self::ClientSecretBasic | Self::ClientSecretPost | Self::ClientSecretJwt
        )
    }

    /// Whether the method needs the client's public keys (`jwks` or `jwks_uri`).
    pub fn uses_client_keys(self) -> bool {
        matches!(self, Self::PrivateKeyJwt)
    }

    /// Whether the method relies on mutual TLS.
    pub fn is_mtls(self) -> bool {
        matches!(self, Self::TlsClientAuth | Self::SelfSignedTlsClientAuth)
    }
}

impl fmt::Display for TokenEndpointAuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that names no known authentication method.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown token endpoint authentication method")]
pub struct UnknownAuthMethod;

impl FromStr for TokenEndpointAuthMethod {
    type Err = UnknownAuthMethod;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or(UnknownAuthMethod)
    }
}

/// An OAuth grant type. Unknown values parse to [`GrantType::Other`] so the token endpoint
/// can answer `unsupported_grant_type` rather than a framework error.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GrantType {
    /// RFC 6749 §4.4.
    ClientCredentials,
    /// RFC 6749 §4.1.
    AuthorizationCode,
    /// RFC 6749 §6.
    RefreshToken,
    /// RFC 8693.
    TokenExchange,
    /// RFC 7523 §2.1.
    JwtBearer,
    /// Anything else.
    Other(String),
}

impl GrantType {
    /// The wire value.
    pub fn as_str(&self) -> &str {
        match self {
            Self::ClientCredentials => "client_credentials",
            Self::AuthorizationCode => "authorization_code",
            Self::RefreshToken => "refresh_token",
            Self::TokenExchange => "urn:ietf:params:oauth:grant-type:token-exchange",
            Self::JwtBearer => "urn:ietf:params:oauth:grant-type:jwt-bearer",
            Self::Other(s) => s,
        }
    }

    /// Parses a wire value; never fails.
    pub fn parse(value: &str) -> Self {
        match value {
            "client_credentials" => Self::ClientCredentials,
            "authorization_code" => Self::AuthorizationCode,
            "refresh_token" => Self::RefreshToken,
            "urn:ietf:params:oauth:grant-type:token-exchange" => Self::TokenExchange,
            "urn:ietf:params:oauth:grant-type:jwt-bearer" => Self::JwtBearer,
            other => Self::Other(other.to_owned()),
        }
    }
}

impl fmt::Display for GrantType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for GrantType {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for GrantType {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Ok(Self::parse(&raw))
    }
}

/// The format of an API's access tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TokenFormat {
    /// RFC 9068 JWT, validated locally against the JWKS.
    #[default]
    Jwt,
    /// A random reference, validated by introspection (RFC 7662).
    Opaque,
}

impl TokenFormat {
    /// The wire/config name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Jwt => "jwt",
            Self::Opaque => "opaque",
        }
    }
}

impl FromStr for TokenFormat {
    type Err = UnknownAuthMethod;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "jwt" => Ok(Self::Jwt),
            "opaque" => Ok(Self::Opaque),
            _ => Err(UnknownAuthMethod),
        }
    }
}

impl fmt::Display for TokenFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
