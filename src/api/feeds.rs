//! Feed links of a calendar (issue 18's links, decision 0022): `GET/POST
//! /calendars/{id}/feeds`, `DELETE …/feeds/{feedId}`, `POST …/feeds/{feedId}/rotate`. A thin
//! edge over `service::feeds`, the functions `kalends feed …` calls: only the token's hash is
//! stored, so a link's URL is in the answer that creates or rotates it and never again. Only
//! the calendar's owner manages its links (a sharee gets 403, as for renaming the calendar):
//! a link publishes the calendar to anyone who holds it, which a sharee may not decide.

use http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ApiContext;
use super::account::rfc3339;
use super::calendars::{Need, calendar_of};
use super::reply::{self, Problem, Reply, json, no_content};
use crate::feed::{FeedMode, FeedSettings};
use crate::service::feeds::{self, Issued, NewFeed};
use crate::service::{Principal, ServiceError};
use crate::store::{Collection, FeedId, FeedLink, FeedStore};

/// Longest grace a rotation grants: a year is more than any subscriber needs to be moved.
const MAX_GRACE_HOURS: i64 = 24 * 366;
/// What `kalends feed rotate` grants without `--grace-hours`.
const DEFAULT_GRACE_HOURS: i64 = 24;

/// A feed link as lists show it (never its URL: only the token's hash is kept).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FeedJson {
    pub id: i64,
    /// The calendar's id (its URL segment).
    pub calendar: String,
    /// full (the events), masked (times only, titled "Busy") or busy (one event per busy period).
    pub mode: String,
    /// VALARMs kept (full mode only).
    pub alarms: bool,
    /// ORGANIZER and ATTENDEE kept (full mode only).
    pub attendees: bool,
    pub label: String,
    /// RFC 3339, UTC: the link answers 404 from then on.
    pub expires_at: Option<String>,
    pub created: String,
    /// When a subscriber last read it, to within an hour.
    pub last_used: Option<String>,
    /// Until when the token replaced by the last rotation still works.
    pub previous_until: Option<String>,
}

/// A link with its URL: the answer of a creation or a rotation, the only time the URL is shown.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IssuedFeedJson {
    #[serde(flatten)]
    pub feed: FeedJson,
    /// The link's path on this server (`/feeds/<token>.ics`), always given.
    pub path: String,
    /// The whole URL under the server's `public_url`; null when none is configured (then the
    /// client puts `path` under the address it reached the API at).
    pub url: Option<String>,
    /// The same as `webcal://`, which browsers hand to the calendar app; null without `url`.
    pub webcal: Option<String>,
}

/// A new link. Everything is optional: a full feed without alarms or attendees, no label, no
/// expiry (the CLI's defaults).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewFeedRequest {
    /// full, masked or busy; full when absent.
    #[serde(default)]
    pub mode: Option<String>,
    #[serde(default)]
    pub label: Option<String>,
    /// RFC 3339 date-time, in the future.
    #[serde(default)]
    pub expires_at: Option<String>,
    #[serde(default)]
    pub alarms: bool,
    #[serde(default)]
    pub attendees: bool,
}

/// A rotation: how long the current URL keeps working.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RotateRequest {
    /// Hours the old URL keeps working, 0 to 8784; 24 when absent.
    #[serde(default)]
    pub grace_hours: Option<i64>,
}

fn feed_json(link: &FeedLink) -> FeedJson {
    let s = link.settings;
    FeedJson {
        id: link.id.0,
        calendar: link.calendar_path.clone(),
        mode: s.mode.as_str().to_owned(),
        alarms: s.alarms,
        attendees: s.attendees,
        label: link.label.clone(),
        expires_at: link.expires_at.map(rfc3339),
        created: rfc3339(link.created_at),
        last_used: link.last_used_at.map(rfc3339),
        previous_until: link.previous_until.map(rfc3339),
    }
}

/// The answer that shows a token, as `kalends feed` prints it (`print_urls` in main.rs).
fn issued_json(ctx: &ApiContext<'_>, issued: &Issued) -> IssuedFeedJson {
    let path = format!("{}feeds/{}.ics", ctx.dav.paths.root(), issued.token);
    let url = ctx.dav.public_url.as_deref().map(|public| feeds::feed_url(public, &issued.token));
    let webcal = url.as_deref().map(feeds::webcal_url);
    IssuedFeedJson { feed: feed_json(&issued.link), path, url, webcal }
}

/// A JSON body that may be left out entirely (`POST` without a body takes the defaults).
fn optional_body<T: serde::de::DeserializeOwned + Default>(headers: &http::HeaderMap, body: &[u8]) -> Result<T, Problem> {
    if body.iter().all(u8::is_ascii_whitespace) { Ok(T::default()) } else { reply::body(headers, body) }
}

/// The link `feed_id` of calendar `c`: another calendar's link, or one that does not parse,
/// is not found here (the same answer as a link that never existed).
async fn link_of(ctx: &ApiContext<'_>, c: &Collection, feed_id: &str) -> Result<FeedLink, Problem> {
    let missing = || reply::not_found(&format!("calendar {:?} has no feed link {feed_id:?}", c.path));
    let id = feed_id.parse::<i64>().map_err(|_| missing())?;
    match ctx.dav.store.feed_by_id(FeedId(id)).await? {
        Some(link) if link.collection == c.id => Ok(link),
        _ => Err(missing()),
    }
}

/// The calendar's feed links (the caller must own it).
#[utoipa::path(get, path = "/api/v1/calendars/{id}/feeds", tag = "feeds",
    params(("id" = String, Path, description = "the calendar's URL segment")),
    responses((status = 200, body = [FeedJson]), (status = 403, body = super::openapi::ProblemJson),
        (status = 404, body = super::openapi::ProblemJson)))]
pub async fn list(ctx: &ApiContext<'_>, user: &Principal, id: &str) -> Reply {
    let c = calendar_of(ctx, user, id, Need::Own).await?;
    // The service lists the owner's links over all their calendars; this route is one calendar's.
    let links = feeds::list(&ctx.dav.store, &user.name).await?;
    let mine: Vec<FeedJson> = links.iter().filter(|l| l.collection == c.id).map(feed_json).collect();
    Ok(json(StatusCode::OK, &mine))
}

/// A new feed link; its URL is in this answer only.
#[utoipa::path(post, path = "/api/v1/calendars/{id}/feeds", tag = "feeds", request_body = NewFeedRequest,
    params(("id" = String, Path, description = "the calendar's URL segment")),
    responses((status = 201, body = IssuedFeedJson), (status = 400, body = super::openapi::ProblemJson),
        (status = 403, body = super::openapi::ProblemJson), (status = 404, body = super::openapi::ProblemJson)))]
pub async fn create(ctx: &ApiContext<'_>, user: &Principal, id: &str, headers: &http::HeaderMap, body: &[u8]) -> Reply {
    let c = calendar_of(ctx, user, id, Need::Own).await?;
    let req: NewFeedRequest = optional_body(headers, body)?;
    let mode = match req.mode.as_deref() {
        None => FeedMode::Full,
        Some(m) => FeedMode::parse(m).ok_or_else(|| reply::bad_request(&format!("mode is full, masked or busy, not {m:?}")))?,
    };
    let expires_at = match req.expires_at.as_deref() {
        None => None,
        Some(v) => Some(
            chrono::DateTime::parse_from_rfc3339(v)
                .map_err(|_| reply::bad_request(&format!("expiresAt is an RFC 3339 date-time (2027-01-01T00:00:00Z), not {v:?}")))?
                .timestamp(),
        ),
    };
    let new = NewFeed { settings: FeedSettings { mode, alarms: req.alarms, attendees: req.attendees }, label: req.label.unwrap_or_default(), expires_at };
    let issued = feeds::create(&ctx.dav.store, &user.name, &c.path, new, crate::service::now()).await?;
    Ok(json(StatusCode::CREATED, &issued_json(ctx, &issued)))
}

/// Deletes the link: its URL answers 404 from now on.
#[utoipa::path(delete, path = "/api/v1/calendars/{id}/feeds/{feedId}", tag = "feeds",
    params(("id" = String, Path, description = "the calendar's URL segment"), ("feedId" = i64, Path, description = "the link's id")),
    responses((status = 204), (status = 403, body = super::openapi::ProblemJson), (status = 404, body = super::openapi::ProblemJson)))]
pub async fn revoke(ctx: &ApiContext<'_>, user: &Principal, id: &str, feed_id: &str) -> Reply {
    let c = calendar_of(ctx, user, id, Need::Own).await?;
    let link = link_of(ctx, &c, feed_id).await?;
    match feeds::revoke(&ctx.dav.store, link.id, Some(user.id)).await {
        Ok(()) => Ok(no_content()),
        // Revoked by a concurrent request: gone either way.
        Err(ServiceError::NotFound) => Err(reply::not_found("the feed link is gone")),
        Err(e) => Err(e.into()),
    }
}

/// Gives the link a new URL (in this answer only); the current one keeps working for
/// `graceHours`.
#[utoipa::path(post, path = "/api/v1/calendars/{id}/feeds/{feedId}/rotate", tag = "feeds", request_body = RotateRequest,
    params(("id" = String, Path, description = "the calendar's URL segment"), ("feedId" = i64, Path, description = "the link's id")),
    responses((status = 200, body = IssuedFeedJson), (status = 400, body = super::openapi::ProblemJson),
        (status = 403, body = super::openapi::ProblemJson), (status = 404, body = super::openapi::ProblemJson)))]
pub async fn rotate(ctx: &ApiContext<'_>, user: &Principal, id: &str, feed_id: &str, headers: &http::HeaderMap, body: &[u8]) -> Reply {
    let c = calendar_of(ctx, user, id, Need::Own).await?;
    let req: RotateRequest = optional_body(headers, body)?;
    let hours = req.grace_hours.unwrap_or(DEFAULT_GRACE_HOURS);
    if !(0..=MAX_GRACE_HOURS).contains(&hours) {
        return Err(reply::bad_request(&format!("graceHours is 0 to {MAX_GRACE_HOURS}, not {hours}")));
    }
    let link = link_of(ctx, &c, feed_id).await?;
    let issued = feeds::rotate(&ctx.dav.store, link.id, Some(user.id), hours * 3600, crate::service::now()).await?;
    Ok(json(StatusCode::OK, &issued_json(ctx, &issued)))
}
