//! `GET`/`HEAD /feeds/<token>.ics`, without authentication: the token is the credential
//! (service::feeds). Unknown, revoked and expired tokens are all 404, never 401, which would
//! make calendar apps ask for a password. Answers carry a strong ETag and Last-Modified and honour
//! If-None-Match and If-Modified-Since (RFC 9110 §13.1.2, §13.1.3), so a poll of an unchanged feed
//! is a 304 of a few bytes; they are never compressed (Outlook mishandles compressed feeds) and
//! the token is neither indexed nor passed on as a Referer.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use hyper::body::Incoming;

use super::server::HttpState;
use crate::dav::props::http_date;
use crate::dav::{DavError, DavResponse};
use crate::error::{text, to_response};
use crate::service::feeds::{self, FeedContext, Version};

/// RFC 9111 §5.2.2.7: only the subscriber's own cache may keep it; five minutes bounds how stale
/// a browser's or proxy's copy gets while saving repeated downloads.
const CACHE_CONTROL: &str = "private, max-age=300";

pub async fn handle(state: &HttpState, req: &hyper::Request<Incoming>, file: &str) -> DavResponse {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut resp = text(StatusCode::METHOD_NOT_ALLOWED, "feeds are read with GET");
        resp.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return guarded(resp);
    }
    let Some(token) = file.strip_suffix(".ics") else {
        return not_found();
    };
    let dav = &state.dav;
    let ctx = FeedContext {
        store: &dav.store,
        cache: &dav.cache,
        listings: &dav.listings,
        max_instances: usize::try_from(dav.limits.max_instances).unwrap_or(usize::MAX),
    };
    let now = chrono::Utc::now().timestamp();
    let headers = req.headers();
    match feeds::serve(ctx, token, now, |v| !not_modified(headers, v)).await {
        Ok(None) => not_found(),
        Ok(Some(served)) => {
            let (status, body) = match served.body {
                Some(body) => (StatusCode::OK, body),
                None => (StatusCode::NOT_MODIFIED, Bytes::new()),
            };
            answer(status, &served.version, body)
        }
        Err(e) => {
            let e = DavError::Service(e);
            if e.is_store() {
                state.metrics.store_error();
            }
            guarded(to_response(e, &dav.paths))
        }
    }
}

/// RFC 9110 §13.2.2: If-None-Match decides when present (weak comparison, §13.1.2), else
/// If-Modified-Since (whole seconds).
fn not_modified(headers: &HeaderMap, v: &Version) -> bool {
    if let Some(inm) = headers.get(header::IF_NONE_MATCH).and_then(|h| h.to_str().ok()) {
        let ours = v.etag.trim_start_matches("W/");
        return inm.split(',').map(str::trim).any(|tag| tag == "*" || tag.trim_start_matches("W/") == ours);
    }
    headers
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| httpdate::parse_http_date(h).ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .and_then(|d| i64::try_from(d.as_secs()).ok())
        .is_some_and(|since| v.last_modified <= since)
}

/// The feed (200) or its validators alone (304, RFC 9110 §15.4.5: the same ETag, Last-Modified
/// and Cache-Control a 200 would carry).
fn answer(status: StatusCode, v: &Version, body: Bytes) -> DavResponse {
    let mut resp = http::Response::new(body);
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    if status == StatusCode::OK {
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/calendar; charset=utf-8"));
    }
    if let Ok(etag) = HeaderValue::from_str(&v.etag) {
        h.insert(header::ETAG, etag);
    }
    if let Ok(date) = HeaderValue::from_str(&http_date(v.last_modified)) {
        h.insert(header::LAST_MODIFIED, date);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(CACHE_CONTROL));
    guarded(resp)
}

fn not_found() -> DavResponse {
    guarded(text(StatusCode::NOT_FOUND, "not found"))
}

/// Every answer on this route: the URL is a credential, so it is not indexed, not sent on as a
/// Referer, and not sniffed into something a browser would run.
fn guarded(mut resp: DavResponse) -> DavResponse {
    let h = resp.headers_mut();
    h.insert("x-robots-tag", HeaderValue::from_static("noindex, nofollow"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    resp
}
