//! One stored object as a feed shows it (full and masked modes): its VEVENTs with what the link
//! must not show taken out, line by line, and the VTIMEZONEs they need.

use super::{FeedMode, FeedSettings};
use crate::calendar::raw;

/// The part of one object a feed shows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Shown {
    /// (TZID, the VTIMEZONE's text with CRLF) for each VTIMEZONE of the object.
    pub timezones: Vec<(String, String)>,
    /// The VEVENTs, folded, each line ending in CRLF.
    pub events: String,
}

/// What a masked event keeps: when it happens and how it recurs (RFC 5545 §3.8.2, §3.8.5),
/// what identifies it (§3.8.4.7, §3.8.4.4) and how it counts for free/busy (§3.8.2.7,
/// §3.8.1.11). SUMMARY becomes "Busy"; everything else (DESCRIPTION, LOCATION, URL, ATTACH,
/// CATEGORIES, COMMENT, CONTACT, GEO, RESOURCES, ORGANIZER, ATTENDEE, X-, VALARM) goes.
const MASKED_KEEP: &[&str] = &[
    "UID", "DTSTAMP", "DTSTART", "DTEND", "DURATION", "RRULE", "RDATE", "EXDATE", "RECURRENCE-ID", "SEQUENCE", "STATUS", "TRANSP", "CLASS",
];

/// Whether a component of the object is private: RFC 5545 §3.8.1.3 CLASS:PRIVATE, or a CLASS
/// value the reader does not know, which that section says to treat the same way. The whole
/// object is then left out, overrides included: an override's details would otherwise show
/// under the private master's RRULE, and a private override would leave its instance shown
/// with the master's.
pub fn is_private(text: &str) -> bool {
    raw::content_lines(text).iter().filter_map(|l| raw::property(&l.text).ok()).any(|p| {
        p.name.eq_ignore_ascii_case("CLASS") && !(p.value.eq_ignore_ascii_case("PUBLIC") || p.value.eq_ignore_ascii_case("CONFIDENTIAL"))
    })
}

/// The object as the link shows it; None when it shows nothing (a private object, or one
/// without a VEVENT: tasks and journals are not part of a feed).
pub fn event_text(text: &str, settings: FeedSettings) -> Option<Shown> {
    if is_private(text) {
        return None;
    }
    let mut shown = Shown::default();
    for component in raw::components(text) {
        match (component.name.as_str(), component.tzid) {
            ("VTIMEZONE", Some(tzid)) => {
                let mut zone = String::with_capacity(component.text.len() + 64);
                raw::with_crlf(component.text, &mut zone);
                shown.timezones.push((tzid, zone));
            }
            ("VEVENT", _) => push_event(component.text, settings, &mut shown.events),
            _ => {}
        }
    }
    (!shown.events.is_empty()).then_some(shown)
}

/// One VEVENT, filtered. Masked when the link is masked or the event is CLASS:CONFIDENTIAL
/// (RFC 5545 §3.8.1.3: its details are for those the owner invited).
fn push_event(text: &str, settings: FeedSettings, out: &mut String) {
    let lines = raw::content_lines(text);
    let props: Vec<Option<raw::Property<'_>>> = lines.iter().map(|l| raw::property(&l.text).ok()).collect();
    let confidential = props.iter().flatten().any(|p| p.name.eq_ignore_ascii_case("CLASS") && p.value.eq_ignore_ascii_case("CONFIDENTIAL"));
    let masked = settings.mode != FeedMode::Full || confidential;
    let mut depth = 0usize;
    // Inside a nested component (VALARM): whether it is kept.
    let mut nested_kept = false;
    for (line, prop) in lines.iter().zip(&props) {
        let Some(prop) = prop else { continue };
        let name = prop.name.to_ascii_uppercase();
        let begin = name == "BEGIN";
        let end = name == "END";
        if begin {
            depth += 1;
            if depth == 2 {
                nested_kept = !masked && settings.alarms && prop.value.eq_ignore_ascii_case("VALARM");
            }
        }
        let keep = match depth {
            1 if begin => true,
            1 if end => {
                if masked {
                    out.push_str("SUMMARY:Busy\r\n");
                }
                true
            }
            1 => keep_property(&name, masked, settings),
            _ => nested_kept && (begin || end || keep_property(&name, false, settings)),
        };
        if keep {
            raw::push_folded(&line.text, out);
        }
        if end {
            depth = depth.saturating_sub(1);
        }
    }
}

fn keep_property(name: &str, masked: bool, settings: FeedSettings) -> bool {
    if masked {
        return MASKED_KEEP.contains(&name);
    }
    match name {
        "ORGANIZER" | "ATTENDEE" => settings.attendees,
        _ => !name.starts_with("X-"),
    }
}
