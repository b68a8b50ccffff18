//! The page's data comes from the JSON API, called in process: the same routes, checks,
//! conversions and error texts as `/api/v1` (decision 0028), so the page adds only HTML.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use serde::de::DeserializeOwned;

use super::WebContext;
use crate::api::ApiContext;
use crate::service::sessions::Session;

/// An API refusal: its status and the problem's detail, to show beside the form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub status: StatusCode,
    pub detail: String,
}

impl Failure {
    fn of(status: StatusCode, body: &[u8]) -> Failure {
        let detail = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v.get("detail").and_then(|d| d.as_str()).map(str::to_owned))
            .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_owned());
        Failure { status, detail }
    }
}

/// One API request as the session's user: `path` is what follows `/api/v1/`, `json` the body.
pub async fn raw(ctx: &WebContext<'_>, s: &Session, method: Method, path: &str, query: Option<&str>, json: Option<&serde_json::Value>, if_match: Option<&str>) -> Result<Bytes, Failure> {
    let mut headers = HeaderMap::new();
    let body = match json {
        Some(v) => {
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            Bytes::from(serde_json::to_vec(v).unwrap_or_default())
        }
        None => Bytes::new(),
    };
    if let Some(tag) = if_match.and_then(|t| HeaderValue::from_str(t).ok()) {
        headers.insert(header::IF_MATCH, tag);
    }
    let api = ApiContext { dav: ctx.dav, auth: ctx.auth };
    let resp = crate::api::handle(&api, &s.principal, &method, path, query, &headers, body).await;
    let status = resp.status();
    if status.is_success() { Ok(resp.into_body()) } else { Err(Failure::of(status, resp.body())) }
}

/// `raw`, the answer read as `T`.
pub async fn call<T: DeserializeOwned>(ctx: &WebContext<'_>, s: &Session, method: Method, path: &str, query: Option<&str>, json: Option<&serde_json::Value>) -> Result<T, Failure> {
    let body = raw(ctx, s, method, path, query, json, None).await?;
    serde_json::from_slice(&body).map_err(|e| Failure { status: StatusCode::INTERNAL_SERVER_ERROR, detail: format!("unexpected API answer: {e}") })
}

/// A calendar as the API lists it (the fields the page shows).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Calendar {
    pub id: String,
    pub name: String,
    pub color: Option<String>,
    pub time_zone: Option<String>,
    pub components: Vec<String>,
    pub owner: String,
    pub access: String,
}

impl Calendar {
    pub fn writable(&self) -> bool {
        matches!(self.access.as_str(), "owner" | "read-write") && self.components.iter().any(|c| c == "VEVENT")
    }
    pub fn readable(&self) -> bool {
        self.access != "free-busy"
    }
    /// The CSS class carrying its colour (`colors.css`).
    pub fn class(&self) -> String {
        colour_class(&self.id)
    }
}

/// A class name from a calendar id: stable, and safe in CSS and HTML whatever the id holds.
pub fn colour_class(id: &str) -> String {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(id.as_bytes());
    format!("cal-{:02x}{:02x}{:02x}{:02x}", d[0], d[1], d[2], d[3])
}

/// The user's calendars and those shared with them.
pub async fn calendars(ctx: &WebContext<'_>, s: &Session) -> Result<Vec<Calendar>, Failure> {
    call(ctx, s, Method::GET, "calendars", None, None).await
}
