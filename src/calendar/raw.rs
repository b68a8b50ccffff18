//! Text-level view of iCalendar (RFC 5545 §3.1): content lines with their place in the source.
//! It checks the line syntax that calcard's lenient parser forgives, and lets export copy
//! components byte for byte instead of re-serializing them.

use std::borrow::Cow;

/// Server limits on one calendar object beyond RFC 5545's grammar, so that a hostile body costs
/// bounded stack, memory and time (issue 22, docs/decisions/0032-fuzzing.md). Every parser of
/// object text applies them: a PUT is refused with CALDAV:valid-calendar-data naming the limit.
///
/// Components nested deeper than this are refused: RFC 5545 nests three deep (VCALENDAR,
/// VEVENT, VALARM), RFC 9073 four; the parsers' trees are dropped recursively, and 60,000
/// levels (1.2 MB) overflowed a 2 MiB thread stack.
pub const MAX_NESTING: usize = 16;
/// Components in one object, sub-components included: a series with 900 overrides, each with
/// an alarm, fits. Scheduling plans a message per attendee over every component, so this also
/// bounds the cost of a PUT that invites a new attendee in each override.
pub const MAX_COMPONENTS: usize = 2_000;
/// Octets of one unfolded content line: an inline attachment of 380 KB (base64) fits; larger
/// ones are what URL attachments are for.
pub const MAX_LINE_OCTETS: usize = 512 * 1024;

/// Counts the components a parser opens, refusing past [`MAX_NESTING`] and [`MAX_COMPONENTS`].
#[derive(Debug, Default)]
pub struct ComponentBudget {
    opened: usize,
}

impl ComponentBudget {
    /// A component was opened at `depth` (1 for a top-level one).
    pub fn open(&mut self, depth: usize) -> Result<(), String> {
        self.opened += 1;
        if depth > MAX_NESTING {
            Err(format!("components nested deeper than {MAX_NESTING}, this server's limit"))
        } else if self.opened > MAX_COMPONENTS {
            Err(format!("more than {MAX_COMPONENTS} components in one calendar object, this server's limit"))
        } else {
            Ok(())
        }
    }
}

/// One logical content line: its physical lines unfolded (RFC 5545 §3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentLine<'a> {
    /// 1-based number of its first physical line, for error messages.
    pub number: usize,
    /// Byte offsets in the source: start of the first physical line, end of the last one
    /// (line terminator excluded).
    pub start: usize,
    pub end: usize,
    /// The unfolded text.
    pub text: Cow<'a, str>,
}

/// A property line split per RFC 5545 §3.1: `name *(";" param) ":" value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property<'l> {
    pub name: &'l str,
    pub value: &'l str,
}

/// A component directly inside the VCALENDAR, as it appears in the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawComponent<'a> {
    /// Upper-cased component name (`VEVENT`, `VTIMEZONE`, …).
    pub name: String,
    /// The source text from its BEGIN line to its END line, terminators as sent.
    pub text: &'a str,
    pub uid: Option<String>,
    pub tzid: Option<String>,
}

/// Splits the source into unfolded content lines; blank lines are dropped (many producers end
/// files with one, and they carry nothing).
pub fn content_lines(source: &str) -> Vec<ContentLine<'_>> {
    let mut lines: Vec<ContentLine<'_>> = Vec::new();
    // A UTF-8 byte-order mark is not part of the first line.
    let body = source.strip_prefix('\u{feff}').unwrap_or(source);
    let mut offset = source.len() - body.len();
    for (index, raw) in body.split('\n').enumerate() {
        let start = offset;
        offset += raw.len() + 1;
        let raw = &source[start..start + raw.len()];
        let physical = raw.strip_suffix('\r').unwrap_or(raw);
        let end = start + physical.len();
        let continuation = physical.strip_prefix([' ', '\t']);
        match (continuation, lines.last_mut()) {
            (Some(rest), Some(line)) => {
                line.text.to_mut().push_str(rest);
                line.end = end;
            }
            _ if physical.trim().is_empty() => {}
            _ => lines.push(ContentLine {
                number: index + 1,
                start,
                end,
                text: Cow::Borrowed(physical),
            }),
        }
    }
    lines
}

/// Checks the grammar calcard silently repairs: content lines (RFC 5545 §3.1: a line without
/// a `:`, often a broken fold; an empty or `=`-less parameter; an unterminated quoted value; a
/// bare CR) and BEGIN/END nesting (§3.4, §3.6). Such data is refused rather than truncated.
pub fn check_syntax(source: &str) -> Result<(), String> {
    if let Some(line) = bare_cr_line(source) {
        return Err(format!(
            "line {line}: a CR without LF (lines end with CRLF, RFC 5545 §3.1)"
        ));
    }
    let mut open: Vec<String> = Vec::new();
    let mut budget = ComponentBudget::default();
    for line in content_lines(source) {
        if line.text.len() > MAX_LINE_OCTETS {
            return Err(format!(
                "line {}: a content line of {} octets, more than this server's limit of {MAX_LINE_OCTETS}",
                line.number,
                line.text.len()
            ));
        }
        let prop = property(&line.text)
            .map_err(|why| format!("line {}: {why} (RFC 5545 §3.1)", line.number))?;
        check_nesting(&prop, &mut open)
            .map_err(|why| format!("line {}: {why} (RFC 5545 §3.6)", line.number))?;
        if prop.name.eq_ignore_ascii_case("BEGIN") {
            budget.open(open.len()).map_err(|why| format!("line {}: {why}", line.number))?;
        }
    }
    match open.last() {
        Some(name) => Err(format!("BEGIN:{name} is never ended (RFC 5545 §3.6)")),
        None => Ok(()),
    }
}

fn check_nesting(prop: &Property<'_>, open: &mut Vec<String>) -> Result<(), String> {
    let is_marker = prop.name.eq_ignore_ascii_case("BEGIN") || prop.name.eq_ignore_ascii_case("END");
    // RFC 5545 §3.6: a component name is an iana-token or x-name (letters, digits, "-"). calcard
    // reads `BEGIN:VEVENT<TAB>` as a component of another name, while the trimming parsers of
    // queries and scheduling read a VEVENT: one text, two objects (found by fuzzing).
    if is_marker && (prop.value.is_empty() || !prop.value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')) {
        return Err(format!("{}:{} does not name a component", prop.name, prop.value.escape_debug()));
    }
    if prop.name.eq_ignore_ascii_case("BEGIN") {
        open.push(upper(prop.value));
    } else if prop.name.eq_ignore_ascii_case("END") {
        let name = upper(prop.value);
        match open.pop() {
            Some(begun) if begun == name => {}
            Some(begun) => return Err(format!("END:{name} closes BEGIN:{begun}")),
            None => return Err(format!("END:{name} without BEGIN")),
        }
    }
    Ok(())
}

fn bare_cr_line(source: &str) -> Option<usize> {
    let bytes = source.as_bytes();
    let at = bytes
        .iter()
        .enumerate()
        .position(|(i, &b)| b == b'\r' && bytes.get(i + 1) != Some(&b'\n'))?;
    Some(bytes[..at].iter().filter(|&&b| b == b'\n').count() + 1)
}

/// Splits one unfolded line into name and value, checking the parameters in between.
pub fn property(line: &str) -> Result<Property<'_>, String> {
    let name_end = line
        .find([';', ':'])
        .ok_or("no ':' between the property name and its value")?;
    let name = &line[..name_end];
    check_name(name, "property")?;
    let mut rest = &line[name_end..];
    while let Some(params) = rest.strip_prefix(';') {
        rest = parameter(params)?;
    }
    let value = rest
        .strip_prefix(':')
        .ok_or("no ':' between the property name and its value")?;
    Ok(Property { name, value })
}

/// Names are IANA tokens or X-names (RFC 5545 §3.1); `_` is tolerated because real producers
/// use it (e.g. Lotus Notes' X-LOTUS-CHILD_UID).
fn check_name(name: &str, what: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err(format!("empty {what} name"));
    }
    match name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        Some(c) => Err(format!("{what} name {name:?} contains {c:?}")),
        None => Ok(()),
    }
}

/// Consumes `name=value *("," value)` and returns what follows it.
fn parameter(text: &str) -> Result<&str, String> {
    let name_end = text
        .find(['=', ';', ':'])
        .ok_or("a parameter without '='")?;
    check_name(&text[..name_end], "parameter")?;
    let mut rest = text[name_end..]
        .strip_prefix('=')
        .ok_or_else(|| format!("parameter {:?} has no '=' and value", &text[..name_end]))?;
    loop {
        rest = parameter_value(rest)?;
        match rest.strip_prefix(',') {
            Some(next) => rest = next,
            None => return Ok(rest),
        }
    }
}

/// A quoted string or a run of characters other than `";:,` (RFC 5545 §3.1 param-value).
/// Apple Calendar (iOS 26) writes `X-TITLE=Hauptstraße 1-5\; 4041 Linz` unquoted, escaping the
/// `;` with a backslash as in TEXT values; that escape is honoured rather than refused.
fn parameter_value(text: &str) -> Result<&str, String> {
    if let Some(quoted) = text.strip_prefix('"') {
        let close = quoted
            .find('"')
            .ok_or("a quoted parameter value is never closed")?;
        return Ok(&quoted[close + 1..]);
    }
    let mut chars = text.char_indices();
    while let Some((at, c)) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            ';' | ':' | ',' | '"' => return Ok(&text[at..]),
            _ => {}
        }
    }
    Ok("")
}

/// The components directly inside each VCALENDAR of the stream, with their UID and TZID, copied
/// from the source. Lines that do not parse are skipped: callers give validated objects, or
/// files to split whatever their quality.
pub fn components(source: &str) -> Vec<RawComponent<'_>> {
    let mut found = Vec::new();
    let mut depth = 0usize;
    let mut current: Option<RawComponent<'_>> = None;
    let mut start = 0;
    for line in content_lines(source) {
        let Ok(prop) = property(&line.text) else {
            continue;
        };
        let name = prop.name.to_ascii_uppercase();
        match name.as_str() {
            "BEGIN" => {
                depth += 1;
                if depth == 2 {
                    start = line.start;
                    current = Some(RawComponent {
                        name: upper(prop.value),
                        text: "",
                        uid: None,
                        tzid: None,
                    });
                }
            }
            "END" => {
                if depth == 2
                    && let Some(mut component) = current.take()
                {
                    component.text = source.get(start..line.end).unwrap_or_default();
                    found.push(component);
                }
                depth = depth.saturating_sub(1);
            }
            "UID" | "TZID" if depth == 2 => {
                if let Some(component) = current.as_mut() {
                    let slot = if name == "UID" {
                        &mut component.uid
                    } else {
                        &mut component.tzid
                    };
                    slot.get_or_insert_with(|| prop.value.trim().to_string());
                }
            }
            _ => {}
        }
    }
    found
}

fn upper(value: &str) -> String {
    value.trim().to_ascii_uppercase()
}

/// Re-terminates every physical line of `text` with CRLF (RFC 5545 §3.1) without touching
/// anything else, folds included.
pub fn with_crlf(text: &str, out: &mut String) {
    for line in text.split('\n') {
        out.push_str(line.strip_suffix('\r').unwrap_or(line));
        out.push_str("\r\n");
    }
}

/// Writes one content line folded at 75 octets, never inside a UTF-8 sequence (RFC 5545 §3.1).
pub fn push_folded(line: &str, out: &mut String) {
    let mut width = 0;
    for c in line.chars() {
        if width + c.len_utf8() > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += c.len_utf8();
    }
    out.push_str("\r\n");
}

/// TEXT escaping (RFC 5545 §3.3.11).
pub fn escape_text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn unfolds_lines_and_records_spans() {
        let src = "A:1\r\nDESCRIPTION:ab\r\n c\r\n\td\r\n\r\nB:2";
        let lines = content_lines(src);
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[1].text, "DESCRIPTION:abcd");
        assert_eq!(
            (lines[1].number, &src[lines[1].start..lines[1].end]),
            (2, "DESCRIPTION:ab\r\n c\r\n\td")
        );
        assert_eq!(lines[2].number, 6);
    }

    #[test]
    fn splits_properties_with_quoted_parameters() {
        let p = property(r#"ATTENDEE;CN="Doe; John: Jr";ROLE=CHAIR,X:mailto:a@b"#).unwrap();
        assert_eq!(
            p,
            Property {
                name: "ATTENDEE",
                value: "mailto:a@b"
            }
        );
        assert_eq!(property("CN;X-EMPTY=:v").unwrap().value, "v");
        let apple = property(
            r"X-APPLE-STRUCTURED-LOCATION;VALUE=URI;X-TITLE=Hauptstr 1-5\; 4041 Linz;X-R=7:geo:48.3,14.2",
        );
        assert_eq!(apple.unwrap().value, "geo:48.3,14.2");
    }

    #[test]
    fn refuses_the_broken_lines_calcard_forgives() {
        let cases = [
            (
                "X",
                "line 1: no ':' between the property name and its value (RFC 5545 §3.1)",
            ),
            (
                "DTSTART;;VALUE=DATE-TIME:20140409T093000",
                "line 1: empty parameter name (RFC 5545 §3.1)",
            ),
            (
                "DTSTART;VALUE:20140409",
                "line 1: parameter \"VALUE\" has no '=' and value (RFC 5545 §3.1)",
            ),
            (
                "ATTENDEE;CN=\"Doe:mailto:a@b",
                "line 1: a quoted parameter value is never closed (RFC 5545 §3.1)",
            ),
            (
                "broken fold: continued",
                "line 1: property name \"broken fold\" contains ' ' (RFC 5545 §3.1)",
            ),
            (
                "A:1\rB:2",
                "line 1: a CR without LF (lines end with CRLF, RFC 5545 §3.1)",
            ),
            (
                "BEGIN:VCALENDAR\nBEGIN:VEVENT\nEND:VCALENDAR",
                "line 3: END:VCALENDAR closes BEGIN:VEVENT (RFC 5545 §3.6)",
            ),
            (
                "END:VEVENT",
                "line 1: END:VEVENT without BEGIN (RFC 5545 §3.6)",
            ),
            (
                "BEGIN:VCALENDAR\nbegin:vevent\nEND:VEVENT",
                "BEGIN:VCALENDAR is never ended (RFC 5545 §3.6)",
            ),
        ];
        for (text, reason) in cases {
            assert_eq!(check_syntax(text).unwrap_err(), reason, "{text}");
        }
        assert_eq!(check_syntax("A:1\nB;X-Y=z:2\r\n\r\n"), Ok(()));
    }

    #[test]
    fn lists_top_level_components_verbatim() {
        let src = "BEGIN:VCALENDAR\nBEGIN:VTIMEZONE\nTZID:Europe/Paris\nBEGIN:STANDARD\nTZID:inner\nEND:STANDARD\nEND:VTIMEZONE\nBEGIN:VEVENT\nUID:a\nBEGIN:VALARM\nUID:b\nEND:VALARM\nEND:VEVENT\nEND:VCALENDAR\nBEGIN:VCALENDAR\nBEGIN:VTODO\nEND:VTODO\nEND:VCALENDAR\n";
        let comps = components(src);
        assert_eq!(comps.len(), 3);
        assert_eq!(comps[2].name, "VTODO");
        assert_eq!(
            (
                comps[0].name.as_str(),
                comps[0].tzid.as_deref(),
                comps[0].uid.as_deref()
            ),
            ("VTIMEZONE", Some("Europe/Paris"), None)
        );
        assert_eq!(
            (comps[1].name.as_str(), comps[1].uid.as_deref()),
            ("VEVENT", Some("a"))
        );
        assert_eq!(
            comps[1].text,
            "BEGIN:VEVENT\nUID:a\nBEGIN:VALARM\nUID:b\nEND:VALARM\nEND:VEVENT"
        );
    }

    #[test]
    fn folds_at_75_octets_on_char_boundaries() {
        let mut out = String::new();
        push_folded(&format!("X-WR-CALNAME:{}", "é".repeat(40)), &mut out);
        let lines: Vec<&str> = out.split("\r\n").collect();
        assert!(lines.iter().all(|l| l.len() <= 75), "{lines:?}");
        assert_eq!(
            lines.concat().replace(' ', ""),
            format!("X-WR-CALNAME:{}", "é".repeat(40))
        );
        assert_eq!(escape_text("a,b;c\\d\ne"), "a\\,b\\;c\\\\d\\ne");
    }

    fn event_with(inner: &str) -> String {
        format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:u\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20240101T090000Z\r\n{inner}END:VEVENT\r\nEND:VCALENDAR\r\n")
    }

    fn nested(levels: usize) -> String {
        event_with(&format!("{}{}", "BEGIN:X-A\r\n".repeat(levels), "END:X-A\r\n".repeat(levels)))
    }

    /// Found while fuzzing (issue 22): 60,000 nested components (1.2 MB, under the resource
    /// size) parsed fine and then overflowed the stack when `ical::parse`'s tree was dropped,
    /// which a calendar-query on the stored object would do: every tree builder now refuses
    /// nesting past MAX_NESTING before it is built.
    #[test]
    fn nesting_is_bounded_in_every_parser() {
        assert!(check_syntax(&nested(MAX_NESTING - 2)).is_ok());
        let deep = nested(MAX_NESTING - 1);
        let why = check_syntax(&deep).unwrap_err();
        assert!(why.contains("nested deeper than 16"), "{why}");
        let hostile = nested(60_000);
        assert!(check_syntax(&hostile).unwrap_err().contains("nested deeper"));
        assert!(crate::calendar::ical::parse(&hostile).unwrap_err().contains("nested deeper"));
        assert!(crate::sched::parse_message(&hostile).is_err());
    }

    #[test]
    fn components_are_counted() {
        let alarm = "BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT5M\r\nEND:VALARM\r\n";
        assert!(check_syntax(&event_with(&alarm.repeat(MAX_COMPONENTS - 2))).is_ok());
        let why = check_syntax(&event_with(&alarm.repeat(MAX_COMPONENTS - 1))).unwrap_err();
        assert!(why.contains("more than 2000 components"), "{why}");
        assert!(crate::calendar::ical::parse(&event_with(&alarm.repeat(MAX_COMPONENTS))).is_err());
    }

    #[test]
    fn content_lines_are_bounded_unfolded() {
        let fits = format!("DESCRIPTION:{}\r\n", "a".repeat(MAX_LINE_OCTETS - 12));
        assert!(check_syntax(&event_with(&fits)).is_ok());
        // Folding does not help: the limit is on the logical line (RFC 5545 §3.1).
        let folded: String = "a".repeat(MAX_LINE_OCTETS).as_bytes().chunks(74).map(|c| format!(" {}\r\n", std::str::from_utf8(c).unwrap())).collect();
        let why = check_syntax(&event_with(&format!("DESCRIPTION:\r\n{folded}"))).unwrap_err();
        assert!(why.starts_with("line 8: a content line of 524300 octets"), "{why}");
    }

    /// Found by libFuzzer (issue 22): `BEGIN:VEVENT` with a trailing tab was a component of
    /// another name to validation and a VEVENT with its own UID to scheduling. The exact input.
    #[test]
    fn component_names_are_exact() {
        let found = include_bytes!("../../fuzz/corpus/itip_diff/begin-with-trailing-tab.ics");
        let text = String::from_utf8_lossy(found);
        let new = text.split_once("\n#----\n").unwrap().1;
        let why = check_syntax(new).unwrap_err();
        assert!(why.contains("BEGIN:VEVENT\\t does not name a component"), "{why}");
        for bad in ["BEGIN:VEVENT \r\n", "BEGIN:\r\n", "BEGIN:V EVENT\r\n", "END:VEVENT;\r\n"] {
            assert!(check_syntax(&event_with(&format!("{bad}END:VEVENT\r\n"))).is_err(), "{bad:?}");
        }
        assert!(check_syntax(&event_with("BEGIN:X-Vendor-1\r\nEND:x-vendor-1\r\n")).is_ok());
    }
}
