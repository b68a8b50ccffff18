//! `POST /api/v1/calendars/{id}/import`: an iCalendar file (`text/calendar`, up to the server's
//! body limit) into one calendar through `service::import`, the service `kalends import` uses;
//! the answer is its report. Import restores data: it sends no invitations.

use http::{HeaderMap, StatusCode, header};

use super::ApiContext;
use super::calendars::{Need, calendar_of};
use super::reply::{self, Reply, json};
use crate::dav::method::put::{acting_owner, write_limits};
use crate::service::Principal;
use crate::service::import::{ImportReport, ImportTarget, import as run};

#[utoipa::path(post, path = "/api/v1/calendars/{id}/import", tag = "events",
    request_body(content = String, content_type = "text/calendar", description = "an iCalendar file: one or more VCALENDARs"),
    params(("id" = String, Path, description = "the calendar's URL segment")),
    responses((status = 200, body = ImportReport, description = "what became of each UID of the file"),
        (status = 400, body = super::openapi::ProblemJson), (status = 404, body = super::openapi::ProblemJson),
        (status = 415, body = super::openapi::ProblemJson)))]
pub async fn import(ctx: &ApiContext<'_>, user: &Principal, id: &str, headers: &HeaderMap, body: &[u8]) -> Reply {
    let c = calendar_of(ctx, user, id, Need::Write).await?;
    let media = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase());
    if media.as_deref().is_some_and(|m| m != "text/calendar") {
        return Err(reply::problem(StatusCode::UNSUPPORTED_MEDIA_TYPE, "Unsupported media type", "send the file as text/calendar"));
    }
    // A read-write sharee imports as the owner: the owner's UIDs and quota (decision 0023).
    let (owner, collection) = acting_owner(user, &c);
    let limits = write_limits(ctx.dav);
    let target = ImportTarget { store: &ctx.dav.store, owner: &owner, collection: &collection, limits: &limits, alarm_wake: Some(&ctx.dav.alarm_wake) };
    let report: ImportReport = run(&target, body, &mut |_, _| {}).await?;
    Ok(json(StatusCode::OK, &report))
}
