//! `GET /metrics` (src/metrics.rs has what it holds): on the main listener only with
//! `metrics_token` (then `Authorization: Bearer <token>`, checked in constant time), on the
//! separate `metrics_listen` address always (with the token too when one is set). Neither
//! configured: the main listener answers 404, as for any path it does not serve. Never Basic auth:
//! a scraper must hold no user's password. Also the route classes that label request metrics.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::net::TcpListener;

use crate::dav::DavResponse;
use crate::dav::resource::{Paths, Target};
use crate::error::text;
use crate::metrics::{CONTENT_TYPE, Metrics};
use crate::service::users::{INBOX, OUTBOX};

/// Who may read `/metrics`, and where.
#[derive(Clone, Default)]
pub struct MetricsAccess {
    /// SHA-256 of `metrics_token`: comparing digests takes the same time whatever the token's
    /// length and however much of it a guess gets right.
    token: Option<[u8; 32]>,
}

impl MetricsAccess {
    pub fn new(token: Option<&str>) -> MetricsAccess {
        MetricsAccess { token: token.map(digest) }
    }

    /// Whether the main listener serves `/metrics`: only behind a token.
    pub fn on_main_listener(&self) -> bool {
        self.token.is_some()
    }

    fn admits(&self, headers: &HeaderMap) -> bool {
        let Some(expected) = &self.token else { return true };
        let Some(given) = bearer(headers) else { return false };
        bool::from(digest(given).ct_eq(expected))
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The token of `Authorization: Bearer <token>` (RFC 6750 §2.1; the scheme is case-insensitive).
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Whether `path` is the metrics path under the base path.
pub fn is_metrics_path(paths: &Paths, path: &str) -> bool {
    path.strip_prefix(&paths.root()) == Some("metrics")
}

/// The answer to a `/metrics` request that reached an endpoint serving it.
pub async fn answer(access: &MetricsAccess, method: &Method, headers: &HeaderMap, metrics: &Metrics) -> DavResponse {
    if method != Method::GET && method != Method::HEAD {
        let mut resp = text(StatusCode::METHOD_NOT_ALLOWED, "GET or HEAD");
        resp.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return resp;
    }
    if !access.admits(headers) {
        let mut resp = text(StatusCode::UNAUTHORIZED, "metrics need the bearer token");
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"kalends metrics\""));
        return resp;
    }
    let body = if method == Method::HEAD { String::new() } else { metrics.render().await };
    let mut resp = http::Response::new(Bytes::from(body));
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// The route class of a request path, for metric labels: a handful of fixed names derived from
/// the parsed `Target` (and the few routes answered before DAV), never the path itself.
pub fn route_class(paths: &Paths, path: &str) -> &'static str {
    if super::health::probe(paths, path).is_some() {
        return "health";
    }
    if is_metrics_path(paths, path) {
        return "metrics";
    }
    if path.strip_prefix(&paths.root()).is_some_and(|rest| rest.starts_with("rsvp/")) {
        return "rsvp";
    }
    if path.strip_prefix(&paths.root()).is_some_and(|rest| rest.starts_with("reminders/")) {
        return "reminders";
    }
    if path.strip_prefix(&paths.root()).is_some_and(|rest| rest.starts_with(crate::api::PREFIX)) {
        return "api";
    }
    if path.strip_prefix(&paths.root()).is_some_and(|rest| rest.starts_with("feeds/")) {
        return "feed";
    }
    match paths.parse(path) {
        Target::Root | Target::PrincipalsRoot | Target::CalendarsRoot => "root",
        Target::WellKnownCaldav => "well-known",
        Target::Principal(_) => "principal",
        Target::Home(_) => "home",
        Target::InHome { segments, trailing_slash, .. } => match (segments.first().map(String::as_str), segments.len()) {
            (Some(INBOX), _) => "inbox",
            (Some(OUTBOX), _) => "outbox",
            (_, 1) => "calendar",
            (_, 2) if !trailing_slash => "object",
            _ => "other",
        },
        Target::Unknown => "other",
    }
}

/// Serves only `/metrics` on the `metrics_listen` listener until `shutdown` resolves. HTTP/1.1
/// only and no request bodies: Prometheus needs nothing more. Scrapes here are not counted in
/// the request metrics, which describe the service clients see.
pub async fn serve_metrics(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    access: MetricsAccess,
    paths: Paths,
    shutdown: impl Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    let builder = auto::Builder::new(TokioExecutor::new()).http1_only();
    let state = Arc::new((metrics, access, paths));
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let state = state.clone();
                let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let state = state.clone();
                    async move {
                        let (metrics, access, paths) = &*state;
                        let resp = if is_metrics_path(paths, req.uri().path()) {
                            answer(access, req.method(), req.headers(), metrics).await
                        } else {
                            text(StatusCode::NOT_FOUND, "only /metrics is served here")
                        };
                        Ok::<_, Infallible>(resp.map(Full::new))
                    }
                });
                let conn = graceful.watch(builder.serve_connection(TokioIo::new(stream), service).into_owned());
                tokio::spawn(async move {
                    let _ = conn.await;
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    // A scrape in flight is worth finishing, but not worth delaying the exit for.
    let _ = tokio::time::timeout(Duration::from_secs(2), graceful.shutdown()).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_classes_are_few_and_fixed() {
        let p = Paths::new(String::new());
        let cases = [
            ("/", "root"),
            ("/principals/", "root"),
            ("/.well-known/caldav", "well-known"),
            ("/principals/alice/", "principal"),
            ("/calendars/alice/", "home"),
            ("/calendars/alice/calendar/", "calendar"),
            ("/calendars/alice/calendar", "calendar"),
            ("/calendars/alice/calendar/x.ics", "object"),
            ("/calendars/alice/inbox/", "inbox"),
            ("/calendars/alice/inbox/m.ics", "inbox"),
            ("/calendars/alice/outbox/", "outbox"),
            ("/calendars/alice/a/b/c", "other"),
            ("/livez", "health"),
            ("/readyz", "health"),
            ("/metrics", "metrics"),
            ("/rsvp/abc", "rsvp"),
            ("/reminders/abc", "reminders"),
            ("/api/v1/calendars", "api"),
            ("/feeds/abc.ics", "feed"),
            ("/favicon.ico", "other"),
            ("/calendars/%2e%2e/x", "other"),
        ];
        for (path, class) in cases {
            assert_eq!(route_class(&p, path), class, "{path}");
        }
        let dav = Paths::new("/dav".to_owned());
        assert_eq!(route_class(&dav, "/dav/metrics"), "metrics");
        assert_eq!(route_class(&dav, "/metrics"), "other");
        assert_eq!(route_class(&dav, "/dav/calendars/a/c/x.ics"), "object");
    }

    #[test]
    fn the_token_is_a_bearer_token() {
        let access = MetricsAccess::new(Some("s3cret"));
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::AUTHORIZATION, HeaderValue::from_str(v).unwrap_or(HeaderValue::from_static("x")));
            h
        };
        assert!(access.admits(&with("Bearer s3cret")));
        assert!(access.admits(&with("bearer s3cret")));
        assert!(!access.admits(&with("Bearer s3cre")));
        assert!(!access.admits(&with("Bearer s3cretx")));
        assert!(!access.admits(&with("Basic czNjcmV0")));
        assert!(!access.admits(&HeaderMap::new()));
        assert!(MetricsAccess::new(None).admits(&HeaderMap::new()));
        assert!(!MetricsAccess::new(None).on_main_listener());
    }
}
