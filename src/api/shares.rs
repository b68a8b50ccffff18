//! Shares of a calendar (issue 18, decision 0023): `GET/POST /calendars/{id}/shares`, `DELETE
//! …/shares/{user}`. A thin edge over `service::shares`, the functions `kalends share …` and
//! Apple's `CS:share` POST call: a share is accepted at once and appears in the sharee's
//! `GET /calendars` (and CalDAV home) under a segment of its own. Only the calendar's owner
//! shares it (a sharee gets 403, as for renaming it).
//!
//! A POST naming an unknown user is refused as such (400, "no user …"): user names on this
//! server are no secret among its users — CalDAV's `CS:share` answers "not another user of
//! this server" for the same request, and calendar user addresses resolve through the
//! principal search and free/busy — so hiding them here would protect nothing and leave the
//! owner guessing. Callers without credentials get no further than 401. A DELETE answers 404
//! "not shared with …" alike for a user without a share and a name nobody has: either way
//! there is nothing to remove.

use http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ApiContext;
use super::account::rfc3339;
use super::calendars::{Need, calendar_of};
use super::reply::{self, Reply, json, no_content};
use crate::service::{Principal, ServiceError, shares};
use crate::store::{Access, Share};

/// One user a calendar is shared with.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ShareJson {
    /// The sharee's user name.
    pub user: String,
    pub email: Option<String>,
    /// read, read-write or free-busy.
    pub access: String,
    /// RFC 3339, UTC.
    pub created: String,
}

/// Share with `user`, or change the access of the share that exists.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ShareRequest {
    /// The user name to share with (another user of this server).
    pub user: String,
    /// read, read-write or free-busy.
    pub access: String,
}

fn share_json(s: &Share) -> ShareJson {
    ShareJson { user: s.sharee_name.clone(), email: s.sharee_email.clone(), access: s.access.as_str().to_owned(), created: rfc3339(s.created_at) }
}

/// Whom the calendar is shared with (the caller must own it), by user name.
#[utoipa::path(get, path = "/api/v1/calendars/{id}/shares", tag = "shares",
    params(("id" = String, Path, description = "the calendar's URL segment")),
    responses((status = 200, body = [ShareJson]), (status = 403, body = super::openapi::ProblemJson),
        (status = 404, body = super::openapi::ProblemJson)))]
pub async fn list(ctx: &ApiContext<'_>, user: &Principal, id: &str) -> Reply {
    let c = calendar_of(ctx, user, id, Need::Own).await?;
    // The service lists the shares of all the owner's calendars (and those they received).
    let (given, _received) = shares::list(&ctx.dav.store, &user.name).await?;
    let mine: Vec<ShareJson> = given.iter().filter(|s| s.collection == c.id).map(share_json).collect();
    Ok(json(StatusCode::OK, &mine))
}

/// Shares the calendar: 201 for a new share, 200 when an existing one's access changed.
#[utoipa::path(post, path = "/api/v1/calendars/{id}/shares", tag = "shares", request_body = ShareRequest,
    params(("id" = String, Path, description = "the calendar's URL segment")),
    responses((status = 201, body = ShareJson), (status = 200, body = ShareJson),
        (status = 400, description = "an unknown access, an unknown user, or the caller themself", body = super::openapi::ProblemJson),
        (status = 403, body = super::openapi::ProblemJson), (status = 404, body = super::openapi::ProblemJson)))]
pub async fn add(ctx: &ApiContext<'_>, user: &Principal, id: &str, headers: &http::HeaderMap, body: &[u8]) -> Reply {
    let c = calendar_of(ctx, user, id, Need::Own).await?;
    let req: ShareRequest = reply::body(headers, body)?;
    let access =
        Access::parse(&req.access).ok_or_else(|| reply::bad_request(&format!("access is read, read-write or free-busy, not {:?}", req.access)))?;
    if req.user == user.name {
        return Err(reply::bad_request("a calendar is not shared with its owner"));
    }
    // Unknown users and the owner are the service's BadRequest, with its words.
    let (share, created) = shares::add(&ctx.dav.store, &user.name, &c.path, &req.user, access).await?;
    Ok(json(if created { StatusCode::CREATED } else { StatusCode::OK }, &share_json(&share)))
}

/// Stops sharing the calendar with `user`; 404 when it was not shared with them (or there is
/// no such user: the same answer).
#[utoipa::path(delete, path = "/api/v1/calendars/{id}/shares/{user}", tag = "shares",
    params(("id" = String, Path, description = "the calendar's URL segment"), ("user" = String, Path, description = "the sharee's user name")),
    responses((status = 204), (status = 403, body = super::openapi::ProblemJson), (status = 404, body = super::openapi::ProblemJson)))]
pub async fn remove(ctx: &ApiContext<'_>, user: &Principal, id: &str, sharee: &str) -> Reply {
    let c = calendar_of(ctx, user, id, Need::Own).await?;
    match shares::remove(&ctx.dav.store, &user.name, &c.path, sharee).await {
        Ok(true) => Ok(no_content()),
        // The service's BadRequest here is an unknown sharee (the calendar was found above).
        Ok(false) | Err(ServiceError::BadRequest(_)) => Err(reply::not_found(&format!("calendar {id:?} is not shared with {sharee:?}"))),
        Err(e) => Err(e.into()),
    }
}
