//! Prometheus metrics: requests, latency, tokens issued and refused.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    route: &'static str,
    method: &'static str,
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct IssuedLabels {
    grant_type: &'static str,
    auth_method: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefusedLabels {
    grant_type: &'static str,
    reason: &'static str,
}

/// Status codes as static labels (no allocation per request); rare ones share a label.
fn status_label(status: u16) -> &'static str {
    match status {
        200 => "200",
        201 => "201",
        204 => "204",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        405 => "405",
        408 => "408",
        413 => "413",
        500 => "500",
        503 => "503",
        s if s < 300 => "2xx",
        s if s < 400 => "3xx",
        s if s < 500 => "4xx",
        _ => "5xx",
    }
}

/// The server's metrics.
pub struct Metrics {
    registry: Registry,
    requests: Family<HttpLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    issued: Family<IssuedLabels, Counter>,
    refused: Family<RefusedLabels, Counter>,
    auth_failures: Family<RouteLabels, Counter>,
    audit_dropped: Counter<u64, AtomicU64>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<HttpLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.000_1, 2.0, 16))
        });
        let issued = Family::<IssuedLabels, Counter>::default();
        let refused = Family::<RefusedLabels, Counter>::default();
        let auth_failures = Family::<RouteLabels, Counter>::default();
        let audit_dropped = Counter::<u64, AtomicU64>::default();
        registry.register(
            "warden_http_requests",
            "HTTP requests by route, method and status",
            requests.clone(),
        );
        registry.register(
            "warden_http_request_duration_seconds",
            "HTTP request latency by route",
            latency.clone(),
        );
        registry.register(
            "warden_tokens_issued",
            "Access tokens issued by grant type and client authentication method",
            issued.clone(),
        );
        registry.register(
            "warden_tokens_refused",
            "Token requests refused by grant type and error code",
            refused.clone(),
        );
        registry.register(
            "warden_client_auth_failures",
            "Failed client authentications by endpoint",
            auth_failures.clone(),
        );
        registry.register(
            "warden_audit_events_dropped",
            "Audit events dropped because the writer fell behind",
            audit_dropped.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            issued,
            refused,
            auth_failures,
            audit_dropped,
        }
    }

    /// Counts a finished HTTP request.
    pub fn observe_request(
        &self,
        route: &'static str,
        method: &'static str,
        status: u16,
        seconds: f64,
    ) {
        self.requests
            .get_or_create(&HttpLabels {
                route,
                method,
                status: status_label(status),
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels { route })
            .observe(seconds);
    }

    /// Counts an issued token.
    pub fn token_issued(&self, grant_type: &'static str, auth_method: &'static str) {
        self.issued
            .get_or_create(&IssuedLabels {
                grant_type,
                auth_method,
            })
            .inc();
    }

    /// Counts a refused token request.
    pub fn token_refused(&self, grant_type: &'static str, reason: &'static str) {
        self.refused
            .get_or_create(&RefusedLabels { grant_type, reason })
            .inc();
    }

    /// Counts a failed client authentication.
    pub fn auth_failed(&self, route: &'static str) {
        self.auth_failures
            .get_or_create(&RouteLabels { route })
            .inc();
    }

    /// Counts a dropped audit event.
    pub fn audit_dropped(&self) {
        self.audit_dropped.inc();
    }

    /// Number of dropped audit events so far.
    pub fn audit_dropped_count(&self) -> u64 {
        self.audit_dropped.get()
    }

    /// The exposition text.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
