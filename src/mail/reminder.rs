//! The reminder email of a due alarm (issue 19), pure: the alarm's and its event's facts in, one
//! complete RFC 5322 message out. When alarms fire is `calendar/`'s; sending is the worker's.

use std::time::SystemTime;

use chrono::DateTime;
use chrono_tz::Tz;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::{Address, Message};
use sha2::{Digest, Sha256};

use super::body::{Moment, escape_html, html_page, html_table, html_text, plain_rows, span};
use super::compose::{ComposeError, mailto_address};

/// Everything one reminder email says, gathered by the worker from the alarm, its event and the
/// server's settings.
#[derive(Debug, Clone)]
pub struct ReminderMail {
    /// The configured sender (`mail_from`).
    pub sender: Mailbox,
    /// The recipient's address, bare ("a@b") or "mailto:a@b".
    pub recipient: String,
    /// The recipient's display name, if known (the Kalends user's name).
    pub recipient_name: Option<String>,
    /// Deterministic, built by `reminder_message_id`.
    pub message_id: String,
    pub date: SystemTime,
    /// The VALARM's SUMMARY (EMAIL alarms): the subject when present.
    pub alarm_summary: Option<String>,
    /// The VALARM's DESCRIPTION: shown first in the body when present and not just boilerplate
    /// or the title again (see `alarm_note`).
    pub alarm_description: Option<String>,
    /// The event's (or task's) SUMMARY; "(untitled event)" / "(untitled task)" when none.
    pub title: Option<String>,
    /// A VTODO: "due" wording instead of "at".
    pub is_task: bool,
    /// UTC seconds; a task may have none. For an all-day instance, its day's midnight in `zone`
    /// (how `calendar::instances` places a DATE), so the day reads back unchanged in `zone`.
    pub start: Option<i64>,
    /// UTC seconds: DTEND of an event (exclusive for all-day), DUE of a task.
    pub end: Option<i64>,
    pub all_day: bool,
    /// IANA name, e.g. "Europe/Berlin", or "UTC": the zone the times are written in and named by.
    /// An unknown name writes them in UTC, named so.
    pub zone: String,
    pub location: Option<String>,
    pub description: Option<String>,
    /// The calendar's name and an absolute URL to it (for now the CalDAV collection URL; a web
    /// page later). No URL when the server has no public_url configured: then no link at all.
    pub calendar_name: Option<String>,
    pub calendar_url: Option<String>,
    /// Absolute URL that turns these emails off (RFC 8058 one-click target). None → the body says
    /// how to turn reminders off without a link.
    pub unsubscribe_url: Option<String>,
    /// A DISPLAY/AUDIO alarm the server turned into an email (the unsubscribe text applies), not
    /// an EMAIL alarm the user wrote (which stops when the alert is removed from the event).
    pub from_display_alarm: bool,
}

/// A Message-ID that is the same for the same (object, instance, fire key, recipient) on every
/// node and every retry, so a receiving system can drop a duplicate (RFC 5322 §3.6.4):
/// `<reminder.HEX@domain>`, HEX a SHA-256 prefix of the inputs, domain the sender's.
pub fn reminder_message_id(object_id: i64, instance: Option<i64>, key: &str, recipient: &str, sender: &Mailbox) -> String {
    let mut hash = Sha256::new();
    hash.update(object_id.to_be_bytes());
    // Tagged and length-prefixed: no two input tuples hash the same bytes.
    match instance {
        Some(i) => {
            hash.update([1]);
            hash.update(i.to_be_bytes());
        }
        None => hash.update([0]),
    }
    // Addresses compare case-insensitively in practice, with or without the mailto: scheme.
    let recipient = mailto_address(recipient).to_ascii_lowercase();
    for part in [key, recipient.as_str()] {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part.as_bytes());
    }
    // 128 bits: ids of different reminders never meet at a receiver.
    let hex: String = hash.finalize().iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("<reminder.{hex}@{}>", sender.email.domain())
}

/// The subject line: the alarm's SUMMARY, else "Reminder: <title> at <time>" (all-day: "on
/// <day>"; a task: "due <time>"), on one line.
pub fn reminder_subject(m: &ReminderMail) -> String {
    if let Some(s) = m.alarm_summary.as_deref().map(one_line).filter(|s| !s.is_empty()) {
        return s;
    }
    let title = title(m);
    let times = Times::of(m);
    let zone = times.zone_name.as_str();
    let phrase = match (m.is_task, times.start, times.end) {
        (true, _, Some(due)) => format!(" due {}", due.zoned(false, zone)),
        (true, Some(start), None) => format!(" starts {}", start.zoned(false, zone)),
        (false, Some(day @ Moment::Day(_)), _) => format!(" on {}", day.text(false)),
        (false, Some(start), _) => format!(" at {}", start.zoned(false, zone)),
        _ => String::new(),
    };
    one_line(&format!("Reminder: {title}{phrase}"))
}

/// The whole message: multipart/alternative of text/plain and text/html (UTF-8), with the
/// headers that keep responders quiet and, given a URL, the one-click unsubscribe of RFC 8058.
pub fn compose_reminder(m: &ReminderMail) -> Result<Vec<u8>, ComposeError> {
    let address = mailto_address(&m.recipient);
    let email: Address = address.parse().map_err(|_| ComposeError::Address(address.to_owned()))?;
    let name = m.recipient_name.as_deref().map(one_line).filter(|n| !n.is_empty());
    let header = |name: &'static str, value: String| HeaderValue::new(HeaderName::new_from_ascii_str(name), value);
    let mut builder = Message::builder()
        .from(m.sender.clone())
        .to(Mailbox::new(name, email))
        .subject(reminder_subject(m))
        .message_id(Some(m.message_id.clone()))
        .date(m.date)
        // RFC 3834 §5: no vacation or out-of-office answers to a machine's mail.
        .raw_header(header("Auto-Submitted", "auto-generated".to_owned()))
        // Exchange's equivalent, which it honours where it ignores Auto-Submitted.
        .raw_header(header("X-Auto-Response-Suppress", "All".to_owned()));
    if let Some(url) = &m.unsubscribe_url {
        // RFC 2369 §2 puts the URL in angle brackets; it must then be plain ASCII without them.
        if url.is_empty() || !url.chars().all(|c| c.is_ascii_graphic() && c != '<' && c != '>') {
            return Err(ComposeError::Build(format!("unsubscribe URL {url:?} is not a plain ASCII URL")));
        }
        builder = builder
            .raw_header(header("List-Unsubscribe", format!("<{url}>")))
            // RFC 8058 §3.1: a POST of this body to the URL unsubscribes without a page.
            .raw_header(header("List-Unsubscribe-Post", "List-Unsubscribe=One-Click".to_owned()));
    }
    let body = MultiPart::alternative().singlepart(SinglePart::plain(plain(m))).singlepart(SinglePart::html(html(m)));
    let message = builder.multipart(body).map_err(|e| ComposeError::Build(e.to_string()))?;
    Ok(message.formatted())
}

/// The event's times read in the mail's zone.
struct Times {
    start: Option<Moment>,
    end: Option<Moment>,
    zone_name: String,
}

impl Times {
    fn of(m: &ReminderMail) -> Times {
        let (tz, zone_name) = match m.zone.trim().parse::<Tz>() {
            Ok(tz) => (tz, m.zone.trim().to_owned()),
            Err(_) => (Tz::UTC, "UTC".to_owned()),
        };
        let moment = |secs: Option<i64>| {
            let local = DateTime::from_timestamp(secs?, 0)?.with_timezone(&tz).naive_local();
            Some(if m.all_day { Moment::Day(local.date()) } else { Moment::At(local) })
        };
        Times { start: moment(m.start), end: moment(m.end), zone_name }
    }
}

fn title(m: &ReminderMail) -> String {
    match m.title.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        Some(t) => t.to_owned(),
        None if m.is_task => "(untitled task)".to_owned(),
        None => "(untitled event)".to_owned(),
    }
}

/// Text for a header: control characters (CR and LF above all) become spaces, runs of space one.
fn one_line(s: &str) -> String {
    let spaced: String = s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    spaced.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// What clients write into DESCRIPTION when the user wrote nothing: Apple ("Reminder", "Event
/// reminder"), Google ("This is an event reminder"), Thunderbird ("Default Mozilla Description").
const BOILERPLATE: &[&str] = &["reminder", "event reminder", "this is an event reminder", "default mozilla description"];

/// The alarm's DESCRIPTION when it says something of its own (RFC 5545 §3.6.6 makes it the
/// message of an EMAIL alarm): not boilerplate, nor the title or the description repeated.
fn alarm_note(m: &ReminderMail) -> Option<&str> {
    let note = m.alarm_description.as_deref()?.trim();
    let key = note.trim_end_matches(['.', '!']).trim().to_lowercase();
    let same = |other: &Option<String>| other.as_deref().is_some_and(|o| o.trim().to_lowercase() == note.to_lowercase());
    let said = key.is_empty() || BOILERPLATE.contains(&key.as_str()) || same(&m.title) || same(&m.description);
    (!said).then_some(note)
}

/// The labelled facts of both parts; the calendar's row is written by each part itself.
fn rows(m: &ReminderMail) -> Vec<(&'static str, String)> {
    let times = Times::of(m);
    let zone = times.zone_name.as_str();
    let mut rows = Vec::new();
    if m.is_task {
        if let Some(start) = times.start {
            rows.push(("Starts", start.zoned(true, zone)));
        }
        if let Some(due) = times.end {
            rows.push(("Due", due.zoned(true, zone)));
        }
    } else if let Some(start) = times.start {
        rows.push(("When", span(start, times.end, zone)));
    }
    if let Some(l) = m.location.as_deref().map(str::trim).filter(|l| !l.is_empty()) {
        rows.push(("Where", l.to_owned()));
    }
    rows
}

fn description(m: &ReminderMail) -> Option<&str> {
    m.description.as_deref().map(str::trim).filter(|d| !d.is_empty())
}

fn calendar_name(m: &ReminderMail) -> Option<&str> {
    m.calendar_name.as_deref().map(str::trim).filter(|n| !n.is_empty())
}

/// Why this mail came and how to stop it, as (sentence, link) for both parts.
fn footer(m: &ReminderMail) -> (String, Option<&str>) {
    if !m.from_display_alarm {
        return ("You get this email because the event has an email alert. To stop it, remove the email alert from the event.".to_owned(), None);
    }
    let why = "You get this email because the event has a reminder and reminder emails are on for your account.";
    match &m.unsubscribe_url {
        Some(url) => (format!("{why} To turn them off:"), Some(url.as_str())),
        None => (format!("{why} To turn them off, ask your administrator: kalends reminders off <your user name>"), None),
    }
}

fn plain(m: &ReminderMail) -> String {
    let mut out = String::new();
    if let Some(note) = alarm_note(m) {
        out.push_str(&format!("{note}\n\n"));
    }
    let mut rows = rows(m);
    match (calendar_name(m), &m.calendar_url) {
        // RFC 3986 Appendix C: angle brackets delimit a URI in plain text.
        (Some(name), Some(url)) => rows.push(("Calendar", format!("{name} <{url}>"))),
        (None, Some(url)) => rows.push(("Calendar", format!("<{url}>"))),
        (Some(name), None) => rows.push(("Calendar", name.to_owned())),
        (None, None) => {}
    }
    out.push_str(&format!("{}\n\n{}", title(m), plain_rows(&rows)));
    if let Some(d) = description(m) {
        out.push_str(&format!("\n{d}\n"));
    }
    // RFC 3676 §4.3: the signature separator, so readers may fold the footer away.
    let (why, link) = footer(m);
    out.push_str(&format!("\n-- \n{why}\n"));
    if let Some(url) = link {
        out.push_str(&format!("{url}\n"));
    }
    out
}

fn html(m: &ReminderMail) -> String {
    let mut out = String::new();
    if let Some(note) = alarm_note(m) {
        out.push_str(&format!("<p>{}</p>\n", html_text(note)));
    }
    out.push_str(&format!("<h2>{}</h2>\n", escape_html(&title(m))));
    let calendar = match (calendar_name(m), &m.calendar_url) {
        (name, Some(url)) => Some(format!("<a href=\"{}\">{}</a>", escape_html(url), escape_html(name.unwrap_or(url)))),
        (Some(name), None) => Some(escape_html(name)),
        (None, None) => None,
    };
    let cells = rows(m).into_iter().map(|(l, v)| (l, html_text(&v)));
    out.push_str(&html_table(cells.chain(calendar.map(|c| ("Calendar", c)))));
    if let Some(d) = description(m) {
        out.push_str(&format!("<p>{}</p>\n", html_text(d)));
    }
    let (why, link) = footer(m);
    let link = link.map(|url| format!(" <a href=\"{}\">Turn off reminder emails</a>", escape_html(url))).unwrap_or_default();
    out.push_str(&format!("<hr>\n<p><small>{}{link}</small></p>\n", escape_html(&why)));
    html_page(&out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
