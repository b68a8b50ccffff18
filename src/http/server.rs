//! Accept loop and per-request pipeline: health probes (health.rs) → `/metrics` (metrics.rs) →
//! RSVP links (rsvp.rs) → well-known redirect → OPTIONS → authenticate →
//! read the body within limits → DAV → one log line (method, path, principal, limit, status, ms)
//! and the request metrics.

use std::convert::Infallible;
use std::panic::AssertUnwindSafe;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::FutureExt;
use http::{HeaderValue, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

use super::auth::{basic_credentials, challenge};
use super::metrics::MetricsAccess;
use crate::dav::resource::Target;
use crate::dav::{DavContext, DavMethod, DavResponse, method::options};
use crate::error::{text, to_response};
use crate::metrics::Metrics;
use crate::service::auth::Authenticator;

/// Shared by every connection.
pub struct HttpState {
    pub dav: DavContext,
    pub auth: Authenticator,
    /// Largest request body accepted (413 beyond).
    pub max_body: usize,
    /// Largest request head (hyper answers 431 beyond).
    pub max_header_bytes: usize,
    /// Set when shutdown begins: `/readyz` answers 503 from then on.
    pub draining: Arc<AtomicBool>,
    /// How long open connections may take to finish once the listener is closed.
    pub shutdown_deadline: Duration,
    /// This server's metrics (one registry per server, never a global one).
    pub metrics: Arc<Metrics>,
    /// Whether and for whom this listener serves `/metrics`.
    pub metrics_access: MetricsAccess,
}

/// Serves until `shutdown` resolves, then stops accepting and waits (bounded) for open
/// connections to finish their requests.
pub async fn serve(listener: TcpListener, state: Arc<HttpState>, shutdown: impl Future<Output = ()>) {
    let graceful = GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // Header names are case-insensitive (RFC 9110 §5.1), but some clients and proxies match
    // them as bytes (the caldav library's own proxy test does); Title-Case is what Radicale,
    // Xandikos and Apache send, so it is the safer spelling on HTTP/1.1.
    builder
        .http1()
        .max_buf_size(state.max_header_bytes.max(8192))
        .title_case_headers(true)
        .timer(hyper_util::rt::TokioTimer::new());
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, remote) = match accepted {
                    Ok(pair) => pair,
                    Err(e) => {
                        // e.g. EMFILE: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let open = state.metrics.connection();
                let state = state.clone();
                let service = service_fn(move |req| {
                    let state = state.clone();
                    async move { Ok::<_, Infallible>(handle(&state, req, remote).await) }
                });
                let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                let conn = graceful.watch(conn.into_owned());
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                    drop(open);
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    let deadline = state.shutdown_deadline;
    if tokio::time::timeout(deadline, graceful.shutdown()).await.is_err() {
        tracing::warn!(?deadline, "connections still open at the shutdown deadline; closing them");
    }
}

async fn handle(state: &HttpState, req: hyper::Request<Incoming>, remote: SocketAddr) -> hyper::Response<Full<Bytes>> {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let (principal, resp) = respond(state, req, remote).await;
    let status = resp.status().as_u16();
    let took = started.elapsed();
    state.metrics.request(&method, super::metrics::route_class(&state.dav.paths, &path), status, took);
    let ms = took.as_secs_f64() * 1000.0;
    // Probes come every few seconds from every balancer, scrapes from every Prometheus: at info
    // they would drown the log.
    if super::health::probe(&state.dav.paths, &path).is_some() || super::metrics::is_metrics_path(&state.dav.paths, &path) {
        tracing::debug!(target: "kalends::request", %method, %path, status, ms = format!("{ms:.1}"));
        return resp.map(Full::new);
    }
    // `limit`: the rate limiter's verdict goes here once it exists ("-": none was taken).
    tracing::info!(target: "kalends::request", %method, %path, principal = principal.as_deref().unwrap_or("-"), limit = "-", status, ms = format!("{ms:.1}"));
    resp.map(Full::new)
}

async fn respond(
    state: &HttpState,
    req: hyper::Request<Incoming>,
    remote: SocketAddr,
) -> (Option<String>, DavResponse) {
    let method = DavMethod::parse(req.method());
    let method_name = req.method().clone();
    let paths = &state.dav.paths;
    if let Some(probe) = super::health::probe(paths, req.uri().path()) {
        return (None, super::health::answer(probe, req.method(), &state.dav.store, &state.draining).await);
    }
    // A bearer token, not Basic auth; without one configured the main listener does not serve it.
    if super::metrics::is_metrics_path(paths, req.uri().path()) {
        if !state.metrics_access.on_main_listener() {
            return (None, text(StatusCode::NOT_FOUND, "not found"));
        }
        return (None, super::metrics::answer(&state.metrics_access, req.method(), req.headers(), &state.metrics).await);
    }
    // RSVP links carry their own credential (a signed token), so no Basic auth.
    if let Some(token) = req.uri().path().strip_prefix(&format!("{}rsvp/", paths.root())) {
        let token = token.to_owned();
        return (None, super::rsvp::handle(state, req, &token).await);
    }
    // RFC 6764 §5: the well-known URI redirects to the context path, without authentication.
    if paths.parse(req.uri().path()) == Target::WellKnownCaldav {
        let mut resp = text(StatusCode::MOVED_PERMANENTLY, "see the context path");
        if let Ok(v) = HeaderValue::from_str(&paths.root()) {
            resp.headers_mut().insert(header::LOCATION, v);
        }
        return (None, resp);
    }
    if method == DavMethod::Options {
        return (None, options::handle());
    }
    let Some(creds) = basic_credentials(req.headers()) else { return (None, unauthorized(req).await) };
    let user = match state.auth.authenticate(&creds.user, &creds.password, remote.ip()).await {
        Ok(user) => user,
        Err(failure) => {
            tokio::time::sleep(failure.delay).await;
            return (None, unauthorized(req).await);
        }
    };
    let name = Some(user.name.clone());
    let (parts, body) = req.into_parts();
    let body = match read_body(body, &parts.headers, state.max_body).await {
        Ok(b) => b,
        Err(resp) => return (name, resp),
    };
    // A bug in one handler must cost one 500, not the connection (and a silent client error).
    let handled = AssertUnwindSafe(crate::dav::handle(&state.dav, &user, method, parts.uri.path(), &parts.headers, body))
        .catch_unwind()
        .await;
    let resp = match handled {
        Ok(result) => result.unwrap_or_else(|e| {
            if e.is_store() {
                state.metrics.store_error();
            }
            to_response(e, paths)
        }),
        Err(_) => {
            tracing::error!(%method_name, path = parts.uri.path(), "request handler panicked");
            text(StatusCode::INTERNAL_SERVER_ERROR, "internal server error")
        }
    };
    (name, resp)
}

/// Unauthenticated bodies up to this size are read and dropped, so the connection can carry
/// the client's retry with credentials; larger ones are not worth reading for a stranger.
const DRAIN_UNAUTHENTICATED: u64 = 64 * 1024;

/// The 401 challenge. RFC 9110 §10.1.1/RFC 9112 §9.6: a response sent before the body is read
/// must say the connection closes, or the client's retry on it fails; so a small body is
/// drained first (keeping the connection), and anything else gets `Connection: close`.
async fn unauthorized(req: hyper::Request<Incoming>) -> DavResponse {
    let headers = req.headers();
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    let chunked = headers.contains_key(header::TRANSFER_ENCODING);
    let drainable = match declared {
        Some(n) => n <= DRAIN_UNAUTHENTICATED,
        None => !chunked,
    };
    if drainable {
        let limit = usize::try_from(DRAIN_UNAUTHENTICATED).unwrap_or(usize::MAX);
        let drained = Limited::new(req.into_body(), limit).collect();
        if let Ok(Ok(_)) = tokio::time::timeout(Duration::from_secs(5), drained).await {
            return challenge();
        }
    }
    let mut resp = challenge();
    resp.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    resp
}

/// Reads the whole body, refusing (413) beyond `max` before reading it when Content-Length
/// says so, and while reading otherwise.
async fn read_body(body: Incoming, headers: &http::HeaderMap, max: usize) -> Result<Bytes, DavResponse> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let too_large = || {
        let mut resp = text(StatusCode::PAYLOAD_TOO_LARGE, &format!("request body larger than {max} bytes"));
        // The rest of the body is unread: this connection cannot carry another request.
        resp.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
        resp
    };
    if declared.is_some_and(|n| n > max as u64) {
        return Err(too_large());
    }
    match Limited::new(body, max).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => Err(too_large()),
        Err(e) => Err(text(StatusCode::BAD_REQUEST, &format!("could not read the request body: {e}"))),
    }
}
