//! A write or deletion of a scheduling object together with everything it sends, as one store
//! transaction (RFC 6638 §3.2): the sender's object as it must be stored (SEQUENCE, PARTSTAT
//! resets, SCHEDULE-STATUS), each local recipient's copy created, updated or cancelled and a
//! message in their inbox, a REPLY applied to the organizer's copy and the other attendees
//! refreshed, and a queued message for each recipient outside the server.

use std::collections::HashMap;

use super::directory::{Directory, Recipient, principal_addresses, resolve};
use super::{Boxes, boxes_of};
use crate::calendar::timeline::HORIZON_SECONDS;
use crate::calendar::{Indexed, ValidateOptions, index_object};
use crate::sched::{
    self, Address, Applied, Message, Method, Role, ScheduleStatus, apply_cancel, apply_reply, apply_request,
    refresh_others, set_schedule_status,
};
use crate::service::objects::{WriteLimits, etag_of, uid_conflict};
use crate::service::{Principal, ServiceError, ServiceResult};
use crate::store::{
    Collection, CollectionKind, Expect, NewExternalItip, NewObject, ObjectAlarms, ObjectStore, SchedStore, SchedWrite, SchedWritten,
    Store, StoreError, StoredObject, UserId,
};

/// What scheduling needs from the server around it.
pub struct SchedCtx<'a> {
    pub store: &'a Store,
    pub dir: &'a dyn Directory,
    pub limits: WriteLimits,
    /// RFC 4791 §5.2.9 max-attendees-per-instance.
    pub max_attendees: usize,
    /// Outside recipients (iMIP) one change may queue messages for; the rest get 5.3.
    pub max_external: usize,
    /// The reminder sender's wake-up (issue 19): a write that stores a due time sooner than
    /// the sender's longest sleep tells it.
    pub alarm_wake: Option<&'a tokio::sync::Notify>,
}

/// How often a scheduling transaction is rebuilt when a recipient's copy changed under it.
const ATTEMPTS: usize = 4;

/// The sender's side of one change: what to store (or delete) for them, and the messages.
struct SenderPlan {
    /// The text to store; None for a deletion.
    store: Option<String>,
    messages: Vec<Message>,
    /// Whether the object is (or was) a scheduling object, so it carries a Schedule-Tag.
    scheduling: bool,
}

/// A recipient's copy as the deliveries of one change leave it.
struct Copy {
    collection: Collection,
    name: String,
    /// The ETag the copy had when read (None: a new copy); the write expects it unchanged.
    etag: Option<String>,
    text: Option<String>,
    /// The Schedule-Tag read with the copy.
    tag: Option<String>,
    /// Whether an organizer's update was applied (a new Schedule-Tag); a REPLY applied to the
    /// organizer's copy keeps it (RFC 6638 §3.2.10).
    retag: bool,
    changed: bool,
}

/// The deliveries being planned: copies by (user, UID), inbox messages, queued external ones,
/// and the status for each recipient.
#[derive(Default)]
struct Deliveries {
    copies: Vec<Copy>,
    seen: HashMap<(UserId, String), Option<usize>>,
    inbox: Vec<(Collection, NewObject)>,
    external: Vec<NewExternalItip>,
    statuses: Vec<(Address, ScheduleStatus)>,
    boxes: HashMap<UserId, Boxes>,
    /// Recipients already looked up.
    resolved: HashMap<Address, Recipient>,
    /// An invitation from outside that goes to the inbox only (`scheduling.external_invitations`).
    inbox_only: bool,
}

/// The result of a scheduled write: what the store wrote for the sender.
pub struct Scheduled {
    pub written: Option<SchedWritten>,
    /// The text stored for the sender (None after a deletion).
    pub stored: Option<String>,
    pub schedule_tag: Option<String>,
}

/// A PUT of `object` (validated and indexed from the client's text) into `collection`.
pub async fn put(
    ctx: &SchedCtx<'_>,
    owner: &Principal,
    collection: &Collection,
    object: NewObject,
    role: Role,
    expect: Expect,
    tag_match: Option<&str>,
) -> ServiceResult<Scheduled> {
    let text = String::from_utf8(object.data.clone())
        .map_err(|_| ServiceError::BadRequest("calendar data must be UTF-8".into()))?;
    let uid = object.calendar.as_ref().map(|c| c.uid.clone()).unwrap_or_default();
    let mut last = None;
    for _ in 0..ATTEMPTS {
        let old = own_copy(ctx, owner, collection, &object.name, &uid).await?;
        let expect = tag_expectation(&old, tag_match, &expect)?;
        let plan = sender_put(ctx, owner, old.as_ref(), &text, &role)?;
        match commit(ctx, owner, collection, Some(&object), &object.name, plan, expect).await {
            Err(Retry(e)) => last = Some(e),
            Ok(done) => return done,
        }
    }
    Err(last.unwrap_or_else(|| ServiceError::Internal("scheduling retries exhausted".into())))
}

/// A DELETE of the scheduling object `name` (RFC 6638 §3.2.3: the organizer cancels, an
/// attendee declines).
pub async fn delete(
    ctx: &SchedCtx<'_>,
    owner: &Principal,
    collection: &Collection,
    name: &str,
    expect: Expect,
    tag_match: Option<&str>,
) -> ServiceResult<()> {
    let mut last = None;
    for _ in 0..ATTEMPTS {
        let old = ctx.store.object(collection.id, name).await?.ok_or(ServiceError::NotFound)?;
        let expect = tag_expectation(&Some(old.clone()), tag_match, &expect)?;
        let text = String::from_utf8_lossy(&old.data).into_owned();
        let addrs = principal_addresses(ctx.dir, owner);
        let now = crate::service::now();
        // Stored data that no longer classifies is deleted without messages.
        let messages = match sched::classify(&text, &addrs) {
            Ok(Role::Organizer) => sched::organizer_delete(&text, &addrs, now).unwrap_or_default(),
            Ok(Role::Attendee { .. }) => sched::attendee_delete(&text, &addrs, now).unwrap_or_default(),
            _ => Vec::new(),
        };
        let plan = SenderPlan { store: None, messages, scheduling: true };
        match commit(ctx, owner, collection, None, name, plan, expect).await {
            Err(Retry(e)) => last = Some(e),
            Ok(done) => return done.map(|_| ()),
        }
    }
    Err(last.unwrap_or_else(|| ServiceError::Internal("scheduling retries exhausted".into())))
}

/// RFC 6638 §8.3: If-Schedule-Tag-Match holds when the stored object has that tag; the write
/// then expects the ETag read with it, so a change in between is noticed and retried.
fn tag_expectation(old: &Option<StoredObject>, tag_match: Option<&str>, expect: &Expect) -> ServiceResult<Expect> {
    let Some(tag) = tag_match else {
        return Ok(expect.clone());
    };
    match old {
        Some(o) if o.meta.schedule_tag.as_deref() == Some(tag) => Ok(Expect::Etag(vec![o.meta.etag.clone()])),
        _ => Err(ServiceError::PreconditionFailed),
    }
}

/// The object being replaced, read with the owner's other objects of the UID in one statement:
/// RFC 6638 §3.2.4.1 allows one scheduling object resource per UID among the owner's
/// calendars, so any other one is refused. An object of another UID at the name is no
/// concern here: the store refuses replacing it (no-uid-conflict).
async fn own_copy(
    ctx: &SchedCtx<'_>,
    owner: &Principal,
    collection: &Collection,
    name: &str,
    uid: &str,
) -> ServiceResult<Option<StoredObject>> {
    let mut here = None;
    for (c, o) in ctx.store.objects_with_uid(owner.id, uid).await? {
        if c.id == collection.id && o.meta.name == name {
            here = Some(o);
        } else {
            return Err(ServiceError::UniqueSchedulingObject {
                collection_path: c.path,
                owner: owner.name.clone(),
                name: o.meta.name,
            });
        }
    }
    Ok(here)
}

/// Classifies the old and new object for the owner and asks the domain what the write means.
/// `role_new`: the owner's role in `new`, as the caller classified it.
fn sender_put(ctx: &SchedCtx<'_>, owner: &Principal, old: Option<&StoredObject>, new: &str, role_new: &Role) -> ServiceResult<SenderPlan> {
    let addrs = principal_addresses(ctx.dir, owner);
    let now = crate::service::now();
    let old_text = old.map(|o| String::from_utf8_lossy(&o.data).into_owned());
    let was_scheduling = old.is_some_and(|o| o.meta.schedule_tag.is_some());
    // Stored data that no longer classifies (older rules) counts as no scheduling object.
    let role_old = old_text.as_deref().map_or(Role::None, |t| sched::classify(t, &addrs).unwrap_or(Role::None));
    let organizer = matches!(role_new, Role::Organizer) || matches!(role_old, Role::Organizer);
    let attendee = matches!(role_new, Role::Attendee { .. }) || matches!(role_old, Role::Attendee { .. });
    let plan = if organizer {
        sched::check_max_attendees(new, ctx.max_attendees)?;
        sched::organizer_change(old_text.as_deref(), new, &addrs, now)?
    } else if attendee {
        sched::attendee_change(old_text.as_deref(), new, &addrs, now)?
    } else {
        sched::Plan { store: new.to_owned(), messages: Vec::new() }
    };
    Ok(SenderPlan { store: Some(plan.store), messages: plan.messages, scheduling: organizer || attendee || was_scheduling })
}

/// A failure worth rebuilding the transaction for: a recipient's copy changed meanwhile.
struct Retry(ServiceError);

/// Plans every delivery, then writes the sender's change and the deliveries at once.
async fn commit(
    ctx: &SchedCtx<'_>,
    owner: &Principal,
    collection: &Collection,
    object: Option<&NewObject>,
    name: &str,
    plan: SenderPlan,
    expect: Expect,
) -> Result<ServiceResult<Scheduled>, Retry> {
    let mut d = Deliveries::default();
    if let Err(e) = prefetch(ctx, &plan.messages, &mut d).await {
        return Ok(Err(e));
    }
    if let Err(e) = deliver_all(ctx, Some(owner.id), owner.id, plan.messages, &mut d, false).await {
        return Ok(Err(e));
    }
    let tag = plan.scheduling.then(new_tag);
    let mut writes = Vec::new();
    let stored = match (&plan.store, object) {
        (Some(text), Some(object)) => {
            let text = set_schedule_status(text, &d.statuses);
            let mut sender = object.clone();
            sender.etag = etag_of(text.as_bytes());
            sender.data = text.clone().into_bytes();
            sender.schedule_tag = tag.clone();
            writes.push(SchedWrite::Put { collection: collection.id, object: sender, expect });
            Some(text)
        }
        _ => {
            writes.push(SchedWrite::Delete { collection: collection.id, name: name.to_owned(), expect });
            None
        }
    };
    match delivery_writes(ctx, d) {
        Ok(more) => writes.extend(more),
        Err(e) => return Ok(Err(e)),
    }
    match ctx.store.write_scheduling(writes).await {
        Ok(mut done) => Ok(Ok(Scheduled { written: Some(done.remove(0)), stored, schedule_tag: tag })),
        // The sender's own write: its refusal is the client's answer.
        Err(StoreError::InBatch { index: 0, error }) => Ok(Err(uid_conflict(*error, owner, collection))),
        // A recipient's copy changed since it was read: plan again.
        Err(StoreError::InBatch { error, .. })
            if matches!(*error, StoreError::PreconditionFailed | StoreError::UidConflict { .. } | StoreError::AlreadyExists) =>
        {
            Err(Retry(ServiceError::Conflict("a recipient's calendar kept changing; try again".into())))
        }
        Err(e) => Ok(Err(e.into())),
    }
}

/// Reads what delivering `messages` needs in a few statements for all recipients: who each
/// address is, and each local recipient's inbox, default calendar and copy. An invitation to
/// ten colleagues then costs four reads, not forty.
/// What is known already (a REPLY's refresh reaches attendees read with an earlier batch) is not
/// read again, nor replaced: a copy the planning has changed stays as it is.
async fn prefetch(ctx: &SchedCtx<'_>, messages: &[Message], d: &mut Deliveries) -> ServiceResult<()> {
    let mut emails: Vec<String> = messages
        .iter()
        .filter(|m| !d.resolved.contains_key(&m.recipient))
        .filter_map(|m| m.recipient.email())
        .map(str::to_lowercase)
        .collect();
    emails.sort();
    emails.dedup();
    let users = if emails.is_empty() { Vec::new() } else { ctx.store.users_by_emails(&emails).await? };
    for email in &emails {
        let mut named = users.iter().filter(|u| u.email.as_deref().is_some_and(|e| e.eq_ignore_ascii_case(email)));
        let recipient = match (named.next(), named.next()) {
            (None, _) => Recipient::External(email.clone()),
            (Some(u), None) => Recipient::Local(u.clone()),
            // Two users share the address: delivering to either would be a guess.
            (Some(_), Some(_)) => Recipient::Unknown,
        };
        d.resolved.insert(Address::new(&format!("mailto:{email}")), recipient);
    }
    let mut uids: Vec<&str> = messages.iter().map(|m| m.uid.as_str()).collect();
    uids.sort_unstable();
    uids.dedup();
    for uid in uids {
        let mut ids: Vec<UserId> = d
            .resolved
            .values()
            .filter_map(|r| if let Recipient::Local(u) = r { Some(u.id) } else { None })
            .filter(|id| !d.seen.contains_key(&(*id, uid.to_owned())))
            .collect();
        ids.sort();
        ids.dedup();
        for t in ctx.store.delivery_targets(&ids, uid).await? {
            d.boxes.entry(t.user).or_insert(Boxes { inbox: t.inbox, outbox: None, default_calendar: t.default_calendar });
            let slot = t.copy.map(|(collection, o)| push_copy(d, collection, o));
            d.seen.insert((t.user, uid.to_owned()), slot);
        }
    }
    Ok(())
}

fn push_copy(d: &mut Deliveries, collection: Collection, o: StoredObject) -> usize {
    d.copies.push(Copy {
        collection,
        name: o.meta.name.clone(),
        etag: Some(o.meta.etag.clone()),
        text: Some(String::from_utf8_lossy(&o.data).into_owned()),
        tag: o.meta.schedule_tag.clone(),
        retag: false,
        changed: false,
    });
    d.copies.len() - 1
}

/// Messages that come from outside the server (an iMIP email, an RSVP link) delivered to local
/// users, planned and written like a local sender's (one `write_scheduling` batch, planned
/// again when a copy changed meanwhile): a REPLY updates the organizer's copy and refreshes the
/// other attendees (RFC 6638 §4.2), whose external ones are queued as `queue_owner`'s messages.
/// `calendar`: apply to calendars (else each message only reaches the inbox).
pub(crate) async fn deliver_from_outside(
    ctx: &SchedCtx<'_>,
    queue_owner: UserId,
    messages: Vec<Message>,
    calendar: bool,
) -> ServiceResult<()> {
    let mut last = None;
    for _ in 0..ATTEMPTS {
        let mut d = Deliveries { inbox_only: !calendar, ..Deliveries::default() };
        prefetch(ctx, &messages, &mut d).await?;
        deliver_all(ctx, None, queue_owner, messages.clone(), &mut d, false).await?;
        let writes = delivery_writes(ctx, d)?;
        if writes.is_empty() {
            return Ok(());
        }
        match ctx.store.write_scheduling(writes).await {
            Ok(_) => return Ok(()),
            Err(StoreError::InBatch { error, .. })
                if matches!(*error, StoreError::PreconditionFailed | StoreError::UidConflict { .. } | StoreError::AlreadyExists) =>
            {
                last = Some(ServiceError::Conflict("a recipient's calendar kept changing; try again".into()));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(last.unwrap_or_else(|| ServiceError::Internal("scheduling retries exhausted".into())))
}

/// Delivers each message in order (RFC 6638 §4.1), recording each recipient's status. `sender`:
/// the local user who sent them (None from outside), to whom nothing is delivered;
/// `queue_owner`: whose messages the external ones are.
async fn deliver_all(
    ctx: &SchedCtx<'_>,
    sender: Option<UserId>,
    queue_owner: UserId,
    messages: Vec<Message>,
    d: &mut Deliveries,
    refresh: bool,
) -> ServiceResult<()> {
    let mut queue: Vec<(Message, bool)> = messages.into_iter().map(|m| (m, refresh)).collect();
    queue.reverse();
    while let Some((message, quiet)) = queue.pop() {
        let recipient = match d.resolved.get(&message.recipient) {
            Some(r) => r.clone(),
            None => resolve(ctx.store, ctx.dir, &message.recipient).await?,
        };
        let status = match recipient {
            Recipient::Local(user) if Some(user.id) == sender => ScheduleStatus::Delivered,
            Recipient::Local(user) => {
                let principal = Principal { id: user.id, name: user.name.clone(), email: user.email.clone() };
                let more = deliver_local(ctx, &principal, &message, d, quiet).await?;
                // After a REPLY the other attendees learn the new participation (§4.2); they
                // are read together, not one by one.
                prefetch(ctx, &more, d).await?;
                queue.extend(more.into_iter().rev().map(|m| (m, true)));
                ScheduleStatus::Delivered
            }
            Recipient::External(_) if over_external_cap(d, &message.recipient, ctx.max_external) => ScheduleStatus::Refused,
            Recipient::External(_) => {
                d.external.push(NewExternalItip {
                    owner: queue_owner,
                    recipient: message.recipient.as_str().to_owned(),
                    method: message.method.as_str().to_owned(),
                    uid: message.uid.clone(),
                    data: message.text.clone().into_bytes(),
                });
                ScheduleStatus::Pending
            }
            Recipient::Unknown => ScheduleStatus::InvalidUser,
        };
        if !quiet {
            d.statuses.retain(|(a, _)| *a != message.recipient);
            d.statuses.push((message.recipient.clone(), status));
        }
    }
    Ok(())
}

/// Whether `recipient` would be one outside recipient too many for this change (a recipient
/// already queued for, e.g. a CANCEL and a REQUEST, counts once).
fn over_external_cap(d: &Deliveries, recipient: &Address, cap: usize) -> bool {
    let known = d.external.iter().any(|e| recipient.is(&e.recipient));
    if known {
        return false;
    }
    let mut distinct: Vec<&str> = d.external.iter().map(|e| e.recipient.as_str()).collect();
    distinct.sort_unstable();
    distinct.dedup();
    distinct.len() >= cap
}

/// One message to a user of this server: applied to their copy, and put in their inbox.
/// Returns the refresh messages a REPLY causes.
async fn deliver_local(
    ctx: &SchedCtx<'_>,
    user: &Principal,
    message: &Message,
    d: &mut Deliveries,
    quiet: bool,
) -> ServiceResult<Vec<Message>> {
    let slot = copy_of(ctx, user, &message.uid, d).await?;
    // A refresh updates a copy that is there; one the attendee deleted (and so declined) stays
    // deleted (RFC 6638 §4.2 refreshes attendees, it does not invite them again).
    if quiet && slot.is_none() {
        return Ok(Vec::new());
    }
    if d.inbox_only && !quiet {
        inbox_message(ctx, user, message, d).await?;
        return Ok(Vec::new());
    }
    let now = crate::service::now();
    let existing = slot.and_then(|i| d.copies[i].text.clone());
    let applied = match message.method {
        Method::Request => apply_request(&message.text, existing.as_deref(), &message.recipient, now),
        Method::Cancel => apply_cancel(&message.text, existing.as_deref()),
        Method::Reply => match existing.as_deref() {
            Some(copy) => apply_reply(&message.text, copy, now),
            None => Ok(Applied::Ignored("no organizer copy".into())),
        },
        _ => Ok(Applied::Ignored(format!("{} is not delivered to calendars", message.method.as_str()))),
    };
    let mut refresh = Vec::new();
    match applied {
        Ok(Applied::Store(text)) => {
            if message.method == Method::Reply {
                refresh = refresh_others(&text, &message.originator, now);
            }
            let index = match slot {
                Some(i) => Some(i),
                None => new_copy(ctx, user, &message.uid, d).await?,
            };
            if let Some(i) = index {
                let copy = &mut d.copies[i];
                copy.text = Some(text);
                copy.changed = true;
                copy.retag |= retags(message.method, quiet);
            }
        }
        Ok(Applied::Ignored(reason)) => tracing::debug!(uid = %message.uid, %reason, "iTIP message not applied"),
        // A copy the rules cannot read (older data) keeps; the inbox still gets the message.
        Err(e) => tracing::warn!(uid = %message.uid, error = %e, "iTIP message not applied to the copy"),
    }
    if !quiet {
        inbox_message(ctx, user, message, d).await?;
    }
    Ok(refresh)
}

/// Whether applying a message gives the copy a new Schedule-Tag (RFC 6638 §3.2.10): an
/// organizer's update does (attendee rule 1); a REPLY applied to the organizer's copy does not
/// (organizer rule 1), nor does the refresh (`refresh`) the other attendees get after it, which
/// changes only participation (attendee rule 2), so their clients' If-Schedule-Tag-Match holds.
fn retags(method: Method, refresh: bool) -> bool {
    method != Method::Reply && !refresh
}

/// The user's copy of `uid`, read once per transaction (None: they have none yet).
async fn copy_of(ctx: &SchedCtx<'_>, user: &Principal, uid: &str, d: &mut Deliveries) -> ServiceResult<Option<usize>> {
    if let Some(slot) = d.seen.get(&(user.id, uid.to_owned())) {
        return Ok(*slot);
    }
    let found = ctx.store.objects_with_uid(user.id, uid).await?.into_iter().next();
    let slot = found.map(|(collection, o)| push_copy(d, collection, o));
    d.seen.insert((user.id, uid.to_owned()), slot);
    Ok(slot)
}

/// A new copy in the user's default calendar; None when they have none that takes events.
async fn new_copy(ctx: &SchedCtx<'_>, user: &Principal, uid: &str, d: &mut Deliveries) -> ServiceResult<Option<usize>> {
    let boxes = boxes_of(ctx.store, user, &mut d.boxes).await?;
    let Some(calendar) = boxes.default_calendar else {
        return Ok(None);
    };
    d.copies.push(Copy {
        collection: calendar,
        name: format!("{}.ics", safe_name(uid)),
        etag: None,
        text: None,
        tag: None,
        retag: true,
        changed: false,
    });
    let i = d.copies.len() - 1;
    d.seen.insert((user.id, uid.to_owned()), Some(i));
    Ok(Some(i))
}

/// The message as an inbox item (RFC 6638 §4.1): the recipient's clients see it there.
async fn inbox_message(ctx: &SchedCtx<'_>, user: &Principal, message: &Message, d: &mut Deliveries) -> ServiceResult<()> {
    let boxes = boxes_of(ctx.store, user, &mut d.boxes).await?;
    let Some(inbox) = boxes.inbox else {
        return Ok(());
    };
    let data = message.text.clone().into_bytes();
    let object = NewObject {
        name: format!("{}.ics", random_hex()),
        etag: etag_of(&data),
        content_type: format!("text/calendar; charset=utf-8; method={}", message.method.as_str()),
        data,
        calendar: None,
        timeline: None,
        schedule_tag: None,
        alarms: ObjectAlarms::Without,
    };
    d.inbox.push((inbox, object));
    Ok(())
}

/// The store writes for the deliveries: each changed copy (validated and indexed like a PUT),
/// the inbox messages and the queued external messages.
fn delivery_writes(ctx: &SchedCtx<'_>, d: Deliveries) -> ServiceResult<Vec<SchedWrite>> {
    let mut writes = Vec::new();
    for copy in d.copies.into_iter().filter(|c| c.changed) {
        let Some(text) = copy.text else { continue };
        let tag = match copy.tag {
            Some(tag) if !copy.retag => tag,
            _ => new_tag(),
        };
        let object = indexed(ctx, &copy.collection, &copy.name, text, Some(tag))?;
        let expect = match copy.etag {
            Some(etag) => Expect::Etag(vec![etag]),
            None => Expect::Absent,
        };
        writes.push(SchedWrite::Put { collection: copy.collection.id, object, expect });
    }
    for (inbox, object) in d.inbox {
        writes.push(SchedWrite::Deliver { collection: inbox.id, object });
    }
    writes.extend(d.external.into_iter().map(SchedWrite::External));
    Ok(writes)
}

/// A recipient's copy as the store keeps it: indexed like a PUT, with its Schedule-Tag.
fn indexed(ctx: &SchedCtx<'_>, collection: &Collection, name: &str, text: String, tag: Option<String>) -> ServiceResult<NewObject> {
    let limits = &ctx.limits;
    let opts = ValidateOptions { min_date_time: limits.min_date_time, max_date_time: limits.max_date_time };
    let data = text.into_bytes();
    let horizon = crate::service::now().saturating_add(HORIZON_SECONDS);
    let Indexed { index, timeline } = index_object(&data, &opts, horizon)?;
    if collection.kind != CollectionKind::Calendar || !collection.props.components.contains(index.component.bit()) {
        return Err(ServiceError::UnsupportedComponent(index.component));
    }
    let alarms = crate::service::reminders::object_alarms(&data, collection, crate::service::now());
    Ok(NewObject {
        name: name.to_owned(),
        etag: etag_of(&data),
        data,
        content_type: "text/calendar; charset=utf-8".to_owned(),
        calendar: Some(index),
        timeline,
        schedule_tag: tag,
        alarms,
    })
}

/// A fresh Schedule-Tag: opaque, quoted (RFC 6638 §3.2.10).
pub fn new_tag() -> String {
    format!("\"{}\"", random_hex())
}

fn random_hex() -> String {
    let bytes: [u8; 16] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A resource name from a UID: kept when it is plain, else hashed (UIDs may hold anything).
fn safe_name(uid: &str) -> String {
    let plain = !uid.is_empty()
        && uid.len() <= 200
        && uid.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@'));
    if plain {
        uid.to_owned()
    } else {
        let hex = etag_of(uid.as_bytes());
        hex.trim_matches('"').to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_uids() {
        assert_eq!(safe_name("abc-123@example.org"), "abc-123@example.org");
        let odd = safe_name("a/b c");
        assert!(odd.len() == 32 && odd.chars().all(|c| c.is_ascii_hexdigit()), "{odd}");
        assert_ne!(safe_name("a/b c"), safe_name("a/b d"));
    }

    #[test]
    fn only_an_organizers_update_retags() {
        assert!(retags(Method::Request, false));
        assert!(retags(Method::Cancel, false));
        assert!(!retags(Method::Reply, false), "the organizer's copy keeps its tag");
        assert!(!retags(Method::Request, true), "a refresh keeps the attendee's tag");
    }

    #[test]
    fn tags_are_quoted_and_fresh() {
        let (a, b) = (new_tag(), new_tag());
        assert!(a.starts_with('"') && a.ends_with('"') && a.len() == 34);
        assert_ne!(a, b);
    }
}
