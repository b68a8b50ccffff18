//! Free/busy lookup: `GET /freebusy?user=NAME&from&to`, a user's busy periods in UTC, or `POST
//! /freebusy` with `{users, from, to}` for several at once (each with its own status, as the
//! outbox answers each attendee). The same answer as CalDAV's outbox POST (RFC 6638 §5) gives
//! for that user and window, from the same
//! code: `dav::method::post::busy_of` (every calendar that takes events and is not transparent,
//! each calendar's periods cached under its sync sequence) merged as `freebusy_reply` merges
//! them, and `may_look_up` for `scheduling.freebusy_lookup` (`nobody`: only one's own).
//!
//! Unknown users are 404 before the lookup setting is asked, as the outbox answers 3.7 before
//! 3.8: both say which names exist, which among the server's users is no secret (see
//! shares.rs).

use http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ApiContext;
use super::events::instant;
use super::reply::{self, Problem, Query, Reply, json};
use crate::calendar::Timestamp;
use crate::calendar::filter::TimeRange;
use crate::calendar::freebusy::merge;
use crate::dav::DavError;
use crate::dav::method::post::{busy_of, may_look_up};
use crate::service::Principal;
use crate::store::UserStore;

/// One busy period.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BusyJson {
    /// RFC 3339, UTC.
    pub start: String,
    /// RFC 3339, UTC; after start.
    pub end: String,
    /// The FBTYPE (RFC 5545 §3.2.9): BUSY, BUSY-TENTATIVE or BUSY-UNAVAILABLE.
    #[serde(rename = "type")]
    pub kind: String,
}

/// A DAV-layer failure of the shared lookup as a problem: the service's errors keep their
/// statuses; anything else is unexpected here (the lookup reads, it does not parse requests).
fn problem_of(e: DavError) -> Problem {
    match e {
        DavError::Service(e) => e.into(),
        other => {
            tracing::error!(error = %other, "API free/busy failed");
            reply::problem(StatusCode::INTERNAL_SERVER_ERROR, "Internal error", "internal server error")
        }
    }
}

/// Several users' busy time over one window.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FreeBusyRequest {
    /// User names; at most `limits.max_attendees_per_instance` (the outbox's limit).
    pub users: Vec<String>,
    /// RFC 3339 date-time or date: the window's start.
    pub from: String,
    /// RFC 3339 date-time or date: the window's end, after from.
    pub to: String,
}

/// One user's entry of a `POST /freebusy` answer.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserBusyJson {
    pub user: String,
    /// ok, unknown-user (no such user) or not-allowed (freebusy_lookup is nobody): the outbox's
    /// 2.0, 3.7 and 3.8.
    pub status: String,
    /// The busy periods when status is ok, else empty.
    pub busy: Vec<BusyJson>,
}

/// The window of `from` and `to` (both needed, to after from).
fn window(from: Option<Timestamp>, to: Option<Timestamp>) -> Result<(Timestamp, Timestamp), Problem> {
    let (Some(start), Some(end)) = (from, to) else {
        return Err(reply::bad_request("from and to are both needed"));
    };
    if end <= start {
        return Err(reply::bad_request("to must be after from"));
    }
    Ok((start, end))
}

/// `name`'s busy periods overlapping [start, end), merged per type and sorted by start: what
/// the outbox's VFREEBUSY reply lists as FREEBUSY values. 404 for an unknown user, 403 when
/// the caller may not look.
async fn busy(ctx: &ApiContext<'_>, user: &Principal, name: &str, start: Timestamp, end: Timestamp) -> Result<Vec<BusyJson>, Problem> {
    let who = ctx.dav.store.user_by_name(name).await?.ok_or_else(|| reply::not_found(&format!("no user {name:?}")))?;
    if !may_look_up(ctx.dav, user, &who) {
        return Err(reply::forbidden("this server shows each user only their own free/busy (scheduling.freebusy_lookup = nobody)"));
    }
    let periods = busy_of(ctx.dav, &who, start, end).await.map_err(problem_of)?;
    let mut merged = merge(&periods, &TimeRange { start: Some(start), end: Some(end) });
    merged.sort_by_key(|b| (b.start, b.end));
    Ok(merged
        .iter()
        .map(|b| BusyJson { start: super::account::rfc3339(b.start), end: super::account::rfc3339(b.end), kind: b.kind.as_str().to_owned() })
        .collect())
}

/// `user`'s busy periods overlapping [from, to), merged per type and sorted by start.
#[utoipa::path(get, path = "/api/v1/freebusy", tag = "freebusy",
    params(("user" = String, Query, description = "the user name whose busy time to read"),
        ("from" = String, Query, description = "RFC 3339 date-time or date: the window's start"),
        ("to" = String, Query, description = "RFC 3339 date-time or date: the window's end, after from")),
    responses((status = 200, body = [BusyJson]), (status = 400, body = super::openapi::ProblemJson),
        (status = 403, description = "freebusy_lookup is nobody and the user is another", body = super::openapi::ProblemJson),
        (status = 404, description = "no such user", body = super::openapi::ProblemJson),
        (status = 422, description = "too many instances in the window", body = super::openapi::ProblemJson)))]
pub async fn lookup(ctx: &ApiContext<'_>, user: &Principal, q: &Query) -> Reply {
    let name = q.get("user").filter(|n| !n.is_empty()).ok_or_else(|| reply::bad_request("user names whose busy time to read"))?;
    let (start, end) = window(instant(q, "from")?, instant(q, "to")?)?;
    Ok(json(StatusCode::OK, &busy(ctx, user, name, start, end).await?))
}

/// Several users' busy periods over one window, in the order asked, each with a status.
#[utoipa::path(post, path = "/api/v1/freebusy", tag = "freebusy", request_body = FreeBusyRequest,
    responses((status = 200, body = [UserBusyJson]), (status = 400, body = super::openapi::ProblemJson),
        (status = 422, description = "too many instances in the window", body = super::openapi::ProblemJson)))]
pub async fn lookup_many(ctx: &ApiContext<'_>, user: &Principal, headers: &http::HeaderMap, body: &[u8]) -> Reply {
    let req: FreeBusyRequest = reply::body(headers, body)?;
    let limit = usize::try_from(ctx.dav.limits.max_attendees_per_instance).unwrap_or(usize::MAX);
    if req.users.is_empty() || req.users.len() > limit {
        return Err(reply::bad_request(&format!("users lists 1 to {limit} user names")));
    }
    // The query string's reading of from/to, so both forms take the same values.
    let q = Query::parse(Some(&format!("from={}&to={}", encode(&req.from), encode(&req.to))));
    let (start, end) = window(instant(&q, "from")?, instant(&q, "to")?)?;
    let mut out = Vec::with_capacity(req.users.len());
    for name in &req.users {
        let (status, busy) = match busy(ctx, user, name, start, end).await {
            Ok(busy) => ("ok", busy),
            Err(p) if p.status == StatusCode::NOT_FOUND => ("unknown-user", Vec::new()),
            Err(p) if p.status == StatusCode::FORBIDDEN => ("not-allowed", Vec::new()),
            Err(p) => return Err(p),
        };
        out.push(UserBusyJson { user: name.clone(), status: status.to_owned(), busy });
    }
    Ok(json(StatusCode::OK, &out))
}

/// Percent-encodes a value for `Query::parse`.
fn encode(v: &str) -> String {
    percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC).to_string()
}
