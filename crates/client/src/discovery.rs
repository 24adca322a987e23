//! Finding the token endpoint from the issuer: OpenID Connect Discovery 1.0 §4
//! (`{issuer}/.well-known/openid-configuration`), then
//! [RFC 8414 §3](https://www.rfc-editor.org/rfc/rfc8414#section-3)
//! (`/.well-known/oauth-authorization-server`, inserted before the issuer's path).

use serde::Deserialize;

use crate::Error;

/// The members of the metadata document this crate uses.
#[derive(Debug, Deserialize)]
pub(crate) struct Metadata {
    pub(crate) issuer: String,
    pub(crate) token_endpoint: Option<String>,
}

/// Fetches the metadata and returns the token endpoint.
pub(crate) async fn token_endpoint(http: &reqwest::Client, issuer: &str) -> Result<String, Error> {
    let mut last_error = String::new();
    for url in well_known_urls(issuer)? {
        match fetch(http, &url).await {
            Ok(metadata) => {
                // OpenID Connect Discovery 1.0 §4.3 / RFC 8414 §3.3: the `issuer` value
                // returned MUST be identical to the issuer the document was requested for;
                // otherwise the document MUST NOT be used.
                if metadata.issuer != issuer {
                    return Err(Error::Discovery(format!(
                        "{url} names issuer '{}', expected '{issuer}'",
                        metadata.issuer
                    )));
                }
                let endpoint = metadata
                    .token_endpoint
                    .ok_or_else(|| Error::Discovery(format!("{url} has no token_endpoint")))?;
                crate::client::check_url(&endpoint)?;
                return Ok(endpoint);
            }
            Err(e) => last_error = e,
        }
    }
    Err(Error::Discovery(last_error))
}

async fn fetch(http: &reqwest::Client, url: &str) -> Result<Metadata, String> {
    let response = http
        .get(url)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    if !response.status().is_success() {
        return Err(format!("{url}: HTTP {}", response.status().as_u16()));
    }
    response
        .json::<Metadata>()
        .await
        .map_err(|_| format!("{url}: not a metadata document"))
}

/// The two well-known locations, OpenID Connect first.
fn well_known_urls(issuer: &str) -> Result<[String; 2], Error> {
    let parsed = url::Url::parse(issuer)
        .map_err(|_| Error::InvalidUrl(format!("issuer '{issuer}' is not an absolute URL")))?;
    // OpenID Connect Discovery 1.0 §4: append to the issuer, without a doubled slash.
    let oidc = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    // RFC 8414 §3.1: insert the well-known suffix between the host and the path.
    let mut rfc8414 = parsed.clone();
    let path = parsed.path().trim_end_matches('/');
    rfc8414.set_path(&format!("/.well-known/oauth-authorization-server{path}"));
    Ok([oidc, rfc8414.to_string()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_locations() {
        assert_eq!(
            well_known_urls("https://as.example").unwrap(),
            [
                "https://as.example/.well-known/openid-configuration",
                "https://as.example/.well-known/oauth-authorization-server"
            ]
        );
        assert_eq!(
            well_known_urls("https://as.example/tenant/1").unwrap(),
            [
                "https://as.example/tenant/1/.well-known/openid-configuration",
                "https://as.example/.well-known/oauth-authorization-server/tenant/1"
            ]
        );
    }
}
