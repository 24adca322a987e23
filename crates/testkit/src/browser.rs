//! A minimal W3C WebDriver client for end-to-end browser tests: it starts Debian's
//! `chromedriver` on a free loopback port, opens one headless Chromium session and drives it over
//! HTTP/JSON (<https://www.w3.org/TR/webdriver2/>).
//!
//! Browser tests call [`Browser::gate`] first: without Chromium they are skipped with a note,
//! unless `WARDEN_TEST_BROWSER=1` (as in CI), where a missing browser is a failure.
//!
//! Every method returns a [`BrowserError`] whose message is meant to be read by a person: a
//! missing element names the selector, the current URL and the head of the page source. On a
//! failure, [`Browser::failure_report`] saves a screenshot under `target/` and returns a
//! message with the URL and the page source head, ready for a panic.

use std::fmt;
use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Chromium as Debian installs it.
pub const CHROMIUM: &str = "/usr/bin/chromium";
/// chromedriver as Debian's `chromium-driver` installs it.
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The variable that makes browser tests mandatory.
pub const REQUIRE_VAR: &str = "WARDEN_TEST_BROWSER";

/// The W3C element reference key.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How much of the page source an error message carries.
const SOURCE_HEAD: usize = 2048;

/// A failed browser operation, with a message for a person.
pub struct BrowserError(String);

impl BrowserError {
    fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BrowserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

// `unwrap()` prints Debug: keep the message readable (real line breaks, no escaping).
impl fmt::Debug for BrowserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BrowserError {}

/// A result of a browser operation.
pub type BrowserResult<T> = Result<T, BrowserError>;

/// A WebDriver element reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElementId(pub String);

/// A headless Chromium session driven through chromedriver. Dropping it ends the session and
/// stops chromedriver.
pub struct Browser {
    http: reqwest::Client,
    /// `http://127.0.0.1:PORT` of chromedriver.
    driver_url: String,
    port: u16,
    session: Option<String>,
    driver: Option<Child>,
    /// How long [`Browser::find`] waits for an element.
    pub timeout: Duration,
}

impl fmt::Debug for Browser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Browser")
            .field("driver_url", &self.driver_url)
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}

impl Browser {
    /// Whether Chromium and chromedriver are installed.
    pub fn available() -> bool {
        Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists()
    }

    /// Whether `WARDEN_TEST_BROWSER=1` makes browser tests mandatory.
    pub fn required() -> bool {
        std::env::var(REQUIRE_VAR).is_ok_and(|v| v == "1")
    }

    /// Whether the browser test `test` should run: true when the browser is installed; false
    /// (with a skip note on stderr) when it is not; a panic when it is not but
    /// `WARDEN_TEST_BROWSER=1`.
    pub fn gate(test: &str) -> bool {
        if Self::available() {
            return true;
        }
        if Self::required() {
            panic!(
                "{test}: {REQUIRE_VAR}=1 but {CHROMIUM} or {CHROMEDRIVER} is missing \
                 (install Debian's `chromium` and `chromium-driver`)"
            );
        }
        eprintln!(
            "skipping {test}: {CHROMIUM} or {CHROMEDRIVER} is missing \
             (apt-get install chromium chromium-driver; set {REQUIRE_VAR}=1 to make this a failure)"
        );
        false
    }

    /// Starts chromedriver on a free port and opens a headless Chromium session.
    pub async fn start() -> BrowserResult<Browser> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| BrowserError::new(format!("HTTP client: {e}")))?;
        let mut last = BrowserError::new("chromedriver did not start");
        for _ in 0..5 {
            match Self::spawn_driver(&http).await {
                Ok((port, child)) => {
                    let mut browser = Browser {
                        http: http.clone(),
                        driver_url: format!("http://127.0.0.1:{port}"),
                        port,
                        session: None,
                        driver: Some(child),
                        timeout: Duration::from_secs(10),
                    };
                    browser.new_session().await?;
                    return Ok(browser);
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// One attempt: a free port, chromedriver on it, `/status` ready within 20 s.
    async fn spawn_driver(http: &reqwest::Client) -> BrowserResult<(u16, Child)> {
        let port = {
            let listener = TcpListener::bind("127.0.0.1:0")
                .map_err(|e| BrowserError::new(format!("bind 127.0.0.1:0: {e}")))?;
            listener
                .local_addr()
                .map_err(|e| BrowserError::new(format!("local address: {e}")))?
                .port()
        };
        let mut child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| BrowserError::new(format!("spawn {CHROMEDRIVER}: {e}")))?;
        let status_url = format!("http://127.0.0.1:{port}/status");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(exit)) = child.try_wait() {
                return Err(BrowserError::new(format!(
                    "chromedriver on port {port} exited early: {exit}"
                )));
            }
            if let Ok(resp) = http.get(&status_url).send().await
                && let Ok(body) = resp.json::<Value>().await
                && body["value"]["ready"].as_bool() == Some(true)
            {
                return Ok((port, child));
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(BrowserError::new(format!(
                    "chromedriver on port {port} not ready within 20 s"
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn new_session(&mut self) -> BrowserResult<()> {
        let capabilities = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "pageLoadStrategy": "normal",
                    "goog:chromeOptions": {
                        "binary": CHROMIUM,
                        "args": [
                            "--headless=new",
                            "--no-sandbox",
                            "--disable-gpu",
                            "--disable-dev-shm-usage",
                            "--window-size=1200,900",
                        ],
                    },
                },
            },
        });
        let value = self.command("POST", "/session", Some(capabilities)).await?;
        let id = value["sessionId"]
            .as_str()
            .ok_or_else(|| BrowserError::new(format!("new session: no sessionId in {value}")))?;
        self.session = Some(id.to_owned());
        self.session_command(
            "POST",
            "/timeouts",
            Some(json!({ "pageLoad": 30_000, "script": 10_000, "implicit": 0 })),
        )
        .await?;
        Ok(())
    }

    /// One WebDriver command; returns the `value` of a success, or the error's `error` and
    /// `message`.
    async fn command(&self, method: &str, path: &str, body: Option<Value>) -> BrowserResult<Value> {
        let url = format!("{}{}", self.driver_url, path);
        let req = match method {
            "GET" => self.http.get(&url),
            "DELETE" => self.http.delete(&url),
            _ => self
                .http
                .post(&url)
                .json(&body.unwrap_or_else(|| json!({}))),
        };
        let resp = req
            .send()
            .await
            .map_err(|e| BrowserError::new(format!("WebDriver {method} {path}: {e}")))?;
        let status = resp.status().as_u16();
        let text = resp
            .text()
            .await
            .map_err(|e| BrowserError::new(format!("WebDriver {method} {path}: body: {e}")))?;
        let parsed: Value = serde_json::from_str(&text).map_err(|e| {
            BrowserError::new(format!(
                "WebDriver {method} {path}: HTTP {status}, not JSON ({e}): {}",
                head(&text, 500)
            ))
        })?;
        let value = parsed.get("value").cloned().unwrap_or(Value::Null);
        if status == 200 {
            return Ok(value);
        }
        Err(BrowserError::new(format!(
            "WebDriver {method} {path}: HTTP {status} {}: {}",
            value["error"].as_str().unwrap_or("unknown error"),
            head(value["message"].as_str().unwrap_or(""), 500)
        )))
    }

    /// A command on the session (`/session/{id}{path}`).
    async fn session_command(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> BrowserResult<Value> {
        let id = self
            .session
            .as_deref()
            .ok_or_else(|| BrowserError::new("the browser session is closed"))?;
        self.command(method, &format!("/session/{id}{path}"), body)
            .await
    }

    /// Navigates to `url` and waits for the page to load.
    pub async fn goto(&self, url: &str) -> BrowserResult<()> {
        self.session_command("POST", "/url", Some(json!({ "url": url })))
            .await
            .map(|_| ())
    }

    /// The URL of the current page.
    pub async fn current_url(&self) -> BrowserResult<String> {
        let value = self.session_command("GET", "/url", None).await?;
        value
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| BrowserError::new(format!("current URL: not a string: {value}")))
    }

    /// The serialized DOM of the current page.
    pub async fn page_source(&self) -> BrowserResult<String> {
        let value = self.session_command("GET", "/source", None).await?;
        value
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| BrowserError::new(format!("page source: not a string: {value}")))
    }

    /// The element matching the CSS selector right now, if any (no waiting).
    pub async fn try_find(&self, css: &str) -> BrowserResult<Option<ElementId>> {
        let body = json!({ "using": "css selector", "value": css });
        match self.session_command("POST", "/element", Some(body)).await {
            Ok(value) => value[ELEMENT_KEY]
                .as_str()
                .map(|id| Some(ElementId(id.to_owned())))
                .ok_or_else(|| BrowserError::new(format!("find {css:?}: no element in {value}"))),
            Err(e) if e.0.contains("no such element") => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The first element matching the CSS selector, waiting up to [`Browser::timeout`] for it
    /// to appear; the error names the selector, the current URL and the page source head.
    pub async fn find(&self, css: &str) -> BrowserResult<ElementId> {
        let deadline = Instant::now() + self.timeout;
        loop {
            if let Some(id) = self.try_find(css).await? {
                return Ok(id);
            }
            if Instant::now() >= deadline {
                return Err(BrowserError::new(format!(
                    "no element matches {css:?} after {:?}\n{}",
                    self.timeout,
                    self.where_am_i().await
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Whether an element matches the CSS selector right now.
    pub async fn exists(&self, css: &str) -> BrowserResult<bool> {
        Ok(self.try_find(css).await?.is_some())
    }

    /// The rendered text of the first element matching the selector (waits like `find`).
    pub async fn text(&self, css: &str) -> BrowserResult<String> {
        let id = self.find(css).await?;
        let value = self
            .session_command("GET", &format!("/element/{}/text", id.0), None)
            .await?;
        Ok(value.as_str().unwrap_or_default().to_owned())
    }

    /// Clears the field matching the selector and types `text` into it.
    pub async fn type_into(&self, css: &str, text: &str) -> BrowserResult<()> {
        let id = self.find(css).await?;
        self.session_command("POST", &format!("/element/{}/clear", id.0), None)
            .await
            .map_err(|e| BrowserError::new(format!("clear {css:?}: {e}")))?;
        self.session_command(
            "POST",
            &format!("/element/{}/value", id.0),
            Some(json!({ "text": text })),
        )
        .await
        .map_err(|e| BrowserError::new(format!("type into {css:?}: {e}")))?;
        Ok(())
    }

    /// Clicks the element matching the selector (a navigation it starts is waited for).
    pub async fn click(&self, css: &str) -> BrowserResult<()> {
        let id = self.find(css).await?;
        self.session_command("POST", &format!("/element/{}/click", id.0), None)
            .await
            .map_err(|e| BrowserError::new(format!("click {css:?}: {e}")))?;
        Ok(())
    }

    /// Polls the current URL until `predicate` holds; returns that URL. The error carries the
    /// last URL and the page source head.
    pub async fn wait_for_url(
        &self,
        predicate: impl Fn(&str) -> bool,
        timeout: Duration,
    ) -> BrowserResult<String> {
        let deadline = Instant::now() + timeout;
        loop {
            // A navigation in progress can make the URL read fail briefly; keep polling.
            if let Ok(url) = self.current_url().await
                && predicate(&url)
            {
                return Ok(url);
            }
            if Instant::now() >= deadline {
                return Err(BrowserError::new(format!(
                    "the expected URL was not reached within {timeout:?}\n{}",
                    self.where_am_i().await
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A PNG screenshot of the viewport.
    pub async fn screenshot_png(&self) -> BrowserResult<Vec<u8>> {
        let value = self.session_command("GET", "/screenshot", None).await?;
        let b64 = value
            .as_str()
            .ok_or_else(|| BrowserError::new("screenshot: not a string"))?;
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|e| BrowserError::new(format!("screenshot: base64: {e}")))
    }

    /// Saves a screenshot as `target/browser-failure-{label}-{millis}.png`; returns the path.
    pub async fn save_screenshot(&self, label: &str) -> BrowserResult<PathBuf> {
        let png = self.screenshot_png().await?;
        let dir = target_dir();
        std::fs::create_dir_all(&dir)
            .map_err(|e| BrowserError::new(format!("create {}: {e}", dir.display())))?;
        let label: String = label
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        let stamp = std::time::UNIX_EPOCH
            .elapsed()
            .map(|d| d.as_millis())
            .unwrap_or_default();
        let path = dir.join(format!("browser-failure-{label}-{stamp}.png"));
        std::fs::write(&path, png)
            .map_err(|e| BrowserError::new(format!("write {}: {e}", path.display())))?;
        Ok(path)
    }

    /// The current URL and the head of the page source, for error messages.
    pub async fn where_am_i(&self) -> String {
        let url = match self.current_url().await {
            Ok(url) => url,
            Err(e) => format!("(unknown: {e})"),
        };
        let source = match self.page_source().await {
            Ok(source) => source,
            Err(e) => format!("(unknown: {e})"),
        };
        format!(
            "current URL: {url}\npage source (first {SOURCE_HEAD} bytes):\n{}",
            head(&source, SOURCE_HEAD)
        )
    }

    /// For a failed test: saves a screenshot and returns `what` with the screenshot's path,
    /// the current URL and the page source head.
    pub async fn failure_report(&self, label: &str, what: &dyn fmt::Display) -> String {
        let shot = match self.save_screenshot(label).await {
            Ok(path) => format!("screenshot: {}", path.display()),
            Err(e) => format!("no screenshot: {e}"),
        };
        format!("{what}\n{shot}\n{}", self.where_am_i().await)
    }

    /// Ends the session and stops chromedriver.
    pub async fn close(mut self) {
        if self.session.is_some() {
            let _ = self.session_command("DELETE", "", None).await;
            self.session = None;
        }
        self.stop_driver();
    }

    fn stop_driver(&mut self) {
        if let Some(mut child) = self.driver.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // No async here: end the session (which quits Chromium) with a blocking HTTP/1.1
        // request, then stop chromedriver.
        if let Some(id) = self.session.take() {
            delete_session_blocking(self.port, &id);
        }
        self.stop_driver();
    }
}

fn delete_session_blocking(port: u16, session: &str) {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
    let request = format!(
        "DELETE /session/{session} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
         Content-Length: 0\r\nConnection: close\r\n\r\n"
    );
    if stream.write_all(request.as_bytes()).is_ok() {
        // chromedriver answers once the session (and Chromium) is gone; the first bytes of the
        // reply are enough (it may keep the connection open).
        let mut buf = [0u8; 1024];
        let _ = stream.read(&mut buf);
    }
}

/// The workspace's `target` directory: `CARGO_TARGET_DIR`, else the ancestor of the running
/// test binary (`target/debug/deps/…`), else the temporary directory.
fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    std::env::current_exe()
        .ok()
        .and_then(|exe| {
            exe.ancestors()
                .find(|p| p.file_name().is_some_and(|n| n == "target"))
                .map(Path::to_path_buf)
        })
        .unwrap_or_else(std::env::temp_dir)
}

/// At most `max` bytes of `s`, cut at a character boundary.
fn head(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
