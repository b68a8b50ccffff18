//! Resources inside collections: PUT (validate, index, store in one transaction), DELETE and
//! COPY/MOVE. Calendar collections take only calendar object resources (RFC 4791 §4.1).

use sha2::{Digest, Sha256};

use super::{Principal, ServiceError, ServiceResult};
use crate::calendar::timeline::HORIZON_SECONDS;
use crate::calendar::{Indexed, ValidateOptions};
use crate::calendar::validate::index_object_then;
use super::scheduling::deliver::{self, SchedCtx};
use super::scheduling::directory::principal_addresses;
use crate::sched::Role;
use crate::calendar::ComponentKind;
use crate::store::{
    SchedWritten, Collection, CollectionKind, Expect, NewObject, ObjectAlarms, ObjectMeta, ObjectStore, PutOutcome, Store, StoreError, UserStore,
};

/// Limits a write must respect (from configuration).
#[derive(Debug, Clone)]
pub struct WriteLimits {
    pub max_resource_size: usize,
    pub min_date_time: i64,
    pub max_date_time: i64,
    pub quota_bytes: i64,
}

/// A strong ETag from the content: equal bytes, equal tag; any change, a new one.
pub fn etag_of(data: &[u8]) -> String {
    let digest = Sha256::digest(data);
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

/// Checks that `name` can be a resource name (one path segment).
pub fn validate_name(name: &str) -> ServiceResult<()> {
    if name.is_empty() || name.len() > 255 || name.contains('/') || name == "." || name == ".." {
        return Err(ServiceError::BadRequest(format!("invalid resource name {name:?}")));
    }
    Ok(())
}

/// A PUT: `data` becomes resource `name` in `collection`, exactly as sent.
#[derive(Debug)]
pub struct PutRequest<'a> {
    pub collection: &'a Collection,
    pub name: &'a str,
    pub data: Vec<u8>,
    /// The media type the client stated, if any (lowercase, without parameters).
    pub content_type: Option<&'a str>,
    pub expect: Expect,
    /// RFC 6638 §8.3 If-Schedule-Tag-Match, quotes included.
    pub tag_match: Option<&'a str>,
    /// The owner's used bytes when the caller has read them already (`locate_for_write`);
    /// None reads them here.
    pub used_bytes: Option<i64>,
}

/// RFC 6638 §2.1, §2.2: only the server writes into the scheduling inbox, and the outbox holds
/// nothing (free/busy requests are POSTed to it).
pub(super) fn refuse_box(collection: &Collection) -> ServiceResult<()> {
    match collection.kind {
        CollectionKind::Inbox => Err(ServiceError::Refused(
            "the scheduling inbox holds only messages the server delivers (RFC 6638 §2.2)".into(),
        )),
        CollectionKind::Outbox => Err(ServiceError::Refused(
            "the scheduling outbox holds no resources; POST free/busy requests to it (RFC 6638 §2.1)".into(),
        )),
        CollectionKind::Calendar | CollectionKind::Plain => Ok(()),
    }
}

/// What a PUT stored.
#[derive(Debug, Clone)]
pub struct PutDone {
    pub created: bool,
    pub meta: ObjectMeta,
    /// Whether the stored bytes are exactly the bytes sent. When they are not, the ETag must
    /// not be returned (RFC 4791 §5.3.4) and the client reads the object again.
    pub verbatim: bool,
}

/// Creates or replaces the resource, after validation, in one store transaction. An event or
/// to-do with an ORGANIZER, or one replacing a scheduling object, is a scheduling change: it is
/// written with what it sends (RFC 6638 §3.2, `scheduling::deliver`).
pub async fn put(ctx: &SchedCtx<'_>, owner: &Principal, req: PutRequest<'_>) -> ServiceResult<PutDone> {
    let (store, limits) = (ctx.store, &ctx.limits);
    validate_name(req.name)?;
    refuse_box(req.collection)?;
    let sent = req.data.clone();
    let object = prepare(req.collection, req.name, req.data, req.content_type, limits)?;
    check_quota(store, owner, req.used_bytes, object.data.len(), limits).await?;
    let role = scheduling_role(ctx, owner, req.collection, &object)?;
    let due = object.alarms.next_due();
    if role == Role::None && req.tag_match.is_none() {
        match store.put_object(req.collection.id, object.clone(), req.expect.clone()).await {
            Ok(PutOutcome { created, meta }) => {
                wake_sender(ctx, due);
                let verbatim = usize::try_from(meta.size).is_ok_and(|n| n == sent.len());
                return Ok(PutDone { verbatim, created, meta });
            }
            // The name holds a scheduling object: its attendees must hear of this.
            Err(StoreError::SchedulingObject) => {}
            Err(e) => return Err(uid_conflict(e, owner, req.collection)),
        }
    }
    let done = deliver::put(ctx, owner, req.collection, object, role, req.expect, req.tag_match).await?;
    wake_sender(ctx, due);
    match done.written {
        Some(SchedWritten::Put(PutOutcome { created, meta })) => {
            let verbatim = done.stored.as_deref().is_some_and(|t| t.as_bytes() == sent.as_slice());
            Ok(PutDone { created, meta, verbatim })
        }
        _ => Err(ServiceError::Internal("a scheduled PUT wrote no object".into())),
    }
}

/// Tells the reminder sender about a due time within its longest sleep, which it would
/// otherwise find only after that sleep. Later ones it finds itself.
fn wake_sender(ctx: &SchedCtx<'_>, due: Option<i64>) {
    // Beyond any sensible `reminders.max_sleep_secs`; a needless wake costs one indexed MIN.
    const SOON: i64 = 300;
    if let (Some(wake), Some(due)) = (ctx.alarm_wake, due)
        && due <= super::now().saturating_add(SOON)
    {
        wake.notify_one();
    }
}

/// Whether the object is a scheduling object resource of the owner's (RFC 6638 §3.1): an event
/// or to-do in a calendar whose ORGANIZER is the owner or invites them. Most objects have no
/// ORGANIZER and are told apart without parsing; an invitation imported from elsewhere that
/// does not name the owner is a plain object. (Whether the object it replaces was a scheduling
/// object the store tells: `StoreError::SchedulingObject`.)
/// The owner's role in the object, classified once here and handed to the scheduling path.
fn scheduling_role(ctx: &SchedCtx<'_>, owner: &Principal, collection: &Collection, object: &NewObject) -> ServiceResult<Role> {
    let component = object.calendar.as_ref().map(|c| c.component);
    let candidate = collection.kind == CollectionKind::Calendar
        && matches!(component, Some(ComponentKind::Event | ComponentKind::Todo))
        && object.data.windows(9).any(|w| w.eq_ignore_ascii_case(b"ORGANIZER"));
    if !candidate {
        return Ok(Role::None);
    }
    let text = String::from_utf8_lossy(&object.data);
    let addrs = principal_addresses(ctx.dir, owner);
    match crate::sched::classify(&text, &addrs) {
        Ok(role) => Ok(role),
        // Conflicting ORGANIZERs matter only where the owner takes part.
        Err(crate::sched::SchedError::SameOrganizer) if !addrs.iter().any(|a| mentions(&object.data, a.as_str())) => Ok(Role::None),
        Err(e) => Err(e.into()),
    }
}

/// Whether `data` mentions `address`, ignoring ASCII case (addresses are compared so).
fn mentions(data: &[u8], address: &str) -> bool {
    let needle = address.as_bytes();
    !needle.is_empty() && data.windows(needle.len()).any(|w| w.eq_ignore_ascii_case(needle))
}

/// The UTF-8 byte-order mark. It is an encoding signature, not iCalendar content (RFC 5545
/// §3.1.4 fixes UTF-8), and a parser that sees it before BEGIN:VCALENDAR reads no calendar.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Drops a leading byte-order mark, so that every reader of the stored bytes (index, query,
/// export, scheduling) sees plain iCalendar (docs/decisions/0014-rfc-review-choices.md).
fn strip_bom(mut data: Vec<u8>) -> Vec<u8> {
    if data.starts_with(BOM) {
        data.drain(..BOM.len());
    }
    data
}

/// A resource name for a new object: its UID where that is a safe path segment, else random.
pub fn name_for(uid: &str) -> String {
    let safe = !uid.is_empty() && uid.len() <= 200 && uid.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.@".contains(&b)) && !uid.starts_with('.');
    if safe { format!("{uid}.ics") } else { format!("{:032x}.ics", rand::random::<u128>()) }
}

/// Validates and indexes the body; nothing is stored. The one validator of every write: PUT,
/// COPY/MOVE, and each object of an import.
pub(crate) fn prepare(
    collection: &Collection,
    name: &str,
    data: Vec<u8>,
    content_type: Option<&str>,
    limits: &WriteLimits,
) -> ServiceResult<NewObject> {
    if data.len() > limits.max_resource_size {
        return Err(ServiceError::TooLarge { max: limits.max_resource_size });
    }
    if collection.kind == CollectionKind::Plain {
        let etag = etag_of(&data);
        let content_type = content_type.unwrap_or("application/octet-stream").to_owned();
        return Ok(NewObject {
            name: name.to_owned(),
            data,
            content_type,
            etag,
            calendar: None,
            timeline: None,
            schedule_tag: None,
            alarms: ObjectAlarms::Without,
        });
    }
    let data = strip_bom(data);
    let etag = etag_of(&data);
    // RFC 4791 §5.3.2.1 supported-calendar-data: a stated media type must be text/calendar.
    if content_type.is_some_and(|t| t != "text/calendar") {
        return Err(ServiceError::UnsupportedMediaType);
    }
    let opts = ValidateOptions { min_date_time: limits.min_date_time, max_date_time: limits.max_date_time };
    // The alarm schedule reads validation's parse of the bytes, not a second one of its own.
    let now = super::now();
    let (Indexed { index, timeline }, alarms) = index_object_then(&data, &opts, now.saturating_add(HORIZON_SECONDS), |parsed| {
        super::reminders::object_alarms_parsed(&data, parsed, collection, now)
    })?;
    if !collection.props.components.contains(index.component.bit()) {
        return Err(ServiceError::UnsupportedComponent(index.component));
    }
    Ok(NewObject {
        name: name.to_owned(),
        data,
        content_type: "text/calendar; charset=utf-8".to_owned(),
        etag,
        calendar: Some(index),
        timeline,
        schedule_tag: None,
        alarms,
    })
}

async fn check_quota(store: &Store, owner: &Principal, used: Option<i64>, size: usize, limits: &WriteLimits) -> ServiceResult<()> {
    let used = match used {
        Some(used) => used,
        None => store.used_bytes(owner.id).await?,
    };
    let size = i64::try_from(size).unwrap_or(i64::MAX);
    if used.saturating_add(size) > limits.quota_bytes {
        return Err(ServiceError::QuotaExceeded);
    }
    Ok(())
}

pub(crate) fn uid_conflict(e: StoreError, owner: &Principal, collection: &Collection) -> ServiceError {
    match e {
        StoreError::UidConflict { existing_name } => ServiceError::UidConflict {
            collection_path: collection.path.clone(),
            owner: owner.name.clone(),
            name: existing_name,
            replaced: false,
        },
        StoreError::UidReplaced { name } => ServiceError::UidConflict {
            collection_path: collection.path.clone(),
            owner: owner.name.clone(),
            name,
            replaced: true,
        },
        other => other.into(),
    }
}

/// A DELETE. Deleting a scheduling object cancels (organizer) or declines (attendee) in the
/// same transaction (RFC 6638 §3.2.3).
pub async fn delete(
    ctx: &SchedCtx<'_>,
    owner: &Principal,
    collection: &Collection,
    object: &ObjectMeta,
    expect: Expect,
    tag_match: Option<&str>,
) -> ServiceResult<()> {
    if object.schedule_tag.is_none() && tag_match.is_none() {
        match ctx.store.delete_object(collection.id, &object.name, expect.clone()).await {
            Ok(()) => return Ok(()),
            Err(StoreError::SchedulingObject) => {}
            Err(e) => return Err(e.into()),
        }
    }
    deliver::delete(ctx, owner, collection, &object.name, expect, tag_match).await
}

/// COPY or MOVE of one object (RFC 4918 §9.8, §9.9).
#[derive(Debug)]
pub struct Transfer<'a> {
    pub source: &'a Collection,
    /// The source object, as the caller located it.
    pub object: &'a ObjectMeta,
    pub dest: &'a Collection,
    pub dest_name: &'a str,
    /// Overwrite: T (replace an existing target) or F (412 if it exists).
    pub overwrite: bool,
    /// COPY keeps the source; MOVE removes it.
    pub keep_source: bool,
}

/// Returns whether the target was newly created. The target collection's rules apply: a plain
/// file cannot land in a calendar, a task not in an events-only calendar.
pub async fn transfer(store: &Store, owner: &Principal, t: Transfer<'_>, limits: &WriteLimits) -> ServiceResult<bool> {
    let Transfer { source, object, dest, dest_name, overwrite, keep_source } = t;
    let name = object.name.as_str();
    validate_name(dest_name)?;
    refuse_box(source)?;
    refuse_box(dest)?;
    if source.id != dest.id || source.kind != dest.kind {
        // Re-validate against the destination's rules (component set, media type).
        let stored = store.object(source.id, name).await?.ok_or(ServiceError::NotFound)?;
        // For a calendar target the stored media type is not a statement: validate the bytes.
        let content_type = (dest.kind == CollectionKind::Plain).then_some(object.content_type.as_str());
        prepare(dest, dest_name, stored.data, content_type, limits)?;
    }
    if keep_source {
        check_quota(store, owner, None, usize::try_from(object.size).unwrap_or(usize::MAX), limits).await?;
    }
    store
        .transfer_object(source.id, name, dest.id, dest_name, overwrite, keep_source)
        .await
        .map_err(|e| uid_conflict(e, owner, dest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_follow_content() {
        assert_eq!(etag_of(b"a"), etag_of(b"a"));
        assert_ne!(etag_of(b"a"), etag_of(b"b"));
        assert!(etag_of(b"").starts_with('"') && etag_of(b"").ends_with('"'));
        assert_eq!(etag_of(b"x").len(), 34);
    }

    #[test]
    fn a_byte_order_mark_is_dropped() {
        assert_eq!(strip_bom(b"\xEF\xBB\xBFBEGIN:VCALENDAR".to_vec()), b"BEGIN:VCALENDAR");
        assert_eq!(strip_bom(b"BEGIN:VCALENDAR".to_vec()), b"BEGIN:VCALENDAR");
        assert_eq!(strip_bom(b"\xEF\xBB".to_vec()), b"\xEF\xBB");
    }

    #[test]
    fn names() {
        assert!(validate_name("a b.ics").is_ok());
        for bad in ["", ".", "..", "a/b", &"x".repeat(256)] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }
}
