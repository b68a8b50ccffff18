//! PROPPATCH (RFC 4918 §9.2): all instructions succeed or none do; a refused property gets its
//! status (403 with cannot-modify-protected-property, 409 for a bad value) and every other one
//! 424 Failed Dependency.

use http::StatusCode;

use crate::dav::header::DavHeaders;
use crate::dav::access::{Privilege, require};
use crate::dav::lock::{self, Touch};
use crate::dav::locate::{Located, locate};
use crate::dav::method::propfind::self_href;
use crate::dav::multistatus::{Multistatus, PropResult};
use crate::dav::property::Live;
use crate::dav::props::Value;
use crate::dav::request::{PatchOp, parse_proppatch};
use crate::dav::resource::Target;
use crate::dav::xml::{CALDAV, Element, QName};
use crate::dav::{Condition, DavContext, DavError, DavResponse, DavResult};
use crate::service::collections::{LiveChange, PropertyUpdate, check};
use crate::service::{self, Principal};
use crate::store::{CollectionKind, ComponentSet, DeadProp, ObjectStore};

/// What setting one property element means.
#[derive(Debug)]
pub enum SetOp {
    Live(LiveChange),
    /// Only at creation (MKCALENDAR / extended MKCOL).
    Components(ComponentSet),
    ResourceType(Vec<QName>),
    Dead(DeadProp),
    /// RFC 6638 §9.2: an href the handler resolves to one of the user's calendars.
    DefaultCalendar(String),
    /// A value the target refuses with this precondition.
    Invalid(Condition),
    /// A live property clients may not set.
    Protected,
}

/// Interprets a property element being set.
pub fn classify_set(e: &Element) -> SetOp {
    let text = || Some(e.text());
    match Live::from_name(&e.name) {
        Some(Live::DisplayName) => SetOp::Live(LiveChange::DisplayName(text())),
        Some(Live::CalendarDescription) => SetOp::Live(LiveChange::Description(text())),
        Some(Live::CalendarTimezone) => SetOp::Live(LiveChange::Timezone(text())),
        Some(Live::CalendarColor) => SetOp::Live(LiveChange::Color(Some(e.text().trim().to_owned()))),
        Some(Live::CalendarOrder) => SetOp::Live(LiveChange::Order(Some(e.text().trim().to_owned()))),
        Some(Live::SupportedCalendarComponentSet) => {
            let mut set = ComponentSet(0);
            for comp in e.children().filter(|c| c.name.is(CALDAV, "comp")) {
                let name = comp.attrs.iter().find(|(n, _)| n.ns.is_empty() && n.local == "name");
                match name.and_then(|(_, v)| crate::store::ComponentKind::parse(v)) {
                    Some(kind) => set.0 |= kind.bit(),
                    None => return SetOp::Protected,
                }
            }
            SetOp::Components(set)
        }
        Some(Live::ResourceType) => SetOp::ResourceType(e.children().map(|c| c.name.clone()).collect()),
        // RFC 6638 §9.1: <C:opaque/> or <C:transparent/>.
        Some(Live::ScheduleCalendarTransp) => match e.children().next() {
            Some(c) if c.name.is(CALDAV, "transparent") => SetOp::Live(LiveChange::Transparent(true)),
            Some(c) if c.name.is(CALDAV, "opaque") => SetOp::Live(LiveChange::Transparent(false)),
            _ => SetOp::Protected,
        },
        Some(Live::ScheduleDefaultCalendarUrl) => match e.child(crate::dav::xml::DAV, "href") {
            Some(href) => SetOp::DefaultCalendar(href.text().trim().to_owned()),
            None => SetOp::Protected,
        },
        Some(_) => SetOp::Protected,
        None => SetOp::Dead(dead_prop(e)),
    }
}

fn dead_prop(e: &Element) -> DeadProp {
    DeadProp { namespace: e.name.ns.to_string(), name: e.name.local.to_string(), xml: e.to_xml() }
}

fn remove_live(live: Live) -> Option<LiveChange> {
    match live {
        Live::DisplayName => Some(LiveChange::DisplayName(None)),
        Live::CalendarDescription => Some(LiveChange::Description(None)),
        Live::CalendarTimezone => Some(LiveChange::Timezone(None)),
        Live::CalendarColor => Some(LiveChange::Color(None)),
        Live::CalendarOrder => Some(LiveChange::Order(None)),
        Live::ScheduleCalendarTransp => Some(LiveChange::Transparent(false)),
        Live::ScheduleDefaultCalendarUrl => Some(LiveChange::DefaultCalendar(None)),
        _ => None,
    }
}

/// Per-property outcome while checking, before anything is written.
struct Checked {
    name: QName,
    refusal: Option<(StatusCode, Option<Condition>)>,
}

pub async fn handle(
    ctx: &DavContext,
    user: &Principal,
    target: &Target,
    headers: &DavHeaders,
    body: &[u8],
) -> DavResult<DavResponse> {
    let ops = parse_proppatch(body)?;
    let located = locate(ctx, user, target).await?;
    let calendars = resolve_default_calendars(ctx, user, &ops).await?;
    let (update, checked) = match &located {
        Located::Collection(c) => check_ops(&ops, Some(c.kind), &calendars),
        Located::Object(..) => check_ops(&ops, None, &calendars),
        Located::Missing { .. } | Located::MissingParent => return Err(DavError::NotFound),
        // Principals, homes and the fixed collections keep no writable properties.
        _ => check_ops(&ops, None, &calendars),
    };
    refuse_shared(ctx, user, &located, &update)?;
    // RFC 4918 §7.4: a locked resource's properties change only with its token (a sharee's
    // own per-user values are theirs, not the shared resource's).
    let shared_own_values = matches!(&located, Located::Collection(c) if c.share.is_some());
    if let Some(key) = lock::key(user, &located).filter(|_| !shared_own_values) {
        lock::check_write(ctx, user, headers, &located, &[Touch::Resource(key)]).await?;
    }
    let failed = checked.iter().any(|c| c.refusal.is_some());
    if !failed {
        match &located {
            // caldav-sharing §5.5.3: a sharee's own values, never the owner's.
            Located::Collection(c) if c.share.is_some() => {
                service::shares::set_per_user(&ctx.store, c, update.live).await?;
            }
            Located::Collection(c) => {
                service::collections::patch(&ctx.store, c, update).await?;
            }
            Located::Object(_, meta) => {
                ctx.store.patch_object_props(meta.id, update.set_dead, update.remove_dead).await?;
            }
            _ => {}
        }
    }
    let results: Vec<PropResult> = checked
        .into_iter()
        .map(|c| match (c.refusal, failed) {
            (Some((status, condition)), _) => PropResult::Status(c.name, status, condition),
            (None, true) => PropResult::Status(c.name, StatusCode::FAILED_DEPENDENCY, None),
            (None, false) => PropResult::Found(c.name, Value::Empty),
        })
        .collect();
    let mut ms = Multistatus::new();
    ms.props(&self_href(ctx, user, &located), &results);
    Ok(ms.finish())
}

/// Decision 0023: on a shared calendar a sharee sets only their own (per-user) properties;
/// the others, dead ones included, and the properties of its members stay the owner's
/// (RFC 3744 §7.1.1 need-privileges, for the whole request).
fn refuse_shared(ctx: &DavContext, user: &Principal, located: &Located, update: &PropertyUpdate) -> DavResult<()> {
    let (c, href) = match located {
        Located::Collection(c) if c.share.is_some() => (c, ctx.paths.collection(&user.name, &c.path)),
        Located::Object(c, meta) if c.share.is_some() => (c, ctx.paths.object(&user.name, &c.path, &meta.name)),
        _ => return Ok(()),
    };
    let own_only = matches!(located, Located::Collection(_))
        && update.live.iter().all(service::shares::is_per_user)
        && update.set_dead.is_empty()
        && update.remove_dead.is_empty();
    if own_only { Ok(()) } else { require(c, Privilege::WriteProperties, &href) }
}

/// Each schedule-default-calendar-URL href being set, and the calendar of the user's it names
/// (None: not one of their calendars that take events, RFC 6638 §9.2).
type DefaultCalendars = Vec<(String, Option<crate::store::CollectionId>)>;

async fn resolve_default_calendars(ctx: &DavContext, user: &Principal, ops: &[PatchOp]) -> DavResult<DefaultCalendars> {
    let mut out = Vec::new();
    for op in ops {
        if let PatchOp::Set(e) = op
            && let SetOp::DefaultCalendar(href) = classify_set(e)
        {
            let found = match locate(ctx, user, &ctx.paths.parse(&href)).await {
                // Invitations land in one of the user's own calendars, not in a share.
                Ok(Located::Collection(c))
                    if c.kind == crate::store::CollectionKind::Calendar
                        && c.share.is_none()
                        && c.props.components.contains(ComponentSet::VEVENT) =>
                {
                    Some(c.id)
                }
                Ok(_) | Err(DavError::Forbidden | DavError::NotFound) => None,
                Err(e) => return Err(e),
            };
            out.push((href, found));
        }
    }
    Ok(out)
}

/// RFC 4918 §9.2: instructions apply in document order, so the update keeps only each dead
/// property's last instruction. The sets and removals it hands the store are then disjoint,
/// and the order the store applies them in cannot matter.
fn set_dead(update: &mut PropertyUpdate, dead: DeadProp) {
    update.remove_dead.retain(|(ns, name)| !(*ns == dead.namespace && *name == dead.name));
    update.set_dead.retain(|d| !(d.namespace == dead.namespace && d.name == dead.name));
    update.set_dead.push(dead);
}

fn remove_dead(update: &mut PropertyUpdate, namespace: String, name: String) {
    update.set_dead.retain(|d| !(d.namespace == namespace && d.name == name));
    update.remove_dead.retain(|(ns, n)| !(*ns == namespace && *n == name));
    update.remove_dead.push((namespace, name));
}

/// Checks every instruction; `kind` is the target collection's (None: an object or another
/// resource, which keep dead properties only, or none).
fn check_ops(ops: &[PatchOp], kind: Option<CollectionKind>, calendars: &DefaultCalendars) -> (PropertyUpdate, Vec<Checked>) {
    let mut update = PropertyUpdate::default();
    let mut checked = Vec::new();
    let protected = Some((StatusCode::FORBIDDEN, Some(Condition::CannotModifyProtectedProperty)));
    let live_ok = |change: &LiveChange| kind.is_some_and(|k| change.applies_to(k));
    for op in ops {
        let (name, refusal) = match op {
            PatchOp::Set(e) => {
                let op = match classify_set(e) {
                    SetOp::DefaultCalendar(href) => match calendars.iter().find(|(h, _)| *h == href) {
                        Some((_, Some(id))) => SetOp::Live(LiveChange::DefaultCalendar(Some(*id))),
                        // RFC 6638 §9.2 precondition.
                        _ => SetOp::Invalid(Condition::ValidScheduleDefaultCalendarUrl),
                    },
                    other => other,
                };
                let refusal = match op {
                    SetOp::Invalid(condition) if kind == Some(CollectionKind::Inbox) => {
                        Some((StatusCode::FORBIDDEN, Some(condition)))
                    }
                    SetOp::Live(change) if live_ok(&change) => match check(&change) {
                        Ok(()) => {
                            update.live.push(change);
                            None
                        }
                        Err(reason) => {
                            tracing::debug!(property = %e.name.local, %reason, "PROPPATCH value refused");
                            Some((StatusCode::CONFLICT, None))
                        }
                    },
                    SetOp::Dead(dead) => {
                        set_dead(&mut update, dead);
                        None
                    }
                    _ => protected.clone(),
                };
                (e.name.clone(), refusal)
            }
            PatchOp::Remove(name) => {
                let refusal = match Live::from_name(name) {
                    Some(live) => match remove_live(live) {
                        Some(change) if live_ok(&change) => {
                            update.live.push(change);
                            None
                        }
                        _ => protected.clone(),
                    },
                    None => {
                        remove_dead(&mut update, name.ns.to_string(), name.local.to_string());
                        None
                    }
                };
                (name.clone(), refusal)
            }
        };
        checked.push(Checked { name, refusal });
    }
    (update, checked)
}


#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn dead_properties_follow_document_order() {
        let body = br#"<propertyupdate xmlns="DAV:" xmlns:x="urn:x"><remove><prop><x:a/></prop></remove><set><prop><x:a>1</x:a></prop></set><set><prop><x:a>2</x:a><x:b>3</x:b></prop></set><remove><prop><x:b/></prop></remove></propertyupdate>"#;
        let ops = parse_proppatch(body).unwrap();
        let (update, checked) = check_ops(&ops, Some(CollectionKind::Calendar), &Vec::new());
        assert!(checked.iter().all(|c| c.refusal.is_none()));
        // a: removed, then set twice: the last value stays. b: set, then removed.
        let set: Vec<(&str, &str)> = update.set_dead.iter().map(|d| (d.name.as_str(), d.xml.as_str())).collect();
        assert_eq!(set.len(), 1);
        assert_eq!(set[0].0, "a");
        assert!(set[0].1.contains(">2<"), "{}", set[0].1);
        assert_eq!(update.remove_dead, vec![("urn:x".to_owned(), "b".to_owned())]);
    }
}
