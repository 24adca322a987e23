//! Server-rendered HTML for the human login flow: sign-in, consent, error, logout
//! confirmation, signed-out, and the OAuth 2.0 Form Post Response Mode page.
//!
//! Templates live in `crates/server/templates/` and are embedded at compile time and
//! rendered with `minijinja`, which HTML-escapes every interpolated value in `.html`
//! templates. Client names and URIs come from dynamic registration and are treated as
//! hostile: they are only ever interpolated escaped, and URIs are only turned into links
//! or images when they are absolute `http(s)` URLs.
//!
//! The pages work without JavaScript. The only inline code is one `<style>` block (built
//! from the [`Branding`] once, at startup) and the form-post auto-submit `<script>`; both
//! are allowed by the Content-Security-Policy through their SHA-256 hashes, so the policy
//! needs neither `'unsafe-inline'` nor any external source apart from images (the logos).

use std::fmt::Write as _;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value, context};
use serde::{Deserialize, Serialize};

const STYLE_TEMPLATE: &str = include_str!("../../templates/style.css");
const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../../templates/base.html")),
    ("login.html", include_str!("../../templates/login.html")),
    ("consent.html", include_str!("../../templates/consent.html")),
    ("error.html", include_str!("../../templates/error.html")),
    ("logout.html", include_str!("../../templates/logout.html")),
    (
        "logged_out.html",
        include_str!("../../templates/logged_out.html"),
    ),
    (
        "form_post.html",
        include_str!("../../templates/form_post.html"),
    ),
];

/// The form-post auto-submit script. Calls the prototype's `submit` so that a parameter
/// named `submit` cannot shadow the method.
const FORM_POST_SCRIPT: &str = "HTMLFormElement.prototype.submit.call(document.forms[0]);";

/// Longest accepted product name, in characters.
const MAX_PRODUCT_NAME_CHARS: usize = 80;
/// Longest accepted logo URL, in bytes.
const MAX_LOGO_URL_LEN: usize = 2048;

/// How the pages look: shown on every page, fixed at startup. Public because it is part of
/// [`crate::config::Settings`]; checked when the server starts and by `warden check-config`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Branding {
    /// Shown in the page header and titles; at most 80 characters.
    pub product_name: String,
    /// An absolute `https://` (or `http://`) URL of a logo shown above the card.
    pub logo_url: Option<String>,
    /// Buttons, links and focus rings: `#rgb` or `#rrggbb`.
    pub primary_color: String,
    /// Page background: `#rgb` or `#rrggbb`.
    pub background_color: String,
}

impl Default for Branding {
    fn default() -> Self {
        Self {
            product_name: "Warden".to_owned(),
            logo_url: None,
            primary_color: "#1d4ed8".to_owned(),
            background_color: "#f3f4f6".to_owned(),
        }
    }
}

/// Why a [`Branding`] (or the embedded templates) could not be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PagesError {
    #[error("branding: {field} must be a colour like #1d4ed8 or #14d, got {value:?}")]
    InvalidColor { field: &'static str, value: String },
    #[error(
        "branding: logo_url must be an absolute https:// or http:// URL without quotes or whitespace"
    )]
    InvalidLogoUrl,
    #[error("branding: product_name must be 1 to {MAX_PRODUCT_NAME_CHARS} characters")]
    InvalidProductName,
    #[error("page templates: {0}")]
    Template(#[from] minijinja::Error),
    #[error("page templates: content security policy is not a valid header value")]
    InvalidHeader,
}

/// The rendered pages. Built once at startup; share it behind an `Arc`.
#[derive(Debug)]
pub(crate) struct Pages {
    env: Environment<'static>,
    csp: String,
    csp_header: HeaderValue,
}

/// The sign-in form.
pub(crate) struct LoginPage<'a> {
    pub(crate) action: &'a str,
    pub(crate) csrf: &'a str,
    pub(crate) interaction: &'a str,
    pub(crate) client_name: &'a str,
    /// Prefilled username, e.g. from `login_hint`; empty for none.
    pub(crate) username: &'a str,
    pub(crate) error: Option<&'a str>,
    pub(crate) notice: Option<&'a str>,
}

/// One requested scope on the consent page.
#[derive(Serialize)]
pub(crate) struct ConsentItem<'a> {
    pub(crate) scope: &'a str,
    pub(crate) description: &'a str,
}

/// The consent form.
pub(crate) struct ConsentPage<'a> {
    pub(crate) action: &'a str,
    pub(crate) csrf: &'a str,
    pub(crate) interaction: &'a str,
    pub(crate) client_name: &'a str,
    /// Rendered as a link only when it is an absolute `http(s)` URL.
    pub(crate) client_uri: Option<&'a str>,
    /// Rendered as an image only when it is an absolute `http(s)` URL.
    pub(crate) logo_uri: Option<&'a str>,
    pub(crate) user_display: &'a str,
    pub(crate) items: &'a [ConsentItem<'a>],
    pub(crate) api_name: Option<&'a str>,
}

/// An error shown to the person (not to the client).
pub(crate) struct ErrorPage<'a> {
    pub(crate) title: &'a str,
    pub(crate) message: &'a str,
    pub(crate) error_code: Option<&'a str>,
    pub(crate) request_id: Option<&'a str>,
}

/// The RP-initiated logout confirmation form.
pub(crate) struct LogoutPage<'a> {
    pub(crate) action: &'a str,
    pub(crate) csrf: &'a str,
    pub(crate) client_name: Option<&'a str>,
    /// Extra hidden form fields (name, value), e.g. the logout request's parameters.
    pub(crate) hidden: &'a [(&'a str, &'a str)],
}

/// Shown after signing out when there is nowhere to redirect to.
pub(crate) struct LoggedOutPage<'a> {
    pub(crate) message: &'a str,
}

impl Pages {
    /// Validates the branding, builds the stylesheet and the Content-Security-Policy, and
    /// compiles the templates.
    pub(crate) fn new(branding: Branding) -> Result<Pages, PagesError> {
        let primary = parse_color("primary_color", &branding.primary_color)?;
        let background = parse_color("background_color", &branding.background_color)?;
        let name_chars = branding.product_name.chars().count();
        if branding.product_name.trim().is_empty()
            || name_chars > MAX_PRODUCT_NAME_CHARS
            || branding.product_name.chars().any(char::is_control)
        {
            return Err(PagesError::InvalidProductName);
        }
        if let Some(logo) = &branding.logo_url
            && (logo.len() > MAX_LOGO_URL_LEN || !is_http_url(logo))
        {
            return Err(PagesError::InvalidLogoUrl);
        }

        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_auto_escape_callback(|name| {
            if name.ends_with(".html") {
                AutoEscape::Html
            } else {
                AutoEscape::None
            }
        });

        let style = env.render_str(STYLE_TEMPLATE, style_context(primary, background))?;
        let style = style.trim().to_owned();

        let csp = format!(
            "default-src 'none'; style-src '{}'; script-src '{}'; img-src https: http: data:; \
             frame-ancestors 'none'; base-uri 'none'",
            csp_hash(&style),
            csp_hash(FORM_POST_SCRIPT),
        );
        let csp_header = HeaderValue::from_str(&csp).map_err(|_| PagesError::InvalidHeader)?;

        env.add_global("brand", Value::from_serialize(&branding));
        env.add_global("style", Value::from_safe_string(style));
        for (name, source) in TEMPLATES {
            env.add_template(name, source)?;
        }
        Ok(Pages {
            env,
            csp,
            csp_header,
        })
    }

    pub(crate) fn login(&self, page: &LoginPage<'_>) -> String {
        self.render(
            "login.html",
            context! {
                action => page.action,
                csrf => page.csrf,
                interaction => page.interaction,
                client_name => page.client_name,
                username => page.username,
                error => page.error,
                notice => page.notice,
            },
        )
    }

    pub(crate) fn consent(&self, page: &ConsentPage<'_>) -> String {
        self.render(
            "consent.html",
            context! {
                action => page.action,
                csrf => page.csrf,
                interaction => page.interaction,
                client_name => page.client_name,
                client_uri => page.client_uri.filter(|uri| is_http_url(uri)),
                logo_uri => page.logo_uri.filter(|uri| is_http_url(uri)),
                user_display => page.user_display,
                items => Value::from_serialize(page.items),
                api_name => page.api_name,
            },
        )
    }

    pub(crate) fn error(&self, page: &ErrorPage<'_>) -> String {
        self.render(
            "error.html",
            context! {
                title => page.title,
                message => page.message,
                error_code => page.error_code,
                request_id => page.request_id,
            },
        )
    }

    pub(crate) fn logout_confirm(&self, page: &LogoutPage<'_>) -> String {
        self.render(
            "logout.html",
            context! {
                action => page.action,
                csrf => page.csrf,
                client_name => page.client_name,
                hidden => Value::from_serialize(page.hidden),
            },
        )
    }

    pub(crate) fn logged_out(&self, page: &LoggedOutPage<'_>) -> String {
        self.render("logged_out.html", context! { message => page.message })
    }

    /// OAuth 2.0 Form Post Response Mode: an HTML page that auto-submits a POST of `params`
    /// to `redirect_uri`, with a visible button fallback inside `<noscript>` (works without
    /// JS).
    ///
    /// `redirect_uri` must be a registered redirect URI; as a last line of defence a URI
    /// with a script-capable scheme (`javascript:`, `data:`, …) or one that does not parse
    /// is never put in the form, and an error page is returned instead.
    pub(crate) fn form_post(&self, redirect_uri: &str, params: &[(&str, &str)]) -> String {
        if !is_safe_form_target(redirect_uri) {
            tracing::error!(
                "form_post: refusing to post to a non-URL or script-capable redirect URI"
            );
            return self.error(&ErrorPage {
                title: "Unable to return to the application",
                message: "The application's address is not valid, so you cannot be returned to it.",
                error_code: Some("invalid_redirect_uri"),
                request_id: None,
            });
        }
        self.render(
            "form_post.html",
            context! {
                redirect_uri => redirect_uri,
                params => Value::from_serialize(params),
                script => Value::from_safe_string(FORM_POST_SCRIPT.to_owned()),
            },
        )
    }

    /// Value for the Content-Security-Policy header of every page.
    #[allow(dead_code)] // used by the authorize/logout handlers (they get it via html_response today)
    pub(crate) fn content_security_policy(&self) -> &str {
        &self.csp
    }

    fn render(&self, name: &str, ctx: Value) -> String {
        match self
            .env
            .get_template(name)
            .and_then(|template| template.render(ctx))
        {
            Ok(html) => html,
            Err(error) => {
                tracing::error!(template = name, %error, "page template failed to render");
                FALLBACK_PAGE.to_owned()
            }
        }
    }
}

/// Served if a template fails to render (a bug: every template is rendered by the tests).
/// Needs no style or script, so it satisfies the policy.
const FALLBACK_PAGE: &str = "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>Something went wrong</title></head><body><main><h1>Something went wrong</h1>\
<p>This page could not be displayed. Please try again later.</p></main></body></html>\n";

/// Builds an HTML response with the security headers every page needs: given status,
/// `Content-Type: text/html; charset=utf-8`, `Cache-Control: no-store`, `Pragma: no-cache`,
/// the CSP, `X-Frame-Options: DENY`, `Referrer-Policy: no-referrer` and
/// `X-Content-Type-Options: nosniff`.
pub(crate) fn html_response(pages: &Pages, status: StatusCode, body: String) -> Response {
    let mut headers = HeaderMap::with_capacity(8);
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    headers.insert(header::CONTENT_SECURITY_POLICY, pages.csp_header.clone());
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    (status, headers, body).into_response()
}

/// `'sha256-…'` source expression for an inline block's exact text.
fn csp_hash(text: &str) -> String {
    format!(
        "sha256-{}",
        STANDARD.encode(warden_jose::sha256(text.as_bytes()))
    )
}

/// An absolute `http://` or `https://` URL with a host and no character that could break
/// out of an attribute or CSS (quotes, whitespace, angle brackets, backslashes, controls).
fn is_http_url(uri: &str) -> bool {
    if uri.chars().any(|c| {
        c.is_whitespace() || c.is_control() || matches!(c, '"' | '\'' | '<' | '>' | '\\' | '`')
    }) {
        return false;
    }
    let lower = uri
        .get(..8)
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    if !(lower.starts_with("https://") || lower.starts_with("http://")) {
        return false;
    }
    match url::Url::parse(uri) {
        Ok(url) => matches!(url.scheme(), "https" | "http") && url.host().is_some(),
        Err(_) => false,
    }
}

/// A parseable absolute URL whose scheme cannot run script in the page.
fn is_safe_form_target(uri: &str) -> bool {
    if uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    match url::Url::parse(uri) {
        Ok(url) => !matches!(
            url.scheme(),
            "javascript" | "data" | "vbscript" | "blob" | "file" | "about" | "filesystem"
        ),
        Err(_) => false,
    }
}

/// An sRGB colour parsed from `#rgb` or `#rrggbb`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rgb(u8, u8, u8);

impl Rgb {
    fn hex(self) -> String {
        let mut out = String::with_capacity(7);
        let _ = write!(out, "#{:02x}{:02x}{:02x}", self.0, self.1, self.2);
        out
    }

    /// WCAG relative luminance.
    fn luminance(self) -> f64 {
        fn channel(c: u8) -> f64 {
            let c = f64::from(c) / 255.0;
            if c <= 0.039_28 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        }
        0.2126 * channel(self.0) + 0.7152 * channel(self.1) + 0.0722 * channel(self.2)
    }

    /// WCAG contrast ratio between two colours (1 to 21).
    fn contrast(self, other: Rgb) -> f64 {
        let (a, b) = (self.luminance(), other.luminance());
        let (hi, lo) = if a > b { (a, b) } else { (b, a) };
        (hi + 0.05) / (lo + 0.05)
    }

    /// Mixes towards black by `amount` (0 to 1).
    fn darken(self, amount: f64) -> Rgb {
        let keep = (1.0 - amount).clamp(0.0, 1.0);
        let mix = |c: u8| (f64::from(c) * keep).round().clamp(0.0, 255.0) as u8;
        Rgb(mix(self.0), mix(self.1), mix(self.2))
    }

    /// This colour, darkened just enough to reach `ratio` against `against`.
    fn darkened_for_contrast(self, against: Rgb, ratio: f64) -> Rgb {
        let mut colour = self;
        for _ in 0..20 {
            if colour.contrast(against) >= ratio {
                break;
            }
            colour = colour.darken(0.1);
        }
        colour
    }
}

const WHITE: Rgb = Rgb(0xff, 0xff, 0xff);
const INK: Rgb = Rgb(0x11, 0x18, 0x27);

fn parse_color(field: &'static str, value: &str) -> Result<Rgb, PagesError> {
    let invalid = || PagesError::InvalidColor {
        field,
        value: value.to_owned(),
    };
    let hex = value.strip_prefix('#').ok_or_else(invalid)?;
    if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid());
    }
    let digit = |i: usize| -> Result<u8, PagesError> {
        hex.get(i..=i)
            .and_then(|d| u8::from_str_radix(d, 16).ok())
            .ok_or_else(invalid)
    };
    match hex.len() {
        3 => Ok(Rgb(digit(0)? * 17, digit(1)? * 17, digit(2)? * 17)),
        6 => Ok(Rgb(
            digit(0)? * 16 + digit(1)?,
            digit(2)? * 16 + digit(3)?,
            digit(4)? * 16 + digit(5)?,
        )),
        _ => Err(invalid()),
    }
}

/// Colours for the stylesheet, derived so text keeps WCAG AA contrast whatever the brand.
fn style_context(primary: Rgb, background: Rgb) -> Value {
    let on_primary = if primary.contrast(WHITE) >= primary.contrast(INK) {
        WHITE
    } else {
        INK
    };
    let on_background = if background.contrast(INK) >= background.contrast(WHITE) {
        INK
    } else {
        WHITE
    };
    let hover = if on_primary == WHITE {
        primary.darken(0.15)
    } else {
        // Light primary with dark text: darkening would hurt contrast, so lighten instead.
        Rgb(
            primary.0.saturating_add((255 - primary.0) / 4),
            primary.1.saturating_add((255 - primary.1) / 4),
            primary.2.saturating_add((255 - primary.2) / 4),
        )
    };
    context! {
        primary => primary.hex(),
        primary_hover => hover.hex(),
        on_primary => on_primary.hex(),
        background => background.hex(),
        on_background => on_background.hex(),
        link => primary.darkened_for_contrast(WHITE, 4.5).hex(),
        focus => primary.darkened_for_contrast(WHITE, 3.0).hex(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    const HOSTILE: &str = "<script>alert(1)</script>\"'&";

    fn pages() -> Pages {
        Pages::new(Branding::default()).expect("default branding is valid")
    }

    fn login_page<'a>(client_name: &'a str, error: Option<&'a str>) -> LoginPage<'a> {
        LoginPage {
            action: "/authorize/login",
            csrf: "csrf-token-123",
            interaction: "int-abc",
            client_name,
            username: "alice@example.com",
            error,
            notice: Some("Your session has expired. Please sign in again."),
        }
    }

    const ITEMS: &[ConsentItem<'static>] = &[
        ConsentItem {
            scope: "openid",
            description: "Confirm your identity",
        },
        ConsentItem {
            scope: "profile",
            description: "View your name and profile picture",
        },
        ConsentItem {
            scope: "email",
            description: "View your email address",
        },
        ConsentItem {
            scope: "offline_access",
            description: "Stay connected when you are not using the application",
        },
    ];

    fn consent_page<'a>(
        client_name: &'a str,
        client_uri: Option<&'a str>,
        logo_uri: Option<&'a str>,
    ) -> ConsentPage<'a> {
        ConsentPage {
            action: "/authorize/consent",
            csrf: "csrf-token-123",
            interaction: "int-abc",
            client_name,
            client_uri,
            logo_uri,
            user_display: "alice@example.com",
            items: ITEMS,
            api_name: Some("Orders API"),
        }
    }

    fn logout_page<'a>(client_name: Option<&'a str>) -> LogoutPage<'a> {
        LogoutPage {
            action: "/logout",
            csrf: "csrf-token-123",
            client_name,
            hidden: &[
                ("post_logout_redirect_uri", "https://app.example.com/bye"),
                ("state", "xyz"),
            ],
        }
    }

    fn error_page() -> ErrorPage<'static> {
        ErrorPage {
            title: "Something went wrong",
            message: "The application sent an invalid request. Please return to the application and try again.",
            error_code: Some("invalid_request"),
            request_id: Some("01HZX3Q9V7ABCDEF"),
        }
    }

    /// Every page once, with the optional parts filled in.
    fn all_pages(pages: &Pages) -> Vec<(&'static str, String)> {
        vec![
            (
                "login",
                pages.login(&login_page(
                    "Acme Dashboard",
                    Some("Incorrect username or password."),
                )),
            ),
            (
                "consent",
                pages.consent(&consent_page(
                    "Acme Dashboard",
                    Some("https://dashboard.acme.example/"),
                    None,
                )),
            ),
            ("error", pages.error(&error_page())),
            (
                "logout",
                pages.logout_confirm(&logout_page(Some("Acme Dashboard"))),
            ),
            (
                "logged_out",
                pages.logged_out(&LoggedOutPage {
                    message: "You can close this window, or sign in again from the application.",
                }),
            ),
            (
                "form_post",
                pages.form_post(
                    "https://app.example.com/callback",
                    &[("code", "SplxlOBeZQQYbYS6WxSbIA"), ("state", "af0ifjsldkj")],
                ),
            ),
        ]
    }

    /// Text between the first `open` and the following `close`.
    fn between<'a>(html: &'a str, open: &str, close: &str) -> Option<&'a str> {
        let start = html.find(open)? + open.len();
        let len = html[start..].find(close)?;
        Some(&html[start..start + len])
    }

    fn count(html: &str, needle: &str) -> usize {
        html.matches(needle).count()
    }

    #[test]
    fn hostile_client_name_is_escaped_everywhere() {
        let pages = pages();
        let rendered = [
            pages.login(&login_page(HOSTILE, Some(HOSTILE))),
            pages.consent(&ConsentPage {
                user_display: HOSTILE,
                api_name: Some(HOSTILE),
                items: &[ConsentItem {
                    scope: HOSTILE,
                    description: HOSTILE,
                }],
                ..consent_page(HOSTILE, Some(HOSTILE), Some(HOSTILE))
            }),
            pages.logout_confirm(&LogoutPage {
                hidden: &[(HOSTILE, HOSTILE)],
                ..logout_page(Some(HOSTILE))
            }),
            pages.error(&ErrorPage {
                title: HOSTILE,
                message: HOSTILE,
                error_code: Some(HOSTILE),
                request_id: Some(HOSTILE),
            }),
            pages.logged_out(&LoggedOutPage { message: HOSTILE }),
        ];
        for html in rendered {
            assert!(
                !html.contains("<script"),
                "unescaped script tag in:\n{html}"
            );
            assert!(!html.contains("alert(1)</"), "{html}");
            assert!(html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;&quot;&#x27;&amp;"));
        }
    }

    #[test]
    fn attribute_breakout_is_escaped() {
        let pages = pages();
        let html = pages.login(&LoginPage {
            username: "\" autofocus onfocus=\"alert(1)",
            csrf: "\"><img src=x onerror=alert(1)>",
            ..login_page("Acme", None)
        });
        assert!(!html.contains("onfocus=\"alert"));
        assert!(!html.contains("<img src=x"));
        assert!(html.contains("value=\"&quot; autofocus onfocus=&quot;alert(1)\""));
    }

    #[test]
    fn login_form_contract() {
        let html = pages().login(&login_page("Acme Dashboard", None));
        assert_eq!(count(&html, "<h1"), 1);
        assert!(html.starts_with("<!doctype html>"));
        assert!(html.contains("<html lang=\"en\">"));
        assert!(html.contains("<title>Sign in · Warden</title>"));
        assert!(html.contains("<main"));
        assert!(html.contains("<form method=\"post\" action=\"&#x2f;authorize&#x2f;login\">"));
        assert!(html.contains("<input type=\"hidden\" name=\"interaction\" value=\"int-abc\">"));
        assert!(html.contains("<input type=\"hidden\" name=\"csrf\" value=\"csrf-token-123\">"));
        assert!(html.contains("<label for=\"username\">"));
        assert!(html.contains("<label for=\"password\">"));
        assert!(html.contains(
            "<input id=\"username\" name=\"username\" autocomplete=\"username\" required"
        ));
        assert!(html.contains("value=\"alice@example.com\""));
        assert!(html.contains(
            "<input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required"
        ));
        assert!(
            html.contains("<button type=\"submit\" id=\"login\" name=\"action\" value=\"login\"")
        );
        assert!(html.contains("Acme Dashboard"));
        assert!(!html.contains("role=\"alert\""), "no error, no alert");
        assert!(!html.contains("<script"), "works without JavaScript");
    }

    #[test]
    fn login_error_is_an_alert() {
        let html = pages().login(&login_page("Acme", Some("Incorrect username or password.")));
        let alert = between(&html, "role=\"alert\">", "</div></div>").unwrap();
        assert!(alert.contains("Error: </span>Incorrect username or password."));
        assert!(html.contains("aria-describedby=\"form-error\""));
        assert!(html.contains("id=\"form-error\""));
        assert!(
            html.contains("role=\"status\""),
            "notice is announced politely"
        );
    }

    #[test]
    fn consent_form_contract() {
        let html = pages().consent(&consent_page(
            "Acme Dashboard",
            Some("https://dashboard.acme.example/"),
            Some("https://dashboard.acme.example/logo.png"),
        ));
        assert_eq!(count(&html, "<h1"), 1);
        assert!(html.contains("<form method=\"post\" action=\"&#x2f;authorize&#x2f;consent\">"));
        assert!(html.contains("name=\"interaction\" value=\"int-abc\""));
        assert!(html.contains("name=\"csrf\" value=\"csrf-token-123\""));
        assert!(
            html.contains("<button type=\"submit\" id=\"allow\" name=\"decision\" value=\"allow\"")
        );
        assert!(
            html.contains("<button type=\"submit\" id=\"deny\" name=\"decision\" value=\"deny\"")
        );
        for item in ITEMS {
            assert!(html.contains(item.scope), "{}", item.scope);
            assert!(html.contains(item.description), "{}", item.description);
        }
        assert!(html.contains("Acme Dashboard"));
        assert!(html.contains("alice@example.com"));
        assert!(html.contains("Orders API"));
        assert!(html.contains(
            "<a class=\"client-uri\" href=\"https:&#x2f;&#x2f;dashboard.acme.example&#x2f;\""
        ));
        assert!(
            html.contains("<img src=\"https:&#x2f;&#x2f;dashboard.acme.example&#x2f;logo.png\"")
        );
    }

    #[test]
    fn consent_without_optional_parts() {
        let html = pages().consent(&ConsentPage {
            items: &[],
            api_name: None,
            ..consent_page("Acme", None, None)
        });
        assert!(!html.contains("<a "));
        assert!(!html.contains("<img"));
        assert!(html.contains("confirm your identity"));
        assert!(html.contains("id=\"allow\""));
        assert!(html.contains("<div class=\"client-avatar\" aria-hidden=\"true\">A</div>"));
        for name in ["", "  ", "émile"] {
            let html = pages().consent(&consent_page(name, None, None));
            assert!(html.contains("id=\"allow\""), "{name:?}");
        }
    }

    #[test]
    fn consent_links_only_http_uris() {
        let pages = pages();
        for bad in [
            "javascript:alert(1)",
            "JAVASCRIPT:alert(1)",
            " javascript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "vbscript:msgbox",
            "//evil.example/",
            "/relative",
            "https://evil.example/\"onerror=\"alert(1)",
            "https://evil.example/ x",
            "ftp://files.example/",
        ] {
            let html = pages.consent(&consent_page("Acme", Some(bad), Some(bad)));
            assert!(!html.contains("<a "), "{bad} linked:\n{html}");
            assert!(!html.contains("<img"), "{bad} shown:\n{html}");
            assert!(!html.to_ascii_lowercase().contains("javascript:"), "{bad}");
        }
    }

    #[test]
    fn logout_form_contract() {
        let html = pages().logout_confirm(&logout_page(Some("Acme Dashboard")));
        assert_eq!(count(&html, "<h1"), 1);
        assert!(html.contains("<form method=\"post\" action=\"&#x2f;logout\">"));
        assert!(html.contains("<input type=\"hidden\" name=\"csrf\" value=\"csrf-token-123\">"));
        assert!(html.contains(
            "<input type=\"hidden\" name=\"post_logout_redirect_uri\" value=\"https:&#x2f;&#x2f;app.example.com&#x2f;bye\">"
        ));
        assert!(html.contains("<input type=\"hidden\" name=\"state\" value=\"xyz\">"));
        assert!(
            html.contains(
                "<button type=\"submit\" id=\"logout\" name=\"decision\" value=\"logout\""
            )
        );
        assert!(
            html.contains(
                "<button type=\"submit\" id=\"cancel\" name=\"decision\" value=\"cancel\""
            )
        );
        assert!(html.contains("Acme Dashboard"));
        let anonymous = pages().logout_confirm(&logout_page(None));
        assert!(anonymous.contains("id=\"logout\""));
        assert!(!anonymous.contains("is asking"));
    }

    #[test]
    fn error_and_logged_out_pages() {
        let pages = pages();
        let html = pages.error(&error_page());
        assert_eq!(count(&html, "<h1"), 1);
        assert!(html.contains("<h1>Something went wrong</h1>"));
        assert!(html.contains("invalid_request"));
        assert!(html.contains("01HZX3Q9V7ABCDEF"));
        let bare = pages.error(&ErrorPage {
            error_code: None,
            request_id: None,
            ..error_page()
        });
        assert!(!bare.contains("<dl"));
        let html = pages.logged_out(&LoggedOutPage {
            message: "You can close this window.",
        });
        assert_eq!(count(&html, "<h1"), 1);
        assert!(html.contains("You can close this window."));
    }

    #[test]
    fn form_post_posts_escaped_params_and_works_without_js() {
        let html = pages().form_post(
            "https://app.example.com/cb?x=1&y=\"2\"",
            &[
                ("code", "abc"),
                ("state", "\"><script>alert(1)</script>"),
                ("submit", "shadowing the method is harmless"),
            ],
        );
        assert!(html.contains(
            "<form method=\"post\" action=\"https:&#x2f;&#x2f;app.example.com&#x2f;cb?x=1&amp;y=&quot;2&quot;\">"
        ));
        assert!(html.contains("<input type=\"hidden\" name=\"code\" value=\"abc\">"));
        assert!(html.contains(
            "name=\"state\" value=\"&quot;&gt;&lt;script&gt;alert(1)&lt;&#x2f;script&gt;\""
        ));
        assert_eq!(count(&html, "<script"), 1, "only the auto-submit script");
        let noscript = between(&html, "<noscript>", "</noscript>").unwrap();
        assert!(noscript.contains("<button type=\"submit\""));
        assert!(noscript.contains("Continue"));
        assert_eq!(count(&html, "<h1"), 1);
    }

    #[test]
    fn form_post_refuses_script_capable_targets() {
        let pages = pages();
        for bad in [
            "javascript:alert(1)",
            "data:text/html,x",
            "not a url",
            "/relative",
        ] {
            let html = pages.form_post(bad, &[("code", "abc")]);
            assert!(!html.contains("<form"), "{bad}");
            assert!(!html.contains("abc"), "{bad}");
            assert!(!html.contains("alert(1)"), "{bad}");
        }
        let native = pages.form_post("com.example.app:/callback", &[("code", "abc")]);
        assert!(
            native.contains("<form method=\"post\" action=\"com.example.app:&#x2f;callback\">")
        );
    }

    #[test]
    fn csp_hashes_match_the_inline_blocks() {
        let pages = pages();
        let csp = pages.content_security_policy();
        for directive in [
            "default-src 'none'",
            "img-src https: http: data:",
            "frame-ancestors 'none'",
            "base-uri 'none'",
        ] {
            assert!(csp.contains(directive), "{directive} missing from {csp}");
        }
        assert!(
            !csp.contains("form-action"),
            "would block the redirect after consent"
        );
        assert!(!csp.contains("unsafe-inline"));
        let directive = |name: &str| -> String {
            csp.split(';')
                .map(str::trim)
                .find_map(|d| d.strip_prefix(name))
                .unwrap()
                .trim()
                .to_owned()
        };
        let style_src = directive("style-src");
        let script_src = directive("script-src");
        for (name, html) in all_pages(&pages) {
            assert_eq!(count(&html, "<style>"), 1, "{name}");
            let style = between(&html, "<style>", "</style>").unwrap();
            assert_eq!(style_src, format!("'{}'", csp_hash(style)), "{name}");
            assert!(
                !html.contains(" style="),
                "{name}: inline style attributes are blocked"
            );
            if name == "form_post" {
                let script = between(&html, "<script>", "</script>").unwrap();
                assert_eq!(script_src, format!("'{}'", csp_hash(script)));
            } else {
                assert!(!html.contains("<script"), "{name}");
            }
            // Only the optional logo may load anything external.
            assert!(!html.contains("<link"), "{name}");
            assert!(!html.contains("url("), "{name}");
        }
    }

    #[test]
    fn branding_is_applied_and_changes_the_hash() {
        let branded = Pages::new(Branding {
            product_name: "Acme ID".to_owned(),
            logo_url: Some("https://cdn.acme.example/logo.svg".to_owned()),
            primary_color: "#0A7".to_owned(),
            background_color: "#FAFAF9".to_owned(),
        })
        .unwrap();
        let html = branded.login(&login_page("Acme", None));
        assert!(html.contains("<title>Sign in · Acme ID</title>"));
        assert!(
            html.contains(
                "<img src=\"https:&#x2f;&#x2f;cdn.acme.example&#x2f;logo.svg\" alt=\"\">"
            )
        );
        let style = between(&html, "<style>", "</style>").unwrap();
        assert!(style.contains("#00aa77"));
        assert!(style.contains("#fafaf9"));
        assert_ne!(
            branded.content_security_policy(),
            pages().content_security_policy()
        );
    }

    #[test]
    fn light_primary_gets_dark_button_text() {
        let ctx = style_context(Rgb(0xff, 0xeb, 0x3b), WHITE);
        assert_eq!(ctx.get_attr("on_primary").unwrap().to_string(), "#111827");
        let link = parse_color("link", &ctx.get_attr("link").unwrap().to_string()).unwrap();
        assert!(link.contrast(WHITE) >= 4.5);
        let ctx = style_context(Rgb(0x1d, 0x4e, 0xd8), Rgb(0x11, 0x11, 0x11));
        assert_eq!(ctx.get_attr("on_primary").unwrap().to_string(), "#ffffff");
        assert_eq!(
            ctx.get_attr("on_background").unwrap().to_string(),
            "#ffffff"
        );
    }

    #[test]
    fn branding_validation() {
        let with = |f: &dyn Fn(&mut Branding)| {
            let mut branding = Branding::default();
            f(&mut branding);
            Pages::new(branding)
        };
        for bad in [
            "red;}",
            "red",
            "#fff;}body{display:none",
            "#12345",
            "#1234567",
            "#ggg",
            "fff",
            "",
            "#fff ",
            "#ff\u{0660}",
        ] {
            assert!(
                matches!(
                    with(&|b| b.primary_color = bad.to_owned()),
                    Err(PagesError::InvalidColor {
                        field: "primary_color",
                        ..
                    })
                ),
                "{bad:?}"
            );
            assert!(
                matches!(
                    with(&|b| b.background_color = bad.to_owned()),
                    Err(PagesError::InvalidColor {
                        field: "background_color",
                        ..
                    })
                ),
                "{bad:?}"
            );
        }
        for bad in [
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            "data:image/svg+xml,<svg onload=alert(1)>",
            "/logo.png",
            "//cdn.example/logo.png",
            "https://cdn.example/lo\"go.png",
            "https://cdn.example/lo'go.png",
            "https://cdn.example/lo go.png",
            "https://cdn.example/logo.png\n",
            "https://",
            "ftp://cdn.example/logo.png",
        ] {
            assert!(
                matches!(
                    with(&|b| b.logo_url = Some(bad.to_owned())),
                    Err(PagesError::InvalidLogoUrl)
                ),
                "{bad:?}"
            );
        }
        for bad in ["", "   ", &"x".repeat(81), "Acme\nID"] {
            assert!(
                matches!(
                    with(&|b| b.product_name = bad.to_owned()),
                    Err(PagesError::InvalidProductName)
                ),
                "{bad:?}"
            );
        }
        assert!(with(&|b| b.product_name = "é".repeat(80)).is_ok());
        assert!(with(&|b| b.logo_url = Some("http://cdn.example/logo.png".to_owned())).is_ok());
        assert!(
            with(&|b| {
                b.primary_color = "#AbC".to_owned();
                b.background_color = "#000000".to_owned();
            })
            .is_ok()
        );
    }

    #[test]
    fn html_response_sets_security_headers() {
        let pages = pages();
        let response = html_response(&pages, StatusCode::BAD_REQUEST, pages.error(&error_page()));
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let headers = response.headers();
        let get = |name: header::HeaderName| headers.get(name).unwrap().to_str().unwrap();
        assert_eq!(get(header::CONTENT_TYPE), "text/html; charset=utf-8");
        assert_eq!(get(header::CACHE_CONTROL), "no-store");
        assert_eq!(get(header::PRAGMA), "no-cache");
        assert_eq!(
            get(header::CONTENT_SECURITY_POLICY),
            pages.content_security_policy()
        );
        assert_eq!(get(header::X_FRAME_OPTIONS), "DENY");
        assert_eq!(get(header::REFERRER_POLICY), "no-referrer");
        assert_eq!(get(header::X_CONTENT_TYPE_OPTIONS), "nosniff");
    }

    /// Writes one of each page to `$WARDEN_PAGES_DIR` (default `/tmp/pages`) to look at
    /// in a browser: `cargo test -p warden-server --lib pages -- --ignored`.
    #[test]
    #[ignore = "writes sample pages to disk for manual review"]
    fn render_samples() {
        let dir = std::env::var("WARDEN_PAGES_DIR").unwrap_or_else(|_| "/tmp/pages".to_owned());
        std::fs::create_dir_all(&dir).unwrap();
        let pages = pages();
        let mut samples = all_pages(&pages);
        samples.push((
            "login_plain",
            pages.login(&LoginPage {
                username: "",
                error: None,
                notice: None,
                ..login_page("Acme Dashboard", None)
            }),
        ));
        // file:// pages cannot fetch the sample logos, so swap in an inline SVG.
        let logo = "https:&#x2f;&#x2f;dashboard.acme.example&#x2f;logo.png";
        let svg = "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 48 48'%3E\
            %3Crect width='48' height='48' rx='10' fill='%23f97316'/%3E%3Cpath d='M14 34 24 12l10 22' \
            stroke='white' stroke-width='4' fill='none'/%3E%3C/svg%3E";
        samples.push((
            "consent_logo",
            pages
                .consent(&consent_page(
                    "Acme Dashboard",
                    Some("https://dashboard.acme.example/"),
                    Some("https://dashboard.acme.example/logo.png"),
                ))
                .replace(logo, svg),
        ));
        let branded = Pages::new(Branding {
            product_name: "Acme Identity".to_owned(),
            logo_url: Some("https://dashboard.acme.example/logo.png".to_owned()),
            primary_color: "#0f766e".to_owned(),
            background_color: "#ecfdf5".to_owned(),
        })
        .unwrap();
        samples.push((
            "branded_login",
            branded
                .login(&login_page("Acme Dashboard", None))
                .replace(logo, svg),
        ));
        samples.push((
            "branded_consent",
            branded
                .consent(&consent_page("Acme Dashboard", None, None))
                .replace(logo, svg),
        ));
        for (name, html) in samples {
            std::fs::write(format!("{dir}/{name}.html"), html).unwrap();
        }
    }
}
