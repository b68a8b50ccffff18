//! The API's wire helpers: JSON answers, RFC 9457 problem details, the query string, JSON
//! request bodies, and the `If-Match` check (RFC 9110 §13.1.1).

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use percent_encoding::percent_decode_str;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::dav::lock::{Touch, check_unlocked};
use crate::dav::{DavContext, DavError, DavResponse};
use crate::service::ServiceError;

/// An error answer on its way out: an RFC 9457 problem. Handlers return `Result<DavResponse,
/// Problem>` and use `?`; the router writes the problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub status: StatusCode,
    pub title: &'static str,
    pub detail: String,
}

impl Problem {
    /// `{"type":"about:blank","title":…,"status":…,"detail":…}` as `application/problem+json`.
    pub fn into_response(self) -> DavResponse {
        #[derive(Serialize)]
        struct Body<'a> {
            #[serde(rename = "type")]
            kind: &'a str,
            title: &'a str,
            status: u16,
            detail: &'a str,
        }
        let body = Body { kind: "about:blank", title: self.title, status: self.status.as_u16(), detail: &self.detail };
        let mut resp = http::Response::new(Bytes::from(serde_json::to_vec(&body).unwrap_or_default()));
        *resp.status_mut() = self.status;
        resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            resp.headers_mut().insert(header::RETRY_AFTER, crate::error::RETRY_AFTER);
        }
        resp
    }
}

impl From<ServiceError> for Problem {
    /// The statuses are decided in `crate::error`, with DAV's.
    fn from(e: ServiceError) -> Problem {
        let (status, title, detail) = crate::error::problem_of(e);
        Problem { status, title, detail }
    }
}

impl From<crate::store::StoreError> for Problem {
    fn from(e: crate::store::StoreError) -> Problem {
        Problem::from(ServiceError::from(e))
    }
}

/// What a handler gives back.
pub type Reply = Result<DavResponse, Problem>;

/// A JSON answer.
pub fn json<T: Serialize>(status: StatusCode, value: &T) -> DavResponse {
    match serde_json::to_vec(value) {
        Ok(body) => {
            let mut resp = http::Response::new(Bytes::from(body));
            *resp.status_mut() = status;
            resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            resp
        }
        Err(e) => problem(StatusCode::INTERNAL_SERVER_ERROR, "Internal error", &format!("the answer could not be written: {e}")).into_response(),
    }
}

/// 204 No Content.
pub fn no_content() -> DavResponse {
    let mut resp = http::Response::new(Bytes::new());
    *resp.status_mut() = StatusCode::NO_CONTENT;
    resp
}

/// A problem with this status, title and detail.
/// 423 when a WebDAV lock is on what an API write changes (decision 0030): the API has no way
/// to submit the lock's token.
pub async fn unlocked(ctx: &DavContext, user: &crate::service::Principal, touches: &[Touch]) -> Result<(), Problem> {
    match check_unlocked(ctx, user, touches).await {
        Ok(()) => Ok(()),
        Err(DavError::Condition { status: StatusCode::LOCKED, .. }) => {
            Err(problem(StatusCode::LOCKED, "Locked", "a WebDAV client holds a lock on it; change it once the lock is released or has expired"))
        }
        Err(DavError::Service(e)) => Err(e.into()),
        Err(e) => Err(problem(StatusCode::INTERNAL_SERVER_ERROR, "Internal error", &e.to_string())),
    }
}

pub fn problem(status: StatusCode, title: &'static str, detail: &str) -> Problem {
    Problem { status, title, detail: detail.to_owned() }
}

pub fn bad_request(detail: &str) -> Problem {
    problem(StatusCode::BAD_REQUEST, "Bad request", detail)
}

pub fn not_found(detail: &str) -> Problem {
    problem(StatusCode::NOT_FOUND, "Not found", detail)
}

pub fn forbidden(detail: &str) -> Problem {
    problem(StatusCode::FORBIDDEN, "Forbidden", detail)
}

/// The query string's parameters, percent-decoded (`+` is a space, as forms send it).
#[derive(Debug, Default)]
pub struct Query(Vec<(String, String)>);

impl Query {
    pub fn parse(query: Option<&str>) -> Query {
        let decode = |s: &str| percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy().into_owned();
        Query(
            query
                .unwrap_or("")
                .split('&')
                .filter(|p| !p.is_empty())
                .map(|p| match p.split_once('=') {
                    Some((k, v)) => (decode(k), decode(v)),
                    None => (decode(p), String::new()),
                })
                .collect(),
        )
    }

    /// Whether any name or value holds U+0000.
    pub fn has_nul(&self) -> bool {
        self.0.iter().any(|(k, v)| k.contains('\0') || v.contains('\0'))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// A boolean parameter: absent is false; `true`/`1` and `false`/`0` only.
    pub fn flag(&self, name: &str) -> Result<bool, Problem> {
        match self.get(name) {
            None | Some("false" | "0") => Ok(false),
            Some("true" | "1" | "") => Ok(true),
            Some(other) => Err(bad_request(&format!("{name} must be true or false, not {other:?}"))),
        }
    }

    /// A positive integer parameter within `1..=max` (default when absent).
    pub fn number(&self, name: &str, default: usize, max: usize) -> Result<usize, Problem> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => match v.parse::<usize>() {
                Ok(n) if (1..=max).contains(&n) => Ok(n),
                _ => Err(bad_request(&format!("{name} must be a whole number from 1 to {max}, not {v:?}"))),
            },
        }
    }
}

/// A JSON request body of type T; a problem (400, or 415 for another media type) otherwise.
pub fn body<T: DeserializeOwned>(headers: &HeaderMap, body: &[u8]) -> Result<T, Problem> {
    let media = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase());
    if media.as_deref().is_some_and(|m| m != "application/json") {
        return Err(problem(StatusCode::UNSUPPORTED_MEDIA_TYPE, "Unsupported media type", "send the body as application/json"));
    }
    serde_json::from_slice(body).map_err(|e| bad_request(&format!("the JSON body does not fit: {e}")))
}

/// The ETags of an `If-Match` header (None when absent; `*` matches any existing resource).
pub fn if_match(headers: &HeaderMap) -> Option<Vec<String>> {
    let v = headers.get(header::IF_MATCH)?.to_str().ok()?;
    Some(v.split(',').map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()).collect())
}

/// RFC 9110 §13.1.1: with If-Match, the write goes ahead only if the current ETag is listed
/// (strong comparison) or the list is `*` and the resource exists; else 412.
pub fn check_if_match(headers: &HeaderMap, current: Option<&str>) -> Result<(), Problem> {
    let Some(tags) = if_match(headers) else { return Ok(()) };
    let holds = match current {
        None => false,
        Some(etag) => tags.iter().any(|t| t == "*" || t == etag),
    };
    if holds {
        Ok(())
    } else {
        Err(problem(StatusCode::PRECONDITION_FAILED, "Precondition failed", "the resource changed since you read it (If-Match)"))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn queries_decode_and_numbers_are_bounded() {
        let q = Query::parse(Some("from=2026-01-01T00%3A00%3A00Z&expand=true&pageSize=500&x&name=a+b"));
        assert_eq!(q.get("from"), Some("2026-01-01T00:00:00Z"));
        assert!(q.flag("expand").unwrap());
        assert!(q.flag("x").unwrap());
        assert!(!q.flag("missing").unwrap());
        assert_eq!(q.get("name"), Some("a b"));
        assert_eq!(q.number("pageSize", 100, 1000).unwrap(), 500);
        assert_eq!(q.number("pageSize", 100, 200).unwrap_err().status, StatusCode::BAD_REQUEST);
        assert_eq!(q.number("absent", 100, 200).unwrap(), 100);
    }

    #[test]
    fn if_match_is_strong_and_star_needs_a_resource() {
        let mut h = HeaderMap::new();
        assert!(check_if_match(&h, None).is_ok());
        h.insert(header::IF_MATCH, HeaderValue::from_static("\"a\", \"b\""));
        assert!(check_if_match(&h, Some("\"b\"")).is_ok());
        assert_eq!(check_if_match(&h, Some("\"c\"")).unwrap_err().status, StatusCode::PRECONDITION_FAILED);
        h.insert(header::IF_MATCH, HeaderValue::from_static("*"));
        assert!(check_if_match(&h, Some("\"c\"")).is_ok());
        assert!(check_if_match(&h, None).is_err());
    }

    #[test]
    fn problems_are_problem_json() {
        let r = problem(StatusCode::CONFLICT, "Conflict", "x \"y\"").into_response();
        assert_eq!(r.headers()[header::CONTENT_TYPE], "application/problem+json");
        let v: serde_json::Value = serde_json::from_slice(r.body()).unwrap();
        assert_eq!((v["status"].as_u64(), v["title"].as_str(), v["detail"].as_str()), (Some(409), Some("Conflict"), Some("x \"y\"")));
    }
}
