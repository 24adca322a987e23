//! `warden-bench`: the load generator behind `bench/run.sh` and `bench/compare.sh`.
//!
//! One invocation of `warden-bench run SCENARIO` measures one scenario against one target
//! (Warden or the oidc-provider peer) and prints one JSON line on stdout; everything else goes
//! to stderr. A run walks through the modules in this order:
//!
//! - [`cli`]: flags, parsed into typed values (a loopback-only [`cli::Target`], durations).
//! - [`scenario`]: builds the [`scenario::Workload`] — the request every worker sends — and does
//!   the setup a scenario needs before the clock starts: pre-signing `private_key_jwt`
//!   assertions ([`assertion`]) or obtaining opaque tokens to introspect.
//! - [`conn`]: one HTTP/1.1 keep-alive connection per worker (a bare hyper client connection,
//!   no pool, no redirects, `TCP_NODELAY`).
//! - [`load`]: opens `--concurrency` connections, then runs the warm-up and the timed window,
//!   either closed-loop (each worker sends its next request as soon as the previous answer is
//!   in) or open-loop at a fixed `--rate` (latency measured from the scheduled send time, so a
//!   slow server cannot hide queueing delay).
//! - [`report`]: merges the workers' samples into throughput and latency percentiles.
//!
//! `warden-bench keygen` makes the ES256 client key both servers are configured with,
//! `warden-bench assertion` prints one client assertion (used by the scripts' smoke checks), and
//! `table`, `compare` and `peak-rate` read the JSON lines back ([`summary`]).

mod assertion;
mod cli;
mod clock;
mod conn;
mod form;
mod load;
mod report;
mod scenario;
mod summary;

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;

use crate::assertion::{AssertionFactory, ClientKey};
use crate::cli::{AssertionArgs, Cli, Command, KeygenArgs, RunArgs};

/// Errors of this binary end the run with a message; there is nothing to recover.
pub(crate) type Fallible<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Keygen(args) => keygen(&args),
        Command::Assertion(args) => print_assertion(&args),
        Command::Run(args) => run(*args),
        Command::Table(args) => {
            summary::read(&args.results).map(|lines| print!("{}", summary::table(&lines)))
        }
        Command::Compare(args) => summary::read(&args.results)
            .map(|lines| print!("{}", summary::compare(&lines, &args.ours, &args.peer))),
        Command::PeakRate(args) => summary::read(&args.results).and_then(|lines| {
            let rate = summary::peer_peak_rate(&lines, &args.peer).ok_or_else(|| {
                format!(
                    "no closed-loop cc-basic ES256 run of {} in the results",
                    args.peer
                )
            })?;
            println!("{rate:.0}");
            Ok(())
        }),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("warden-bench: {err}");
            ExitCode::FAILURE
        }
    }
}

fn keygen(args: &KeygenArgs) -> Fallible<()> {
    let key = ClientKey::generate(&args.kid)?;
    write_json(&args.private_out, &key.private_jwk()?)?;
    write_json(
        &args.jwks_out,
        &serde_json::json!({ "keys": [key.public_jwk()] }),
    )?;
    eprintln!(
        "warden-bench: ES256 key {} written to {} (public JWK Set: {})",
        args.kid,
        args.private_out.display(),
        args.jwks_out.display()
    );
    Ok(())
}

fn print_assertion(args: &AssertionArgs) -> Fallible<()> {
    let key = ClientKey::load(&args.key_file)?;
    let factory = AssertionFactory::new(key, &args.client_id, &args.audience)?;
    println!("{}", factory.sign(0, clock::unix_now())?);
    Ok(())
}

fn run(args: RunArgs) -> Fallible<()> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let target = Arc::new(args.url.clone());
        let workload = Arc::new(scenario::prepare(&args, &target).await?);
        let outcome = load::run(target, Arc::clone(&workload), args.plan()?).await?;
        if let Some(example) = &outcome.first_error {
            eprintln!("warden-bench: first error ({}): {example}", args.target);
        }
        let line = report::Report::new(&args, &outcome, workload.inline_signed());
        println!("{}", serde_json::to_string(&line)?);
        Ok(())
    })
}

fn write_json(path: &std::path::Path, value: &serde_json::Value) -> Fallible<()> {
    let text = serde_json::to_string_pretty(value)?;
    std::fs::write(path, text + "\n").map_err(|e| format!("writing {}: {e}", path.display()))?;
    Ok(())
}
