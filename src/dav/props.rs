//! Property providers: for each kind of resource, the value of a live property, computed only
//! when asked (the PROPFIND engine seeds every requested name as missing and asks here).

use chrono::{DateTime, Utc};

use super::DavContext;
use super::property::Live;
use super::access::privilege_set;
use super::xml::{CALDAV, CS, DAV, Element, QName, XmlWriter};
use crate::calendar::ComponentSet;
use crate::service::Principal;
use crate::store::{Access, Collection, CollectionId, CollectionKind, ListedObject, ObjectMeta, Share};

/// A resource as the property providers see it.
#[derive(Debug, Clone, Copy)]
pub enum Res<'a> {
    Root,
    PrincipalsRoot,
    CalendarsRoot,
    Principal(&'a Principal),
    Home(&'a Principal),
    Collection(&'a Collection),
    /// An object in its collection.
    Object(&'a Collection, ObjectView<'a>),
}

/// What an object's live properties are made of, borrowed from a full `ObjectMeta` or from a
/// listing's narrower `ListedObject`.
#[derive(Debug, Clone, Copy)]
pub struct ObjectView<'a> {
    /// The object's name in its collection (its lock key, decision 0030).
    pub name: &'a str,
    pub etag: &'a str,
    pub content_type: &'a str,
    pub size: i64,
    pub created_at: i64,
    pub modified_at: i64,
    pub schedule_tag: Option<&'a str>,
    /// The object's calendar data, when the caller loaded it (REPORT calendar-data) and the
    /// object is a calendar object resource.
    pub calendar_data: Option<&'a [u8]>,
}

impl<'a> ObjectView<'a> {
    /// An object's view without its data; a report that loaded the data sets `calendar_data`.
    pub fn of(meta: &'a ObjectMeta) -> Self {
        ObjectView {
            name: &meta.name,
            etag: &meta.etag,
            content_type: &meta.content_type,
            size: meta.size,
            created_at: meta.created_at,
            modified_at: meta.modified_at,
            schedule_tag: meta.schedule_tag.as_deref(),
            calendar_data: None,
        }
    }

    /// A listed member; listings carry no calendar data.
    pub fn listed(member: &'a ListedObject) -> Self {
        ObjectView {
            name: &member.name,
            etag: &member.etag,
            content_type: &member.content_type,
            size: member.size,
            created_at: member.created_at,
            modified_at: member.modified_at,
            schedule_tag: member.schedule_tag.as_deref(),
            calendar_data: None,
        }
    }
}

/// Request-wide facts the providers may need, fetched once per request and only when asked.
pub struct PropCtx<'a> {
    pub dav: &'a DavContext,
    /// The authenticated user (who is also the owner of every resource they can reach).
    pub user: &'a Principal,
    /// Bytes the user stores, when quota properties were requested.
    pub used_bytes: Option<i64>,
    /// The user's scheduling collections, when a scheduling property was requested.
    pub sched: Option<SchedPaths>,
    /// The shares of the user's calendars, when `CS:invite` was requested, or the resource
    /// type of the home's or a collection's listing (`CS:shared-owner`).
    pub invites: Option<Vec<Share>>,
    /// The unexpired locks of the homes the request looks at, when `DAV:lockdiscovery` was
    /// requested (one query per home, never one per member).
    pub locks: Option<Vec<crate::store::Lock>>,
}

impl<'a> PropCtx<'a> {
    /// A context without the request-wide facts (quota, scheduling paths): their properties
    /// then answer 404.
    pub fn plain(dav: &'a DavContext, user: &'a Principal) -> Self {
        PropCtx { dav, user, used_bytes: None, sched: None, invites: None, locks: None }
    }
}

/// Hrefs of the user's scheduling collections (RFC 6638 §2.1.1, §2.2.1, §9.2).
#[derive(Debug, Clone, Default)]
pub struct SchedPaths {
    pub inbox: Option<String>,
    pub outbox: Option<String>,
    /// Where invitations land: the inbox's schedule-default-calendar-URL.
    pub default_calendar: Option<String>,
}

/// A computed property value; `write` emits it inside the property element.
#[derive(Debug, Clone)]
pub enum Value {
    Empty,
    Text(String),
    Href(String),
    Hrefs(Vec<String>),
    ResourceType(Vec<QName>),
    Reports(&'static [(&'static str, &'static str)]),
    Privileges(&'static [(&'static str, &'static str)]),
    Components(ComponentSet),
    CalendarDataTypes,
    /// A dead property: the stored element itself (written whole, name included).
    Dead(Element),
    /// calendarserver sharing.txt §5.1 CS:invite: one `CS:user` per sharee.
    Invite(Vec<InvitedUser>),
    /// RFC 4918 §15.8 lockdiscovery: the locks that apply to the resource.
    Locks(Vec<crate::dav::lock::ActiveLock>),
    /// RFC 4918 §15.10 supportedlock: exclusive and shared write locks.
    SupportedLock,
    /// RFC 3253 §3.8 expand-property: the resources an href-valued property names, each as a
    /// `<D:response>` with the nested properties asked for (`None`: not reachable, 404).
    Responses(Vec<(String, Option<Vec<crate::dav::multistatus::PropResult>>)>),
}

/// A sharee as `CS:invite` shows them.
#[derive(Debug, Clone)]
pub struct InvitedUser {
    /// A calendar user address: `mailto:` when the sharee has an email address, else their
    /// principal URL.
    pub href: String,
    pub common_name: String,
    pub read_write: bool,
}

const READ_PRIVS: &[(&str, &str)] = &[(DAV, "read"), (DAV, "read-current-user-privilege-set")];
const OWNER_PRIVS: &[(&str, &str)] = &[
    (DAV, "all"),
    (DAV, "read"),
    (DAV, "write"),
    (DAV, "write-properties"),
    (DAV, "write-content"),
    (DAV, "bind"),
    (DAV, "unbind"),
    (DAV, "read-acl"),
    (DAV, "read-current-user-privilege-set"),
    (CALDAV, "read-free-busy"),
];
// RFC 4791 §2: DAV:expand-property (RFC 3253 §3.8) on every resource.
const CALENDAR_REPORTS: &[(&str, &str)] = &[
    (CALDAV, "calendar-query"),
    (CALDAV, "calendar-multiget"),
    (CALDAV, "free-busy-query"),
    (DAV, "sync-collection"),
    (DAV, "expand-property"),
];
const PLAIN_REPORTS: &[(&str, &str)] = &[(DAV, "sync-collection"), (DAV, "expand-property")];
/// RFC 3744 §9.4, §9.5, served on the principal collection and what applies to it.
const PRINCIPAL_REPORTS: &[(&str, &str)] =
    &[(DAV, "principal-property-search"), (DAV, "principal-search-property-set"), (DAV, "expand-property")];
const OTHER_REPORTS: &[(&str, &str)] = &[(DAV, "expand-property")];
/// RFC 4791 §7.8, §7.9 on a calendar object resource.
const OBJECT_REPORTS: &[(&str, &str)] =
    &[(CALDAV, "calendar-query"), (CALDAV, "calendar-multiget"), (DAV, "expand-property")];
/// RFC 6638 §2.2: the inbox's messages are read like calendar data and synced.
const INBOX_REPORTS: &[(&str, &str)] = &[(CALDAV, "calendar-multiget"), (DAV, "sync-collection"), (DAV, "expand-property")];
/// RFC 6638 §6.1.1: the owner may have messages delivered to the inbox...
const INBOX_PRIVS: &[(&str, &str)] = &[
    (DAV, "all"),
    (DAV, "read"),
    (DAV, "write-properties"),
    (DAV, "unbind"),
    (DAV, "read-acl"),
    (DAV, "read-current-user-privilege-set"),
    (CALDAV, "schedule-deliver"),
    (CALDAV, "schedule-deliver-invite"),
    (CALDAV, "schedule-deliver-reply"),
    (CALDAV, "schedule-query-freebusy"),
];
/// ...and sends through the outbox (RFC 6638 §6.1.2).
const OUTBOX_PRIVS: &[(&str, &str)] = &[
    (DAV, "all"),
    (DAV, "read"),
    (DAV, "read-acl"),
    (DAV, "read-current-user-privilege-set"),
    (CALDAV, "schedule-send"),
    (CALDAV, "schedule-send-invite"),
    (CALDAV, "schedule-send-reply"),
    (CALDAV, "schedule-send-freebusy"),
];
/// RFC 4791 §7.8 on the calendar home: the calendars below it are searched.
const HOME_REPORTS: &[(&str, &str)] = &[(CALDAV, "calendar-query"), (DAV, "expand-property")];

/// The value of `live` on `res`, or None when the resource does not have that property.
pub fn value(ctx: &PropCtx<'_>, res: Res<'_>, live: Live) -> Option<Value> {
    let paths = &ctx.dav.paths;
    let limits = &ctx.dav.limits;
    let user = ctx.user;
    match live {
        Live::CurrentUserPrincipal => Some(Value::Href(paths.principal(&user.name))),
        Live::PrincipalCollectionSet => Some(Value::Href(paths.principals())),
        Live::ResourceType => Some(Value::ResourceType(resource_type(ctx, res))),
        Live::CurrentUserPrivilegeSet => Some(Value::Privileges(match res {
            // Decision 0023: what the sharee's access grants, on the calendar and its members.
            Res::Collection(c) | Res::Object(c, _) if let Some(grant) = &c.share => privilege_set(grant.access),
            Res::Root | Res::PrincipalsRoot | Res::CalendarsRoot => READ_PRIVS,
            Res::Collection(c) if c.kind == CollectionKind::Inbox => INBOX_PRIVS,
            Res::Collection(c) if c.kind == CollectionKind::Outbox => OUTBOX_PRIVS,
            _ => OWNER_PRIVS,
        })),
        Live::Owner => match res {
            Res::Root | Res::PrincipalsRoot | Res::CalendarsRoot => None,
            Res::Collection(c) | Res::Object(c, _) if let Some(grant) = &c.share => {
                Some(Value::Href(paths.principal(&grant.owner_name)))
            }
            _ => Some(Value::Href(paths.principal(&user.name))),
        },
        Live::SupportedReportSet => match res {
            Res::Collection(c) if c.kind == CollectionKind::Calendar => Some(Value::Reports(CALENDAR_REPORTS)),
            Res::Collection(c) if c.kind == CollectionKind::Inbox => Some(Value::Reports(INBOX_REPORTS)),
            Res::Collection(c) if c.kind == CollectionKind::Outbox => Some(Value::Reports(OTHER_REPORTS)),
            Res::Collection(_) => Some(Value::Reports(PLAIN_REPORTS)),
            Res::Root | Res::PrincipalsRoot | Res::Principal(_) => Some(Value::Reports(PRINCIPAL_REPORTS)),
            Res::Object(c, _) if c.kind == CollectionKind::Calendar => Some(Value::Reports(OBJECT_REPORTS)),
            Res::Home(_) => Some(Value::Reports(HOME_REPORTS)),
            _ => Some(Value::Reports(OTHER_REPORTS)),
        },
        // RFC 4918 §15.4: what GET answers; collections other than calendars answer an empty
        // body (a calendar's export length is filled in by PROPFIND when asked by name).
        Live::GetContentLength if matches!(res, Res::Root | Res::Principal(_) | Res::Home(_)) => Some(Value::Text("0".into())),
        Live::GetContentLength if matches!(res, Res::Collection(c) if c.kind != CollectionKind::Calendar) => {
            Some(Value::Text("0".into()))
        }
        // RFC 4918 §15.8, §15.10: what can be locked (collections and objects, decision 0030).
        Live::SupportedLock => matches!(res, Res::Collection(_) | Res::Object(..)).then_some(Value::SupportedLock),
        Live::LockDiscovery => lock_discovery(ctx, res),
        Live::QuotaUsedBytes => quota_target(res).then_some(()).and(ctx.used_bytes).map(|u| Value::Text(u.to_string())),
        Live::QuotaAvailableBytes => quota_target(res)
            .then_some(())
            .and(ctx.used_bytes)
            .map(|u| Value::Text((limits.quota_bytes - u).max(0).to_string())),
        _ => match res {
            Res::Principal(p) => principal_value(ctx, p, live),
            Res::Home(_) => None,
            Res::Collection(c) => collection_value(ctx, c, live),
            Res::Object(_, object) => object_value(&object, live),
            Res::Root | Res::PrincipalsRoot | Res::CalendarsRoot => None,
        },
    }
}

/// The locks that apply to a collection or an object, when the request loaded them.
fn lock_discovery(ctx: &PropCtx<'_>, res: Res<'_>) -> Option<Value> {
    let all = ctx.locks.as_ref()?;
    let (c, name, collection) = match res {
        Res::Collection(c) => (c, None, true),
        Res::Object(c, view) => (c, Some(view.name), false),
        _ => return None,
    };
    let key = crate::dav::lock::key_in(ctx.user, c, name);
    let locks = all
        .iter()
        .filter(|l| l.home == key.home && l.applies_to(&key.path))
        .map(|l| crate::dav::lock::ActiveLock::of(ctx.dav, ctx.user, &key, l, collection))
        .collect();
    Some(Value::Locks(locks))
}

fn quota_target(res: Res<'_>) -> bool {
    matches!(res, Res::Home(_) | Res::Collection(_))
}

fn resource_type(ctx: &PropCtx<'_>, res: Res<'_>) -> Vec<QName> {
    let collection = QName::fixed(DAV, "collection");
    match res {
        // calendarserver sharing.txt §5.3: the owner's calendar that is shared with someone.
        Res::Collection(c)
            if c.kind == CollectionKind::Calendar
                && c.share.is_none()
                && ctx.invites.as_ref().is_some_and(|all| all.iter().any(|s| s.collection == c.id)) =>
        {
            vec![collection, QName::fixed(CALDAV, "calendar"), QName::fixed(CS, "shared-owner")]
        }
        Res::Principal(_) => vec![collection, QName::fixed(DAV, "principal")],
        // calendarserver sharing.txt §5.3: a sharee's view of a shared calendar.
        Res::Collection(c) if c.kind == CollectionKind::Calendar && c.share.is_some() => {
            vec![collection, QName::fixed(CALDAV, "calendar"), QName::fixed(CS, "shared")]
        }
        Res::Collection(c) if c.kind == CollectionKind::Calendar => vec![collection, QName::fixed(CALDAV, "calendar")],
        // RFC 6638 §2.1, §2.2.
        Res::Collection(c) if c.kind == CollectionKind::Inbox => vec![collection, QName::fixed(CALDAV, "schedule-inbox")],
        Res::Collection(c) if c.kind == CollectionKind::Outbox => vec![collection, QName::fixed(CALDAV, "schedule-outbox")],
        Res::Object(..) => vec![],
        _ => vec![collection],
    }
}

fn principal_value(ctx: &PropCtx<'_>, p: &Principal, live: Live) -> Option<Value> {
    let paths = &ctx.dav.paths;
    match live {
        Live::DisplayName => Some(Value::Text(p.name.clone())),
        Live::PrincipalUrl => Some(Value::Href(paths.principal(&p.name))),
        // Apple Calendar accepts exactly one home (clients.md): never more than this one href.
        Live::CalendarHomeSet => Some(Value::Href(paths.home(&p.name))),
        Live::ScheduleInboxUrl => ctx.sched.as_ref().and_then(|s| s.inbox.clone()).map(Value::Href),
        Live::ScheduleOutboxUrl => ctx.sched.as_ref().and_then(|s| s.outbox.clone()).map(Value::Href),
        // RFC 6638 §2.4.2: every Kalends principal is a person.
        Live::CalendarUserType => Some(Value::Text("INDIVIDUAL".into())),
        Live::CalendarUserAddressSet => {
            let mut hrefs = Vec::new();
            if let Some(email) = &p.email {
                hrefs.push(format!("mailto:{email}"));
            }
            hrefs.push(paths.principal(&p.name));
            Some(Value::Hrefs(hrefs))
        }
        _ => None,
    }
}

fn collection_value(ctx: &PropCtx<'_>, c: &Collection, live: Live) -> Option<Value> {
    let limits = &ctx.dav.limits;
    let calendar = c.kind == CollectionKind::Calendar;
    let text = |s: &Option<String>| s.clone().map(Value::Text);
    match live {
        Live::DisplayName => text(&c.props.displayname),
        Live::GetLastModified => Some(Value::Text(http_date(c.modified_at))),
        Live::CreationDate => Some(Value::Text(rfc3339(c.created_at))),
        Live::SyncToken => Some(Value::Text(sync_token(c, c.sync_seq))),
        Live::GetCtag => Some(Value::Text(format!("{}-{}", c.id.0, c.sync_seq))),
        Live::ScheduleDefaultCalendarUrl if c.kind == CollectionKind::Inbox => {
            ctx.sched.as_ref().and_then(|s| s.default_calendar.clone()).map(Value::Href)
        }
        _ if !calendar => None,
        Live::SharedUrl => c.share.as_ref().map(|g| Value::Href(ctx.dav.paths.collection(&g.owner_name, &g.owner_path))),
        // Only an owner shares (sharing.txt §5.1); Kalends shares only to its own users.
        Live::AllowedSharingModes if c.share.is_none() => Some(Value::ResourceType(vec![QName::fixed(CS, "can-be-shared")])),
        Live::Invite if c.share.is_none() => ctx.invites.as_ref().map(|all| Value::Invite(invited(ctx, all, c.id))),
        // RFC 6638 §9.1: opaque unless the owner made it transparent.
        Live::ScheduleCalendarTransp => {
            let mark = if c.props.transparent { "transparent" } else { "opaque" };
            Some(Value::ResourceType(vec![QName::fixed(CALDAV, mark)]))
        }
        Live::CalendarDescription => text(&c.props.description),
        Live::CalendarTimezone => text(&c.props.timezone),
        Live::CalendarColor => text(&c.props.color),
        Live::CalendarOrder => text(&c.props.order),
        Live::SupportedCalendarComponentSet => Some(Value::Components(c.props.components)),
        Live::SupportedCalendarData => Some(Value::CalendarDataTypes),
        Live::MaxResourceSize => Some(Value::Text(limits.max_resource_size.to_string())),
        Live::MinDateTime => Some(Value::Text(utc_datetime(limits.min_date_time))),
        Live::MaxDateTime => Some(Value::Text(utc_datetime(limits.max_date_time))),
        Live::MaxInstances => Some(Value::Text(limits.max_instances.to_string())),
        _ => None,
    }
}

fn object_value(object: &ObjectView<'_>, live: Live) -> Option<Value> {
    match live {
        Live::GetEtag => Some(Value::Text(object.etag.to_owned())),
        Live::GetContentType => Some(Value::Text(object.content_type.to_owned())),
        Live::GetContentLength => Some(Value::Text(object.size.to_string())),
        Live::GetLastModified => Some(Value::Text(http_date(object.modified_at))),
        Live::CreationDate => Some(Value::Text(rfc3339(object.created_at))),
        // RFC 6638 §3.2.10: scheduling objects only.
        Live::ScheduleTag => object.schedule_tag.map(|t| Value::Text(t.to_owned())),
        Live::CalendarData => {
            // Validated as UTF-8 on write, so the checked conversion (faster than the lossy
            // one's chunked scan) succeeds; the lossy one stays for older data.
            object.calendar_data.map(|d| Value::Text(std::str::from_utf8(d).map_or_else(|_| String::from_utf8_lossy(d).into_owned(), str::to_owned)))
        }
        _ => None,
    }
}

/// The sharees of collection `id` that `CS:invite` can show: read and read-write (sharing.txt
/// has no free-busy access; those shares are listed by `kalends share list`).
fn invited(ctx: &PropCtx<'_>, all: &[Share], id: CollectionId) -> Vec<InvitedUser> {
    all.iter()
        .filter(|s| s.collection == id && s.access != Access::FreeBusy)
        .map(|s| InvitedUser {
            href: s.sharee_email.as_ref().map_or_else(|| ctx.dav.paths.principal(&s.sharee_name), |e| format!("mailto:{e}")),
            common_name: s.sharee_name.clone(),
            read_write: s.access == Access::ReadWrite,
        })
        .collect()
}

/// RFC 6578 §3.2: tokens are URIs. The collection id makes a token from another collection (or
/// from a deleted and re-created one) invalid rather than silently wrong.
pub fn sync_token(c: &Collection, seq: i64) -> String {
    format!("urn:x-kalends:sync:{}:{}", c.id.0, seq)
}

/// Parses a token of `c`; None when it belongs elsewhere or is not ours.
pub fn parse_sync_token(c: &Collection, token: &str) -> Option<i64> {
    token_parts(token).filter(|(id, _)| *id == c.id).map(|(_, seq)| seq)
}

/// The collection id and seq a token of ours names, before knowing which collection it is for.
pub fn token_parts(token: &str) -> Option<(CollectionId, i64)> {
    let rest = token.strip_prefix("urn:x-kalends:sync:")?;
    let (id, seq) = rest.split_once(':')?;
    Some((CollectionId(id.parse().ok()?), seq.parse().ok()?))
}

pub fn http_date(ts: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(ts.max(0).unsigned_abs());
    httpdate::fmt_http_date(t)
}

fn rfc3339(ts: i64) -> String {
    DateTime::<Utc>::from_timestamp(ts, 0).map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string()).unwrap_or_default()
}

fn utc_datetime(ts: i64) -> String {
    crate::calendar::time::utc_date_time(ts)
}

const ATTR_NAME: QName = QName::fixed("", "name");
const ATTR_CONTENT_TYPE: QName = QName::fixed("", "content-type");
const ATTR_VERSION: QName = QName::fixed("", "version");

/// Writes `<name>value</name>` (or the dead element itself).
pub fn write_value(w: &mut XmlWriter, name: &QName, value: &Value) {
    if let Value::Dead(element) = value {
        w.element(element);
        return;
    }
    w.start(name);
    match value {
        Value::Empty | Value::Dead(_) => {}
        Value::Text(s) => w.text(s),
        Value::Href(h) => w.text_element(&QName::fixed(DAV, "href"), h),
        Value::Hrefs(hs) => {
            for h in hs {
                w.text_element(&QName::fixed(DAV, "href"), h);
            }
        }
        Value::ResourceType(types) => types.iter().for_each(|t| w.empty(t)),
        Value::Locks(locks) => locks.iter().for_each(|l| l.write(w)),
        Value::SupportedLock => crate::dav::lock::write_supported(w),
        Value::Responses(responses) => {
            for (href, results) in responses {
                match results {
                    Some(results) => crate::dav::multistatus::write_response(w, href, results),
                    None => {
                        w.start(&QName::fixed(DAV, "response"));
                        w.text_element(&QName::fixed(DAV, "href"), href);
                        w.text_element(&QName::fixed(DAV, "status"), &crate::dav::multistatus::status_line(http::StatusCode::NOT_FOUND));
                        w.end();
                    }
                }
            }
        }
        Value::Invite(users) => {
            for u in users {
                w.start(&QName::fixed(CS, "user"));
                w.text_element(&QName::fixed(DAV, "href"), &u.href);
                w.text_element(&QName::fixed(CS, "common-name"), &u.common_name);
                // Shares are accepted automatically (decision 0023).
                w.empty(&QName::fixed(CS, "invite-accepted"));
                w.start(&QName::fixed(CS, "access"));
                w.empty(&QName::fixed(CS, if u.read_write { "read-write" } else { "read" }));
                w.end();
                w.end();
            }
        }
        Value::Reports(reports) => {
            for (ns, local) in *reports {
                w.start(&QName::fixed(DAV, "supported-report"));
                w.start(&QName::fixed(DAV, "report"));
                w.empty(&QName::fixed(ns, local));
                w.end();
                w.end();
            }
        }
        Value::Privileges(privs) => {
            for (ns, local) in *privs {
                w.start(&QName::fixed(DAV, "privilege"));
                w.empty(&QName::fixed(ns, local));
                w.end();
            }
        }
        Value::Components(set) => {
            for (bit, comp) in [
                (ComponentSet::VEVENT, "VEVENT"),
                (ComponentSet::VTODO, "VTODO"),
                (ComponentSet::VJOURNAL, "VJOURNAL"),
                (ComponentSet::VFREEBUSY, "VFREEBUSY"),
            ] {
                if set.contains(bit) {
                    w.empty_with_attrs(&QName::fixed(CALDAV, "comp"), [(&ATTR_NAME, comp)]);
                }
            }
        }
        Value::CalendarDataTypes => {
            w.empty_with_attrs(
                &QName::fixed(CALDAV, "calendar-data"),
                [(&ATTR_CONTENT_TYPE, "text/calendar"), (&ATTR_VERSION, "2.0")],
            );
        }
    }
    w.end();
}
