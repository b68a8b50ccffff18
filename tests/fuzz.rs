//! Fuzzing on the stable toolchain (issue 22, docs/decisions/0032-fuzzing.md): one test per
//! target of `fuzz/targets.rs` runs its seeds and then mutated inputs (`tests/fuzz/driver.rs`);
//! a plain `cargo test` runs a fixed, seeded few hundred mutations, `tools/fuzz --seconds N`
//! runs each target for N seconds. Below them, every input a fuzzer ever crashed on, as a
//! regression test with the exact bytes.

#[path = "fuzz/driver.rs"]
mod driver;
#[path = "fuzz/seeds.rs"]
mod seeds;
#[path = "fuzz/targets.rs"]
mod targets;

use driver::Target;

/// Syntax each format's parser branches on, for the mutator to insert.
mod dict {
    pub const XML: &[&str] = &[
        "<", ">", "</", "/>", "<D:", "</D:", "<C:", "xmlns=\"DAV:\"", "xmlns:C=\"urn:ietf:params:xml:ns:caldav\"", "xmlns:x=\"\"",
        "<![CDATA[", "]]>", "<!--", "-->", "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>", "<!DOCTYPE a>", "&amp;", "&#0;",
        "&#x10FFFF;", "&#xFFFE;", "&lt;", "&unknown;", "xml:lang=\"en\"", " a=\"1\" a=\"2\"", "\u{feff}", "<C:expand start=\"",
        "<C:time-range start=\"20240101T000000Z\" end=\"", "<C:text-match collation=\"i;octet\">", "<C:is-not-defined/>",
        "<C:comp-filter name=\"VEVENT\">", "<C:prop-filter name=\"", "<C:param-filter name=\"", "<D:prop>", "<D:href>",
        "<D:sync-token>", "<D:limit><D:nresults>", "negate-condition=\"yes\"", "T000000Z\"", "<C:comp name=\"",
    ];
    pub const ICAL: &[&str] = &[
        "BEGIN:VCALENDAR\r\n", "END:VCALENDAR\r\n", "BEGIN:VEVENT\r\n", "END:VEVENT\r\n", "BEGIN:VTODO\r\n", "BEGIN:VALARM\r\n",
        "BEGIN:VTIMEZONE\r\n", "BEGIN:STANDARD\r\n", "BEGIN:DAYLIGHT\r\n", "BEGIN:VJOURNAL\r\n", "BEGIN:VFREEBUSY\r\n",
        "\r\n ", "\r\n\t", "\r\n", ";", ":", ",", "\\n", "\\,", "\"", "TZID=", ";TZID=Europe/Berlin", ";TZID=Nowhere/Zone",
        ";VALUE=DATE", ";VALUE=PERIOD", ";RANGE=THISANDFUTURE", "RRULE:FREQ=", "FREQ=SECONDLY", "FREQ=MINUTELY", "FREQ=YEARLY",
        ";COUNT=", ";UNTIL=", ";INTERVAL=", ";BYSETPOS=", ";BYDAY=", "-1SU", "53MO", ";BYMONTHDAY=-31", ";BYYEARDAY=366",
        ";BYWEEKNO=-53", ";BYHOUR=", ";BYMINUTE=59", ";BYSECOND=60", ";WKST=", "EXDATE:", "RDATE:", "RECURRENCE-ID:",
        "DTSTART:", "DTEND:", "DUE:", "DURATION:", "P1W", "-PT15M", "PT0S", "P9999999D", "TRIGGER:", "TRIGGER;RELATED=END:",
        "TRIGGER;VALUE=DATE-TIME:", "19700101T000000Z", "99991231T235959Z", "00010101", "20240229", "20241103T013000",
        "T250000", "UID:", "SEQUENCE:", "STATUS:CANCELLED", "ORGANIZER:mailto:", "ATTENDEE;PARTSTAT=ACCEPTED:mailto:",
        "METHOD:REQUEST\r\n", "METHOD:REPLY\r\n", "METHOD:CANCEL\r\n", "FREEBUSY:", "/PT1H", "TZOFFSETFROM:+1400",
        "TZOFFSETTO:-2400", "X-", "\u{feff}", "é", "\u{0}",
    ];
    pub const MIME: &[&str] = &[
        "Content-Type: ", "multipart/mixed; boundary=", "multipart/alternative; boundary=\"", "text/calendar; method=REPLY",
        "application/ics", "message/rfc822", "Content-Transfer-Encoding: base64\r\n", "Content-Transfer-Encoding: quoted-printable\r\n",
        "=?utf-8?B?", "=?iso-8859-1?Q?", "?=", "\r\n--", "--\r\n", "=\r\n", "=3D", "charset=", "name=\"x.ics\"",
        "Content-Disposition: attachment; filename*=UTF-8''", "From: ", "<a@example.com>", "Message-ID: <", "Date: ",
        "\r\n\r\n", "BEGIN:VCALENDAR\r\n", "METHOD:REPLY\r\n",
    ];
    pub const HEADERS: &[&str] = &[
        "Depth: ", "infinity", "If-Match: ", "If-None-Match: *", "\"", "W/\"", ", ", "Overwrite: ", "Destination: ", "http://",
        "https://", "Host: ", ":443", "@", "Authorization: Basic ", "Authorization: Bearer ", "Og==", "=", "Forwarded: for=",
        "for=\"[", "]:", ";proto=https", "X-Forwarded-For: ", "::ffff:", "10.0.0.", "If-Schedule-Tag-Match: ", "Content-Type: ",
        "If-Modified-Since: ", "Prefer: return=minimal", "Brief: t", "\r\n",
    ];
}

fn target(name: &str, dictionary: &'static [&'static str]) -> Target {
    let Some(spec) = targets::TARGETS.iter().find(|t| t.name == name) else { panic!("no fuzz target {name}") };
    Target { name: spec.name, run: spec.run, max_len: spec.max_len, dictionary }
}

/// One test per target: seeds, then mutations; fails naming each crash and its saved input.
macro_rules! target_test {
    ($name:ident, $dict:expr) => {
        #[test]
        fn $name() {
            let t = target(stringify!($name), $dict);
            let report = driver::fuzz(&t, seeds::$name());
            driver::assert_clean(&t, &report);
            assert!(report.seeds > 0 || std::env::var_os("KALENDS_FUZZ_REPLAY").is_some(), "no seeds for {}", t.name);
        }
    };
}

target_test!(xml_request, dict::XML);
target_test!(ical_index, dict::ICAL);
target_test!(query_recurrence, dict::ICAL);
target_test!(itip_diff, dict::ICAL);
target_test!(imip_mail, dict::MIME);
target_test!(headers, dict::HEADERS);

#[test]
fn every_target_has_a_test() {
    let names = ["xml_request", "ical_index", "query_recurrence", "itip_diff", "imip_mail", "headers"];
    for spec in targets::TARGETS {
        assert!(names.contains(&spec.name), "fuzz target {} has no target_test! line", spec.name);
    }
}
