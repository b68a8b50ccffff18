//! Reminders the server emails itself (issue 19, docs/decisions/0024-reminders.md): the
//! schedule a write stores with its object (`object_alarms`), the sender's rounds
//! (`fire_once`: each due object's fires since its watermark become deliveries and emails in
//! the iMIP outbox, in one transaction), the backfill of objects stored before reminders
//! existed, and the per-user opt-out (optout.rs).

mod decide;
pub mod optout;

use std::time::Duration;

use lettre::message::Mailbox;

use super::{ServiceError, ServiceResult};
use crate::calendar::alarm::{AlarmContext, NextDue, may_have_alarms, next_due, next_due_parsed};
use crate::calendar::validate::Parsed;
use crate::calendar::parse_calendar_timezone;
use crate::config::Config;
use crate::store::{AlarmRound, AlarmStore, Collection, CollectionKind, ObjectAlarms, RsvpKey, Store, Timestamp, UserStore};

pub use decide::decide;

/// Instances one schedule computation expands at most (a minutely alarm over the look-ahead
/// is cut here; what lies beyond is looked at when the schedule is re-checked).
pub const MAX_INSTANCES: usize = 5_000;

/// What the sender needs, from `[reminders]` and the mail settings.
#[derive(Debug, Clone)]
pub struct ReminderSettings {
    pub enabled: bool,
    pub max_late_secs: i64,
    pub per_user_per_hour: i64,
    pub email_others: bool,
    pub lookahead_secs: i64,
    pub batch: u32,
    pub max_sleep: Duration,
    /// The server's public URL (its base path included): the calendar link and the opt-out
    /// link (none without it).
    pub public_url: Option<String>,
}

impl ReminderSettings {
    pub fn from_config(config: &Config) -> ReminderSettings {
        let r = &config.reminders;
        let secs = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        ReminderSettings {
            enabled: r.enabled,
            max_late_secs: secs(r.max_late_minutes).saturating_mul(60),
            per_user_per_hour: i64::from(r.per_user_per_hour),
            email_others: r.email_others,
            lookahead_secs: LOOKAHEAD,
            batch: r.batch.max(1),
            max_sleep: Duration::from_secs(r.max_sleep_secs.max(1)),
            public_url: config.public_url.clone(),
        }
    }
}

/// How far ahead a schedule looks (issue 19: far-future alarms are re-checked on a cap rather
/// than expanded indefinitely); an alarm further out is looked at again then.
pub const LOOKAHEAD: i64 = 60 * 86_400;

/// The zone floating times and dates are read in: the calendar's calendar-timezone, else UTC
/// (RFC 4791 §7.3).
pub fn calendar_zone(timezone: Option<&str>) -> chrono_tz::Tz {
    timezone.and_then(|t| parse_calendar_timezone(t).ok()).and_then(|t| t.zone).unwrap_or(chrono_tz::UTC)
}

/// The schedule a write stores with `data` in `collection` at `now`: the next fire (or
/// re-check) after now. Computed without the owner's addresses, so an instance they declined
/// may still be due here; the sender, which knows them, fires nothing for it. Only calendar
/// objects that mention an alarm are parsed.
pub fn object_alarms(data: &[u8], collection: &Collection, now: Timestamp) -> ObjectAlarms {
    if collection.kind != CollectionKind::Calendar || !may_have_alarms(data) {
        return ObjectAlarms::Without;
    }
    let zone = calendar_zone(collection.props.timezone.as_deref());
    schedule(data, zone, now, LOOKAHEAD)
}

/// `object_alarms` on the parse the write's validation made of `data` (`index_object_then`).
pub fn object_alarms_parsed(data: &[u8], parsed: &Parsed, collection: &Collection, now: Timestamp) -> ObjectAlarms {
    if collection.kind != CollectionKind::Calendar || !may_have_alarms(data) {
        return ObjectAlarms::Without;
    }
    let Ok(text) = std::str::from_utf8(data) else { return ObjectAlarms::Without };
    let zone = calendar_zone(collection.props.timezone.as_deref());
    let ctx = AlarmContext { zone, owner_addresses: &[], max_instances: MAX_INSTANCES };
    alarms_of(next_due_parsed(text, parsed, &ctx, now, LOOKAHEAD))
}

fn schedule(data: &[u8], zone: chrono_tz::Tz, now: Timestamp, lookahead: i64) -> ObjectAlarms {
    let ctx = AlarmContext { zone, owner_addresses: &[], max_instances: MAX_INSTANCES };
    alarms_of(next_due(data, &ctx, now, lookahead))
}

fn alarms_of(next: Result<NextDue, crate::calendar::alarm::AlarmError>) -> ObjectAlarms {
    match next {
        Ok(NextDue::At(t) | NextDue::Recheck(t)) => ObjectAlarms::With(Some(t)),
        Ok(NextDue::Never) => ObjectAlarms::With(None),
        // Stored objects passed validation; one that still does not read has nothing to fire.
        Err(_) => ObjectAlarms::Without,
    }
}

/// The sender's mail settings: who reminders come from.
#[derive(Debug, Clone)]
pub struct Sender {
    pub mailbox: Mailbox,
    /// Signs the opt-out links (the RSVP keys); None leaves the links out.
    pub key: Option<RsvpKey>,
}

/// One pass at `now`: rounds of `batch` due objects until none is left. Returns what they did.
pub async fn fire_once(store: &Store, settings: &ReminderSettings, sender: &Sender, now: Timestamp) -> ServiceResult<AlarmRound> {
    let mut total = AlarmRound::default();
    loop {
        let round = store.fire_due_alarms(now, settings.batch, |due: &_| decide(due, settings, sender, now)).await?;
        let full = round.rows >= u64::from(settings.batch);
        total += round;
        if !full {
            return Ok(total);
        }
    }
}

/// Turns `user`'s emailed DISPLAY/AUDIO alarms on or off (the CLI; the opt-out link does the
/// same through its token).
pub async fn set_emails(store: &Store, user: &str, on: bool) -> ServiceResult<()> {
    let u = store.user_by_name(user).await?.ok_or_else(|| ServiceError::BadRequest(format!("no user {user}")))?;
    if !store.set_reminder_emails(u.id, on).await? {
        return Err(ServiceError::BadRequest(format!("no user {user}")));
    }
    Ok(())
}

/// Whether `user`'s DISPLAY/AUDIO alarms are emailed.
pub async fn emails(store: &Store, user: &str) -> ServiceResult<bool> {
    let u = store.user_by_name(user).await?.ok_or_else(|| ServiceError::BadRequest(format!("no user {user}")))?;
    store.reminder_emails(u.id).await?.ok_or_else(|| ServiceError::BadRequest(format!("no user {user}")))
}

/// Objects scheduled per backfill step.
const BACKFILL_BATCH: u32 = 200;

/// Schedules the objects stored before reminders existed, a batch at a time; returns how many
/// got a schedule. Later objects were scheduled by their writes.
pub async fn backfill_once(store: &Store, now: Timestamp) -> ServiceResult<u64> {
    let mut scheduled = 0u64;
    loop {
        let batch = store.backfill_batch(BACKFILL_BATCH).await?;
        let Some(last) = batch.last().map(|o| o.object) else { return Ok(scheduled) };
        let slots: Vec<_> = batch
            .iter()
            .filter(|o| may_have_alarms(&o.data))
            .filter_map(|o| {
                let zone = calendar_zone(o.timezone.as_deref());
                schedule(&o.data, zone, now, LOOKAHEAD).next_due().map(|t| (o.object, t))
            })
            .collect();
        scheduled += slots.len() as u64;
        store.backfill_store(last, slots, now).await?;
    }
}
