//! Runs `parse_object` over every file of the real-world corpus in `fixtures/ics-corpus` (a copy
//! of the team's shared corpus, kept in the repository so any clone tests the same files; see its
//! SOURCES.md): each file must be indexed or
//! refused with a clear one-line reason. Files holding several objects are refused as one
//! resource and then checked object by object; files whose names say they are broken must be
//! refused. The expected verdict of every file is pinned below, so a change shows up here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use kalends::calendar::{InvalidObject, ValidateOptions, parse_object, split_by_uid};

const ANY_TIME: ValidateOptions = ValidateOptions {
    min_date_time: i64::MIN,
    max_date_time: i64::MAX,
};

/// How each file ends up, and a fragment of the reason for refusals.
const EXPECTED: &[(&str, Verdict, &str)] = &[
    ("calcard__resources__ical__001.ics", Verdict::Indexed, ""),
    ("calcard__resources__ical__004.ics", Verdict::Indexed, ""),
    (
        "calcard__resources__ical__006.ics",
        Verdict::Itip,
        "a VEVENT has no UID",
    ),
    ("calcard__resources__ical__007.ics", Verdict::Itip, ""),
    ("calcard__resources__ical__008.ics", Verdict::Split, ""),
    // Outlook wrote DTSTART;TZID="W. Europe Standard Time:20200609T090000" (quote misplaced).
    (
        "calcard__resources__ical__013.ics",
        Verdict::Data,
        "line 152: no ':'",
    ),
    (
        "calcard__resources__ical__014.ics",
        Verdict::Itip,
        "DTSTART value is not a DATE or DATE-TIME",
    ),
    (
        "calcard__resources__ical__015.ics",
        Verdict::Split,
        "a VEVENT has no DTSTART",
    ),
    ("calcard__resources__ical__020.ics", Verdict::Itip, ""),
    ("calcard__resources__ical__021.ics", Verdict::Indexed, ""),
    ("calcard__resources__ical__027.ics", Verdict::Indexed, ""),
    (
        "calcard__resources__ical__029.ics",
        Verdict::Resource,
        "a VEVENT has no UID",
    ),
    ("calcard__resources__ical__033.ics", Verdict::Itip, ""),
    (
        "calcard__resources__ical__034.ics",
        Verdict::Resource,
        "a VEVENT has no UID",
    ),
    ("calcard__resources__ical__043.ics", Verdict::Indexed, ""),
    // The same UID in two VCALENDARs: split by UID, it has two masters.
    (
        "calcard__resources__ical__046.ics",
        Verdict::Split,
        "only one master is allowed",
    ),
    ("calcard__resources__ical__047.ics", Verdict::Itip, ""),
    ("calcard__resources__ical__157.ics", Verdict::Indexed, ""),
    (
        "calcard__resources__ical__211.ics",
        Verdict::Split,
        "only one master is allowed",
    ),
    ("calcard__resources__ical__228.ics", Verdict::Split, ""),
    ("calcard__resources__ical__229.ics", Verdict::Indexed, ""),
    ("calcard__resources__ical__244.ics", Verdict::Indexed, ""),
    ("calcard__resources__ical__255.ics", Verdict::Indexed, ""),
    (
        "calcard__resources__ical__270.ics",
        Verdict::Resource,
        "has no VEVENT, VTODO, VJOURNAL or VFREEBUSY",
    ),
    (
        "calcard__resources__ical__280.ics",
        Verdict::Resource,
        "has no VEVENT, VTODO, VJOURNAL or VFREEBUSY",
    ),
    (
        "calcard__resources__ical__288.ics",
        Verdict::Resource,
        "has no VEVENT, VTODO, VJOURNAL or VFREEBUSY",
    ),
    // A caldavtester template: DTSTART;VALUE=DATE:$now.year.1:0427.
    (
        "ccs-caldavtester__Resource__CalDAV__put__3.ics",
        Verdict::Data,
        "DTSTART value is not a DATE or DATE-TIME",
    ),
    (
        "ccs-caldavtester__Resource__CalDAV__vtodos__5.ics",
        Verdict::Indexed,
        "",
    ),
    (
        "ccs-calendarserver__twistedcaldav__test__data__Holidays__C3184D26-1ED0-11D9-A5E0-000A958A3252.ics",
        Verdict::Indexed,
        "",
    ),
    // Classic Mac OS line endings (CR only).
    (
        "ccs-calendarserver__twistedcaldav__test__data__recurrance__Test-01A.ics",
        Verdict::Data,
        "a CR without LF",
    ),
    (
        "cyrus-imapd__cassandane__data__icalendar__attendeedir.ics",
        Verdict::Indexed,
        "",
    ),
    (
        "cyrus-imapd__cassandane__data__icalendar__locations-conference.ics",
        Verdict::Indexed,
        "",
    ),
    (
        "cyrus-imapd__cassandane__data__icalendar__relatedto.ics",
        Verdict::Indexed,
        "",
    ),
    (
        "cyrus-imapd__cassandane__data__icalendar__translations.ics",
        Verdict::Indexed,
        "",
    ),
    (
        "ical4j__src__test__resources__net__fortuna__ical4j__data__apple-iphone-os-26-structured-location.ics",
        Verdict::Indexed,
        "",
    ),
    (
        "ical4j__src__test__resources__samples__valid__SwedishHolidays2003-2006.ics",
        Verdict::Split,
        "",
    ),
    (
        "icalendar__src__icalendar__tests__calendars__alarm_google_acknowledged.ics",
        Verdict::Itip,
        "",
    ),
    (
        "icalendar__src__icalendar__tests__calendars__alarm_google_future.ics",
        Verdict::Itip,
        "",
    ),
    (
        "icalendar__src__icalendar__tests__calendars__america_new_york.ics",
        Verdict::Indexed,
        "",
    ),
    (
        "icalendar__src__icalendar__tests__calendars__america_new_york_forward_reference.ics",
        Verdict::Indexed,
        "",
    ),
    (
        "icalendar__src__icalendar__tests__calendars__broken_ical.ics",
        Verdict::Data,
        "line 4: empty parameter name",
    ),
    (
        "icalendar__src__icalendar__tests__calendars__empty_RDATE.ics",
        Verdict::Itip,
        "has no VEVENT, VTODO, VJOURNAL or VFREEBUSY",
    ),
    (
        "icalendar__src__icalendar__tests__calendars__fuzz_testcase_vtimezone_lone_cr.ics",
        Verdict::Data,
        "a CR without LF",
    ),
    (
        "icalendar__src__icalendar__tests__calendars__issue_104_broken_calendar.ics",
        Verdict::Data,
        "line 13: no ':'",
    ),
    (
        "icalendar__src__icalendar__tests__calendars__issue_1050_all_components.ics",
        Verdict::Resource,
        "mixes VEVENT and VTODO",
    ),
    (
        "icalendar__src__icalendar__tests__calendars__issue_1050_calendar_with_events_and_todos.ics",
        Verdict::Resource,
        "mixes VEVENT and VTODO",
    ),
    (
        "icalendar__src__icalendar__tests__calendars__issue_1050_empty_calendar.ics",
        Verdict::Resource,
        "has no VEVENT, VTODO, VJOURNAL or VFREEBUSY",
    ),
    (
        "icalendar__src__icalendar__tests__calendars__issue_1050_forward_timezone_reference.ics",
        Verdict::Indexed,
        "",
    ),
    (
        "icalendar__src__icalendar__tests__calendars__issue_1050_multiple_calendars.ics",
        Verdict::Split,
        "a VEVENT has no DTSTART",
    ),
    (
        "icalendar__src__icalendar__tests__calendars__issue_1050_simple_calendar.ics",
        Verdict::Indexed,
        "",
    ),
    (
        "icalendar__src__icalendar__tests__calendars__issue_1050_timezone_only_calendar.ics",
        Verdict::Resource,
        "has no VEVENT, VTODO, VJOURNAL or VFREEBUSY",
    ),
    (
        "icalendar__src__icalendar__tests__calendars__issue_1050_uid_in_description.ics",
        Verdict::Split,
        "a VEVENT has no DTSTART",
    ),
    (
        "icalendar__src__icalendar__tests__calendars__issue_1081_empty_rdate.ics",
        Verdict::Indexed,
        "",
    ),
    (
        "icalendar__src__icalendar__tests__calendars__issue_1081_event_with_rrule.ics",
        Verdict::Indexed,
        "",
    ),
    (
        "icalendar__src__icalendar__tests__calendars__issue_1081_freebusy_comma_separated.ics",
        Verdict::Indexed,
        "",
    ),
    // A feed with a property line appended after END:VCALENDAR.
    (
        "icalendar__src__icalendar__tests__calendars__issue_350.ics",
        Verdict::Data,
        "content after END:VCALENDAR",
    ),
    (
        "icalendar__src__icalendar__tests__calendars__rfc_7986_conferences.ics",
        Verdict::Resource,
        "a VEVENT has no UID",
    ),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Verdict {
    Indexed,
    /// Several objects (UIDs or VCALENDARs): refused as one resource, then checked one by one.
    Split,
    /// METHOD (an iTIP message): refused, then checked with METHOD removed, as a client storing
    /// an invitation would.
    Itip,
    Data,
    Resource,
}

/// What happened to one file, with every refusal reason met on the way.
struct Outcome {
    verdict: Verdict,
    reasons: Vec<String>,
    objects: usize,
    indexed: usize,
}

fn corpus_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/ics-corpus");
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus {} unreadable: {e}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("ics")))
        .collect();
    files.sort();
    files
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn outcome(data: &[u8]) -> Outcome {
    let err = match parse_object(data, &ANY_TIME) {
        Ok(_) => {
            return Outcome {
                verdict: Verdict::Indexed,
                reasons: Vec::new(),
                objects: 1,
                indexed: 1,
            };
        }
        Err(err) => err,
    };
    let text = String::from_utf8_lossy(data);
    let reason = err.to_string();
    match err {
        InvalidObject::Resource(why) if why.starts_with("METHOD:") => {
            let inner = outcome(without_method(&text).as_bytes());
            Outcome {
                verdict: Verdict::Itip,
                reasons: [vec![reason], inner.reasons].concat(),
                ..inner
            }
        }
        InvalidObject::Resource(why) if why.contains("different UIDs") => split(&text, reason),
        InvalidObject::Data(why) if why.contains("more than one VCALENDAR") => split(&text, reason),
        InvalidObject::Data(_) => refused(Verdict::Data, reason),
        _ => refused(Verdict::Resource, reason),
    }
}

fn refused(verdict: Verdict, reason: String) -> Outcome {
    Outcome {
        verdict,
        reasons: vec![reason],
        objects: 1,
        indexed: 0,
    }
}

fn without_method(text: &str) -> String {
    text.split_inclusive('\n')
        .filter(|l| !l.to_ascii_uppercase().starts_with("METHOD:"))
        .collect()
}

/// One object per UID, across every VCALENDAR of the file.
fn split(text: &str, reason: String) -> Outcome {
    let parts = split_by_uid(text);
    let mut reasons = vec![reason];
    let mut indexed = 0;
    for part in &parts {
        match parse_object(part.data.as_bytes(), &ANY_TIME) {
            Ok(index) => {
                assert_eq!(Some(index.uid.as_str()), part.uid.as_deref());
                indexed += 1;
            }
            Err(err) => reasons.push(err.to_string()),
        }
    }
    Outcome {
        verdict: Verdict::Split,
        reasons,
        objects: parts.len(),
        indexed,
    }
}

/// A reason a person can act on: one line, not empty, citing the rule it applies.
fn assert_clear(file: &str, reason: &str) {
    let one_line = !reason.trim().is_empty() && !reason.contains('\n') && reason.len() < 240;
    assert!(
        one_line && reason.contains("RFC "),
        "{file}: unclear reason {reason:?}"
    );
}

#[test]
fn every_corpus_file_is_indexed_or_refused_with_a_clear_reason() {
    let files = corpus_files();
    let expected: BTreeMap<&str, (Verdict, &str)> =
        EXPECTED.iter().map(|(f, v, r)| (*f, (*v, *r))).collect();
    let mut counts = BTreeMap::<Verdict, usize>::new();
    let (mut objects, mut indexed) = (0, 0);
    for path in &files {
        let name = file_name(path);
        let result = outcome(&std::fs::read(path).unwrap_or_else(|e| panic!("{name}: {e}")));
        println!(
            "{:<9} {}/{} indexed  {name}  {:?}",
            format!("{:?}", result.verdict),
            result.indexed,
            result.objects,
            result.reasons
        );
        result.reasons.iter().for_each(|r| assert_clear(&name, r));
        if let Some((verdict, fragment)) = expected.get(name.as_str()) {
            assert_eq!(result.verdict, *verdict, "{name}: {:?}", result.reasons);
            if fragment.is_empty() {
                // Nothing refused past the file-level reason: every object in it is indexed.
                assert_eq!(
                    result.indexed, result.objects,
                    "{name}: {:?}",
                    result.reasons
                );
            } else {
                assert!(
                    result.reasons.iter().any(|r| r.contains(fragment)),
                    "{name}: no reason has {fragment:?}: {:?}",
                    result.reasons
                );
            }
        }
        *counts.entry(result.verdict).or_default() += 1;
        objects += result.objects;
        indexed += result.indexed;
    }
    println!(
        "\n{} files: {counts:?}; {indexed} of {objects} objects indexed",
        files.len()
    );
    let missing: Vec<&&str> = expected
        .keys()
        .filter(|f| !files.iter().any(|p| file_name(p) == **f))
        .collect();
    assert!(
        missing.is_empty(),
        "pinned files missing from the corpus: {missing:?}"
    );
}

#[test]
fn files_named_broken_are_refused() {
    let broken: Vec<PathBuf> = corpus_files()
        .into_iter()
        .filter(|p| ["broken", "fuzz"].iter().any(|w| file_name(p).contains(w)))
        .collect();
    assert_eq!(broken.len(), 3, "{broken:?}");
    for path in broken {
        let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            parse_object(&data, &ANY_TIME).is_err(),
            "{} was accepted",
            file_name(&path)
        );
    }
}

#[test]
fn multi_object_files_yield_their_objects() {
    // SwedishHolidays2003-2006 holds 52 holidays, each its own UID, in several VCALENDARs.
    let path = corpus_files()
        .into_iter()
        .find(|p| file_name(p).contains("SwedishHolidays"))
        .unwrap_or_default();
    let result = outcome(&std::fs::read(&path).unwrap_or_default());
    assert_eq!(
        (result.verdict, result.objects, result.indexed),
        (Verdict::Split, 52, 52),
        "{:?}",
        result.reasons
    );
}

/// Windows around an object's first instant (the usual edges of a day and an hour, either
/// side) and a sweep of weeks and open ranges across the decades the corpus spans.
fn windows_near(first: Option<i64>) -> Vec<kalends::calendar::filter::TimeRange> {
    use kalends::calendar::filter::TimeRange;
    const DAY: i64 = 86_400;
    let mut out = Vec::new();
    if let Some(t) = first {
        for (from, to) in [(-DAY, DAY), (0, 1), (-3600, 0), (0, 3600), (DAY / 2, DAY), (-DAY / 2, 0), (7 * DAY, 14 * DAY)] {
            out.push(TimeRange { start: Some(t + from), end: Some(t + to) });
        }
        out.push(TimeRange { start: Some(t + 1), end: None });
        out.push(TimeRange { start: None, end: Some(t) });
    }
    // 1990-01-01 onwards, every 244 days and a half (so every weekday and hour edge comes
    // round), to 2040: past the horizon below, so both outcomes of a timeline are covered.
    let mut at = 631_152_000;
    while at < 2_208_988_800 {
        out.push(TimeRange { start: Some(at), end: Some(at + 7 * DAY) });
        out.push(TimeRange { start: Some(at), end: Some(at + 3600) });
        at += 244 * DAY + DAY / 2;
    }
    out
}

#[test]
fn stored_timelines_agree_with_exact_evaluation_on_every_corpus_object() {
    use kalends::calendar::filter::CompFilter;
    use kalends::calendar::index_object;
    use kalends::calendar::query::{QueryContext, object_matches};
    let horizon = 1_893_456_000; // 2030-01-01
    let zones = [chrono_tz::UTC, chrono_tz::Europe::Berlin, chrono_tz::America::Los_Angeles, chrono_tz::Pacific::Kiritimati];
    let filter = |r| {
        let event = CompFilter { name: "VEVENT".into(), is_not_defined: false, time_range: Some(r), props: vec![], comps: vec![] };
        CompFilter { name: "VCALENDAR".into(), is_not_defined: false, time_range: None, props: vec![], comps: vec![event] }
    };
    let (mut objects, mut decided, mut left) = (0, 0, 0);
    for path in corpus_files() {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let mut parts: Vec<String> = split_by_uid(&text).into_iter().map(|p| p.data).collect();
        parts.push(without_method(&text));
        for data in parts {
            let Ok(indexed) = index_object(data.as_bytes(), &ANY_TIME, horizon) else { continue };
            let Some(timeline) = indexed.timeline else { continue };
            objects += 1;
            for r in windows_near(indexed.index.first_start) {
                for zone in zones {
                    let ctx = QueryContext { zone, max_instances: 100_000 };
                    let Ok(exact) = object_matches(data.as_bytes(), &filter(r), ctx) else { continue };
                    match timeline.overlaps(&r, zone) {
                        Some(found) => {
                            decided += 1;
                            assert_eq!(found, exact, "{}: {r:?} in {zone}", file_name(&path));
                        }
                        None => left += 1,
                    }
                }
            }
        }
    }
    eprintln!("{objects} objects with a timeline: {decided} answers decided by it, {left} left to exact evaluation");
    // The corpus must exercise timelines, or this test says nothing.
    assert!(objects >= 40, "only {objects} corpus objects have a timeline");
    assert!(decided > 10 * left, "{decided} decided, {left} left to exact evaluation");
}
