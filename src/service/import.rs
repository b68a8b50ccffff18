//! Import of an iCalendar file into one calendar (issue 20): the one service behind
//! `kalends import`, `POST /api/v1/calendars/{id}/import` and the web page that follows.
//!
//! Import is data restoration, like a backup being restored: every object is stored as it is
//! and **no invitations are sent**, whatever ORGANIZER and ATTENDEEs it names (a plain write,
//! never the RFC 6638 scheduling path). The file is split into one object per UID
//! (`calendar::split_by_uid`, VTIMEZONEs carried along), each validated and indexed exactly as a
//! PUT is (`objects::prepare`, with its reminder schedule), and written in batches of [`BATCH`]:
//! one store transaction per batch, the collection locked once. A batch refused because of one
//! object is written again without it, so one bad object never costs the others.
//!
//! Per UID the report says: added (new), updated (the calendar held the UID: replaced in place,
//! its resource name kept, `Expect::Etag` of what was read), unchanged (identical bytes: no
//! write), or skipped with a reason (invalid data, a component the calendar does not take, too
//! large, the UID used in another calendar of the owner — RFC 4791 §5.3.2.1, RFC 6638
//! §3.2.4.1 —, an existing scheduling object, the quota).

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use utoipa::ToSchema;

use super::objects::{WriteLimits, etag_of, name_for, prepare};
use super::{Principal, ServiceError, ServiceResult};
use crate::calendar::split_by_uid;
use crate::store::{
    Collection, CollectionKind, Expect, NewObject, ObjectMeta, ObjectStore, SchedStore, SchedWrite, SchedWritten, Store,
    StoreError, UserStore,
};

/// Objects per store transaction: large enough that the per-transaction costs (the lock, the
/// seq bump, the commit's fsync) vanish, small enough that a retry after a refusal is cheap.
pub const BATCH: usize = 200;

/// Why an existing scheduling object is left alone: replacing it must tell its attendees.
pub const SCHEDULING_OBJECT: &str = "a scheduling object: change it from a calendar app";

/// What became of one UID of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Added,
    Updated,
    Unchanged,
    Skipped,
}

/// One UID of the file and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImportItem {
    /// The UID ("" for components without one).
    pub uid: String,
    pub outcome: Outcome,
    /// The resource name in the calendar (the CalDAV object's last path segment), when stored
    /// or already there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The stored object's ETag, when stored or already there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// Why it was skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A skipped UID and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Skipped {
    pub uid: String,
    pub reason: String,
}

/// What an import did, in the file's order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct ImportReport {
    pub added: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub skipped: Vec<Skipped>,
    pub items: Vec<ImportItem>,
}

/// Where an import writes: the calendar as its owner sees it (for a share, the caller passes
/// the owner and `Collection::as_owner`), and the limits a PUT respects.
pub struct ImportTarget<'a> {
    pub store: &'a Store,
    pub owner: &'a Principal,
    pub collection: &'a Collection,
    pub limits: &'a WriteLimits,
    /// The reminder sender's wake-up, for an imported alarm due soon (None from the CLI: the
    /// server finds it at its next look).
    pub alarm_wake: Option<&'a tokio::sync::Notify>,
}

/// One UID's object, waiting for its write.
struct Planned {
    /// Index into the report's items.
    item: usize,
    /// The object already in the calendar under this UID.
    existing: Option<ObjectMeta>,
    object: NewObject,
}

/// Imports `data` (an iCalendar file) into the target calendar; `progress` is told
/// (done, total) UIDs as batches finish. An error is returned only when nothing can be
/// imported (not a calendar, not iCalendar text) or the database fails; every refusal of one
/// object is a skipped item of the report.
pub async fn import(t: &ImportTarget<'_>, data: &[u8], progress: &mut (dyn FnMut(usize, usize) + Send)) -> ServiceResult<ImportReport> {
    if t.collection.kind != CollectionKind::Calendar {
        return Err(ServiceError::Conflict(format!("{} is not a calendar", t.collection.path)));
    }
    let text = std::str::from_utf8(data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data))
        .map_err(|e| ServiceError::BadRequest(format!("the file is not UTF-8 text (RFC 5545 §3.1.4): {e}")))?;
    if !text.to_ascii_uppercase().contains("BEGIN:VCALENDAR") {
        return Err(ServiceError::BadRequest("the file holds no VCALENDAR".into()));
    }
    let pieces = split_by_uid(text);
    let total = pieces.len();
    progress(0, total);
    let mut report = Report::new(total);
    // What the calendar and the owner's other calendars hold, read once up front.
    let listed = t.store.list_objects(t.collection.id).await?;
    let mut names: HashSet<String> = listed.iter().map(|m| m.name.clone()).collect();
    let existing: HashMap<String, ObjectMeta> =
        listed.into_iter().filter_map(|m| Some((m.calendar.as_ref()?.uid.clone(), m))).collect();
    let uids: Vec<String> = pieces.iter().filter_map(|p| p.uid.clone()).filter(|u| !existing.contains_key(u)).collect();
    let elsewhere: HashMap<String, String> = t
        .store
        .uid_holders(t.owner.id, &uids)
        .await?
        .into_iter()
        .filter(|h| h.collection != t.collection.id)
        .map(|h| (h.uid, format!("{}/{}", h.path, h.name)))
        .collect();
    let mut used = t.store.used_bytes(t.owner.id).await?;
    // What each piece needs validated: (item, existing, name, bytes).
    let mut todo = Vec::with_capacity(total);
    for (i, piece) in pieces.into_iter().enumerate() {
        let uid = piece.uid.unwrap_or_default();
        report.items.push(ImportItem { uid: uid.clone(), outcome: Outcome::Skipped, name: None, etag: None, reason: None });
        if uid.is_empty() {
            report.skip(i, "a component without a UID (RFC 5545 §3.8.4.7)".into());
            continue;
        }
        if let Some(at) = elsewhere.get(&uid) {
            report.skip(i, format!("the UID is already used in another calendar, at {at} (RFC 4791 §5.3.2.1)"));
            continue;
        }
        let old = existing.get(&uid).cloned();
        if let Some(old) = &old {
            // Identical bytes, identical ETag: nothing to parse, nothing to write.
            if etag_of(piece.data.as_bytes()) == old.etag {
                report.set(i, Outcome::Unchanged, old);
                continue;
            }
            if old.schedule_tag.is_some() {
                report.skip(i, SCHEDULING_OBJECT.into());
                continue;
            }
        }
        let name = match &old {
            Some(old) => old.name.clone(),
            None => {
                let mut name = name_for(&uid);
                // A name another UID holds: a random one rather than a refusal.
                while names.contains(&name) {
                    name = name_for("");
                }
                names.insert(name.clone());
                name
            }
        };
        todo.push((i, old, name, piece.data.into_bytes()));
    }
    let skipped_early = total - todo.len();
    let mut done = skipped_early;
    progress(done, total);
    // Validation (the CPU) runs on blocking threads one batch ahead of the writes (the store).
    let mut batches = Vec::new();
    while !todo.is_empty() {
        let rest = todo.split_off(todo.len().min(BATCH));
        batches.push(std::mem::replace(&mut todo, rest));
    }
    let mut batches = batches.into_iter();
    let mut next = batches.next().map(|b| validate(b, t.collection, t.limits));
    let mut soonest: Option<i64> = None;
    while let Some(pending) = next.take() {
        let checked = validated(pending).await?;
        next = batches.next().map(|b| validate(b, t.collection, t.limits));
        let count = checked.len();
        let mut planned = Vec::with_capacity(count);
        for (i, old, result) in checked {
            let object = match result {
                Ok(object) => object,
                Err(reason) => {
                    report.skip(i, reason);
                    continue;
                }
            };
            let size = i64::try_from(object.data.len()).unwrap_or(i64::MAX);
            let grows = size - old.as_ref().map_or(0, |m| m.size);
            if used.saturating_add(grows) > t.limits.quota_bytes {
                report.skip(i, ServiceError::QuotaExceeded.to_string());
                continue;
            }
            used = used.saturating_add(grows);
            planned.push(Planned { item: i, existing: old, object });
        }
        write_batch(t, planned, &mut report, &mut soonest).await?;
        done += count;
        progress(done, total);
    }
    wake_sender(t, soonest);
    Ok(report.finish())
}

/// A piece to validate: its item, the object it replaces, its resource name and its bytes.
type Piece = (usize, Option<ObjectMeta>, String, Vec<u8>);
/// A validated piece: the object to store, or why not.
type Checked = (usize, Option<ObjectMeta>, Result<NewObject, String>);

/// Starts validating and indexing a batch exactly as a PUT does, on blocking threads (the
/// machine's cores between them), at once: parsing is the import's main cost, must not hold a
/// runtime thread, and runs while the batch before is written.
fn validate(batch: Vec<Piece>, collection: &Collection, limits: &WriteLimits) -> Vec<tokio::task::JoinHandle<Vec<Checked>>> {
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get).max(1);
    let per = batch.len().div_ceil(threads).max(1);
    let mut handles = Vec::with_capacity(threads);
    let mut batch = batch;
    while !batch.is_empty() {
        let rest = batch.split_off(batch.len().min(per));
        let part = std::mem::replace(&mut batch, rest);
        let (collection, limits) = (collection.clone(), limits.clone());
        handles.push(tokio::task::spawn_blocking(move || {
            part.into_iter()
                .map(|(i, old, name, data)| {
                    let result = prepare(&collection, &name, data, Some("text/calendar"), &limits).map_err(|e| e.to_string());
                    (i, old, result)
                })
                .collect::<Vec<_>>()
        }));
    }
    handles
}

/// The results of `validate`, in the batch's order.
async fn validated(handles: Vec<tokio::task::JoinHandle<Vec<Checked>>>) -> ServiceResult<Vec<Checked>> {
    let mut out = Vec::new();
    for h in handles {
        out.extend(h.await.map_err(|e| ServiceError::Internal(format!("import validation: {e}")))?);
    }
    Ok(out)
}

/// Writes one batch in one transaction; an object the store refuses is reported and the rest
/// written again without it.
async fn write_batch(t: &ImportTarget<'_>, mut planned: Vec<Planned>, report: &mut Report, soonest: &mut Option<i64>) -> ServiceResult<()> {
    while !planned.is_empty() {
        let writes: Vec<SchedWrite> = planned
            .iter()
            .map(|p| SchedWrite::Put {
                collection: t.collection.id,
                object: p.object.clone(),
                expect: p.existing.as_ref().map_or(Expect::Absent, |m| Expect::Etag(vec![m.etag.clone()])),
            })
            .collect();
        match t.store.write_scheduling(writes).await {
            Ok(written) => {
                for (p, w) in planned.iter().zip(written) {
                    if let SchedWritten::Put(out) = w {
                        let outcome = if out.created { Outcome::Added } else { Outcome::Updated };
                        report.set(p.item, outcome, &out.meta);
                    }
                    if let Some(due) = p.object.alarms.next_due() {
                        *soonest = Some(soonest.map_or(due, |s| s.min(due)));
                    }
                }
                return Ok(());
            }
            Err(StoreError::InBatch { index, error }) if index < planned.len() => {
                let p = planned.remove(index);
                report.skip(p.item, refusal(*error, &p.object.name));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Why the store refused one object of a batch (the calendar changed while importing).
fn refusal(e: StoreError, name: &str) -> String {
    match e {
        StoreError::SchedulingObject => SCHEDULING_OBJECT.into(),
        StoreError::PreconditionFailed => format!("{name} changed while importing: import again"),
        StoreError::UidConflict { existing_name } => format!("the UID is already used by {existing_name} in this calendar"),
        StoreError::UidReplaced { name } => format!("{name} holds another UID"),
        StoreError::AlreadyExists => format!("a collection is named {name}"),
        other => ServiceError::from(other).to_string(),
    }
}

/// As a PUT does: an alarm due within the sender's longest sleep wakes it.
fn wake_sender(t: &ImportTarget<'_>, due: Option<i64>) {
    const SOON: i64 = 300;
    if let (Some(wake), Some(due)) = (t.alarm_wake, due)
        && due <= super::now().saturating_add(SOON)
    {
        wake.notify_one();
    }
}

/// The report being filled in.
struct Report {
    items: Vec<ImportItem>,
}

impl Report {
    fn new(total: usize) -> Report {
        Report { items: Vec::with_capacity(total) }
    }

    fn skip(&mut self, i: usize, reason: String) {
        if let Some(item) = self.items.get_mut(i) {
            item.outcome = Outcome::Skipped;
            item.reason = Some(reason);
        }
    }

    fn set(&mut self, i: usize, outcome: Outcome, meta: &ObjectMeta) {
        if let Some(item) = self.items.get_mut(i) {
            item.outcome = outcome;
            item.name = Some(meta.name.clone());
            item.etag = Some(meta.etag.clone());
            item.reason = None;
        }
    }

    fn finish(self) -> ImportReport {
        let count = |o: Outcome| self.items.iter().filter(|i| i.outcome == o).count();
        let skipped = self
            .items
            .iter()
            .filter(|i| i.outcome == Outcome::Skipped)
            .map(|i| Skipped { uid: i.uid.clone(), reason: i.reason.clone().unwrap_or_default() })
            .collect();
        ImportReport { added: count(Outcome::Added), updated: count(Outcome::Updated), unchanged: count(Outcome::Unchanged), skipped, items: self.items }
    }
}
