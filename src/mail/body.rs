//! What every mail body here is made of (the iMIP summary, the reminder): dates and times in one
//! named zone, labelled rows as plain text and as an HTML table, and HTML with every value escaped.

use chrono::{NaiveDate, NaiveDateTime};

/// One end of a span as a calendar shows it: a whole day (a DATE), or a wall-clock time in a zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Moment {
    Day(NaiveDate),
    At(NaiveDateTime),
}

impl Moment {
    /// `Thu 10 Dec 2026` or `Thu 10 Dec 2026 10:00`; without the year where space is short and the
    /// date is near (a reminder's subject line).
    pub(crate) fn text(self, year: bool) -> String {
        let format = match (self, year) {
            (Moment::Day(_), true) => "%a %-d %b %Y",
            (Moment::Day(_), false) => "%a %-d %b",
            (Moment::At(_), true) => "%a %-d %b %Y %H:%M",
            (Moment::At(_), false) => "%a %-d %b %H:%M",
        };
        match self {
            Moment::Day(d) => d.format(format).to_string(),
            Moment::At(t) => t.format(format).to_string(),
        }
    }

    /// The text with the zone named after a time (`… 10:00 (Europe/Berlin)`): the reader's client
    /// may live in another zone, so the mail says which one it means. A day needs none.
    pub(crate) fn zoned(self, year: bool, zone: &str) -> String {
        match self {
            Moment::At(_) if !zone.is_empty() => format!("{} ({zone})", self.text(year)),
            _ => self.text(year),
        }
    }
}

/// Start (and end) with the zone named, e.g. `Thu 10 Dec 2026 10:00–11:00 (Europe/Berlin)`; days
/// as `Thu 10 Dec 2026 – Sat 12 Dec 2026 (all day)`. The end of days is exclusive (DTEND of an
/// all-day event, RFC 5545 §3.6.1), so a one-day event shows its day alone.
pub(crate) fn span(start: Moment, end: Option<Moment>, zone: &str) -> String {
    let mut out = start.text(true);
    match (start, end) {
        (Moment::Day(s), Some(Moment::Day(e))) => {
            if let Some(last) = e.pred_opt().filter(|last| *last > s) {
                out = format!("{out} – {}", Moment::Day(last).text(true));
            }
        }
        // Same day: the end's time only; an end equal to the start (no duration) is not shown.
        (Moment::At(s), Some(Moment::At(e))) if s.date() == e.date() && e != s => out = format!("{out}–{}", e.format("%H:%M")),
        (_, Some(e)) if e != start => out = format!("{out} – {}", e.text(true)),
        _ => {}
    }
    match start {
        Moment::Day(_) => out.push_str(" (all day)"),
        Moment::At(_) if !zone.is_empty() => out.push_str(&format!(" ({zone})")),
        Moment::At(_) => {}
    }
    out
}

/// Labelled rows as plain text, one `Label: value` line each; a value's further lines indented.
pub(crate) fn plain_rows(rows: &[(&str, String)]) -> String {
    rows.iter().map(|(label, value)| format!("{label}: {}\n", value.replace('\n', "\n    "))).collect()
}

/// Labelled rows as an HTML table; each cell is HTML already (`html_text` of a value, or a link).
pub(crate) fn html_table<'a>(rows: impl IntoIterator<Item = (&'a str, String)>) -> String {
    let mut out = String::from("<table>\n");
    for (label, cell) in rows {
        out.push_str(&format!("<tr><th align=\"left\" valign=\"top\">{}</th><td>{cell}</td></tr>\n", escape_html(label)));
    }
    out.push_str("</table>\n");
    out
}

/// Text as HTML element content: escaped, its line breaks kept.
pub(crate) fn html_text(s: &str) -> String {
    escape_html(s).replace('\n', "<br>")
}

/// A whole UTF-8 HTML document around `inner`.
pub(crate) fn html_page(inner: &str) -> String {
    format!("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head><body>\n{inner}</body></html>\n")
}

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
