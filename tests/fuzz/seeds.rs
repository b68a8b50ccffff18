//! Seed corpora: the repository's fixtures (client and RFC request bodies, the iCalendar
//! corpus, the recurrence cases, iTIP and iMIP examples) read where they are, a few generated
//! families (RRULE variants, iTIP in MIME wrappings, header sets), and the hand-written inputs
//! and crash reproducers of `fuzz/corpus/<target>/`. Every run starts with all of them.

use std::path::{Path, PathBuf};

use super::targets::SPLIT;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Files under `dir` (recursively) whose name ends with one of `exts`, sorted.
fn files(dir: &str, exts: &[&str]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![root().join(dir)];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else if p.file_name().and_then(|n| n.to_str()).is_some_and(|n| exts.iter().any(|x| n.ends_with(x))) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn read_all(dirs: &[&str], exts: &[&str]) -> Vec<Vec<u8>> {
    dirs.iter().flat_map(|d| files(d, exts)).filter_map(|p| std::fs::read(p).ok()).collect()
}

/// The hand-written seeds and crash reproducers kept for a target.
fn corpus(target: &str) -> Vec<Vec<u8>> {
    read_all(&[&format!("fuzz/corpus/{target}")], &[""])
}

const ICS_DIRS: &[&str] = &["fixtures/ics-corpus", "fixtures/ical", "fixtures/recurrence/cases", "fixtures/rfc4791", "fixtures/itip"];

pub fn xml_request() -> Vec<Vec<u8>> {
    let mut seeds = read_all(&["fixtures/dav/requests"], &[".xml"]);
    seeds.extend(read_all(&["fixtures/rfc4791"], &["-request.xml"]));
    seeds.extend(queries(20240101, 20250101).into_iter().map(String::into_bytes));
    seeds.extend(corpus("xml_request"));
    seeds
}

pub fn ical_index() -> Vec<Vec<u8>> {
    let mut seeds = read_all(ICS_DIRS, &[".ics"]);
    seeds.extend(rrule_objects().into_iter().map(String::into_bytes));
    seeds.extend(corpus("ical_index"));
    seeds
}

/// Each recurrence case and generated rule with a few queries over the case's window.
pub fn query_recurrence() -> Vec<Vec<u8>> {
    let mut objects: Vec<String> =
        read_all(&["fixtures/recurrence/cases", "fixtures/ical"], &[".ics"]).into_iter().map(|b| String::from_utf8_lossy(&b).into_owned()).collect();
    objects.extend(rrule_objects());
    let bodies = queries(20240101, 20250101);
    let mut seeds = Vec::new();
    for (i, object) in objects.iter().enumerate() {
        // Two bodies per object, rotating, so every body meets many objects.
        for body in [&bodies[i % bodies.len()], &bodies[(i + 3) % bodies.len()]] {
            seeds.push(format!("{object}{SPLIT}{body}").into_bytes());
        }
    }
    seeds.extend(corpus("query_recurrence"));
    seeds
}

/// Versions of one object in sequence (a fixture, then the next one of its directory), and
/// each fixture alone as a new object.
pub fn itip_diff() -> Vec<Vec<u8>> {
    let mut seeds = Vec::new();
    for dir in ["fixtures/itip/rfc5546", "fixtures/itip/rfc6638", "fixtures/itip/clients"] {
        let texts: Vec<String> = files(dir, &[".ics"]).iter().filter_map(|p| std::fs::read_to_string(p).ok()).collect();
        for (i, t) in texts.iter().enumerate() {
            seeds.push(t.clone().into_bytes());
            if let Some(next) = texts.get(i + 1) {
                seeds.push(format!("{t}{SPLIT}{next}").into_bytes());
            }
        }
    }
    for object in rrule_objects().iter().take(12) {
        let invited = object.replace("END:VEVENT", "ORGANIZER:mailto:org@example.com\r\nATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:a@example.com\r\nATTENDEE:mailto:b@example.com\r\nEND:VEVENT");
        let moved = invited.replace("SEQUENCE:0", "SEQUENCE:1").replace("T090000", "T100000");
        seeds.push(format!("{invited}{SPLIT}{moved}").into_bytes());
    }
    seeds.extend(corpus("itip_diff"));
    seeds
}

/// The recorded replies, and every iTIP fixture in the MIME wrappings mailers use.
pub fn imip_mail() -> Vec<Vec<u8>> {
    let mut seeds = read_all(&["fixtures/imip"], &[".eml"]);
    let itip = read_all(&["fixtures/itip/rfc5546"], &[".ics"]);
    for (i, cal) in itip.iter().enumerate() {
        let cal = String::from_utf8_lossy(cal);
        seeds.push(wrap(i, &cal).into_bytes());
    }
    seeds.extend(corpus("imip_mail"));
    seeds
}

/// A message around `cal`: alternating plain, multipart/alternative with an attachment,
/// base64 and a forwarded message/rfc822.
fn wrap(i: usize, cal: &str) -> String {
    let head = "From: Att <a@example.com>\r\nTo: org@example.com\r\nDate: Mon, 6 Jan 2025 10:00:00 +0000\r\nMessage-ID: <m@example.com>\r\nMIME-Version: 1.0\r\n";
    use base64::Engine;
    match i % 4 {
        0 => format!("{head}Content-Type: text/calendar; method=REPLY; charset=utf-8\r\n\r\n{cal}"),
        1 => format!(
            "{head}Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: multipart/alternative; boundary=\"b2\"\r\n\r\n--b2\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b2\r\nContent-Type: text/calendar; method=REQUEST\r\n\r\n{cal}\r\n--b2--\r\n--b1\r\nContent-Type: application/ics; name=\"invite.ics\"\r\nContent-Disposition: attachment; filename=\"invite.ics\"\r\n\r\n{cal}\r\n--b1--\r\n"
        ),
        2 => format!(
            "{head}Content-Type: text/calendar; method=REPLY\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n",
            base64::engine::general_purpose::STANDARD.encode(cal)
        ),
        _ => format!(
            "{head}Content-Type: multipart/mixed; boundary=\"x\"\r\n\r\n--x\r\nContent-Type: message/rfc822\r\n\r\n{head}Content-Type: text/calendar\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n{}\r\n--x--\r\n",
            cal.replace('=', "=3D")
        ),
    }
}

pub fn headers() -> Vec<Vec<u8>> {
    let sets = [
        "Depth: 1\r\nIf-Match: \"a,b\", \"c\"\r\nOverwrite: F\r\nContent-Type: text/calendar; charset=utf-8\r\n",
        "Depth: infinity\r\nDestination: https://cal.example.com/dav/calendars/bob/work/x.ics\r\nHost: cal.example.com\r\nOverwrite: T\r\n",
        "If-None-Match: *\r\nIf-Schedule-Tag-Match: \"12\"\r\nIf-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n",
        "Authorization: Basic Ym9iOnNlY3JldA==\r\nPrefer: return=minimal\r\nBrief: t\r\n",
        "Authorization: Bearer kal_0123456789abcdef\r\n",
        "Forwarded: for=192.0.2.60;proto=http;by=203.0.113.43, for=\"[2001:db8:cafe::17]:4711\"\r\n",
        "X-Forwarded-For: 203.0.113.195, 10.0.0.1, 2001:db8:85a3::8a2e:370:7334\r\nX-Forwarded-For: 192.0.2.1:4711\r\n",
        "Forwarded: for=unknown, for=_hidden, for=10.1.1.1\r\nDepth: 0\r\n",
        "Destination: /dav/calendars/bob/a%20b/\r\nIf-Match: W/\"x\"\r\n",
        // The If header (RFC 4918 §10.4.6-§10.4.10's examples): untagged, tagged, Not, ETags.
        "If: (<urn:uuid:181d4fae-7d8c-11d0-a765-00a0c91e6bf2> [\"I am an ETag\"]) ([\"I am another ETag\"])\r\n",
        "If: (Not <urn:uuid:181d4fae-7d8c-11d0-a765-00a0c91e6bf2> <urn:uuid:58f202ac-22cf-11d1-b12d-002035b29092>)\r\n",
        "If: (<urn:uuid:181d4fae-7d8c-11d0-a765-00a0c91e6bf2>) (Not <DAV:no-lock>)\r\n",
        "If: </resource1> (<urn:uuid:181d4fae-7d8c-11d0-a765-00a0c91e6bf2> [W/\"A weak ETag\"]) ([\"strong ETag\"])\r\n",
        "If: <http://www.example.com/specs/> (<urn:uuid:181d4fae-7d8c-11d0-a765-00a0c91e6bf2>)\r\nDepth: infinity\r\n",
        "If: </specs/rfc2518.doc> ([\"4217\"])\r\nOverwrite: F\r\n",
        "If: </specs/rfc2518.doc> (Not [\"4217\"])\r\n",
    ];
    let mut seeds: Vec<Vec<u8>> = sets.iter().map(|s| s.as_bytes().to_vec()).collect();
    seeds.extend(corpus("headers"));
    seeds
}

/// calendar-query bodies over [start, end) (YYYYMMDD): a time-range on events with expand, on
/// to-dos, alarms, text and parameter matches, a free-busy-query.
fn queries(start: u32, end: u32) -> Vec<String> {
    let ns = "xmlns:D=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:caldav\"";
    let tr = format!("<C:time-range start=\"{start}T000000Z\" end=\"{end}T000000Z\"/>");
    let data = |inner: &str| format!("<D:prop><D:getetag/><C:calendar-data>{inner}</C:calendar-data></D:prop>");
    let query = |prop: String, filter: String| format!("<?xml version=\"1.0\"?>\n<C:calendar-query {ns}>\n{prop}\n<C:filter>\n<C:comp-filter name=\"VCALENDAR\">\n{filter}\n</C:comp-filter>\n</C:filter>\n</C:calendar-query>\n");
    vec![
        query(data(&format!("<C:expand start=\"{start}T000000Z\" end=\"{end}T000000Z\"/>")), format!("<C:comp-filter name=\"VEVENT\">{tr}</C:comp-filter>")),
        query(data(&format!("<C:limit-recurrence-set start=\"{start}T000000Z\" end=\"{end}T000000Z\"/>")), format!("<C:comp-filter name=\"VEVENT\">{tr}</C:comp-filter>")),
        query(data("<C:comp name=\"VCALENDAR\"><C:comp name=\"VEVENT\"><C:prop name=\"SUMMARY\"/><C:prop name=\"DTSTART\"/></C:comp></C:comp>"), format!("<C:comp-filter name=\"VTODO\">{tr}</C:comp-filter>")),
        query(String::new(), format!("<C:comp-filter name=\"VEVENT\"><C:comp-filter name=\"VALARM\">{tr}</C:comp-filter></C:comp-filter>")),
        query(String::new(), "<C:comp-filter name=\"VEVENT\"><C:prop-filter name=\"SUMMARY\"><C:text-match collation=\"i;unicode-casemap\" negate-condition=\"yes\">meeting</C:text-match></C:prop-filter></C:comp-filter>".into()),
        query(String::new(), format!("<C:comp-filter name=\"VEVENT\"><C:prop-filter name=\"ATTENDEE\"><C:param-filter name=\"PARTSTAT\"><C:text-match>NEEDS-ACTION</C:text-match></C:param-filter></C:prop-filter><C:prop-filter name=\"DTSTART\">{tr}</C:prop-filter></C:comp-filter>")),
        query(String::new(), "<C:comp-filter name=\"VEVENT\"><C:prop-filter name=\"RRULE\"><C:is-not-defined/></C:prop-filter><C:comp-filter name=\"VALARM\"><C:is-not-defined/></C:comp-filter></C:comp-filter>".into()),
        format!("<?xml version=\"1.0\"?>\n<C:free-busy-query {ns}>{tr}</C:free-busy-query>\n"),
    ]
}

/// Events with rules of every frequency, BY parts, ends (COUNT, UNTIL, none), zones (named,
/// floating, UTC, all-day), with RDATE/EXDATE and an override: the recurrence family that
/// expansion caps and the timeline have to hold against.
pub fn rrule_objects() -> Vec<String> {
    let rules = [
        "FREQ=DAILY;COUNT=10",
        "FREQ=WEEKLY;BYDAY=MO,WE,FR;UNTIL=20241231T235959Z",
        "FREQ=MONTHLY;BYDAY=-1FR",
        "FREQ=MONTHLY;BYMONTHDAY=31;INTERVAL=2",
        "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29",
        "FREQ=YEARLY;BYWEEKNO=53;BYDAY=MO",
        "FREQ=HOURLY;INTERVAL=7;BYHOUR=1,13",
        "FREQ=MINUTELY;INTERVAL=15;COUNT=500",
        "FREQ=SECONDLY",
        "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
        "FREQ=YEARLY;BYYEARDAY=-1,1,100",
        "FREQ=WEEKLY;INTERVAL=2;WKST=SU;BYDAY=TU,SU",
    ];
    let starts = [
        "DTSTART;TZID=Europe/Berlin:20240310T090000",
        "DTSTART:20240101T090000Z",
        "DTSTART:20240330T090000",
        "DTSTART;VALUE=DATE:20240101",
        "DTSTART;TZID=America/New_York:20241103T013000",
    ];
    let mut out = Vec::new();
    for (i, rule) in rules.iter().enumerate() {
        let start = starts[i % starts.len()];
        let extra = match i % 4 {
            0 => "EXDATE:20240102T090000Z\r\nRDATE:20240615T090000Z\r\n".to_owned(),
            1 => "DURATION:PT1H\r\n".to_owned(),
            2 => "DTEND:20240101T100000Z\r\n".to_owned(),
            _ => String::new(),
        };
        let mut text = format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//fuzz//EN\r\nBEGIN:VEVENT\r\nUID:rule-{i}@fuzz\r\nDTSTAMP:20240101T000000Z\r\nSEQUENCE:0\r\n{start}\r\n{extra}RRULE:{rule}\r\nSUMMARY:rule {i}\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT15M\r\nEND:VALARM\r\nEND:VEVENT\r\n"
        );
        if i % 3 == 0 {
            text.push_str(&format!(
                "BEGIN:VEVENT\r\nUID:rule-{i}@fuzz\r\nDTSTAMP:20240101T000000Z\r\nRECURRENCE-ID;RANGE=THISANDFUTURE:20240105T090000Z\r\nDTSTART:20240105T120000Z\r\nSUMMARY:moved\r\nEND:VEVENT\r\n"
            ));
        }
        text.push_str("END:VCALENDAR\r\n");
        out.push(text);
    }
    out
}
