//! The web page for browsers (issue 21, decision 0028): server-rendered HTML under `/web/`
//! below the server's base path, a thin edge over the JSON API (`api.rs` calls it in process)
//! and its services. `http::web` serves the static files and the login, resolves the session
//! cookie and rate-limits; `handle` checks every POST's CSRF token and origin, then routes.
//!
//! # Adding a page
//!
//! 1. **Route**: one line in [`route`], on the method and the path's segments after `/web/`
//!    (percent-decoded): `(Method::GET, ["things"]) => things::list(ctx, s).await,`. A POST
//!    handler takes `form: &Form` (`form.text("name")`, `form.checked("box")`,
//!    `form.get("file")`): by then its CSRF token and origin have been checked, and it
//!    answers with `page::redirect(ctx, "things")` (303) or re-renders the form with the error.
//!    HEAD is routed as GET.
//! 2. **Template**: `src/web/templates/things.html` begins `{% extends "base.html" %}` and fills
//!    `{% block main %}…{% endblock %}`; its struct derives `askama::Template`
//!    (`#[template(path = "things.html")]`) and has a field `chrome: Chrome`
//!    (`Chrome::new(ctx, s, "things", "Things")`, the third argument being the navigation entry
//!    marked current). Values are HTML-escaped by askama; never use `|safe` on user data.
//!    Every form is `method="post"` and carries `{% include "csrf.html" %}` (the session's
//!    token from `chrome.csrf`). Answer with `page::html(&template)`, or
//!    `page::html_status(StatusCode::UNPROCESSABLE_ENTITY, &template)` for a refused form.
//! 3. **Data**: `api::call(ctx, s, Method::GET, "calendars/x/events", query, body)` asks the
//!    JSON API as the session's user (`api::Failure` carries the problem's detail to show);
//!    what the API does not offer comes from `service/` with `s.principal`, never from the
//!    store directly. `s.is_admin` says whether the user administers the server.
//! 4. No inline script or style (the CSP forbids them): behaviour goes in `static/app.js`
//!    (keyed on `data-` attributes), looks in `static/app.css`, a calendar's colour through its
//!    class from `colors.css` (`api::colour_class`).
//!
//! Part 2 of the issue adds `feeds…`, `shares…`, `app-passwords…`, `device…` and `admin…`
//! this way, in `settings::route`, where `route` sends what it does not serve itself.
//!
//! # Stable accessible names (for tests driving a browser)
//!
//! Login: fields "User name", "Password", button "Log in"; header: navigation "Main" with
//! links "Calendar", "Calendars", "Import", "Feeds & shares", "App passwords", "Connect a
//! device", "Admin", button "Log out". Calendar view: links "Previous", "Today", "Next",
//! "Week", "Month", "New event"; each event is a link named by its title. Event form: "Title",
//! "Calendar", "All day", "Start date", "Start time", "End date", "End time", "Location",
//! "Description", buttons "Save" and (on an existing event) link "Delete event". Confirmation
//! pages: button "Delete". Calendars: fields "Name", "Colour", button "Create calendar"; per
//! calendar the links "Edit …", "Delete …", "Export …" and button "Copy URL of …" (… the
//! calendar's name). Import: fields "Calendar", "File (.ics)", button "Import", the
//! progress bar "Import progress", then the report's table "Import report".

mod admin;
pub mod api;
mod app_passwords;
mod calendars;
mod device;
mod event_form;
mod events;
pub mod feeds;
pub mod form;
mod grid;
mod import;
pub mod login;
pub mod page;
mod settings;
mod shares;
mod view;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use percent_encoding::percent_decode_str;

use crate::dav::resource::Paths;
use crate::dav::{DavContext, DavResponse};
use crate::service::auth::Authenticator;
use crate::service::sessions::Session;
use form::Form;

/// The web page's path prefix below the server's base path.
pub const PREFIX: &str = "web/";

/// What the handlers need.
pub struct WebContext<'a> {
    pub dav: &'a DavContext,
    pub auth: &'a Authenticator,
    /// `scheme://authority` the user reaches this server at (the public URL's, else the
    /// request's Host over http), for the CalDAV URLs the page shows to copy.
    pub origin: String,
}

impl WebContext<'_> {
    /// The origin for a request: the configured public URL's, else `http://` and its Host.
    pub fn origin_of(public_url: Option<&str>, headers: &HeaderMap) -> String {
        if let Some((scheme, rest)) = public_url.and_then(|u| u.split_once("://")) {
            return format!("{scheme}://{}", rest.split('/').next().unwrap_or(""));
        }
        let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("localhost");
        format!("http://{host}")
    }
}

/// The 303 a browser at the DAV root gets: on to the web page.
pub fn to_web_root(paths: &Paths) -> DavResponse {
    page::see_other(&format!("{}{PREFIX}", paths.root()))
}

/// The session token the request's cookie carries.
pub fn session_token(headers: &HeaderMap) -> Option<String> {
    page::cookie_value(headers, page::SESSION_COOKIE)
}

/// `/web/static/…`: the stylesheet, the script and the icon, compiled into the binary.
pub fn asset(file: &str, method: &Method) -> DavResponse {
    let (body, ctype): (&'static str, &'static str) = match file {
        "app.css" => (include_str!("static/app.css"), "text/css; charset=utf-8"),
        "app.js" => (include_str!("static/app.js"), "text/javascript; charset=utf-8"),
        "favicon.svg" => (include_str!("static/favicon.svg"), "image/svg+xml"),
        _ => return page::plain(StatusCode::NOT_FOUND, "not found"),
    };
    if method != Method::GET && method != Method::HEAD {
        return page::plain(StatusCode::METHOD_NOT_ALLOWED, "GET only");
    }
    let mut resp = http::Response::new(Bytes::from_static(body.as_bytes()));
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    // Short: a new release's files reach browsers within minutes.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("max-age=300"));
    page::secured(resp)
}

/// Answers one request of a logged-in session; `path` is what follows `/web/`.
pub async fn handle(ctx: &WebContext<'_>, s: &Session, method: &Method, path: &str, query: Option<&str>, headers: &HeaderMap, body: Bytes) -> DavResponse {
    let decoded: Vec<String> =
        path.trim_end_matches('/').split('/').filter(|p| !p.is_empty()).map(|p| percent_decode_str(p).decode_utf8_lossy().into_owned()).collect();
    let segments: Vec<&str> = decoded.iter().map(String::as_str).collect();
    let method = if method == Method::HEAD { Method::GET } else { method.clone() };
    let form = if method == Method::POST {
        let form = Form::parse(headers, &body);
        // Every POST: from this site, with this session's token.
        if !page::same_origin(ctx, headers) || !page::token_matches(&form.text("csrf"), &s.row.csrf) {
            return page::error(ctx, s, StatusCode::FORBIDDEN, "This form expired or came from another site. Go back, reload the page and try again.");
        }
        form
    } else {
        Form::default()
    };
    let q = Form::urlencoded(query.unwrap_or("").as_bytes());
    route(ctx, s, &method, &segments, &q, &form).await
}

/// The routes; `q` is the query string as a form.
async fn route(ctx: &WebContext<'_>, s: &Session, method: &Method, segments: &[&str], q: &Form, form: &Form) -> DavResponse {
    match (method.clone(), segments) {
        (Method::GET, []) => page::redirect(ctx, "calendar"),
        (Method::GET, ["colors.css"]) => calendars::colours(ctx, s).await,
        (Method::POST, ["logout"]) => logout(ctx, s).await,
        (Method::GET, ["calendar"]) => view::show(ctx, s, q).await,
        (Method::GET, ["events", "new"]) => events::new_form(ctx, s, q).await,
        (Method::POST, ["events", "new"]) => events::create(ctx, s, form).await,
        (Method::GET, ["events", cal, uid]) => events::edit_form(ctx, s, cal, uid).await,
        (Method::POST, ["events", cal, uid]) => events::update(ctx, s, cal, uid, form).await,
        (Method::GET, ["events", cal, uid, "delete"]) => events::confirm_delete(ctx, s, cal, uid).await,
        (Method::POST, ["events", cal, uid, "delete"]) => events::delete(ctx, s, cal, uid, form).await,
        (Method::GET, ["calendars"]) => calendars::list(ctx, s).await,
        (Method::POST, ["calendars"]) => calendars::create(ctx, s, form).await,
        (Method::GET, ["calendars", id]) => calendars::edit_form(ctx, s, id).await,
        (Method::POST, ["calendars", id]) => calendars::update(ctx, s, id, form).await,
        (Method::GET, ["calendars", id, "delete"]) => calendars::confirm_delete(ctx, s, id).await,
        (Method::POST, ["calendars", id, "delete"]) => calendars::delete(ctx, s, id).await,
        (Method::GET, ["calendars", id, "export"]) => import::export(ctx, s, id).await,
        (Method::GET, ["import"]) => import::form_page(ctx, s, q).await,
        (Method::POST, ["import"]) => import::run(ctx, s, form).await,
        (Method::GET, ["import", job]) => import::report(ctx, s, job).await,
        (Method::GET, ["import", job, "progress"]) => import::progress(ctx, s, job).await,
        // Part 2: feeds and shares, app passwords, the device page, the admin page.
        _ => settings::route(ctx, s, method, segments, form).await,
    }
}

/// POST `/web/logout`: the session ends here and now, on every node (its row is deleted).
async fn logout(ctx: &WebContext<'_>, s: &Session) -> DavResponse {
    if let Err(e) = crate::service::sessions::logout(&ctx.dav.store, s).await {
        return page::service_error(ctx, s, e);
    }
    login::logged_out(ctx)
}
