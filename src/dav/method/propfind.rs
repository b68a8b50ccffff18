//! PROPFIND (RFC 4918 §9.1): Depth 0 or 1; `prop`, `allprop` (+ include) and `propname`.
//! The engine seeds each requested name as missing and asks the providers only for those.

use http::StatusCode;

use crate::dav::header::{DavHeaders, Depth};
use crate::dav::locate::{Located, locate};
use crate::dav::multistatus::{Multistatus, PropResult};
use crate::dav::property::Live;
use crate::dav::props::{ObjectView, PropCtx, Res, SchedPaths, Value, value};
use crate::dav::request::{PropSelection, parse_propfind};
use crate::dav::resource::Target;
use crate::dav::xml::{self, Element, QName};
use crate::dav::{Condition, DavContext, DavError, DavResponse, DavResult};
use crate::service::shares::can_read;
use crate::service::{self, Principal};
use crate::store::{
    Collection, CollectionKind, CollectionStore, DeadProp, Lock, LockStore, ObjectMeta, ObjectStore, Share, ShareStore,
    UserStore,
};

pub async fn handle(
    ctx: &DavContext,
    user: &Principal,
    target: &Target,
    headers: &DavHeaders,
    body: &[u8],
) -> DavResult<DavResponse> {
    // RFC 4918 §9.1: no Depth header means infinity, which this server does not do.
    let depth = headers.depth.unwrap_or(Depth::Infinity);
    if depth == Depth::Infinity {
        return Err(DavError::condition(StatusCode::FORBIDDEN, Condition::PropfindFiniteDepth));
    }
    let selection = parse_propfind(body)?;
    let located = locate(ctx, user, target).await?;
    if !located.exists() {
        return Err(DavError::NotFound);
    }
    let pctx = PropCtx {
        used_bytes: used_bytes_if_asked(ctx, user, &selection).await?,
        sched: sched_paths_if_asked(ctx, user, &selection).await?,
        invites: invites_if_asked(ctx, user, &located, &selection).await?,
        locks: locks_if_asked(ctx, user, &located, &selection).await?,
        ..PropCtx::plain(ctx, user)
    };
    let mut ms = Multistatus::new();
    let href = self_href(ctx, user, &located);
    write_located(&pctx, &mut ms, &href, &located, &selection).await?;
    if depth == Depth::One {
        write_children(&pctx, &mut ms, &located, &selection).await?;
    }
    Ok(ms.finish())
}

/// The canonical href of a located resource (collections always with a trailing slash).
pub fn self_href(ctx: &DavContext, user: &Principal, located: &Located) -> String {
    let paths = &ctx.paths;
    match located {
        Located::Root => paths.root(),
        Located::PrincipalsRoot => paths.principals(),
        Located::CalendarsRoot => paths.calendars(),
        Located::Principal => paths.principal(&user.name),
        Located::Home => paths.home(&user.name),
        Located::Collection(c) => paths.collection(&user.name, &c.path),
        Located::Object(c, m) => paths.object(&user.name, &c.path, &m.name),
        Located::Missing { .. } | Located::MissingParent => String::new(),
    }
}

async fn write_located(
    pctx: &PropCtx<'_>,
    ms: &mut Multistatus,
    href: &str,
    located: &Located,
    sel: &PropSelection,
) -> DavResult<()> {
    let Some(res) = res_of(pctx.user, located) else {
        return Ok(());
    };
    let dead = dead_props_if_asked(pctx.dav, located, sel).await?;
    let mut results = results_for(pctx, res, sel, &dead);
    if let Located::Collection(c) = located
        && c.kind == CollectionKind::Calendar
        && c.share.as_ref().is_none_or(|g| can_read(g.access))
        && names(sel, &Live::GetContentLength.name())
    {
        // RFC 4918 §15.4: the Content-Length a GET returns, here the calendar's export. It
        // costs the whole export, so only a request naming the property pays it.
        let len = export_len(pctx.dav, c).await?;
        for r in &mut results {
            if matches!(r, PropResult::Status(n, StatusCode::NOT_FOUND, _) if *n == Live::GetContentLength.name()) {
                *r = PropResult::Found(Live::GetContentLength.name(), Value::Text(len.to_string()));
            }
        }
    }
    ms.props(href, &results);
    Ok(())
}

/// Whether the selection names `name` (as a prop or an allprop include).
fn names(sel: &PropSelection, name: &QName) -> bool {
    match sel {
        PropSelection::Prop(names) | PropSelection::AllProp { include: names } => names.contains(name),
        PropSelection::PropName => false,
    }
}

async fn export_len(ctx: &DavContext, c: &Collection) -> DavResult<usize> {
    let _permit = ctx.listing_permit().await?;
    Ok(super::get::export(ctx, c).await?.len())
}

/// The property provider's view of a located resource; `None` for nothing there.
pub fn res_of<'a>(user: &'a Principal, located: &'a Located) -> Option<Res<'a>> {
    Some(match located {
        Located::Root => Res::Root,
        Located::PrincipalsRoot => Res::PrincipalsRoot,
        Located::CalendarsRoot => Res::CalendarsRoot,
        Located::Principal => Res::Principal(user),
        Located::Home => Res::Home(user),
        Located::Collection(c) => Res::Collection(c),
        Located::Object(c, m) => Res::Object(c, ObjectView::of(m)),
        Located::Missing { .. } | Located::MissingParent => return None,
    })
}

async fn write_children(
    pctx: &PropCtx<'_>,
    ms: &mut Multistatus,
    located: &Located,
    sel: &PropSelection,
) -> DavResult<()> {
    let (store, paths, user) = (&pctx.dav.store, &pctx.dav.paths, pctx.user);
    match located {
        Located::Root => {
            write_located(pctx, ms, &paths.principals(), &Located::PrincipalsRoot, sel).await?;
            write_located(pctx, ms, &paths.calendars(), &Located::CalendarsRoot, sel).await?;
        }
        Located::PrincipalsRoot => {
            write_located(pctx, ms, &paths.principal(&user.name), &Located::Principal, sel).await?;
        }
        Located::CalendarsRoot => {
            write_located(pctx, ms, &paths.home(&user.name), &Located::Home, sel).await?;
        }
        Located::Home => {
            // The user's own calendars, then those shared with them (decision 0023): Apple's
            // single home-set, DAVx5's and Thunderbird's home listing all find them here. A
            // free-busy share is not listed: clients would show an empty calendar they
            // cannot read.
            let shared = store.shared_views(user.id).await?.into_iter().filter(|c| c.share.as_ref().is_some_and(|g| can_read(g.access)));
            for c in store.child_collections(user.id, None).await?.into_iter().chain(shared) {
                let href = paths.collection(&user.name, &c.path);
                write_located(pctx, ms, &href, &Located::Collection(c), sel).await?;
            }
        }
        // A free-busy sharee sees the calendar's properties, none of its members.
        Located::Collection(parent) if parent.share.as_ref().is_some_and(|g| !can_read(g.access)) => {}
        Located::Collection(parent) => {
            for c in store.child_collections(user.id, Some(parent.id)).await? {
                let href = paths.collection(&user.name, &c.path);
                write_located(pctx, ms, &href, &Located::Collection(c), sel).await?;
            }
            write_members(pctx, ms, parent, sel).await?;
        }
        _ => {}
    }
    Ok(())
}

/// The members of a collection: the hot path of a Depth-1 listing. Without dead properties each
/// member is written as the store reads it (no per-member query, and never all members held at
/// once); with them, each member's dead properties are one more query.
async fn write_members(pctx: &PropCtx<'_>, ms: &mut Multistatus, parent: &Collection, sel: &PropSelection) -> DavResult<()> {
    let (store, paths, user) = (&pctx.dav.store, &pctx.dav.paths, pctx.user);
    let _permit = pctx.dav.listing_permit().await?;
    if needs_dead(sel) {
        let members: Vec<ObjectMeta> = store.list_objects(parent.id).await?;
        let count = members.len();
        for (i, meta) in members.into_iter().enumerate() {
            let dead = parse_dead(store.object_dead_props(meta.id).await?);
            let href = paths.object(&user.name, &parent.path, &meta.name);
            let res = Res::Object(parent, ObjectView::of(&meta));
            ms.listed_props(i, count, &href, &results_for(pctx, res, sel, &dead));
        }
        return Ok(());
    }
    // Only sizes the document: a write landing in between makes it a little off, not wrong.
    let count = store.member_count(parent.id).await?;
    let mut i = 0;
    store
        .list_members(parent.id, &mut |member| {
            let href = paths.object(&user.name, &parent.path, &member.name);
            let res = Res::Object(parent, ObjectView::listed(&member));
            ms.listed_props(i, count, &href, &results_for(pctx, res, sel, &[]));
            i += 1;
            Ok(())
        })
        .await?;
    Ok(())
}

/// The property results for one resource under a selection.
pub fn results_for(pctx: &PropCtx<'_>, res: Res<'_>, sel: &PropSelection, dead: &[Element]) -> Vec<PropResult> {
    match sel {
        PropSelection::Prop(names) => names.iter().map(|name| one(pctx, res, name, dead)).collect(),
        PropSelection::AllProp { include } => {
            let mut out: Vec<PropResult> = Live::ALLPROP
                .iter()
                .filter_map(|live| value(pctx, res, *live).map(|v| PropResult::Found(live.name(), v)))
                .collect();
            out.extend(dead.iter().map(|e| PropResult::Found(e.name.clone(), Value::Dead(e.clone()))));
            for name in include {
                if !out.iter().any(|r| matches!(r, PropResult::Found(n, _) if n == name)) {
                    out.push(one(pctx, res, name, dead));
                }
            }
            out
        }
        PropSelection::PropName => {
            let mut out: Vec<PropResult> = Live::all()
                .filter(|live| *live != Live::CalendarData && value(pctx, res, *live).is_some())
                .map(|live| PropResult::Name(live.name()))
                .collect();
            out.extend(dead.iter().map(|e| PropResult::Name(e.name.clone())));
            out
        }
    }
}

fn one(pctx: &PropCtx<'_>, res: Res<'_>, name: &QName, dead: &[Element]) -> PropResult {
    let found = match Live::from_name(name) {
        Some(live) => value(pctx, res, live),
        None => dead.iter().find(|e| &e.name == name).map(|e| Value::Dead(e.clone())),
    };
    match found {
        Some(v) => PropResult::Found(name.clone(), v),
        None => PropResult::Status(name.clone(), StatusCode::NOT_FOUND, None),
    }
}


fn needs_dead(sel: &PropSelection) -> bool {
    match sel {
        PropSelection::AllProp { .. } | PropSelection::PropName => true,
        PropSelection::Prop(names) => names.iter().any(|n| Live::from_name(n).is_none()),
    }
}

fn needs_quota(sel: &PropSelection) -> bool {
    match sel {
        PropSelection::Prop(names) | PropSelection::AllProp { include: names } => names
            .iter()
            .any(|n| matches!(Live::from_name(n), Some(Live::QuotaUsedBytes | Live::QuotaAvailableBytes))),
        PropSelection::PropName => false,
    }
}

/// The user's scheduling collections' hrefs, when the selection names one of their properties.
pub async fn sched_paths_if_asked(ctx: &DavContext, user: &Principal, sel: &PropSelection) -> DavResult<Option<SchedPaths>> {
    let asked = [Live::ScheduleInboxUrl, Live::ScheduleOutboxUrl, Live::ScheduleDefaultCalendarUrl]
        .iter()
        .any(|live| names(sel, &live.name()));
    if !asked {
        return Ok(None);
    }
    let boxes = service::scheduling::boxes(&ctx.store, user).await?;
    let href = |c: &Collection| ctx.paths.collection(&user.name, &c.path);
    Ok(Some(SchedPaths {
        inbox: boxes.inbox.as_ref().map(href),
        outbox: boxes.outbox.as_ref().map(href),
        default_calendar: boxes.default_calendar.as_ref().map(href),
    }))
}

/// The shares of the user's calendars, when the selection names `CS:invite`, or the resource
/// type on the home or one of the user's own collections (`CS:shared-owner`): one query per
/// request, never one per member.
pub async fn invites_if_asked(ctx: &DavContext, user: &Principal, located: &Located, sel: &PropSelection) -> DavResult<Option<Vec<Share>>> {
    let own = match located {
        Located::Home => true,
        Located::Collection(c) => c.share.is_none(),
        _ => false,
    };
    let types = names(sel, &Live::ResourceType.name()) || matches!(sel, PropSelection::AllProp { .. });
    if names(sel, &Live::Invite.name()) || (types && own) {
        Ok(Some(ctx.store.shares_by_owner(user.id).await?))
    } else {
        Ok(None)
    }
}

/// The unexpired locks of the user's home and, for a shared calendar, of its owner's, when
/// the selection names `DAV:lockdiscovery` (allprop does, RFC 4918 §9.1, and propname lists it).
async fn locks_if_asked(ctx: &DavContext, user: &Principal, located: &Located, sel: &PropSelection) -> DavResult<Option<Vec<Lock>>> {
    if !(names(sel, &Live::LockDiscovery.name()) || matches!(sel, PropSelection::AllProp { .. } | PropSelection::PropName)) {
        return Ok(None);
    }
    let now = ctx.clock.now();
    let mut locks = ctx.store.locks_in(user.id, now).await?;
    if let Located::Collection(c) | Located::Object(c, _) = located
        && c.owner != user.id
    {
        locks.extend(ctx.store.locks_in(c.owner, now).await?);
    }
    Ok(Some(locks))
}

pub async fn used_bytes_if_asked(ctx: &DavContext, user: &Principal, sel: &PropSelection) -> DavResult<Option<i64>> {
    if needs_quota(sel) { Ok(Some(ctx.store.used_bytes(user.id).await?)) } else { Ok(None) }
}

async fn dead_props_if_asked(ctx: &DavContext, located: &Located, sel: &PropSelection) -> DavResult<Vec<Element>> {
    if !needs_dead(sel) {
        return Ok(Vec::new());
    }
    let stored = match located {
        Located::Collection(c) => ctx.store.collection_dead_props(c.id).await?,
        Located::Object(_, m) => ctx.store.object_dead_props(m.id).await?,
        _ => Vec::new(),
    };
    Ok(parse_dead(stored))
}

/// Stored dead properties back into elements; one that no longer parses is skipped and logged
/// rather than failing the whole listing.
pub fn parse_dead(stored: Vec<DeadProp>) -> Vec<Element> {
    stored
        .into_iter()
        .filter_map(|d| match xml::parse(d.xml.as_bytes()) {
            Ok(e) => Some(e),
            Err(e) => {
                tracing::warn!(namespace = %d.namespace, name = %d.name, error = %e, "unreadable dead property");
                None
            }
        })
        .collect()
}
