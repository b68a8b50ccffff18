//! Reminders (issue 19, decision 0024): the schedule row an object's write leaves
//! (`write_slot`, inside that write's transaction), the sender's rounds over due rows (locked
//! for the round: `claim_lock!` skips rows another node holds on PostgreSQL, `BEGIN IMMEDIATE`
//! serializes on SQLite), the deliveries whose UNIQUE key makes each fire happen once, the
//! backfill of objects stored before reminders existed, and the per-user setting;
//! `impl AlarmStore`.

use std::collections::HashMap;

use sqlx::FromRow;

use crate::store::retry::commit_failed;
use super::{Conn, Db, Engine};
use crate::store::{
    AlarmDecision, AlarmDelivery, AlarmRound, AlarmSlot, AlarmStore, BackfillObject, CollectionId, Decide, DueAlarm, FireOutcome,
    ObjectAlarms, ObjectId, StoreResult, Timestamp, UserId,
};

/// The `instance` of a fire on a component that does not recur (NULLs would not collide in the
/// UNIQUE key).
const NO_INSTANCE: i64 = i64::MIN;

/// This capability's SQL, shared by both engines.
pub mod sql {
    /// A write's schedule: while the row is due and not yet handled (next_due at or before the
    /// write's time `$3`), it stays as it is, so the sender still looks at it and fires what is
    /// due under the new text — a write never drops a due alarm. Otherwise the write's next due
    /// time replaces it and the watermark moves up to the write's time, never back: a fire
    /// already handled is never fired again, and an edit that puts an alarm in the past does
    /// not send it.
    pub const UPSERT_SLOT: &str = "INSERT INTO alarm_schedule (object_id, next_due, fired_through) VALUES ($1, $2, $3) \
         ON CONFLICT (object_id) DO UPDATE SET \
         next_due = CASE WHEN alarm_schedule.next_due <= $3 THEN alarm_schedule.next_due ELSE excluded.next_due END, \
         fired_through = CASE WHEN alarm_schedule.next_due <= $3 OR alarm_schedule.fired_through > $3 \
         THEN alarm_schedule.fired_through ELSE $3 END";
    /// A write that leaves nothing to fire: nothing is due any more, unless it is due now (the
    /// sender decides those with the new text, as above). The row and its watermark stay: a
    /// later write that brings an alarm back must not fire what was handled before.
    pub const CLEAR_SLOT: &str = "UPDATE alarm_schedule SET next_due = NULL WHERE object_id = $1 AND next_due > $2";
    /// COPY of one object: the copy gets the source's schedule, its watermark at least now.
    pub const COPY_SLOT: &str = "INSERT INTO alarm_schedule (object_id, next_due, fired_through) \
         SELECT $2, next_due, CASE WHEN fired_through > $3 THEN fired_through ELSE $3 END \
         FROM alarm_schedule WHERE object_id = $1";
    /// COPY of a collection: each copied member (matched by name) gets its source's schedule.
    pub const COPY_MEMBER_SLOTS: &str = "INSERT INTO alarm_schedule (object_id, next_due, fired_through) \
         SELECT n.id, s.next_due, CASE WHEN s.fired_through > $3 THEN s.fired_through ELSE $3 END \
         FROM alarm_schedule s JOIN objects o ON o.id = s.object_id \
         JOIN objects n ON n.collection_id = $2 AND n.name = o.name WHERE o.collection_id = $1";
    /// The round's rows: due ones, earliest first, locked by the subquery (`claim_lock!`: FOR
    /// UPDATE SKIP LOCKED on PostgreSQL, so two nodes' rounds take disjoint rows; nothing on
    /// SQLite, where the round's BEGIN IMMEDIATE is the lock). Only schedule rows are locked:
    /// the object's and collection's writers are never blocked by a round.
    pub const CLAIM_DUE: &str = concat!(
        "SELECT s.object_id, s.next_due, s.fired_through, o.data, COALESCE(o.uid, '') AS uid, \
         c.id AS collection_id, c.path, c.displayname, c.timezone, c.owner_id, u.name AS owner_name, \
         u.email AS owner_email, u.reminder_emails \
         FROM alarm_schedule s JOIN objects o ON o.id = s.object_id \
         JOIN collections c ON c.id = o.collection_id JOIN users u ON u.id = c.owner_id \
         WHERE s.object_id IN (SELECT object_id FROM alarm_schedule WHERE next_due <= $1 \
         ORDER BY next_due LIMIT $2",
        claim_lock!(),
        ") ORDER BY s.next_due, s.object_id"
    );
    pub const QUEUED_SINCE: &str =
        "SELECT COUNT(*) FROM alarm_deliveries WHERE owner_id = $1 AND created_at > $2 AND outcome = 'queued'";
    /// A fire's delivery: a row comes back only when it is new.
    pub const INSERT_DELIVERY: &str = "INSERT INTO alarm_deliveries (object_id, owner_id, instance, fire_key, \
         fire_at, created_at, outcome) VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (object_id, instance, fire_key) DO NOTHING RETURNING id";
    pub const QUEUE_REMINDER: &str = "INSERT INTO itip_outbox (owner_id, recipient, method, uid, data, \
         created_at, next_attempt_at, kind) VALUES ($1, $2, $3, $4, $5, $6, $6, 'reminder')";
    pub const SETTLE_SLOT: &str = "UPDATE alarm_schedule SET fired_through = $2, next_due = $3 WHERE object_id = $1";
    /// Index-only on the partial index of due times.
    pub const EARLIEST: &str = "SELECT MIN(next_due) FROM alarm_schedule WHERE next_due IS NOT NULL";
    pub const DUE_COUNT: &str = "SELECT COUNT(*) FROM alarm_schedule WHERE next_due <= $1";
    pub const SLOT: &str = "SELECT object_id, next_due, fired_through FROM alarm_schedule WHERE object_id = $1";
    pub const DELIVERIES_OF: &str = "SELECT object_id, instance, fire_key, fire_at, created_at, outcome FROM alarm_deliveries \
         WHERE owner_id = $1 ORDER BY id";
    pub const PRUNE_DELIVERIES: &str = "DELETE FROM alarm_deliveries WHERE created_at < $1";
    pub const SET_REMINDER_EMAILS: &str = "UPDATE users SET reminder_emails = $2 WHERE id = $1";
    pub const REMINDER_EMAILS: &str = "SELECT reminder_emails FROM users WHERE id = $1";
    pub const BACKFILL_STATE: &str = "SELECT cursor, until_id FROM alarm_backfill WHERE id = 1";
    pub const BACKFILL_BATCH: &str = "SELECT o.id, o.data, c.timezone FROM objects o \
         JOIN collections c ON c.id = o.collection_id \
         WHERE o.id > $1 AND o.id <= $2 AND o.component IN ('VEVENT', 'VTODO') AND c.kind = 'calendar' \
         ORDER BY o.id LIMIT $3";
    /// Only for an object still there; a row its writer made meanwhile wins.
    pub const BACKFILL_INSERT: &str = "INSERT INTO alarm_schedule (object_id, next_due, fired_through) \
         SELECT $1, $2, $3 WHERE EXISTS (SELECT 1 FROM objects WHERE id = $1) \
         ON CONFLICT (object_id) DO NOTHING";
    pub const BACKFILL_ADVANCE: &str = "UPDATE alarm_backfill SET cursor = $1 WHERE id = 1 AND cursor < $1";
}

struct DueRow {
    object_id: i64,
    next_due: i64,
    fired_through: i64,
    data: Vec<u8>,
    uid: String,
    collection_id: i64,
    path: String,
    displayname: Option<String>,
    timezone: Option<String>,
    owner_id: i64,
    owner_name: String,
    owner_email: Option<String>,
    reminder_emails: bool,
}
from_row!(DueRow {
    object_id, next_due, fired_through, data, uid, collection_id, path, displayname, timezone, owner_id, owner_name,
    owner_email, reminder_emails
});

struct SlotRow {
    object_id: i64,
    next_due: Option<i64>,
    fired_through: i64,
}
from_row!(SlotRow { object_id, next_due, fired_through });

struct DeliveryRow {
    object_id: i64,
    instance: i64,
    fire_key: String,
    fire_at: i64,
    created_at: i64,
    outcome: String,
}
from_row!(DeliveryRow { object_id, instance, fire_key, fire_at, created_at, outcome });

struct BackfillRow {
    id: i64,
    data: Vec<u8>,
    timezone: Option<String>,
}
from_row!(BackfillRow { id, data, timezone });

/// Stores what a write of object `id` leaves to fire (`existed`: the write replaced an object,
/// which may have a row). Runs inside the write's transaction.
pub(super) async fn write_slot(conn: &mut Conn, id: i64, alarms: ObjectAlarms, existed: bool, now: Timestamp) -> StoreResult<()> {
    match alarms.next_due() {
        Some(next) => {
            sqlx::query(sql::UPSERT_SLOT).bind(id).bind(next).bind(now).execute(&mut *conn).await?;
        }
        None if existed => {
            sqlx::query(sql::CLEAR_SLOT).bind(id).bind(now).execute(&mut *conn).await?;
        }
        None => {}
    }
    Ok(())
}

/// COPY of one object: the copy `to` inherits the schedule of `from`.
pub(super) async fn copy_slot(conn: &mut Conn, from: i64, to: i64, now: Timestamp) -> StoreResult<()> {
    sqlx::query(sql::COPY_SLOT).bind(from).bind(to).bind(now).execute(&mut *conn).await?;
    Ok(())
}

/// COPY of a collection's members from `from` into `to`.
pub(super) async fn copy_member_slots(conn: &mut Conn, from: CollectionId, to: CollectionId, now: Timestamp) -> StoreResult<()> {
    sqlx::query(sql::COPY_MEMBER_SLOTS).bind(from.0).bind(to.0).bind(now).execute(&mut *conn).await?;
    Ok(())
}

fn instance_of(i: Option<Timestamp>) -> i64 {
    i.unwrap_or(NO_INSTANCE)
}

/// One due row's decision written: its new deliveries (with their mails) and its schedule.
async fn apply(conn: &mut Conn, row: &DueAlarm, decision: AlarmDecision, now: Timestamp, round: &mut AlarmRound) -> StoreResult<()> {
    for fire in decision.fires {
        let inserted: Option<i64> = sqlx::query_scalar(sql::INSERT_DELIVERY)
            .bind(row.object.0)
            .bind(row.owner.0)
            .bind(instance_of(fire.instance))
            .bind(&fire.key)
            .bind(fire.at)
            .bind(now)
            .bind(fire.outcome.as_str())
            .fetch_optional(&mut *conn)
            .await?;
        if inserted.is_none() {
            round.duplicates += 1;
            continue;
        }
        match fire.outcome {
            FireOutcome::Queued => round.queued += 1,
            FireOutcome::Late => round.late += 1,
            FireOutcome::Capped => round.capped += 1,
            FireOutcome::Unaddressed => round.unaddressed += 1,
        }
        if fire.outcome != FireOutcome::Queued {
            continue;
        }
        for mail in fire.mails {
            sqlx::query(sql::QUEUE_REMINDER)
                .bind(mail.owner.0)
                .bind(&mail.recipient)
                .bind(&mail.method)
                .bind(&mail.uid)
                .bind(&mail.data)
                .bind(now)
                .execute(&mut *conn)
                .await?;
            round.mails += 1;
        }
    }
    // Nothing more to fire: the row stays with its watermark (and leaves the due index).
    sqlx::query(sql::SETTLE_SLOT)
        .bind(row.object.0)
        .bind(decision.fired_through)
        .bind(decision.next_due)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

impl AlarmStore for Engine {
    async fn fire_due_alarms<F: Decide>(&self, now: Timestamp, limit: u32, mut decide: F) -> StoreResult<AlarmRound> {
        let mut tx = self.begin_write().await?;
        let rows: Vec<DueRow> = sqlx::query_as(sql::CLAIM_DUE).bind(now).bind(i64::from(limit)).fetch_all(&mut *tx).await?;
        let mut round = AlarmRound { rows: rows.len() as u64, ..AlarmRound::default() };
        if rows.is_empty() {
            return Ok(round);
        }
        let mut queued: HashMap<i64, i64> = HashMap::new();
        for r in rows {
            let queued_last_hour = match queued.get(&r.owner_id) {
                Some(n) => *n,
                None => {
                    let n: i64 = sqlx::query_scalar(sql::QUEUED_SINCE)
                        .bind(r.owner_id)
                        .bind(now.saturating_sub(3600))
                        .fetch_one(&mut *tx)
                        .await?;
                    queued.insert(r.owner_id, n);
                    n
                }
            };
            let due = DueAlarm {
                object: ObjectId(r.object_id),
                next_due: r.next_due,
                fired_through: r.fired_through,
                data: r.data,
                uid: r.uid,
                collection: CollectionId(r.collection_id),
                collection_path: r.path,
                calendar_name: r.displayname,
                timezone: r.timezone,
                owner: UserId(r.owner_id),
                owner_name: r.owner_name,
                owner_email: r.owner_email,
                reminder_emails: r.reminder_emails,
                queued_last_hour,
            };
            let decision = decide(&due);
            let newly = decision.fires.iter().filter(|f| f.outcome == FireOutcome::Queued).count();
            apply(&mut tx, &due, decision, now, &mut round).await?;
            *queued.entry(r.owner_id).or_insert(0) += i64::try_from(newly).unwrap_or(i64::MAX);
        }
        tx.commit().await.map_err(commit_failed)?;
        Ok(round)
    }

    async fn earliest_alarm(&self) -> StoreResult<Option<Timestamp>> {
        Ok(sqlx::query_scalar::<_, Option<i64>>(sql::EARLIEST).fetch_one(&mut *self.reader().await?).await?)
    }

    async fn due_alarm_count(&self, now: Timestamp) -> StoreResult<i64> {
        Ok(sqlx::query_scalar(sql::DUE_COUNT).bind(now).fetch_one(&mut *self.reader().await?).await?)
    }

    async fn alarm_slot(&self, object: ObjectId) -> StoreResult<Option<AlarmSlot>> {
        let row: Option<SlotRow> = sqlx::query_as(sql::SLOT).bind(object.0).fetch_optional(&mut *self.reader().await?).await?;
        Ok(row.map(|r| AlarmSlot { object: ObjectId(r.object_id), next_due: r.next_due, fired_through: r.fired_through }))
    }

    async fn alarm_deliveries_of(&self, owner: UserId) -> StoreResult<Vec<AlarmDelivery>> {
        let rows: Vec<DeliveryRow> =
            sqlx::query_as(sql::DELIVERIES_OF).bind(owner.0).fetch_all(&mut *self.reader().await?).await?;
        Ok(rows
            .into_iter()
            .map(|r| AlarmDelivery {
                object: ObjectId(r.object_id),
                instance: (r.instance != NO_INSTANCE).then_some(r.instance),
                key: r.fire_key,
                at: r.fire_at,
                recorded_at: r.created_at,
                outcome: r.outcome,
            })
            .collect())
    }

    async fn prune_alarm_deliveries(&self, before: Timestamp) -> StoreResult<u64> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(sql::PRUNE_DELIVERIES).bind(before).execute(&mut *tx).await?;
        tx.commit().await.map_err(commit_failed)?;
        Ok(done.rows_affected())
    }

    async fn set_reminder_emails(&self, user: UserId, on: bool) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(sql::SET_REMINDER_EMAILS).bind(user.0).bind(on).execute(&mut *tx).await?;
        tx.commit().await.map_err(commit_failed)?;
        Ok(done.rows_affected() == 1)
    }

    async fn reminder_emails(&self, user: UserId) -> StoreResult<Option<bool>> {
        Ok(sqlx::query_scalar(sql::REMINDER_EMAILS).bind(user.0).fetch_optional(&mut *self.reader().await?).await?)
    }

    async fn backfill_batch(&self, limit: u32) -> StoreResult<Vec<BackfillObject>> {
        let mut conn = self.reader().await?;
        let state: Option<(i64, i64)> = sqlx::query_as(sql::BACKFILL_STATE).fetch_optional(&mut *conn).await?;
        let Some((cursor, until)) = state else { return Ok(Vec::new()) };
        if cursor >= until {
            return Ok(Vec::new());
        }
        let rows: Vec<BackfillRow> =
            sqlx::query_as(sql::BACKFILL_BATCH).bind(cursor).bind(until).bind(i64::from(limit)).fetch_all(&mut *conn).await?;
        if rows.is_empty() {
            // No calendar object is left in the range: the pass is over.
            drop(conn);
            let mut tx = self.begin_write().await?;
            sqlx::query(sql::BACKFILL_ADVANCE).bind(until).execute(&mut *tx).await?;
            tx.commit().await.map_err(commit_failed)?;
        }
        Ok(rows.into_iter().map(|r| BackfillObject { object: ObjectId(r.id), data: r.data, timezone: r.timezone }).collect())
    }

    async fn backfill_store(&self, through: ObjectId, slots: Vec<(ObjectId, Timestamp)>, now: Timestamp) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        for (object, next) in slots {
            sqlx::query(sql::BACKFILL_INSERT).bind(object.0).bind(next).bind(now).execute(&mut *tx).await?;
        }
        sqlx::query(sql::BACKFILL_ADVANCE).bind(through.0).execute(&mut *tx).await?;
        tx.commit().await.map_err(commit_failed)?;
        Ok(())
    }
}
