//! A parsed calendar object (or iTIP message) as scheduling sees it: its components keyed by
//! RECURRENCE-ID (RFC 5545 §3.8.4.4), ORGANIZER and ATTENDEE lines, SEQUENCE, and the time values
//! compared as instants, so `20240105T100000Z` and `TZID=Europe/Berlin:20240105T110000` are one
//! instance.

use chrono::NaiveDateTime;

use super::address::Address;
use super::text::{self, Comp, Prop};
use super::SchedError;
use crate::calendar::time::{CalTime, Zone};
use crate::calendar::tz::Zones;
use crate::calendar::validate::parse_vcalendar;

/// A DATE or DATE-TIME as compared: an instant, a floating wall clock, a day, or (unreadable)
/// the text itself. Seconds since the Unix epoch (wall clock for floating values and days).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum When {
    At(i64),
    Floating(i64),
    Day(i64),
    Text(String),
}

/// Which instance a component describes: `None` for the master.
pub(crate) type Rid = Option<When>;

/// The components that carry scheduling (RFC 6638 §3.1 names VEVENT, VTODO, VJOURNAL).
pub(crate) fn is_item(c: &Comp) -> bool {
    matches!(c.name.as_str(), "VEVENT" | "VTODO" | "VJOURNAL")
}

pub(crate) struct Object {
    pub cal: Comp,
    zones: Option<Zones>,
}

impl Object {
    pub fn parse(text: &str) -> Result<Object, SchedError> {
        text::parse(text).map(Object::new).map_err(SchedError::Data)
    }

    pub fn new(cal: Comp) -> Object {
        let zones = zones_of(&cal);
        Object { cal, zones }
    }

    pub fn write(&self, verbatim: bool) -> String {
        text::write(&self.cal, verbatim)
    }

    pub fn items(&self) -> impl Iterator<Item = &Comp> {
        self.cal.children.iter().filter(|c| is_item(c))
    }

    pub fn items_mut(&mut self) -> impl Iterator<Item = &mut Comp> {
        self.cal.children.iter_mut().filter(|c| is_item(c))
    }

    pub fn master(&self) -> Option<&Comp> {
        self.items().find(|c| c.prop("RECURRENCE-ID").is_none())
    }

    pub fn rid(&self, c: &Comp) -> Rid {
        c.prop("RECURRENCE-ID").map(|p| self.when(p))
    }

    pub fn find(&self, rid: &Rid) -> Option<&Comp> {
        self.items().find(|c| self.rid(c) == *rid)
    }

    pub fn position(&self, rid: &Rid) -> Option<usize> {
        self.cal.children.iter().position(|c| is_item(c) && self.rid(c) == *rid)
    }

    pub fn uid(&self) -> Option<&str> {
        self.items().find_map(|c| c.value("UID")).map(str::trim)
    }

    /// The highest SEQUENCE of any component (absent = 0, RFC 5545 §3.8.7.4).
    pub fn sequence(&self) -> i64 {
        self.items().map(sequence).max().unwrap_or(0)
    }

    /// The ORGANIZER of every component, which RFC 6638 §3.2.4.2 wants the same in all of
    /// them. Two different ones are refused. An override without one is read as the series'
    /// (what Apple's server repairs it to): exports and generators write overrides that way, and
    /// refusing them would refuse valid iCalendar over a property the override repeats.
    pub fn organizer(&self) -> Result<Option<&Prop>, SchedError> {
        let mut found: Option<&Prop> = None;
        for c in self.items() {
            match (c.prop("ORGANIZER"), found) {
                (None, _) => {}
                (Some(p), Some(first)) if Address::new(p.value()) != Address::new(first.value()) => {
                    return Err(SchedError::SameOrganizer);
                }
                (Some(p), _) => found = found.or(Some(p)),
            }
        }
        Ok(found)
    }

    /// Every address that is an ATTENDEE of some component, first appearance first.
    pub fn attendees(&self) -> Vec<Address> {
        let mut out: Vec<Address> = Vec::new();
        for p in self.items().flat_map(|c| c.props_named("ATTENDEE")) {
            let a = Address::new(p.value());
            if !out.contains(&a) {
                out.push(a);
            }
        }
        out
    }

    /// A single DATE/DATE-TIME property value read with its TZID (RFC 5545 §3.3.4, §3.3.5).
    pub fn when(&self, p: &Prop) -> When {
        self.when_text(p.value(), p)
    }

    /// Each value of a list property (RDATE, EXDATE; RFC 5545 §3.8.5), periods by their start.
    pub fn whens(&self, p: &Prop) -> Vec<When> {
        p.value().split(',').map(|v| self.when_text(v.split('/').next().unwrap_or(v), p)).collect()
    }

    fn when_text(&self, value: &str, p: &Prop) -> When {
        let value = value.trim();
        let tzid = p.param("TZID");
        read_when(value, tzid, self.zones.as_ref()).unwrap_or_else(|| When::Text(format!("{}|{value}", tzid.unwrap_or(""))))
    }

    /// Start and length in seconds of a component (DTEND or DUE minus DTSTART, or DURATION).
    pub fn span(&self, c: &Comp) -> (Option<When>, Option<i64>) {
        let start = c.prop("DTSTART").map(|p| self.when(p));
        let end = c.prop("DTEND").or_else(|| c.prop("DUE")).map(|p| self.when(p));
        let length = match (&start, end, c.value("DURATION")) {
            (Some(s), Some(e), _) => seconds(&e).zip(seconds(s)).map(|(e, s)| e - s),
            (_, None, Some(d)) => parse_duration(d),
            _ => None,
        };
        (start, length)
    }
}

/// The attendees the server schedules with (SCHEDULE-AGENT absent or SERVER, RFC 6638 §7.1),
/// the organizer left out (§3.2.1: never a message to the organizer as attendee).
pub(crate) fn server_attendees(obj: &Object, organizer: &Address) -> Vec<Address> {
    obj.attendees().into_iter().filter(|a| a != organizer && is_server_attendee(obj, a)).collect()
}

/// Whether `who`'s first ATTENDEE line leaves scheduling to the server (RFC 6638 §7.1 wants the
/// same SCHEDULE-AGENT on each of their lines).
pub(crate) fn is_server_attendee(obj: &Object, who: &Address) -> bool {
    obj.items().find_map(|c| attendee(c, who)).is_some_and(server_agent)
}

/// SEQUENCE of one component.
pub(crate) fn sequence(c: &Comp) -> i64 {
    c.value("SEQUENCE").and_then(|v| v.trim().parse().ok()).unwrap_or(0)
}

/// Whether a component is STATUS:CANCELLED (RFC 5545 §3.8.1.11).
pub(crate) fn cancelled(c: &Comp) -> bool {
    c.value("STATUS").is_some_and(|s| s.trim().eq_ignore_ascii_case("CANCELLED"))
}

/// The ATTENDEE line of `who` in a component.
pub(crate) fn attendee<'c>(c: &'c Comp, who: &Address) -> Option<&'c Prop> {
    c.props_named("ATTENDEE").find(|p| who.is(p.value()))
}

pub(crate) fn attendee_mut<'c>(c: &'c mut Comp, who: &Address) -> Option<&'c mut Prop> {
    c.props.iter_mut().find(|p| p.name == "ATTENDEE" && who.is(p.value()))
}

/// PARTSTAT, upper-cased; absent means NEEDS-ACTION (RFC 5545 §3.2.12).
pub(crate) fn partstat(p: &Prop) -> String {
    p.param("PARTSTAT").unwrap_or("NEEDS-ACTION").to_ascii_uppercase()
}

/// RFC 6638 §7.1: the server schedules for SERVER or no SCHEDULE-AGENT; CLIENT, NONE and
/// values it does not know mean it sends nothing.
pub(crate) fn server_agent(p: &Prop) -> bool {
    p.param("SCHEDULE-AGENT").is_none_or(|a| a.eq_ignore_ascii_case("SERVER"))
}

fn seconds(w: &When) -> Option<i64> {
    match w {
        When::At(s) | When::Floating(s) | When::Day(s) => Some(*s),
        When::Text(_) => None,
    }
}

fn read_when(value: &str, tzid: Option<&str>, zones: Option<&Zones>) -> Option<When> {
    if value.len() == 8 {
        let day = chrono::NaiveDate::parse_from_str(value, "%Y%m%d").ok()?;
        return Some(When::Day(day.and_time(chrono::NaiveTime::MIN).and_utc().timestamp()));
    }
    let (local, utc) = match value.strip_suffix(['Z', 'z']) {
        Some(v) => (v, true),
        None => (value, false),
    };
    let local = NaiveDateTime::parse_from_str(local, "%Y%m%dT%H%M%S").ok()?;
    let zone = match (utc, tzid, zones) {
        (true, _, _) => Zone::Utc,
        (false, Some(tzid), Some(zones)) => zones.resolve(tzid),
        _ => Zone::Floating,
    };
    let time = CalTime { local, zone, is_date: false };
    Some(time.utc().map_or(When::Floating(local.and_utc().timestamp()), When::At))
}

/// A DURATION value in seconds (RFC 5545 §3.3.6; a day counts 86,400 s for comparison).
pub(crate) fn parse_duration(text: &str) -> Option<i64> {
    let text = text.trim();
    let (sign, rest) = match text.strip_prefix('-') {
        Some(r) => (-1, r),
        None => (1, text.strip_prefix('+').unwrap_or(text)),
    };
    let mut rest = rest.strip_prefix('P')?;
    let (mut total, mut number) = (0i64, String::new());
    while let Some(c) = rest.chars().next() {
        rest = &rest[c.len_utf8()..];
        let unit = match c {
            '0'..='9' => {
                number.push(c);
                continue;
            }
            'T' => continue,
            'W' => 604_800,
            'D' => 86_400,
            'H' => 3_600,
            'M' => 60,
            'S' => 1,
            _ => return None,
        };
        total += number.parse::<i64>().ok()?.checked_mul(unit)?;
        number.clear();
    }
    number.is_empty().then_some(sign * total)
}

/// The time zones an object's VTIMEZONEs define, resolved as calendar::tz resolves them.
fn zones_of(cal: &Comp) -> Option<Zones> {
    let mut holder = Comp::new("VCALENDAR");
    holder.props.push(Prop::new("VERSION", "2.0"));
    holder.children = cal.children.iter().filter(|c| c.name == "VTIMEZONE").cloned().collect();
    let parsed = parse_vcalendar(&text::write(&holder, true)).ok()?;
    Some(Zones::of(&parsed))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const OBJ: &str = "BEGIN:VCALENDAR\r\nBEGIN:VTIMEZONE\r\nTZID:Custom Berlin\r\nX-LIC-LOCATION:Europe/Berlin\r\n\
BEGIN:STANDARD\r\nDTSTART:19701025T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n\
BEGIN:VEVENT\r\nUID:u\r\nSEQUENCE:3\r\nDTSTART;TZID=Custom Berlin:20240105T110000\r\nDURATION:PT1H30M\r\n\
EXDATE;TZID=Europe/Berlin:20240112T110000,20240119T110000\r\nORGANIZER:mailto:o@x\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:u\r\nRECURRENCE-ID:20240126T100000Z\r\nDTSTART;VALUE=DATE:20240126\r\nDTEND;VALUE=DATE:20240127\r\nORGANIZER:MAILTO:O@X\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

    #[test]
    fn reads_instants_in_their_zones() {
        let obj = Object::parse(OBJ).unwrap();
        let master = obj.master().unwrap();
        assert_eq!(obj.span(master), (Some(When::At(1_704_448_800)), Some(5_400)));
        let ex = obj.whens(master.prop("EXDATE").unwrap());
        assert_eq!(ex, vec![When::At(1_705_053_600), When::At(1_705_658_400)]);
        let over = obj.items().nth(1).unwrap();
        assert_eq!(obj.rid(over), Some(When::At(1_706_263_200)));
        assert_eq!(obj.span(over).1, Some(86_400));
        assert_eq!(obj.sequence(), 3);
        assert_eq!(obj.organizer().unwrap().map(Prop::value), Some("mailto:o@x"));
        assert!(obj.find(&Some(When::At(1_706_263_200))).is_some());
    }

    #[test]
    fn durations_and_organizer_rules() {
        assert_eq!(parse_duration("P1W2DT3H4M5S"), Some(604_800 + 172_800 + 10_800 + 240 + 5));
        assert_eq!(parse_duration("-PT15M"), Some(-900));
        assert_eq!(parse_duration("PT"), Some(0));
        assert_eq!(parse_duration("1H"), None);
        let mixed = OBJ.replace("ORGANIZER:MAILTO:O@X", "ORGANIZER:mailto:p@x");
        assert!(matches!(Object::parse(&mixed).unwrap().organizer(), Err(SchedError::SameOrganizer)));
        // An override without ORGANIZER has the series'.
        let missing = OBJ.replacen("ORGANIZER:MAILTO:O@X\r\n", "", 1);
        let found = Object::parse(&missing).unwrap().organizer().unwrap().map(|p| Address::new(p.value()));
        assert_eq!(found, Some(Address::new("mailto:o@x")));
    }
}
