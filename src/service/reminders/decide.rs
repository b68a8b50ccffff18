//! The sender's decision for one due object: which fires since its watermark are sent, to
//! whom, and which are dropped (late, over the owner's cap, nobody to send to), with the email
//! of each; and when to look at the object again. Pure: it runs inside the round's transaction.

use std::time::{Duration, UNIX_EPOCH};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::calendar::ComponentKind;
use crate::calendar::alarm::{AlarmAction, AlarmContext, Fire, NextDue, fires_and_next};
use crate::mail::reminder::{ReminderMail, compose_reminder, reminder_message_id};
use crate::store::{AlarmDecision, DueAlarm, FireOutcome, FireRecord, NewExternalItip, Timestamp};

use super::{MAX_INSTANCES, ReminderSettings, Sender, calendar_zone, optout};

/// What a due object comes to at `now`.
pub fn decide(due: &DueAlarm, settings: &ReminderSettings, sender: &Sender, now: Timestamp) -> AlarmDecision {
    let zone = calendar_zone(due.timezone.as_deref());
    let own: Vec<String> = due.owner_email.iter().map(|e| format!("mailto:{}", e.trim())).collect();
    let ctx = AlarmContext { zone, owner_addresses: &own, max_instances: MAX_INSTANCES };
    // One parse for both questions.
    let (fires, next) = match fires_and_next(&due.data, &ctx, due.fired_through, now, settings.lookahead_secs) {
        Ok(both) => both,
        Err(e) => (Err(e.clone()), Err(e)),
    };
    let fires = match fires {
        Ok(fires) => fires,
        Err(e) => {
            tracing::warn!(object = due.object.0, error = %e, "reminders: the object's alarms do not read; nothing sent");
            Vec::new()
        }
    };
    let mut queued = due.queued_last_hour;
    let mut records = Vec::with_capacity(fires.len());
    for fire in fires {
        let Some(record) = record(due, settings, sender, &own, fire, &mut queued, now) else { continue };
        records.push(record);
    }
    let next = match next {
        Ok(NextDue::At(t) | NextDue::Recheck(t)) => Some(t),
        Ok(NextDue::Never) | Err(_) => None,
    };
    AlarmDecision { fires: records, fired_through: now, next_due: next }
}

/// One fire's outcome and emails; None for a DISPLAY/AUDIO alarm of an owner who turned those
/// emails off or has no address (nothing to record: their devices show those).
fn record(
    due: &DueAlarm,
    settings: &ReminderSettings,
    sender: &Sender,
    own: &[String],
    fire: Fire,
    queued: &mut i64,
    now: Timestamp,
) -> Option<FireRecord> {
    let from_display = fire.action != AlarmAction::Email;
    if from_display && (!due.reminder_emails || own.is_empty()) {
        return None;
    }
    let recipients = recipients(&fire, own, settings.email_others);
    let outcome = if now.saturating_sub(fire.at) > settings.max_late_secs {
        tracing::info!(object = due.object.0, owner = due.owner.0, at = fire.at, late_secs = now - fire.at, "reminder dropped: too late to be useful");
        FireOutcome::Late
    } else if recipients.is_empty() {
        tracing::info!(object = due.object.0, owner = due.owner.0, at = fire.at, "reminder not sent: no address it may go to");
        FireOutcome::Unaddressed
    } else if *queued >= settings.per_user_per_hour {
        tracing::warn!(object = due.object.0, owner = due.owner.0, at = fire.at, cap = settings.per_user_per_hour, "reminder dropped: the user's hourly cap is reached");
        FireOutcome::Capped
    } else {
        *queued += 1;
        FireOutcome::Queued
    };
    let mails = if outcome == FireOutcome::Queued {
        recipients.iter().filter_map(|to| mail(due, settings, sender, &fire, to, from_display, now)).collect()
    } else {
        Vec::new()
    };
    Some(FireRecord { instance: fire.instance, key: fire.key.clone(), at: fire.at, outcome, mails })
}

/// Who a fire goes to: an EMAIL alarm to its ATTENDEEs that are the owner's own addresses (or
/// to all of them with `email_others`), a DISPLAY or AUDIO alarm to the owner.
fn recipients(fire: &Fire, own: &[String], email_others: bool) -> Vec<String> {
    if fire.action != AlarmAction::Email {
        return own.to_vec();
    }
    let mut out: Vec<String> = Vec::new();
    for a in &fire.attendees {
        let addr = if a.get(..7).is_some_and(|p| p.eq_ignore_ascii_case("mailto:")) { a.clone() } else { format!("mailto:{a}") };
        let mine = own.iter().any(|o| o.eq_ignore_ascii_case(&addr));
        if (mine || email_others) && !out.iter().any(|x| x.eq_ignore_ascii_case(&addr)) {
            out.push(addr);
        }
    }
    out
}

fn mail(due: &DueAlarm, settings: &ReminderSettings, sender: &Sender, fire: &Fire, to: &str, from_display: bool, now: Timestamp) -> Option<NewExternalItip> {
    let o = &fire.occasion;
    let public = settings.public_url.as_deref().map(|u| u.trim_end_matches('/'));
    let calendar_url = public.map(|u| {
        let path: Vec<String> = due.collection_path.split('/').map(encode).collect();
        format!("{u}/calendars/{}/{}/", encode(&due.owner_name), path.join("/"))
    });
    let unsubscribe_url = match (public, &sender.key) {
        (Some(u), Some(key)) if from_display => Some(optout::link(u, key, due.owner)),
        _ => None,
    };
    let m = ReminderMail {
        sender: sender.mailbox.clone(),
        recipient: to.to_owned(),
        recipient_name: Some(due.owner_name.clone()),
        message_id: reminder_message_id(due.object.0, fire.instance, &fire.key, to, &sender.mailbox),
        date: UNIX_EPOCH + Duration::from_secs(u64::try_from(now).unwrap_or(0)),
        alarm_summary: fire.summary.clone(),
        alarm_description: fire.description.clone(),
        title: o.summary.clone(),
        is_task: o.kind == ComponentKind::Todo,
        start: o.start,
        end: o.end,
        all_day: o.all_day,
        zone: o.zone.clone(),
        location: o.location.clone(),
        description: o.description.clone(),
        calendar_name: due.calendar_name.clone().or_else(|| due.collection_path.rsplit('/').next().map(str::to_owned)),
        calendar_url,
        unsubscribe_url,
        from_display_alarm: from_display,
    };
    match compose_reminder(&m) {
        Ok(data) => Some(NewExternalItip { owner: due.owner, recipient: to.to_owned(), method: "REMINDER".into(), uid: due.uid.clone(), data }),
        Err(e) => {
            tracing::warn!(object = due.object.0, error = %e, "reminder email could not be built");
            None
        }
    }
}

/// One path segment, percent-encoded as the DAV layer encodes hrefs.
fn encode(segment: &str) -> String {
    const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
    utf8_percent_encode(segment, SEGMENT).to_string()
}
