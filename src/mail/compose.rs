//! One iMIP email (RFC 6047) from one queued iTIP message: headers, the readable summaries, the
//! calendar part and the same calendar as an attachment. Building only; sending is the worker's.

use std::time::SystemTime;

use lettre::Message;
use lettre::message::header::{ContentTransferEncoding, ContentType, HeaderName, HeaderValue};
use lettre::message::{Attachment, Body, Mailbox, MultiPart, SinglePart};
use sha2::{Digest, Sha256};

use super::summary::{Action, Summary, summarize};

#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    #[error("the iTIP message has no event or task to describe")]
    NoComponent,
    #[error("invalid address {0:?}")]
    Address(String),
    #[error("cannot build the message: {0}")]
    Build(String),
}

/// Who sends one message, and to whom.
#[derive(Debug, Clone)]
pub struct Envelope {
    /// The configured sender (`mail_from`): the address the mail comes from, so SPF and DKIM of
    /// the server's domain hold; its display name is replaced by the calendar user's.
    pub sender: Mailbox,
    /// The recipient's calendar user address (`mailto:…`).
    pub recipient: String,
    pub message_id: String,
    pub date: SystemTime,
    /// Links shown under the summary in both text parts (RSVP answers, say); may be empty.
    pub actions: Vec<Action>,
}

/// A deterministic Message-ID per (queued message, recipient): a send repeated after a crash
/// carries the same id, so receiving systems can drop the duplicate (RFC 5322 §3.6.4).
pub fn message_id(row: i64, recipient: &str, sender: &Mailbox) -> String {
    let digest = Sha256::digest(recipient.trim().to_ascii_lowercase().as_bytes());
    let hash: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    let domain = sender.email.domain();
    format!("<imip.{row}.{hash}@{domain}>")
}

/// The address part of a `mailto:` calendar user address.
pub fn mailto_address(cua: &str) -> &str {
    let v = cua.trim();
    v.get(..7).filter(|s| s.eq_ignore_ascii_case("mailto:")).map_or(v, |_| &v[7..])
}

/// RFC 6047 §2.4 sets `method` on the text/calendar part equal to the body's METHOD.
fn calendar_type(method: &str) -> Result<ContentType, ComposeError> {
    ContentType::parse(&format!("text/calendar; method={method}; charset=utf-8")).map_err(|e| ComposeError::Build(e.to_string()))
}

/// Builds the email for `itip` (a VCALENDAR with METHOD).
pub fn compose(envelope: &Envelope, itip: &str) -> Result<Message, ComposeError> {
    let summary = summarize(itip).ok_or(ComposeError::NoComponent)?;
    let to_address = mailto_address(&envelope.recipient);
    let to: Mailbox = to_address.parse().map_err(|_| ComposeError::Address(to_address.to_owned()))?;
    // The calendar user this message speaks for: the organizer of a REQUEST or CANCEL, the
    // attendee of a REPLY (RFC 5546 §3.2.3 has exactly one ATTENDEE).
    let speaker = match summary.method.as_str() {
        "REPLY" | "COUNTER" | "REFRESH" => summary.attendees.first().cloned(),
        _ => summary.organizer.clone(),
    };
    let from_name = speaker.as_ref().and_then(|p| p.name.clone()).or_else(|| envelope.sender.name.clone());
    let from = Mailbox::new(from_name, envelope.sender.email.clone());
    let mut builder = Message::builder()
        .from(from)
        .to(to)
        .subject(summary.subject())
        .message_id(Some(envelope.message_id.clone()))
        .date(envelope.date)
        // RFC 3834 §5: automatic responders must not answer this mail.
        .raw_header(HeaderValue::new(HeaderName::new_from_ascii_str("Auto-Submitted"), "auto-generated".to_owned()));
    // RFC 6047 §3: answers by mail go to the calendar user, not to the server's sender.
    if let Some(reply_to) = speaker.and_then(|p| {
        let name = p.name.clone();
        p.email.parse().ok().map(|a| Mailbox::new(name, a))
    }) {
        builder = builder.reply_to(reply_to);
    }
    builder.multipart(body(&summary, &envelope.actions, itip)?).map_err(|e| ComposeError::Build(e.to_string()))
}

/// multipart/mixed [ multipart/alternative [ text/plain, text/html, text/calendar ],
/// application/ics attachment ]: the shape Outlook, Gmail and Apple Mail all show with their
/// buttons (RFC 6047 §2.4 puts the iTIP body in text/calendar; the attachment serves clients
/// that only offer to open attached files).
fn body(summary: &Summary, actions: &[Action], itip: &str) -> Result<MultiPart, ComposeError> {
    let method = summary.method.as_str();
    // Base64 keeps the calendar's CRLF line ends and folding exactly as written (RFC 5545
    // §3.1); quoted-printable would let relays rewrap or re-end its lines.
    let base64 = || {
        Body::new_with_encoding(itip.to_owned(), ContentTransferEncoding::Base64)
            .map_err(|_| ComposeError::Build("cannot encode the calendar".into()))
    };
    let calendar = SinglePart::builder().header(calendar_type(method)?).body(base64()?);
    let ics = ContentType::parse("application/ics").map_err(|e| ComposeError::Build(e.to_string()))?;
    let file = if method == "CANCEL" { "cancel.ics" } else { "invite.ics" };
    Ok(MultiPart::mixed()
        .multipart(
            MultiPart::alternative()
                .singlepart(SinglePart::plain(summary.plain_with(actions)))
                .singlepart(SinglePart::html(summary.html_with(actions)))
                .singlepart(calendar),
        )
        .singlepart(Attachment::new(file.to_owned()).body(base64()?, ics)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const ITIP: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//y//EN\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\n\
UID:u1\r\nDTSTAMP:20261201T000000Z\r\nDTSTART:20261210T100000Z\r\nSUMMARY:Café ☕ 会議\r\n\
ORGANIZER;CN=Zoë Ünal:mailto:zoe@example.org\r\nATTENDEE;RSVP=TRUE:mailto:carol@else.example\r\n\
END:VEVENT\r\nEND:VCALENDAR\r\n";

    fn envelope() -> Envelope {
        let sender: Mailbox = "Kalends <calendar@cal.example.org>".parse().unwrap();
        Envelope { message_id: message_id(7, "mailto:carol@else.example", &sender), sender, recipient: "mailto:carol@else.example".into(), date: SystemTime::UNIX_EPOCH, actions: Vec::new() }
    }

    #[test]
    fn message_ids_are_stable_per_row_and_recipient() {
        let sender: Mailbox = "calendar@cal.example.org".parse().unwrap();
        let a = message_id(7, "mailto:carol@else.example", &sender);
        assert_eq!(a, message_id(7, "MAILTO:Carol@Else.example".to_lowercase().as_str(), &sender));
        assert_ne!(a, message_id(8, "mailto:carol@else.example", &sender));
        assert_ne!(a, message_id(7, "mailto:dave@else.example", &sender));
        assert!(a.starts_with("<imip.7.") && a.ends_with("@cal.example.org>"), "{a}");
    }

    #[test]
    fn headers_and_parts() {
        let raw = String::from_utf8(compose(&envelope(), ITIP).unwrap().formatted()).unwrap();
        let head = raw.split("\r\n\r\n").next().unwrap();
        // RFC 2047 encoded words for the non-ASCII display name and subject.
        assert!(head.contains("From: =?utf-8?"), "{head}");
        assert!(head.contains("<calendar@cal.example.org>"), "{head}");
        assert!(head.contains("Reply-To: =?utf-8?") && head.contains("<zoe@example.org>"), "{head}");
        assert!(head.contains("Auto-Submitted: auto-generated"), "{head}");
        assert!(head.contains("Message-ID: <imip.7."), "{head}");
        assert!(raw.contains("Content-Type: multipart/alternative"), "{raw}");
        assert!(raw.contains("Content-Type: text/calendar; method=REQUEST; charset=utf-8"), "{raw}");
        assert!(raw.contains("Content-Disposition: attachment; filename=\"invite.ics\""), "{raw}");
        assert!(raw.is_ascii(), "8-bit text is transfer-encoded");
    }

    #[test]
    fn refuses_what_it_cannot_describe() {
        assert!(matches!(compose(&envelope(), "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"), Err(ComposeError::NoComponent)));
        let mut e = envelope();
        e.recipient = "mailto:not an address".into();
        assert!(matches!(compose(&e, ITIP), Err(ComposeError::Address(_))));
    }
}
