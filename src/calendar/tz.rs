//! Time zones: the calendar-timezone property (RFC 4791 §5.2.2) and TZID resolution.

use std::collections::HashMap;
use std::str::FromStr;

use calcard::common::timezone::Tz as CalcardTz;
use calcard::icalendar::{ICalendar, ICalendarComponentType};

use super::time::Zone;

/// A validated calendar-timezone value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarTimezone {
    pub tzid: String,
    /// The IANA zone it resolves to, when it does.
    pub zone: Option<chrono_tz::Tz>,
}

/// Validates a calendar-timezone property value: an iCalendar object with exactly one VTIMEZONE.
pub fn parse_calendar_timezone(text: &str) -> Result<CalendarTimezone, String> {
    let ical = super::validate::parse_vcalendar(text).map_err(|e| e.to_string())?;
    let mut timezones = ical.timezones();
    let (Some(vtimezone), None) = (timezones.next(), timezones.next()) else {
        return Err(
            "a calendar-timezone value must contain exactly one VTIMEZONE (RFC 4791 §5.2.2)".into(),
        );
    };
    if let Some(other) = ical
        .components
        .iter()
        .skip(1)
        .find(|c| is_calendar_component(&c.component_type))
    {
        return Err(format!(
            "a calendar-timezone value holds only a VTIMEZONE, not a {} (RFC 4791 §5.2.2)",
            other.component_type.as_str()
        ));
    }
    let tzid = vtimezone
        .property(&calcard::icalendar::ICalendarProperty::Tzid)
        .and_then(|e| e.values.first())
        .and_then(|v| v.as_text())
        .filter(|id| !id.trim().is_empty())
        .ok_or("the VTIMEZONE has no TZID (RFC 5545 §3.6.5)")?;
    let zone = match vtimezone.timezone().map(|(_, tz)| tz) {
        Some(CalcardTz::Tz(tz)) => Some(tz),
        _ => None,
    };
    Ok(CalendarTimezone {
        tzid: tzid.to_string(),
        zone,
    })
}

/// A CALDAV:timezone in a query (RFC 4791 §7.8, §9.8): checked as a calendar-timezone value,
/// and, since it is a whole iCalendar object a client wrote for this request, with the
/// VCALENDAR properties RFC 5545 §3.6 requires (VERSION:2.0 and PRODID).
pub fn parse_query_timezone(text: &str) -> Result<CalendarTimezone, String> {
    let tz = parse_calendar_timezone(text)?;
    let head = super::ical::unfold(text);
    let top = |name: &str| {
        let mut depth = 0usize;
        head.iter().find_map(|line| {
            let l = super::ical::parse_line(line).ok()?;
            match l.name.as_str() {
                "BEGIN" => depth += 1,
                "END" => depth = depth.saturating_sub(1),
                n if depth == 1 && n == name => return Some(l.value),
                _ => {}
            }
            None
        })
    };
    match top("VERSION") {
        Some(v) if v.trim() == "2.0" => {}
        Some(v) => return Err(format!("VERSION:{v} is not iCalendar 2.0 (RFC 5545 §3.7.4)")),
        None => return Err("the VCALENDAR has no VERSION (RFC 5545 §3.6)".into()),
    }
    if top("PRODID").is_none() {
        return Err("the VCALENDAR has no PRODID (RFC 5545 §3.6)".into());
    }
    Ok(tz)
}

fn is_calendar_component(kind: &ICalendarComponentType) -> bool {
    matches!(
        kind,
        ICalendarComponentType::VEvent
            | ICalendarComponentType::VTodo
            | ICalendarComponentType::VJournal
            | ICalendarComponentType::VFreebusy
    )
}

/// Resolves the TZIDs of one object: its own VTIMEZONEs first (by TZID, X-LIC-LOCATION or
/// Outlook's X-MICROSOFT-CDO-TZID), then any IANA, Windows or other name calcard knows.
///
/// A VTIMEZONE is trusted by its name, not by its rules (CalConnect's advice, which calcard
/// follows): clients copy the rules of the zone they name, and IANA's are more current.
pub struct Zones {
    by_tzid: HashMap<String, CalcardTz>,
}

impl Zones {
    pub fn of(ical: &ICalendar) -> Self {
        let by_tzid = ical
            .timezones()
            .filter_map(|c| c.timezone())
            .map(|(id, tz)| (id.to_string(), tz))
            .collect();
        Zones { by_tzid }
    }

    /// The zone a TZID names. Unresolvable names read as floating: the object is kept (an
    /// over-strict server is a top complaint) and the index widens the time to every offset.
    pub fn resolve(&self, tzid: &str) -> Zone {
        self.by_tzid
            .get(tzid)
            .copied()
            .or_else(|| CalcardTz::from_str(tzid).ok())
            .map(zone_of)
            .or_else(|| embedded_iana(tzid))
            .unwrap_or(Zone::Floating)
    }
}

/// An IANA name inside a producer's private TZID: Mozilla's
/// `/mozilla.org/20050126_1/America/New_York`, `custom_America/New_York`. Such objects carry a
/// VTIMEZONE copied from that zone; reading them as floating would move them by hours.
fn embedded_iana(tzid: &str) -> Option<Zone> {
    let starts = tzid.char_indices().filter(|&(i, _)| i > 0).filter_map(|(i, c)| {
        let after = i + c.len_utf8();
        matches!(c, '/' | '_' | '-' | ' ' | '.' | ':').then_some(after)
    });
    starts
        .filter_map(|at| tzid.get(at..))
        .filter(|rest| rest.contains('/'))
        .find_map(|rest| rest.parse::<chrono_tz::Tz>().ok())
        .map(Zone::Iana)
}

fn zone_of(tz: CalcardTz) -> Zone {
    match tz {
        CalcardTz::Floating => Zone::Floating,
        CalcardTz::Fixed(offset) if offset.local_minus_utc() == 0 => Zone::Utc,
        CalcardTz::Fixed(offset) => Zone::Fixed(offset),
        CalcardTz::Tz(tz) => Zone::Iana(tz),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const NY_VTIMEZONE: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//EN\r\n\
BEGIN:VTIMEZONE\r\nTZID:US-Eastern\r\nX-LIC-LOCATION:America/New_York\r\n\
BEGIN:STANDARD\r\nDTSTART:19671029T020000\r\nTZOFFSETFROM:-0400\r\nTZOFFSETTO:-0500\r\nEND:STANDARD\r\n\
END:VTIMEZONE\r\nEND:VCALENDAR\r\n";

    #[test]
    fn calendar_timezone_returns_tzid_and_iana_zone() {
        let tz = parse_calendar_timezone(NY_VTIMEZONE).unwrap();
        assert_eq!(
            tz,
            CalendarTimezone {
                tzid: "US-Eastern".into(),
                zone: Some(chrono_tz::America::New_York)
            }
        );
    }

    #[test]
    fn calendar_timezone_with_unknown_zone_keeps_tzid_only() {
        let text = NY_VTIMEZONE
            .replace("X-LIC-LOCATION:America/New_York\r\n", "")
            .replace("US-Eastern", "My Zone");
        let tz = parse_calendar_timezone(&text).unwrap();
        assert_eq!(
            tz,
            CalendarTimezone {
                tzid: "My Zone".into(),
                zone: None
            }
        );
    }

    #[test]
    fn calendar_timezone_refuses_zero_or_two_vtimezones() {
        let none = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//EN\r\nEND:VCALENDAR\r\n";
        let err = parse_calendar_timezone(none).unwrap_err();
        assert!(err.contains("exactly one VTIMEZONE"), "{err}");
        let vtz = "BEGIN:VTIMEZONE\r\nTZID:Europe/Paris\r\nEND:VTIMEZONE\r\n";
        let two = NY_VTIMEZONE.replace("END:VCALENDAR", &format!("{vtz}END:VCALENDAR"));
        assert!(
            parse_calendar_timezone(&two)
                .unwrap_err()
                .contains("exactly one VTIMEZONE")
        );
    }

    #[test]
    fn calendar_timezone_refuses_events_and_garbage() {
        let event = "BEGIN:VEVENT\r\nUID:a\r\nDTSTART:20240101T000000Z\r\nEND:VEVENT\r\n";
        let with_event = NY_VTIMEZONE.replace("END:VCALENDAR", &format!("{event}END:VCALENDAR"));
        assert!(
            parse_calendar_timezone(&with_event)
                .unwrap_err()
                .contains("not a VEVENT")
        );
        assert!(
            parse_calendar_timezone("hello")
                .unwrap_err()
                .contains("invalid iCalendar data")
        );
        let no_tzid = NY_VTIMEZONE.replace("TZID:US-Eastern\r\n", "");
        assert!(
            parse_calendar_timezone(&no_tzid)
                .unwrap_err()
                .contains("no TZID")
        );
    }

    #[test]
    fn tzids_resolve_through_vtimezone_iana_and_windows_names() {
        let ical = super::super::validate::parse_vcalendar(NY_VTIMEZONE).unwrap();
        let zones = Zones::of(&ical);
        assert_eq!(
            zones.resolve("US-Eastern"),
            Zone::Iana(chrono_tz::America::New_York)
        );
        assert_eq!(
            zones.resolve("Europe/Berlin"),
            Zone::Iana(chrono_tz::Europe::Berlin)
        );
        assert_eq!(
            zones.resolve("W. Europe Standard Time"),
            Zone::Iana(chrono_tz::Europe::Berlin)
        );
        assert_eq!(zones.resolve("Mars/Olympus_Mons"), Zone::Floating);
        assert_eq!(zones.resolve("custom_America/New_York"), Zone::Iana(chrono_tz::America::New_York));
        assert_eq!(zones.resolve("/mozilla.org/20050126_1/Europe/Berlin"), Zone::Iana(chrono_tz::Europe::Berlin));
        assert_eq!(zones.resolve("My/Own_Zone"), Zone::Floating);
    }
}
