//! RSVP links (issue 16): a signed token that lets an attendee outside the server answer an
//! invitation from the email, without an account. The token binds (organizer user, event UID,
//! attendee address, SEQUENCE, expiry) under HMAC-SHA256 (RFC 2104) with a key kept in the
//! database, so every node verifies what any node signed. An answer becomes an iTIP REPLY from
//! that attendee (RFC 5546 §3.2.3) and goes through the inbound pipeline like an emailed one.
//!
//! For the sending side: [`signing_key`] once, then [`link`] per (recipient, message):
//! `link(public_url, &key, &Token { organizer, uid, attendee, sequence, expires: expiry(end, now) })`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::deliver::SchedCtx;
use super::directory::principal_addresses;
use super::inbound::{Decision, Origin, process};
use crate::calendar::ical::unescape_text;
use crate::config::ExternalInvitations;
use crate::sched::text::{self, Comp, Prop};
use crate::sched::{self, Address, Role};
use crate::service::{Principal, ServiceResult};
use crate::store::{RsvpKey, RsvpStore, SchedStore, Store, UserId, UserStore};

/// A link never lives longer than this, even for a series without end.
pub const MAX_LIFETIME: i64 = 400 * 86_400;
/// How long a key replaced by [`rotate_key`] still verifies the links it signed.
pub const GRACE: i64 = 60 * 86_400;

/// What a link answers for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub organizer: UserId,
    pub uid: String,
    pub attendee: Address,
    /// The SEQUENCE of the invitation mailed: an answer to an older one is refused.
    pub sequence: i64,
    /// Unix seconds; see [`expiry`].
    pub expires: i64,
}

/// Why a token is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    /// Not signed by any key in use (or malformed).
    Forged,
    Expired,
}

/// When a link expires: at the event's end (the last instance's, `index.last_end`), and never
/// later than [`MAX_LIFETIME`] from now.
pub fn expiry(event_end: Option<i64>, now: i64) -> i64 {
    let cap = now.saturating_add(MAX_LIFETIME);
    event_end.map_or(cap, |end| end.min(cap))
}

fn mac(key: &RsvpKey, payload: &[u8]) -> Option<Hmac<Sha256>> {
    let mut mac = Hmac::<Sha256>::new_from_slice(&key.secret).ok()?;
    mac.update(payload);
    Some(mac)
}

/// The token text: base64url(payload) "." base64url(HMAC-SHA256(key, payload)); the payload
/// names the key, so a rotated key's links still verify during [`GRACE`].
pub fn sign(key: &RsvpKey, t: &Token) -> String {
    // UID last: it may hold anything but a line break (RFC 5545 §3.1 unfolds values).
    let payload = format!("1\n{}\n{}\n{}\n{}\n{}\n{}", key.id, t.organizer.0, t.sequence, t.expires, t.attendee.as_str(), t.uid);
    let tag = mac(key, payload.as_bytes()).map(|m| m.finalize().into_bytes().to_vec()).unwrap_or_default();
    format!("{}.{}", URL_SAFE_NO_PAD.encode(payload), URL_SAFE_NO_PAD.encode(tag))
}

/// The RSVP link for an email: `<public_url>/rsvp/<token>`. Pure, so the sender can build it
/// for every recipient without a store round trip.
pub fn link(public_url: &str, key: &RsvpKey, t: &Token) -> String {
    format!("{}/rsvp/{}", public_url.trim_end_matches('/'), sign(key, t))
}

/// The link an invitation emailed to `recipient` carries (RFC 6047 mail, beside its iTIP part):
/// bound to the event's UID and SEQUENCE, expiring with the event (or after [`MAX_LIFETIME`]).
/// None for messages that are no REQUEST (a CANCEL or REPLY asks nothing) or that do not read.
pub fn invitation_link(public_url: &str, key: &RsvpKey, organizer: UserId, itip: &str, recipient: &str, now: i64) -> Option<String> {
    let incoming = sched::parse_message(itip).ok()?;
    if incoming.method != sched::Method::Request {
        return None;
    }
    let token = Token {
        organizer,
        uid: incoming.uid,
        attendee: Address::new(recipient),
        sequence: incoming.sequence,
        expires: expiry(event_end(itip), now),
    };
    Some(link(public_url, key, &token))
}

/// When the event's last instance ends (None: a series without end, or unreadable), read by
/// the same indexer as a stored object once the iTIP METHOD line is set aside.
fn event_end(itip: &str) -> Option<i64> {
    let object: String = itip.split_inclusive('\n').filter(|l| !l.to_ascii_uppercase().starts_with("METHOD:")).collect();
    let opts = crate::calendar::ValidateOptions { min_date_time: i64::MIN, max_date_time: i64::MAX };
    let indexed = crate::calendar::index_object(object.as_bytes(), &opts, 0).ok()?;
    indexed.index.last_end
}

/// Checks a token against the keys (constant-time MAC comparison) and its expiry.
pub fn verify(keys: &[RsvpKey], token: &str, now: i64) -> Result<Token, TokenError> {
    let (payload, tag) = token.split_once('.').ok_or(TokenError::Forged)?;
    let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| TokenError::Forged)?;
    let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| TokenError::Forged)?;
    let text = String::from_utf8(payload.clone()).map_err(|_| TokenError::Forged)?;
    let mut fields = text.splitn(7, '\n');
    let mut next = || fields.next().ok_or(TokenError::Forged);
    let version = next()?;
    let key_id: i64 = next()?.parse().map_err(|_| TokenError::Forged)?;
    let organizer: i64 = next()?.parse().map_err(|_| TokenError::Forged)?;
    let sequence: i64 = next()?.parse().map_err(|_| TokenError::Forged)?;
    let expires: i64 = next()?.parse().map_err(|_| TokenError::Forged)?;
    let attendee = next()?.to_owned();
    let uid = next()?.to_owned();
    let key = keys.iter().find(|k| k.id == key_id && usable(k, now)).ok_or(TokenError::Forged)?;
    let mac = mac(key, &payload).ok_or(TokenError::Forged)?;
    if version != "1" || mac.verify_slice(&tag).is_err() {
        return Err(TokenError::Forged);
    }
    if expires < now {
        return Err(TokenError::Expired);
    }
    Ok(Token { organizer: UserId(organizer), uid, attendee: Address::new(&attendee), sequence, expires })
}

/// Whether `key` still verifies at `now` (in use, or retired less than [`GRACE`] ago).
pub(crate) fn usable(key: &RsvpKey, now: i64) -> bool {
    key.retired_at.is_none_or(|at| at.saturating_add(GRACE) >= now)
}

fn new_secret() -> Vec<u8> {
    rand::random::<[u8; 32]>().to_vec()
}

/// The key that signs new links, made on first use. Two nodes making one at once both keep
/// theirs valid; the newer signs from then on.
pub async fn signing_key(store: &Store) -> ServiceResult<RsvpKey> {
    if let Some(key) = store.rsvp_keys().await?.into_iter().find(|k| k.retired_at.is_none()) {
        return Ok(key);
    }
    Ok(store.add_rsvp_key(new_secret(), crate::service::now(), false, 0).await?)
}

/// A new signing key; the old ones verify for [`GRACE`] more, older retired ones are deleted.
pub async fn rotate_key(store: &Store) -> ServiceResult<RsvpKey> {
    let now = crate::service::now();
    Ok(store.add_rsvp_key(new_secret(), now, true, now.saturating_sub(GRACE)).await?)
}

/// What the confirmation page shows: this event only, as the organizer's copy has it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub summary: String,
    /// DTSTART as written, readable: `2027-01-05 10:00 UTC` or `… (Europe/Berlin)`.
    pub when: String,
    pub organizer: String,
    pub attendee: String,
    /// The attendee's PARTSTAT on the organizer's copy.
    pub partstat: String,
}

/// Why a link cannot be answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Forged,
    Expired,
    /// The invitation was updated since the email (a newer SEQUENCE): the newer email's link
    /// answers it.
    Outdated(Event),
    /// The event is gone or the attendee no longer invited.
    Gone(String),
}

/// An answer (RFC 5545 §3.2.12 PARTSTAT for VEVENT).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Accepted,
    Tentative,
    Declined,
}

impl Answer {
    pub fn parse(text: &str) -> Option<Answer> {
        match text.trim().to_ascii_lowercase().as_str() {
            "accepted" => Some(Answer::Accepted),
            "tentative" => Some(Answer::Tentative),
            "declined" => Some(Answer::Declined),
            _ => None,
        }
    }

    pub fn partstat(self) -> &'static str {
        match self {
            Answer::Accepted => "ACCEPTED",
            Answer::Tentative => "TENTATIVE",
            Answer::Declined => "DECLINED",
        }
    }
}

/// The event a link is for (GET: nothing changes).
pub async fn show(ctx: &SchedCtx<'_>, token: &str) -> ServiceResult<Result<Event, Refusal>> {
    Ok(match current(ctx, token).await? {
        Ok((_, event, _)) => Ok(event),
        Err(r) => Err(r),
    })
}

/// Applies an answer as a REPLY from the token's attendee (POST).
pub async fn answer(ctx: &SchedCtx<'_>, token: &str, answer: Answer) -> ServiceResult<Result<Event, Refusal>> {
    let (t, mut event, copy) = match current(ctx, token).await? {
        Ok(found) => found,
        Err(r) => return Ok(Err(r)),
    };
    let reply = reply_text(&copy, &t, answer);
    let digest = Sha256::digest(token.as_bytes());
    let message_id = format!("rsvp:{}", URL_SAFE_NO_PAD.encode(&digest[..12]));
    let origin = Origin { from: None, message_id: &message_id, organizer: Some(t.organizer) };
    // The invitation policy only matters for REQUEST/CANCEL; this is a REPLY.
    match process(ctx, ExternalInvitations::Inbox, &reply, &origin).await? {
        Decision::Replied { .. } => {
            event.partstat = answer.partstat().to_owned();
            Ok(Ok(event))
        }
        Decision::Dropped(why) => Ok(Err(Refusal::Gone(why))),
        Decision::Delivered { .. } | Decision::Refreshed { .. } => Ok(Err(Refusal::Gone("the answer could not be applied".into()))),
    }
}

/// The verified token, the event as the organizer's copy has it now, and that copy's text.
async fn current(ctx: &SchedCtx<'_>, token: &str) -> ServiceResult<Result<(Token, Event, String), Refusal>> {
    let keys = ctx.store.rsvp_keys().await?;
    let t = match verify(&keys, token, crate::service::now()) {
        Ok(t) => t,
        Err(TokenError::Forged) => return Ok(Err(Refusal::Forged)),
        Err(TokenError::Expired) => return Ok(Err(Refusal::Expired)),
    };
    let gone = || Ok(Err(Refusal::Gone("this event no longer exists".into())));
    let Some(user) = ctx.store.user_by_id(t.organizer).await? else { return gone() };
    let principal = Principal { id: user.id, name: user.name.clone(), email: user.email.clone() };
    let addrs = principal_addresses(ctx.dir, &principal);
    let copies = ctx.store.objects_with_uid(user.id, &t.uid).await?;
    let copy = copies.into_iter().map(|(_, o)| String::from_utf8_lossy(&o.data).into_owned()).find(|c| sched::classify(c, &addrs) == Ok(Role::Organizer));
    let Some(copy) = copy else { return gone() };
    let Ok(cal) = text::parse(&copy) else { return gone() };
    let Some(event) = describe(&cal, &t.attendee, &user.name) else {
        return Ok(Err(Refusal::Gone("you are no longer invited to this event".into())));
    };
    let sequence = items(&cal).filter_map(|c| c.value("SEQUENCE")).filter_map(|v| v.trim().parse::<i64>().ok()).max().unwrap_or(0);
    if t.sequence < sequence {
        return Ok(Err(Refusal::Outdated(event)));
    }
    Ok(Ok((t, event, copy)))
}

/// The scheduling components of a VCALENDAR (RFC 5546 §1.3: VEVENT or VTODO).
fn items(cal: &Comp) -> impl Iterator<Item = &Comp> {
    cal.children.iter().filter(|c| c.name == "VEVENT" || c.name == "VTODO")
}

fn invites(c: &Comp, attendee: &Address) -> Option<String> {
    c.props_named("ATTENDEE").find(|p| attendee.is(p.value())).map(|p| p.param("PARTSTAT").unwrap_or("NEEDS-ACTION").to_ascii_uppercase())
}

/// The master (or first instance) the attendee is invited to, for the page.
fn describe(cal: &Comp, attendee: &Address, organizer_name: &str) -> Option<Event> {
    let mut invited = items(cal).filter(|c| invites(c, attendee).is_some());
    let mut chosen = invited.next()?;
    if chosen.prop("RECURRENCE-ID").is_some()
        && let Some(master) = invited.find(|c| c.prop("RECURRENCE-ID").is_none())
    {
        chosen = master;
    }
    let organizer = chosen.prop("ORGANIZER").map_or_else(
        || organizer_name.to_owned(),
        |p| p.param("CN").map_or_else(|| Address::new(p.value()).email().unwrap_or(p.value()).to_owned(), str::to_owned),
    );
    Some(Event {
        summary: chosen.value("SUMMARY").map_or_else(|| "(no title)".to_owned(), unescape_text),
        when: chosen.prop("DTSTART").map_or_else(String::new, readable_time),
        organizer,
        attendee: attendee.email().unwrap_or(attendee.as_str()).to_owned(),
        partstat: invites(chosen, attendee).unwrap_or_default(),
    })
}

/// `20270105T100000Z` → `2027-01-05 10:00 UTC`; with TZID, the zone named; a DATE → the day.
fn readable_time(p: &Prop) -> String {
    let v = p.value().trim();
    let zone = match (v.ends_with('Z'), p.param("TZID")) {
        (true, _) => " UTC".to_owned(),
        (false, Some(tz)) => format!(" ({tz})"),
        (false, None) => String::new(),
    };
    let digits = |r: std::ops::Range<usize>| v.get(r).filter(|s| s.bytes().all(|b| b.is_ascii_digit()));
    match (digits(0..4), digits(4..6), digits(6..8), digits(9..11), digits(11..13)) {
        (Some(y), Some(m), Some(d), Some(h), Some(min)) => format!("{y}-{m}-{d} {h}:{min}{zone}"),
        (Some(y), Some(m), Some(d), _, _) => format!("{y}-{m}-{d}"),
        _ => v.to_owned(),
    }
}

/// The REPLY an answer stands for (RFC 5546 §3.2.3): one component per instance the attendee
/// is invited to (so overrides are answered too), ORGANIZER left for the pipeline to fill in
/// from the organizer's copy, the copy's time zones for RECURRENCE-IDs with TZID.
fn reply_text(copy: &str, t: &Token, answer: Answer) -> String {
    let mut cal = Comp::new("VCALENDAR");
    cal.props.push(Prop::new("VERSION", "2.0"));
    cal.props.push(Prop::new("PRODID", "-//Kalends//RSVP//EN"));
    cal.props.push(Prop::new("METHOD", "REPLY"));
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
    if let Ok(source) = text::parse(copy) {
        cal.children.extend(source.children.iter().filter(|c| c.name == "VTIMEZONE").cloned());
        for c in items(&source).filter(|c| invites(c, &t.attendee).is_some()) {
            let mut r = Comp::new(&c.name);
            r.props.extend(c.prop("UID").cloned());
            r.props.extend(c.prop("RECURRENCE-ID").cloned());
            r.props.push(Prop::new("DTSTAMP", &stamp));
            r.props.push(Prop::new("SEQUENCE", &t.sequence.to_string()));
            let mut attendee = Prop::new("ATTENDEE", t.attendee.as_str());
            attendee.set_param("PARTSTAT", answer.partstat());
            r.props.push(attendee);
            cal.children.push(r);
        }
    }
    text::write(&cal, false)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn key(id: i64) -> RsvpKey {
        RsvpKey { id, secret: vec![id as u8; 32], created_at: 0, retired_at: None }
    }

    fn token() -> Token {
        Token { organizer: UserId(7), uid: "a.b|c\u{e9}@x\nzz".into(), attendee: Address::new("mailto:Dana@X.example"), sequence: 2, expires: 1_000 }
    }

    #[test]
    fn tokens_round_trip_and_refuse_forgeries() {
        let k = key(1);
        let signed = sign(&k, &token());
        assert_eq!(verify(std::slice::from_ref(&k), &signed, 10), Ok(token()));
        assert_eq!(verify(std::slice::from_ref(&k), &signed, 2_000), Err(TokenError::Expired));
        assert_eq!(verify(&[key(2)], &signed, 10), Err(TokenError::Forged), "unknown key");
        let (payload, tag) = signed.split_once('.').unwrap();
        let other = sign(&k, &Token { sequence: 3, ..token() });
        let forged = format!("{}.{tag}", other.split_once('.').unwrap().0);
        assert_eq!(verify(std::slice::from_ref(&k), &forged, 10), Err(TokenError::Forged), "payload swapped");
        assert_eq!(verify(std::slice::from_ref(&k), payload, 10), Err(TokenError::Forged));
        assert_eq!(verify(std::slice::from_ref(&k), "", 10), Err(TokenError::Forged));
        let retired = RsvpKey { retired_at: Some(5), ..k.clone() };
        assert_eq!(verify(std::slice::from_ref(&retired), &signed, 10).map(|t| t.sequence), Ok(2), "in its grace period");
        assert_eq!(verify(&[retired], &signed, 5 + GRACE + 1), Err(TokenError::Forged));
        assert_eq!(link("https://cal.example/dav/", &k, &token()), format!("https://cal.example/dav/rsvp/{signed}"));
    }

    #[test]
    fn expiry_is_the_end_or_the_cap() {
        assert_eq!(expiry(Some(500), 100), 500);
        assert_eq!(expiry(None, 100), 100 + MAX_LIFETIME);
        assert_eq!(expiry(Some(i64::MAX), 100), 100 + MAX_LIFETIME);
    }

    #[test]
    fn readable_times() {
        assert_eq!(readable_time(&Prop::new("DTSTART", "20270105T100000Z")), "2027-01-05 10:00 UTC");
        let mut p = Prop::new("DTSTART", "20270105T110000");
        p.set_param("TZID", "Europe/Berlin");
        assert_eq!(readable_time(&p), "2027-01-05 11:00 (Europe/Berlin)");
        assert_eq!(readable_time(&Prop::new("DTSTART", "20270105")), "2027-01-05");
        assert_eq!(unescape_text("a\\, b\\;c\\nd"), "a, b;c\nd");
    }
}
