//! A command-line program that signs its user in through the system browser, as RFC 8252
//! ("OAuth 2.0 for Native Apps") describes (docs/guide-cli.md):
//!
//! 1. listen on a loopback port the OS picks (`127.0.0.1:0`, §7.3);
//! 2. print the authorization URL, with `redirect_uri=http://127.0.0.1:<port>/callback`,
//!    PKCE and `state` (and open the browser with `--open`);
//! 3. wait, with a timeout, for the browser to be redirected to that port; answer it with a
//!    small "you can close this tab" page;
//! 4. check `state` and `iss`, redeem the code (a public client: no secret, the PKCE verifier
//!    proves the code is ours), verify the ID token;
//! 5. print a JSON summary on stdout: `sub`, `scope`, `expires_in`, `refresh_token` (whether one
//!    came). Tokens themselves are not printed.
//!
//! Messages go to stderr, the summary to stdout, so `cli_login | jq .sub` works.
//!
//! The client is registered once with `http://127.0.0.1/callback` (`--application-type native
//! --auth-method none`); Warden accepts that URI on any port.

use std::collections::HashMap;
use std::process::ExitCode;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::response::Html;
use clap::Parser;
use jsonwebtoken::Algorithm;
use tokio::sync::{mpsc, oneshot};
use warden_examples::{
    AuthorizationRequest, ClientAuth, IdTokenChecks, Pkce, authorization_url,
    check_authorization_response, discover, exchange_code, html_escape, random_value,
    verify_id_token,
};

/// Sign in through the browser and print who you are (RFC 8252 loopback redirect).
#[derive(Debug, Parser)]
#[command(name = "cli_login")]
struct Args {
    /// Warden's issuer URL, exactly as it advertises it.
    #[arg(long, env = "WARDEN_ISSUER", default_value = "http://127.0.0.1:8080")]
    issuer: String,
    /// The client id of a public native client with redirect URI http://127.0.0.1/callback.
    #[arg(long, env = "CLIENT_ID")]
    client_id: String,
    /// Scopes to ask for (add offline_access for a refresh token, if the client may have one).
    #[arg(long, env = "SCOPE", default_value = "openid profile email")]
    scope: String,
    /// Open the URL in the default browser (xdg-open, or open on macOS).
    #[arg(long)]
    open: bool,
    /// Seconds to wait for the browser to come back.
    #[arg(long, default_value_t = 300)]
    timeout: u64,
}

/// The ID token algorithm the client registered (Warden's default, `--id-token-alg`).
const ID_TOKEN_ALG: Algorithm = Algorithm::RS256;

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args).await {
        Ok(summary) => {
            println!("{summary}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cli_login: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &Args) -> warden_examples::Result<serde_json::Value> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()?;
    let provider = discover(&http, &args.issuer).await?;

    // RFC 8252 §7.3 and §8.3: the loopback IP literal, not "localhost" (which may resolve
    // elsewhere or be firewalled), on a port the OS picks, listening only on loopback.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let redirect_uri = format!("http://127.0.0.1:{port}/callback");

    let pkce = Pkce::new()?;
    let state = random_value()?;
    let nonce = random_value()?;
    let url = authorization_url(
        &provider,
        &AuthorizationRequest {
            response_type: "code",
            client_id: &args.client_id,
            redirect_uri: &redirect_uri,
            scope: &args.scope,
            state: &state,
            nonce: &nonce,
            code_challenge: &pkce.challenge,
            response_mode: None,
        },
    )?;

    // The callback server: the first request to /callback is handed over and answered with a
    // page; the server then stops.
    let (params_tx, mut params_rx) = mpsc::channel::<HashMap<String, String>>(1);
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let router = axum::Router::new()
        .route("/callback", axum::routing::get(callback))
        .with_state(params_tx);
    let server = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = stop_rx.await;
            })
            .await
    });

    eprintln!("Open this URL in your browser to sign in:\n\n{url}\n");
    if args.open {
        open_browser(&url);
    }
    eprintln!(
        "Waiting up to {} s for the browser on {redirect_uri} ...",
        args.timeout
    );
    let received = tokio::time::timeout(Duration::from_secs(args.timeout), params_rx.recv()).await;
    let _ = stop_tx.send(());
    // Let the "close this tab" page go out before exiting (bounded: a browser may keep the
    // connection open).
    let _ = tokio::time::timeout(Duration::from_secs(2), server).await;
    let params = match received {
        Ok(Some(params)) => params,
        Ok(None) => return Err("the callback server stopped".into()),
        Err(_) => {
            return Err(format!(
                "no browser came back to {redirect_uri} within {} s",
                args.timeout
            )
            .into());
        }
    };

    // state (this program started the login), iss (from the issuer we asked), then the code.
    let code = check_authorization_response(&params, &state, &provider)?;
    let tokens = exchange_code(
        &http,
        &provider,
        &ClientAuth::Public {
            client_id: &args.client_id,
        },
        &code,
        &redirect_uri,
        &pkce.verifier,
    )
    .await?;

    // With `openid`, the ID token says who signed in. It came straight from the token endpoint,
    // but verifying it is cheap and catches configuration mistakes (wrong issuer, wrong client).
    let sub = match &tokens.id_token {
        Some(id_token) => {
            let claims = verify_id_token(
                &http,
                &provider,
                id_token,
                &IdTokenChecks {
                    alg: ID_TOKEN_ALG,
                    issuer: &provider.issuer,
                    client_id: &args.client_id,
                    nonce: &nonce,
                    hashes: &[("at_hash", &tokens.access_token)],
                },
            )
            .await?;
            Some(claims.sub)
        }
        None => None,
    };
    eprintln!("Signed in.");
    // A real CLI would now keep the access token (and any refresh token) in the OS keychain,
    // never in a world-readable file, and use it until `expires_in` runs out.
    Ok(serde_json::json!({
        "sub": sub,
        "scope": tokens.scope,
        "expires_in": tokens.expires_in,
        "refresh_token": tokens.refresh_token.is_some(),
    }))
}

/// `GET /callback`: hands the parameters to [`run`] and tells the person what happens next.
/// Nothing from the request is trusted here; [`run`] checks it.
async fn callback(
    State(params_tx): State<mpsc::Sender<HashMap<String, String>>>,
    Query(params): Query<HashMap<String, String>>,
) -> Html<String> {
    let message = match params.get("error") {
        Some(error) => format!(
            "Sign-in did not complete ({}). Return to the terminal.",
            html_escape(error)
        ),
        None => String::from("Signed in. You can close this tab and return to the terminal."),
    };
    // Only the first response counts.
    let message = if params_tx.try_send(params).is_ok() {
        message
    } else {
        String::from("This sign-in has already completed. You can close this tab.")
    };
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"referrer\" content=\"no-referrer\"><title>cli_login</title></head>\
         <body><p id=\"message\">{message}</p></body></html>"
    ))
}

/// Best effort: a failure only means the person copies the URL by hand.
fn open_browser(url: &str) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    let spawned = std::process::Command::new(opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    if let Err(e) = spawned {
        eprintln!("(could not run {opener}: {e}; open the URL yourself)");
    }
}
