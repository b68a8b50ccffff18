//! The store's side of server-sent reminders (issue 19, decision 0024): the schedule row each
//! object with alarms keeps (written by the object's own write), the sender's rounds over the
//! due rows (locked for the round, so two nodes never take the same row), the deliveries that
//! make each fire happen once, and the per-user setting.

use std::future::Future;

use super::{CollectionId, NewExternalItip, ObjectId, Store, StoreResult, Timestamp, UserId};

/// What a write leaves in an object's schedule row (computed by `calendar::alarm` at write
/// time). `Without` for an object with nothing that fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ObjectAlarms {
    #[default]
    Without,
    /// The object has alarms: the earliest fire (or re-check) after the write's time, `None`
    /// when every one of them is already past.
    With(Option<Timestamp>),
}

impl ObjectAlarms {
    /// The due time the write stores, if any.
    pub fn next_due(self) -> Option<Timestamp> {
        match self {
            ObjectAlarms::With(next) => next,
            ObjectAlarms::Without => None,
        }
    }
}

/// One due schedule row, with what the sender needs to decide it: the object's text, its
/// calendar, and its owner.
#[derive(Debug, Clone)]
pub struct DueAlarm {
    pub object: ObjectId,
    pub next_due: Timestamp,
    /// Every fire at or before this was handled.
    pub fired_through: Timestamp,
    pub data: Vec<u8>,
    pub uid: String,
    pub collection: CollectionId,
    pub collection_path: String,
    pub calendar_name: Option<String>,
    /// The calendar's calendar-timezone text (RFC 4791 §5.2.2), for floating times and dates.
    pub timezone: Option<String>,
    pub owner: UserId,
    pub owner_name: String,
    pub owner_email: Option<String>,
    /// The owner's setting: DISPLAY and AUDIO alarms are emailed too.
    pub reminder_emails: bool,
    /// Reminder emails queued for the owner in the hour before the round (the per-user cap).
    pub queued_last_hour: i64,
}

/// How one fire was handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FireOutcome {
    /// Its emails were queued in the outbox.
    Queued,
    /// More than `max_late` past its time (the server was down): dropped.
    Late,
    /// Over the owner's hourly cap: dropped.
    Capped,
    /// Nobody it may go to (an EMAIL alarm to addresses that are not the owner's).
    Unaddressed,
}

impl FireOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            FireOutcome::Queued => "queued",
            FireOutcome::Late => "late",
            FireOutcome::Capped => "capped",
            FireOutcome::Unaddressed => "unaddressed",
        }
    }
}

/// One fire handled by a round.
#[derive(Debug, Clone)]
pub struct FireRecord {
    /// The instance's RECURRENCE-ID, None for a non-recurring component.
    pub instance: Option<Timestamp>,
    pub key: String,
    pub at: Timestamp,
    pub outcome: FireOutcome,
    /// The emails to queue when the delivery is new (kind `reminder`, data = the whole message).
    pub mails: Vec<NewExternalItip>,
}

/// The sender's decision for one due row.
#[derive(Debug, Clone)]
pub struct AlarmDecision {
    pub fires: Vec<FireRecord>,
    /// The new watermark (the round's time).
    pub fired_through: Timestamp,
    /// When to look again; None: nothing will fire (the row keeps its watermark).
    pub next_due: Option<Timestamp>,
}

/// What one round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AlarmRound {
    /// Rows taken.
    pub rows: u64,
    /// Deliveries newly recorded, by outcome.
    pub queued: u64,
    pub late: u64,
    pub capped: u64,
    pub unaddressed: u64,
    /// Emails put in the outbox.
    pub mails: u64,
    /// Fires already recorded (another round got there first): nothing sent for them.
    pub duplicates: u64,
}

impl std::ops::AddAssign for AlarmRound {
    fn add_assign(&mut self, o: AlarmRound) {
        self.rows += o.rows;
        self.queued += o.queued;
        self.late += o.late;
        self.capped += o.capped;
        self.unaddressed += o.unaddressed;
        self.mails += o.mails;
        self.duplicates += o.duplicates;
    }
}

/// A recorded delivery, for tests and the admin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlarmDelivery {
    pub object: ObjectId,
    pub instance: Option<Timestamp>,
    pub key: String,
    pub at: Timestamp,
    /// When the round that handled it ran (its mail went to the outbox then).
    pub recorded_at: Timestamp,
    pub outcome: String,
}

/// A schedule row as stored, for tests and the admin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlarmSlot {
    pub object: ObjectId,
    pub next_due: Option<Timestamp>,
    pub fired_through: Timestamp,
}

/// An object the backfill pass schedules (stored before reminders existed).
#[derive(Debug, Clone)]
pub struct BackfillObject {
    pub object: ObjectId,
    pub data: Vec<u8>,
    pub timezone: Option<String>,
}

/// The decision callback of a round: pure and quick, it runs inside the round's transaction.
pub trait Decide: FnMut(&DueAlarm) -> AlarmDecision + Send {}
impl<F: FnMut(&DueAlarm) -> AlarmDecision + Send> Decide for F {}

pub trait AlarmStore {
    /// One round at `now`: takes up to `limit` rows due at `now` (earliest first; rows another
    /// node's round holds are skipped), asks `decide` about each, records its fires (a mail is
    /// queued only for a delivery not recorded before), and stores the new watermark and due
    /// time, all in one transaction.
    fn fire_due_alarms<F: Decide>(&self, now: Timestamp, limit: u32, decide: F) -> impl Future<Output = StoreResult<AlarmRound>> + Send;
    /// The earliest due time stored (the sender sleeps until then).
    fn earliest_alarm(&self) -> impl Future<Output = StoreResult<Option<Timestamp>>> + Send;
    /// How many rows are due at `now` (metrics, logs).
    fn due_alarm_count(&self, now: Timestamp) -> impl Future<Output = StoreResult<i64>> + Send;
    fn alarm_slot(&self, object: ObjectId) -> impl Future<Output = StoreResult<Option<AlarmSlot>>> + Send;
    /// Every delivery of the owner, oldest first (tests, admin).
    fn alarm_deliveries_of(&self, owner: UserId) -> impl Future<Output = StoreResult<Vec<AlarmDelivery>>> + Send;
    /// Deletes deliveries recorded before `before` (the watermark keeps their fires handled).
    fn prune_alarm_deliveries(&self, before: Timestamp) -> impl Future<Output = StoreResult<u64>> + Send;
    /// The user's DISPLAY/AUDIO-to-email setting; false when there is no such user.
    fn set_reminder_emails(&self, user: UserId, on: bool) -> impl Future<Output = StoreResult<bool>> + Send;
    fn reminder_emails(&self, user: UserId) -> impl Future<Output = StoreResult<Option<bool>>> + Send;
    /// The next objects of the backfill pass (ids above its cursor, up to the largest id when
    /// reminders came), at most `limit`; empty when the pass is over.
    fn backfill_batch(&self, limit: u32) -> impl Future<Output = StoreResult<Vec<BackfillObject>>> + Send;
    /// Stores the schedules the pass computed (rows a write created meanwhile stay as they are)
    /// and moves its cursor to `through`.
    fn backfill_store(
        &self,
        through: ObjectId,
        slots: Vec<(ObjectId, Timestamp)>,
        now: Timestamp,
    ) -> impl Future<Output = StoreResult<()>> + Send;
}

impl AlarmStore for Store {
    async fn fire_due_alarms<F: Decide>(&self, now: Timestamp, limit: u32, decide: F) -> StoreResult<AlarmRound> {
        match self {
            Store::Sqlite(s) => s.fire_due_alarms(now, limit, decide).await,
            Store::Postgres(s) => s.fire_due_alarms(now, limit, decide).await,
        }
    }
    async fn earliest_alarm(&self) -> StoreResult<Option<Timestamp>> {
        match self {
            Store::Sqlite(s) => s.earliest_alarm().await,
            Store::Postgres(s) => s.earliest_alarm().await,
        }
    }
    async fn due_alarm_count(&self, now: Timestamp) -> StoreResult<i64> {
        match self {
            Store::Sqlite(s) => s.due_alarm_count(now).await,
            Store::Postgres(s) => s.due_alarm_count(now).await,
        }
    }
    async fn alarm_slot(&self, object: ObjectId) -> StoreResult<Option<AlarmSlot>> {
        match self {
            Store::Sqlite(s) => s.alarm_slot(object).await,
            Store::Postgres(s) => s.alarm_slot(object).await,
        }
    }
    async fn alarm_deliveries_of(&self, owner: UserId) -> StoreResult<Vec<AlarmDelivery>> {
        match self {
            Store::Sqlite(s) => s.alarm_deliveries_of(owner).await,
            Store::Postgres(s) => s.alarm_deliveries_of(owner).await,
        }
    }
    async fn prune_alarm_deliveries(&self, before: Timestamp) -> StoreResult<u64> {
        match self {
            Store::Sqlite(s) => s.prune_alarm_deliveries(before).await,
            Store::Postgres(s) => s.prune_alarm_deliveries(before).await,
        }
    }
    async fn set_reminder_emails(&self, user: UserId, on: bool) -> StoreResult<bool> {
        match self {
            Store::Sqlite(s) => s.set_reminder_emails(user, on).await,
            Store::Postgres(s) => s.set_reminder_emails(user, on).await,
        }
    }
    async fn reminder_emails(&self, user: UserId) -> StoreResult<Option<bool>> {
        match self {
            Store::Sqlite(s) => s.reminder_emails(user).await,
            Store::Postgres(s) => s.reminder_emails(user).await,
        }
    }
    async fn backfill_batch(&self, limit: u32) -> StoreResult<Vec<BackfillObject>> {
        match self {
            Store::Sqlite(s) => s.backfill_batch(limit).await,
            Store::Postgres(s) => s.backfill_batch(limit).await,
        }
    }
    async fn backfill_store(&self, through: ObjectId, slots: Vec<(ObjectId, Timestamp)>, now: Timestamp) -> StoreResult<()> {
        match self {
            Store::Sqlite(s) => s.backfill_store(through, slots, now).await,
            Store::Postgres(s) => s.backfill_store(through, slots, now).await,
        }
    }
}
