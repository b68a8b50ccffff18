//! The human-readable side of an iMIP email (RFC 6047 §2.4 leaves its wording to the sender):
//! what the iTIP message says, read once from its text, and written as plain text and as HTML
//! with every value escaped.

use super::body::{Moment, escape_html, html_page, html_table, html_text, plain_rows, span};
use crate::calendar::ical::unescape_text;
use crate::sched::text::{self, Comp, Prop};

/// Someone named in the event: their name (CN) if given, and their address without `mailto:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub name: Option<String>,
    pub email: String,
    /// PARTSTAT, upper-cased, when the line has one.
    pub partstat: Option<String>,
}

impl Person {
    fn from_prop(p: &Prop) -> Person {
        let value = p.value();
        let email = value.get(..7).filter(|s| s.eq_ignore_ascii_case("mailto:")).map_or(value, |_| &value[7..]);
        Person {
            name: p.param("CN").filter(|n| !n.trim().is_empty()).map(str::to_owned),
            email: email.to_owned(),
            partstat: p.param("PARTSTAT").map(str::to_ascii_uppercase),
        }
    }

    /// `Name <address>`, or the address alone.
    pub fn label(&self) -> String {
        match &self.name {
            Some(n) => format!("{n} <{}>", self.email),
            None => self.email.clone(),
        }
    }

    fn short(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.email)
    }
}

/// A link under the summary (e.g. an RSVP answer page): its label and absolute URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    pub label: String,
    pub url: String,
}

/// What an iTIP message is about, for the mail's subject and text parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// METHOD of the VCALENDAR (RFC 5546 §1.4), upper-cased.
    pub method: String,
    pub title: String,
    /// Start (and end) with the time zone named, e.g. `Thu 10 Dec 2026 10:00–11:00 (Europe/Berlin)`.
    pub when: Option<String>,
    pub repeats: bool,
    pub location: Option<String>,
    pub organizer: Option<Person>,
    pub attendees: Vec<Person>,
    pub description: Option<String>,
    /// SEQUENCE above 0: an update of an invitation sent before (RFC 5546 §2.1.4).
    pub update: bool,
}

/// Reads the summary from an iTIP message's text; None when it has no VEVENT or VTODO.
pub fn summarize(itip: &str) -> Option<Summary> {
    let cal = text::parse(itip).ok()?;
    let method = cal.value("METHOD").unwrap_or("PUBLISH").to_ascii_uppercase();
    let comps: Vec<&Comp> = cal.children.iter().filter(|c| c.name == "VEVENT" || c.name == "VTODO").collect();
    // The master describes the event; a message about single instances has only overrides.
    let main = comps.iter().find(|c| c.prop("RECURRENCE-ID").is_none()).or_else(|| comps.first())?;
    let zone_of = |p: &Prop| p.param("TZID").map(str::to_owned);
    let start = main.prop("DTSTART").map(|p| (p.value().to_owned(), zone_of(p)));
    let end = main.prop("DTEND").or_else(|| main.prop("DUE")).map(|p| (p.value().to_owned(), zone_of(p)));
    let sequence = main.value("SEQUENCE").and_then(|s| s.trim().parse::<i64>().ok()).unwrap_or(0);
    Some(Summary {
        method,
        title: main.value("SUMMARY").map(unescape_text).filter(|t| !t.trim().is_empty()).unwrap_or_else(|| "(no title)".to_owned()),
        when: start.map(|(s, zone)| when(&s, zone.as_deref(), end.as_ref().map(|(e, z)| (e.as_str(), z.as_deref())))),
        repeats: main.prop("RRULE").is_some() || main.prop("RDATE").is_some(),
        location: main.value("LOCATION").map(unescape_text).filter(|l| !l.trim().is_empty()),
        organizer: main.prop("ORGANIZER").map(Person::from_prop),
        attendees: main.props_named("ATTENDEE").map(Person::from_prop).collect(),
        description: main.value("DESCRIPTION").map(unescape_text).filter(|d| !d.trim().is_empty()),
        update: sequence > 0,
    })
}

/// A date or date-time as written (RFC 5545 §3.3.4, §3.3.5), in its own zone, which is named:
/// the recipient's client shows it in theirs, the mail says which one it is in.
fn when(start: &str, zone: Option<&str>, end: Option<(&str, Option<&str>)>) -> String {
    let Some((s, s_utc)) = moment(start) else {
        return start.to_owned();
    };
    let zone_name = match (zone, s_utc) {
        (Some(z), _) => z,
        (None, true) => "UTC",
        (None, false) => "floating time",
    };
    span(s, end.and_then(|(e, _)| moment(e)).map(|(m, _)| m), zone_name)
}

/// (moment, is UTC) of one DATE or DATE-TIME value.
fn moment(value: &str) -> Option<(Moment, bool)> {
    let v = value.trim();
    if v.len() == 8 {
        return Some((Moment::Day(chrono::NaiveDate::parse_from_str(v, "%Y%m%d").ok()?), false));
    }
    let utc = v.ends_with('Z');
    let dt = chrono::NaiveDateTime::parse_from_str(v.trim_end_matches('Z'), "%Y%m%dT%H%M%S").ok()?;
    Some((Moment::At(dt), utc))
}

impl Summary {
    /// The subject line: what happened, then the title.
    pub fn subject(&self) -> String {
        match self.method.as_str() {
            "REQUEST" if self.update => format!("Updated invitation: {}", self.title),
            "REQUEST" => format!("Invitation: {}", self.title),
            "CANCEL" => format!("Cancelled: {}", self.title),
            "REPLY" => match self.attendees.first() {
                Some(who) => format!("{} {}: {}", who.short(), answer(who.partstat.as_deref()), self.title),
                None => format!("Reply: {}", self.title),
            },
            "COUNTER" => format!("New time proposed: {}", self.title),
            other => format!("{other}: {}", self.title),
        }
    }

    /// The lines of both bodies, as (label, value); the HTML escapes them.
    fn rows(&self) -> Vec<(&'static str, String)> {
        let mut rows = Vec::new();
        if let Some(w) = &self.when {
            rows.push(("When", if self.repeats { format!("{w}, repeating") } else { w.clone() }));
        }
        if let Some(l) = &self.location {
            rows.push(("Where", l.clone()));
        }
        if let Some(o) = &self.organizer {
            rows.push(("Organizer", o.label()));
        }
        if !self.attendees.is_empty() {
            let list: Vec<String> = self
                .attendees
                .iter()
                .map(|a| match a.partstat.as_deref() {
                    Some(p) if p != "NEEDS-ACTION" => format!("{} ({})", a.label(), p.to_ascii_lowercase()),
                    _ => a.label(),
                })
                .collect();
            rows.push(("Attendees", list.join("\n")));
        }
        rows
    }

    fn heading(&self) -> String {
        match self.method.as_str() {
            "CANCEL" => format!("This event has been cancelled: {}", self.title),
            _ => self.subject(),
        }
    }

    /// The text/plain part, with `actions` listed as "label: URL" lines after it.
    pub fn plain_with(&self, actions: &[Action]) -> String {
        let mut out = self.plain();
        if !actions.is_empty() {
            out.push('\n');
            for a in actions {
                out.push_str(&format!("{}: {}\n", a.label, a.url));
            }
        }
        out
    }

    /// The text/html part, with `actions` as links after the summary.
    pub fn html_with(&self, actions: &[Action]) -> String {
        let mut out = self.html();
        if !actions.is_empty() {
            let links: Vec<String> =
                actions.iter().map(|a| format!("<a href=\"{}\">{}</a>", escape_html(&a.url), escape_html(&a.label))).collect();
            let at = out.rfind("</body>").unwrap_or(out.len());
            out.insert_str(at, &format!("<p>{}</p>\n", links.join(" &middot; ")));
        }
        out
    }

    /// The text/plain part.
    pub fn plain(&self) -> String {
        let mut out = format!("{}\n\n{}", self.heading(), plain_rows(&self.rows()));
        if let Some(d) = &self.description {
            out.push_str(&format!("\n{d}\n"));
        }
        out
    }

    /// The text/html part: the same facts, every value escaped.
    pub fn html(&self) -> String {
        let mut out = format!("<h2>{}</h2>\n{}", escape_html(&self.heading()), html_table(self.rows().iter().map(|(l, v)| (*l, html_text(v)))));
        if let Some(d) = &self.description {
            out.push_str(&format!("<p>{}</p>\n", html_text(d)));
        }
        html_page(&out)
    }
}

fn answer(partstat: Option<&str>) -> &'static str {
    match partstat {
        Some("ACCEPTED") => "accepted",
        Some("DECLINED") => "declined",
        Some("TENTATIVE") => "tentatively accepted",
        Some("DELEGATED") => "delegated",
        _ => "replied",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const REQUEST: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//y//EN\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\n\
UID:u1\r\nSEQUENCE:0\r\nDTSTAMP:20261201T000000Z\r\nDTSTART;TZID=Europe/Berlin:20261210T100000\r\n\
DTEND;TZID=Europe/Berlin:20261210T110000\r\nSUMMARY:Planning <b>& co\\, \"Q1\"\r\nLOCATION:Room 1\\; left\r\n\
DESCRIPTION:Line one\\nLine <two>\r\nORGANIZER;CN=Zoë Ünal:mailto:zoe@example.org\r\n\
ATTENDEE;CN=\"Bob, B.\";PARTSTAT=ACCEPTED:mailto:bob@example.org\r\nATTENDEE;RSVP=TRUE:MAILTO:carol@else.example\r\n\
END:VEVENT\r\nEND:VCALENDAR\r\n";

    #[test]
    fn reads_the_facts() {
        let s = summarize(REQUEST).unwrap();
        assert_eq!(s.method, "REQUEST");
        assert_eq!(s.title, "Planning <b>& co, \"Q1\"");
        assert_eq!(s.when.as_deref(), Some("Thu 10 Dec 2026 10:00–11:00 (Europe/Berlin)"));
        assert_eq!(s.location.as_deref(), Some("Room 1; left"));
        assert_eq!(s.organizer.as_ref().unwrap().label(), "Zoë Ünal <zoe@example.org>");
        assert_eq!(s.attendees[1].email, "carol@else.example");
        assert_eq!(s.description.as_deref(), Some("Line one\nLine <two>"));
        assert_eq!(s.subject(), "Invitation: Planning <b>& co, \"Q1\"");
    }

    #[test]
    fn html_escapes_everything() {
        let html = summarize(REQUEST).unwrap().html();
        assert!(html.contains("Planning &lt;b&gt;&amp; co, &quot;Q1&quot;"), "{html}");
        assert!(html.contains("Line one<br>Line &lt;two&gt;"), "{html}");
        assert!(!html.contains("<b>&"), "{html}");
        let plain = summarize(REQUEST).unwrap().plain();
        assert!(plain.contains("Where: Room 1; left\n"), "{plain}");
        assert!(plain.contains("Bob, B. <bob@example.org> (accepted)"), "{plain}");
    }

    #[test]
    fn actions_are_escaped_links() {
        let s = summarize(REQUEST).unwrap();
        let actions = [Action { label: "Accept <now>".into(), url: "https://x.example/r?t=a&b=\"c".into() }];
        let html = s.html_with(&actions);
        assert!(html.contains("<a href=\"https://x.example/r?t=a&amp;b=&quot;c\">Accept &lt;now&gt;</a>"), "{html}");
        assert!(html.ends_with("</p>\n</body></html>\n"), "{html}");
        assert!(s.plain_with(&actions).ends_with("\nAccept <now>: https://x.example/r?t=a&b=\"c\n"));
        assert_eq!(s.plain_with(&[]), s.plain());
    }

    #[test]
    fn times_name_their_zone() {
        assert_eq!(when("20261210T090000Z", None, None), "Thu 10 Dec 2026 09:00 (UTC)");
        assert_eq!(when("20261210T090000", None, None), "Thu 10 Dec 2026 09:00 (floating time)");
        assert_eq!(when("20261210", None, Some(("20261211", None))), "Thu 10 Dec 2026 (all day)");
        assert_eq!(when("20261210", None, Some(("20261213", None))), "Thu 10 Dec 2026 – Sat 12 Dec 2026 (all day)");
        assert_eq!(
            when("20261210T230000", Some("Asia/Tokyo"), Some(("20261211T010000", Some("Asia/Tokyo")))),
            "Thu 10 Dec 2026 23:00 – Fri 11 Dec 2026 01:00 (Asia/Tokyo)"
        );
    }

    #[test]
    fn subjects_say_what_happened() {
        let update = REQUEST.replace("SEQUENCE:0", "SEQUENCE:2");
        assert_eq!(summarize(&update).unwrap().subject(), "Updated invitation: Planning <b>& co, \"Q1\"");
        let cancel = REQUEST.replace("METHOD:REQUEST", "METHOD:CANCEL");
        assert!(summarize(&cancel).unwrap().plain().starts_with("This event has been cancelled"));
        let reply = "BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\nUID:u\r\nSUMMARY:会議 🎉\r\n\
ORGANIZER:mailto:o@x\r\nATTENDEE;CN=Ana;PARTSTAT=DECLINED:mailto:ana@y\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        assert_eq!(summarize(reply).unwrap().subject(), "Ana declined: 会議 🎉");
        assert!(summarize("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n").is_none());
    }
}
