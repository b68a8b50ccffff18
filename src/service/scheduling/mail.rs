//! The iTIP part of an iMIP email (RFC 6047): the sender's address, the Message-ID and the
//! calendar text, found anywhere in the MIME tree with the `mail-parser` crate
//! (docs/decisions/0018-imip-inbound.md).

use mail_parser::{Message, MessageParser, MimeHeaders, PartType};

/// What an inbound email carries for the scheduling pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    /// The From address, lower-cased (RFC 6047 §3: the sender should be the calendar user).
    pub from: Option<String>,
    /// The Message-ID, for the log lines of every decision.
    pub message_id: String,
    /// The iCalendar text of the first part that holds an iTIP message; None when none does.
    pub calendar: Option<String>,
}

/// Why an input is not mail at all (the MTA is told EX_DATAERR).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an RFC 5322 message: {0}")]
pub struct NotMail(pub String);

/// The largest message read: iMIP messages are a few kilobytes; an invitation with
/// attachments may be larger, but nothing beyond this is a calendar reply worth parsing.
pub const MAX_MAIL_BYTES: usize = 10 * 1024 * 1024;

/// Parses one RFC 5322 message. Input without a header section (no `Name: value` line before
/// the first empty line), or without From, Date or Message-ID and any MIME header, is not mail.
pub fn parse(raw: &[u8]) -> Result<Mail, NotMail> {
    if raw.len() > MAX_MAIL_BYTES {
        return Err(NotMail(format!("larger than {MAX_MAIL_BYTES} bytes")));
    }
    if !has_header_section(raw) {
        return Err(NotMail("no header section (RFC 5322 §2.2)".into()));
    }
    let message = MessageParser::default().parse(raw).ok_or_else(|| NotMail("unreadable".into()))?;
    let known = message.from().is_some() || message.message_id().is_some() || message.date().is_some();
    if !known {
        return Err(NotMail("no From, Message-ID or Date header".into()));
    }
    let from = message.from().and_then(|a| a.first()).and_then(|a| a.address()).map(|a| a.trim().to_lowercase());
    let message_id = message.message_id().map_or_else(|| "<none>".to_owned(), |id| format!("<{id}>"));
    let calendar = find_calendar(&message, 0);
    Ok(Mail { from, message_id, calendar })
}

/// RFC 5322 §2.2: a message starts with header fields, `name: body`, the name printable
/// US-ASCII without colon. A first line that is not one (a calendar file, binary) is not mail.
fn has_header_section(raw: &[u8]) -> bool {
    let first = raw.split(|b| *b == b'\n').next().unwrap_or_default();
    let Some(colon) = first.iter().position(|b| *b == b':') else { return false };
    colon > 0 && first[..colon].iter().all(|b| (33..=126).contains(b))
}

/// Nested messages are followed this deep (a forwarded reply inside a bounce).
const MAX_DEPTH: usize = 4;

/// The first part, depth first, that is a calendar: `text/calendar` (RFC 6047 §2.4), or
/// `application/ics` (what Outlook and Gmail attach as well), or a part named `*.ics`; the
/// method= parameter is not required, since gateways strip it (the METHOD inside decides).
fn find_calendar(message: &Message<'_>, depth: usize) -> Option<String> {
    let mut nested = Vec::new();
    for part in &message.parts {
        let ct = part.content_type();
        let kind = ct.map(|c| (c.ctype().to_ascii_lowercase(), c.subtype().unwrap_or_default().to_ascii_lowercase()));
        let named_ics = part.attachment_name().is_some_and(|n| n.to_ascii_lowercase().ends_with(".ics"));
        let is_calendar = matches!(
            kind.as_ref().map(|(t, s)| (t.as_str(), s.as_str())),
            Some(("text", "calendar") | ("application", "ics") | ("text", "x-vcalendar"))
        ) || named_ics;
        match &part.body {
            PartType::Message(inner) => nested.push(inner),
            PartType::Multipart(_) => {}
            _ if is_calendar => {
                let bytes = part.contents();
                let text = String::from_utf8_lossy(bytes).into_owned();
                if text.contains("BEGIN:VCALENDAR") {
                    return Some(text);
                }
            }
            _ => {}
        }
    }
    if depth >= MAX_DEPTH {
        return None;
    }
    nested.into_iter().find_map(|m| find_calendar(m, depth + 1))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const CAL: &str = "BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nEND:VCALENDAR\r\n";

    #[test]
    fn finds_the_calendar_part_without_method() {
        let raw = format!(
            "From: Bea <Bea@Example.org>\r\nMessage-ID: <m1@x>\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n\
             --b\r\nContent-Type: text/calendar; charset=utf-8\r\n\r\n{CAL}--b--\r\n"
        );
        let mail = parse(raw.as_bytes()).unwrap();
        assert_eq!(mail.from.as_deref(), Some("bea@example.org"));
        assert_eq!(mail.message_id, "<m1@x>");
        assert!(mail.calendar.unwrap().contains("METHOD:REPLY"));
    }

    #[test]
    fn refuses_what_is_not_mail() {
        assert!(parse(b"").is_err());
        assert!(parse(CAL.as_bytes()).is_err(), "a bare calendar is not mail");
        assert!(parse(b"\x00\x01\x02binary").is_err());
        assert!(parse(b"hello world\r\n").is_err());
    }

    /// Found by fuzzing (issue 22): a message/rfc822 part whose nested headers run into a
    /// second message/rfc822 made mail-parser's debug build panic (a debug_assert!; release
    /// builds end the part). The exact input; Cargo.toml builds mail-parser as it ships.
    #[test]
    fn a_nested_message_that_loses_its_multipart_is_read_without_panicking() {
        let raw = include_bytes!("../../../fuzz/corpus/imip_mail/nested-rfc822-lost-multipart.eml");
        let mail = parse(raw).unwrap();
        assert_eq!(mail.from.as_deref(), Some("a@example.com"));
    }
}
