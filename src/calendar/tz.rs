//! Time zones: the calendar-timezone property (RFC 4791 §5.2.2) and TZID resolution.

use super::ical;

/// A validated calendar-timezone value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarTimezone {
    pub tzid: String,
    /// The IANA zone it resolves to, when it does.
    pub zone: Option<chrono_tz::Tz>,
}

/// Validates a calendar-timezone property value: an iCalendar object with exactly one VTIMEZONE.
pub fn parse_calendar_timezone(text: &str) -> Result<CalendarTimezone, String> {
    let top = ical::parse(text.trim())?;
    let [vcal] = top.as_slice() else { return Err("expected one VCALENDAR".into()) };
    if vcal.name != "VCALENDAR" {
        return Err(format!("expected VCALENDAR, found {}", vcal.name));
    }
    let zones: Vec<_> = vcal.children.iter().filter(|c| c.name == "VTIMEZONE").collect();
    let [zone] = zones.as_slice() else {
        return Err(format!("expected exactly one VTIMEZONE, found {} (RFC 4791 §5.2.2)", zones.len()));
    };
    if vcal.children.len() != 1 {
        return Err("calendar-timezone may contain only the VTIMEZONE".into());
    }
    let tzid = zone.prop("TZID").map(|l| l.value.clone()).filter(|v| !v.is_empty()).ok_or("VTIMEZONE without TZID")?;
    let zone = tzid.parse::<chrono_tz::Tz>().ok();
    Ok(CalendarTimezone { tzid, zone })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn one_vtimezone() {
        let ok = "BEGIN:VCALENDAR\r\nBEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nEND:VTIMEZONE\r\nEND:VCALENDAR\r\n";
        let tz = parse_calendar_timezone(ok).unwrap();
        assert_eq!((tz.tzid.as_str(), tz.zone), ("Europe/Berlin", Some(chrono_tz::Europe::Berlin)));
        assert!(parse_calendar_timezone("nonsense").is_err());
        assert!(parse_calendar_timezone("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n").is_err());
        let two = ok.replace("END:VCALENDAR", "BEGIN:VTIMEZONE\r\nTZID:X\r\nEND:VTIMEZONE\r\nEND:VCALENDAR");
        assert!(parse_calendar_timezone(&two).is_err());
    }
}
