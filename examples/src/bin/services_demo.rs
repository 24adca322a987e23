//! Service-to-service calls through Warden, end to end, in one command (examples/README.md,
//! docs/guide-service-to-service.md):
//!
//! 1. configure a fresh Warden with its own CLI, exactly as an operator would (each command is
//!    printed): three APIs, the clients `shop-web`, `gateway` and `orders`, the user alice;
//! 2. start `warden serve` on a free loopback port and the three services of
//!    `warden_examples::shop` (payments, orders, gateway) in this process;
//! 3. run the scenario and check every outcome:
//!    - a. orders → payments as itself (client credentials);
//!    - b. alice signs in to `shop-web` (authorization code + PKCE; this program plays her
//!      browser, filling in Warden's login form);
//!    - c. alice → gateway → orders → payments, each hop exchanging the token it received
//!      (RFC 8693): payments sees alice as `sub` and the chain in `act`;
//!    - d. what Warden and the services refuse.
//!
//! Exit status 0 only if every check passed. Usage: `services_demo [--warden PATH]`; by
//! default the `warden` binary next to this one (target/debug/warden).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clap::Parser;
use serde_json::{Value, json};
use warden_client::{Client, Credentials};
use warden_examples::shop::{self, GATEWAY_API, ORDERS_API, PAYMENTS_API};
use warden_examples::{
    AuthorizationRequest, ClientAuth, Pkce, Result, authorization_url,
    check_authorization_response, discover, exchange_code, random_value,
};

/// Run Warden and three services, and show client credentials and token exchange at work.
#[derive(Debug, Parser)]
#[command(name = "services_demo")]
struct Args {
    /// The `warden` binary (default: the one next to this program, e.g. target/debug/warden).
    #[arg(long)]
    warden: Option<PathBuf>,
}

const USERNAME: &str = "alice";
const PASSWORD: &str = "correct horse battery staple";
/// shop-web's redirect URI. This program plays both the browser and the app: it reads the
/// code from Warden's redirect instead of serving the URI.
const REDIRECT_URI: &str = "http://127.0.0.1/callback";

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let dir = match tempfile::Builder::new().prefix("warden-demo-").tempdir() {
        Ok(dir) => dir,
        Err(e) => {
            eprintln!("services_demo: cannot create a temporary directory: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut checks = Checks::default();
    let outcome = run(&args, dir.path(), &mut checks).await;
    println!();
    let failed = match &outcome {
        Err(e) => {
            eprintln!("services_demo: FAILED: {e}");
            true
        }
        Ok(()) if checks.failed.is_empty() => {
            println!("All {} checks passed.", checks.total);
            false
        }
        Ok(()) => {
            eprintln!(
                "services_demo: FAILED: {} of {} checks failed:",
                checks.failed.len(),
                checks.total
            );
            for what in &checks.failed {
                eprintln!("  - {what}");
            }
            true
        }
    };
    if failed {
        print_log_tail(&dir.path().join("warden.log"));
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

async fn run(args: &Args, dir: &Path, checks: &mut Checks) -> Result<()> {
    let warden = warden_binary(args.warden.clone())?;
    println!("Warden and three services: client credentials and token exchange (RFC 8693)");
    println!("  warden = {}", warden.display());
    println!(
        "  working directory = {} (fresh SQLite database)",
        dir.display()
    );

    // ---- 1. Configure Warden, as an operator would -------------------------------------------
    heading("1. Configure Warden with its CLI");
    println!(
        "  (the CLI works on the database directly; a running server sees changes within a second)"
    );
    let cli = Cli {
        warden: &warden,
        dir,
    };
    for (api, scopes) in [
        (GATEWAY_API, "orders:create payments:charge"),
        (ORDERS_API, "orders:create payments:charge"),
        (PAYMENTS_API, "payments:charge payments:refund"),
    ] {
        let out = cli.run(
            &format!("api create {api} --scopes '{scopes}' --signing-alg ES256"),
            None,
        )?;
        println!(
            "  → API {} with scopes {}",
            text(&out["identifier"])?,
            out["scopes"]
        );
    }
    // The app alice signs in to: a public client (it runs in her browser, no secret), trusted
    // (no consent page), allowed to ask for both scopes on the gateway API.
    let shop_web = cli.run(
        &format!(
            "client create --name shop-web --auth-method none --first-party \
             --redirect-uri {REDIRECT_URI} \
             --audience {GATEWAY_API} --scope 'orders:create payments:charge'"
        ),
        None,
    )?;
    let shop_web_id = client_summary(&shop_web)?;
    // The gateway receives tokens for the gateway API and may exchange them for orders tokens
    // carrying at most these two scopes.
    let gateway = cli.run(
        &format!(
            "client create --name gateway --auth-method client_secret_basic \
             --grant-type token-exchange --serves {GATEWAY_API} --exchange-target {ORDERS_API} \
             --audience {ORDERS_API} --scope 'orders:create payments:charge'"
        ),
        None,
    )?;
    let gateway_id = client_summary(&gateway)?;
    // Orders receives tokens for the orders API and may exchange them for payments tokens with
    // payments:charge; it may also get such tokens for itself (client credentials).
    let orders = cli.run(
        &format!(
            "client create --name orders --auth-method client_secret_basic \
             --grant-type client_credentials --grant-type token-exchange \
             --serves {ORDERS_API} --exchange-target {PAYMENTS_API} \
             --audience {PAYMENTS_API} --scope payments:charge"
        ),
        None,
    )?;
    let orders_id = client_summary(&orders)?;
    let alice = cli.run(
        &format!(
            "user create {USERNAME} --email alice@example.com --name 'Alice Liddell' \
             --password-stdin"
        ),
        Some(PASSWORD),
    )?;
    let alice_sub = text(&alice["sub"])?;
    println!("  → user {USERNAME}: sub {alice_sub}");
    // Claims printed below are annotated with these names.
    let names = Names(vec![
        (shop_web_id.clone(), "shop-web"),
        (gateway_id.clone(), "gateway"),
        (orders_id.clone(), "orders"),
        (alice_sub.clone(), "alice"),
    ]);

    // ---- 2. Start Warden and the services ----------------------------------------------------
    heading("2. Start Warden and the services");
    let server = cli.serve().await?;
    let issuer = server.issuer.clone();
    println!("  → Warden is ready; issuer {issuer}");
    let gateway_client = service_client(&issuer, &gateway).await?;
    let orders_client = service_client(&issuer, &orders).await?;
    let payments_url = spawn("payments", PAYMENTS_API, shop::payments(&issuer).await?).await?;
    let orders_url = spawn(
        "orders",
        ORDERS_API,
        shop::orders(&issuer, orders_client.clone(), &payments_url).await?,
    )
    .await?;
    let gateway_url = spawn(
        "gateway",
        GATEWAY_API,
        shop::gateway(&issuer, gateway_client.clone(), &orders_url).await?,
    )
    .await?;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()?;

    // ---- a. Client credentials -----------------------------------------------------------------
    heading("a. orders → payments as itself (client credentials)");
    println!("  orders' settlement job: POST /token grant_type=client_credentials");
    println!(
        "      resource={PAYMENTS_API} scope=payments:charge (warden-client caches the token),"
    );
    println!("  then POST {payments_url}/charges with it");
    let answer = shop::settle_batch(&orders_client, &payments_url).await?;
    show("payments saw", &answer["token"], &names);
    let mut payments = checks.at("payments", &answer["token"]);
    payments.claim("sub", json!(orders_id), "orders (the client itself)");
    payments.claim("client_id", json!(orders_id), "orders");
    payments.absent("act", "nobody acts on anyone's behalf");
    payments.claim("scope", json!("payments:charge"), "payments:charge");

    // ---- b. alice signs in -----------------------------------------------------------------------
    heading("b. alice signs in to shop-web (authorization code + PKCE)");
    let alice_token = sign_in(&http, &issuer, &shop_web_id).await?;
    let claims = decode(&alice_token)?;
    show("alice's access token (decoded)", &claims, &names);
    let mut token = checks.at("alice's token", &claims);
    token.claim("sub", json!(alice_sub), "alice");
    token.claim("aud", json!(GATEWAY_API), GATEWAY_API);
    token.claim("client_id", json!(shop_web_id), "shop-web");
    let scope = "orders:create payments:charge";
    token.claim("scope", json!(scope), scope);

    // ---- c. On behalf of alice: gateway → orders → payments --------------------------------------
    heading("c. alice → gateway → orders → payments (token exchange at each hop)");
    println!("  POST {gateway_url}/checkout with alice's token; the gateway exchanges it for an");
    println!("  orders token and calls orders, which exchanges that for a payments token");
    let response = http
        .post(format!("{gateway_url}/checkout"))
        .bearer_auth(&alice_token)
        .send()
        .await?;
    let status = response.status();
    let chain: Value = response.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        return Err(format!("POST /checkout answered HTTP {status}: {chain}").into());
    }
    let at_gateway = &chain["token"];
    show("gateway saw", at_gateway, &names);
    let mut gateway = checks.at("gateway", at_gateway);
    gateway.claim("sub", json!(alice_sub), "alice");
    gateway.claim("client_id", json!(shop_web_id), "shop-web");
    gateway.absent("act", "alice's own token");

    let at_orders = &chain["orders"]["token"];
    show("orders saw", at_orders, &names);
    let mut orders = checks.at("orders", at_orders);
    orders.claim("sub", json!(alice_sub), "alice");
    orders.claim("aud", json!(ORDERS_API), ORDERS_API);
    orders.claim("client_id", json!(gateway_id), "gateway");
    orders.claim("act", json!({ "sub": gateway_id }), "{sub: gateway}");

    let at_payments = &chain["orders"]["payments"]["token"];
    show("payments saw", at_payments, &names);
    let mut payments = checks.at("payments", at_payments);
    payments.claim("sub", json!(alice_sub), "alice");
    payments.claim("aud", json!(PAYMENTS_API), PAYMENTS_API);
    payments.claim("client_id", json!(orders_id), "orders");
    let act = json!({ "sub": orders_id, "act": { "sub": gateway_id } });
    payments.claim("act", act, "{sub: orders, act: {sub: gateway}}");
    payments.claim("scope", json!("payments:charge"), "payments:charge");

    // ---- d. What is refused ----------------------------------------------------------------------
    heading("d. What is refused");
    println!("  d1. the gateway exchanges alice's token directly for a payments token");
    let direct = gateway_client
        .exchange(&alice_token, PAYMENTS_API, &["payments:charge"], None)
        .await;
    let code = match &direct {
        Ok(_) => {
            println!("  → Warden issued a token");
            None
        }
        Err(e) => {
            println!("  → {e}");
            e.oauth_error().map(|code| code.as_str())
        }
    };
    checks.expect(
        code == Some("invalid_target"),
        "Warden: invalid_target (payments is not among the gateway's exchange targets)",
    );

    println!("  d2. alice's gateway token sent straight to payments");
    let (status, challenge) = charge_with(&http, &payments_url, &alice_token).await?;
    checks.expect(status == 401, "payments answers 401");
    checks.expect(
        challenge.contains("error=\"invalid_token\""),
        "with error=\"invalid_token\": the token's aud is the gateway, not payments",
    );

    println!(
        "  d3. scopes only narrow along a chain: a token without payments:charge cannot gain it."
    );
    println!(
        "      The gateway exchanges alice's token for an orders token with orders:create only;"
    );
    println!("      orders exchanges that for a payments token without naming a scope");
    let narrow = gateway_client
        .exchange(&alice_token, ORDERS_API, &["orders:create"], None)
        .await?;
    checks.expect(
        narrow.scope() == Some("orders:create"),
        "the orders token has scope orders:create only",
    );
    let unscoped = orders_client
        .exchange(narrow.token(), PAYMENTS_API, &[], None)
        .await?;
    let unscoped_claims = decode(unscoped.token())?;
    show("the payments token (decoded)", &unscoped_claims, &names);
    checks.at("the payments token", &unscoped_claims).absent(
        "scope",
        "{orders:create} ∩ orders' grant {payments:charge} is empty",
    );
    let (status, challenge) = charge_with(&http, &payments_url, unscoped.token()).await?;
    checks.expect(status == 403, "payments answers 403");
    checks.expect(
        challenge.contains("error=\"insufficient_scope\""),
        "with error=\"insufficient_scope\"",
    );

    drop(server);
    Ok(())
}

// ---- the operator's side: the warden binary ------------------------------------------------------

/// The `warden` binary: `--warden`, else the one next to this program.
fn warden_binary(arg: Option<PathBuf>) -> Result<PathBuf> {
    let path = match arg {
        Some(path) => path,
        None => std::env::current_exe()?
            .parent()
            .ok_or("cannot locate this program's directory")?
            .join(format!("warden{}", std::env::consts::EXE_SUFFIX)),
    };
    if !path.is_file() {
        return Err(format!(
            "no warden binary at {}: build it first with `cargo build -p warden-server` \
             (or pass --warden PATH)",
            path.display()
        )
        .into());
    }
    // The commands run in the temporary directory: make the path absolute.
    Ok(path.canonicalize()?)
}

/// Runs `warden` commands in the demo's directory, where the default database
/// (`sqlite://warden.db`) and its master key file live.
struct Cli<'a> {
    warden: &'a Path,
    dir: &'a Path,
}

impl Cli<'_> {
    fn command(&self) -> Command {
        let mut command = Command::new(self.warden);
        command.current_dir(self.dir);
        // The caller's WARDEN_* settings (database, issuer, config file...) must not apply.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("WARDEN_") {
                command.env_remove(name);
            }
        }
        command
    }

    /// Prints and runs one admin command, written as in a shell (`'…'` quotes an argument with
    /// spaces); returns its JSON output.
    fn run(&self, command_line: &str, stdin: Option<&str>) -> Result<Value> {
        match stdin {
            Some(input) => println!(
                "$ {}",
                wrap(&format!("printf '%s\\n' '{input}' | warden {command_line}"))
            ),
            None => println!("$ {}", wrap(&format!("warden {command_line}"))),
        }
        let mut child = self
            .command()
            .args(shell_words(command_line))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", self.warden.display()))?;
        if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
            use std::io::Write as _;
            writeln!(pipe, "{input}")?;
        }
        let output = child.wait_with_output()?;
        if !output.status.success() {
            return Err(format!(
                "`warden {command_line}` failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            )
            .into());
        }
        serde_json::from_slice(&output.stdout)
            .map_err(|e| format!("`warden {command_line}` printed no JSON: {e}").into())
    }

    /// `warden serve` on a free loopback port, its log in `warden.log`; waits until `/readyz`.
    async fn serve(&self) -> Result<Server> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let listen = format!("127.0.0.1:{port}");
        let log = std::fs::File::create(self.dir.join("warden.log"))?;
        println!("$ warden serve --listen {listen} > warden.log 2>&1");
        let child = self
            .command()
            .args(["serve", "--listen", &listen])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", self.warden.display()))?;
        let mut server = Server {
            child,
            issuer: format!("http://{listen}"),
        };
        // Ready: the database answers and every signing algorithm has an active key.
        let url = format!("{}/readyz", server.issuer);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = server.child.try_wait()? {
                return Err(format!("warden serve exited ({status})").into());
            }
            match reqwest::get(&url).await {
                Ok(response) if response.status().is_success() => return Ok(server),
                _ if Instant::now() > deadline => {
                    return Err(format!("{url} did not answer 200 within 30 s").into());
                }
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }
}

/// The running `warden serve`; stopped when dropped.
struct Server {
    child: Child,
    issuer: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Prints a created client in one line; returns its id.
fn client_summary(client: &Value) -> Result<String> {
    let id = text(&client["client_id"])?;
    let mut line = format!(
        "  → client {}: client_id {id}",
        text(&client["client_name"])?
    );
    for (label, key) in [
        ("grants", "grants"),
        ("serves", "serves_api"),
        ("exchange targets", "token_exchange_targets"),
    ] {
        match &client[key] {
            Value::Null => {}
            Value::Array(list) if list.is_empty() => {}
            Value::String(api) => line.push_str(&format!(", {label} {api}")),
            value => line.push_str(&format!(", {label} {value}")),
        }
    }
    println!("{line}");
    Ok(id)
}

/// A service's Warden client, with the credentials `warden client create` printed once.
async fn service_client(issuer: &str, created: &Value) -> Result<Client> {
    let credentials = Credentials::client_secret_basic(
        text(&created["client_id"])?,
        text(&created["client_secret"])?,
    );
    Ok(Client::builder(issuer, credentials).build().await?)
}

/// Serves `router` on a free loopback port in this process; returns its base URL.
async fn spawn(name: &str, api: &str, router: axum::Router) -> Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, router).await });
    println!("  → {name:<8} (API {api}) listening on {url}");
    Ok(url)
}

// ---- alice's browser ------------------------------------------------------------------------------

/// Signs alice in to shop-web and returns her access token for the gateway API: the
/// authorization request (with `resource` and PKCE), Warden's login form (and its consent form,
/// were shop-web not first-party), the redirect's `state` and `iss` checked, the code redeemed.
async fn sign_in(http: &reqwest::Client, issuer: &str, client_id: &str) -> Result<String> {
    let provider = discover(http, issuer).await?;
    let pkce = Pkce::new()?;
    let state = random_value()?;
    let nonce = random_value()?;
    let scope = "orders:create payments:charge";
    let mut url = url::Url::parse(&authorization_url(
        &provider,
        &AuthorizationRequest {
            response_type: "code",
            client_id,
            redirect_uri: REDIRECT_URI,
            scope,
            state: &state,
            nonce: &nonce,
            code_challenge: &pkce.challenge,
            response_mode: None,
        },
    )?)?;
    // RFC 8707: the access token is for the gateway API.
    url.query_pairs_mut().append_pair("resource", GATEWAY_API);
    println!("  GET  /authorize?response_type=code&client_id={client_id}&resource={GATEWAY_API}");
    println!("       &scope={scope}&redirect_uri={REDIRECT_URI}&code_challenge=…&state=…");

    let mut browser = Browser {
        http: http.clone(),
        cookies: BTreeMap::new(),
    };
    let mut page = browser.get(url.as_str()).await?;
    let mut callback = None;
    for _ in 0..5 {
        if let Some(location) = &page.location {
            if location.starts_with(REDIRECT_URI) {
                callback = Some(location.clone());
                break;
            }
            let next = url::Url::parse(issuer)?.join(location)?;
            page = browser.get(next.as_str()).await?;
        } else if page.status == 200 && page.text.contains("name=\"password\"") {
            println!(
                "  POST /login        username={USERNAME} (Warden's login form, with its CSRF token)"
            );
            page = browser
                .submit(
                    &page,
                    issuer,
                    &[("username", USERNAME), ("password", PASSWORD)],
                )
                .await?;
        } else if page.status == 200 && page.text.contains("name=\"decision\"") {
            println!("  POST /consent      decision=allow");
            page = browser
                .submit(&page, issuer, &[("decision", "allow")])
                .await?;
        } else {
            return Err(format!(
                "unexpected page from Warden (HTTP {}): {}",
                page.status, page.text
            )
            .into());
        }
    }
    let callback = callback.ok_or("Warden did not redirect back to shop-web")?;
    let shown = callback
        .split_once('?')
        .map_or(callback.as_str(), |(base, _)| base);
    println!(
        "  ← redirect to {shown}?code=…&state=…&iss=…  (shop-web is first-party: no consent page)"
    );
    let params: HashMap<String, String> = url::Url::parse(&callback)?
        .query_pairs()
        .into_owned()
        .collect();
    let code = check_authorization_response(&params, &state, &provider)?;
    println!(
        "  POST /token        grant_type=authorization_code, code, code_verifier (public client: no secret)"
    );
    let tokens = exchange_code(
        http,
        &provider,
        &ClientAuth::Public { client_id },
        &code,
        REDIRECT_URI,
        &pkce.verifier,
    )
    .await?;
    Ok(tokens.access_token)
}

/// A browser without JavaScript: follows nothing by itself, keeps cookies.
struct Browser {
    http: reqwest::Client,
    cookies: BTreeMap<String, String>,
}

struct Page {
    status: u16,
    location: Option<String>,
    text: String,
}

impl Browser {
    async fn get(&mut self, url: &str) -> Result<Page> {
        let request = self.http.get(url);
        self.send(request).await
    }

    /// Submits the page's form (its hidden `interaction` and `csrf` fields plus `fields`).
    async fn submit(&mut self, page: &Page, issuer: &str, fields: &[(&str, &str)]) -> Result<Page> {
        let action = attribute(&page.text, "action=\"").ok_or("the page has no form")?;
        let url = url::Url::parse(issuer)?.join(&action)?;
        let mut form = vec![
            ("interaction", input(&page.text, "interaction")?),
            ("csrf", input(&page.text, "csrf")?),
        ];
        form.extend(fields.iter().map(|(k, v)| (*k, (*v).to_owned())));
        let request = self.http.post(url).form(&form);
        self.send(request).await
    }

    async fn send(&mut self, mut request: reqwest::RequestBuilder) -> Result<Page> {
        if !self.cookies.is_empty() {
            let pairs: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            request = request.header(reqwest::header::COOKIE, pairs.join("; "));
        }
        let response = request.send().await?;
        for set in response.headers().get_all(reqwest::header::SET_COOKIE) {
            let pair = set
                .to_str()
                .unwrap_or_default()
                .split(';')
                .next()
                .unwrap_or_default();
            if let Some((name, value)) = pair.split_once('=') {
                self.cookies
                    .insert(name.trim().to_owned(), value.trim().to_owned());
            }
        }
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Ok(Page {
            status: response.status().as_u16(),
            location,
            text: response.text().await?,
        })
    }
}

/// The value of `<input name="NAME" value="…">`.
fn input(html: &str, name: &str) -> Result<String> {
    attribute(html, &format!("name=\"{name}\" value=\""))
        .ok_or_else(|| format!("the form has no {name} field").into())
}

/// The (unescaped) attribute value that follows `prefix` (which ends with the opening quote).
fn attribute(html: &str, prefix: &str) -> Option<String> {
    let start = html.find(prefix)? + prefix.len();
    let len = html[start..].find('"')?;
    Some(
        html[start..start + len]
            .replace("&#x2f;", "/")
            .replace("&#x2F;", "/")
            .replace("&#x27;", "'")
            .replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"),
    )
}

// ---- helpers --------------------------------------------------------------------------------------

/// `POST /charges` with `token`; returns the status and the `WWW-Authenticate` challenge.
async fn charge_with(
    http: &reqwest::Client,
    payments_url: &str,
    token: &str,
) -> Result<(u16, String)> {
    let response = http
        .post(format!("{payments_url}/charges"))
        .bearer_auth(token)
        .send()
        .await?;
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get(reqwest::header::WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    println!("  → payments: HTTP {status}, WWW-Authenticate: {challenge}");
    Ok((status, challenge))
}

/// The claims of a JWT, decoded but not verified: for display only (the services verify).
fn decode(jwt: &str) -> Result<Value> {
    let payload = jwt.split('.').nth(1).ok_or("not a JWT")?;
    Ok(serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload)?)?)
}

fn text(value: &Value) -> Result<String> {
    value
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("expected a string, got {value}").into())
}

fn heading(title: &str) {
    println!("\n== {title}");
}

/// Who the ids in the claims are.
struct Names(Vec<(String, &'static str)>);

/// Prints claims, indented, with a note after each id naming whose it is.
fn show(label: &str, claims: &Value, names: &Names) {
    println!("  {label}:");
    let pretty = serde_json::to_string_pretty(claims).unwrap_or_default();
    for line in pretty.lines() {
        match names
            .0
            .iter()
            .find(|(id, _)| line.contains(&format!("\"{id}\"")))
        {
            Some((_, name)) => println!("    {line}   ← {name}"),
            None => println!("    {line}"),
        }
    }
}

/// A long command line broken before options, shell style (`\` at the end of a line).
fn wrap(line: &str) -> String {
    let mut lines = vec![String::new()];
    for word in line.split_whitespace() {
        let current = lines.last().map_or(0, String::len);
        if word.starts_with("--") && current + word.len() > 70 {
            lines.push(String::from("    "));
        }
        if let Some(last) = lines.last_mut() {
            if !last.trim().is_empty() {
                last.push(' ');
            }
            last.push_str(word);
        }
    }
    lines.join(" \\\n  ")
}

/// Splits a command line into arguments: on whitespace, except inside `'…'`.
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                word.get_or_insert_default();
            }
            c if c.is_whitespace() && !quoted => words.extend(word.take()),
            c => word.get_or_insert_default().push(c),
        }
    }
    words.extend(word);
    words
}

fn print_log_tail(log: &Path) {
    if let Ok(text) = std::fs::read_to_string(log) {
        let lines: Vec<&str> = text.lines().collect();
        eprintln!("last lines of Warden's log:");
        for line in &lines[lines.len().saturating_sub(20)..] {
            eprintln!("  {line}");
        }
    }
}

/// The expected outcomes, counted.
#[derive(Default)]
struct Checks {
    total: usize,
    failed: Vec<String>,
}

impl Checks {
    fn expect(&mut self, ok: bool, what: impl Display) {
        self.total += 1;
        if ok {
            println!("  ✔ {what}");
        } else {
            println!("  ✘ {what}");
            self.failed.push(what.to_string());
        }
    }

    /// Checks on the claims `who` saw.
    fn at<'a>(&'a mut self, who: &'a str, claims: &'a Value) -> ClaimChecks<'a> {
        ClaimChecks {
            checks: self,
            who,
            claims,
        }
    }
}

struct ClaimChecks<'a> {
    checks: &'a mut Checks,
    who: &'a str,
    claims: &'a Value,
}

impl ClaimChecks<'_> {
    /// `name` is `expected` (described as `shown`).
    fn claim(&mut self, name: &str, expected: Value, shown: &str) {
        let actual = &self.claims[name];
        let what = format!("{}: {name} = {shown}", self.who);
        if *actual == expected {
            self.checks.expect(true, what);
        } else {
            let what = format!("{what} (expected {expected}, got {actual})");
            self.checks.expect(false, what);
        }
    }

    /// There is no `name` claim.
    fn absent(&mut self, name: &str, why: &str) {
        let actual = &self.claims[name];
        let what = format!("{}: no {name} ({why})", self.who);
        if actual.is_null() {
            self.checks.expect(true, what);
        } else {
            self.checks.expect(false, format!("{what}: got {actual}"));
        }
    }
}
