//! The time facts of one calendar component, read from calcard's parse tree: DTSTART, DTEND,
//! DUE, DURATION, COMPLETED, CREATED (RFC 5545 §3.8.2, §3.8.7.1), RECURRENCE-ID (§3.8.4.4),
//! RRULE/RDATE/EXDATE (§3.8.5), FREEBUSY (§3.8.2.6) and VALARM triggers (§3.6.6, §3.8.6).

use calcard::common::PartialDateTime;
use calcard::icalendar::{
    ICalendar, ICalendarComponent, ICalendarDuration, ICalendarEntry, ICalendarParameterName,
    ICalendarParameterValue, ICalendarPeriod, ICalendarProperty, ICalendarRecurrenceRule,
    ICalendarFreeBusyType, ICalendarRelated, ICalendarStatus, ICalendarTransparency,
    ICalendarValue,
};
use chrono::NaiveDateTime;

use super::time::{CalTime, Length, Zone};
use super::tz::Zones;
use super::validate::InvalidObject;

/// Where a period ends: at a time, or after a length (RFC 5545 §3.3.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeriodEnd {
    At(CalTime),
    After(Length),
}

impl PeriodEnd {
    pub fn from(self, start: CalTime) -> CalTime {
        match self {
            PeriodEnd::At(end) => end,
            PeriodEnd::After(len) => start.plus(len),
        }
    }
}

/// When an alarm fires (RFC 5545 §3.8.6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// Relative to the start (default) or, with RELATED=END, to the end of each instance.
    Relative {
        offset: Length,
        from_end: bool,
    },
    Absolute(CalTime),
}

/// A VALARM: its trigger and REPEAT/DURATION (§3.8.6.2, §3.8.2.5), which fire it again
/// `repeat` more times, `interval` apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Alarm {
    pub trigger: Trigger,
    pub repeat: u32,
    pub interval: Length,
}

/// RFC 5545 §3.2.9 FBTYPE: what a FREEBUSY period says about the time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BusyKind {
    Free,
    BusyTentative,
    BusyUnavailable,
    /// The default FBTYPE.
    Busy,
}

impl BusyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BusyKind::Free => "FREE",
            BusyKind::Busy => "BUSY",
            BusyKind::BusyTentative => "BUSY-TENTATIVE",
            BusyKind::BusyUnavailable => "BUSY-UNAVAILABLE",
        }
    }
}

/// What one VEVENT, VTODO, VJOURNAL or VFREEBUSY says about time.
#[derive(Debug, Clone, Default)]
pub struct Timing<'a> {
    pub uid: Option<&'a str>,
    pub dtstart: Option<CalTime>,
    pub dtend: Option<CalTime>,
    pub due: Option<CalTime>,
    pub duration: Option<Length>,
    pub completed: Option<CalTime>,
    pub created: Option<CalTime>,
    pub recurrence_id: Option<CalTime>,
    /// RECURRENCE-ID;RANGE=THISANDFUTURE (§3.2.13): the override also moves later instances.
    pub this_and_future: bool,
    pub rrules: Vec<&'a ICalendarRecurrenceRule>,
    pub rdates: Vec<(CalTime, Option<PeriodEnd>)>,
    pub exdates: Vec<CalTime>,
    /// FREEBUSY periods with their FBTYPE (§3.8.2.6, §3.2.9).
    pub freebusy: Vec<(CalTime, PeriodEnd, BusyKind)>,
    pub alarms: Vec<Alarm>,
    /// STATUS:CANCELLED (§3.8.1.11): the component still exists, but takes no time (RFC 4791
    /// §7.10 leaves it out of free/busy).
    pub cancelled: bool,
    /// STATUS:TENTATIVE: busy-tentative in free/busy (RFC 4791 §7.10).
    pub tentative: bool,
    /// TRANSP:TRANSPARENT (§3.8.2.7): never busy.
    pub transparent: bool,
}

impl Timing<'_> {
    /// Reads every floating DATE-TIME as a time in `zone` (RFC 4791 §7.3), once the reader's zone
    /// is known, so that exact lengths are added to the instant that zone gives (a floating
    /// 02:30 + PT30M inside a DST gap) rather than to the wall clock. DATEs stay days.
    pub fn read_floating_in(&mut self, zone: chrono_tz::Tz) {
        let fix = |t: &mut CalTime| {
            if t.zone == Zone::Floating && !t.is_date {
                t.zone = Zone::Iana(zone);
            }
        };
        let fix_end = |e: &mut PeriodEnd| {
            if let PeriodEnd::At(t) = e {
                fix(t);
            }
        };
        for t in [&mut self.dtstart, &mut self.dtend, &mut self.due, &mut self.completed, &mut self.created, &mut self.recurrence_id]
            .into_iter()
            .flatten()
        {
            fix(t);
        }
        for (t, end) in &mut self.rdates {
            fix(t);
            end.iter_mut().for_each(fix_end);
        }
        self.exdates.iter_mut().for_each(fix);
        for (t, end, _) in &mut self.freebusy {
            fix(t);
            fix_end(end);
        }
        for alarm in &mut self.alarms {
            if let Trigger::Absolute(t) = &mut alarm.trigger {
                fix(t);
            }
        }
    }
}

/// Reads the component at `index` of `ical`; malformed values are invalid data.
pub fn read<'a>(
    ical: &'a ICalendar,
    index: u32,
    zones: &Zones,
) -> Result<Timing<'a>, InvalidObject> {
    let Some(component) = ical.component_by_id(index) else {
        return Ok(Timing::default());
    };
    let mut timing = Timing::default();
    for entry in &component.entries {
        read_entry(&mut timing, entry, zones)?;
    }
    for alarm in ical.alarms_for_id(index) {
        timing.alarms.extend(read_alarm(alarm, zones)?);
    }
    Ok(timing)
}

fn read_entry<'a>(
    t: &mut Timing<'a>,
    entry: &'a ICalendarEntry,
    zones: &Zones,
) -> Result<(), InvalidObject> {
    match &entry.name {
        ICalendarProperty::Uid => t.uid = t.uid.or(entry.values.first().and_then(|v| v.as_text())),
        ICalendarProperty::Dtstart => set_once(&mut t.dtstart, one_time(entry, zones)?),
        ICalendarProperty::Dtend => set_once(&mut t.dtend, one_time(entry, zones)?),
        ICalendarProperty::Due => set_once(&mut t.due, one_time(entry, zones)?),
        ICalendarProperty::Completed => set_once(&mut t.completed, one_time(entry, zones)?),
        ICalendarProperty::Created => set_once(&mut t.created, one_time(entry, zones)?),
        ICalendarProperty::Duration => set_once(&mut t.duration, one_duration(entry)?),
        ICalendarProperty::RecurrenceId => {
            set_once(&mut t.recurrence_id, one_time(entry, zones)?);
            t.this_and_future |= entry.params.iter().any(|p| {
                p.name == ICalendarParameterName::Range
                    && p.value == ICalendarParameterValue::Bool(true)
            });
        }
        ICalendarProperty::Rrule => t.rrules.push(rule(entry)?),
        ICalendarProperty::Rdate => t.rdates.extend(dates_or_periods(entry, zones)?),
        ICalendarProperty::Exdate => t
            .exdates
            .extend(dates_or_periods(entry, zones)?.into_iter().map(|(d, _)| d)),
        ICalendarProperty::Freebusy => {
            let kind = busy_kind(entry);
            for (start, end) in dates_or_periods(entry, zones)? {
                let end = end.ok_or_else(|| bad_value(entry, "a PERIOD (RFC 5545 §3.3.9)"))?;
                t.freebusy.push((start, end, kind));
            }
        }
        ICalendarProperty::Status => match entry.values.first() {
            Some(ICalendarValue::Status(ICalendarStatus::Cancelled)) => t.cancelled = true,
            Some(ICalendarValue::Status(ICalendarStatus::Tentative)) => t.tentative = true,
            _ => {}
        },
        ICalendarProperty::Transp => {
            t.transparent |= matches!(
                entry.values.first(),
                Some(ICalendarValue::Transparency(ICalendarTransparency::Transparent))
            );
        }
        _ => {}
    }
    Ok(())
}

/// FBTYPE of a FREEBUSY property; BUSY when absent (RFC 5545 §3.2.9). An unknown x-name or
/// iana-token type is treated as BUSY, as §3.2.9 requires.
fn busy_kind(entry: &ICalendarEntry) -> BusyKind {
    let fbtype = entry.params.iter().find_map(|p| match (&p.name, &p.value) {
        (ICalendarParameterName::Fbtype, ICalendarParameterValue::Fbtype(t)) => Some(t),
        _ => None,
    });
    match fbtype {
        Some(ICalendarFreeBusyType::Free) => BusyKind::Free,
        Some(ICalendarFreeBusyType::BusyTentative) => BusyKind::BusyTentative,
        Some(ICalendarFreeBusyType::BusyUnavailable) => BusyKind::BusyUnavailable,
        Some(ICalendarFreeBusyType::Busy) | None => BusyKind::Busy,
    }
}

/// RFC 5545 lets most of these properties occur once; the first one wins.
fn set_once<T>(slot: &mut Option<T>, value: T) {
    slot.get_or_insert(value);
}

fn one_time(entry: &ICalendarEntry, zones: &Zones) -> Result<CalTime, InvalidObject> {
    let zone = entry.tz_id().map(|id| zones.resolve(id));
    match entry.values.first() {
        Some(ICalendarValue::PartialDateTime(value)) => time_value(value, zone),
        _ => None,
    }
    .ok_or_else(|| bad_value(entry, "a DATE or DATE-TIME (RFC 5545 §3.3.4, §3.3.5)"))
}

fn one_duration(entry: &ICalendarEntry) -> Result<Length, InvalidObject> {
    match entry.values.first() {
        Some(ICalendarValue::Duration(d)) => Ok(length(d)),
        _ => Err(bad_value(entry, "a DURATION (RFC 5545 §3.3.6)")),
    }
}

fn rule(entry: &ICalendarEntry) -> Result<&ICalendarRecurrenceRule, InvalidObject> {
    match entry.values.first() {
        Some(ICalendarValue::RecurrenceRule(rule)) => Ok(rule),
        // RFC 4791 §5.3.2.1: data that is not valid iCalendar is valid-calendar-data.
        other => Err(InvalidObject::Data(format!(
            "RRULE {:?} is not a valid recurrence rule (RFC 5545 §3.3.10)",
            other.and_then(|v| v.as_text()).unwrap_or_default()
        ))),
    }
}

/// RDATE/EXDATE/FREEBUSY values. An empty value (`RDATE:`) lists no dates and is skipped.
fn dates_or_periods(
    entry: &ICalendarEntry,
    zones: &Zones,
) -> Result<Vec<(CalTime, Option<PeriodEnd>)>, InvalidObject> {
    let zone = entry.tz_id().map(|id| zones.resolve(id));
    let bad = || {
        bad_value(
            entry,
            "a list of DATE, DATE-TIME or PERIOD values (RFC 5545 §3.8.5.2)",
        )
    };
    let mut out = Vec::with_capacity(entry.values.len());
    for value in &entry.values {
        match value {
            ICalendarValue::PartialDateTime(v) => {
                out.push((time_value(v, zone).ok_or_else(bad)?, None))
            }
            ICalendarValue::Period(ICalendarPeriod::Range { start, end }) => {
                let start = time_value(start, zone).ok_or_else(bad)?;
                out.push((
                    start,
                    Some(PeriodEnd::At(time_value(end, zone).ok_or_else(bad)?)),
                ));
            }
            ICalendarValue::Period(ICalendarPeriod::Duration { start, duration }) => {
                out.push((
                    time_value(start, zone).ok_or_else(bad)?,
                    Some(PeriodEnd::After(length(duration))),
                ));
            }
            ICalendarValue::Text(text) if text.trim().is_empty() => {}
            _ => return Err(bad()),
        }
    }
    Ok(out)
}

pub(crate) fn read_alarm(
    alarm: &ICalendarComponent,
    zones: &Zones,
) -> Result<Option<Alarm>, InvalidObject> {
    let mut trigger = None;
    let mut repeat = 0u32;
    let mut interval = Length::ZERO;
    for entry in &alarm.entries {
        match entry.name {
            ICalendarProperty::Trigger => trigger = trigger.or(Some(read_trigger(entry, zones)?)),
            ICalendarProperty::Repeat => {
                let count = entry.values.first().and_then(|v| v.as_integer());
                repeat = count
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| bad_value(entry, "a non-negative INTEGER"))?;
            }
            ICalendarProperty::Duration => interval = one_duration(entry)?,
            _ => {}
        }
    }
    // A VALARM without TRIGGER never fires (RFC 5545 §3.6.6 makes TRIGGER required).
    Ok(trigger.map(|trigger| Alarm {
        trigger,
        repeat,
        interval,
    }))
}

/// A DURATION relative to START (default) or END; or an absolute DATE-TIME. RFC 5545 §4's own
/// example writes `TRIGGER:19980403T120000Z` without VALUE=DATE-TIME (erratum 2039), and
/// producers copy it, so such a value is read as the date-time it plainly is.
fn read_trigger(entry: &ICalendarEntry, zones: &Zones) -> Result<Trigger, InvalidObject> {
    let from_end = entry
        .params
        .iter()
        .any(|p| p.value == ICalendarParameterValue::Related(ICalendarRelated::End));
    let zone = entry.tz_id().map(|id| zones.resolve(id));
    let trigger = match entry.values.first() {
        Some(ICalendarValue::Duration(d)) => Some(Trigger::Relative {
            offset: length(d),
            from_end,
        }),
        Some(ICalendarValue::PartialDateTime(v)) => time_value(v, zone).map(Trigger::Absolute),
        Some(ICalendarValue::Text(text)) => lenient_date_time(text).map(Trigger::Absolute),
        _ => None,
    };
    trigger.ok_or_else(|| bad_value(entry, "a DURATION or DATE-TIME (RFC 5545 §3.8.6.3)"))
}

pub(crate) fn lenient_date_time(text: &str) -> Option<CalTime> {
    let text = text.trim();
    let (digits, zone) = match text.strip_suffix(['Z', 'z']) {
        Some(digits) => (digits, Zone::Utc),
        None => (text, Zone::Floating),
    };
    let local = NaiveDateTime::parse_from_str(digits, "%Y%m%dT%H%M%S").ok()?;
    Some(CalTime {
        local,
        zone,
        is_date: false,
    })
}

/// A DATE or DATE-TIME value; `zone` comes from its TZID parameter. A UTC or numeric offset in
/// the value itself wins over a TZID (RFC 5545 §3.3.5 forbids combining them).
pub fn time_value(value: &PartialDateTime, zone: Option<Zone>) -> Option<CalTime> {
    let parsed = value.to_date_time()?;
    if !value.has_time() {
        return Some(CalTime::date(parsed.date_time.date()));
    }
    let zone = match parsed.offset {
        Some(offset) if offset.local_minus_utc() == 0 => Zone::Utc,
        Some(offset) => Zone::Fixed(offset),
        None => zone.unwrap_or(Zone::Floating),
    };
    Some(CalTime {
        local: parsed.date_time,
        zone,
        is_date: false,
    })
}

/// RFC 5545 §3.3.6: weeks and days are nominal, the rest exact.
pub fn length(d: &ICalendarDuration) -> Length {
    let sign = if d.neg { -1 } else { 1 };
    let days = i64::from(d.weeks) * 7 + i64::from(d.days);
    let seconds = i64::from(d.hours) * 3600 + i64::from(d.minutes) * 60 + i64::from(d.seconds);
    Length::new(sign * days, sign * seconds)
}

fn bad_value(entry: &ICalendarEntry, expected: &str) -> InvalidObject {
    InvalidObject::Data(format!("{} value is not {expected}", entry.name.as_str()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn durations_split_into_nominal_days_and_exact_seconds() {
        let d = ICalendarDuration {
            neg: false,
            weeks: 1,
            days: 2,
            hours: 3,
            minutes: 4,
            seconds: 5,
        };
        assert_eq!(
            length(&d),
            Length {
                days: 9,
                seconds: 3 * 3600 + 4 * 60 + 5
            }
        );
        let back = ICalendarDuration {
            neg: true,
            minutes: 15,
            ..Default::default()
        };
        assert_eq!(
            length(&back),
            Length {
                days: 0,
                seconds: -900
            }
        );
    }

    #[test]
    fn triggers_written_without_value_date_time_are_read_as_date_times() {
        let utc = lenient_date_time("19980403T120000Z").unwrap();
        assert_eq!((utc.zone, utc.face()), (Zone::Utc, 891_604_800));
        assert_eq!(
            lenient_date_time("19980403T120000").unwrap().zone,
            Zone::Floating
        );
        assert_eq!(lenient_date_time("-PT15M"), None);
    }
}
