//! Authorization responses: the parameters sent back to the client's redirect URI, in the
//! query, the fragment, or an auto-submitted form (OAuth 2.0 Form Post Response Mode). Every
//! response carries `iss` (RFC 9207) and `state` when the request had one.

use url::Url;
use warden_types::ErrorCode;

use super::request::ResponseMode;

/// A response to deliver to the client through the browser.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthorizationResponse {
    /// The redirect URI, exactly as validated.
    pub redirect_uri: String,
    /// How to deliver it.
    pub mode: ResponseMode,
    /// The parameters, in order.
    pub params: Vec<(String, String)>,
}

impl AuthorizationResponse {
    /// An error response (RFC 6749 §4.1.2.1). `iss` is added by [`Self::with_issuer`].
    pub fn error(
        redirect_uri: &str,
        mode: ResponseMode,
        code: ErrorCode,
        description: &str,
        state: Option<&str>,
    ) -> Self {
        let mut params = vec![
            (String::from("error"), code.as_str().to_owned()),
            (String::from("error_description"), description.to_owned()),
        ];
        if let Some(state) = state {
            params.push((String::from("state"), state.to_owned()));
        }
        Self {
            redirect_uri: redirect_uri.to_owned(),
            mode,
            params,
        }
    }

    /// Adds `iss` (RFC 9207 §2) unless present.
    pub fn with_issuer(mut self, issuer: &str) -> Self {
        if !self.params.iter().any(|(k, _)| k == "iss") {
            self.params.push((String::from("iss"), issuer.to_owned()));
        }
        self
    }

    /// The `error` code, if this is an error response.
    pub fn error_code(&self) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == "error")
            .map(|(_, v)| v.as_str())
    }

    /// The URL to redirect to, for the query and fragment modes. Parameters are appended to an
    /// existing query (RFC 6749 §3.1.2: the query component "MUST be retained").
    pub fn location(&self) -> String {
        let encoded = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(self.params.iter())
            .finish();
        match self.mode {
            ResponseMode::Fragment => {
                let base = self
                    .redirect_uri
                    .split_once('#')
                    .map_or(self.redirect_uri.as_str(), |(b, _)| b);
                format!("{base}#{encoded}")
            }
            ResponseMode::Query | ResponseMode::FormPost => match Url::parse(&self.redirect_uri) {
                Ok(mut url) => {
                    url.query_pairs_mut().extend_pairs(self.params.iter());
                    url.to_string()
                }
                Err(_) => format!("{}?{encoded}", self.redirect_uri),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_is_appended_and_encoded() {
        let r = AuthorizationResponse {
            redirect_uri: String::from("https://app.example/cb?x=1"),
            mode: ResponseMode::Query,
            params: vec![
                (String::from("code"), String::from("a b")),
                (String::from("state"), String::from("s&t")),
            ],
        }
        .with_issuer("https://id.example");
        let loc = r.location();
        assert_eq!(
            loc,
            "https://app.example/cb?x=1&code=a+b&state=s%26t&iss=https%3A%2F%2Fid.example"
        );
    }

    #[test]
    fn fragment_mode() {
        let r = AuthorizationResponse::error(
            "https://app.example/cb",
            ResponseMode::Fragment,
            ErrorCode::AccessDenied,
            "no",
            Some("xyz"),
        );
        assert_eq!(r.error_code(), Some("access_denied"));
        assert!(
            r.location()
                .starts_with("https://app.example/cb#error=access_denied")
        );
    }
}
