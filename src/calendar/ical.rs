//! A small iCalendar content-line scanner (RFC 5545 §3.1): unfolding, name/parameters/value,
//! and the component tree. Enough to validate structure and compute index facts; the client's
//! bytes are what is stored and served.

/// One unfolded content line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// Upper-cased property name.
    pub name: String,
    /// (upper-cased name, value without quotes)
    pub params: Vec<(String, String)>,
    pub value: String,
}

impl Line {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// A component with its own properties and sub-components.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Component {
    pub name: String,
    pub props: Vec<Line>,
    pub children: Vec<Component>,
}

impl Component {
    pub fn prop(&self, name: &str) -> Option<&Line> {
        self.props.iter().find(|p| p.name == name)
    }
    pub fn props_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Line> {
        self.props.iter().filter(move |p| p.name == name)
    }
}

/// RFC 5545 §3.3.11 TEXT unescaping (`\n`, `\,`, `\;`, `\\`), for searching and showing a
/// value: a search for "a,b" finds `a\,b`, a mail shows the comma.
pub fn unescape_text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n' | 'N') => out.push('\n'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Unfolds `text` into logical lines (CRLF or LF; a line starting with space or tab continues
/// the previous one, RFC 5545 §3.1).
pub fn unfold(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for raw in text.split('\n') {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if let Some(rest) = raw.strip_prefix([' ', '\t'])
            && let Some(last) = lines.last_mut()
        {
            last.push_str(rest);
            continue;
        }
        if !raw.is_empty() {
            lines.push(raw.to_owned());
        }
    }
    lines
}

/// Parses one unfolded line; Err names what is wrong.
pub fn parse_line(line: &str) -> Result<Line, String> {
    let mut quoted = false;
    let mut colon = None;
    for (i, c) in line.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ':' if !quoted => {
                colon = Some(i);
                break;
            }
            _ => {}
        }
    }
    let colon = colon.ok_or_else(|| format!("line without ':' — {:?}", truncate(line)))?;
    let (head, value) = (&line[..colon], &line[colon + 1..]);
    let mut parts = split_unquoted(head, ';').into_iter();
    let name = parts.next().unwrap_or_default().to_ascii_uppercase();
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(format!("invalid property name in {:?}", truncate(line)));
    }
    let mut params = Vec::new();
    for p in parts {
        let (n, v) = p.split_once('=').ok_or_else(|| format!("invalid parameter {p:?}"))?;
        params.push((n.to_ascii_uppercase(), v.trim_matches('"').to_owned()));
    }
    Ok(Line { name, params, value: value.to_owned() })
}

fn split_unquoted(s: &str, sep: char) -> Vec<String> {
    let (mut out, mut cur, mut quoted) = (Vec::new(), String::new(), false);
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            // Apple writes `\;` inside unquoted parameter values (as in TEXT): an escape, not a
            // separator, as raw.rs reads it too.
            '\\' if !quoted => {
                cur.push(c);
                cur.extend(chars.next());
            }
            c if c == sep && !quoted => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out
}

fn truncate(s: &str) -> String {
    s.chars().take(60).collect()
}

/// Parses a whole stream into its top-level components (normally one VCALENDAR).
pub fn parse(text: &str) -> Result<Vec<Component>, String> {
    let mut stack: Vec<Component> = Vec::new();
    let mut top = Vec::new();
    let mut budget = super::raw::ComponentBudget::default();
    for raw in unfold(text) {
        let line = parse_line(&raw)?;
        match line.name.as_str() {
            "BEGIN" => {
                stack.push(Component { name: line.value.trim().to_ascii_uppercase(), ..Component::default() });
                budget.open(stack.len())?;
            }
            "END" => {
                let done = stack.pop().ok_or_else(|| format!("END:{} without BEGIN", line.value))?;
                if !done.name.eq_ignore_ascii_case(line.value.trim()) {
                    return Err(format!("END:{} closes BEGIN:{}", line.value.trim(), done.name));
                }
                match stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => top.push(done),
                }
            }
            _ => match stack.last_mut() {
                Some(c) => c.props.push(line),
                None => return Err(format!("property {} outside any component", line.name)),
            },
        }
    }
    if let Some(open) = stack.last() {
        return Err(format!("BEGIN:{} is never closed", open.name));
    }
    Ok(top)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn unfolds_and_splits() {
        let t = "BEGIN:VCALENDAR\r\nX-A;CN=\"Doe, John: x\";ROLE=CHAIR:mailto:a@b\r\nDESCRIPTION:one\r\n  two\r\nEND:VCALENDAR\r\n";
        let top = parse(t).unwrap();
        assert_eq!(top.len(), 1);
        let a = top[0].prop("X-A").unwrap();
        assert_eq!(a.param("CN"), Some("Doe, John: x"));
        assert_eq!(a.value, "mailto:a@b");
        assert_eq!(top[0].prop("DESCRIPTION").unwrap().value, "one two");
    }

    #[test]
    fn structure_errors() {
        assert!(parse("BEGIN:VCALENDAR\r\nEND:VEVENT\r\n").is_err());
        assert!(parse("BEGIN:VCALENDAR\r\n").is_err());
        assert!(parse("SUMMARY:x\r\n").is_err());
        assert!(parse("BEGIN:VCALENDAR\r\nno colon here\r\nEND:VCALENDAR\r\n").is_err());
    }
}
