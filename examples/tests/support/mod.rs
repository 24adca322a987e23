//! Shared by the example tests: a Warden user, the example programs as child processes, and a
//! person signing in over plain HTTP.

// Each test binary uses part of this module.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Read as _};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use warden_core::clock::Clock as _;
use warden_core::users::NewUser;
use warden_testkit::TestServer;
use warden_types::SecretString;

pub(crate) const USERNAME: &str = "alice";
pub(crate) const PASSWORD: &str = "correct horse battery staple";
pub(crate) const EMAIL: &str = "alice@example.com";
pub(crate) const FULL_NAME: &str = "Alice Liddell";

/// Creates the user the guides create; returns its `sub`.
pub(crate) async fn create_alice(server: &TestServer) -> String {
    server
        .engine
        .create_user(
            NewUser {
                username: USERNAME.to_owned(),
                email: EMAIL.to_owned(),
                name: Some(FULL_NAME.to_owned()),
                password: SecretString::new(PASSWORD.to_owned()),
            },
            server.clock.now(),
        )
        .await
        .expect("create user")
        .sub
}

/// A free loopback port (bound, read, released: another process could take it in between, but
/// only tests run here).
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

// ---- an example program as a child process ---------------------------------------------------

/// A running example binary; killed if the test ends before it does.
pub(crate) struct Program {
    name: &'static str,
    child: Child,
    stderr_lines: mpsc::Receiver<String>,
    stderr_seen: Vec<String>,
    stdout: Option<JoinHandle<String>>,
}

impl Program {
    /// Starts `path` with `args` and `env` (the variables the examples read are cleared first,
    /// so the caller's shell cannot interfere).
    pub(crate) fn start(
        name: &'static str,
        path: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Self {
        let mut command = Command::new(path);
        command.args(args);
        for var in [
            "WARDEN_ISSUER",
            "CLIENT_ID",
            "CLIENT_SECRET",
            "SCOPE",
            "LISTEN",
            "APP_URL",
            "RESPONSE_TYPE",
        ] {
            command.env_remove(var);
        }
        command.envs(env.iter().copied());
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {name}: {e}"));
        let stderr = child.stderr.take().expect("stderr");
        let (tx, stderr_lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut stdout = child.stdout.take().expect("stdout");
        let stdout = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stdout.read_to_string(&mut text);
            text
        });
        Self {
            name,
            child,
            stderr_lines,
            stderr_seen: Vec::new(),
            stdout: Some(stdout),
        }
    }

    /// Waits (up to 30 s) for a line of stderr that satisfies `wanted`, and returns it.
    pub(crate) async fn stderr_line(&mut self, wanted: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            while let Ok(line) = self.stderr_lines.try_recv() {
                self.stderr_seen.push(line.clone());
                if wanted(&line) {
                    return line;
                }
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "{} exited ({status}) early; stderr:\n{}",
                    self.name,
                    self.stderr_seen.join("\n")
                );
            }
            assert!(
                Instant::now() < deadline,
                "{}: the expected line did not appear on stderr within 30 s:\n{}",
                self.name,
                self.stderr_seen.join("\n")
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits (up to 30 s) for the program to exit; returns its status, stdout and stderr.
    pub(crate) async fn finish(mut self) -> (ExitStatus, String, String) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "{} still running after 30 s",
                self.name
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let stdout = self
            .stdout
            .take()
            .map(|h| h.join().unwrap_or_default())
            .unwrap_or_default();
        let mut stderr = std::mem::take(&mut self.stderr_seen);
        // The stderr thread ends with the process; collect what is left.
        let until = Instant::now() + Duration::from_secs(5);
        while Instant::now() < until {
            match self.stderr_lines.recv_timeout(Duration::from_millis(100)) {
                Ok(line) => stderr.push(line),
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
        }
        (status, stdout, stderr.join("\n"))
    }

    /// Everything on stderr so far (for failure messages).
    pub(crate) fn stderr_so_far(&mut self) -> String {
        while let Ok(line) = self.stderr_lines.try_recv() {
            self.stderr_seen.push(line);
        }
        self.stderr_seen.join("\n")
    }
}

impl Drop for Program {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

// ---- a person, over plain HTTP ---------------------------------------------------------------

/// What the HTTP "browser" received.
pub(crate) struct Page {
    pub(crate) status: u16,
    pub(crate) location: Option<String>,
    pub(crate) csp: Option<String>,
    pub(crate) text: String,
}

impl Page {
    /// The `value` of the `<input name="NAME" value="...">`.
    pub(crate) fn input(&self, name: &str) -> String {
        self.try_input(name)
            .unwrap_or_else(|| panic!("no input {name} in HTTP {}:\n{}", self.status, self.text))
    }

    /// The `value` of the `<input name="NAME" value="...">`, if there is one.
    pub(crate) fn try_input(&self, name: &str) -> Option<String> {
        let needle = format!("name=\"{name}\" value=\"");
        let at = self.text.find(&needle)? + needle.len();
        let len = self.text[at..].find('"')?;
        Some(unescape(&self.text[at..at + len]))
    }

    /// The Location, asserting a redirect.
    #[track_caller]
    pub(crate) fn redirect(&self) -> String {
        assert!(
            matches!(self.status, 302 | 303),
            "expected a redirect, got HTTP {}:\n{}",
            self.status,
            self.text
        );
        self.location.clone().expect("Location")
    }
}

/// Undoes the HTML escaping of attribute values.
fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#x2f;", "/")
        .replace("&#x2F;", "/")
        .replace("&amp;", "&")
}

/// A browser without JavaScript: no automatic redirects, one cookie jar for every
/// `127.0.0.1` port (as browsers do: cookies are not isolated by port).
pub(crate) struct HttpBrowser {
    http: reqwest::Client,
    pub(crate) cookies: BTreeMap<String, String>,
}

impl HttpBrowser {
    pub(crate) fn new() -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: BTreeMap::new(),
        }
    }

    async fn send(&mut self, mut request: reqwest::RequestBuilder) -> Page {
        if !self.cookies.is_empty() {
            let header: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            request = request.header("cookie", header.join("; "));
        }
        let response = request.send().await.expect("request");
        for set in response.headers().get_all("set-cookie") {
            let set = set.to_str().unwrap();
            let pair = set.split(';').next().unwrap();
            if let Some((name, value)) = pair.split_once('=') {
                if value.is_empty() {
                    self.cookies.remove(name.trim());
                } else {
                    self.cookies
                        .insert(name.trim().to_owned(), value.trim().to_owned());
                }
            }
        }
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        let (location, csp) = (header("location"), header("content-security-policy"));
        Page {
            status: response.status().as_u16(),
            location,
            csp,
            text: response.text().await.expect("body"),
        }
    }

    pub(crate) async fn get(&mut self, url: &str) -> Page {
        let request = self.http.get(url);
        self.send(request).await
    }

    pub(crate) async fn post(&mut self, url: &str, form: &[(&str, &str)]) -> Page {
        let request = self.http.post(url).form(form);
        self.send(request).await
    }

    /// From an authorization URL to Warden's answer for the client: signs in as Alice, answers
    /// the consent page with `decision`; returns that answer (a redirect, or the form_post
    /// page).
    pub(crate) async fn sign_in(&mut self, server: &TestServer, url: &str, decision: &str) -> Page {
        let login = self.get(url).await;
        assert_eq!(login.status, 200, "the login page: {}", login.text);
        let consent = self
            .post(
                &server.url("/login"),
                &[
                    ("interaction", &login.input("interaction")),
                    ("csrf", &login.input("csrf")),
                    ("username", USERNAME),
                    ("password", PASSWORD),
                ],
            )
            .await;
        assert_eq!(consent.status, 200, "the consent page: {}", consent.text);
        assert!(
            consent.text.contains("name=\"decision\""),
            "{}",
            consent.text
        );
        self.post(
            &server.url("/consent"),
            &[
                ("interaction", &consent.input("interaction")),
                ("csrf", &consent.input("csrf")),
                ("decision", decision),
            ],
        )
        .await
    }
}

/// Polls `url` until it answers (the program is listening), up to 30 s.
pub(crate) async fn wait_until_serving(program: &mut Program, url: &str) {
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while http.get(url).send().await.is_err() {
        assert!(
            Instant::now() < deadline,
            "{url} not answering after 30 s; stderr:\n{}",
            program.stderr_so_far()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
