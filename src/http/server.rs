//! Accept loop and per-request pipeline: health probes (health.rs) → `/metrics` (metrics.rs) →
//! RSVP links (rsvp.rs, limited by address) → reminder opt-out links (reminders.rs, limited by
//! address) → feed links (feed.rs, limited by token) →
//! well-known redirect → OPTIONS → anonymous
//! requests limited by address → authenticate (failed logins limited) → read the body within
//! limits → the principal's rate limit by the request's cost (limit/) → DAV → one log line
//! (method, path, principal, limit verdict, status, ms) and the request metrics.

use std::convert::Infallible;
use std::panic::AssertUnwindSafe;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
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

use super::auth::{Credential, challenge};
use super::limit::client::{addr_key, client_addr};
use super::limit::cost::{RequestClass, items_cost};
use super::limit::{Admission, RateLimits, Scope};
use super::metrics::MetricsAccess;
use crate::dav::multistatus::Listed;
use crate::dav::resource::Target;
use crate::dav::{DavContext, DavMethod, DavResponse, method::options};
use crate::error::{text, to_response};
use crate::metrics::Metrics;
use crate::service::Principal;
use crate::service::auth::{AuthFailure, Authenticator};

/// Shared by every connection.
pub struct HttpState {
    pub dav: DavContext,
    pub auth: Authenticator,
    pub limits: RateLimits,
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
    let path = logged_path(&state.dav.paths, req.uri().path());
    let http1 = req.version() == http::Version::HTTP_11;
    let Outcome { principal, limit, mut resp } = respond(state, req, remote).await;
    // Draining: every HTTP/1.1 answer closes its connection (RFC 9112 §9.6), so a balancer
    // keeps no idle connection into a node whose listener is about to close, and sends the
    // next request elsewhere instead of into a closing socket (decision 0031).
    if http1 && state.draining.load(std::sync::atomic::Ordering::Acquire) {
        resp.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
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
    tracing::info!(target: "kalends::request", %method, %path, principal = principal.as_deref().unwrap_or("-"), limit, status, ms = format!("{ms:.1}"));
    resp.map(Full::new)
}

/// What `respond` did, for the log line: who asked, and the rate limiter's verdict
/// (`allowed`, `delayed`, `refused`, or `-` where no limit applies).
pub(super) struct Outcome {
    pub(super) principal: Option<String>,
    pub(super) limit: &'static str,
    pub(super) resp: DavResponse,
}

impl Outcome {
    pub(super) fn unlimited(resp: DavResponse) -> Outcome {
        Outcome { principal: None, limit: "-", resp }
    }
}

async fn respond(state: &HttpState, req: hyper::Request<Incoming>, remote: SocketAddr) -> Outcome {
    let method = DavMethod::parse(req.method());
    let paths = &state.dav.paths;
    if let Some(probe) = super::health::probe(paths, req.uri().path()) {
        return Outcome::unlimited(super::health::answer(probe, req.method(), &state.dav.store, &state.draining).await);
    }
    // A bearer token, not Basic auth; without one configured the main listener does not serve it.
    if super::metrics::is_metrics_path(paths, req.uri().path()) {
        if !state.metrics_access.on_main_listener() {
            return Outcome::unlimited(text(StatusCode::NOT_FOUND, "not found"));
        }
        return Outcome::unlimited(super::metrics::answer(&state.metrics_access, req.method(), req.headers(), &state.metrics).await);
    }
    let client = client_addr(remote.ip(), req.headers(), state.limits.trusted_proxies());
    // RSVP links carry their own credential (a signed token), so no Basic auth.
    if let Some(token) = req.uri().path().strip_prefix(&format!("{}rsvp/", paths.root())) {
        let token = token.to_owned();
        let (limit, refused) = gate(state, Scope::Rsvp, "rsvp", &addr_key(client), 1, BY_ADDRESS).await;
        if let Some(refused) = refused {
            return Outcome { principal: None, limit, resp: unread(req, refused).await };
        }
        let resp = super::rsvp::handle(state, req, &token).await;
        return Outcome { principal: None, limit, resp };
    }
    // So do the reminder opt-out links, limited per address as RSVP links are.
    if let Some(token) = req.uri().path().strip_prefix(&format!("{}reminders/", paths.root())) {
        let token = token.to_owned();
        let (limit, refused) = gate(state, Scope::Rsvp, "rsvp", &addr_key(client), 1, BY_ADDRESS).await;
        if let Some(refused) = refused {
            return Outcome { principal: None, limit, resp: unread(req, refused).await };
        }
        let resp = super::reminders::handle(state, req, &token).await;
        return Outcome { principal: None, limit, resp };
    }
    // The JSON API: its document is public; everything else is authenticated as DAV is, but
    // answers in JSON (problem details, a Bearer challenge).
    if let Some(rest) = req.uri().path().strip_prefix(&format!("{}{}", paths.root(), crate::api::PREFIX)) {
        let rest = rest.to_owned();
        return api_request(state, req, client, &rest).await;
    }
    // The web page: its own login and session cookie (http/web.rs).
    if let Some(rest) = req.uri().path().strip_prefix(&format!("{}{}", paths.root(), crate::web::PREFIX)) {
        let rest = rest.to_owned();
        return super::web::web_request(state, req, client, &rest).await;
    }
    // A browser at the DAV root goes to the web page; a DAV client (credentials, another
    // method, or no text/html in Accept) gets what it always got (decision 0028).
    if super::web::browser_at_root(paths, &req) {
        return Outcome::unlimited(crate::web::to_web_root(paths));
    }
    // Feed links carry their own credential (the token), so no Basic auth; limited per token.
    if let Some(file) = req.uri().path().strip_prefix(&format!("{}feeds/", paths.root())) {
        let key = feed_limit_key(file);
        let (limit, refused) = gate(state, Scope::Feed, "feed", &key, 1, "too many requests for this feed").await;
        let resp = match refused {
            Some(refused) => refused,
            None => super::feed::handle(state, &req, file).await,
        };
        return Outcome { principal: None, limit, resp: unread(req, resp).await };
    }
    // RFC 6764 §5: the well-known URI redirects to the context path, without authentication.
    if paths.parse(req.uri().path()) == Target::WellKnownCaldav {
        let mut resp = text(StatusCode::MOVED_PERMANENTLY, "see the context path");
        if let Ok(v) = HeaderValue::from_str(&paths.root()) {
            resp.headers_mut().insert(header::LOCATION, v);
        }
        return Outcome::unlimited(resp);
    }
    // Static and cheaper than a limiter decision; and a 429 here breaks clients that probe
    // with OPTIONS before anything else (org-caldav).
    if method == DavMethod::Options {
        return Outcome::unlimited(options::handle());
    }
    let Some(creds) = Credential::of(req.headers()) else {
        let (limit, refused) = gate(state, Scope::Anonymous, "anonymous", &addr_key(client), 1, BY_ADDRESS).await;
        let resp = refused.unwrap_or_else(challenge);
        return Outcome { principal: None, limit, resp: unread(req, resp).await };
    };
    let user = match authenticate(state, &creds, client).await {
        Ok(user) => user,
        Err((limit, resp)) => return Outcome { principal: None, limit, resp: unread(req, resp).await },
    };
    let name = Some(user.name.clone());
    let (parts, body) = req.into_parts();
    let body = match read_body(body, &parts.headers, state.max_body).await {
        Ok(b) => b,
        Err(resp) => return Outcome { principal: name, limit: "-", resp },
    };
    let depth = parts.headers.get("depth").and_then(|v| v.to_str().ok());
    let cost = RequestClass::of(method, depth, &body).cost();
    let admission = state.limits.admit(Scope::Principal, &user.name, cost).await;
    let limit = verdict(&state.metrics, "principal", admission);
    if let Some(refused) = admission.filter(|a| !a.verdict.allowed) {
        return Outcome { principal: name, limit, resp: refused.refusal("too many requests for this account") };
    }
    // A bug in one handler must cost one 500, not the connection (and a silent client error).
    let handled = AssertUnwindSafe(crate::dav::handle(&state.dav, &user, method, parts.uri.path(), &parts.headers, body))
        .catch_unwind()
        .await;
    let mut resp = match handled {
        Ok(result) => result.unwrap_or_else(|e| {
            if e.is_store() {
                state.metrics.store_error();
            }
            to_response(e, paths)
        }),
        Err(_) => {
            tracing::error!(method = %parts.method, path = parts.uri.path(), "request handler panicked");
            text(StatusCode::INTERNAL_SERVER_ERROR, "internal server error")
        }
    };
    if let Some(Listed(items)) = resp.extensions().get::<Listed>().copied() {
        state.limits.settle(Scope::Principal, &user.name, items_cost(items)).await;
    }
    if let Some(admission) = admission {
        admission.annotate(&mut resp);
    }
    Outcome { principal: name, limit, resp }
}

/// A feed's bucket: the token's hash, so the token itself is kept nowhere, not even in Redis.
fn feed_limit_key(file: &str) -> String {
    let token = file.strip_suffix(".ics").unwrap_or(file);
    crate::service::feeds::token_hash(token).iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// The path as the log shows it: a feed's or a reminder link's token is a credential, so it
/// is left out.
fn logged_path(paths: &crate::dav::resource::Paths, path: &str) -> String {
    for prefix in ["feeds/", "reminders/"] {
        let secret = format!("{}{prefix}", paths.root());
        if path.starts_with(&secret) {
            return format!("{secret}…");
        }
    }
    path.to_owned()
}

/// One `/api/v1/…` request: the public document, or authentication, the body, the principal's
/// limit (a read 2 units, a write 3: API calls do what a REPORT or a PUT does), then the API.
async fn api_request(state: &HttpState, req: hyper::Request<Incoming>, client: IpAddr, rest: &str) -> Outcome {
    if rest == "openapi.json" && (req.method() == http::Method::GET || req.method() == http::Method::HEAD) {
        let (limit, refused) = gate(state, Scope::Anonymous, "anonymous", &addr_key(client), 1, BY_ADDRESS).await;
        return Outcome { principal: None, limit, resp: refused.unwrap_or_else(crate::api::openapi_json) };
    }
    let Some(creds) = Credential::of(req.headers()) else {
        let (limit, refused) = gate(state, Scope::Anonymous, "anonymous", &addr_key(client), 1, BY_ADDRESS).await;
        let resp = refused.map_or_else(crate::api::unauthorized, crate::api::as_problem);
        return Outcome { principal: None, limit, resp: unread(req, resp).await };
    };
    let user = match authenticate(state, &creds, client).await {
        Ok(user) => user,
        Err((limit, resp)) => {
            let resp = if resp.status() == StatusCode::UNAUTHORIZED { crate::api::unauthorized() } else { crate::api::as_problem(resp) };
            return Outcome { principal: None, limit, resp: unread(req, resp).await };
        }
    };
    let name = Some(user.name.clone());
    let (parts, body) = req.into_parts();
    let body = match read_body(body, &parts.headers, state.max_body).await {
        Ok(b) => b,
        Err(resp) => return Outcome { principal: name, limit: "-", resp: crate::api::as_problem(resp) },
    };
    let cost = if parts.method == http::Method::GET || parts.method == http::Method::HEAD { 2 } else { 3 };
    let admission = state.limits.admit(Scope::Principal, &user.name, cost).await;
    let limit = verdict(&state.metrics, "principal", admission);
    if let Some(refused) = admission.filter(|a| !a.verdict.allowed) {
        return Outcome { principal: name, limit, resp: crate::api::as_problem(refused.refusal("too many requests for this account")) };
    }
    let ctx = crate::api::ApiContext { dav: &state.dav, auth: &state.auth };
    let handled =
        AssertUnwindSafe(crate::api::handle(&ctx, &user, &parts.method, rest, parts.uri.query(), &parts.headers, body)).catch_unwind().await;
    let resp = match handled {
        Ok(resp) => resp,
        Err(_) => {
            tracing::error!(method = %parts.method, path = parts.uri.path(), "API handler panicked");
            crate::api::internal_error()
        }
    };
    Outcome { principal: name, limit, resp }
}

pub(super) const BY_ADDRESS: &str = "too many requests from this address";

/// One limiter decision for a request without a principal: the verdict for the log line (counted
/// under `limiter`), and the 429 (saying `why`) when it is refused.
pub(super) async fn gate(state: &HttpState, scope: Scope, limiter: &'static str, key: &str, cost: u32, why: &str) -> (&'static str, Option<DavResponse>) {
    let admission = state.limits.admit(scope, key, cost).await;
    let limit = verdict(&state.metrics, limiter, admission);
    (limit, admission.filter(|a| !a.verdict.allowed).map(|refused| refused.refusal(why)))
}

/// The limiter's verdict for the log line, counted in the metrics under `limiter`.
pub(super) fn verdict(metrics: &Metrics, limiter: &'static str, admission: Option<Admission>) -> &'static str {
    match admission {
        Some(a) => {
            metrics.rate_limit(limiter, a.label());
            a.label()
        }
        None => "-",
    }
}

/// Basic credentials → the principal, through the failed-login limits: an address or user name
/// over them gets 429 before its password is checked (unless these exact credentials passed
/// recently: someone guessing Alice's password must not lock Alice's phone out), and the
/// failure that crosses them gets 429 instead of 401. A store failure is 503, not a 401 that
/// would make clients ask for the password again.
pub(super) async fn authenticate(state: &HttpState, creds: &Credential, client: IpAddr) -> Result<Principal, (&'static str, DavResponse)> {
    let limits = &state.limits;
    let login_name = creds.login_name();
    let (recent_user, recent_secret) = creds.recent_key();
    if let Some(wait) = limits.login_blocked(client, &login_name)
        && !state.auth.recently_verified(recent_user, recent_secret)
    {
        state.metrics.rate_limit("login", "refused");
        return Err(("refused", limits.login_refusal(wait)));
    }
    let verified = match creds {
        Credential::Basic(c) => state.auth.authenticate(&c.user, &c.password).await,
        Credential::Bearer(token) => state.auth.authenticate_token(token).await,
    };
    match verified {
        Ok(user) => Ok(user),
        Err(AuthFailure::Unavailable) => Err(("-", crate::error::unavailable("the user database is unavailable; try again"))),
        Err(AuthFailure::Refused) => match limits.login_failed(&addr_key(client), &login_name).await {
            Some(refused) => {
                state.metrics.rate_limit("login", "refused");
                Err(("refused", refused.refusal("too many failed logins")))
            }
            None if limits.enabled() => {
                state.metrics.rate_limit("login", "allowed");
                Err(("allowed", challenge()))
            }
            None => Err(("-", challenge())),
        },
    }
}

/// Unauthenticated bodies up to this size are read and dropped, so the connection can carry
/// the client's retry with credentials; larger ones are not worth reading for a stranger.
const DRAIN_UNAUTHENTICATED: u64 = 64 * 1024;

/// An answer given without reading the request body (401, 429). RFC 9110 §10.1.1/RFC 9112
/// §9.6: a response sent before the body is read must say the connection closes, or the
/// client's retry on it fails; so a small body is drained first (keeping the connection), and
/// anything else gets `Connection: close`.
pub(super) async fn unread(req: hyper::Request<Incoming>, mut resp: DavResponse) -> DavResponse {
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
            return resp;
        }
    }
    resp.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    resp
}

/// Reads the whole body, refusing (413) beyond `max` before reading it when Content-Length
/// says so, and while reading otherwise.
pub(super) async fn read_body(body: Incoming, headers: &http::HeaderMap, max: usize) -> Result<Bytes, DavResponse> {
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
