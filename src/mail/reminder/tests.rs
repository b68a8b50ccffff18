//! The reminder email read back by a real parser (mail-parser): headers, both parts, escaping.

use mail_parser::{MessageParser, MimeHeaders, PartType};

use super::*;

/// UTC seconds of a `YYYYMMDDTHHMMSSZ` instant: test inputs written as instants, read by chrono
/// without any zone, so the expected wall times below are derived by hand (CET = UTC+1, CEST =
/// UTC+2 from Sun 29 Mar 2026 01:00 UTC).
fn utc(text: &str) -> i64 {
    chrono::NaiveDateTime::parse_from_str(text, "%Y%m%dT%H%M%SZ").unwrap().and_utc().timestamp()
}

fn sender() -> Mailbox {
    "Kalends <calendar@cal.example.org>".parse().unwrap()
}

fn standup() -> ReminderMail {
    let sender = sender();
    ReminderMail {
        message_id: reminder_message_id(42, Some(utc("20261210T090000Z")), "-PT15M", "mailto:ana@example.org", &sender),
        sender,
        recipient: "mailto:ana@example.org".into(),
        recipient_name: Some("Ana Ünal".into()),
        date: SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(utc("20261210T084500Z").unsigned_abs()),
        alarm_summary: None,
        alarm_description: Some("Reminder".into()),
        title: Some("Standup".into()),
        is_task: false,
        start: Some(utc("20261210T090000Z")),
        end: Some(utc("20261210T091500Z")),
        all_day: false,
        zone: "Europe/Berlin".into(),
        location: Some("Room 1".into()),
        description: Some("Daily sync".into()),
        calendar_name: Some("Work".into()),
        calendar_url: Some("https://cal.example.org/dav/calendars/ana/work/".into()),
        unsubscribe_url: Some("https://cal.example.org/reminders/off?t=abc&u=1".into()),
        from_display_alarm: true,
    }
}

/// What the parser found: headers by name (trimmed raw values), and the two parts' text.
struct Read {
    raw: String,
    subject: String,
    message_id: String,
    date: i64,
    to: (Option<String>, String),
    from: String,
    plain: String,
    html: String,
    headers: Vec<(String, String)>,
}

impl Read {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

fn read(m: &ReminderMail) -> Read {
    let bytes = compose_reminder(m).unwrap();
    let msg = MessageParser::default().parse(&bytes).unwrap();
    let root = msg.root_part();
    assert_eq!(root.content_type().unwrap().subtype(), Some("alternative"));
    let mut plain = None;
    let mut html = None;
    for part in &msg.parts {
        let charset = part.content_type().and_then(|c| c.attribute("charset")).map(str::to_ascii_lowercase);
        match &part.body {
            PartType::Text(t) => {
                assert_eq!(charset.as_deref(), Some("utf-8"));
                assert!(plain.replace(t.to_string()).is_none(), "one text/plain part");
            }
            PartType::Html(h) => {
                assert_eq!(charset.as_deref(), Some("utf-8"));
                assert!(html.replace(h.to_string()).is_none(), "one text/html part");
            }
            _ => {}
        }
    }
    let to = msg.to().and_then(|a| a.first()).unwrap();
    Read {
        raw: String::from_utf8(bytes.clone()).unwrap(),
        subject: msg.subject().unwrap().to_owned(),
        message_id: msg.message_id().unwrap().to_owned(),
        date: msg.date().unwrap().to_timestamp(),
        to: (to.name().map(str::to_owned), to.address().unwrap().to_owned()),
        from: msg.from().and_then(|a| a.first()).and_then(|a| a.address()).unwrap().to_owned(),
        // Text travels with CRLF line ends (RFC 5322 §2.3); the assertions read lines as LF.
        plain: plain.expect("a text/plain part").replace("\r\n", "\n"),
        html: html.expect("a text/html part").replace("\r\n", "\n"),
        headers: msg.headers().iter().map(|h| (h.name().to_owned(), msg.header_raw(h.name()).unwrap_or("").trim().to_owned())).collect(),
    }
}

#[test]
fn headers_of_a_converted_alarm_with_an_unsubscribe_link() {
    let m = standup();
    let r = read(&m);
    assert_eq!(r.subject, "Reminder: Standup at Thu 10 Dec 10:00 (Europe/Berlin)");
    // mail-parser gives the id without its angle brackets.
    assert_eq!(format!("<{}>", r.message_id), m.message_id);
    assert_eq!(r.from, "calendar@cal.example.org");
    assert_eq!(r.to, (Some("Ana Ünal".to_owned()), "ana@example.org".to_owned()));
    assert_eq!(r.header("Auto-Submitted"), Some("auto-generated"));
    assert_eq!(r.header("X-Auto-Response-Suppress"), Some("All"));
    assert_eq!(r.header("List-Unsubscribe"), Some("<https://cal.example.org/reminders/off?t=abc&u=1>"));
    assert_eq!(r.header("List-Unsubscribe-Post"), Some("List-Unsubscribe=One-Click"));
    assert_eq!(r.date, utc("20261210T084500Z"));
    assert!(r.raw.is_ascii(), "8-bit text is transfer-encoded");
    // The body's footer carries the same link.
    assert!(r.plain.contains("reminder emails are on for your account. To turn them off:\nhttps://cal.example.org/reminders/off?t=abc&u=1\n"), "{}", r.plain);
    assert!(r.html.contains("<a href=\"https://cal.example.org/reminders/off?t=abc&amp;u=1\">Turn off reminder emails</a>"), "{}", r.html);
}

#[test]
fn without_an_unsubscribe_url_no_list_headers_and_the_way_off_in_words() {
    let m = ReminderMail { unsubscribe_url: None, ..standup() };
    let r = read(&m);
    assert_eq!(r.header("List-Unsubscribe"), None);
    assert_eq!(r.header("List-Unsubscribe-Post"), None);
    assert_eq!(r.header("Auto-Submitted"), Some("auto-generated"));
    assert!(r.plain.contains("ask your administrator: kalends reminders off <your user name>"), "{}", r.plain);
    assert!(r.html.contains("ask your administrator: kalends reminders off &lt;your user name&gt;"), "{}", r.html);
    assert!(!r.html.contains("Turn off reminder emails"), "{}", r.html);
}

#[test]
fn an_email_alarm_says_to_remove_the_alert() {
    let m = ReminderMail { from_display_alarm: false, unsubscribe_url: None, ..standup() };
    let r = read(&m);
    assert!(r.plain.contains("remove the email alert from the event"), "{}", r.plain);
    assert!(r.html.contains("remove the email alert from the event"), "{}", r.html);
    assert!(!r.plain.contains("kalends reminders off"), "{}", r.plain);
}

#[test]
fn the_body_has_the_facts_in_the_events_zone() {
    let r = read(&standup());
    assert!(r.plain.starts_with("Standup\n\n"), "{}", r.plain);
    assert!(r.plain.contains("When: Thu 10 Dec 2026 10:00–10:15 (Europe/Berlin)\n"), "{}", r.plain);
    assert!(r.plain.contains("Where: Room 1\n"), "{}", r.plain);
    assert!(r.plain.contains("Calendar: Work <https://cal.example.org/dav/calendars/ana/work/>\n"), "{}", r.plain);
    assert!(r.plain.contains("\nDaily sync\n"), "{}", r.plain);
    assert!(r.plain.contains("\n-- \n"), "{}", r.plain);
    assert!(r.html.contains("<h2>Standup</h2>"), "{}", r.html);
    assert!(r.html.contains("<td>Thu 10 Dec 2026 10:00–10:15 (Europe/Berlin)</td>"), "{}", r.html);
    assert!(r.html.contains("<td><a href=\"https://cal.example.org/dav/calendars/ana/work/\">Work</a></td>"), "{}", r.html);
}

#[test]
fn wall_times_follow_daylight_saving() {
    // 10:00 in Berlin is 09:00 UTC before Sun 29 Mar 2026 and 08:00 UTC from that day on.
    let before = ReminderMail { start: Some(utc("20260328T090000Z")), end: Some(utc("20260328T100000Z")), ..standup() };
    let after = ReminderMail { start: Some(utc("20260329T080000Z")), end: Some(utc("20260329T090000Z")), ..standup() };
    assert_eq!(reminder_subject(&before), "Reminder: Standup at Sat 28 Mar 10:00 (Europe/Berlin)");
    assert_eq!(reminder_subject(&after), "Reminder: Standup at Sun 29 Mar 10:00 (Europe/Berlin)");
    let r = read(&after);
    assert_eq!(r.subject, "Reminder: Standup at Sun 29 Mar 10:00 (Europe/Berlin)");
    assert!(r.plain.contains("When: Sun 29 Mar 2026 10:00–11:00 (Europe/Berlin)\n"), "{}", r.plain);
    // Across the change itself: 00:30 CET to 03:30 CEST is two hours.
    let across = ReminderMail { start: Some(utc("20260328T233000Z")), end: Some(utc("20260329T013000Z")), ..standup() };
    assert!(read(&across).plain.contains("When: Sun 29 Mar 2026 00:30–03:30 (Europe/Berlin)\n"));
    // The same instant in UTC, and a name no one knows written in UTC, named so.
    let in_utc = ReminderMail { zone: "UTC".into(), ..after.clone() };
    assert_eq!(reminder_subject(&in_utc), "Reminder: Standup at Sun 29 Mar 08:00 (UTC)");
    let unknown = ReminderMail { zone: "Mars/Olympus".into(), ..after };
    assert_eq!(reminder_subject(&unknown), "Reminder: Standup at Sun 29 Mar 08:00 (UTC)");
}

#[test]
fn all_day_events_are_dates() {
    // A DATE is placed at its midnight in the zone: Thu 10 Dec in Berlin starts 23:00 UTC the day before.
    let one = ReminderMail {
        title: Some("Holiday".into()),
        all_day: true,
        start: Some(utc("20261209T230000Z")),
        end: Some(utc("20261210T230000Z")),
        ..standup()
    };
    assert_eq!(reminder_subject(&one), "Reminder: Holiday on Thu 10 Dec");
    let r = read(&one);
    assert!(r.plain.contains("When: Thu 10 Dec 2026 (all day)\n"), "{}", r.plain);
    assert!(!r.plain.contains("00:00"), "{}", r.plain);
    // DTEND is exclusive: an event ending at the start of Sun 13 Dec lasts to Sat 12 Dec.
    let three = ReminderMail { end: Some(utc("20261212T230000Z")), ..one };
    assert!(read(&three).plain.contains("When: Thu 10 Dec 2026 – Sat 12 Dec 2026 (all day)\n"));
}

#[test]
fn tasks_are_due() {
    let taxes = ReminderMail {
        title: Some("Taxes".into()),
        is_task: true,
        start: None,
        end: Some(utc("20261210T160000Z")),
        location: None,
        ..standup()
    };
    assert_eq!(reminder_subject(&taxes), "Reminder: Taxes due Thu 10 Dec 17:00 (Europe/Berlin)");
    let r = read(&taxes);
    assert!(r.plain.contains("Due: Thu 10 Dec 2026 17:00 (Europe/Berlin)\n"), "{}", r.plain);
    assert!(!r.plain.contains("When:") && !r.plain.contains("Where:"), "{}", r.plain);
    let started = ReminderMail { start: Some(utc("20261201T080000Z")), ..taxes.clone() };
    let plain = read(&started).plain;
    assert!(plain.contains("Starts: Tue 1 Dec 2026 09:00 (Europe/Berlin)\nDue: Thu 10 Dec 2026 17:00 (Europe/Berlin)\n"), "{plain}");
    let all_day = ReminderMail { all_day: true, end: Some(utc("20261209T230000Z")), ..taxes.clone() };
    assert_eq!(reminder_subject(&all_day), "Reminder: Taxes due Thu 10 Dec");
    let timeless = ReminderMail { end: None, ..taxes };
    assert_eq!(reminder_subject(&timeless), "Reminder: Taxes");
}

#[test]
fn a_missing_title_is_named_untitled() {
    for title in [None, Some("  ".to_owned())] {
        let m = ReminderMail { title, ..standup() };
        assert_eq!(reminder_subject(&m), "Reminder: (untitled event) at Thu 10 Dec 10:00 (Europe/Berlin)");
        let r = read(&m);
        assert!(r.plain.starts_with("(untitled event)\n"), "{}", r.plain);
        assert!(r.html.contains("<h2>(untitled event)</h2>"), "{}", r.html);
    }
    let task = ReminderMail { title: None, is_task: true, ..standup() };
    assert!(reminder_subject(&task).starts_with("Reminder: (untitled task) due "));
}

#[test]
fn html_escapes_every_value() {
    let evil = "<script>alert(1)</script>";
    let m = ReminderMail {
        title: Some(format!("Plan {evil}")),
        location: Some(format!("Room {evil}")),
        description: Some(format!("Text {evil}\nsecond \"line\"")),
        alarm_description: Some(format!("Note {evil}")),
        calendar_name: Some(format!("Cal {evil}")),
        calendar_url: Some("https://cal.example.org/c?a=1&b=\"2\"".into()),
        ..standup()
    };
    let r = read(&m);
    assert!(!r.html.contains("<script"), "{}", r.html);
    for label in ["Plan", "Room", "Text", "Note", "Cal"] {
        assert!(r.html.contains(&format!("{label} &lt;script&gt;alert(1)&lt;/script&gt;")), "{label}: {}", r.html);
        // The plain part is text: shown as written.
        assert!(r.plain.contains(&format!("{label} {evil}")), "{label}: {}", r.plain);
    }
    assert!(r.html.contains("<br>second &quot;line&quot;"), "{}", r.html);
    assert!(r.html.contains("href=\"https://cal.example.org/c?a=1&amp;b=&quot;2&quot;\""), "{}", r.html);
}

#[test]
fn subjects_are_one_line() {
    let injected = ReminderMail { alarm_summary: Some("Call\r\nBcc: eve@evil.example\n\tnow".into()), ..standup() };
    assert_eq!(reminder_subject(&injected), "Call Bcc: eve@evil.example now");
    let r = read(&injected);
    assert_eq!(r.subject, "Call Bcc: eve@evil.example now");
    assert_eq!(r.header("Bcc"), None);
    assert!(!r.raw.contains("\r\nBcc:"), "{}", r.raw);
    let title = ReminderMail { title: Some("Stand\r\nup".into()), ..standup() };
    assert_eq!(reminder_subject(&title), "Reminder: Stand up at Thu 10 Dec 10:00 (Europe/Berlin)");
    // An empty SUMMARY is no subject: the generated one stands.
    let blank = ReminderMail { alarm_summary: Some(" \r\n".into()), ..standup() };
    assert_eq!(reminder_subject(&blank), "Reminder: Standup at Thu 10 Dec 10:00 (Europe/Berlin)");
}

#[test]
fn the_alarms_own_summary_is_the_subject() {
    let m = ReminderMail { alarm_summary: Some("Leave for the airport ✈".into()), ..standup() };
    assert_eq!(read(&m).subject, "Leave for the airport ✈");
}

#[test]
fn boilerplate_alarm_descriptions_are_dropped_and_real_ones_come_first() {
    for said in ["Reminder", "Event reminder", "event reminder.", "This is an event reminder", "Default Mozilla Description", "", "  ", "Standup", "standup", "Daily sync"] {
        let m = ReminderMail { alarm_description: Some(said.into()), ..standup() };
        let r = read(&m);
        assert!(r.plain.starts_with("Standup\n\n"), "{said:?}: {}", r.plain);
        assert!(r.html.contains("<body>\n<h2>Standup</h2>"), "{said:?}: {}", r.html);
    }
    let m = ReminderMail { alarm_description: Some("Bring the <slides>".into()), ..standup() };
    let r = read(&m);
    assert!(r.plain.starts_with("Bring the <slides>\n\nStandup\n\n"), "{}", r.plain);
    assert!(r.html.contains("<body>\n<p>Bring the &lt;slides&gt;</p>\n<h2>Standup</h2>"), "{}", r.html);
}

#[test]
fn without_a_public_url_the_calendar_is_named_not_linked() {
    let m = ReminderMail { calendar_url: None, unsubscribe_url: None, ..standup() };
    let r = read(&m);
    assert!(r.plain.contains("Calendar: Work\n"), "{}", r.plain);
    assert!(!r.html.contains("href"), "{}", r.html);
    assert!(r.html.contains("<td>Work</td>"), "{}", r.html);
    let nameless = ReminderMail { calendar_name: None, calendar_url: None, ..m };
    assert!(!read(&nameless).plain.contains("Calendar:"));
}

#[test]
fn refuses_bad_addresses_and_urls() {
    let m = ReminderMail { recipient: "mailto:not an address".into(), ..standup() };
    assert!(matches!(compose_reminder(&m), Err(ComposeError::Address(_))));
    let m = ReminderMail { unsubscribe_url: Some("https://x.example/a>\r\nBcc: eve@evil.example".into()), ..standup() };
    assert!(matches!(compose_reminder(&m), Err(ComposeError::Build(_))));
    let bare = ReminderMail { recipient: "ana@example.org".into(), recipient_name: None, ..standup() };
    assert_eq!(read(&bare).to, (None, "ana@example.org".to_owned()));
}

#[test]
fn message_ids_are_deterministic_and_distinct() {
    let s = sender();
    let id = reminder_message_id(42, Some(1_700_000_000), "-PT15M", "mailto:ana@example.org", &s);
    assert_eq!(id, reminder_message_id(42, Some(1_700_000_000), "-PT15M", "mailto:ana@example.org", &s));
    // The same address however written.
    assert_eq!(id, reminder_message_id(42, Some(1_700_000_000), "-PT15M", "MAILTO:Ana@Example.org", &s));
    assert_eq!(id, reminder_message_id(42, Some(1_700_000_000), "-PT15M", "ana@example.org", &s));
    let others = [
        reminder_message_id(43, Some(1_700_000_000), "-PT15M", "mailto:ana@example.org", &s),
        reminder_message_id(42, Some(1_700_000_001), "-PT15M", "mailto:ana@example.org", &s),
        reminder_message_id(42, None, "-PT15M", "mailto:ana@example.org", &s),
        reminder_message_id(42, Some(1_700_000_000), "-PT5M", "mailto:ana@example.org", &s),
        reminder_message_id(42, Some(1_700_000_000), "-PT15M", "mailto:bob@example.org", &s),
        // Length-prefixed parts: moving text between key and recipient changes the id.
        reminder_message_id(42, Some(1_700_000_000), "-PT15Mana", "@example.org", &s),
    ];
    for (i, other) in others.iter().enumerate() {
        assert_ne!(&id, other, "variant {i}");
    }
    let hex = id.strip_prefix("<reminder.").and_then(|r| r.strip_suffix("@cal.example.org>")).unwrap();
    assert_eq!(hex.len(), 32);
    assert!(hex.chars().all(|c| c.is_ascii_hexdigit()), "{id}");
}
