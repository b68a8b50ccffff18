//! Free/busy lookup: `GET /freebusy?user=NAME&from&to`, a user's busy periods in UTC. The same
//! answer as CalDAV's outbox POST (RFC 6638 §5) gives for that user and window, from the same
//! code: `dav::method::post::busy_of` (every calendar that takes events and is not transparent,
//! each calendar's periods cached under its sync sequence) merged as `freebusy_reply` merges
//! them, and `may_look_up` for `scheduling.freebusy_lookup` (`nobody`: only one's own).
//!
//! Unknown users are 404 before the lookup setting is asked, as the outbox answers 3.7 before
//! 3.8: both say which names exist, which among the server's users is no secret (see
//! shares.rs).

use http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

use super::ApiContext;
use super::events::instant;
use super::reply::{self, Problem, Query, Reply, json};
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

/// `user`'s busy periods overlapping [from, to), merged per type and sorted by start; what the
/// outbox's VFREEBUSY reply lists as FREEBUSY values.
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
    let (Some(start), Some(end)) = (instant(q, "from")?, instant(q, "to")?) else {
        return Err(reply::bad_request("from and to are both needed"));
    };
    if end <= start {
        return Err(reply::bad_request("to must be after from"));
    }
    let who = ctx.dav.store.user_by_name(name).await?.ok_or_else(|| reply::not_found(&format!("no user {name:?}")))?;
    if !may_look_up(ctx.dav, user, &who) {
        return Err(reply::forbidden("this server shows each user only their own free/busy (scheduling.freebusy_lookup = nobody)"));
    }
    let busy = busy_of(ctx.dav, &who, start, end).await.map_err(problem_of)?;
    let mut merged = merge(&busy, &TimeRange { start: Some(start), end: Some(end) });
    merged.sort_by_key(|b| (b.start, b.end));
    let out: Vec<BusyJson> = merged
        .iter()
        .map(|b| BusyJson { start: super::account::rfc3339(b.start), end: super::account::rfc3339(b.end), kind: b.kind.as_str().to_owned() })
        .collect();
    Ok(json(StatusCode::OK, &out))
}
