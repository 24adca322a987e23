//! Operational endpoints and robustness: health, readiness, metrics, the body limit, content
//! types, unknown routes, and malformed input that must get a 4xx, never a 5xx.

use warden_testkit::{Backend, Options, TestServer};

use crate::support::{
    API, RawReply, access_token, api_and_client, get, post, raw_http, reply, token,
};

both!(
    healthz,
    readyz,
    metrics_count_issued_tokens,
    body_over_the_limit_is_413_json,
    body_over_the_limit_chunked_is_413_json,
    wrong_content_type_is_invalid_request,
    unknown_route_is_404_json,
    wrong_method_is_405_json,
    slow_headers_are_cut_off,
    slow_body_gets_408_json,
    garbage_bodies_are_4xx,
    huge_and_repeated_parameters_are_4xx,
    hostile_headers_are_4xx,
    responses_carry_a_request_id,
    audit_trail_survives_hostile_client_ids,
);
async fn healthz(backend: Backend) {
    let server = TestServer::start(backend).await;
    let r = get(&server, "/healthz").await;
    r.ok();
    assert_eq!(r.body["status"], "ok");
}

async fn readyz(backend: Backend) {
    let server = TestServer::start(backend).await;
    let r = get(&server, "/readyz").await;
    r.ok();
    assert_eq!(r.body["status"], "ready");
    assert_eq!(r.body["database"], "ok");
    assert_eq!(r.body["signing_keys"], "ok");
}

fn metric_value(text: &str, prefix: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn metrics_count_issued_tokens(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (id, secret) = api_and_client(&server).await;
    access_token(&server, &id, &secret, &[]).await;
    access_token(&server, &id, &secret, &[]).await;
    token(&server, &id, "wrong", &[]).await;
    let r = get(&server, "/metrics").await;
    r.ok();
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("text/plain"))
    );
    let text = &r.text;
    assert!(text.contains("warden_tokens_issued_total"), "{text}");
    assert_eq!(
        metric_value(
            text,
            "warden_tokens_issued_total{grant_type=\"client_credentials\",auth_method=\"client_secret_basic\"}"
        ),
        2.0,
        "{text}"
    );
    assert!(
        metric_value(text, "warden_tokens_refused_total") >= 1.0,
        "{text}"
    );
    assert!(
        metric_value(text, "warden_client_auth_failures_total") >= 1.0,
        "{text}"
    );
    assert!(text.contains("warden_http_requests_total"), "{text}");
    // No secret ever reaches the exposition.
    assert!(!text.contains(&secret));
}

/// A small limit so the test stays cheap.
async fn small_limit_server(backend: Backend) -> TestServer {
    TestServer::start_with(
        backend,
        Options {
            request_body_limit: 2048,
            ..Options::default()
        },
    )
    .await
}

/// The body limit answers 413 with an RFC-shaped JSON error, whether the size is announced by
/// Content-Length (as reqwest does) or discovered while reading.
async fn body_over_the_limit_is_413_json(backend: Backend) {
    let server = small_limit_server(backend).await;
    let big = format!("grant_type=client_credentials&scope={}", "a".repeat(4096));
    for path in ["/token", "/introspect", "/revoke"] {
        let resp = server
            .http
            .post(server.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(big.clone())
            .send()
            .await
            .unwrap();
        let r = reply(resp).await;
        r.assert_error(413, "invalid_request");
    }
    let resp = server
        .http
        .post(server.url("/register"))
        .header("content-type", "application/json")
        .body(format!("{{\"client_name\":\"{}\"}}", "a".repeat(4096)))
        .send()
        .await
        .unwrap();
    reply(resp).await.assert_error(413, "invalid_request");
}

/// Without Content-Length (chunked), the limit is found while reading: 413 JSON.
async fn body_over_the_limit_chunked_is_413_json(backend: Backend) {
    let server = small_limit_server(backend).await;
    let chunk = "a".repeat(1000);
    let mut request = String::from(
        "POST /token HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n",
    );
    for _ in 0..4 {
        request.push_str(&format!("{:x}\r\n{chunk}\r\n", chunk.len()));
    }
    request.push_str("0\r\n\r\n");
    let r: RawReply = raw_http(&server, request.as_bytes()).await;
    assert_eq!(r.status, 413, "{r:?}");
    let body = r
        .json()
        .unwrap_or_else(|| panic!("413 body is not JSON: {r:?}"));
    assert_eq!(body["error"], "invalid_request");
    assert_eq!(r.header("cache-control"), Some("no-store"));
    // A chunked body under the limit is served normally.
    let (id, secret) = api_and_client(&server).await;
    let creds = warden_testkit::basic_header(&id, &secret);
    let form = "grant_type=client_credentials";
    let request = format!(
        "POST /token HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nAuthorization: {creds}\r\n\
         Transfer-Encoding: chunked\r\n\r\n{:x}\r\n{form}\r\n0\r\n\r\n",
        form.len()
    );
    let r = raw_http(&server, request.as_bytes()).await;
    assert_eq!(r.status, 200, "{r:?}");
}

/// RFC 6749 §3.2: the token endpoint takes application/x-www-form-urlencoded.
async fn wrong_content_type_is_invalid_request(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (id, secret) = api_and_client(&server).await;
    for path in ["/token", "/introspect", "/revoke"] {
        for content_type in [
            Some("application/json"),
            Some("text/plain"),
            Some("multipart/form-data; boundary=x"),
            Some("application/x-www-form-urlencodedX"),
            None,
        ] {
            let mut req = server
                .http
                .post(server.url(path))
                .header("authorization", warden_testkit::basic_header(&id, &secret));
            if let Some(ct) = content_type {
                req = req.header("content-type", ct);
            }
            let r = reply(
                req.body("grant_type=client_credentials&token=x")
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
            r.assert_error(400, "invalid_request");
        }
    }
}

async fn unknown_route_is_404_json(backend: Backend) {
    let server = TestServer::start(backend).await;
    for path in [
        "/nope",
        "/token/extra",
        "/.well-known/nothing",
        "/authorize/extra",
    ] {
        let r = get(&server, path).await;
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(r.error(), "invalid_request", "{path}: {}", r.text);
    }
    let r = post(&server, "/nope", &[("a", "b")], None).await;
    assert_eq!((r.status, r.error()), (404, "invalid_request"));
}

async fn wrong_method_is_405_json(backend: Backend) {
    let server = TestServer::start(backend).await;
    for (method, path) in [
        (reqwest::Method::GET, "/token"),
        (reqwest::Method::PUT, "/token"),
        (reqwest::Method::GET, "/introspect"),
        (reqwest::Method::GET, "/revoke"),
        (reqwest::Method::POST, "/jwks"),
        (reqwest::Method::DELETE, "/register"),
        (reqwest::Method::POST, "/register/some-client"),
        (reqwest::Method::POST, "/.well-known/openid-configuration"),
    ] {
        let r = reply(
            server
                .http
                .request(method.clone(), server.url(path))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(r.status, 405, "{method} {path}");
        assert_eq!(
            r.error(),
            "invalid_request",
            "{method} {path}: {:?}",
            r.text
        );
    }
}

/// Sends a raw body to every form endpoint and /register; asserts a 4xx.
async fn assert_4xx_everywhere(server: &TestServer, body: &[u8], what: &str) {
    for (path, content_type) in [
        ("/token", "application/x-www-form-urlencoded"),
        ("/introspect", "application/x-www-form-urlencoded"),
        ("/revoke", "application/x-www-form-urlencoded"),
        ("/register", "application/json"),
    ] {
        let resp = server
            .http
            .post(server.url(path))
            .header("content-type", content_type)
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        assert!(
            (400..500).contains(&status),
            "{what} at {path}: {status} {text}"
        );
    }
}

async fn garbage_bodies_are_4xx(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (id, _) = api_and_client(&server).await;
    let mut random = Vec::new();
    for _ in 0..64 {
        random.extend_from_slice(&warden_jose::random_bytes::<32>());
    }
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("random bytes", random),
        (
            "invalid UTF-8",
            b"grant_type=client_credentials&scope=\xff\xfe\xfd".to_vec(),
        ),
        (
            "invalid UTF-8 percent-encoded",
            b"grant_type=client_credentials&client_id=%ff%fe&client_secret=%c3%28".to_vec(),
        ),
        (
            "bad percent-encoding",
            b"grant_type=%zz&scope=%&token=%%%".to_vec(),
        ),
        (
            "NUL bytes",
            b"grant_type=client\x00credentials&\x00=\x00".to_vec(),
        ),
        ("only separators", b"&&&===&&&".to_vec()),
        ("empty", Vec::new()),
        ("deeply nested JSON", deep.into_bytes()),
        ("JSON null", b"null".to_vec()),
        (
            "client_id with controls",
            format!(
                "grant_type=client_credentials&client_id={id}%0d%0aX-Injected:%201&client_secret=x"
            )
            .into_bytes(),
        ),
    ];
    for (what, body) in cases {
        assert_4xx_everywhere(&server, &body, what).await;
    }
}

async fn huge_and_repeated_parameters_are_4xx(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (id, secret) = api_and_client(&server).await;
    let huge_scope = "read ".repeat(10_000);
    let long_token = "a".repeat(60_000);
    let many_resources: Vec<(&str, &str)> = (0..1000).map(|_| ("resource", API)).collect();
    let distinct: Vec<String> = (0..1000)
        .map(|i| format!("https://api{i}.example"))
        .collect();
    let many_distinct: Vec<(&str, &str)> =
        distinct.iter().map(|r| ("resource", r.as_str())).collect();
    let many_audiences: Vec<(&str, &str)> =
        distinct.iter().map(|r| ("audience", r.as_str())).collect();
    let long_scope_token = "s".repeat(5000);

    // 1000 copies of the same resource name one API: that is a valid request.
    token(&server, &id, &secret, &many_resources).await.ok();
    // 10 000 copies of a granted scope are one scope.
    let r = token(&server, &id, &secret, &[("scope", huge_scope.as_str())]).await;
    assert_eq!(r.ok().body["scope"], "read");
    token(
        &server,
        &id,
        &secret,
        &[("scope", long_scope_token.as_str())],
    )
    .await
    .assert_error(400, "invalid_scope");
    for (what, extra) in [
        ("1000 distinct resources", many_distinct),
        ("1000 distinct audiences", many_audiences),
    ] {
        let r = token(&server, &id, &secret, &extra).await;
        assert_eq!(
            (r.status, r.error()),
            (400, "invalid_target"),
            "{what}: {}",
            r.text
        );
    }
    let r = post(
        &server,
        "/introspect",
        &[("token", &long_token)],
        Some((&id, &secret)),
    )
    .await;
    assert!((200..500).contains(&r.status), "{}", r.status);
    let r = post(
        &server,
        "/revoke",
        &[("token", &long_token)],
        Some((&id, &secret)),
    )
    .await;
    assert!((200..500).contains(&r.status), "{}", r.status);
    let r = crate::support::assertion_token(&server, &long_token, &[]).await;
    r.assert_error(401, "invalid_client");
    // A huge client id and secret.
    let r = token(&server, &"c".repeat(20_000), &"s".repeat(20_000), &[]).await;
    r.assert_error(401, "invalid_client");
    // Many distinct parameter names.
    let names: Vec<String> = (0..3000).map(|i| format!("p{i}")).collect();
    let mut form: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "v")).collect();
    form.push(("grant_type", "client_credentials"));
    let r = post(&server, "/token", &form, Some((&id, &secret))).await;
    assert!(r.status < 500, "{}", r.status);
}

async fn hostile_headers_are_4xx(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (id, secret) = api_and_client(&server).await;
    let long_basic = format!("Basic {}", "QUFB".repeat(3000));
    let creds = warden_testkit::basic_header(&id, &secret);
    // Non-ASCII bytes in the Authorization header (reqwest will not send them).
    let request = "POST /token HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nAuthorization: Basic \u{e9}\u{e9}\r\n\
         Content-Length: 29\r\n\r\ngrant_type=client_credentials";
    let r = raw_http(&server, request.as_bytes()).await;
    assert!((400..500).contains(&r.status), "{r:?}");
    for header in [
        long_basic.as_str(),
        "Bearer abc",
        "Digest username=x",
        "basic",
        creds.to_lowercase().as_str(),
    ] {
        let resp = server
            .http
            .post(server.url("/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("authorization", header)
            .body("grant_type=client_credentials")
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        assert!((400..500).contains(&status), "{header:.40}: {status}");
    }
    // Two Authorization headers.
    let request = format!(
        "POST /token HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nAuthorization: {creds}\r\n\
         Authorization: Basic Og==\r\nContent-Length: 29\r\n\r\ngrant_type=client_credentials"
    );
    let r = raw_http(&server, request.as_bytes()).await;
    assert!(r.status < 500, "{r:?}");
    // Two Content-Type headers.
    let request = format!(
        "POST /token HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Authorization: {creds}\r\nContent-Length: 29\r\n\r\ngrant_type=client_credentials"
    );
    let r = raw_http(&server, request.as_bytes()).await;
    assert!(r.status < 500, "{r:?}");
}

async fn responses_carry_a_request_id(backend: Backend) {
    let server = TestServer::start(backend).await;
    let a = get(&server, "/healthz").await;
    let b = get(&server, "/nope").await;
    let (a, b) = (a.header("x-request-id"), b.header("x-request-id"));
    assert!(a.is_some() && b.is_some());
    assert_ne!(a, b);
}

/// A client that never finishes its request headers (slowloris) is cut off: the connection is
/// closed or answered with a 4xx within seconds, not held forever.
async fn slow_headers_are_cut_off(backend: Backend) {
    let server = TestServer::start(backend).await;
    let addr = server.base_url.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut stream, b"POST /token HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        tokio::io::AsyncReadExt::read_to_end(&mut stream, &mut buf),
    )
    .await
    .expect("the server cut the slow connection off within 20 s");
    let text = String::from_utf8_lossy(&buf);
    assert!(
        read.is_err() || buf.is_empty() || text.starts_with("HTTP/1.1 4"),
        "{text}"
    );
    // The server still serves others.
    get(&server, "/healthz").await.ok();
}

/// A body that trickles in slower than the request timeout (10 s here) gets a JSON 408.
async fn slow_body_gets_408_json(backend: Backend) {
    let server = TestServer::start(backend).await;
    let addr = server.base_url.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = "POST /token HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
                Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n\
                grant_type=";
    tokio::io::AsyncWriteExt::write_all(&mut stream, head.as_bytes())
        .await
        .unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(25),
        tokio::io::AsyncReadExt::read_to_end(&mut stream, &mut buf),
    )
    .await
    .expect("an answer within 25 s")
    .unwrap();
    let text = String::from_utf8_lossy(&buf);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("\"error\":\"invalid_request\""), "{text}");
}

/// A claimed client id with a NUL byte is audited (cleaned), and does not make the database
/// refuse the batch holding the other events (PostgreSQL refuses NUL in text).
async fn audit_trail_survives_hostile_client_ids(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (id, secret) = api_and_client(&server).await;
    let r = server
        .post_form(
            "/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "evil\u{0}\nid"),
                ("client_secret", "x"),
            ],
            None,
        )
        .await;
    assert_eq!(r.status(), 401);
    access_token(&server, &id, &secret, &[]).await;
    // The writer flushes every 100 ms or so.
    let mut kinds = Vec::new();
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let events = server.engine.store().audit_events(100).await.unwrap();
        kinds = events.iter().map(|e| e.kind.clone()).collect::<Vec<_>>();
        if kinds.iter().any(|k| k == "token_issued")
            && kinds.iter().any(|k| k == "client_auth_failed")
        {
            let failed = events
                .iter()
                .find(|e| e.kind == "client_auth_failed")
                .unwrap();
            let actor = failed.actor.clone().unwrap_or_default();
            assert!(!actor.chars().any(char::is_control), "{actor:?}");
            assert!(actor.starts_with("evil"), "{actor:?}");
            let issued = events.iter().find(|e| e.kind == "token_issued").unwrap();
            assert_eq!(issued.actor.as_deref(), Some(id.as_str()));
            return;
        }
    }
    panic!("audit events not written: {kinds:?}");
}
