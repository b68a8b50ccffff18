//! "Connect a device": the exact URLs for this user, per-client instructions (Apple Calendar
//! on macOS and iOS, DAVx5, Thunderbird, GNOME Calendar and Evolution), the Apple
//! configuration profile to download (with a new app password in it only when asked) and the
//! QR code that opens DAVx5's login with the server and user name filled in. The profile and
//! the code come from the pure `crate::device` (decision 0029).

use askama::Template;
use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};

use super::api;
use super::app_passwords;
use super::form::Form;
use super::page::{self, Chrome};
use super::WebContext;
use crate::dav::DavResponse;
use crate::device::{Server, davx5, profile::{self, Profile}};
use crate::service::sessions::Session;

/// One of the user's calendars with its CalDAV URL.
struct CalendarUrl {
    name: String,
    url: String,
}

#[derive(Template)]
#[template(path = "device.html")]
struct DevicePage {
    chrome: Chrome,
    base_url: String,
    host: String,
    port: u16,
    https: bool,
    principal_url: String,
    principal_path: String,
    davx5_link: String,
    /// Inline SVG made by `davx5::qr_svg`: module rectangles and an escaped label only.
    qr: String,
    calendars: Vec<CalendarUrl>,
}

/// The server as this browser reached it (or as `public_url` names it).
fn server(ctx: &WebContext<'_>) -> Option<Server> {
    Server::parse(&format!("{}{}", ctx.origin, ctx.dav.paths.root()))
}

fn unknown_address(ctx: &WebContext<'_>, s: &Session) -> DavResponse {
    page::error(ctx, s, StatusCode::BAD_REQUEST, "This server's address cannot be worked out from this request; the administrator can set public_url.")
}

/// GET `/web/device`.
pub async fn show(ctx: &WebContext<'_>, s: &Session) -> DavResponse {
    let Some(server) = server(ctx) else { return unknown_address(ctx, s) };
    let user = &s.principal.name;
    let davx5_link = davx5::login_url(&server, user);
    let label = format!("QR code for DAVx5: opens its login for {user} at {}", server.base_url());
    let Some(qr) = davx5::qr_svg(&davx5_link, &label) else {
        return page::error(ctx, s, StatusCode::INTERNAL_SERVER_ERROR, "The QR code could not be made for this address.");
    };
    let calendars = match api::calendars(ctx, s).await {
        Ok(cals) => cals
            .into_iter()
            .map(|c| CalendarUrl { url: format!("{}{}", ctx.origin, ctx.dav.paths.collection(user, &c.id)), name: c.name })
            .collect(),
        Err(f) => return page::error(ctx, s, f.status, &f.detail),
    };
    let principal_path = ctx.dav.paths.principal(user);
    page::html(&DevicePage {
        chrome: Chrome::new(ctx, s, "device", "Connect a device"),
        base_url: server.base_url(),
        principal_url: format!("{}{principal_path}", ctx.origin),
        host: server.host.clone(),
        port: server.port,
        https: server.https,
        principal_path,
        davx5_link,
        qr,
        calendars,
    })
}

/// GET `/web/device/profile` (no password) and POST (with a new app password when the
/// "include" box is ticked): the `.mobileconfig` download.
pub async fn profile(ctx: &WebContext<'_>, s: &Session, form: Option<&Form>) -> DavResponse {
    let Some(server) = server(ctx) else { return unknown_address(ctx, s) };
    let password = match form {
        Some(f) if f.checked("include_password") => {
            let day = chrono::DateTime::from_timestamp(ctx.dav.clock.now(), 0).map(|t| t.format("%Y-%m-%d").to_string()).unwrap_or_default();
            let label = format!("Apple profile, {day}");
            match app_passwords::make(ctx, s, &label).await {
                Ok(issued) => Some(issued.secret),
                Err(f) => return page::error(ctx, s, f.status, &f.detail),
            }
        }
        _ => None,
    };
    let principal_path = ctx.dav.paths.principal(&s.principal.name);
    let p = Profile { server: &server, user: &s.principal.name, principal_path: &principal_path, password: password.as_deref() };
    let mut resp = http::Response::new(Bytes::from(p.render()));
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(profile::CONTENT_TYPE));
    // The file name is made of [a-z0-9.-] only (Profile::identifier), safe in a quoted string.
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{}\"", p.file_name())) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    page::secured(resp)
}
