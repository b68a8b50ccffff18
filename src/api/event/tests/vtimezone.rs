//! The generated VTIMEZONEs state the offsets chrono-tz has: their observances, evaluated here
//! by RFC 5545 §3.6.5 (each onset a local time in TZOFFSETFROM, repeated by its yearly rule up
//! to UNTIL), give chrono-tz's offset at every sampled instant of the years they cover.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, Offset, TimeZone};

use super::{NOW, checked, create};
use crate::api::event::tz::vtimezone;
use crate::sched::text::Comp;

fn offset(text: &str) -> i64 {
    let sign = if text.starts_with('-') { -1 } else { 1 };
    let digits = text.trim_start_matches(['+', '-']);
    let (h, m): (i64, i64) = (digits[..2].parse().unwrap(), digits[2..4].parse().unwrap());
    sign * (h * 3600 + m * 60)
}

/// The day of `BYDAY=nWD` (n in 1..=4 or -1) in `year`/`month`.
fn nth_weekday(year: i32, month: u32, ord: i32, weekday: chrono::Weekday) -> NaiveDate {
    if ord > 0 {
        NaiveDate::from_weekday_of_month_opt(year, month, weekday, ord as u8).unwrap()
    } else {
        let mut d = NaiveDate::from_ymd_opt(year + i32::from(month == 12), month % 12 + 1, 1).unwrap().pred_opt().unwrap();
        while d.weekday() != weekday {
            d = d.pred_opt().unwrap();
        }
        d
    }
}

/// Every (UTC onset, offset after it) of the observances, up to the end of `last_year`.
fn onsets(vtz: &Comp, last_year: i32) -> Vec<(i64, i64)> {
    let mut out = Vec::new();
    for obs in &vtz.children {
        assert!(matches!(obs.name.as_str(), "STANDARD" | "DAYLIGHT"), "{}", obs.name);
        let start = NaiveDateTime::parse_from_str(obs.value("DTSTART").unwrap(), "%Y%m%dT%H%M%S").unwrap();
        let (from, to) = (offset(obs.value("TZOFFSETFROM").unwrap()), offset(obs.value("TZOFFSETTO").unwrap()));
        let utc = |local: NaiveDateTime| local.and_utc().timestamp() - from;
        out.push((utc(start), to));
        assert!(obs.prop("RDATE").is_none(), "no RDATEs expected");
        let Some(rule) = obs.value("RRULE") else { continue };
        let (mut month, mut byday, mut until) = (None, None, i64::MAX);
        for part in rule.split(';') {
            match part.split_once('=').unwrap() {
                ("FREQ", f) => assert_eq!(f, "YEARLY"),
                ("BYMONTH", m) => month = Some(m.parse::<u32>().unwrap()),
                ("BYDAY", d) => byday = Some(d.to_owned()),
                ("UNTIL", u) => until = NaiveDateTime::parse_from_str(u, "%Y%m%dT%H%M%SZ").unwrap().and_utc().timestamp(),
                other => panic!("a rule part this check does not know: {other:?}"),
            }
        }
        let byday = byday.unwrap();
        let (ord, day) = byday.split_at(byday.len() - 2);
        let weekday = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"].iter().position(|d| *d == day).unwrap();
        let weekday = chrono::Weekday::try_from(weekday as u8).unwrap();
        for year in start.year() + 1..=last_year {
            let local = nth_weekday(year, month.unwrap(), ord.parse().unwrap(), weekday).and_time(start.time());
            if utc(local) > until {
                break;
            }
            out.push((utc(local), to));
        }
    }
    out.sort();
    out
}

#[test]
fn observances_give_chrono_tz_offsets() {
    for zone in [
        chrono_tz::Europe::Berlin,
        chrono_tz::America::New_York,
        chrono_tz::Australia::Sydney,
        chrono_tz::Asia::Kolkata,
        // DST abolished in 2019: the rules end.
        chrono_tz::America::Sao_Paulo,
        chrono_tz::Pacific::Chatham,
        chrono_tz::UTC,
    ] {
        let vtz = vtimezone(zone, 2015, 2028).unwrap();
        assert_eq!(vtz.value("TZID"), Some(zone.name()));
        let onsets = onsets(&vtz, 2028);
        let start = NaiveDate::from_ymd_opt(2015, 1, 1).unwrap().and_hms_opt(0, 0, 0).unwrap();
        let mut at = start;
        let mut samples = 0;
        while at.year() <= 2028 {
            let ts = at.and_utc().timestamp();
            let stated = onsets.iter().take_while(|(onset, _)| *onset <= ts).last().map(|(_, to)| *to);
            let truth = i64::from(zone.offset_from_utc_datetime(&at).fix().local_minus_utc());
            assert_eq!(stated, Some(truth), "{} at {at}", zone.name());
            at += Duration::hours(5);
            samples += 1;
        }
        assert!(samples > 20_000);
    }
}

#[test]
fn an_event_in_each_zone_validates_and_keeps_its_instants() {
    for zone in ["Europe/Berlin", "America/Sao_Paulo", "Australia/Lord_Howe", "Asia/Tokyo"] {
        let (text, back) = create(serde_json::json!({"title": "z", "start": "2026-03-29T02:30:00", "end": "2026-03-29T04:00:00", "timeZone": zone}));
        checked(&text);
        assert_eq!((back.time_zone.as_deref(), back.start.as_str()), (Some(zone), "2026-03-29T02:30:00"));
        // The VTIMEZONE covers a year before the event to two after, and no further back (its
        // first observance starts at 2025-01-01 UTC, which is 2024 on a wall clock west of UTC).
        let years: Vec<i32> = text.split("DTSTART:").skip(1).map(|s| s[..4].parse().unwrap()).collect();
        assert!(years.iter().all(|y| (2024..=2028).contains(y)), "{zone}: {years:?}");
    }
    let _ = NOW;
}
