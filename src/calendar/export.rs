//! Export of a whole calendar collection as one iCalendar stream (GET on a calendar collection),
//! and its inverse, splitting a multi-object file by UID. Components are copied as the client
//! sent them (only line endings become CRLF); nothing is re-serialized.

use std::collections::{HashMap, HashSet};

use super::raw::{self, RawComponent};

const PRODID: &str = "-//Kalends//Kalends//EN";

/// Merges the stored objects (each a VCALENDAR) into one VCALENDAR named `name`.
///
/// VTIMEZONEs come first (some clients do not look ahead for them), once per TZID; every other
/// component follows in the order given.
pub fn export_calendar(name: Option<&str>, objects: &[&[u8]]) -> String {
    let texts: Vec<_> = objects.iter().map(|o| String::from_utf8_lossy(o)).collect();
    let mut seen = HashSet::new();
    let mut timezones = Vec::new();
    let mut components = Vec::new();
    for component in texts.iter().flat_map(|t| raw::components(t)) {
        match (component.name.as_str(), &component.tzid) {
            ("VTIMEZONE", Some(tzid)) if seen.insert(tzid.clone()) => {
                timezones.push(component.text)
            }
            ("VTIMEZONE", _) => {}
            _ => components.push(component.text),
        }
    }
    let mut out = header(name);
    for text in timezones.into_iter().chain(components) {
        raw::with_crlf(text, &mut out);
    }
    out.push_str("END:VCALENDAR\r\n");
    out
}

fn header(name: Option<&str>) -> String {
    let mut out = format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:{PRODID}\r\n");
    if let Some(name) = name.filter(|n| !n.is_empty()) {
        raw::push_folded(
            &format!("X-WR-CALNAME:{}", raw::escape_text(name)),
            &mut out,
        );
    }
    out
}

/// The objects of one UID, cut from a file that holds several (a subscribed or imported
/// calendar). RFC 4791 §4.1 wants one resource per UID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UidObject {
    /// `None` for components without a UID (such an object will not validate).
    pub uid: Option<String>,
    /// A VCALENDAR with every VTIMEZONE of the source and the components of that UID, verbatim.
    pub data: String,
}

/// Splits a VCALENDAR (or several, one after the other) into one object per UID, in order of
/// first appearance. Each VTIMEZONE is carried once per TZID (a file that concatenates
/// calendars repeats them), and a UID's components are found through a map, so a file of
/// thousands of events splits in linear time.
pub fn split_by_uid(text: &str) -> Vec<UidObject> {
    let components = raw::components(text);
    let mut seen = HashSet::new();
    let timezones: Vec<&RawComponent<'_>> = components
        .iter()
        .filter(|c| c.name == "VTIMEZONE" && c.tzid.as_ref().is_none_or(|t| seen.insert(t.clone())))
        .collect();
    let mut groups: Vec<(Option<String>, Vec<&str>)> = Vec::new();
    let mut at: HashMap<Option<&str>, usize> = HashMap::new();
    for component in components.iter().filter(|c| c.name != "VTIMEZONE") {
        let key = component.uid.as_deref();
        match at.get(&key) {
            Some(&i) => groups[i].1.push(component.text),
            None => {
                at.insert(key, groups.len());
                groups.push((component.uid.clone(), vec![component.text]));
            }
        }
    }
    groups
        .into_iter()
        .map(|(uid, texts)| {
            let mut data = header(None);
            for text in timezones.iter().map(|c| c.text).chain(texts) {
                raw::with_crlf(text, &mut data);
            }
            data.push_str("END:VCALENDAR\r\n");
            UidObject { uid, data }
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const PARIS: &str = "BEGIN:VTIMEZONE\nTZID:Europe/Paris\nBEGIN:STANDARD\nDTSTART:19701025T030000\nTZOFFSETFROM:+0200\nTZOFFSETTO:+0100\nEND:STANDARD\nEND:VTIMEZONE";

    fn object(body: &str) -> String {
        format!(
            "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//Client//EN\nCALSCALE:GREGORIAN\n{body}\nEND:VCALENDAR\n"
        )
    }

    #[test]
    fn merges_objects_verbatim_with_crlf_and_one_vtimezone_per_tzid() {
        let a = object(&format!(
            "{PARIS}\nBEGIN:VEVENT\nUID:a\nDTSTART;TZID=Europe/Paris:20240101T100000\nSUMMARY:Long\n  folded\nEND:VEVENT"
        ));
        let b = object(&format!(
            "{PARIS}\nBEGIN:VTODO\nUID:b\nX-CUSTOM;X-P=\"q;v\":keep me\nEND:VTODO"
        ));
        let out = export_calendar(Some("Work"), &[a.as_bytes(), b.as_bytes()]);
        let expected = format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Kalends//Kalends//EN\r\nX-WR-CALNAME:Work\r\n{}\r\n\
BEGIN:VEVENT\r\nUID:a\r\nDTSTART;TZID=Europe/Paris:20240101T100000\r\nSUMMARY:Long\r\n  folded\r\nEND:VEVENT\r\n\
BEGIN:VTODO\r\nUID:b\r\nX-CUSTOM;X-P=\"q;v\":keep me\r\nEND:VTODO\r\nEND:VCALENDAR\r\n",
            PARIS.replace('\n', "\r\n")
        );
        assert_eq!(out, expected);
    }

    #[test]
    fn unnamed_export_has_no_calname_and_escapes_names() {
        let empty = export_calendar(None, &[]);
        assert_eq!(
            empty,
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Kalends//Kalends//EN\r\nEND:VCALENDAR\r\n"
        );
        let named = export_calendar(Some("Team, Ops; 2024"), &[]);
        assert!(
            named.contains("X-WR-CALNAME:Team\\, Ops\\; 2024\r\n"),
            "{named}"
        );
    }

    #[test]
    fn export_output_is_one_valid_vcalendar() {
        let a = object("BEGIN:VEVENT\nUID:a\nDTSTART:20240101T100000Z\nEND:VEVENT");
        let b = object("BEGIN:VEVENT\nUID:b\nDTSTART:20240102T100000Z\nEND:VEVENT");
        let out = export_calendar(Some("x"), &[a.as_bytes(), b.as_bytes()]);
        let ical = crate::calendar::validate::parse_vcalendar(&out).unwrap();
        assert_eq!(
            ical.components
                .iter()
                .filter(|c| c.component_type.as_str() == "VEVENT")
                .count(),
            2
        );
    }

    #[test]
    fn splits_a_multi_uid_file_keeping_timezones_and_overrides_together() {
        let text = object(&format!(
            "{PARIS}\nBEGIN:VEVENT\nUID:a\nDTSTART:20240101T100000Z\nEND:VEVENT\nBEGIN:VEVENT\nUID:b\nDTSTART:20240101T100000Z\nEND:VEVENT\nBEGIN:VEVENT\nUID:a\nRECURRENCE-ID:20240102T100000Z\nDTSTART:20240102T110000Z\nEND:VEVENT"
        ));
        let parts = split_by_uid(&text);
        assert_eq!(
            parts.iter().map(|p| p.uid.as_deref()).collect::<Vec<_>>(),
            [Some("a"), Some("b")]
        );
        assert_eq!(parts[0].data.matches("BEGIN:VEVENT").count(), 2);
        assert_eq!(parts[1].data.matches("BEGIN:VTIMEZONE").count(), 1);
    }

    #[test]
    fn concatenated_calendars_split_with_each_timezone_once() {
        let one = |uid: &str| object(&format!("{PARIS}\nBEGIN:VEVENT\nUID:{uid}\nDTSTART;TZID=Europe/Paris:20240101T100000\nEND:VEVENT"));
        let text = format!("{}{}{}", one("a"), one("b"), one("a").replace("20240101T100000", "20240102T100000"));
        let parts = split_by_uid(&text);
        assert_eq!(parts.iter().map(|p| p.uid.as_deref()).collect::<Vec<_>>(), [Some("a"), Some("b")]);
        assert!(parts.iter().all(|p| p.data.matches("BEGIN:VTIMEZONE").count() == 1));
        assert_eq!(parts[0].data.matches("BEGIN:VEVENT").count(), 2);
    }
}
