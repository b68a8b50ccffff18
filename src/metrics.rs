//! The server's Prometheus metrics, served by `GET /metrics` (http/metrics.rs) in the Prometheus
//! text format (0.0.4) through the `prometheus-client` crate (docs/decisions/0019-metrics.md).
//!
//! One `Metrics` per running server, never a process-wide registry: tests run several servers in
//! one process, and each must count only its own requests. What the HTTP edge counts lives here
//! (requests, latency, connections, rate-limit decisions, store errors); what other components
//! already know is read from them at scrape time (the cache's failed calls and breaker state, the
//! mailer's sends, the outbox's depth and age from one store query).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::cache::{Cache, Health};
use crate::store::{AlarmStore, OutboxStats, SchedStore, Store};
use crate::worker::imip::Mailer;

/// The `Content-Type` of the answer.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// The rate limiters and their verdicts (issue 17): every pair is exported from the start, at
/// 0, so `rate()` over a pair that has not happened yet is 0 rather than missing.
pub const LIMITERS: [&str; 5] = ["principal", "anonymous", "login", "rsvp", "feed"];
pub const VERDICTS: [&str; 3] = ["allowed", "delayed", "refused"];

/// Request latency buckets, in seconds: a cached GET takes a millisecond, a first sync of a big
/// calendar or a scheduling PUT with many attendees seconds.
const DURATION_BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

/// A scrape waits this long at most for the outbox query; a slower database leaves the outbox
/// series out of that scrape rather than holding Prometheus past its own timeout.
const OUTBOX_QUERY_TIMEOUT: Duration = Duration::from_secs(2);
/// A reminder due longer than this counts as overdue in `kalends_reminders_overdue`.
const OVERDUE_SECS: i64 = 60;

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: &'static str,
    status: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct NodeLabels {
    node: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RateLimitLabels {
    limiter: &'static str,
    verdict: &'static str,
}

type Durations = Family<RouteLabels, Histogram, fn() -> Histogram>;

/// Shared by the HTTP edge (through `HttpState`) and the metrics endpoints.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: Durations,
    connections_open: Gauge,
    connections: Counter,
    rate_limit: Family<RateLimitLabels, Counter>,
    store_errors: Counter,
    scraped: Arc<ScrapeTime>,
    store: Store,
}

impl Metrics {
    /// Metrics for one server named `node`, reading the cache, the mailer (when email is on)
    /// and the store's outbox at scrape time.
    pub fn new(node: &str, store: Store, cache: Cache, mailer: Option<Arc<Mailer>>) -> Metrics {
        let mut registry = Registry::with_prefix("kalends");
        // An info metric (always 1): its label names the node that answered the scrape, so a
        // scrape through a balancer says which node it reached (decision 0031).
        let node_info = Family::<NodeLabels, Gauge>::default();
        node_info.get_or_create(&NodeLabels { node: node.to_owned() }).set(1);
        registry.register("node_info", "This node's name (node_name), always 1", node_info);
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register("http_requests", "HTTP requests answered, by method, route class and status", requests.clone());
        let durations: Durations = Family::new_with_constructor(|| Histogram::new(DURATION_BUCKETS));
        registry.register(
            "http_request_duration_seconds",
            "Time from a request's head to its answer, by method and route class",
            durations.clone(),
        );
        let connections_open = Gauge::default();
        registry.register("http_connections_open", "Client connections open now", connections_open.clone());
        let connections = Counter::default();
        registry.register("http_connections", "Client connections accepted", connections.clone());
        let rate_limit = Family::<RateLimitLabels, Counter>::default();
        for limiter in LIMITERS {
            for verdict in VERDICTS {
                let _ = rate_limit.get_or_create(&RateLimitLabels { limiter, verdict });
            }
        }
        registry.register("rate_limit_decisions", "Rate limiter decisions, by limiter and verdict", rate_limit.clone());
        let store_errors = Counter::default();
        registry.register("store_errors", "Requests answered 500 because the database failed", store_errors.clone());
        let scraped = Arc::new(ScrapeTime { cache, store: store.clone(), mailer, outbox: Mutex::new(None), overdue: Mutex::new(None) });
        registry.register_collector(Box::new(scraped.clone()));
        Metrics { registry, requests, durations, connections_open, connections, rate_limit, store_errors, scraped, store }
    }

    /// One answered request. `route` is a fixed class (http/metrics.rs `route_class`), never a
    /// path, so the number of series stays small whatever clients ask for.
    pub fn request(&self, method: &http::Method, route: &'static str, status: u16, took: Duration) {
        let method = method_label(method);
        self.requests.get_or_create(&RequestLabels { method, route, status }).inc();
        self.durations.get_or_create(&RouteLabels { method, route }).observe(took.as_secs_f64());
    }

    /// A decision of the rate limiter `limiter` (one of [`LIMITERS`]): `verdict` is one of
    /// [`VERDICTS`].
    pub fn rate_limit(&self, limiter: &'static str, verdict: &'static str) {
        self.rate_limit.get_or_create(&RateLimitLabels { limiter, verdict }).inc();
    }

    /// A request that ended in 500 because the store failed.
    pub fn store_error(&self) {
        self.store_errors.inc();
    }

    /// A connection accepted; it counts as open until the returned guard is dropped.
    pub fn connection(&self) -> OpenConnection {
        self.connections.inc();
        self.connections_open.inc();
        OpenConnection(self.connections_open.clone())
    }

    /// The exposition: reads the outbox first (the only value that needs the database), then
    /// encodes everything.
    pub async fn render(&self) -> String {
        let outbox = match tokio::time::timeout(OUTBOX_QUERY_TIMEOUT, self.store.outbox_stats()).await {
            Ok(Ok(stats)) => Some(stats),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "metrics: reading the iMIP outbox failed; its series are left out");
                None
            }
            Err(_) => {
                tracing::warn!("metrics: the iMIP outbox query timed out; its series are left out");
                None
            }
        };
        // One indexed count on the due index: the senders are behind, or none runs.
        let since = crate::service::now().saturating_sub(OVERDUE_SECS);
        let overdue = match tokio::time::timeout(OUTBOX_QUERY_TIMEOUT, self.store.due_alarm_count(since)).await {
            Ok(Ok(n)) => Some(n),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "metrics: counting overdue reminders failed; the series is left out");
                None
            }
            Err(_) => None,
        };
        let mut out = String::new();
        // Scrapes at once may interleave their snapshots; each still sees a complete recent one.
        *lock(&self.scraped.outbox) = outbox.map(|o| (o, crate::service::now()));
        *lock(&self.scraped.overdue) = overdue;
        if let Err(e) = prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry) {
            // Writing into a String cannot fail; a collector's error would be a bug here.
            tracing::error!(error = %e, "metrics: encoding failed");
        }
        out
    }
}

/// Keeps a connection counted as open until it is dropped (when the connection's task ends,
/// however it ends).
pub struct OpenConnection(Gauge);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// The method as a label: the methods Kalends answers, anything else `other` (a client may send
/// any token as a method, and each would be a new series).
fn method_label(method: &http::Method) -> &'static str {
    const KNOWN: [&str; 16] = [
        "GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS", "PROPFIND", "PROPPATCH", "MKCOL", "MKCALENDAR", "REPORT", "COPY",
        "MOVE", "LOCK", "UNLOCK", "ACL",
    ];
    KNOWN.into_iter().find(|m| *m == method.as_str()).unwrap_or("other")
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A plain value replaced whole: a panic elsewhere cannot leave it half-written.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What is read from other components when Prometheus scrapes.
struct ScrapeTime {
    cache: Cache,
    store: Store,
    mailer: Option<Arc<Mailer>>,
    /// The outbox as `render` just read it, and when (Unix seconds).
    outbox: Mutex<Option<(OutboxStats, i64)>>,
    /// Reminders due for over a minute and not handled, as `render` just read it.
    overdue: Mutex<Option<i64>>,
}

impl std::fmt::Debug for ScrapeTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScrapeTime").field("cache", &self.cache.backend()).field("email", &self.mailer.is_some()).finish()
    }
}

/// The breaker as a number: 0 closed (Redis used, or no Redis), 1 open (answering without it),
/// 2 half-open (one call is testing whether it is back).
fn breaker_state(health: Health) -> i64 {
    match health {
        Health::Up => 0,
        Health::Down { .. } => 1,
        Health::Probing => 2,
    }
}

fn gauge(encoder: &mut DescriptorEncoder, name: &str, help: &str, value: i64) -> Result<(), std::fmt::Error> {
    let metric = ConstGauge::new(value);
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}

fn counter(encoder: &mut DescriptorEncoder, name: &str, help: &str, value: u64) -> Result<(), std::fmt::Error> {
    let metric = ConstCounter::new(value);
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}

/// A counter family with one label, from (label value, count) pairs. Help texts end with a
/// full stop, as the registry writes those of registered metrics.
fn counters(encoder: &mut DescriptorEncoder, name: &str, help: &str, label: &str, values: &[(&str, u64)]) -> Result<(), std::fmt::Error> {
    let mut family = encoder.encode_descriptor(name, help, None, prometheus_client::metrics::MetricType::Counter)?;
    for (value, count) in values {
        let labels = [(label, *value)];
        ConstCounter::new(*count).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

impl Collector for ScrapeTime {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let errors = self.cache.errors();
        counters(
            &mut encoder,
            "cache_errors",
            "Cache (Redis) calls that got no answer, failed or timed out; each was a miss.",
            "kind",
            &[("failed", errors.failed), ("timeout", errors.timed_out)],
        )?;
        gauge(
            &mut encoder,
            "cache_breaker_state",
            "The Redis circuit breaker: 0 closed, 1 open (answering without Redis), 2 half-open.",
            breaker_state(self.cache.health()),
        )?;
        let sends = self.mailer.as_ref().map(|m| m.sends()).unwrap_or_default();
        counters(
            &mut encoder,
            "imip_sends",
            "iMIP emails by how their send ended on this node (temp_failed: retried later).",
            "result",
            &[("sent", sends.sent), ("temp_failed", sends.temp_failed), ("failed", sends.failed)],
        )?;
        if let Some((outbox, at)) = *lock(&self.outbox) {
            gauge(&mut encoder, "imip_outbox_pending", "iMIP emails waiting in the outbox (all nodes).", outbox.pending)?;
            let age = outbox.oldest_pending.map_or(0, |t| at.saturating_sub(t).max(0));
            gauge(
                &mut encoder,
                "imip_outbox_oldest_pending_age_seconds",
                "Age of the oldest email waiting in the outbox, 0 when none waits.",
                age,
            )?;
        }
        let (commits, writes) = self.store.write_groups();
        match self.store.engine() {
            "sqlite" => {
                counter(
                    &mut encoder,
                    "sqlite_write_commits",
                    "COMMITs of SQLite's writer connection: one per group of writes committed together.",
                    commits,
                )?;
                counter(&mut encoder, "sqlite_writes", "Writes committed on SQLite; over sqlite_write_commits, the mean group size.", writes)?;
            }
            _ => {
                counter(
                    &mut encoder,
                    "postgres_put_commits",
                    "COMMITs of PUTs on PostgreSQL: one per group of PUTs to a calendar committed together.",
                    commits,
                )?;
                counter(&mut encoder, "postgres_puts", "PUTs committed on PostgreSQL; over postgres_put_commits, the mean group size.", writes)?;
            }
        }
        if let Some(n) = *lock(&self.overdue) {
            gauge(
                &mut encoder,
                "reminders_overdue",
                "Reminders due for more than a minute and not yet handled (all nodes): no node sends them, or the senders are behind.",
                n,
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn methods_outside_the_known_set_are_one_label() {
        assert_eq!(method_label(&http::Method::GET), "GET");
        assert_eq!(method_label(&http::Method::from_bytes(b"PROPFIND").unwrap()), "PROPFIND");
        assert_eq!(method_label(&http::Method::from_bytes(b"BREW").unwrap()), "other");
    }

    #[test]
    fn breaker_states_are_numbered() {
        assert_eq!(breaker_state(Health::Up), 0);
        assert_eq!(breaker_state(Health::Down { retry_in: Duration::from_secs(1) }), 1);
        assert_eq!(breaker_state(Health::Probing), 2);
    }
}
