//! What every page shares: the layout's data (`Chrome`), rendering a template into a response
//! with the security headers, redirects, error pages, the session cookie and the CSRF check.

use askama::Template;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::{PREFIX, WebContext};
use crate::dav::DavResponse;
use crate::service::sessions::{MAX_AGE, Session};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "kalends_session";

/// The layout's data: the header's navigation, who is logged in, the CSRF token for forms.
pub struct Chrome {
    /// The web page's root URL path, e.g. `/web/` (every link is built on it).
    pub root: String,
    pub user: String,
    pub admin: bool,
    pub csrf: String,
    /// Which navigation entry is the current page (`aria-current`).
    pub active: &'static str,
    pub title: String,
}

impl Chrome {
    pub fn new(ctx: &WebContext<'_>, s: &Session, active: &'static str, title: &str) -> Chrome {
        Chrome { root: web_root(ctx), user: s.principal.name.clone(), admin: s.is_admin, csrf: s.row.csrf.clone(), active, title: title.to_owned() }
    }
}

/// `/web/` below the server's base path.
pub fn web_root(ctx: &WebContext<'_>) -> String {
    format!("{}{PREFIX}", ctx.dav.paths.root())
}

/// Everything but RFC 3986 §2.3's unreserved characters is encoded in a link's segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// A path segment for a link (a UID may hold anything).
pub fn seg(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

fn set(resp: &mut DavResponse, name: header::HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        resp.headers_mut().insert(name, v);
    }
}

/// The headers every web answer carries: no inline script or style, no framing, no referrer
/// to other sites, no sniffing, and pages never cached (they show one user's data).
pub fn secured(mut resp: DavResponse) -> DavResponse {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

/// A rendered template with `status`.
pub fn html_status(status: StatusCode, t: &impl Template) -> DavResponse {
    match t.render() {
        Ok(body) => {
            let mut resp = http::Response::new(Bytes::from(body));
            *resp.status_mut() = status;
            resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
            secured(resp)
        }
        Err(e) => {
            tracing::error!(error = %e, "web: a template failed to render");
            plain(StatusCode::INTERNAL_SERVER_ERROR, "internal server error")
        }
    }
}

pub fn html(t: &impl Template) -> DavResponse {
    html_status(StatusCode::OK, t)
}

/// A short plain-text answer (with the security headers).
pub fn plain(status: StatusCode, msg: &str) -> DavResponse {
    secured(crate::error::text(status, msg))
}

/// 303 See Other to `to` (an absolute path): after a POST, the browser GETs the result
/// (RFC 9110 §15.4.4).
pub fn see_other(to: &str) -> DavResponse {
    let mut resp = http::Response::new(Bytes::new());
    *resp.status_mut() = StatusCode::SEE_OTHER;
    set(&mut resp, header::LOCATION, to);
    secured(resp)
}

/// 303 to a page below the web root (`rest` without a leading slash).
pub fn redirect(ctx: &WebContext<'_>, rest: &str) -> DavResponse {
    see_other(&format!("{}{rest}", web_root(ctx)))
}

/// An unauthenticated request: a page read goes to the login form (and back after it), a
/// form post is refused (its session ended; the data cannot be carried over a login).
pub fn to_login(ctx: &WebContext<'_>, method: &Method, uri: &Uri) -> DavResponse {
    if method == Method::GET || method == Method::HEAD {
        let back = uri.path_and_query().map_or("", |p| p.as_str());
        return see_other(&format!("{}login?next={}", web_root(ctx), seg(back)));
    }
    plain(StatusCode::FORBIDDEN, "your session has ended: log in again")
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    chrome: Chrome,
    message: &'a str,
}

/// An error page inside the layout.
pub fn error(ctx: &WebContext<'_>, s: &Session, status: StatusCode, message: &str) -> DavResponse {
    let title = status.canonical_reason().unwrap_or("Error");
    html_status(status, &ErrorPage { chrome: Chrome::new(ctx, s, "", title), message })
}

/// A service's refusal or failure as an error page, with the status and text `error.rs` gives
/// the JSON API (a store failure says no more than "internal server error").
pub fn service_error(ctx: &WebContext<'_>, s: &Session, e: crate::service::ServiceError) -> DavResponse {
    let (status, _, detail) = crate::error::problem_of(e);
    error(ctx, s, status, &detail)
}

/// Whether the public URL is https, so cookies must be `Secure`.
fn secure_cookies(ctx: &WebContext<'_>) -> bool {
    ctx.dav.public_url.as_deref().is_some_and(|u| u.to_ascii_lowercase().starts_with("https://"))
}

/// `Set-Cookie` for a cookie of the web page: HttpOnly, SameSite=Strict, scoped to the base
/// path, Secure behind https; `max_age` 0 deletes it.
pub fn cookie(ctx: &WebContext<'_>, name: &str, value: &str, max_age: i64) -> String {
    let secure = if secure_cookies(ctx) { "; Secure" } else { "" };
    format!("{name}={value}; Path={}; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}", ctx.dav.paths.root())
}

pub fn set_cookie(resp: &mut DavResponse, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// The session cookie for a new session.
pub fn session_cookie(ctx: &WebContext<'_>, token: &str) -> String {
    cookie(ctx, SESSION_COOKIE, token, MAX_AGE)
}

/// A cookie's value from the request.
pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.to_owned())
}

/// Whether a POST comes from this site: `Sec-Fetch-Site` (when the browser sends it) must be
/// `same-origin`, and `Origin` (when sent) must name this server, by the Host it was asked as or
/// the configured public URL. A request with neither header is not a browser's cross-site
/// form, and still needs its CSRF token.
pub fn same_origin(ctx: &WebContext<'_>, headers: &HeaderMap) -> bool {
    let get = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    if let Some(site) = get("sec-fetch-site")
        && !site.eq_ignore_ascii_case("same-origin")
    {
        return false;
    }
    let Some(origin) = get("origin") else { return true };
    // A sandboxed or privacy-stripped origin is never ours.
    let Some((_, authority)) = origin.split_once("://") else { return false };
    let host = get("host");
    let public = ctx.dav.public_url.as_deref().and_then(|u| u.split_once("://")).map(|(_, rest)| rest.split('/').next().unwrap_or(""));
    Some(authority).filter(|a| !a.is_empty()).is_some_and(|a| host.is_some_and(|h| h.eq_ignore_ascii_case(a)) || public.is_some_and(|p| p.eq_ignore_ascii_case(a)))
}

/// Equal in constant time (a CSRF token compared byte by byte would leak its prefix).
pub fn token_matches(given: &str, expected: &str) -> bool {
    use subtle::ConstantTimeEq;
    !expected.is_empty() && given.len() == expected.len() && bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
}
