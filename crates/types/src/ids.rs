//! Newtypes for protocol identifiers, so a client id is never passed where an audience is due.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! string_newtype {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps a string without checking it; parsing happens at the edges.
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            /// The identifier as it appears on the wire.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Consumes the newtype.
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }
    };
}

string_newtype!(
    /// OAuth 2.0 client identifier (RFC 6749 §2.2).
    ClientId
);
string_newtype!(
    /// The identifier of a protected API: an absolute URI that becomes the access token's `aud`
    /// (RFC 8707 §2, RFC 9068 §3).
    ApiIdentifier
);
string_newtype!(
    /// JWK key identifier (RFC 7517 §4.5).
    Kid
);

impl ApiIdentifier {
    /// Parses an API identifier: RFC 8707 §2 requires an absolute URI without a fragment.
    pub fn parse(value: &str) -> Result<Self, InvalidApiIdentifier> {
        let url = url::Url::parse(value).map_err(|_| InvalidApiIdentifier::NotAbsolute)?;
        if url.fragment().is_some() {
            return Err(InvalidApiIdentifier::Fragment);
        }
        if value.len() > 2048 {
            return Err(InvalidApiIdentifier::TooLong);
        }
        // Keep the string exactly as given: audiences are compared as strings (RFC 7519 §4.1.3).
        Ok(Self(value.to_owned()))
    }
}

/// Why a string is not a valid API identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvalidApiIdentifier {
    /// RFC 8707 §2: "MUST be an absolute URI".
    #[error("an API identifier must be an absolute URI")]
    NotAbsolute,
    /// RFC 8707 §2: "MUST NOT include a fragment component".
    #[error("an API identifier must not include a fragment")]
    Fragment,
    /// Bounded so a hostile request cannot grow stored rows.
    #[error("an API identifier must be at most 2048 characters")]
    TooLong,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_identifier_rules() {
        assert!(ApiIdentifier::parse("https://api.example.com/payments").is_ok());
        assert!(ApiIdentifier::parse("urn:example:payments").is_ok());
        assert_eq!(
            ApiIdentifier::parse("payments"),
            Err(InvalidApiIdentifier::NotAbsolute)
        );
        assert_eq!(
            ApiIdentifier::parse("https://api.example.com/#x"),
            Err(InvalidApiIdentifier::Fragment)
        );
        // No normalisation: the trailing slash is part of the audience.
        assert_eq!(
            ApiIdentifier::parse("https://a.example/").unwrap().as_str(),
            "https://a.example/"
        );
    }
}
