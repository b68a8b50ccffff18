//! The recurrence golden corpus (`fixtures/recurrence`, instances computed by Python, not by
//! Kalends) as an oracle for alarm times: a `-PT15M` DISPLAY alarm in every VEVENT must fire
//! exactly 15 minutes before each expected instance start, in the case's zone and window.

use super::*;
use std::path::{Path, PathBuf};

const ALARM: &str = "BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT15M\r\nDESCRIPTION:x\r\nEND:VALARM\r\n";
const LEAD: i64 = 15 * 60;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/recurrence")
}

/// One instance of `expected/<case>.json` (written by json.dumps with an indent: one field a line).
struct Expected {
    uid: String,
    start: String,
    status: Option<String>,
}

fn field<'l>(line: &'l str, name: &str) -> Option<&'l str> {
    line.trim().strip_prefix(&format!("\"{name}\": "))
}

fn string(value: &str) -> Option<String> {
    let value = value.trim_end_matches(',');
    (value != "null").then(|| value.trim_matches('"').to_owned())
}

fn expected(name: &str) -> Vec<Expected> {
    let path = fixtures().join("expected").join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap();
    let (mut out, mut uid, mut start) = (Vec::new(), None, None);
    for line in text.lines() {
        if let Some(v) = field(line, "uid") {
            uid = string(v);
        } else if let Some(v) = field(line, "start") {
            start = string(v);
        } else if let Some(v) = field(line, "status") {
            // status is an instance's last field.
            let (uid, start) = (uid.take().unwrap(), start.take().unwrap());
            out.push(Expected { uid, start, status: string(v) });
        }
    }
    // Every instance object was read: as many as the file has "uid" fields.
    assert_eq!(out.len(), text.matches("\"uid\":").count(), "{}", path.display());
    out
}

/// The case's object with its own VALARMs and Thunderbird snooze/ack lines removed and the
/// test alarm put into every VEVENT that has a DTSTART; also the UIDs of those VEVENTs.
fn with_test_alarm(ics: &str) -> (String, Vec<String>) {
    let (mut out, mut uids) = (String::new(), Vec::new());
    let (mut in_event, mut in_alarm, mut dropping, mut dated, mut uid) = (false, false, false, false, String::new());
    for line in ics.split_inclusive('\n') {
        let bare = line.trim_end_matches(['\r', '\n']);
        let upper = bare.to_ascii_uppercase();
        if bare.starts_with([' ', '\t']) {
            if !dropping && !in_alarm {
                out.push_str(line);
            }
            continue;
        }
        dropping = false;
        if upper == "BEGIN:VALARM" {
            in_alarm = true;
        } else if upper == "END:VALARM" {
            in_alarm = false;
            continue;
        }
        if in_alarm {
            continue;
        }
        if upper.starts_with("X-MOZ-SNOOZE-TIME") || upper.starts_with("X-MOZ-LASTACK") {
            dropping = true;
            continue;
        }
        match upper.as_str() {
            "BEGIN:VEVENT" => (in_event, dated, uid) = (true, false, String::new()),
            "END:VEVENT" => {
                if dated {
                    out.push_str(ALARM);
                    uids.push(uid.clone());
                }
                in_event = false;
            }
            _ if in_event && (upper.starts_with("DTSTART:") || upper.starts_with("DTSTART;")) => dated = true,
            _ if in_event && upper.starts_with("UID:") => uid = bare[4..].trim().to_owned(),
            _ => {}
        }
        out.push_str(line);
    }
    (out, uids)
}

#[test]
fn alarm_times_match_the_python_instances_of_every_golden_case() {
    let manifest: toml::Table = std::fs::read_to_string(fixtures().join("cases.toml")).unwrap().parse().unwrap();
    let cases = manifest.get("case").and_then(|c| c.as_array()).unwrap();
    let (mut checked, mut fires_seen, mut failures) = (0, 0, Vec::new());
    for case in cases {
        let get = |key: &str| case.get(key).and_then(|v| v.as_str());
        let name = get("name").unwrap();
        // RFC 4791 §7.3 as the golden test reads it: floating times in the case's zone, else UTC.
        let zone: chrono_tz::Tz = get("zone").unwrap_or("UTC").parse().unwrap();
        let (start, end) = (ts(get("start").unwrap()), ts(get("end").unwrap()));
        let ics = std::fs::read_to_string(fixtures().join("cases").join(format!("{name}.ics"))).unwrap();
        let (data, event_uids) = with_test_alarm(&ics);
        if event_uids.is_empty() {
            continue; // VTODO-only cases: the alarm goes into VEVENTs
        }
        // An instance starting in [start, end) fires in [start - 15m, end - 15m), which is the
        // half-open (start - 15m - 1s, end - 15m - 1s] of fires_between.
        let mut want: Vec<i64> = expected(name)
            .into_iter()
            .filter(|i| event_uids.contains(&i.uid) && i.status.as_deref() != Some("CANCELLED"))
            .map(|i| ts(&i.start))
            .filter(|s| (start..end).contains(s))
            .map(|s| s - LEAD)
            .collect();
        want.sort();
        want.dedup(); // the same start twice is compared once, on both sides
        let found = fires_between(data.as_bytes(), &ctx(zone), start - LEAD - 1, end - LEAD - 1);
        let got: Vec<i64> = match found {
            Ok(f) => {
                let mut t: Vec<i64> = f.iter().map(|f| f.at).collect();
                t.dedup();
                t
            }
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
        checked += 1;
        fires_seen += got.len();
        if got != want {
            let show = |v: &[i64]| v.iter().map(|&t| utc(t)).collect::<Vec<_>>().join(" ");
            failures.push(format!("{name} (zone {zone}):\n  want {}\n  got  {}", show(&want), show(&got)));
        }
    }
    assert!(failures.is_empty(), "{} of {checked} cases differ:\n{}", failures.len(), failures.join("\n"));
    assert!(checked > 80, "only {checked} cases checked");
    assert!(fires_seen > 300, "only {fires_seen} fires compared");
}

#[test]
fn the_test_alarm_goes_into_dated_events_only() {
    let ics = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:a\r\nDTSTART:20240101T000000Z\r\nX-MOZ-LASTACK:2024\r\n 0101T000000Z\r\n\
BEGIN:VALARM\r\nACTION:AUDIO\r\nTRIGGER:-PT1M\r\nEND:VALARM\r\nEND:VEVENT\r\nBEGIN:VTODO\r\nUID:b\r\nDTSTART:20240101T000000Z\r\nEND:VTODO\r\nEND:VCALENDAR\r\n";
    let (out, uids) = with_test_alarm(ics);
    assert_eq!(uids, vec!["a"]);
    assert_eq!(out.matches("BEGIN:VALARM").count(), 1);
    assert!(!out.contains("AUDIO") && !out.contains("LASTACK") && !out.contains(" 0101T"), "{out}");
}
