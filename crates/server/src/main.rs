//! The `warden` binary: parse the command line, resolve settings, run the command.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use tracing_subscriber::EnvFilter;
use warden_core::clock::{Clock, SystemClock};
use warden_server::admin_cmd;
use warden_server::cli::{Cli, Command, ServeArgs};
use warden_server::config::{LogFormat, Settings};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let serve_args = match &cli.command {
        Command::Serve(a) | Command::CheckConfig(a) => a.clone(),
        _ => ServeArgs::default(),
    };
    let settings = match Settings::resolve(&cli, &serve_args) {
        Ok(s) => s,
        Err(problems) => {
            for p in &problems {
                eprintln!("error: {p}");
            }
            eprintln!("{} configuration problem(s)", problems.len());
            return ExitCode::from(2);
        }
    };
    init_logging(&settings);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(cli.command, settings))
}

fn init_logging(settings: &Settings) {
    let filter = EnvFilter::try_new(&settings.log_level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    match settings.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

fn print_json(value: &serde_json::Value) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => println!("{text}"),
        Err(e) => eprintln!("error: {e}"),
    }
}

fn finish(result: Result<serde_json::Value, String>) -> ExitCode {
    match result {
        Ok(value) => {
            print_json(&value);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, settings: Settings) -> ExitCode {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    match command {
        Command::Serve(_) => serve(settings, clock).await,
        Command::CheckConfig(_) => {
            if let Err(e) = warden_server::tls::TlsReloader::from_settings(&settings.tls) {
                eprintln!("error: {e}");
                eprintln!("1 configuration problem(s)");
                return ExitCode::from(2);
            }
            let summary = serde_json::json!({
                "ok": true,
                "database": warden_server::config::redact_url(&settings.database),
                "listen": settings.listen.to_string(),
                "issuer": settings.issuer,
                "signing_algs": settings.signing_algs.iter().map(|a| a.as_str()).collect::<Vec<_>>(),
                "tls": tls_summary(&settings.tls),
                "dpop": {
                    "require_nonce": settings.dpop.require_nonce,
                    "proof_max_age": settings.dpop.proof_max_age,
                    "nonce_lifetime": settings.dpop.nonce_lifetime,
                },
            });
            finish(
                admin_cmd::with_engine(&settings, clock, false, |_, _| async move { Ok(summary) })
                    .await,
            )
        }
        Command::Api(cmd) => finish(
            admin_cmd::with_engine(&settings, clock, false, |e, now| {
                admin_cmd::api(e, now, cmd)
            })
            .await,
        ),
        Command::Client(cmd) => finish(
            admin_cmd::with_engine(&settings, clock, false, |e, now| {
                admin_cmd::client(e, now, cmd)
            })
            .await,
        ),
        Command::User(cmd) => finish(
            admin_cmd::with_engine(&settings, clock, false, |e, now| {
                admin_cmd::user(e, now, cmd)
            })
            .await,
        ),
        Command::Issuer(cmd) => finish(
            admin_cmd::with_engine(&settings, clock, false, |e, now| {
                admin_cmd::issuer(e, now, cmd)
            })
            .await,
        ),
        Command::Keys(cmd) => finish(
            admin_cmd::with_engine(&settings, clock, true, |e, now| {
                admin_cmd::keys(e, now, cmd)
            })
            .await,
        ),
        Command::Audit(cmd) => finish(
            admin_cmd::with_engine(&settings, clock, false, |e, _| admin_cmd::audit(e, cmd)).await,
        ),
        Command::RegistrationToken(cmd) => {
            // The contract: stdout carries the bare token, not JSON.
            let result = admin_cmd::with_engine(&settings, clock, false, |e, now| async move {
                admin_cmd::registration_token(e, now, cmd)
                    .await
                    .map(serde_json::Value::String)
            })
            .await;
            match result {
                Ok(serde_json::Value::String(token)) => {
                    println!("{token}");
                    ExitCode::SUCCESS
                }
                Ok(_) => ExitCode::FAILURE,
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// The TLS settings for `check-config`: file paths, never their contents.
fn tls_summary(tls: &warden_server::config::TlsSettings) -> serde_json::Value {
    let path = |p: &Option<std::path::PathBuf>| p.as_ref().map(|p| p.display().to_string());
    serde_json::json!({
        "serving": tls.cert.is_some(),
        "cert": path(&tls.cert),
        "key": path(&tls.key),
        "client_ca": path(&tls.client_ca),
        "client_cert_header": tls.client_cert_header,
        "trusted_proxies": tls.trusted_proxies,
        "mtls_endpoint_base": tls.mtls_endpoint_base,
    })
}

async fn serve(settings: Settings, clock: Arc<dyn Clock>) -> ExitCode {
    // The TLS files first: a bad certificate stops startup before the database is touched.
    let tls = match warden_server::tls::TlsReloader::from_settings(&settings.tls) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let listen = settings.listen;
    let issuer = settings.issuer.clone();
    let database = warden_server::config::redact_url(&settings.database);
    let (state, audit) = match warden_server::state::build(settings, clock).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let listener = match tokio::net::TcpListener::bind(listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot listen on {listen}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let tls_on = tls.as_ref().is_some_and(|t| t.serves_tls());
    tracing::info!(%listen, %issuer, %database, tls = tls_on, "warden is serving");
    match warden_server::serve::run_with_tls(
        listener,
        state,
        audit,
        warden_server::serve::shutdown_signal(),
        tls,
    )
    .await
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
