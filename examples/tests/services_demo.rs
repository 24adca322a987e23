//! The `services_demo` program, run as examples/README.md tells people to run it, against the
//! workspace's real `warden` binary: it must configure Warden with the CLI, start everything,
//! pass every check of the scenario and exit 0.
//!
//! `cargo test --workspace` builds `target/debug/warden`; `cargo test -p warden-examples` alone
//! does not, so run `cargo build -p warden-server` first. A missing binary fails the test: it
//! never passes silently.

// Test code: a failed expectation is a test failure, so unwrap/expect/panic are the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Read as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `target/debug/warden`: this test runs from `target/debug/deps/`.
fn warden_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("the test binary lives in target/<profile>/deps");
    let warden = profile_dir.join(format!("warden{}", std::env::consts::EXE_SUFFIX));
    assert!(
        warden.is_file(),
        "{} does not exist: build it with `cargo build -p warden-server` \
         (`cargo test --workspace` does)",
        warden.display()
    );
    warden
}

#[test]
fn services_demo_passes_every_check() {
    let warden = warden_binary();
    let mut child = Command::new(env!("CARGO_BIN_EXE_services_demo"))
        .arg("--warden")
        .arg(&warden)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start services_demo");
    let mut stdout_pipe = child.stdout.take().unwrap();
    let mut stderr_pipe = child.stderr.take().unwrap();
    let stdout = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout_pipe.read_to_string(&mut text);
        text
    });
    let stderr = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr_pipe.read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "services_demo still running after 120 s; stdout:\n{}",
                stdout.join().unwrap()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let (stdout, stderr) = (stdout.join().unwrap(), stderr.join().unwrap());
    assert!(
        status.success(),
        "services_demo failed ({status})\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );

    // The operator's setup, printed as run.
    for command in [
        "$ warden api create https://payments.shop.example --scopes 'payments:charge payments:refund'",
        "$ warden client create --name gateway --auth-method client_secret_basic",
        "--serves https://gateway.shop.example",
        "--exchange-target https://orders.shop.example",
        "| warden user create alice",
        "$ warden serve --listen 127.0.0.1:",
    ] {
        assert!(
            stdout.contains(command),
            "missing {command:?} in:\n{stdout}"
        );
    }
    // Each outcome of the scenario, then the verdict.
    for line in [
        "✔ payments: sub = orders (the client itself)",
        "✔ payments: no act (nobody acts on anyone's behalf)",
        "✔ alice's token: sub = alice",
        "✔ alice's token: aud = https://gateway.shop.example",
        "✔ orders: act = {sub: gateway}",
        "✔ payments: sub = alice",
        "✔ payments: act = {sub: orders, act: {sub: gateway}}",
        "✔ Warden: invalid_target",
        "✔ with error=\"invalid_token\"",
        "✔ the payments token: no scope",
        "✔ with error=\"insufficient_scope\"",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in:\n{stdout}");
    }
    assert!(!stdout.contains('✘'), "{stdout}");
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("All ") && l.ends_with(" checks passed.")),
        "{stdout}"
    );
    // Secrets and tokens are never printed (a JWT starts with the base64 of `{"alg"`).
    assert!(
        !stdout.contains("wdn_cs_") && !stdout.contains("eyJhbGci"),
        "{stdout}"
    );
}
