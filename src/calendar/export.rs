//! Export of a whole calendar collection as one iCalendar stream (GET on a calendar collection):
//! every object's components copied verbatim at text level, each VTIMEZONE once per TZID.

use super::ical::unfold;

/// Merges the stored objects (each a VCALENDAR) into one VCALENDAR named `name`.
pub fn export_calendar(name: Option<&str>, objects: &[&[u8]]) -> String {
    let mut out = String::from("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Kalends//Kalends//EN\r\n");
    if let Some(name) = name {
        out.push_str(&format!("X-WR-CALNAME:{}\r\n", escape_text(name)));
    }
    let mut timezones = Vec::new();
    let mut body = String::new();
    for data in objects {
        let Ok(text) = std::str::from_utf8(data) else { continue };
        for block in component_blocks(text) {
            if block.name == "VTIMEZONE" {
                if !timezones.contains(&block.tzid) {
                    timezones.push(block.tzid.clone());
                    out.push_str(&block.text);
                }
            } else {
                body.push_str(&block.text);
            }
        }
    }
    out.push_str(&body);
    out.push_str("END:VCALENDAR\r\n");
    out
}

struct Block {
    name: String,
    tzid: String,
    /// The raw (still folded) lines, CRLF-terminated.
    text: String,
}

/// The components directly inside the VCALENDAR, as raw text.
fn component_blocks(text: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut depth = 0usize;
    let mut current: Option<Block> = None;
    for raw in text.split('\n') {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.is_empty() {
            continue;
        }
        let upper = line.to_ascii_uppercase();
        if let Some(component) = upper.strip_prefix("BEGIN:") {
            depth += 1;
            if depth == 2 {
                current = Some(Block { name: component.trim().to_owned(), tzid: String::new(), text: String::new() });
            }
        }
        if let Some(b) = current.as_mut() {
            b.text.push_str(line);
            b.text.push_str("\r\n");
            if depth == 2 && upper.starts_with("TZID") {
                b.tzid = unfold(line).first().and_then(|l| l.split_once(':')).map(|(_, v)| v.to_owned()).unwrap_or_default();
            }
        }
        if upper.starts_with("END:") {
            if depth == 2
                && let Some(b) = current.take()
            {
                blocks.push(b);
            }
            depth = depth.saturating_sub(1);
        }
    }
    blocks
}

fn escape_text(s: &str) -> String {
    s.replace('\\', "\\\\").replace(';', "\\;").replace(',', "\\,").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_and_dedups_timezones() {
        let tz = "BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:STANDARD\r\nDTSTART:19701025T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n";
        let a = format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n{tz}BEGIN:VEVENT\r\nUID:a\r\nSUMMARY:long\r\n  folded\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n");
        let b = format!("BEGIN:VCALENDAR\nVERSION:2.0\n{}BEGIN:VEVENT\nUID:b\nEND:VEVENT\nEND:VCALENDAR\n", tz.replace("\r\n", "\n"));
        let out = export_calendar(Some("Work, home"), &[a.as_bytes(), b.as_bytes()]);
        assert_eq!(out.matches("BEGIN:VTIMEZONE").count(), 1);
        assert_eq!(out.matches("BEGIN:VEVENT").count(), 2);
        assert!(out.contains("SUMMARY:long\r\n  folded\r\n"));
        assert!(out.contains("X-WR-CALNAME:Work\\, home\r\n"));
        assert!(out.starts_with("BEGIN:VCALENDAR\r\n") && out.ends_with("END:VCALENDAR\r\n"));
        assert!(!out.contains("\n\n") && out.matches('\n').count() == out.matches("\r\n").count());
    }
}
