//! Events: `GET/POST /calendars/{id}/events`, `GET/PUT/DELETE …/events/{uid}`, the changes
//! feed (`…/changes?since=`, CalDAV's sync-collection), and the seed's shapes: `GET/POST /events`
//! on the default calendar and `GET /calendar`, the whole schedule. Writes go through
//! `service::objects` (validation, UID rules, scheduling, reminders) exactly as a CalDAV PUT;
//! instances come from `calendar::instances`, the listing calendar-query expand uses.

use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ApiContext;
use super::calendars::{Need, calendar_of};
use super::event::{ApiEvent, EventInput, from_json, instances_json, to_json};
use super::reply::{self, Problem, Query, Reply, json, no_content};
use crate::calendar::instances::expand_object;
use crate::calendar::recur::Window;
use crate::calendar::{ComponentKind, Timestamp};
use crate::dav::DavResponse;
use crate::dav::lock::{Touch, key_in};
use crate::dav::method::put::acting_owner;
use crate::service::objects::{self, PutRequest, name_for};
use crate::service::{Principal, ServiceError};
use crate::calendar::filter::TimeRange;
use crate::store::{Candidate, Collection, CollectionKind, Expect, ObjectStore, SchedStore, StoredObject, SyncStore};

/// Items per page unless `pageSize` says otherwise, and at most.
const PAGE: usize = 100;
const MAX_PAGE: usize = 1000;
/// Instances one expanded answer may hold (`limits.max_instances` bounds each object too).
const MAX_INSTANCES: usize = 10_000;

/// A page of events.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventPage {
    pub items: Vec<ApiEvent>,
    /// Pass as `pageToken` for the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

/// What changed since a sync token.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Changes {
    /// The token for the next call.
    pub sync_token: String,
    /// Events created or changed since, as they are now.
    pub changed: Vec<ApiEvent>,
    /// Resources deleted since, by resource name (the CalDAV object's last path segment).
    pub deleted: Vec<String>,
    /// More changes wait: call again with `syncToken`.
    pub more: bool,
}

/// The seed's short form of a new event (`POST /events`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SimpleEvent {
    pub title: String,
    /// RFC 3339 (`2026-12-10T10:00:00Z`, `…+01:00`), or a local time in `timeZone`.
    pub start: String,
    pub end: String,
    #[serde(default)]
    pub time_zone: Option<String>,
}

fn now() -> i64 {
    crate::service::now()
}

/// `from`/`to`: RFC 3339 date-times, or dates (midnight UTC).
pub(super) fn instant(q: &Query, name: &str) -> Result<Option<Timestamp>, Problem> {
    let Some(v) = q.get(name) else { return Ok(None) };
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(v) {
        return Ok(Some(t.timestamp()));
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d")
        && let Some(t) = d.and_hms_opt(0, 0, 0)
    {
        return Ok(Some(t.and_utc().timestamp()));
    }
    Err(reply::bad_request(&format!("{name} is an RFC 3339 date-time (2026-12-01T00:00:00Z) or a date, not {v:?}")))
}

fn window(q: &Query) -> Result<Option<Window>, Problem> {
    let (from, to) = (instant(q, "from")?, instant(q, "to")?);
    if let (Some(f), Some(t)) = (from, to)
        && t <= f
    {
        return Err(reply::bad_request("to must be after from"));
    }
    Ok((from.is_some() || to.is_some()).then_some(Window { start: from, end: to }))
}

fn zone_of(c: &Collection) -> chrono_tz::Tz {
    crate::service::reminders::calendar_zone(c.props.timezone.as_deref())
}

/// The calendar's event objects that may overlap `w` (all when None): candidates from the
/// time-range index, each with its stored instance timeline when it has one.
async fn candidates(ctx: &ApiContext<'_>, c: &Collection, w: Option<Window>) -> Result<Vec<Candidate>, Problem> {
    let store = &ctx.dav.store;
    let found = match w {
        None => store.list_objects_with_data(c.id).await?.into_iter().map(|object| Candidate { object, timeline: None }).collect(),
        Some(w) => store.objects_in_range(c.id, Some(ComponentKind::Event), w.start, w.end).await?,
    };
    Ok(found.into_iter().filter(|cand| cand.object.meta.calendar.as_ref().is_some_and(|i| i.component == ComponentKind::Event)).collect())
}

/// Items of one page: `token` is the index to start at.
fn page<T>(mut items: Vec<T>, q: &Query) -> Result<(Vec<T>, Option<String>), Problem> {
    let size = q.number("pageSize", PAGE, MAX_PAGE)?;
    let start = match q.get("pageToken") {
        None => 0,
        Some(t) => t.strip_prefix("o").and_then(|n| n.parse::<usize>().ok()).ok_or_else(|| reply::bad_request("pageToken is not one this server gave"))?,
    };
    let total = items.len();
    let rest: Vec<T> = if start >= total { Vec::new() } else { items.drain(start..).collect() };
    let mut rest = rest;
    let next = (rest.len() > size).then(|| format!("o{}", start + size));
    rest.truncate(size);
    Ok((rest, next))
}

/// The items of `cands` in `w`: one per event, or with `expand` one per instance (UTC times,
/// with `recurrenceId`), sorted by start. An object's stored timeline decides whether it
/// overlaps without parsing it (as calendar-query does); each object that does is parsed once to
/// expand and once to convert.
fn items(cands: &[Candidate], c: &Collection, w: Option<Window>, expand: bool, max: usize) -> Result<Vec<ApiEvent>, Problem> {
    if expand && w.is_none() {
        return Err(reply::bad_request("expand needs from and to"));
    }
    let zone = zone_of(c);
    let too_many = || reply::problem(StatusCode::UNPROCESSABLE_ENTITY, "Too many instances", "narrow from/to");
    let mut out = Vec::new();
    for Candidate { object: o, timeline } in cands {
        let overlap = match (w, timeline) {
            (None, _) => Some(true),
            (Some(w), Some(t)) => t.overlaps(&TimeRange { start: w.start, end: w.end }, zone),
            (Some(_), None) => None,
        };
        if overlap == Some(false) {
            continue;
        }
        let text = String::from_utf8_lossy(&o.data);
        let converted = match w {
            Some(w) if expand || overlap.is_none() => {
                let instances = expand_object(&o.data, w, zone, max).map_err(|_| too_many())?;
                if instances.is_empty() {
                    continue;
                }
                if expand { instances_json(&text, &o.meta.etag, &instances) } else { to_json(&text, &o.meta.etag).map(|e| vec![e]) }
            }
            _ => to_json(&text, &o.meta.etag).map(|e| vec![e]),
        };
        match converted {
            Ok(list) => out.extend(list),
            Err(e) => tracing::warn!(object = o.meta.id.0, error = %e, "API: a stored event does not convert; left out"),
        }
        if out.len() > MAX_INSTANCES {
            return Err(too_many());
        }
    }
    if expand {
        out.sort_by(|a, b| (a.start.as_str(), a.uid.as_str()).cmp(&(b.start.as_str(), b.uid.as_str())));
    } else {
        out.sort_by(|a, b| a.uid.cmp(&b.uid));
    }
    Ok(out)
}

/// How long a calendar's converted window is kept (a write changes the key at once, so this
/// only bounds memory).
const CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(600);

/// The items of `c` in `w`, from the cache when this calendar, unchanged since (its sync_seq in
/// the key), was asked about this window before: a dashboard polling its week, a page paging
/// through it. Parsing and expanding each event is the cost (calendar-query sends stored bytes;
/// the API converts them); a write anywhere in the calendar bumps the seq and misses.
async fn window_items(ctx: &ApiContext<'_>, c: &Collection, w: Option<Window>, expand: bool) -> Result<Vec<ApiEvent>, Problem> {
    let max = usize::try_from(ctx.dav.limits.max_instances).unwrap_or(MAX_INSTANCES);
    let zone = zone_of(c);
    let key = w.map(|w| {
        format!("api-items:v1:{}:{}:{:?}:{:?}:{}:{}:{max}", c.id.0, c.sync_seq, w.start, w.end, expand, zone.name())
    });
    if let Some(key) = &key
        && let Some(bytes) = ctx.dav.cache.get(key).await
        && let Ok(items) = serde_json::from_slice::<Vec<ApiEvent>>(&bytes)
    {
        return Ok(items);
    }
    let cands = candidates(ctx, c, w).await?;
    let items = items(&cands, c, w, expand, max)?;
    if let Some(key) = &key
        && let Ok(bytes) = serde_json::to_vec(&items)
    {
        ctx.dav.cache.put(key, &bytes, CACHE_TTL).await;
    }
    Ok(items)
}

#[utoipa::path(get, path = "/api/v1/calendars/{id}/events", tag = "events",
    params(("id" = String, Path, description = "the calendar's URL segment"),
        ("from" = Option<String>, Query, description = "RFC 3339 date-time or date: events ending after it"),
        ("to" = Option<String>, Query, description = "RFC 3339 date-time or date: events starting before it"),
        ("expand" = Option<bool>, Query, description = "one item per instance (needs from and to)"),
        ("pageSize" = Option<usize>, Query, description = "1 to 1000, default 100"),
        ("pageToken" = Option<String>, Query, description = "nextPageToken of the previous page")),
    responses((status = 200, body = EventPage), (status = 400, body = super::openapi::ProblemJson),
        (status = 404, body = super::openapi::ProblemJson)))]
pub async fn list(ctx: &ApiContext<'_>, user: &Principal, id: &str, q: &Query) -> Reply {
    let c = calendar_of(ctx, user, id, Need::Read).await?;
    let w = window(q)?;
    let expand = q.flag("expand")?;
    let all = window_items(ctx, &c, w, expand).await?;
    let (items, next_page_token) = page(all, q)?;
    Ok(json(StatusCode::OK, &EventPage { items, next_page_token }))
}

/// The calendar's object holding `uid`.
async fn by_uid(ctx: &ApiContext<'_>, c: &Collection, uid: &str) -> Result<Option<StoredObject>, Problem> {
    let copies = ctx.dav.store.objects_with_uid(c.owner, uid).await?;
    Ok(copies.into_iter().find(|(col, _)| col.id == c.id).map(|(_, o)| o).filter(|o| o.meta.calendar.as_ref().is_some_and(|i| i.component == ComponentKind::Event)))
}

fn with_etag(mut resp: DavResponse, etag: &str) -> DavResponse {
    if let Ok(v) = HeaderValue::from_str(etag) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    resp
}

fn wants_ics(headers: &HeaderMap) -> bool {
    headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/calendar") && !a.contains("application/json"))
}

#[utoipa::path(get, path = "/api/v1/calendars/{id}/events/{uid}", tag = "events",
    params(("id" = String, Path, description = "the calendar's URL segment"), ("uid" = String, Path, description = "the event's UID")),
    responses((status = 200, body = ApiEvent, description = "JSON, or the stored iCalendar object with Accept: text/calendar"),
        (status = 404, body = super::openapi::ProblemJson)))]
pub async fn get(ctx: &ApiContext<'_>, user: &Principal, id: &str, uid: &str, headers: &HeaderMap) -> Reply {
    let c = calendar_of(ctx, user, id, Need::Read).await?;
    let o = by_uid(ctx, &c, uid).await?.ok_or_else(|| reply::not_found("no event with that UID in this calendar"))?;
    if wants_ics(headers) {
        let mut resp = http::Response::new(bytes::Bytes::from(o.data.clone()));
        resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/calendar; charset=utf-8"));
        return Ok(with_etag(resp, &o.meta.etag));
    }
    let e = to_json(&String::from_utf8_lossy(&o.data), &o.meta.etag)
        .map_err(|e| reply::problem(StatusCode::UNPROCESSABLE_ENTITY, "Not shown as JSON", &format!("{e}; ask for text/calendar")))?;
    Ok(with_etag(json(StatusCode::OK, &e), &o.meta.etag))
}

/// Stores `text` as `name` in `c` (as the owner, for a share), returning the event as stored.
async fn store_event(ctx: &ApiContext<'_>, user: &Principal, c: &Collection, name: &str, text: String, expect: Expect) -> Result<(bool, ApiEvent), Problem> {
    // A WebDAV lock on the event, or for a new one on the calendar, holds here too (RFC 4918 §7.4).
    let key = key_in(user, c, Some(name));
    let touches = if expect == Expect::Absent { vec![Touch::Resource(key.parent()), Touch::Resource(key)] } else { vec![Touch::Resource(key)] };
    reply::unlocked(ctx.dav, user, &touches).await?;
    let (owner, collection) = acting_owner(user, c);
    let sched = ctx.dav.sched();
    let req = PutRequest { collection: &collection, name, data: text.into_bytes(), content_type: Some("text/calendar"), expect, tag_match: None, used_bytes: None };
    let done = objects::put(&sched, &owner, req).await?;
    // The stored text (scheduling may have added to it) is what the answer shows.
    let stored = ctx.dav.store.object(collection.id, name).await?.ok_or_else(|| reply::not_found("the event was deleted meanwhile"))?;
    let event = to_json(&String::from_utf8_lossy(&stored.data), &stored.meta.etag).map_err(|e| reply::bad_request(&e.to_string()))?;
    Ok((done.created, event))
}

fn created_or_ok(created: bool, event: &ApiEvent) -> DavResponse {
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    with_etag(json(status, event), &event.etag)
}

#[utoipa::path(post, path = "/api/v1/calendars/{id}/events", tag = "events", request_body = EventInput,
    params(("id" = String, Path, description = "the calendar's URL segment")),
    responses((status = 201, body = ApiEvent), (status = 400, body = super::openapi::ProblemJson),
        (status = 409, body = super::openapi::ProblemJson), (status = 422, body = super::openapi::ProblemJson),
        (status = 423, body = super::openapi::ProblemJson)))]
pub async fn create(ctx: &ApiContext<'_>, user: &Principal, id: &str, headers: &HeaderMap, body: &[u8]) -> Reply {
    let c = calendar_of(ctx, user, id, Need::Write).await?;
    let input: EventInput = reply::body(headers, body)?;
    create_in(ctx, user, &c, &input).await
}

async fn create_in(ctx: &ApiContext<'_>, user: &Principal, c: &Collection, input: &EventInput) -> Reply {
    let text = from_json(input, None, now()).map_err(|e| reply::bad_request(&e.to_string()))?;
    let uid = to_json(&text, "").map_err(|e| reply::bad_request(&e.to_string()))?.uid;
    if by_uid(ctx, c, &uid).await?.is_some() {
        return Err(reply::problem(StatusCode::CONFLICT, "UID in use", "an event with this UID exists: PUT …/events/{uid} changes it"));
    }
    let (created, event) = store_event(ctx, user, c, &name_for(&uid), text, Expect::Absent).await?;
    Ok(created_or_ok(created, &event))
}

#[utoipa::path(put, path = "/api/v1/calendars/{id}/events/{uid}", tag = "events", request_body = EventInput,
    params(("id" = String, Path, description = "the calendar's URL segment"), ("uid" = String, Path, description = "the event's UID")),
    responses((status = 200, body = ApiEvent), (status = 201, body = ApiEvent), (status = 400, body = super::openapi::ProblemJson),
        (status = 412, body = super::openapi::ProblemJson), (status = 422, body = super::openapi::ProblemJson),
        (status = 423, body = super::openapi::ProblemJson)))]
pub async fn put(ctx: &ApiContext<'_>, user: &Principal, id: &str, uid: &str, headers: &HeaderMap, body: &[u8]) -> Reply {
    let c = calendar_of(ctx, user, id, Need::Write).await?;
    let mut input: EventInput = reply::body(headers, body)?;
    if input.uid.as_deref().is_some_and(|u| u != uid) {
        return Err(reply::bad_request("the body's uid is not the one in the path"));
    }
    input.uid = Some(uid.to_owned());
    let existing = by_uid(ctx, &c, uid).await?;
    reply::check_if_match(headers, existing.as_ref().map(|o| o.meta.etag.as_str()))?;
    let bad = |e: super::event::EventError| reply::bad_request(&e.to_string());
    let (name, text, expect) = match &existing {
        Some(o) => {
            let text = from_json(&input, Some(&String::from_utf8_lossy(&o.data)), now()).map_err(bad)?;
            (o.meta.name.clone(), text, Expect::Etag(vec![o.meta.etag.clone()]))
        }
        None => (name_for(uid), from_json(&input, None, now()).map_err(bad)?, Expect::Absent),
    };
    match store_event(ctx, user, &c, &name, text, expect).await {
        Ok((created, event)) => Ok(created_or_ok(created, &event)),
        Err(p) if p.status == StatusCode::PRECONDITION_FAILED => {
            Err(reply::problem(StatusCode::PRECONDITION_FAILED, "Precondition failed", "the event changed meanwhile; read it again"))
        }
        Err(p) => Err(p),
    }
}

#[utoipa::path(delete, path = "/api/v1/calendars/{id}/events/{uid}", tag = "events",
    params(("id" = String, Path, description = "the calendar's URL segment"), ("uid" = String, Path, description = "the event's UID")),
    responses((status = 204), (status = 404, body = super::openapi::ProblemJson), (status = 412, body = super::openapi::ProblemJson),
        (status = 423, body = super::openapi::ProblemJson)))]
pub async fn delete(ctx: &ApiContext<'_>, user: &Principal, id: &str, uid: &str, headers: &HeaderMap) -> Reply {
    let c = calendar_of(ctx, user, id, Need::Write).await?;
    let o = by_uid(ctx, &c, uid).await?.ok_or_else(|| reply::not_found("no event with that UID in this calendar"))?;
    reply::check_if_match(headers, Some(&o.meta.etag))?;
    let key = key_in(user, &c, Some(&o.meta.name));
    reply::unlocked(ctx.dav, user, &[Touch::Resource(key.parent()), Touch::Tree(key)]).await?;
    let (owner, collection) = acting_owner(user, &c);
    let meta = o.meta.clone();
    match objects::delete(&ctx.dav.sched(), &owner, &collection, &meta, Expect::Etag(vec![meta.etag.clone()]), None).await {
        Ok(()) => Ok(no_content()),
        Err(ServiceError::PreconditionFailed) => Err(reply::problem(StatusCode::PRECONDITION_FAILED, "Precondition failed", "the event changed meanwhile")),
        Err(e) => Err(e.into()),
    }
}

#[utoipa::path(get, path = "/api/v1/calendars/{id}/changes", tag = "events",
    params(("id" = String, Path, description = "the calendar's URL segment"),
        ("since" = Option<String>, Query, description = "a syncToken from the calendar or a previous call; absent: everything")),
    responses((status = 200, body = Changes), (status = 410, body = super::openapi::ProblemJson, description = "the token expired: read everything again")))]
pub async fn changes(ctx: &ApiContext<'_>, user: &Principal, id: &str, q: &Query) -> Reply {
    let c = calendar_of(ctx, user, id, Need::Read).await?;
    let gone = || reply::problem(StatusCode::GONE, "Sync token expired", "unknown or expired sync token: read everything again");
    let since = match q.get("since") {
        None | Some("") => None,
        Some(t) => Some(crate::dav::props::parse_sync_token(&c, t).ok_or_else(gone)?),
    };
    let delta = match ctx.dav.store.changes_since(c.id, since, Some(MAX_PAGE)).await {
        Ok(d) => d,
        Err(crate::store::StoreError::InvalidSyncToken) => return Err(gone()),
        Err(e) => return Err(e.into()),
    };
    let names: Vec<String> = delta.changed.iter().filter(|m| m.calendar.as_ref().is_some_and(|i| i.component == ComponentKind::Event)).map(|m| m.name.clone()).collect();
    let objects = ctx.dav.store.objects_by_names(c.id, &names).await?;
    let changed = objects.iter().filter_map(|o| to_json(&String::from_utf8_lossy(&o.data), &o.member.etag).ok()).collect();
    let body = Changes { sync_token: crate::dav::props::sync_token(&c, delta.seq), changed, deleted: delta.removed, more: delta.truncated };
    Ok(json(StatusCode::OK, &body))
}

/// The user's default calendar: the inbox's schedule-default-calendar, else `calendar`, else
/// their first that takes events.
async fn default_calendar(ctx: &ApiContext<'_>, user: &Principal) -> Result<Collection, Problem> {
    let targets = ctx.dav.store.delivery_targets(&[user.id], "").await?;
    targets
        .into_iter()
        .find_map(|t| t.default_calendar)
        .filter(|c| c.kind == CollectionKind::Calendar)
        .ok_or_else(|| reply::not_found("you have no calendar that takes events"))
}

#[utoipa::path(get, path = "/api/v1/events", tag = "seed",
    params(("from" = Option<String>, Query, description = "RFC 3339 date-time or date"), ("to" = Option<String>, Query, description = "RFC 3339 date-time or date"),
        ("pageSize" = Option<usize>, Query, description = "1 to 1000"), ("pageToken" = Option<String>, Query, description = "from the previous page")),
    responses((status = 200, body = EventPage)))]
pub async fn seed_list(ctx: &ApiContext<'_>, user: &Principal, q: &Query) -> Reply {
    let c = default_calendar(ctx, user).await?;
    list(ctx, user, &c.path, q).await
}

#[utoipa::path(post, path = "/api/v1/events", tag = "seed", request_body = SimpleEvent,
    responses((status = 201, body = ApiEvent), (status = 400, body = super::openapi::ProblemJson),
        (status = 423, body = super::openapi::ProblemJson)))]
pub async fn seed_create(ctx: &ApiContext<'_>, user: &Principal, headers: &HeaderMap, body: &[u8]) -> Reply {
    let simple: SimpleEvent = reply::body(headers, body)?;
    let c = default_calendar(ctx, user).await?;
    let input = EventInput { title: simple.title, start: simple.start, end: Some(simple.end), time_zone: simple.time_zone, ..EventInput::default() };
    create_in(ctx, user, &c, &input).await
}

/// One instance of the whole schedule, with the calendar it is in.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleItem {
    pub calendar: String,
    #[serde(flatten)]
    pub event: ApiEvent,
}

#[utoipa::path(get, path = "/api/v1/calendar", tag = "seed",
    params(("from" = String, Query, description = "RFC 3339 date-time or date"), ("to" = String, Query, description = "RFC 3339 date-time or date")),
    responses((status = 200, body = [ScheduleItem]), (status = 400, body = super::openapi::ProblemJson)))]
pub async fn schedule(ctx: &ApiContext<'_>, user: &Principal, q: &Query) -> Reply {
    let w = match window(q)? {
        Some(w) if w.start.is_some() && w.end.is_some() => w,
        _ => return Err(reply::bad_request("from and to are both needed")),
    };
    let store = &ctx.dav.store;
    let own = crate::store::CollectionStore::child_collections(store, user.id, None).await?;
    let shared = crate::store::ShareStore::shared_views(store, user.id).await?;
    let readable = |c: &&Collection| {
        c.kind == CollectionKind::Calendar
            && c.share.as_ref().is_none_or(|g| matches!(g.access, crate::store::Access::Read | crate::store::Access::ReadWrite))
    };
    let mut out: Vec<ScheduleItem> = Vec::new();
    for c in own.iter().chain(shared.iter()).filter(readable) {
        out.extend(window_items(ctx, c, Some(w), true).await?.into_iter().map(|event| ScheduleItem { calendar: c.path.clone(), event }));
        if out.len() > MAX_INSTANCES {
            return Err(reply::problem(StatusCode::UNPROCESSABLE_ENTITY, "Too many instances", "narrow from/to"));
        }
    }
    out.sort_by(|a, b| (a.event.start.as_str(), a.calendar.as_str(), a.event.uid.as_str()).cmp(&(b.event.start.as_str(), b.calendar.as_str(), b.event.uid.as_str())));
    Ok(json(StatusCode::OK, &out))
}
