//! The calendar views' layout, pure: which days a week or month view shows (weeks start on
//! Monday, ISO 8601), where previous/next lead, and on which days of the view an event falls.

use chrono::{Datelike, Days, Months, NaiveDate, NaiveDateTime};

/// A view's extent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    Week,
    Month,
}

impl Span {
    pub fn parse(s: &str) -> Span {
        if s == "month" { Span::Month } else { Span::Week }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Span::Week => "week",
            Span::Month => "month",
        }
    }
}

/// The Monday of `d`'s week.
pub fn week_start(d: NaiveDate) -> NaiveDate {
    d - Days::new(u64::from(d.weekday().num_days_from_monday()))
}

fn first_of_month(d: NaiveDate) -> NaiveDate {
    d.with_day(1).unwrap_or(d)
}

/// The days a view of `span` around `anchor` shows, week by week: one week, or the weeks
/// covering the anchor's month (four to six).
pub fn weeks(span: Span, anchor: NaiveDate) -> Vec<[NaiveDate; 7]> {
    let (first, last) = match span {
        Span::Week => (week_start(anchor), week_start(anchor)),
        Span::Month => {
            let first = first_of_month(anchor);
            let last = first.checked_add_months(Months::new(1)).and_then(|d| d.pred_opt()).unwrap_or(first);
            (week_start(first), week_start(last))
        }
    };
    let mut out = Vec::new();
    let mut monday = first;
    while monday <= last {
        out.push(std::array::from_fn(|i| monday + Days::new(i as u64)));
        monday = monday + Days::new(7);
    }
    out
}

/// The first day shown and the day after the last.
pub fn bounds(span: Span, anchor: NaiveDate) -> (NaiveDate, NaiveDate) {
    let w = weeks(span, anchor);
    let first = w.first().map_or(anchor, |w| w[0]);
    let end = w.last().map_or(anchor, |w| w[6]) + Days::new(1);
    (first, end)
}

/// The anchor of the view before (`-1`) or after (`1`) this one: a week, or a month (on its
/// first day, so no month is skipped from the 31st).
pub fn step(span: Span, anchor: NaiveDate, dir: i32) -> NaiveDate {
    match (span, dir.signum()) {
        (Span::Week, 1) => anchor + Days::new(7),
        (Span::Week, -1) => anchor - Days::new(7),
        (Span::Month, 1) => first_of_month(anchor).checked_add_months(Months::new(1)).unwrap_or(anchor),
        (Span::Month, -1) => first_of_month(anchor).checked_sub_months(Months::new(1)).unwrap_or(anchor),
        _ => anchor,
    }
}

/// A heading for the view: "7 – 13 December 2026" or "December 2026".
pub fn title(span: Span, anchor: NaiveDate) -> String {
    match span {
        Span::Month => anchor.format("%B %Y").to_string(),
        Span::Week => {
            let (first, end) = bounds(span, anchor);
            let last = end.pred_opt().unwrap_or(end);
            if first.month() == last.month() {
                format!("{} – {}", first.format("%-d"), last.format("%-d %B %Y"))
            } else if first.year() == last.year() {
                format!("{} – {}", first.format("%-d %B"), last.format("%-d %B %Y"))
            } else {
                format!("{} – {}", first.format("%-d %B %Y"), last.format("%-d %B %Y"))
            }
        }
    }
}

/// The days an event covers: a timed one from its start's day to the day its end falls in
/// (an end at midnight belongs to the day before); an all-day one its dates, `end` exclusive
/// (RFC 5545 §3.6.1).
pub fn covered(start: NaiveDateTime, end: Option<NaiveDateTime>, all_day: bool) -> (NaiveDate, NaiveDate) {
    let first = start.date();
    let last = match end {
        Some(e) if e > start => {
            if all_day || e.time() == chrono::NaiveTime::MIN { e.date().pred_opt().unwrap_or(first) } else { e.date() }
        }
        _ => first,
    };
    (first, last.max(first))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }
    fn t(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M").unwrap()
    }

    #[test]
    fn a_week_is_monday_to_sunday() {
        let w = weeks(Span::Week, d("2026-12-10"));
        assert_eq!(w.len(), 1);
        assert_eq!((w[0][0], w[0][6]), (d("2026-12-07"), d("2026-12-13")));
        // A Sunday belongs to the week before it, a Monday starts its own.
        assert_eq!(week_start(d("2026-12-13")), d("2026-12-07"));
        assert_eq!(week_start(d("2026-12-14")), d("2026-12-14"));
        assert_eq!(bounds(Span::Week, d("2026-12-10")), (d("2026-12-07"), d("2026-12-14")));
    }

    #[test]
    fn a_month_is_the_weeks_covering_it() {
        // December 2026: Tuesday the 1st to Thursday the 31st, five weeks.
        let w = weeks(Span::Month, d("2026-12-31"));
        assert_eq!(w.len(), 5);
        assert_eq!(w[0][0], d("2026-11-30"));
        assert_eq!(w[4][6], d("2027-01-03"));
        // February 2027 starts on a Monday and fills exactly four weeks.
        assert_eq!(weeks(Span::Month, d("2027-02-14")).len(), 4);
        // August 2026 starts on a Saturday and needs six.
        assert_eq!(weeks(Span::Month, d("2026-08-01")).len(), 6);
    }

    #[test]
    fn previous_and_next() {
        assert_eq!(step(Span::Week, d("2026-12-10"), 1), d("2026-12-17"));
        assert_eq!(step(Span::Week, d("2026-01-02"), -1), d("2025-12-26"));
        // From the 31st, next month is February, not March.
        assert_eq!(step(Span::Month, d("2027-01-31"), 1), d("2027-02-01"));
        assert_eq!(step(Span::Month, d("2027-01-31"), -1), d("2026-12-01"));
        assert_eq!(title(Span::Month, d("2027-01-31")), "January 2027");
        assert_eq!(title(Span::Week, d("2026-12-10")), "7 – 13 December 2026");
        assert_eq!(title(Span::Week, d("2026-12-31")), "28 December 2026 – 3 January 2027");
    }

    #[test]
    fn the_days_an_event_covers() {
        assert_eq!(covered(t("2026-12-10T10:00"), Some(t("2026-12-10T11:00")), false), (d("2026-12-10"), d("2026-12-10")));
        // Overnight, and ending at midnight.
        assert_eq!(covered(t("2026-12-10T22:00"), Some(t("2026-12-11T02:00")), false), (d("2026-12-10"), d("2026-12-11")));
        assert_eq!(covered(t("2026-12-10T22:00"), Some(t("2026-12-11T00:00")), false), (d("2026-12-10"), d("2026-12-10")));
        // All-day: the end date is exclusive.
        assert_eq!(covered(t("2026-12-10T00:00"), Some(t("2026-12-11T00:00")), true), (d("2026-12-10"), d("2026-12-10")));
        assert_eq!(covered(t("2026-12-10T00:00"), Some(t("2026-12-13T00:00")), true), (d("2026-12-10"), d("2026-12-12")));
        // No end, or an end before the start: the start's day.
        assert_eq!(covered(t("2026-12-10T10:00"), None, false), (d("2026-12-10"), d("2026-12-10")));
    }
}
