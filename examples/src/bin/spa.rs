//! Serves the single-page app of docs/guide-spa.md: one static page, `examples/spa/index.html`,
//! whose JavaScript is the OpenID Connect client. This server only hands out the page; it holds
//! no secrets and sees no tokens.
//!
//! The page learns its configuration (issuer, client id, redirect URI) from a JSON data block
//! the server fills in. Values are JSON-encoded and then `<`, `>` and `&` are written as
//! `\u003c`, `\u003e` and `\u0026`, so no value can close the `<script>` element it sits in.
//! The page is served with a Content-Security-Policy that allows only its own inline script
//! (by hash) and connections to the issuer.
//!
//! Environment: `WARDEN_ISSUER` (default `http://127.0.0.1:8080`), `CLIENT_ID`, `LISTEN`
//! (default `127.0.0.1:3001`).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// The page, with `{{CONFIG}}` where the configuration goes.
const INDEX_HTML: &str = include_str!("../../spa/index.html");

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let issuer = var("WARDEN_ISSUER").unwrap_or_else(|| String::from("http://127.0.0.1:8080"));
    let client_id = var("CLIENT_ID").ok_or(
        "set CLIENT_ID (see docs/guide-spa.md: warden client create --auth-method none ...)",
    )?;
    let listen_raw = var("LISTEN").unwrap_or_else(|| String::from("127.0.0.1:3001"));
    let listen: SocketAddr = listen_raw
        .parse()
        .map_err(|_| format!("LISTEN={listen_raw:?} is not an address like 127.0.0.1:3001"))?;
    // The page is its own redirect URI: register exactly this.
    let redirect_uri = format!("http://{listen_raw}/");

    let config = serde_json::json!({
        "issuer": issuer,
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": "openid profile email",
    });
    let html = INDEX_HTML.replace("{{CONFIG}}", &script_safe_json(&config)?);
    let csp = content_security_policy(&html, &issuer)?;
    let page = Arc::new((html, csp));

    let listener = tokio::net::TcpListener::bind(listen).await?;
    eprintln!("single-page app on {redirect_uri} (issuer {issuer}, client {client_id})");
    let router = axum::Router::new().route(
        "/",
        axum::routing::get(move || {
            let page = page.clone();
            async move { serve_page(&page.0, &page.1) }
        }),
    );
    axum::serve(listener, router).await?;
    Ok(())
}

fn serve_page(html: &str, csp: &HeaderValue) -> Response {
    let mut response = Html(html.to_owned()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, csp.clone());
    // The page URL carries the authorization code for a moment after the redirect: do not
    // leak it to other sites through Referer.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// JSON that can sit inside `<script type="application/json">`: `</script>` or `<!--` in a
/// value cannot end the element, because `<` never appears literally.
fn script_safe_json(value: &serde_json::Value) -> Result<String, BoxError> {
    Ok(serde_json::to_string(value)?
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026"))
}

/// `script-src` allows exactly the page's one inline module script (by its SHA-256);
/// `connect-src` allows the issuer's origin, where the page sends fetch requests (discovery,
/// JWKS, token, userinfo: Warden answers them with CORS headers).
fn content_security_policy(html: &str, issuer: &str) -> Result<HeaderValue, BoxError> {
    const OPEN: &str = "<script type=\"module\">";
    let start = html.find(OPEN).ok_or("index.html has no module script")? + OPEN.len();
    let len = html[start..]
        .find("</script>")
        .ok_or("index.html: unterminated script")?;
    let script = &html[start..start + len];
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, script.as_bytes());
    let origin = url::Url::parse(issuer)?.origin().ascii_serialization();
    let policy = format!(
        "default-src 'none'; script-src 'sha256-{}'; connect-src {origin}; base-uri 'none'; \
         form-action 'none'; frame-ancestors 'none'",
        STANDARD.encode(digest.as_ref())
    );
    Ok(HeaderValue::from_str(&policy)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configuration_cannot_close_the_script_element() {
        let json = script_safe_json(
            &serde_json::json!({ "client_id": "</script><script>alert(1)</script>&" }),
        )
        .unwrap();
        assert!(!json.contains('<') && !json.contains('>') && !json.contains('&'));
        let back: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(back["client_id"], "</script><script>alert(1)</script>&");
    }

    #[test]
    fn the_policy_names_the_inline_script_and_the_issuer() {
        let html = INDEX_HTML.replace("{{CONFIG}}", "{}");
        let csp = content_security_policy(&html, "http://127.0.0.1:8080").unwrap();
        let csp = csp.to_str().unwrap();
        assert!(csp.contains("script-src 'sha256-"), "{csp}");
        assert!(csp.contains("connect-src http://127.0.0.1:8080;"), "{csp}");
    }
}
