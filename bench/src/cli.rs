//! Command-line flags, parsed into the types the rest of the bench works with.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::load::Plan;

/// The longest warm-up or timed window accepted: every loop of the bench ends by itself.
const MAX_WINDOW: Duration = Duration::from_secs(3600);

#[derive(Debug, Parser)]
#[command(
    name = "warden-bench",
    version,
    about = "Load generator for Warden and its peer comparison"
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Generate an ES256 client key: a private JWK file and a public JWK Set file.
    Keygen(KeygenArgs),
    /// Print one signed client assertion (RFC 7523) for a smoke test.
    Assertion(AssertionArgs),
    /// Run one scenario against one target and print one JSON line on stdout.
    Run(Box<RunArgs>),
    /// Print a table of the JSON lines in a results file.
    Table(ResultsArgs),
    /// Print Warden/peer ratios and the latency goal from a results file.
    Compare(CompareArgs),
    /// Print the peer's peak cc-basic ES256 rate (tokens/s) from a results file.
    PeakRate(PeakRateArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ResultsArgs {
    /// File of JSON lines written by `run`.
    #[arg(long)]
    pub(crate) results: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct CompareArgs {
    #[arg(long)]
    pub(crate) results: PathBuf,
    /// Target name of Warden's runs.
    #[arg(long, default_value = "warden")]
    pub(crate) ours: String,
    /// Target name of the peer's runs.
    #[arg(long, default_value = "oidc-provider")]
    pub(crate) peer: String,
}

#[derive(Debug, Args)]
pub(crate) struct PeakRateArgs {
    #[arg(long)]
    pub(crate) results: PathBuf,
    #[arg(long, default_value = "oidc-provider")]
    pub(crate) peer: String,
}

#[derive(Debug, Args)]
pub(crate) struct KeygenArgs {
    /// `kid` of the new key.
    #[arg(long, default_value = "bench-es256")]
    pub(crate) kid: String,
    /// Where the private JWK (with `d`) is written.
    #[arg(long)]
    pub(crate) private_out: PathBuf,
    /// Where the public JWK Set is written (what both servers are given).
    #[arg(long)]
    pub(crate) jwks_out: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct AssertionArgs {
    /// Private JWK written by `keygen`.
    #[arg(long)]
    pub(crate) key_file: PathBuf,
    #[arg(long)]
    pub(crate) client_id: String,
    /// `aud` of the assertion: the token endpoint URL.
    #[arg(long)]
    pub(crate) audience: String,
}

/// The measured scenarios.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ScenarioName {
    /// client_credentials with `client_secret_basic`.
    CcBasic,
    /// client_credentials with a `private_key_jwt` ES256 assertion, one fresh `jti` per request.
    CcPkjwt,
    /// Introspection of opaque tokens, Basic-authenticated.
    Introspect,
}

impl ScenarioName {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::CcBasic => "cc-basic",
            Self::CcPkjwt => "cc-pkjwt",
            Self::Introspect => "introspect",
        }
    }
}

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// Which scenario to run.
    #[arg(value_enum)]
    pub(crate) scenario: ScenarioName,
    /// Base URL of the server, `http://127.0.0.1:PORT` (loopback only).
    #[arg(long)]
    pub(crate) url: Target,
    /// Name of the target in the report (e.g. `warden`, `oidc-provider`).
    #[arg(long, default_value = "target")]
    pub(crate) target: String,
    /// Free-form label in the report (e.g. `ES256`).
    #[arg(long, default_value = "")]
    pub(crate) label: String,
    /// Keep-alive connections, one request in flight on each.
    #[arg(long, default_value_t = 32)]
    pub(crate) concurrency: usize,
    /// Length of the timed window (`10s`, `500ms`, `1m`).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub(crate) duration: Duration,
    /// Load applied before the timed window; not counted.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub(crate) warmup: Duration,
    /// Fixed request rate per second (open loop); without it, every connection sends its next
    /// request as soon as the previous answer arrived (closed loop).
    #[arg(long)]
    pub(crate) rate: Option<f64>,
    /// Per-request timeout; a request that takes longer counts as an error.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub(crate) timeout: Duration,
    /// Client identifier (cc-basic, cc-pkjwt, and the client whose tokens are introspected).
    #[arg(long)]
    pub(crate) client_id: String,
    /// Client secret (cc-basic and introspect); the environment keeps it off the command line.
    #[arg(long, env = "BENCH_CLIENT_SECRET", hide_env_values = true)]
    pub(crate) client_secret: Option<String>,
    /// Private JWK of the `private_key_jwt` client (cc-pkjwt), written by `keygen`.
    #[arg(long)]
    pub(crate) key_file: Option<PathBuf>,
    /// API identifier sent as the RFC 8707 `resource` parameter.
    #[arg(long)]
    pub(crate) resource: String,
    /// Optional `scope` parameter of token requests.
    #[arg(long)]
    pub(crate) scope: Option<String>,
    /// Token endpoint URL used as the assertion `aud` (default: URL + token path).
    #[arg(long)]
    pub(crate) token_endpoint: Option<String>,
    /// Path of the token endpoint.
    #[arg(long, default_value = "/token")]
    pub(crate) token_path: String,
    /// Path of the introspection endpoint.
    #[arg(long, default_value = "/introspect")]
    pub(crate) introspect_path: String,
    /// Client that calls the introspection endpoint (default: --client-id).
    #[arg(long)]
    pub(crate) introspect_client_id: Option<String>,
    /// Secret of the introspecting client (default: --client-secret).
    #[arg(long, env = "BENCH_INTROSPECT_CLIENT_SECRET", hide_env_values = true)]
    pub(crate) introspect_client_secret: Option<String>,
    /// How many opaque tokens the introspect scenario obtains and cycles through.
    #[arg(long, default_value_t = 1000)]
    pub(crate) tokens: usize,
    /// How many assertions cc-pkjwt signs before the clock starts (default: enough for 35000/s,
    /// at most 400000, or for --rate, over warm-up and window). If they run out, the rest are
    /// signed inline.
    #[arg(long)]
    pub(crate) assertions: Option<usize>,
    /// Upper bound on requests sent in the whole run, warm-up included.
    #[arg(long, default_value_t = 50_000_000)]
    pub(crate) max_requests: u64,
}

impl RunArgs {
    pub(crate) fn plan(&self) -> crate::Fallible<Plan> {
        if self.concurrency == 0 || self.concurrency > 4096 {
            return Err(format!("--concurrency must be 1..=4096, got {}", self.concurrency).into());
        }
        if let Some(rate) = self.rate
            && !(rate.is_finite() && rate > 0.0 && rate <= 10_000_000.0)
        {
            return Err(
                format!("--rate must be a positive number of requests/s, got {rate}").into(),
            );
        }
        if self.duration.is_zero() {
            return Err("--duration must be longer than zero".into());
        }
        Ok(Plan {
            concurrency: self.concurrency,
            warmup: self.warmup,
            duration: self.duration,
            rate: self.rate,
            timeout: self.timeout,
            max_requests: self.max_requests,
        })
    }

    /// `aud` of client assertions: the token endpoint URL (RFC 7523 §3, item 3).
    pub(crate) fn token_endpoint(&self) -> String {
        self.token_endpoint
            .clone()
            .unwrap_or_else(|| format!("{}{}", self.url.base, self.token_path))
    }
}

/// A server the bench may load: a plain-HTTP URL on a loopback address.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// `http://host:port`, without a trailing slash.
    pub(crate) base: String,
    /// `host:port` as the `Host` header carries it.
    pub(crate) authority: String,
    pub(crate) addr: SocketAddr,
}

impl FromStr for Target {
    type Err = String;

    fn from_str(url: &str) -> Result<Self, Self::Err> {
        let uri: hyper::Uri = url
            .parse()
            .map_err(|e| format!("invalid URL {url:?}: {e}"))?;
        if uri.scheme_str() != Some("http") {
            return Err(format!("{url:?}: only http:// targets are supported"));
        }
        if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
            return Err(format!(
                "{url:?}: give the base URL only; paths are separate flags"
            ));
        }
        let host = uri.host().ok_or_else(|| format!("{url:?}: no host"))?;
        let port = uri.port_u16().unwrap_or(80);
        let ip = match host {
            "localhost" => IpAddr::V4(Ipv4Addr::LOCALHOST),
            other => other
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<IpAddr>()
                .map_err(|_| {
                    format!("{url:?}: the host must be a loopback IP address or localhost")
                })?,
        };
        // The bench only ever loads servers on this machine.
        if !ip.is_loopback() {
            return Err(format!("{url:?}: refusing a non-loopback target"));
        }
        let authority = match uri.port_u16() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        };
        Ok(Self {
            base: format!("http://{authority}"),
            authority,
            addr: SocketAddr::new(ip, port),
        })
    }
}

/// Parses `10s`, `500ms`, `2m`, or a bare number of seconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| c.is_ascii_alphabetic()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let number: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("invalid duration {text:?}"))?;
    let seconds = match unit {
        "ms" => number / 1000.0,
        "s" => number,
        "m" => number * 60.0,
        _ => {
            return Err(format!(
                "invalid duration unit in {text:?} (use ms, s or m)"
            ));
        }
    };
    if !(seconds.is_finite() && seconds >= 0.0) {
        return Err(format!("invalid duration {text:?}"));
    }
    let duration = Duration::from_secs_f64(seconds);
    if duration > MAX_WINDOW {
        return Err(format!(
            "duration {text:?} is longer than the 1h the bench allows"
        ));
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("2h").is_err());
        assert!(parse_duration("-1s").is_err());
    }

    #[test]
    fn targets_are_loopback_only() {
        let t: Target = "http://127.0.0.1:8080".parse().unwrap();
        assert_eq!(t.authority, "127.0.0.1:8080");
        assert_eq!(t.base, "http://127.0.0.1:8080");
        assert!("http://localhost:9/".parse::<Target>().is_ok());
        assert!("http://[::1]:9".parse::<Target>().is_ok());
        assert!("http://10.0.0.1:8080".parse::<Target>().is_err());
        assert!("http://example.com".parse::<Target>().is_err());
        assert!("https://127.0.0.1:8443".parse::<Target>().is_err());
        assert!("http://127.0.0.1:8080/token".parse::<Target>().is_err());
    }
}
