//! The VTIMEZONE an IANA zone needs when a written line names it (RFC 5545 §3.6.5: one for
//! each TZID an object uses). calcard builds it from chrono-tz's transitions for a range of
//! years (STANDARD/DAYLIGHT observances, yearly rules where the transitions repeat); its
//! writer gives the text, which the content-line tree then takes as a component.

use chrono::NaiveDate;

use calcard::icalendar::{ICalendar, ICalendarComponent, ICalendarComponentType};

use super::EventError;
use crate::calendar::Timestamp;
use crate::sched::text::{self, Comp};

/// A VTIMEZONE for `zone` covering the years `from..=to`: the observance in force on January 1st
/// of `from`, then every transition up to the end of `to`. Times outside read the nearest
/// observance (RFC 5545 §3.6.5); Kalends itself resolves the TZID by name, with IANA's rules.
pub(super) fn vtimezone(zone: chrono_tz::Tz, from: i32, to: i32) -> Result<Comp, EventError> {
    let failed = |why: &str| EventError::Invalid(format!("no VTIMEZONE for {}: {why}", zone.name()));
    let year_start = |year: i32| -> Option<Timestamp> {
        NaiveDate::from_ymd_opt(year, 1, 1).map(|d| d.and_time(chrono::NaiveTime::MIN).and_utc().timestamp())
    };
    let (Some(start), Some(end)) = (year_start(from), year_start(to.saturating_add(1))) else {
        return Err(failed("years out of range"));
    };
    let mut holder = ICalendar { components: vec![ICalendarComponent::new(ICalendarComponentType::VCalendar)] };
    holder.add_timezone(zone.name(), start, end).ok_or_else(|| failed("calcard has no rules for it"))?;
    let written = text::parse(&holder.to_string()).map_err(|e| failed(&e))?;
    written.children.into_iter().find(|c| c.name == "VTIMEZONE").ok_or_else(|| failed("calcard wrote none"))
}

/// The years a VTIMEZONE must cover for the given local years: a year of margin before, so the
/// observance in force at the first time is in it, and two after. The caller adds the current
/// year for a recurrence without end, whose instances reach past any year it names.
pub(super) fn year_range(years: impl IntoIterator<Item = i32>) -> Option<(i32, i32)> {
    let mut years = years.into_iter();
    let first = years.next()?;
    let (lo, hi) = years.fold((first, first), |(lo, hi), y| (lo.min(y), hi.max(y)));
    Some((lo.saturating_sub(1), hi.saturating_add(2)))
}

/// A calendar-timezone value (RFC 4791 §5.2.2) for the IANA zone `name`: a VCALENDAR with its
/// VTIMEZONE for the years around `now`. None for a name chrono-tz does not know.
pub fn calendar_timezone(name: &str, now: Timestamp) -> Option<String> {
    let zone: chrono_tz::Tz = name.parse().ok()?;
    let year = chrono::DateTime::from_timestamp(now, 0).map_or(2026, |t| chrono::Datelike::year(&t));
    let comp = vtimezone(zone, year.saturating_sub(1), year.saturating_add(5)).ok()?;
    let mut out = String::from("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Kalends//API//EN\r\n");
    out.push_str(&text::write(&comp, false));
    out.push_str("END:VCALENDAR\r\n");
    Some(out)
}
