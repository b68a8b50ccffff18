//! REPORT: calendar-query (RFC 4791 §7.8), calendar-multiget (§7.9) and sync-collection
//! (RFC 6578 §3). Unsupported
//! reports answer 403 with DAV:supported-report (RFC 3253 §3.6).

use http::StatusCode;

use crate::dav::header::{DavHeaders, Depth};
use crate::dav::method::principal_search;
use crate::dav::access::{Privilege, require};
use crate::dav::locate::{Located, locate, locate_sync_delta};
use crate::dav::method::propfind::{results_for, used_bytes_if_asked};
use crate::dav::multistatus::Multistatus;
use crate::dav::property::Live;
use crate::dav::props::{ObjectView, PropCtx, Res, parse_sync_token, sync_token, token_parts};
use crate::dav::request::{PropSelection, ReportBody, parse_report};
use crate::dav::resource::Target;
use crate::dav::{Condition, DavContext, DavError, DavResponse, DavResult};
use crate::service::Principal;
use crate::calendar::data::{DataRequest, render};
use crate::calendar::filter::{CompFilter, TimeRange};
use crate::dav::request::calendar_data::{DataError, parse_calendar_data};
use crate::dav::xml::CALDAV;
use crate::calendar::parse_calendar_timezone;
use crate::calendar::tz::parse_query_timezone;
use crate::calendar::query::{QueryContext, QueryError, object_matches_with};
use crate::dav::request::query::{FilterError, parse_filter};
use crate::dav::xml::Element;
use crate::store::{Candidate, Collection, CollectionKind, CollectionStore, ComponentKind, MemberData, ObjectStore, StoreError, StoredObject, SyncDelta, SyncStore};

pub async fn handle(
    ctx: &DavContext,
    user: &Principal,
    target: &Target,
    headers: &DavHeaders,
    body: &[u8],
) -> DavResult<DavResponse> {
    let report = parse_report(body)?;
    if principal_search::applies_to(target, user) {
        match &report {
            ReportBody::PrincipalPropertySearch { searches, any_of, props } => {
                return principal_search::property_search(ctx, user, headers, searches, *any_of, props);
            }
            ReportBody::PrincipalSearchPropertySet => return principal_search::search_property_set(headers),
            _ => {}
        }
    }
    if let ReportBody::ExpandProperty(root) = &report {
        return super::expand_property::handle(ctx, user, target, headers, root).await;
    }
    let data = data_request(&report)?;
    if let ReportBody::SyncCollection { token: Some(token), limit, props, .. } = &report
        && let Some(response) = sync_in_one_lookup(ctx, user, target, token, *limit, props, &data).await?
    {
        return Ok(response);
    }
    let located = locate(ctx, user, target).await?;
    let (collection, only) = match located {
        Located::Collection(c) => (c, None),
        // RFC 4791 §7.8, §7.9: the Request-URI may be a calendar object resource.
        Located::Object(c, meta) if c.kind == CollectionKind::Calendar && is_object_report(&report) => (c, Some(meta.name)),
        Located::Home if matches!(report, ReportBody::CalendarQuery { .. }) => {
            return home_query(ctx, user, headers, report, data).await;
        }
        Located::Missing { .. } | Located::MissingParent => return Err(DavError::NotFound),
        _ => return Err(DavError::condition(StatusCode::FORBIDDEN, Condition::SupportedReport)),
    };
    // Decision 0023: a sharee reads a shared calendar as the owner does, if their access lets
    // them read; every access answers free-busy-query (RFC 4791 §6.1.1 read-free-busy).
    let needed = if matches!(report, ReportBody::FreeBusyQuery { .. }) { Privilege::ReadFreeBusy } else { Privilege::Read };
    require(&collection, needed, &ctx.paths.collection(&user.name, &collection.path))?;
    let only = only.as_deref();
    match report {
        ReportBody::CalendarMultiget { props, hrefs, .. } => {
            let out = Output { props: &props, data, zone: query_zone(&collection, None)? };
            multiget(ctx, user, &collection, only, &out, &hrefs).await
        }
        ReportBody::SyncCollection { token, limit, props, .. } => {
            let out = Output { props: &props, data, zone: query_zone(&collection, None)? };
            sync_collection(ctx, user, &collection, token.as_deref(), limit, &out).await
        }
        ReportBody::CalendarQuery { props, filter, timezone, .. } => {
            let out = Output { props: &props, data, zone: query_zone(&collection, timezone.as_deref())? };
            let filter = query_filter(&filter)?;
            let mut ms = Multistatus::new();
            calendar_query(ctx, user, &collection, only, &out, &filter, &mut ms).await?;
            Ok(ms.finish())
        }
        ReportBody::FreeBusyQuery { start, end } => {
            super::freebusy::free_busy_query(ctx, &collection, &start, &end).await
        }
        _ => Err(DavError::condition(StatusCode::FORBIDDEN, Condition::SupportedReport)),
    }
}

/// The reports a calendar object resource answers (its supported-report-set says the same).
fn is_object_report(report: &ReportBody) -> bool {
    matches!(report, ReportBody::CalendarMultiget { .. } | ReportBody::CalendarQuery { .. })
}

/// RFC 4791 §7.8: a calendar-query on the calendar home searches the calendars below it, the
/// direct ones with Depth: 1, all of them with Depth: infinity. Depth: 0, the default for a
/// REPORT (RFC 3253 §3.6), asks about the home alone, which holds no calendar data.
async fn home_query(
    ctx: &DavContext,
    user: &Principal,
    headers: &DavHeaders,
    report: ReportBody,
    data: DataRequest,
) -> DavResult<DavResponse> {
    let ReportBody::CalendarQuery { props, filter, timezone, .. } = report else {
        return Err(DavError::condition(StatusCode::FORBIDDEN, Condition::SupportedReport));
    };
    let filter = query_filter(&filter)?;
    let deep = match headers.depth {
        Some(Depth::Zero) | None => return Ok(Multistatus::new().finish()),
        Some(Depth::One) => false,
        Some(Depth::Infinity) => true,
    };
    let mut ms = Multistatus::new();
    let mut parents = vec![None];
    while let Some(parent) = parents.pop() {
        for c in ctx.store.child_collections(user.id, parent).await? {
            if deep {
                parents.push(Some(c.id));
            }
            if c.kind == CollectionKind::Calendar {
                let out = Output { props: &props, data: data.clone(), zone: query_zone(&c, timezone.as_deref())? };
                calendar_query(ctx, user, &c, None, &out, &filter, &mut ms).await?;
            }
        }
    }
    Ok(ms.finish())
}

/// What each matching object's response carries: the requested properties, calendar-data as
/// its options ask (RFC 4791 §9.6), floating times read in `zone` (§7.3).
struct Output<'a> {
    props: &'a PropSelection,
    data: DataRequest,
    zone: chrono_tz::Tz,
}

/// The CALDAV:calendar-data options of the report's DAV:prop, if it asks for calendar data.
fn data_request(report: &ReportBody) -> DavResult<DataRequest> {
    let Some(element) = report.requested_prop(CALDAV, "calendar-data") else {
        return Ok(DataRequest::default());
    };
    parse_calendar_data(element).map_err(|e| match e {
        // RFC 4791 §7.8 and §7.9 preconditions.
        DataError::UnsupportedType(reason) => DavError::forbidden(Condition::SupportedCalendarData, reason),
        DataError::Invalid(reason) => DavError::BadRequest(reason),
    })
}

/// `only`: the Request-URI is that object, and only hrefs naming it are answered with it.
async fn multiget(
    ctx: &DavContext,
    user: &Principal,
    collection: &Collection,
    only: Option<&str>,
    out: &Output<'_>,
    hrefs: &[String],
) -> DavResult<DavResponse> {
    let props = out.props;
    // Hrefs naming members of this collection are fetched in one query; any other href is
    // answered 404 (RFC 4791 §7.9: each missing href gets its own response).
    let members: Vec<Option<String>> = hrefs
        .iter()
        .map(|h| member_name(ctx, user, collection, h).filter(|name| only.is_none_or(|o| o == name)))
        .collect();
    let names: Vec<String> = members.iter().flatten().cloned().collect();
    let objects = ctx.store.objects_by_names(collection.id, &names).await?;
    let pctx = PropCtx { used_bytes: used_bytes_if_asked(ctx, user, props).await?, ..PropCtx::plain(ctx, user) };
    let mut ms = Multistatus::new();
    for (href, member) in hrefs.iter().zip(&members) {
        // The store returns them ordered by name, each once.
        let found = member.as_ref().and_then(|name| {
            objects.binary_search_by(|o| o.member.name.as_str().cmp(name)).ok().map(|i| &objects[i])
        });
        match found {
            // The href exactly as sent: clients match responses to their requests by it.
            Some(o) => write_object_at(&pctx, &mut ms, href, collection, o.into(), out)?,
            None => ms.status(href, StatusCode::NOT_FOUND),
        }
    }
    Ok(ms.finish())
}

/// The member name an href points at, when it is directly inside `collection`.
fn member_name(ctx: &DavContext, user: &Principal, collection: &Collection, href: &str) -> Option<String> {
    match ctx.paths.parse(href) {
        Target::InHome { owner, mut segments, trailing_slash: false } if owner == user.name => {
            let name = segments.pop()?;
            (segments.join("/") == collection.path).then_some(name)
        }
        _ => None,
    }
}

/// What a report writes of one object: the sources of its properties and its bytes.
struct Reported<'a> {
    name: &'a str,
    /// Without calendar data, which the report renders as asked.
    view: ObjectView<'a>,
    calendar: bool,
    data: &'a [u8],
}

impl<'a> From<&'a StoredObject> for Reported<'a> {
    fn from(o: &'a StoredObject) -> Self {
        Reported { name: &o.meta.name, view: ObjectView::of(&o.meta), calendar: o.meta.calendar.is_some(), data: &o.data }
    }
}

impl<'a> From<&'a MemberData> for Reported<'a> {
    fn from(o: &'a MemberData) -> Self {
        Reported { name: &o.member.name, view: ObjectView::listed(&o.member), calendar: o.calendar, data: &o.data }
    }
}

fn write_object(pctx: &PropCtx<'_>, ms: &mut Multistatus, c: &Collection, o: Reported<'_>, out: &Output<'_>) -> DavResult<()> {
    let href = pctx.dav.paths.object(&pctx.user.name, &c.path, o.name);
    write_object_at(pctx, ms, &href, c, o, out)
}

fn write_object_at(
    pctx: &PropCtx<'_>,
    ms: &mut Multistatus,
    href: &str,
    c: &Collection,
    o: Reported<'_>,
    out: &Output<'_>,
) -> DavResult<()> {
    let qctx = QueryContext { zone: out.zone, max_instances: max_instances(pctx.dav) };
    let data = match render(o.data, &out.data, qctx) {
        Ok(data) => data,
        Err(QueryError::TooManyInstances) => return Err(too_many_instances()),
        Err(QueryError::Unsupported(reason)) => return Err(DavError::forbidden(Condition::SupportedFilter, reason)),
        Err(QueryError::Unreadable(reason)) => {
            // Validated on write, so this is older data: serve it as stored rather than fail
            // the whole report over one object.
            tracing::warn!(object = %o.name, %reason, "calendar-data options not applied");
            std::borrow::Cow::Borrowed(o.data)
        }
    };
    let res = Res::Object(c, ObjectView { calendar_data: o.calendar.then_some(&data[..]), ..o.view });
    ms.props(href, &results_for(pctx, res, out.props, &[]));
    Ok(())
}

fn max_instances(ctx: &DavContext) -> usize {
    usize::try_from(ctx.limits.max_instances).unwrap_or(usize::MAX)
}

fn too_many_instances() -> DavError {
    DavError::forbidden(Condition::MaxInstances, "the answer needs more instances than max-instances")
}

/// An incremental sync of the user's own collection, located with its delta in one store
/// lookup (`locate_sync_delta`); None when the target is not such a collection, for the
/// general path (`locate`, then `sync_collection`) to answer.
async fn sync_in_one_lookup(
    ctx: &DavContext,
    user: &Principal,
    target: &Target,
    token: &str,
    limit: Option<u32>,
    props: &PropSelection,
    data: &DataRequest,
) -> DavResult<Option<DavResponse>> {
    // A token not of our shape is invalid wherever it is sent; the general path says so.
    let Some(parts) = token_parts(token) else { return Ok(None) };
    let _permit = ctx.listing_permit().await?;
    let Some((collection, delta)) = locate_sync_delta(ctx, user, target, parts, sync_limit(limit)).await? else {
        return Ok(None);
    };
    require(&collection, Privilege::Read, &ctx.paths.collection(&user.name, &collection.path))?;
    let out = Output { props, data: data.clone(), zone: query_zone(&collection, None)? };
    let delta = delta.ok_or_else(invalid_sync_token)?;
    sync_answer(ctx, user, &collection, delta, &out).await.map(Some)
}

fn invalid_sync_token() -> DavError {
    DavError::condition(StatusCode::FORBIDDEN, Condition::ValidSyncToken)
}

fn sync_limit(limit: Option<u32>) -> Option<usize> {
    limit.map(|n| usize::try_from(n).unwrap_or(usize::MAX))
}

async fn sync_collection(
    ctx: &DavContext,
    user: &Principal,
    collection: &Collection,
    token: Option<&str>,
    limit: Option<u32>,
    out: &Output<'_>,
) -> DavResult<DavResponse> {
    let since = match token {
        None => None,
        Some(t) => Some(parse_sync_token(collection, t).ok_or_else(invalid_sync_token)?),
    };
    let _permit = ctx.listing_permit().await?;
    let delta = match ctx.store.changes_since(collection.id, since, sync_limit(limit)).await {
        Ok(d) => d,
        Err(StoreError::InvalidSyncToken) => return Err(invalid_sync_token()),
        Err(e) => return Err(e.into()),
    };
    sync_answer(ctx, user, collection, delta, out).await
}

/// RFC 6578 §3.5: the changed members with their properties, the removed ones as 404, and the
/// token that continues from here.
async fn sync_answer(ctx: &DavContext, user: &Principal, collection: &Collection, delta: SyncDelta, out: &Output<'_>) -> DavResult<DavResponse> {
    let props = out.props;
    let pctx = PropCtx { used_bytes: used_bytes_if_asked(ctx, user, props).await?, ..PropCtx::plain(ctx, user) };
    let mut ms = Multistatus::new();
    if wants_data(props) {
        let names: Vec<String> = delta.changed.iter().map(|m| m.name.clone()).collect();
        for o in ctx.store.objects_by_names(collection.id, &names).await? {
            write_object(&pctx, &mut ms, collection, (&o).into(), out)?;
        }
    } else {
        let count = delta.changed.len();
        for (i, meta) in delta.changed.iter().enumerate() {
            let href = ctx.paths.object(&user.name, &collection.path, &meta.name);
            ms.listed_props(i, count, &href, &results_for(&pctx, Res::Object(collection, ObjectView::of(meta)), props, &[]));
        }
    }
    for name in &delta.removed {
        ms.status(&ctx.paths.object(&user.name, &collection.path, name), StatusCode::NOT_FOUND);
    }
    if delta.truncated {
        // RFC 6578 §3.6: 507 on the request-URI; the token lets the client continue.
        ms.status(&ctx.paths.collection(&user.name, &collection.path), StatusCode::INSUFFICIENT_STORAGE);
    }
    ms.sync_token(&sync_token(collection, delta.seq));
    Ok(ms.finish())
}

fn query_filter(filter: &Element) -> DavResult<CompFilter> {
    parse_filter(filter).map_err(|e| match e {
        FilterError::UnsupportedCollation(c) => {
            DavError::forbidden(Condition::SupportedCollation, format!("unsupported collation {c:?}"))
        }
        FilterError::Invalid(reason) => DavError::forbidden(Condition::ValidFilter, reason),
    })
}

/// RFC 4791 §7.8: candidates come from the index (time range and component of the filter),
/// then each is evaluated exactly; with `only`, the one object the Request-URI names.
async fn calendar_query(
    ctx: &DavContext,
    user: &Principal,
    collection: &Collection,
    only: Option<&str>,
    out: &Output<'_>,
    filter: &CompFilter,
    ms: &mut Multistatus,
) -> DavResult<()> {
    let props = out.props;
    let qctx = QueryContext { zone: out.zone, max_instances: max_instances(ctx) };
    let candidates = match only {
        Some(name) => {
            let object = ctx.store.object(collection.id, name).await?;
            object.into_iter().map(|object| Candidate { object, timeline: None }).collect()
        }
        None => {
            let (component, range) = candidate_bounds(filter);
            let (start, end) = (range.and_then(|r| r.start), range.and_then(|r| r.end));
            ctx.store.objects_in_range(collection.id, component, start, end).await?
        }
    };
    let pctx = PropCtx { used_bytes: used_bytes_if_asked(ctx, user, props).await?, ..PropCtx::plain(ctx, user) };
    for Candidate { object, timeline } in &candidates {
        match object_matches_with(&object.data, timeline.as_ref(), filter, qctx) {
            Ok(true) => write_object(&pctx, ms, collection, object.into(), out)?,
            Ok(false) => {}
            Err(QueryError::TooManyInstances) => return Err(too_many_instances()),
            Err(QueryError::Unsupported(reason)) => return Err(DavError::forbidden(Condition::SupportedFilter, reason)),
            Err(QueryError::Unreadable(reason)) => {
                tracing::warn!(object = %object.meta.name, %reason, "stored object skipped by calendar-query");
            }
        }
    }
    Ok(())
}

/// RFC 4791 §7.3: floating times in the query's CALDAV:timezone, else the collection's
/// calendar-timezone, else UTC.
pub(super) fn query_zone(collection: &Collection, timezone: Option<&str>) -> DavResult<chrono_tz::Tz> {
    if let Some(text) = timezone {
        let tz = parse_query_timezone(text).map_err(|reason| DavError::forbidden(Condition::ValidCalendarData, reason))?;
        return Ok(tz.zone.unwrap_or(chrono_tz::UTC));
    }
    let stored = collection.props.timezone.as_deref().and_then(|t| parse_calendar_timezone(t).ok());
    Ok(stored.and_then(|tz| tz.zone).unwrap_or(chrono_tz::UTC))
}

/// The component kind and time range the index can narrow by: those of the single comp-filter
/// under VCALENDAR, when there is exactly one and it is not negated.
fn candidate_bounds(filter: &CompFilter) -> (Option<ComponentKind>, Option<TimeRange>) {
    match filter.comps.as_slice() {
        [only] if !only.is_not_defined => (ComponentKind::parse(&only.name), only.time_range),
        _ => (None, None),
    }
}

fn wants_data(props: &PropSelection) -> bool {
    matches!(props, PropSelection::Prop(names) if names.iter().any(|n| Live::from_name(n) == Some(Live::CalendarData)))
}
