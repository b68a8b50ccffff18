//! The login form and what follows it. Before a session exists, the form's CSRF token is a
//! double-submit one: a random value in a cookie of its own and in the form, which a foreign
//! site can neither read nor set (SameSite=Strict, HttpOnly); the Origin check comes on top.
//! The password itself is checked by `http::web` through the failed-login limits.

use askama::Template;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{HeaderMap, HeaderValue, StatusCode, header};

use super::form::Form;
use super::page::{self, cookie, cookie_value, see_other, set_cookie, web_root};
use super::WebContext;
use crate::dav::DavResponse;

/// The login form's double-submit cookie.
const LOGIN_COOKIE: &str = "kalends_login";

/// What a login form sent.
pub struct Attempt {
    pub user: String,
    pub password: String,
    /// Where to go after the login (a path below the web root, checked).
    pub next: String,
    token: String,
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    root: String,
    token: &'a str,
    user: &'a str,
    next: &'a str,
    error: Option<&'a str>,
}

/// `next` if it is a path of the web page, else the web root: never another site (an open
/// redirect), never `//host`.
fn safe_next(ctx: &WebContext<'_>, next: &str) -> String {
    let root = web_root(ctx);
    if next.starts_with(&root) && !next.contains("//") && !next.contains('\\') && !next.starts_with(&format!("{root}login")) {
        next.to_owned()
    } else {
        root
    }
}

fn render(ctx: &WebContext<'_>, status: StatusCode, token: &str, user: &str, next: &str, error: Option<&str>) -> DavResponse {
    let mut resp = page::html_status(status, &LoginPage { root: web_root(ctx), token, user, next, error });
    // The cookie lives as long as a form may sit open.
    set_cookie(&mut resp, &cookie(ctx, LOGIN_COOKIE, token, 3600));
    resp
}

/// GET `/web/login`: the form, with a fresh double-submit token unless the browser has one.
pub fn form_page(ctx: &WebContext<'_>, query: Option<&str>, headers: &HeaderMap) -> DavResponse {
    let form = Form::urlencoded(query.unwrap_or("").as_bytes());
    let next = safe_next(ctx, &form.text("next"));
    let token = cookie_value(headers, LOGIN_COOKIE)
        .filter(|t| t.len() == 43)
        .unwrap_or_else(|| URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>()));
    render(ctx, StatusCode::OK, &token, "", &next, None)
}

/// GET `/web/login` with a live session: on to where the form would have led.
pub fn already_in(ctx: &WebContext<'_>, query: Option<&str>) -> DavResponse {
    let form = Form::urlencoded(query.unwrap_or("").as_bytes());
    see_other(&safe_next(ctx, &form.text("next")))
}

/// A POSTed login form, its CSRF token and origin checked; Err is the answer to give instead.
pub fn attempt(ctx: &WebContext<'_>, headers: &HeaderMap, body: &[u8]) -> Result<Attempt, Box<DavResponse>> {
    let form = Form::parse(headers, body);
    let token = form.text("csrf");
    let expected = cookie_value(headers, LOGIN_COOKIE).unwrap_or_default();
    if !page::same_origin(ctx, headers) || !page::token_matches(&token, &expected) {
        let fresh = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
        let msg = "The form expired or came from another site. Please log in again.";
        return Err(Box::new(render(ctx, StatusCode::FORBIDDEN, &fresh, &form.text("user"), &safe_next(ctx, &form.text("next")), Some(msg))));
    }
    Ok(Attempt { user: form.text("user"), password: form.text("password"), next: safe_next(ctx, &form.text("next")), token })
}

/// A session began: its cookie, and on to where the user was going.
pub fn logged_in(ctx: &WebContext<'_>, token: &str, next: &str) -> DavResponse {
    let mut resp = see_other(next);
    set_cookie(&mut resp, &page::session_cookie(ctx, token));
    set_cookie(&mut resp, &cookie(ctx, LOGIN_COOKIE, "", 0));
    resp
}

/// The login was refused (`status` as Basic auth would have answered: 401 a wrong password,
/// 429 too many failures, 503 the database): the form again, saying why.
pub fn refused(ctx: &WebContext<'_>, a: &Attempt, status: StatusCode, retry_after: Option<HeaderValue>) -> DavResponse {
    let (status, msg) = match status {
        StatusCode::TOO_MANY_REQUESTS => (status, "Too many failed logins. Wait a while before trying again."),
        StatusCode::UNAUTHORIZED => (StatusCode::FORBIDDEN, "Wrong user name or password."),
        _ => (StatusCode::SERVICE_UNAVAILABLE, "The server cannot check passwords just now. Try again shortly."),
    };
    let mut resp = render(ctx, status, &a.token, &a.user, &a.next, Some(msg));
    if let Some(v) = retry_after {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}

/// POST `/web/logout`: the session row goes, and so does the cookie.
pub fn logged_out(ctx: &WebContext<'_>) -> DavResponse {
    let mut resp = page::redirect(ctx, "login");
    set_cookie(&mut resp, &cookie(ctx, page::SESSION_COOKIE, "", 0));
    resp
}
