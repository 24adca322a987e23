//! The two browser cookies: the session (who is logged in) and the CSRF binding (see
//! `warden_core::session`). Both are `HttpOnly` and `SameSite=Lax`; over https they are
//! `Secure` and use the `__Host-` prefix, which pins them to this host and path `/`.

use axum::http::{HeaderMap, HeaderValue, header};

/// Cookie names and attributes for one issuer.
#[derive(Debug, Clone)]
pub struct CookieConfig {
    secure: bool,
    session: &'static str,
    csrf: &'static str,
}

impl CookieConfig {
    /// Cookies for an issuer: secure exactly when it is https.
    pub fn for_issuer(issuer: &str) -> Self {
        let secure = issuer.starts_with("https://");
        if secure {
            Self {
                secure,
                session: "__Host-warden_session",
                csrf: "__Host-warden_csrf",
            }
        } else {
            Self {
                secure,
                session: "warden_session",
                csrf: "warden_csrf",
            }
        }
    }

    /// The session cookie's value.
    pub fn session<'a>(&self, headers: &'a HeaderMap) -> Option<&'a str> {
        cookie(headers, self.session)
    }

    /// The CSRF binding cookie's value.
    pub fn csrf<'a>(&self, headers: &'a HeaderMap) -> Option<&'a str> {
        cookie(headers, self.csrf)
    }

    fn build(&self, name: &str, value: &str, max_age: i64) -> Option<HeaderValue> {
        let secure = if self.secure { "; Secure" } else { "" };
        HeaderValue::from_str(&format!(
            "{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}"
        ))
        .ok()
    }

    /// `Set-Cookie` for a new session.
    pub fn set_session(&self, value: &str, max_age: i64) -> Option<HeaderValue> {
        self.build(self.session, value, max_age.max(0))
    }

    /// `Set-Cookie` that removes the session.
    pub fn clear_session(&self) -> Option<HeaderValue> {
        self.build(self.session, "", 0)
    }

    /// `Set-Cookie` for a CSRF binding (kept for a day; each form's token is bound to it).
    pub fn set_csrf(&self, value: &str) -> Option<HeaderValue> {
        self.build(self.csrf, value, 86_400)
    }
}

/// A cookie's value from the `Cookie` headers.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty() && v.len() <= 200)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes_cookies() {
        let cfg = CookieConfig::for_issuer("https://id.example");
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; __Host-warden_session=abc; b=2"),
        );
        assert_eq!(cfg.session(&headers), Some("abc"));
        assert_eq!(cfg.csrf(&headers), None);
        let set = cfg.set_session("xyz", 60).unwrap();
        assert_eq!(
            set.to_str().unwrap(),
            "__Host-warden_session=xyz; Path=/; Max-Age=60; HttpOnly; SameSite=Lax; Secure"
        );
        let plain = CookieConfig::for_issuer("http://127.0.0.1:8080");
        assert!(
            !plain
                .set_csrf("v")
                .unwrap()
                .to_str()
                .unwrap()
                .contains("Secure")
        );
    }
}
