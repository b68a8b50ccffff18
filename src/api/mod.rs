//! The JSON API under `/api/v1` (issue 20): a thin edge over the same services as CalDAV — the
//! same objects, ETags and sync tokens — with RFC 9457 problem details for errors and an
//! OpenAPI 3.1 document generated from the code (openapi.rs). `http::server` authenticates
//! (Basic, or an app password as Bearer) and rate-limits before `handle` routes.

mod account;
mod calendars;
pub mod event;
mod events;
mod feeds;
mod freebusy;
mod import;
pub mod openapi;
mod reply;
mod shares;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use percent_encoding::percent_decode_str;

use crate::dav::{DavContext, DavResponse};
use crate::service::Principal;
use crate::service::auth::Authenticator;
use reply::Query;

/// The API's path prefix below the server's base path.
pub const PREFIX: &str = "api/v1/";

/// What the handlers need.
pub struct ApiContext<'a> {
    pub dav: &'a DavContext,
    /// To drop cached credentials when an app password is revoked here.
    pub auth: &'a Authenticator,
}

/// The routes: what each path takes, for 405's `Allow`.
fn allowed(segments: &[&str]) -> Option<&'static str> {
    Some(match segments {
        ["me"] | ["calendar"] | ["calendars", _, "changes"] => "GET",
        ["freebusy"] => "GET, POST",
        ["calendars", _, "feeds"] | ["calendars", _, "shares"] => "GET, POST",
        ["calendars", _, "feeds", _] | ["calendars", _, "shares", _] => "DELETE",
        ["calendars", _, "feeds", _, "rotate"] => "POST",
        ["users"] | ["me", "app-passwords"] | ["calendars"] | ["events"] | ["calendars", _, "events"] => "GET, POST",
        ["me", "app-passwords", _] => "DELETE",
        ["calendars", _, "import"] => "POST",
        ["calendars", _] => "GET, PATCH, DELETE",
        ["calendars", _, "events", _] => "GET, PUT, DELETE",
        _ => return None,
    })
}

/// Answers one API request; `path` is what follows `/api/v1/`, `query` the raw query string.
pub async fn handle(
    ctx: &ApiContext<'_>,
    user: &Principal,
    method: &Method,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    body: Bytes,
) -> DavResponse {
    let decoded: Vec<String> = path.trim_end_matches('/').split('/').map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned()).collect();
    let segments: Vec<&str> = decoded.iter().map(String::as_str).collect();
    let query = Query::parse(query);
    // U+0000 is refused wherever it comes from (a path segment, a query value, a JSON string, a
    // raw byte of a file): PostgreSQL's TEXT cannot hold it, so the engines would answer
    // differently, and no calendar data means it. schemathesis found the first of these.
    if segments.iter().any(|s| s.contains('\0')) || query.has_nul() || body.contains(&0) || body.windows(6).any(|w| w == b"\\u0000") {
        return reply::bad_request("NUL characters (U+0000) are not accepted").into_response();
    }
    let m = method.clone();
    let reply = match (m, segments.as_slice()) {
        (Method::GET, ["me"]) => account::get_me(ctx, user).await,
        (Method::GET, ["me", "app-passwords"]) => account::list_app_passwords(ctx, user).await,
        (Method::POST, ["me", "app-passwords"]) => account::create_app_password(ctx, user, headers, &body).await,
        (Method::DELETE, ["me", "app-passwords", id]) => account::revoke_app_password(ctx, user, id).await,
        (Method::GET, ["users"]) => account::list_users(ctx, user, &query).await,
        (Method::POST, ["users"]) => account::create_user(ctx, user, headers, &body).await,
        (Method::GET, ["calendars"]) => calendars::list(ctx, user).await,
        (Method::POST, ["calendars"]) => calendars::create(ctx, user, headers, &body).await,
        (Method::GET, ["calendars", id]) => calendars::get(ctx, user, id).await,
        (Method::PATCH, ["calendars", id]) => calendars::patch(ctx, user, id, headers, &body).await,
        (Method::DELETE, ["calendars", id]) => calendars::delete(ctx, user, id).await,
        (Method::GET, ["calendars", id, "events"]) => events::list(ctx, user, id, &query).await,
        (Method::POST, ["calendars", id, "events"]) => events::create(ctx, user, id, headers, &body).await,
        (Method::GET, ["calendars", id, "events", uid]) => events::get(ctx, user, id, uid, headers).await,
        (Method::PUT, ["calendars", id, "events", uid]) => events::put(ctx, user, id, uid, headers, &body).await,
        (Method::DELETE, ["calendars", id, "events", uid]) => events::delete(ctx, user, id, uid, headers).await,
        (Method::GET, ["calendars", id, "changes"]) => events::changes(ctx, user, id, &query).await,
        (Method::POST, ["calendars", id, "import"]) => import::import(ctx, user, id, headers, &body).await,
        (Method::GET, ["events"]) => events::seed_list(ctx, user, &query).await,
        (Method::POST, ["events"]) => events::seed_create(ctx, user, headers, &body).await,
        (Method::GET, ["calendar"]) => events::schedule(ctx, user, &query).await,
        (Method::GET, ["calendars", id, "feeds"]) => feeds::list(ctx, user, id).await,
        (Method::POST, ["calendars", id, "feeds"]) => feeds::create(ctx, user, id, headers, &body).await,
        (Method::DELETE, ["calendars", id, "feeds", feed]) => feeds::revoke(ctx, user, id, feed).await,
        (Method::POST, ["calendars", id, "feeds", feed, "rotate"]) => feeds::rotate(ctx, user, id, feed, headers, &body).await,
        (Method::GET, ["calendars", id, "shares"]) => shares::list(ctx, user, id).await,
        (Method::POST, ["calendars", id, "shares"]) => shares::add(ctx, user, id, headers, &body).await,
        (Method::DELETE, ["calendars", id, "shares", sharee]) => shares::remove(ctx, user, id, sharee).await,
        (Method::GET, ["freebusy"]) => freebusy::lookup(ctx, user, &query).await,
        (Method::POST, ["freebusy"]) => freebusy::lookup_many(ctx, user, headers, &body).await,
        (_, segments) => match allowed(segments) {
            Some(allow) => {
                let mut resp =
                    reply::problem(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed", &format!("this path takes {allow}")).into_response();
                resp.headers_mut().insert(header::ALLOW, HeaderValue::from_static(allow));
                Ok(resp)
            }
            None => Err(reply::not_found("no such API path")),
        },
    };
    reply.unwrap_or_else(reply::Problem::into_response)
}

/// `GET /api/v1/openapi.json`, served without authentication.
pub fn openapi_json() -> DavResponse {
    let mut resp = http::Response::new(Bytes::from(openapi::document()));
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

/// An answer the HTTP edge gave for an API request before the API saw it (429 from the rate
/// limiter, 413, a login block), which is plain text there, as an RFC 9457 problem with the
/// same status and headers (Retry-After, RateLimit): the document promises problem+json for
/// every error. Anything else passes unchanged.
pub fn as_problem(resp: DavResponse) -> DavResponse {
    let is_text = resp.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|t| t.starts_with("text/plain"));
    let is_error = resp.status().is_client_error() || resp.status().is_server_error();
    if !is_error || !is_text {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let detail = String::from_utf8_lossy(&body).trim().to_owned();
    let title = parts.status.canonical_reason().unwrap_or("Error");
    let mut out = reply::Problem { status: parts.status, title, detail }.into_response();
    // The problem's own headers win; every value of the others is kept (a header may repeat).
    let own: Vec<header::HeaderName> = out.headers().keys().cloned().collect();
    for (name, value) in &parts.headers {
        if name != header::CONTENT_LENGTH && !own.contains(name) {
            out.headers_mut().append(name.clone(), value.clone());
        }
    }
    out
}

/// The calendar `id` of `user` (their own, or shared with them) with the API's access rules:
/// one they may write to (`write`), or read. For the web page's import and export, which need
/// the collection itself; the refusal is the problem's status and detail.
pub async fn calendar_for(ctx: &ApiContext<'_>, user: &Principal, id: &str, write: bool) -> Result<crate::store::Collection, (StatusCode, String)> {
    let need = if write { calendars::Need::Write } else { calendars::Need::Read };
    calendars::calendar_of(ctx, user, id, need).await.map_err(|p| (p.status, p.detail))
}

/// A 500 for a handler that failed unexpectedly (the log has the details).
pub fn internal_error() -> DavResponse {
    reply::problem(StatusCode::INTERNAL_SERVER_ERROR, "Internal error", "internal server error").into_response()
}

/// The 401 of the API: a problem, with both challenges (RFC 6750 §3, RFC 7617).
pub fn unauthorized() -> DavResponse {
    let mut resp =
        reply::problem(StatusCode::UNAUTHORIZED, "Unauthorized", "sign in: an app password as Bearer, or Basic user name and password").into_response();
    let h = resp.headers_mut();
    h.append(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"Kalends\""));
    h.append(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"Kalends\", charset=\"UTF-8\""));
    resp
}
