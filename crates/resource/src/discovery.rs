//! Authorization server metadata: [OpenID Connect Discovery 1.0 §4] first, then [RFC 8414 §3]
//! with the well-known segment inserted before the issuer's path.
//!
//! [OpenID Connect Discovery 1.0 §4]: https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderConfig
//! [RFC 8414 §3]: https://www.rfc-editor.org/rfc/rfc8414#section-3

use serde::Deserialize;
use url::{Position, Url};

use crate::BuildError;
use crate::http::get_json;

/// The members of the metadata this crate uses.
#[derive(Debug, Deserialize)]
pub(crate) struct Metadata {
    pub(crate) issuer: String,
    pub(crate) jwks_uri: String,
    #[serde(default)]
    pub(crate) introspection_endpoint: Option<String>,
}

/// Fetches the metadata of `issuer` (the configured string, parsed as `url`) and checks that it
/// names exactly that issuer.
pub(crate) async fn discover(
    http: &reqwest::Client,
    issuer: &str,
    url: &Url,
) -> Result<Metadata, BuildError> {
    for url in metadata_urls(url) {
        match get_json::<Metadata>(http, &url).await {
            Ok(metadata) => {
                // RFC 8414 §3.3 / OIDC Discovery §4.3: the issuer "MUST be identical" to the
                // one the metadata was retrieved for; otherwise the document must not be used.
                // Compared as the exact configured string, not a normalised URL.
                if metadata.issuer != issuer {
                    return Err(BuildError::IssuerMismatch);
                }
                return Ok(metadata);
            }
            Err(e) => tracing::debug!(%url, error = %e, "metadata not available here"),
        }
    }
    Err(BuildError::Discovery)
}

/// OIDC Discovery §4: append `/.well-known/openid-configuration` to the issuer (without its
/// trailing `/`). RFC 8414 §3.1: insert `/.well-known/oauth-authorization-server` between the
/// host and the path, after removing the path's terminating `/`.
pub(crate) fn metadata_urls(issuer: &Url) -> [String; 2] {
    let base = issuer[..Position::AfterPath].trim_end_matches('/');
    let origin = &issuer[..Position::BeforePath];
    let path = issuer.path().trim_end_matches('/');
    [
        format!("{base}/.well-known/openid-configuration"),
        format!("{origin}/.well-known/oauth-authorization-server{path}"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_urls() {
        let issuer = Url::parse("https://auth.example.com").unwrap();
        assert_eq!(
            metadata_urls(&issuer),
            [
                "https://auth.example.com/.well-known/openid-configuration",
                "https://auth.example.com/.well-known/oauth-authorization-server",
            ]
        );
        let issuer = Url::parse("https://auth.example.com:8443/tenant/a/").unwrap();
        assert_eq!(
            metadata_urls(&issuer),
            [
                "https://auth.example.com:8443/tenant/a/.well-known/openid-configuration",
                "https://auth.example.com:8443/.well-known/oauth-authorization-server/tenant/a",
            ]
        );
    }
}
