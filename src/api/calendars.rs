//! Calendars: `GET/POST /calendars`, `GET/PATCH/DELETE /calendars/{id}`. A calendar's id is its
//! URL segment in the user's home (`calendar` for `/calendars/alice/calendar/`), a shared one's
//! the share's segment, exactly as CalDAV names them; the sync token is CalDAV's.

use http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ApiContext;
use super::reply::{self, Problem, Reply, json, no_content};
use crate::calendar::{ComponentKind, ComponentSet};
use crate::dav::lock::{Touch, key_in};
use crate::service::collections::{self, LiveChange, NewCollectionRequest, PropertyUpdate};
use crate::service::shares::is_share_segment;
use crate::service::{Principal, ServiceError};
use crate::store::{Access, Collection, CollectionKind, CollectionStore, ShareStore};

/// A calendar as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CalendarJson {
    /// Its URL segment: the id in every /calendars/{id} path.
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    /// e.g. "#FF2968" (Apple's calendar-color).
    pub color: Option<String>,
    /// IANA name of the calendar's time zone, for floating times and all-day events.
    pub time_zone: Option<String>,
    /// VEVENT, VTODO, VJOURNAL, VFREEBUSY.
    pub components: Vec<String>,
    /// The owner's user name.
    pub owner: String,
    /// owner, read, read-write or free-busy.
    pub access: String,
    /// The CalDAV sync token (RFC 6578): `GET …/changes?since=` takes it.
    pub sync_token: String,
}

/// A new calendar (POST) or a change (PATCH: only the fields given change).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CalendarRequest {
    /// POST only: the URL segment (letters, digits, `-`, `_`, `.`); made from the name when absent.
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub color: Option<String>,
    #[serde(default)]
    pub time_zone: Option<String>,
    /// POST only.
    #[serde(default)]
    pub components: Option<Vec<String>>,
}

pub(super) fn components_of(set: ComponentSet) -> Vec<String> {
    [ComponentKind::Event, ComponentKind::Todo, ComponentKind::Journal, ComponentKind::FreeBusy]
        .into_iter()
        .filter(|k| set.contains(k.bit()))
        .map(|k| k.as_str().to_owned())
        .collect()
}

pub(super) fn calendar_json(c: &Collection, owner_name: &str) -> CalendarJson {
    let (id, owner, access) = match &c.share {
        Some(grant) => (c.path.clone(), grant.owner_name.clone(), grant.access.as_str().to_owned()),
        None => (c.path.clone(), owner_name.to_owned(), "owner".to_owned()),
    };
    let zone = c.props.timezone.as_deref().and_then(|t| crate::calendar::parse_calendar_timezone(t).ok());
    CalendarJson {
        name: c.props.displayname.clone().unwrap_or_else(|| id.clone()),
        id,
        description: c.props.description.clone(),
        color: c.props.color.clone(),
        time_zone: zone.map(|z| z.zone.map_or(z.tzid, |tz| tz.name().to_owned())),
        components: components_of(c.props.components),
        owner,
        access,
        sync_token: crate::dav::props::sync_token(c, c.sync_seq),
    }
}

/// What a caller may do with a calendar they reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Need {
    /// Its name and settings: any share, free-busy ones too.
    See,
    Read,
    Write,
    /// Rename, recolour, delete: the owner's alone.
    Own,
}

/// The calendar `id` of the caller (their own, or shared with them), if they may `need` it.
/// Another user's calendars do not exist for the caller (404, as CalDAV's 403 hides nothing more).
pub(super) async fn calendar_of(ctx: &ApiContext<'_>, user: &Principal, id: &str, need: Need) -> Result<Collection, Problem> {
    let store = &ctx.dav.store;
    let found = if is_share_segment(id) {
        store.shared_view(user.id, id).await
    } else if id.is_empty() || id.contains('/') {
        Ok(None)
    } else {
        store.collection_by_path(user.id, id).await
    };
    let c = match found? {
        Some(c) if c.kind == CollectionKind::Calendar => c,
        _ => return Err(reply::not_found(&format!("you have no calendar {id:?}"))),
    };
    let allowed = match (&c.share, need) {
        (None, _) | (Some(_), Need::See) => true,
        (Some(g), Need::Read) => matches!(g.access, Access::Read | Access::ReadWrite),
        (Some(g), Need::Write) => g.access == Access::ReadWrite,
        (Some(_), Need::Own) => false,
    };
    if allowed {
        Ok(c)
    } else {
        let what = match need {
            Need::See | Need::Read => "read its events",
            Need::Write => "change its events",
            Need::Own => "change or delete it (only its owner can)",
        };
        Err(reply::forbidden(&format!("calendar {id:?} is shared with you; you may not {what}")))
    }
}

/// The caller's calendars and those shared with them.
#[utoipa::path(get, path = "/api/v1/calendars", tag = "calendars",
    responses((status = 200, body = [CalendarJson]), (status = 401, body = super::openapi::ProblemJson)))]
pub async fn list(ctx: &ApiContext<'_>, user: &Principal) -> Reply {
    let store = &ctx.dav.store;
    let own = store.child_collections(user.id, None).await?;
    let shared = store.shared_views(user.id).await?;
    let all: Vec<CalendarJson> =
        own.iter().chain(shared.iter()).filter(|c| c.kind == CollectionKind::Calendar).map(|c| calendar_json(c, &user.name)).collect();
    Ok(json(StatusCode::OK, &all))
}

#[utoipa::path(get, path = "/api/v1/calendars/{id}", tag = "calendars",
    params(("id" = String, Path, description = "the calendar's URL segment")),
    responses((status = 200, body = CalendarJson), (status = 404, body = super::openapi::ProblemJson)))]
pub async fn get(ctx: &ApiContext<'_>, user: &Principal, id: &str) -> Reply {
    let c = calendar_of(ctx, user, id, Need::See).await?;
    Ok(json(StatusCode::OK, &calendar_json(&c, &user.name)))
}

/// The live property changes a request asks for, checked.
fn changes(req: &CalendarRequest) -> Result<Vec<LiveChange>, Problem> {
    let mut live = Vec::new();
    if let Some(name) = &req.name {
        live.push(LiveChange::DisplayName(Some(name.clone()).filter(|n| !n.trim().is_empty())));
    }
    if let Some(d) = &req.description {
        live.push(LiveChange::Description(Some(d.clone()).filter(|d| !d.is_empty())));
    }
    if let Some(color) = &req.color {
        let ok = color.is_empty() || (color.starts_with('#') && matches!(color.len(), 7 | 9) && color[1..].bytes().all(|b| b.is_ascii_hexdigit()));
        if !ok {
            return Err(reply::bad_request("color is #RRGGBB or #RRGGBBAA"));
        }
        live.push(LiveChange::Color(Some(color.clone()).filter(|c| !c.is_empty())));
    }
    if let Some(tz) = &req.time_zone {
        if tz.is_empty() {
            live.push(LiveChange::Timezone(None));
        } else {
            let text = super::event::calendar_timezone(tz, crate::service::now()).ok_or_else(|| reply::bad_request(&format!("unknown time zone {tz:?} (an IANA name, e.g. Europe/Berlin)")))?;
            live.push(LiveChange::Timezone(Some(text)));
        }
    }
    Ok(live)
}

/// A URL segment from a name: lowercase letters, digits and dashes.
fn segment_from(name: &str) -> String {
    let mut s: String = name.to_lowercase().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    while s.contains("--") {
        s = s.replace("--", "-");
    }
    let s = s.trim_matches('-').chars().take(40).collect::<String>();
    if s.is_empty() { format!("calendar-{:08x}", rand::random::<u32>()) } else { s }
}

#[utoipa::path(post, path = "/api/v1/calendars", tag = "calendars", request_body = CalendarRequest,
    responses((status = 201, body = CalendarJson), (status = 400, body = super::openapi::ProblemJson),
        (status = 409, body = super::openapi::ProblemJson)))]
pub async fn create(ctx: &ApiContext<'_>, user: &Principal, headers: &http::HeaderMap, body: &[u8]) -> Reply {
    let req: CalendarRequest = reply::body(headers, body)?;
    let id = match &req.id {
        Some(id) if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) || id.starts_with('.') => {
            return Err(reply::bad_request("id is 1 to 64 letters, digits, '-', '_' or '.', not starting with '.'"));
        }
        Some(id) if is_share_segment(id) || ["inbox", "outbox"].contains(&id.as_str()) => {
            return Err(reply::bad_request("that id is reserved"));
        }
        Some(id) => id.clone(),
        None => segment_from(req.name.as_deref().unwrap_or("calendar")),
    };
    let components = match &req.components {
        None => None,
        Some(names) => {
            let mut set = 0u8;
            for n in names {
                let kind = ComponentKind::parse(n)
                    .ok_or_else(|| reply::bad_request(&format!("unknown component {n:?} (VEVENT, VTODO, VJOURNAL, VFREEBUSY)")))?;
                set |= kind.bit();
            }
            Some(ComponentSet(set))
        }
    };
    let live = changes(&req)?;
    let request = NewCollectionRequest { kind: CollectionKind::Calendar, components, update: PropertyUpdate { live, ..PropertyUpdate::default() } };
    let c = collections::create(&ctx.dav.store, user, None, &id, request).await?;
    Ok(json(StatusCode::CREATED, &calendar_json(&c, &user.name)))
}

#[utoipa::path(patch, path = "/api/v1/calendars/{id}", tag = "calendars", request_body = CalendarRequest,
    params(("id" = String, Path, description = "the calendar's URL segment")),
    responses((status = 200, body = CalendarJson), (status = 400, body = super::openapi::ProblemJson),
        (status = 404, body = super::openapi::ProblemJson), (status = 423, body = super::openapi::ProblemJson)))]
pub async fn patch(ctx: &ApiContext<'_>, user: &Principal, id: &str, headers: &http::HeaderMap, body: &[u8]) -> Reply {
    let c = calendar_of(ctx, user, id, Need::Own).await?;
    let req: CalendarRequest = reply::body(headers, body)?;
    if req.id.is_some() || req.components.is_some() {
        return Err(reply::bad_request("id and components are set when a calendar is made, not changed"));
    }
    let live = changes(&req)?;
    reply::unlocked(ctx.dav, user, &[Touch::Resource(key_in(user, &c, None))]).await?;
    let c = collections::patch(&ctx.dav.store, &c, PropertyUpdate { live, ..PropertyUpdate::default() }).await?;
    Ok(json(StatusCode::OK, &calendar_json(&c, &user.name)))
}

#[utoipa::path(delete, path = "/api/v1/calendars/{id}", tag = "calendars",
    params(("id" = String, Path, description = "the calendar's URL segment")),
    responses((status = 204), (status = 404, body = super::openapi::ProblemJson), (status = 423, body = super::openapi::ProblemJson)))]
pub async fn delete(ctx: &ApiContext<'_>, user: &Principal, id: &str) -> Reply {
    let c = calendar_of(ctx, user, id, Need::Own).await?;
    let key = key_in(user, &c, None);
    reply::unlocked(ctx.dav, user, &[Touch::Resource(key.parent()), Touch::Tree(key.clone())]).await?;
    match collections::delete(&ctx.dav.store, &c).await {
        Ok(()) => {
            crate::dav::lock::forget(ctx.dav, &key).await.map_err(|e| reply::problem(StatusCode::INTERNAL_SERVER_ERROR, "Internal error", &e.to_string()))?;
            Ok(no_content())
        }
        Err(ServiceError::NotFound) => Err(reply::not_found("the calendar is gone")),
        Err(e) => Err(e.into()),
    }
}
