//! Time values as an object states them (RFC 5545 §3.3.4 DATE, §3.3.5 DATE-TIME, §3.3.6
//! DURATION) and the UTC instants they can denote, floating times included.

use chrono::{LocalResult, NaiveDate, NaiveDateTime, Offset, TimeDelta, TimeZone};

use super::Timestamp;

/// A floating time or a DATE is read in the calendar's time zone at query time (RFC 4791 §7.3),
/// and that zone may change later; the index therefore assumes the widest offsets in civil use,
/// UTC+14:00 (Line Islands) …
pub const MAX_OFFSET_EAST: i64 = 14 * 3600;
/// … and UTC−12:00 (Baker Island).
pub const MAX_OFFSET_WEST: i64 = 12 * 3600;

const SECONDS_PER_DAY: i64 = 86_400;
/// Lengths are clamped to ±10,000 years so that adding one to any parseable date stays inside
/// chrono's range (a DURATION's week count alone can reach 4·10⁹).
const MAX_LENGTH_DAYS: i64 = 3_652_425;

/// How a DATE-TIME maps to UTC (RFC 5545 §3.3.5 forms 1–3, plus the numeric offsets some
/// producers append).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    /// Form 2: a trailing `Z`.
    Utc,
    /// A trailing `+hhmm`: not RFC 5545, but unambiguous, so it is honoured.
    Fixed(chrono::FixedOffset),
    /// Form 3: a TZID that resolved to an IANA zone.
    Iana(chrono_tz::Tz),
    /// Form 1, or a TZID nobody can resolve: the instant depends on the reader's zone.
    Floating,
}

/// A DATE or DATE-TIME value: its wall-clock reading plus how to turn that into an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CalTime {
    /// The value as written (midnight for a DATE).
    pub local: NaiveDateTime,
    pub zone: Zone,
    /// A DATE (RFC 5545 §3.3.4): a whole day in whatever zone reads it, hence always floating.
    pub is_date: bool,
}

/// The earliest and latest UTC instant a value can denote; equal unless it is floating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub earliest: Timestamp,
    pub latest: Timestamp,
}

/// A length as RFC 5545 §3.3.6 measures it: days and weeks are nominal (they follow the local
/// wall clock across DST changes), hours, minutes and seconds are exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Length {
    pub days: i64,
    pub seconds: i64,
}

impl Length {
    pub const ZERO: Length = Length {
        days: 0,
        seconds: 0,
    };
    pub const ONE_DAY: Length = Length {
        days: 1,
        seconds: 0,
    };

    /// Builds a length, clamped so that date arithmetic can never overflow.
    pub fn new(days: i64, seconds: i64) -> Self {
        let max_seconds = MAX_LENGTH_DAYS * SECONDS_PER_DAY;
        Length {
            days: days.clamp(-MAX_LENGTH_DAYS, MAX_LENGTH_DAYS),
            seconds: seconds.clamp(-max_seconds, max_seconds),
        }
    }

    /// An exact length in seconds (the difference between two instants).
    pub fn exact(seconds: i64) -> Self {
        Length::new(0, seconds)
    }

    /// The length in seconds if every day had 24 hours (good enough for bounds and ordering).
    pub fn approx_seconds(self) -> i64 {
        self.days * SECONDS_PER_DAY + self.seconds
    }

    pub fn is_negative(self) -> bool {
        self.approx_seconds() < 0
    }
}

impl CalTime {
    /// A DATE value (RFC 5545 §3.3.4).
    pub fn date(date: NaiveDate) -> Self {
        CalTime {
            local: date.and_time(chrono::NaiveTime::MIN),
            zone: Zone::Floating,
            is_date: true,
        }
    }

    /// A UTC DATE-TIME from Unix seconds (used by tests and callers building windows).
    pub fn from_utc(ts: Timestamp) -> Option<Self> {
        let local = chrono::DateTime::from_timestamp(ts, 0)?.naive_utc();
        Some(CalTime {
            local,
            zone: Zone::Utc,
            is_date: false,
        })
    }

    /// Whether the instant depends on a zone chosen at query time.
    pub fn is_floating(&self) -> bool {
        self.is_date || self.zone == Zone::Floating
    }

    /// The UTC instant, when the value fixes one.
    pub fn utc(&self) -> Option<Timestamp> {
        if self.is_date {
            return None;
        }
        match self.zone {
            Zone::Utc => Some(self.wall_seconds()),
            Zone::Fixed(offset) => Some(self.wall_seconds() - i64::from(offset.local_minus_utc())),
            Zone::Iana(tz) => Some(resolve_local(tz, self.local).timestamp()),
            Zone::Floating => None,
        }
    }

    /// The UTC instant once the calendar's zone is known (RFC 4791 §7.3): floating times and
    /// DATEs are read in `calendar_zone`, per RFC 5545 §3.3.5; other values are unaffected.
    pub fn utc_in(&self, calendar_zone: chrono_tz::Tz) -> Timestamp {
        self.utc()
            .unwrap_or_else(|| resolve_local(calendar_zone, self.local).timestamp())
    }

    /// The wall-clock reading as if it were UTC; also what min/max-date-time compare a floating
    /// value with, since that comparison must not depend on a zone chosen later.
    pub fn wall_seconds(&self) -> Timestamp {
        self.local.and_utc().timestamp()
    }

    /// The UTC instant if fixed, else the wall-clock reading (see `wall_seconds`).
    pub fn face(&self) -> Timestamp {
        self.utc().unwrap_or_else(|| self.wall_seconds())
    }

    /// Every UTC instant the value may denote, whatever zone later reads a floating value.
    pub fn span(&self) -> Span {
        match self.utc() {
            Some(t) => Span {
                earliest: t,
                latest: t,
            },
            None => {
                let wall = self.wall_seconds();
                Span {
                    earliest: wall - MAX_OFFSET_EAST,
                    latest: wall + MAX_OFFSET_WEST,
                }
            }
        }
    }

    /// This value moved by `len`: nominal days on the wall clock, then exact seconds
    /// (RFC 5545 §3.3.6), so a P1D event keeps its local time across a DST change.
    pub fn plus(&self, len: Length) -> CalTime {
        let shifted = add(self.local, TimeDelta::days(len.days));
        match self.zone {
            Zone::Iana(tz) if !self.is_date => {
                let instant = add(
                    resolve_local(tz, shifted).naive_utc(),
                    TimeDelta::seconds(len.seconds),
                );
                let local = tz.from_utc_datetime(&instant).naive_local();
                if resolve_local(tz, local).naive_utc() == instant {
                    CalTime { local, ..*self }
                } else {
                    // The second reading of a repeated hour (DST overlap): the zone's wall
                    // clock would name the first one (RFC 5545 §3.3.5), so the exact instant
                    // is kept in UTC instead.
                    CalTime { local: instant, zone: Zone::Utc, is_date: false }
                }
            }
            _ => CalTime {
                local: add(shifted, TimeDelta::seconds(len.seconds)),
                ..*self
            },
        }
    }

    /// Whether both values name the same instant: compared in UTC when both are fixed, on the
    /// wall clock when both float; a fixed and a floating value never match (the conservative
    /// answer, since a match removes an instance).
    pub fn same_instant(&self, other: &CalTime) -> bool {
        match (self.utc(), other.utc()) {
            (Some(a), Some(b)) => a == b,
            (None, None) => self.local == other.local && self.is_date == other.is_date,
            _ => false,
        }
    }

    /// This value's wall-clock reading in `start`'s zone: how UNTIL (RFC 5545 §3.3.10, in UTC
    /// when DTSTART has a zone) compares with instances expanded on DTSTART's wall clock.
    /// A DATE covers its whole day; a fixed UNTIL against a floating start takes the latest
    /// wall-clock reading any zone gives, which keeps the instance set a superset.
    pub fn wall_clock_in(&self, start: &CalTime) -> NaiveDateTime {
        if self.is_date {
            return add(self.local, TimeDelta::seconds(SECONDS_PER_DAY - 1));
        }
        let Some(instant) = self.utc() else {
            return self.local;
        };
        match start.zone {
            Zone::Iana(tz) if !start.is_date => wall_clock(tz, instant),
            Zone::Fixed(offset) if !start.is_date => {
                naive(instant + i64::from(offset.local_minus_utc()))
            }
            Zone::Utc if !start.is_date => naive(instant),
            _ => naive(instant + MAX_OFFSET_EAST),
        }
    }
}

/// The value as iCalendar writes it, zone included, for messages: `20240101`, `20240101T100000`,
/// `20240101T100000Z`, `20240101T100000+0100`, `TZID=Europe/Paris:20240101T100000`.
impl std::fmt::Display for CalTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_date {
            return write!(f, "{}", self.local.format("%Y%m%d"));
        }
        let wall = self.local.format("%Y%m%dT%H%M%S");
        match self.zone {
            Zone::Utc => write!(f, "{wall}Z"),
            Zone::Fixed(offset) => {
                let secs = offset.local_minus_utc();
                let sign = if secs < 0 { '-' } else { '+' };
                let (h, m) = (secs.abs() / 3600, secs.abs() % 3600 / 60);
                write!(f, "{wall}{sign}{h:02}{m:02}")
            }
            Zone::Iana(tz) => write!(f, "TZID={}:{wall}", tz.name()),
            Zone::Floating => write!(f, "{wall}"),
        }
    }
}

/// RFC 5545 §3.3.5: a local time that occurs twice means the first occurrence; one that does not
/// occur (inside a DST gap) is read with the offset in force before the gap, i.e. it lands after
/// the gap, shifted by the gap's length (America/New_York 02:30 on a spring-forward day is 03:30
/// EDT).
pub fn resolve_local(tz: chrono_tz::Tz, local: NaiveDateTime) -> chrono::DateTime<chrono_tz::Tz> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t,
        LocalResult::None => {
            // The offset a day earlier is the one before the gap (no zone has two changes a day).
            let before = tz
                .offset_from_utc_datetime(&add(local, TimeDelta::days(-1)))
                .fix();
            let instant = add(
                local,
                TimeDelta::seconds(-i64::from(before.local_minus_utc())),
            );
            tz.from_utc_datetime(&instant)
        }
    }
}

/// Whether `local` exists in `tz` (false inside a DST gap).
pub fn exists_in(tz: chrono_tz::Tz, local: NaiveDateTime) -> bool {
    !matches!(tz.from_local_datetime(&local), LocalResult::None)
}

fn wall_clock(tz: chrono_tz::Tz, instant: Timestamp) -> NaiveDateTime {
    tz.from_utc_datetime(&naive(instant)).naive_local()
}

/// Unix seconds as a naive date-time, saturating at chrono's range.
pub fn naive(ts: Timestamp) -> NaiveDateTime {
    chrono::DateTime::from_timestamp(ts, 0).map_or(
        if ts < 0 {
            NaiveDateTime::MIN
        } else {
            NaiveDateTime::MAX
        },
        |t| t.naive_utc(),
    )
}

/// `ts` as an RFC 5545 §3.3.5 UTC DATE-TIME (`19970714T173000Z`); empty outside chrono's
/// range. Written digit by digit from the civil date: chrono's `format` parses its pattern at
/// every call, and `write!` with padding runs core::fmt per field; together they were a
/// fifth, then a tenth, of the CPU of a cached free/busy answer (two stamps per busy period).
pub fn utc_date_time(ts: Timestamp) -> String {
    let mut out = String::with_capacity(16);
    push_utc_date_time(&mut out, ts);
    out
}

/// Seconds from 1970-01-01T00:00:00Z to 0000-01-01 and to 10000-01-01: the years written with
/// four digits.
const YEAR_0: Timestamp = -62_167_219_200;
const YEAR_10000: Timestamp = 253_402_300_800;

/// `utc_date_time`, appended to `out`.
pub fn push_utc_date_time(out: &mut String, ts: Timestamp) {
    if !(YEAR_0..YEAR_10000).contains(&ts) {
        // Signed or five-digit years: chrono's own rendering, which no calendar meets.
        if let Some(t) = chrono::DateTime::from_timestamp(ts, 0) {
            out.push_str(&t.format("%Y%m%dT%H%M%SZ").to_string());
        }
        return;
    }
    let (days, secs) = (ts.div_euclid(86_400), ts.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    let mut buf = *b"00000000T000000Z";
    let mut put = |at: usize, width: usize, mut value: i64| {
        for i in (at..at + width).rev() {
            // Each digit is 0..=9, so the cast is exact.
            buf[i] = b'0' + (value % 10) as u8;
            value /= 10;
        }
    };
    put(0, 4, year);
    put(4, 2, month);
    put(6, 2, day);
    put(9, 2, secs / 3600);
    put(11, 2, secs / 60 % 60);
    put(13, 2, secs % 60);
    // ASCII digits and letters only.
    out.push_str(std::str::from_utf8(&buf).unwrap_or_default());
}

/// The proleptic Gregorian (year, month, day) of a day count from 1970-01-01 (H. Hinnant's
/// `civil_from_days`, exact for every day of years 0 to 9999).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Saturating addition: lengths are clamped, so saturation only guards against misuse.
fn add(t: NaiveDateTime, delta: TimeDelta) -> NaiveDateTime {
    t.checked_add_signed(delta)
        .unwrap_or(if delta < TimeDelta::zero() {
            NaiveDateTime::MIN
        } else {
            NaiveDateTime::MAX
        })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono_tz::America::New_York;

    /// The same text as chrono's pattern, on both sides of every range boundary.
    #[test]
    fn utc_date_time_matches_chronos_rendering() {
        let chrono_says = |ts: i64| {
            chrono::DateTime::from_timestamp(ts, 0).map_or_else(String::new, |d| d.format("%Y%m%dT%H%M%SZ").to_string())
        };
        let year_0 = -62_167_219_200; // 0000-01-01T00:00:00Z
        let year_10000 = 253_402_300_800; // 10000-01-01T00:00:00Z
        for ts in [
            0,
            -1,
            1,
            868_898_400,
            951_782_400,
            4_102_444_799,
            year_0 - 1,
            year_0,
            year_10000 - 1,
            year_10000,
            i64::MIN,
            i64::MAX,
        ] {
            assert_eq!(utc_date_time(ts), chrono_says(ts), "{ts}");
        }
        // Years 0 to 9999 every 13 days at a moving second of the day, and around every
        // 29 February (and 1 March of the century years that have none).
        let mut ts = year_0;
        while ts < year_10000 {
            assert_eq!(utc_date_time(ts), chrono_says(ts), "{ts}");
            ts += 13 * 86_400 + 3_607;
        }
        for year in (0..10_000).step_by(4) {
            let march_1 = chrono::NaiveDate::from_ymd_opt(year, 3, 1).unwrap().and_hms_opt(0, 0, 0).unwrap();
            let march_1 = march_1.and_utc().timestamp();
            for ts in [march_1 - 86_400 - 1, march_1 - 1, march_1, march_1 + 86_399] {
                assert_eq!(utc_date_time(ts), chrono_says(ts), "{ts}");
            }
        }
        assert_eq!(utc_date_time(868_898_400), "19970714T164000Z");
        assert_eq!(utc_date_time(951_782_400), "20000229T000000Z");
        assert_eq!(utc_date_time(i64::MAX), "");
    }

    fn local(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y%m%dT%H%M%S").unwrap()
    }

    fn ny(s: &str) -> CalTime {
        CalTime {
            local: local(s),
            zone: Zone::Iana(New_York),
            is_date: false,
        }
    }

    #[test]
    fn gap_time_means_after_the_gap_rfc5545_3_3_5() {
        // 2007-03-11 02:30 does not exist in New York: it is 03:30 EDT = 07:30Z.
        assert_eq!(ny("20070311T023000").utc(), Some(1_173_598_200));
        assert_eq!(ny("20070311T033000").utc(), Some(1_173_598_200));
        assert!(!exists_in(New_York, local("20070311T023000")));
    }

    #[test]
    fn exact_length_into_the_repeated_hour_keeps_the_instant() {
        // 01:30 EDT (05:30Z) + PT30M = 06:00Z, which New York's clock reads as the second 01:00;
        // as a wall-clock value it would mean the first 01:00 (05:00Z), before the start.
        let end = ny("20071104T013000").plus(Length::exact(1800));
        assert_eq!(end.utc(), Some(1_194_156_000));
        // Outside an overlap the value stays on the zone's wall clock.
        assert_eq!(ny("20071105T013000").plus(Length::exact(1800)), ny("20071105T020000"));
    }

    #[test]
    fn repeated_time_means_the_first_occurrence_rfc5545_3_3_5() {
        // 2007-11-04 01:30 happens twice; the first is EDT (05:30Z), not EST (06:30Z).
        assert_eq!(ny("20071104T013000").utc(), Some(1_194_154_200));
    }

    #[test]
    fn floating_and_dates_span_every_offset() {
        let floating = CalTime {
            local: local("20240101T000000"),
            zone: Zone::Floating,
            is_date: false,
        };
        assert_eq!(floating.utc(), None);
        assert_eq!(
            floating.span(),
            Span {
                earliest: 1_704_067_200 - 50_400,
                latest: 1_704_067_200 + 43_200
            }
        );
        let date = CalTime::date(NaiveDate::from_ymd_opt(2024, 1, 1).unwrap());
        assert_eq!(date.span(), floating.span());
        assert_eq!(date.face(), 1_704_067_200);
    }

    #[test]
    fn floating_values_resolve_in_the_calendar_zone_at_query_time() {
        let floating = CalTime {
            local: local("20240701T100000"),
            zone: Zone::Floating,
            is_date: false,
        };
        assert_eq!(floating.utc_in(chrono_tz::Europe::Paris), 1_719_820_800); // 08:00Z
        assert_eq!(floating.utc_in(New_York), 1_719_842_400); // 14:00Z
        let date = CalTime::date(NaiveDate::from_ymd_opt(2024, 7, 1).unwrap());
        assert_eq!(date.utc_in(New_York), 1_719_806_400); // 04:00Z
        assert_eq!(
            ny("20240701T100000").utc_in(chrono_tz::Europe::Paris),
            1_719_842_400
        );
    }

    #[test]
    fn fixed_offset_is_honoured() {
        let t = CalTime {
            local: local("20240101T010000"),
            zone: Zone::Fixed(chrono::FixedOffset::east_opt(3600).unwrap()),
            is_date: false,
        };
        assert_eq!(t.utc(), Some(1_704_067_200));
    }

    #[test]
    fn nominal_day_keeps_wall_clock_across_dst_rfc5545_3_3_6() {
        // P1D from 2007-03-10 12:00 EST lands on 2007-03-11 12:00 EDT: 23 hours later.
        let start = ny("20070310T120000");
        let end = start.plus(Length::ONE_DAY);
        assert_eq!(end.local, local("20070311T120000"));
        assert_eq!(end.utc().unwrap() - start.utc().unwrap(), 23 * 3600);
        // PT24H is exact: 24 hours later, 13:00 EDT.
        let exact = start.plus(Length::exact(24 * 3600));
        assert_eq!(exact.local, local("20070311T130000"));
    }

    #[test]
    fn same_instant_compares_across_zones_but_not_floating_with_fixed() {
        let utc = CalTime {
            local: local("20060104T170000"),
            zone: Zone::Utc,
            is_date: false,
        };
        assert!(ny("20060104T120000").same_instant(&utc));
        let floating = CalTime {
            zone: Zone::Floating,
            ..utc
        };
        assert!(!floating.same_instant(&utc));
        assert!(floating.same_instant(&floating));
    }

    #[test]
    fn until_is_read_on_the_start_wall_clock() {
        let until = CalTime {
            local: local("20060106T170000"),
            zone: Zone::Utc,
            is_date: false,
        };
        assert_eq!(
            until.wall_clock_in(&ny("20060102T120000")),
            local("20060106T120000")
        );
        let floating = CalTime {
            zone: Zone::Floating,
            ..ny("20060102T120000")
        };
        assert_eq!(until.wall_clock_in(&floating), local("20060107T070000"));
        let date = CalTime::date(NaiveDate::from_ymd_opt(2006, 1, 6).unwrap());
        assert_eq!(date.wall_clock_in(&floating), local("20060106T235959"));
    }

    #[test]
    fn displays_values_as_written() {
        let at = local("20240101T100000");
        let fixed = chrono::FixedOffset::west_opt(5 * 3600 + 30 * 60).unwrap();
        let shown: Vec<String> = [
            CalTime::date(at.date()),
            CalTime {
                local: at,
                zone: Zone::Floating,
                is_date: false,
            },
            CalTime {
                local: at,
                zone: Zone::Utc,
                is_date: false,
            },
            CalTime {
                local: at,
                zone: Zone::Fixed(fixed),
                is_date: false,
            },
            ny("20240101T100000"),
        ]
        .iter()
        .map(ToString::to_string)
        .collect();
        let expected = [
            "20240101",
            "20240101T100000",
            "20240101T100000Z",
            "20240101T100000-0530",
            "TZID=America/New_York:20240101T100000",
        ];
        assert_eq!(shown, expected);
    }

    #[test]
    fn huge_lengths_are_clamped_not_overflowing() {
        let len = Length::new(i64::MAX, i64::MAX);
        assert_eq!(len.days, MAX_LENGTH_DAYS);
        let t = ny("99991231T000000").plus(len);
        assert!(t.local > local("99991231T000000"));
    }
}
