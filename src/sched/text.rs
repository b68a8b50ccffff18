//! The content-line tree iTIP work edits (RFC 5545 §3.1): properties keep their parameters and
//! values exactly as written, and the physical lines they came from, so a component the
//! scheduler does not touch is written back byte for byte and an edited one loses nothing.

use crate::calendar::raw::push_folded;

/// One parameter: upper-cased name, value as written (quotes and `,` lists included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Param {
    pub name: String,
    raw: String,
}

impl Param {
    /// The value without its quotes (the first of a list, for the single-valued parameters).
    pub fn value(&self) -> &str {
        let raw = self.raw.as_str();
        match raw.strip_prefix('"') {
            Some(quoted) => quoted.split('"').next().unwrap_or_default(),
            None => raw,
        }
    }
}

/// One property: upper-cased name, parameters, raw value (escapes kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Prop {
    pub name: String,
    params: Vec<Param>,
    value: String,
    /// The physical lines it was read from; dropped by any edit.
    source: Option<String>,
}

impl Prop {
    pub fn new(name: &str, value: &str) -> Prop {
        Prop { name: name.to_ascii_uppercase(), params: Vec::new(), value: value.to_owned(), source: None }
    }

    pub fn value(&self) -> &str {
        &self.value
    }

    pub fn set_value(&mut self, value: &str) {
        if self.value != value {
            self.value = value.to_owned();
            self.source = None;
        }
    }

    pub fn params(&self) -> &[Param] {
        &self.params
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|p| p.name == name).map(Param::value)
    }

    /// Sets a parameter, quoting the value when it holds `:`, `;` or `,` (RFC 5545 §3.2).
    pub fn set_param(&mut self, name: &str, value: &str) {
        let raw = if value.contains([':', ';', ',']) { format!("\"{value}\"") } else { value.to_owned() };
        match self.params.iter_mut().find(|p| p.name == name) {
            Some(p) if p.raw == raw => return,
            Some(p) => p.raw = raw,
            None => self.params.push(Param { name: name.to_owned(), raw }),
        }
        self.source = None;
    }

    pub fn remove_param(&mut self, name: &str) {
        let before = self.params.len();
        self.params.retain(|p| p.name != name);
        if self.params.len() != before {
            self.source = None;
        }
    }

    /// A copy with only the parameters `keep` accepts (a new line, written folded).
    pub fn with_params(&self, keep: impl Fn(&str) -> bool) -> Prop {
        let params = self.params.iter().filter(|p| keep(&p.name)).cloned().collect();
        Prop { name: self.name.clone(), params, value: self.value.clone(), source: None }
    }

    /// The unfolded content line.
    pub fn line(&self) -> String {
        let mut out = self.name.clone();
        for p in &self.params {
            out.push(';');
            out.push_str(&p.name);
            out.push('=');
            out.push_str(&p.raw);
        }
        out.push(':');
        out.push_str(&self.value);
        out
    }
}

/// A component: upper-cased name, its properties and sub-components, in source order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Comp {
    pub name: String,
    pub props: Vec<Prop>,
    pub children: Vec<Comp>,
}

impl Comp {
    pub fn new(name: &str) -> Comp {
        Comp { name: name.to_owned(), ..Comp::default() }
    }

    pub fn prop(&self, name: &str) -> Option<&Prop> {
        self.props.iter().find(|p| p.name == name)
    }

    pub fn prop_mut(&mut self, name: &str) -> Option<&mut Prop> {
        self.props.iter_mut().find(|p| p.name == name)
    }

    pub fn props_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Prop> {
        self.props.iter().filter(move |p| p.name == name)
    }

    pub fn value(&self, name: &str) -> Option<&str> {
        self.prop(name).map(Prop::value)
    }

    /// Sets the first `name` property's value, or appends the property.
    pub fn set(&mut self, name: &str, value: &str) {
        match self.prop_mut(name) {
            Some(p) => p.set_value(value),
            None => self.props.push(Prop::new(name, value)),
        }
    }

    pub fn remove(&mut self, name: &str) {
        self.props.retain(|p| p.name != name);
    }
}

/// Parses a stream holding exactly one VCALENDAR.
pub(crate) fn parse(text: &str) -> Result<Comp, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut stack: Vec<Comp> = Vec::new();
    let mut top: Vec<Comp> = Vec::new();
    // Messages from outside (iMIP, the outbox) reach here without `validate`: the same limits.
    let mut budget = crate::calendar::raw::ComponentBudget::default();
    for (unfolded, source) in logical_lines(text) {
        let prop = parse_prop(&unfolded, source)?;
        match prop.name.as_str() {
            "BEGIN" => {
                stack.push(Comp::new(&prop.value.trim().to_ascii_uppercase()));
                budget.open(stack.len())?;
            }
            "END" => {
                let done = stack.pop().ok_or_else(|| format!("END:{} without BEGIN (RFC 5545 §3.6)", prop.value))?;
                if !done.name.eq_ignore_ascii_case(prop.value.trim()) {
                    return Err(format!("END:{} closes BEGIN:{} (RFC 5545 §3.6)", prop.value.trim(), done.name));
                }
                match stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => top.push(done),
                }
            }
            _ => stack
                .last_mut()
                .ok_or_else(|| format!("{} outside any component (RFC 5545 §3.4)", prop.name))?
                .props
                .push(prop),
        }
    }
    if let Some(open) = stack.last() {
        return Err(format!("BEGIN:{} is never ended (RFC 5545 §3.6)", open.name));
    }
    match (top.pop(), top.is_empty()) {
        (Some(cal), true) if cal.name == "VCALENDAR" => Ok(cal),
        (Some(_), true) => Err("the body is not a VCALENDAR (RFC 5545 §3.4)".into()),
        (None, _) => Err("the body holds no VCALENDAR (RFC 5545 §3.4)".into()),
        (Some(_), false) => Err("the body holds more than one VCALENDAR".into()),
    }
}

/// Unfolded lines with the physical text they came from (CRLF or LF; RFC 5545 §3.1).
fn logical_lines(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for raw in text.split('\n') {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if let Some(rest) = raw.strip_prefix([' ', '\t'])
            && let Some((unfolded, source)) = out.last_mut()
        {
            unfolded.push_str(rest);
            source.push_str("\r\n");
            source.push_str(raw);
        } else if !raw.trim().is_empty() {
            out.push((raw.to_owned(), raw.to_owned()));
        }
    }
    out
}

/// Splits `name *(";" param) ":" value`, honouring quotes and Apple's `\;` in parameter values.
fn parse_prop(line: &str, source: String) -> Result<Prop, String> {
    let bad = |why: &str| format!("{why} in {:?} (RFC 5545 §3.1)", line.chars().take(60).collect::<String>());
    let name_end = line.find([';', ':']).ok_or_else(|| bad("no ':' before the value"))?;
    let name = &line[..name_end];
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(bad("an invalid property name"));
    }
    let mut params = Vec::new();
    let mut rest = &line[name_end..];
    while let Some(after) = rest.strip_prefix(';') {
        let eq = after.find(['=', ';', ':']).filter(|&i| after[i..].starts_with('=')).ok_or_else(|| bad("a parameter without '='"))?;
        let value_len = param_value_len(&after[eq + 1..]).ok_or_else(|| bad("a parameter value that never ends (an unclosed quote?)"))?;
        params.push(Param { name: after[..eq].to_ascii_uppercase(), raw: after[eq + 1..eq + 1 + value_len].to_owned() });
        rest = &after[eq + 1 + value_len..];
    }
    let value = rest.strip_prefix(':').ok_or_else(|| bad("no ':' before the value"))?;
    Ok(Prop { name: name.to_ascii_uppercase(), params, value: value.to_owned(), source: Some(source) })
}

/// The length of a parameter value (`"…"` or bare, `,`-separated) up to the `;` or `:` after it.
fn param_value_len(text: &str) -> Option<usize> {
    let (mut quoted, mut escaped) = (false, false);
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '"' => quoted = !quoted,
            '\\' if !quoted => escaped = true,
            ';' | ':' if !quoted => return Some(i),
            _ => {}
        }
    }
    None
}

/// Writes a component. `verbatim`: properties nobody edited keep their physical lines (what is
/// stored); otherwise every line is written again, folded at 75 octets (what is sent). CRLF.
pub(crate) fn write(comp: &Comp, verbatim: bool) -> String {
    let mut out = String::new();
    write_into(comp, verbatim, &mut out);
    out
}

fn write_into(comp: &Comp, verbatim: bool, out: &mut String) {
    out.push_str("BEGIN:");
    out.push_str(&comp.name);
    out.push_str("\r\n");
    for p in &comp.props {
        match (&p.source, verbatim) {
            (Some(source), true) => {
                out.push_str(source);
                out.push_str("\r\n");
            }
            _ => push_folded(&p.line(), out),
        }
    }
    for child in &comp.children {
        write_into(child, verbatim, out);
    }
    out.push_str("END:");
    out.push_str(&comp.name);
    out.push_str("\r\n");
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const APPLE: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:a\r\n\
ATTENDEE;CN=\"Doe, Jane\";DELEGATED-TO=\"mailto:x@e.org\",\"mailto:y@e.org\";PARTSTAT=ACCEPTED:mailto:j@e.org\r\n\
X-APPLE-STRUCTURED-LOCATION;VALUE=URI;X-TITLE=Hauptstr 1\\; Linz:geo:48.3,14.2\r\n\
DESCRIPTION:a long line that the client folded at\r\n  an odd place\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

    #[test]
    fn reads_parameters_as_written() {
        let cal = parse(APPLE).unwrap();
        let ev = &cal.children[0];
        let att = ev.prop("ATTENDEE").unwrap();
        assert_eq!(att.param("CN"), Some("Doe, Jane"));
        assert_eq!(att.param("PARTSTAT"), Some("ACCEPTED"));
        assert_eq!(att.params()[1].value(), "mailto:x@e.org");
        assert_eq!(att.value(), "mailto:j@e.org");
        let loc = ev.prop("X-APPLE-STRUCTURED-LOCATION").unwrap();
        assert_eq!((loc.param("X-TITLE"), loc.value()), (Some("Hauptstr 1\\; Linz"), "geo:48.3,14.2"));
        assert_eq!(ev.value("DESCRIPTION"), Some("a long line that the client folded at an odd place"));
    }

    #[test]
    fn untouched_lines_are_written_verbatim_and_edits_refolded() {
        let mut cal = parse(APPLE).unwrap();
        assert_eq!(write(&cal, true), APPLE);
        let att = cal.children[0].prop_mut("ATTENDEE").unwrap();
        att.set_param("PARTSTAT", "DECLINED");
        att.set_param("SCHEDULE-STATUS", "2.0,2.4");
        let out = write(&cal, true);
        let line = parse(&out).unwrap().children[0].prop("ATTENDEE").unwrap().line();
        assert!(line.ends_with("PARTSTAT=DECLINED;SCHEDULE-STATUS=\"2.0,2.4\":mailto:j@e.org"), "{out}");
        assert!(out.contains("DESCRIPTION:a long line that the client folded at\r\n  an odd place\r\n"));
        assert!(write(&cal, false).split("\r\n").all(|l| l.len() <= 75));
        assert_eq!(parse(&write(&cal, false)).unwrap().children[0].prop("ATTENDEE").unwrap().param("SCHEDULE-STATUS"), Some("2.0,2.4"));
    }

    #[test]
    fn refuses_broken_structure() {
        for bad in [
            "BEGIN:VCALENDAR\r\nEND:VEVENT\r\n",
            "BEGIN:VCALENDAR\r\n",
            "BEGIN:VCALENDAR\r\nA;B:c\r\nEND:VCALENDAR\r\n",
            "BEGIN:VCALENDAR\r\nA;B=\"c:d\r\nEND:VCALENDAR\r\n",
            "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\nBEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n",
            "BEGIN:VEVENT\r\nEND:VEVENT\r\n",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
