//! The web page's edge (issue 21, decision 0028): its static files, the login form (checked
//! through the same failed-login limits as Basic auth), the session cookie resolved by
//! `service::sessions`, the principal's rate limit as the API has it, then `crate::web::handle`.
//! Browsers reach the page from the DAV root by a 303 that no CalDAV client's request gets.

use std::net::IpAddr;
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;
use http::{Method, StatusCode, header};
use hyper::body::Incoming;

use super::auth::{Credential, Credentials};
use super::limit::Scope;
use super::limit::client::addr_key;
use super::server::{BY_ADDRESS, HttpState, Outcome, authenticate, gate, read_body, unread, verdict};
use crate::dav::resource::Paths;
use crate::service::sessions;
use crate::web::{WebContext, page};

/// Login forms are small; anything larger is not one.
const MAX_LOGIN_BODY: usize = 16 * 1024;

/// Whether this is a browser opening the DAV root: GET or HEAD without credentials, asking for
/// HTML. CalDAV clients send PROPFIND/OPTIONS/REPORT there, or credentials, and never list
/// text/html in Accept (docs/clients.md), so they keep today's answers.
pub fn browser_at_root(paths: &Paths, req: &hyper::Request<Incoming>) -> bool {
    let method = req.method();
    let html = req
        .headers()
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|m| m.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case("text/html")));
    req.uri().path() == paths.root()
        && (method == Method::GET || method == Method::HEAD)
        && !req.headers().contains_key(header::AUTHORIZATION)
        && html
}

/// One `/web/…` request; `rest` is what follows the prefix.
pub(super) async fn web_request(state: &HttpState, req: hyper::Request<Incoming>, client: IpAddr, rest: &str) -> Outcome {
    let origin = WebContext::origin_of(state.dav.public_url.as_deref(), req.headers());
    let ctx = WebContext { dav: &state.dav, auth: &state.auth, origin };
    if let Some(file) = rest.strip_prefix("static/") {
        let resp = crate::web::asset(file, req.method());
        return Outcome::unlimited(unread(req, resp).await);
    }
    if rest == "login" {
        return login(state, &ctx, req, client).await;
    }
    let token = crate::web::session_token(req.headers());
    let found = match token {
        Some(t) => sessions::resume(&state.dav.store, &t, state.dav.clock.now()).await,
        None => Ok(None),
    };
    let session = match found {
        Ok(Some(s)) => s,
        Ok(None) => {
            let (limit, refused) = gate(state, Scope::Anonymous, "anonymous", &addr_key(client), 1, BY_ADDRESS).await;
            let resp = refused.unwrap_or_else(|| page::to_login(&ctx, req.method(), req.uri()));
            return Outcome { principal: None, limit, resp: unread(req, page::secured(resp)).await };
        }
        Err(e) => {
            tracing::warn!(error = %e, "web: session lookup failed");
            let resp = page::plain(StatusCode::SERVICE_UNAVAILABLE, "the user database is unavailable; try again");
            return Outcome { principal: None, limit: "-", resp: unread(req, resp).await };
        }
    };
    let name = Some(session.principal.name.clone());
    let (parts, body) = req.into_parts();
    let body = match read_body(body, &parts.headers, state.max_body).await {
        Ok(b) => b,
        Err(resp) => return Outcome { principal: name, limit: "-", resp },
    };
    // As the API counts: a page read does what a REPORT does, a form post what a PUT does.
    let cost = if parts.method == Method::GET || parts.method == Method::HEAD { 2 } else { 3 };
    let admission = state.limits.admit(Scope::Principal, &session.principal.name, cost).await;
    let limit = verdict(&state.metrics, "principal", admission);
    if let Some(refused) = admission.filter(|a| !a.verdict.allowed) {
        return Outcome { principal: name, limit, resp: page::secured(refused.refusal("too many requests for this account")) };
    }
    let handled = AssertUnwindSafe(crate::web::handle(&ctx, &session, &parts.method, rest, parts.uri.query(), &parts.headers, body))
        .catch_unwind()
        .await;
    let resp = match handled {
        Ok(resp) => resp,
        Err(_) => {
            tracing::error!(method = %parts.method, path = parts.uri.path(), "web handler panicked");
            page::plain(StatusCode::INTERNAL_SERVER_ERROR, "internal server error")
        }
    };
    Outcome { principal: name, limit, resp }
}

/// `/web/login`: the form (GET), or a login (POST) through the failed-login limits: a wrong
/// password counts against the address and the user name exactly as a wrong Basic password does.
async fn login(state: &HttpState, ctx: &WebContext<'_>, req: hyper::Request<Incoming>, client: IpAddr) -> Outcome {
    let (limit, refused) = gate(state, Scope::Anonymous, "anonymous", &addr_key(client), 1, BY_ADDRESS).await;
    if let Some(refused) = refused {
        return Outcome { principal: None, limit, resp: unread(req, page::secured(refused)).await };
    }
    let method = req.method().clone();
    if method == Method::GET || method == Method::HEAD {
        let live = match crate::web::session_token(req.headers()) {
            Some(t) => matches!(sessions::resume(&state.dav.store, &t, state.dav.clock.now()).await, Ok(Some(_))),
            None => false,
        };
        let resp = if live {
            crate::web::login::already_in(ctx, req.uri().query())
        } else {
            crate::web::login::form_page(ctx, req.uri().query(), req.headers())
        };
        return Outcome { principal: None, limit, resp: unread(req, resp).await };
    }
    if method != Method::POST {
        let resp = page::plain(StatusCode::METHOD_NOT_ALLOWED, "GET or POST");
        return Outcome { principal: None, limit, resp: unread(req, resp).await };
    }
    let (parts, body) = req.into_parts();
    let body = match read_body(body, &parts.headers, MAX_LOGIN_BODY).await {
        Ok(b) => b,
        Err(resp) => return Outcome { principal: None, limit, resp },
    };
    let attempt = match crate::web::login::attempt(ctx, &parts.headers, &body) {
        Ok(a) => a,
        Err(resp) => return Outcome { principal: None, limit, resp: *resp },
    };
    let creds = Credential::Basic(Credentials { user: attempt.user.clone(), password: attempt.password.clone() });
    match authenticate(state, &creds, client).await {
        Ok(user) => {
            let name = Some(user.name.clone());
            let resp = match sessions::login(&state.dav.store, &user, state.dav.clock.now()).await {
                Ok((token, _)) => crate::web::login::logged_in(ctx, &token, &attempt.next),
                Err(e) => {
                    tracing::warn!(error = %e, "web: could not start a session");
                    page::plain(StatusCode::SERVICE_UNAVAILABLE, "the user database is unavailable; try again")
                }
            };
            Outcome { principal: name, limit, resp }
        }
        Err((limit, refusal)) => {
            let retry_after = refusal.headers().get(header::RETRY_AFTER).cloned();
            let resp = crate::web::login::refused(ctx, &attempt, refusal.status(), retry_after);
            Outcome { principal: None, limit, resp }
        }
    }
}
