//! The routes of the second part: feed links and shares, app passwords, connecting a
//! device, and the admin page. `route` in mod.rs hands over whatever it does not serve itself;
//! what matches nothing here is the layout's 404 page.

use http::{Method, StatusCode};

use super::form::Form;
use super::page;
use super::{WebContext, admin, app_passwords, device, feeds, shares};
use crate::dav::DavResponse;
use crate::service::sessions::Session;

/// One request of a logged-in session (POSTs have passed the CSRF and origin checks).
pub async fn route(ctx: &WebContext<'_>, s: &Session, method: &Method, segments: &[&str], form: &Form) -> DavResponse {
    match (method.clone(), segments) {
        (Method::GET, ["feeds"]) => feeds::list(ctx, s).await,
        (Method::POST, ["feeds", cal]) => feeds::create(ctx, s, cal, form).await,
        (Method::POST, ["feeds", cal, id, "rotate"]) => feeds::rotate(ctx, s, cal, id).await,
        (Method::GET, ["feeds", cal, id, "revoke"]) => feeds::confirm_revoke(ctx, s, cal, id).await,
        (Method::POST, ["feeds", cal, id, "revoke"]) => feeds::revoke(ctx, s, cal, id).await,
        // Shares live on the feeds page.
        (Method::GET, ["shares"]) => page::redirect(ctx, "feeds"),
        (Method::POST, ["shares", cal]) => shares::add(ctx, s, cal, form).await,
        (Method::POST, ["shares", cal, user, "remove"]) => shares::remove(ctx, s, cal, user).await,
        (Method::GET, ["app-passwords"]) => app_passwords::list(ctx, s).await,
        (Method::POST, ["app-passwords"]) => app_passwords::create(ctx, s, form).await,
        (Method::GET, ["app-passwords", id, "revoke"]) => app_passwords::confirm_revoke(ctx, s, id).await,
        (Method::POST, ["app-passwords", id, "revoke"]) => app_passwords::revoke(ctx, s, id).await,
        (Method::GET, ["device"]) => device::show(ctx, s).await,
        (Method::GET, ["device", "profile"]) => device::profile(ctx, s, None).await,
        (Method::POST, ["device", "profile"]) => device::profile(ctx, s, Some(form)).await,
        (Method::GET, ["admin"]) => admin::show(ctx, s).await,
        (Method::POST, ["admin", "users"]) => admin::create(ctx, s, form).await,
        (Method::GET, ["admin", "users", name, "delete"]) => admin::confirm_delete(ctx, s, name).await,
        (Method::POST, ["admin", "users", name, "delete"]) => admin::delete(ctx, s, name).await,
        _ => page::error(ctx, s, StatusCode::NOT_FOUND, "There is no such page."),
    }
}
