//! Sharing a calendar from the "Feeds & shares" page (decision 0023): with another user of
//! this server, read only, read and write, or free/busy only; and stopping it. Through the JSON
//! API's share routes in process (the owner-only rule, unknown users, the wording); the page
//! itself is `feeds::render`.

use http::{Method, StatusCode};
use serde_json::json;

use super::api;
use super::feeds::{self, Refused};
use super::form::Form;
use super::page::{self, seg};
use super::WebContext;
use crate::dav::DavResponse;
use crate::service::sessions::Session;

/// POST `/web/shares/{calendar}`: share with `user` at `access` (or change the access).
pub async fn add(ctx: &WebContext<'_>, s: &Session, calendar: &str, form: &Form) -> DavResponse {
    let user = form.text("user").trim().to_owned();
    if user.is_empty() {
        let detail = "Name the user to share with.".to_owned();
        return feeds::render(ctx, s, StatusCode::UNPROCESSABLE_ENTITY, None, Some(Refused::Share { calendar, form, detail })).await;
    }
    let body = json!({ "user": user, "access": form.text("access") });
    match api::raw(ctx, s, Method::POST, &format!("calendars/{}/shares", seg(calendar)), None, Some(&body), None).await {
        Ok(_) => page::redirect(ctx, "feeds"),
        Err(f) if f.status == StatusCode::BAD_REQUEST => {
            feeds::render(ctx, s, StatusCode::UNPROCESSABLE_ENTITY, None, Some(Refused::Share { calendar, form, detail: f.detail })).await
        }
        Err(f) => page::error(ctx, s, f.status, &f.detail),
    }
}

/// POST `/web/shares/{calendar}/{user}/remove`: stop sharing with `user`.
pub async fn remove(ctx: &WebContext<'_>, s: &Session, calendar: &str, user: &str) -> DavResponse {
    let path = format!("calendars/{}/shares/{}", seg(calendar), seg(user));
    match api::raw(ctx, s, Method::DELETE, &path, None, None, None).await {
        Ok(_) => page::redirect(ctx, "feeds"),
        Err(f) => page::error(ctx, s, f.status, &f.detail),
    }
}
