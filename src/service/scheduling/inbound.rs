//! iTIP messages from outside the server (RFC 6047 iMIP by `kalends imip receive`, and RSVP
//! links) for this server's users: one pipeline that decides, logs every decision with the
//! message id, and ends in the same delivery as a local user's message (`deliver`), so a
//! REPLY updates the organizer's copy (keeping its Schedule-Tag) and refreshes the other
//! attendees in one `write_scheduling` batch.

use super::deliver::{SchedCtx, deliver_from_outside};
use super::directory::{Recipient, principal_addresses, resolve};
use crate::config::ExternalInvitations;
use crate::sched::{self, Address, Applied, Message, Method, Role};
use crate::service::{Principal, ServiceResult};
use crate::store::{SchedStore, UserId, UserStore};

/// What the pipeline did with a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// A REPLY applied to the organizer's copy (and the message put in their inbox).
    Replied { organizer: String },
    /// A REFRESH answered: the current event queued for the attendee who asked.
    Refreshed { organizer: String },
    /// An invitation or cancellation delivered to these users (inbox, and calendar if allowed).
    Delivered { users: Vec<String>, calendar: bool },
    /// Deliberately not processed, and why (the MTA is told success: retrying cannot help).
    Dropped(String),
}

/// Where a message came from, for the checks and the log.
pub struct Origin<'a> {
    /// The address the message claims to be from (an email's From), lower-cased; None skips
    /// the check (an RSVP link, whose token names the attendee).
    pub from: Option<&'a str>,
    /// The email's Message-ID, or the RSVP token's digest.
    pub message_id: &'a str,
    /// Only this user's organizer copy may take a REPLY (an RSVP token names the organizer).
    pub organizer: Option<UserId>,
}

/// The outcome of `kalends imip receive`, as the MTA's pipe transport reads it (sysexits.h).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Receipt {
    /// Processed or deliberately dropped: exit 0, the MTA forgets the message.
    Done(Decision),
    /// Not mail at all: exit 65 (EX_DATAERR), the MTA bounces it.
    NotMail(String),
    /// The database or another dependency failed: exit 75 (EX_TEMPFAIL), the MTA retries.
    TempFail(String),
}

impl Receipt {
    pub fn exit_code(&self) -> u8 {
        match self {
            Receipt::Done(_) => 0,
            Receipt::NotMail(_) => 65,
            Receipt::TempFail(_) => 75,
        }
    }
}

/// One RFC 5322 message from an MTA: its iTIP part found and processed (RFC 6047).
pub async fn receive(ctx: &SchedCtx<'_>, invitations: ExternalInvitations, raw: &[u8]) -> Receipt {
    let mail = match super::mail::parse(raw) {
        Ok(m) => m,
        Err(e) => {
            tracing::info!(target: "kalends::imip", reason = %e, "input refused");
            return Receipt::NotMail(e.to_string());
        }
    };
    let Some(calendar) = mail.calendar.as_deref() else {
        let reason = "no text/calendar or application/ics part (RFC 6047 §2.4)";
        tracing::info!(target: "kalends::imip", message_id = %mail.message_id, reason, "iTIP message dropped");
        return Receipt::Done(dropped(reason));
    };
    let Some(from) = mail.from.as_deref() else {
        let reason = "no From address to check against the iTIP message";
        tracing::info!(target: "kalends::imip", message_id = %mail.message_id, reason, "iTIP message dropped");
        return Receipt::Done(dropped(reason));
    };
    let origin = Origin { from: Some(from), message_id: &mail.message_id, organizer: None };
    match process(ctx, invitations, calendar, &origin).await {
        Ok(decision) => Receipt::Done(decision),
        Err(e) => Receipt::TempFail(e.to_string()),
    }
}

fn dropped(why: impl Into<String>) -> Decision {
    Decision::Dropped(why.into())
}

/// Processes one iTIP message from outside. A store failure is an error (the caller retries
/// later: EX_TEMPFAIL); everything else is a logged decision.
pub async fn process(ctx: &SchedCtx<'_>, invitations: ExternalInvitations, text: &str, origin: &Origin<'_>) -> ServiceResult<Decision> {
    let result = decide(ctx, invitations, text, origin).await;
    match &result {
        Ok(Decision::Dropped(reason)) => tracing::info!(target: "kalends::imip", message_id = origin.message_id, %reason, "iTIP message dropped"),
        Ok(decision) => tracing::info!(target: "kalends::imip", message_id = origin.message_id, ?decision, "iTIP message processed"),
        Err(e) => tracing::warn!(target: "kalends::imip", message_id = origin.message_id, error = %e, "iTIP message not processed (temporary)"),
    }
    result
}

async fn decide(ctx: &SchedCtx<'_>, invitations: ExternalInvitations, text: &str, origin: &Origin<'_>) -> ServiceResult<Decision> {
    let Some(method) = method_of(text) else {
        return Ok(dropped("the calendar has no METHOD: not an iTIP message (RFC 5546 §3)"));
    };
    match method {
        Method::Reply => reply(ctx, text, origin).await,
        Method::Request | Method::Cancel => invitation(ctx, invitations, text, origin).await,
        Method::Refresh => refresh(ctx, text, origin).await,
        other => Ok(dropped(format!("METHOD:{} from outside is not processed", other.as_str()))),
    }
}

/// The METHOD of the VCALENDAR, read from its lines (the MIME method= may be stripped).
fn method_of(text: &str) -> Option<Method> {
    text.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.trim().eq_ignore_ascii_case("METHOD").then(|| Method::parse(value)).flatten()
    })
}

/// Whether any component names an ORGANIZER (Exchange's replies do not).
fn has_organizer(text: &str) -> bool {
    text.lines().any(|l| l.len() >= 9 && l.is_char_boundary(9) && l[..9].eq_ignore_ascii_case("ORGANIZER"))
}

/// The text with `ORGANIZER:<organizer>` added to each component (RFC 5546 §3.2.3 requires it
/// in a REPLY; Exchange leaves it out, and the organizer's copy says who it is).
fn with_organizer(text: &str, organizer: &Address) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    for line in text.split_inclusive('\n') {
        out.push_str(line);
        let bare = line.trim_end().to_ascii_uppercase();
        if matches!(bare.as_str(), "BEGIN:VEVENT" | "BEGIN:VTODO" | "BEGIN:VJOURNAL") {
            out.push_str(&format!("ORGANIZER:{}\r\n", organizer.as_str()));
        }
    }
    out
}

/// A stand-in organizer to read a REPLY that has none; replaced before anything applies it.
const NO_ORGANIZER: &str = "mailto:organizer@unknown.invalid";

/// RFC 5546 §3.2.3 REPLY from an attendee to a local organizer.
async fn reply(ctx: &SchedCtx<'_>, text: &str, origin: &Origin<'_>) -> ServiceResult<Decision> {
    let stated = has_organizer(text);
    let readable = if stated { text.to_owned() } else { with_organizer(text, &Address::new(NO_ORGANIZER)) };
    let incoming = match sched::parse_message(&readable) {
        Ok(i) => i,
        Err(e) => return Ok(dropped(format!("not a valid REPLY: {e}"))),
    };
    let Some(who) = incoming.attendees.first().cloned() else { return Ok(dropped("a REPLY without ATTENDEE")) };
    if let Some(refused) = spoofed(origin, &who, "replying ATTENDEE") {
        return Ok(refused);
    }
    let now = crate::service::now();
    let stated_organizer = stated.then_some(&incoming.organizer);
    // The first copy the REPLY applies to takes it; else the last reason is the answer.
    let mut why = None;
    for found in organizer_copies(ctx, &incoming.uid, stated_organizer, origin.organizer).await? {
        let message_text = if stated { text.to_owned() } else { with_organizer(text, &found.address) };
        match sched::apply_reply(&message_text, &found.copy, now) {
            Ok(Applied::Store(_)) => {}
            Ok(Applied::Ignored(reason)) => {
                why = Some(reason);
                continue;
            }
            Err(e) => {
                why = Some(format!("the REPLY does not apply: {e}"));
                continue;
            }
        }
        let message = Message {
            method: Method::Reply,
            uid: incoming.uid.clone(),
            originator: who.clone(),
            recipient: found.address.clone(),
            text: message_text,
        };
        deliver_from_outside(ctx, found.user.id, vec![message], true).await?;
        return Ok(Decision::Replied { organizer: found.user.name });
    }
    Ok(dropped(why.unwrap_or_else(|| format!("no organizer here has UID {} with {who} invited", incoming.uid))))
}

/// RFC 5546 §3.2.6 REFRESH: the attendee gets the event as it is now, a REQUEST queued for
/// email like any message to them.
async fn refresh(ctx: &SchedCtx<'_>, text: &str, origin: &Origin<'_>) -> ServiceResult<Decision> {
    let incoming = match sched::parse_message(text) {
        Ok(i) => i,
        Err(e) => return Ok(dropped(format!("not a valid REFRESH: {e}"))),
    };
    let Some(who) = incoming.attendees.first().cloned() else { return Ok(dropped("a REFRESH without ATTENDEE")) };
    if let Some(refused) = spoofed(origin, &who, "ATTENDEE asking") {
        return Ok(refused);
    }
    let now = crate::service::now();
    for found in organizer_copies(ctx, &incoming.uid, Some(&incoming.organizer), origin.organizer).await? {
        if let Some(message) = sched::refresh_for(&found.copy, &who, now) {
            deliver_from_outside(ctx, found.user.id, vec![message], true).await?;
            return Ok(Decision::Refreshed { organizer: found.user.name });
        }
    }
    Ok(dropped(format!("no organizer here has UID {} with {who} invited", incoming.uid)))
}

/// RFC 6047 §3: the sender is the calendar user the message speaks for; anyone else is a
/// spoof (as far as the MTA's checks of From go).
fn spoofed(origin: &Origin<'_>, who: &Address, role: &str) -> Option<Decision> {
    let from = origin.from?;
    match who.email().is_some_and(|e| e.eq_ignore_ascii_case(from)) {
        true => None,
        false => Some(dropped(format!("From {from} is not the {role} {who}"))),
    }
}

/// A local organizer's copy of an event.
struct OrganizerCopy {
    user: Principal,
    /// The organizer's calendar user address that messages to them name.
    address: Address,
    copy: String,
}

/// The organizer copies of `uid` among local users (first user first): objects whose owner is
/// their ORGANIZER, of `stated` when the message names one, of `only` when a token does.
async fn organizer_copies(
    ctx: &SchedCtx<'_>,
    uid: &str,
    stated: Option<&Address>,
    only: Option<UserId>,
) -> ServiceResult<Vec<OrganizerCopy>> {
    let mut out = Vec::new();
    for owner in ctx.store.owners_of_uid(uid).await? {
        if only.is_some_and(|o| o != owner) {
            continue;
        }
        let Some(user) = ctx.store.user_by_id(owner).await? else { continue };
        let user = Principal { id: user.id, name: user.name, email: user.email };
        let addrs = principal_addresses(ctx.dir, &user);
        if stated.is_some_and(|s| !addrs.contains(s)) {
            continue;
        }
        let Some(address) = stated.cloned().or_else(|| addrs.first().cloned()) else { continue };
        for (_, object) in ctx.store.objects_with_uid(owner, uid).await? {
            let copy = String::from_utf8_lossy(&object.data).into_owned();
            if sched::classify(&copy, &addrs) == Ok(Role::Organizer) {
                out.push(OrganizerCopy { user: user.clone(), address: address.clone(), copy });
            }
        }
    }
    Ok(out)
}

/// The most local attendees an invitation from outside is delivered to.
const MAX_LOCAL_RECIPIENTS: usize = 100;

/// RFC 5546 §3.2.2 REQUEST and §3.2.5 CANCEL from an organizer outside the server.
async fn invitation(ctx: &SchedCtx<'_>, invitations: ExternalInvitations, text: &str, origin: &Origin<'_>) -> ServiceResult<Decision> {
    let incoming = match sched::parse_message(text) {
        Ok(i) => i,
        Err(e) => return Ok(dropped(format!("not a valid {}: {e}", method_of(text).map_or("message", Method::as_str)))),
    };
    let organizer = incoming.organizer.clone();
    // The organizer sends invitations; a stranger could otherwise cancel events.
    if let Some(refused) = spoofed(origin, &organizer, "ORGANIZER") {
        return Ok(refused);
    }
    // A local organizer's messages travel inside the server, never by email.
    if matches!(resolve(ctx.store, ctx.dir, &organizer).await?, Recipient::Local(_)) {
        return Ok(dropped(format!("the ORGANIZER {organizer} is a user of this server")));
    }
    let mut users = Vec::new();
    let mut calendar_any = false;
    for who in incoming.attendees.iter().filter(|a| a.email().is_some()).take(MAX_LOCAL_RECIPIENTS) {
        let Recipient::Local(user) = resolve(ctx.store, ctx.dir, who).await? else { continue };
        let principal = Principal { id: user.id, name: user.name.clone(), email: user.email.clone() };
        let calendar = invitations == ExternalInvitations::Calendar && own_copy_allows(ctx, &principal, &incoming.uid, &organizer).await?;
        let message = Message {
            method: incoming.method,
            uid: incoming.uid.clone(),
            originator: organizer.clone(),
            recipient: who.clone(),
            text: text.to_owned(),
        };
        deliver_from_outside(ctx, user.id, vec![message], calendar).await?;
        calendar_any |= calendar;
        users.push(user.name);
    }
    match users.is_empty() {
        true => Ok(dropped(format!("no ATTENDEE of {} is a user of this server", incoming.uid))),
        false => Ok(Decision::Delivered { users, calendar: calendar_any }),
    }
}

/// Whether an outside organizer's message may touch the user's calendar: only a copy that is
/// theirs as an attendee of that same organizer (or none yet). A UID the user organizes, or
/// one of another organizer's, is never overwritten by email.
async fn own_copy_allows(ctx: &SchedCtx<'_>, user: &Principal, uid: &str, organizer: &Address) -> ServiceResult<bool> {
    let addrs = principal_addresses(ctx.dir, user);
    for (_, copy) in ctx.store.objects_with_uid(user.id, uid).await? {
        let copy = String::from_utf8_lossy(&copy.data);
        match sched::classify(&copy, &addrs) {
            Ok(Role::Attendee { organizer: o }) if o == *organizer => {}
            _ => return Ok(false),
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_method_and_adds_the_organizer() {
        let text = "BEGIN:VCALENDAR\r\nMETHOD:reply\r\nBEGIN:VEVENT\r\nUID:u\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        assert_eq!(method_of(text), Some(Method::Reply));
        assert!(!has_organizer(text));
        let fixed = with_organizer(text, &Address::new("mailto:o@x"));
        assert!(fixed.contains("BEGIN:VEVENT\r\nORGANIZER:mailto:o@x\r\nUID:u"), "{fixed}");
        assert!(has_organizer(&fixed));
        assert_eq!(method_of("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"), None);
    }
}
