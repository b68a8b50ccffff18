//! The reminder part of the store contract (issue 19, decision 0024), each test on both
//! engines: the schedule row a write leaves (a due row kept, the watermark never moved back),
//! rounds that take each due row once even when two run at once, deliveries recorded once, and
//! the backfill of objects stored before reminders existed.
#![allow(clippy::unwrap_used)]

#[macro_use]
mod support;

use std::sync::{Arc, Mutex};

use kalends::store::{
    AlarmDecision, AlarmStore, CalendarIndex, Collection, CollectionStore, ComponentKind, Expect, FireOutcome,
    FireRecord, NewExternalItip, NewObject, ObjectAlarms, ObjectId, ObjectStore, OutboxKind, SchedStore, Store, UserId,
    UserStore,
};

contract_tests!(
    with_url:
    a_write_keeps_a_due_row_and_never_moves_the_watermark_back,
    concurrent_rounds_take_each_due_row_once,
    a_delivery_is_recorded_once,
    the_backfill_schedules_objects_stored_before,
);

fn now() -> i64 {
    kalends::service::now()
}

async fn calendar(store: &Store) -> (UserId, Collection) {
    let u = kalends::service::users::create(store, "alice", Some("alice@example.org"), "pw").await.unwrap();
    let cal = store.collection_by_path(u.id, "calendar").await.unwrap().unwrap();
    (u.id, cal)
}

fn ics(uid: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\n\
         DTSTART:20300101T100000Z\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT15M\r\nDESCRIPTION:x\r\nEND:VALARM\r\n\
         END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

fn object(name: &str, uid: &str, alarms: ObjectAlarms) -> NewObject {
    let data = ics(uid).into_bytes();
    NewObject {
        name: name.to_owned(),
        etag: kalends::service::objects::etag_of(&data),
        data,
        content_type: "text/calendar; charset=utf-8".to_owned(),
        calendar: Some(CalendarIndex { uid: uid.to_owned(), component: ComponentKind::Event, first_start: None, last_end: None }),
        timeline: None,
        schedule_tag: None,
        alarms,
    }
}

async fn put(store: &Store, cal: &Collection, name: &str, alarms: ObjectAlarms) -> ObjectId {
    store.put_object(cal.id, object(name, name, alarms), Expect::Any).await.unwrap().meta.id
}

async fn slot(store: &Store, id: ObjectId) -> (Option<i64>, i64) {
    let s = store.alarm_slot(id).await.unwrap().unwrap();
    (s.next_due, s.fired_through)
}

/// A decision that fires `key` once (with one email), then looks again at `next`.
fn fire_once_at(key: &str, at: i64, owner: UserId, fired_through: i64, next: Option<i64>) -> AlarmDecision {
    let mail = NewExternalItip {
        owner,
        recipient: "mailto:alice@example.org".into(),
        method: "REMINDER".into(),
        uid: "u".into(),
        data: b"Subject: x\r\n\r\nx\r\n".to_vec(),
    };
    let fire = FireRecord { instance: None, key: key.to_owned(), at, outcome: FireOutcome::Queued, mails: vec![mail] };
    AlarmDecision { fires: vec![fire], fired_through, next_due: next }
}

async fn reminder_rows(store: &Store, owner: UserId) -> usize {
    store.external_of(owner).await.unwrap().iter().filter(|m| m.kind == OutboxKind::Reminder).count()
}

async fn a_write_keeps_a_due_row_and_never_moves_the_watermark_back(store: Store, _url: String) {
    let (owner, cal) = calendar(&store).await;
    let t = now();
    let id = put(&store, &cal, "e.ics", ObjectAlarms::With(Some(t + 1000))).await;
    let (next, ft) = slot(&store, id).await;
    assert_eq!(next, Some(t + 1000));
    assert!((t..=now()).contains(&ft), "the watermark starts at the write: {ft}");

    // A round far ahead (an explicit clock) handles it and looks again later.
    let round = store.fire_due_alarms(t + 2000, 10, |_: &_| fire_once_at("DISPLAY@1", t + 1000, owner, t + 2000, Some(t + 5000))).await.unwrap();
    assert_eq!((round.rows, round.queued, round.mails), (1, 1, 1));
    assert_eq!(slot(&store, id).await, (Some(t + 5000), t + 2000));
    // A write on the real clock (before t+2000) reschedules but keeps the watermark.
    put(&store, &cal, "e.ics", ObjectAlarms::With(Some(t + 1000))).await;
    assert_eq!(slot(&store, id).await, (Some(t + 1000), t + 2000));
    // A write without alarms clears the due time; the row keeps the watermark.
    put(&store, &cal, "e.ics", ObjectAlarms::Without).await;
    assert_eq!(slot(&store, id).await, (None, t + 2000));

    // A row due and not yet handled survives writes, with or without alarms.
    put(&store, &cal, "e.ics", ObjectAlarms::With(Some(t - 100))).await;
    assert_eq!(slot(&store, id).await, (Some(t - 100), t + 2000));
    put(&store, &cal, "e.ics", ObjectAlarms::With(Some(t + 3000))).await;
    assert_eq!(slot(&store, id).await.0, Some(t - 100));
    put(&store, &cal, "e.ics", ObjectAlarms::Without).await;
    assert_eq!(slot(&store, id).await.0, Some(t - 100));
    // Due for over a minute and not handled: what the operator's alert watches.
    let metrics = kalends::metrics::Metrics::new("test", store.clone(), kalends::cache::Cache::memory(16), None);
    let text = metrics.render().await;
    assert!(text.lines().any(|l| l == "kalends_reminders_overdue 1"), "{text}");
    // A new object without alarms gets no row; deleting the object takes the row along.
    let plain = put(&store, &cal, "p.ics", ObjectAlarms::Without).await;
    assert!(store.alarm_slot(plain).await.unwrap().is_none());
    store.delete_object(cal.id, "e.ics", Expect::Any).await.unwrap();
    assert!(store.alarm_slot(id).await.unwrap().is_none());
    assert_eq!(store.earliest_alarm().await.unwrap(), None);
}

async fn concurrent_rounds_take_each_due_row_once(store: Store, _url: String) {
    let (owner, cal) = calendar(&store).await;
    let t = now();
    for i in 0..300 {
        put(&store, &cal, &format!("o{i}.ics"), ObjectAlarms::With(Some(t + 100 + i))).await;
    }
    put(&store, &cal, "later.ics", ObjectAlarms::With(Some(t + 10_000))).await;
    assert_eq!(store.due_alarm_count(t + 1000).await.unwrap(), 300);
    assert_eq!(store.earliest_alarm().await.unwrap(), Some(t + 100));
    let seen: Arc<Mutex<Vec<i64>>> = Arc::default();
    let node = |store: Store, seen: Arc<Mutex<Vec<i64>>>| async move {
        let mut total = 0u64;
        loop {
            let round = store
                .fire_due_alarms(t + 1000, 25, |due: &kalends::store::DueAlarm| {
                    seen.lock().unwrap().push(due.object.0);
                    fire_once_at("DISPLAY@1", due.next_due, owner, t + 1000, None)
                })
                .await
                .unwrap();
            total += round.queued;
            if round.rows == 0 {
                return total;
            }
        }
    };
    let (a, b) = tokio::join!(node(store.clone(), seen.clone()), node(store.clone(), seen.clone()));
    assert_eq!(a + b, 300);
    let mut ids = seen.lock().unwrap().clone();
    let decided = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!((decided, ids.len()), (300, 300), "every due row decided once, by one round");
    assert_eq!(reminder_rows(&store, owner).await, 300);
    assert_eq!(store.alarm_deliveries_of(owner).await.unwrap().len(), 300);
    assert_eq!(store.due_alarm_count(t + 1000).await.unwrap(), 0);
    assert_eq!(store.earliest_alarm().await.unwrap(), Some(t + 10_000), "the rest is untouched");
}

async fn a_delivery_is_recorded_once(store: Store, _url: String) {
    let (owner, cal) = calendar(&store).await;
    let t = now();
    put(&store, &cal, "d.ics", ObjectAlarms::With(Some(t + 100))).await;
    // A round that records the fire but leaves the row due (as a round that never stored its
    // watermark would): the next round's identical fire is a duplicate, and no second email.
    let first = store.fire_due_alarms(t + 200, 10, |_: &_| fire_once_at("DISPLAY@9", t + 100, owner, t, Some(t + 100))).await.unwrap();
    assert_eq!((first.queued, first.duplicates), (1, 0));
    let again = store.fire_due_alarms(t + 200, 10, |_: &_| fire_once_at("DISPLAY@9", t + 100, owner, t + 200, None)).await.unwrap();
    assert_eq!((again.rows, again.queued, again.mails, again.duplicates), (1, 0, 0, 1));
    assert_eq!(reminder_rows(&store, owner).await, 1);
    // Reminder rows do not count against the organizer's iMIP send limits.
    assert_eq!(store.external_sent_since(owner, 0, 0).await.unwrap(), (0, 0));
    // Recorded at the round's time (t + 200), pruned by age.
    assert_eq!(store.prune_alarm_deliveries(t + 200).await.unwrap(), 0);
    assert_eq!(store.prune_alarm_deliveries(t + 201).await.unwrap(), 1);
    assert!(store.alarm_deliveries_of(owner).await.unwrap().is_empty());
}

async fn the_backfill_schedules_objects_stored_before(store: Store, url: String) {
    let (_, cal) = calendar(&store).await;
    // Objects as an older version stored them: no schedule rows.
    let old = put(&store, &cal, "old.ics", ObjectAlarms::Without).await;
    let old2 = put(&store, &cal, "old2.ics", ObjectAlarms::Without).await;
    assert!(store.alarm_slot(old).await.unwrap().is_none());
    // The migration's mark: objects up to the largest id then are the pass's.
    let statement = "UPDATE alarm_backfill SET cursor = 0, until_id = (SELECT MAX(id) FROM objects)";
    if url.starts_with("sqlite") {
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        sqlx::query(statement).execute(&pool).await.unwrap();
    } else {
        let pool = sqlx::PgPool::connect(&url).await.unwrap();
        sqlx::query(statement).execute(&pool).await.unwrap();
    }
    // A later write has its own row, which the pass leaves alone.
    let new = put(&store, &cal, "new.ics", ObjectAlarms::With(Some(now() + 7))).await;
    let scheduled = kalends::service::reminders::backfill_once(&store, now()).await.unwrap();
    assert_eq!(scheduled, 2);
    // 2030-01-01T09:45Z is beyond the look-ahead: a re-check at its cap.
    for id in [old, old2] {
        let (next, _) = slot(&store, id).await;
        let next = next.unwrap();
        assert!((now() + 59 * 86_400..=now() + 61 * 86_400).contains(&next), "{next}");
    }
    assert!(slot(&store, new).await.0.unwrap() <= now() + 7);
    // Done: a second pass finds nothing.
    assert_eq!(kalends::service::reminders::backfill_once(&store, now()).await.unwrap(), 0);
    assert!(store.user_by_name("alice").await.unwrap().is_some());
}
