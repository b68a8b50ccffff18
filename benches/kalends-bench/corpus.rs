//! The seeded benchmark corpus: N events for one user over three years (2024–2026) in two
//! calendars, plus history before 2024 when scaled, and the answer every measured operation must
//! give, computed from what was generated and never from a server.
//!
//! The expected answers come from this file's own expansion of the rules it wrote (weekly BYDAY
//! with COUNT or UNTIL, unbounded weekly, daily, monthly, yearly all-day, EXDATEs and
//! RECURRENCE-ID overrides), in UTC through chrono-tz, so a server that returns more or fewer
//! objects than overlap a window is reported wrong rather than fast.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use chrono_tz::Tz;

/// 2024-01-01T00:00:00Z: where the three recent years start.
pub const RECENT_START: i64 = 1_704_067_200;
/// 2024-01-01 … 2026-12-31.
pub const RECENT_DAYS: i64 = 1096;
/// Instances of unbounded rules are listed up to here (2027-07-01), past every window asked.
const HORIZON: i64 = 1_814_400_000;
/// Days kept free between history and 2024, longer than any history series lasts (a yearly
/// rule with COUNT=3 spans 731 days), so history never reaches a recent window.
const HISTORY_MARGIN_DAYS: i64 = 800;
/// The middle of a dense corpus's days: the calendar-query row's week (ops::WEEK).
const DENSE_CENTRE: i64 = 1_772_755_200; // 2026-03-06
/// The calendars the corpus fills (event i goes to calendar i % 2).
pub const CALENDARS: [&str; 2] = ["bench-a", "bench-b"];

/// One generated calendar object resource.
#[derive(Debug, Clone)]
pub struct Event {
    pub uid: String,
    /// Resource name inside its calendar.
    pub name: String,
    /// Index into [`CALENDARS`].
    pub calendar: usize,
    pub ics: String,
    /// Every instance as [start, end) in UTC seconds, overrides applied, EXDATEs removed,
    /// unbounded rules cut at the horizon.
    pub instances: Vec<(i64, i64)>,
    /// TRANSP:TRANSPARENT (all-day events), so not busy time.
    pub transparent: bool,
}

/// The generated corpus and what it holds.
#[derive(Debug)]
pub struct Corpus {
    pub seed: u64,
    /// Events in the recent three years (the density).
    pub recent: usize,
    /// Days the recent events are spread over (`RECENT_DAYS`, or fewer for a denser corpus).
    pub span_days: i64,
    pub events: Vec<Event>,
}

/// What the corpus holds, for the report.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Mix {
    pub recurring: usize,
    pub unbounded: usize,
    pub exdates: usize,
    pub overrides: usize,
    pub berlin: usize,
    pub new_york: usize,
    pub utc: usize,
    pub all_day: usize,
    pub attendees: usize,
    pub alarms: usize,
    pub folded: usize,
}

impl Corpus {
    /// `recent` events in 2024–2026; `total - recent` more before 2024 at the same density.
    /// The first `recent` events are the same for every `total`, so two corpora of one seed
    /// differ only in history.
    ///
    /// `span_days` below `RECENT_DAYS` packs the recent events into that many days around
    /// `DENSE_CENTRE` (inside 2024–2026, so every window asked lies in them): the same events,
    /// more of them in each week.
    pub fn generate(seed: u64, recent: usize, total: usize, span_days: i64) -> Corpus {
        let total = total.max(recent);
        let span_days = span_days.clamp(7, RECENT_DAYS);
        let history_days = if recent == 0 {
            0
        } else {
            i64::try_from((total - recent) as u128 * span_days as u128 / recent as u128).unwrap_or(i64::MAX / 4)
        };
        let first_day = (DENSE_CENTRE / 86_400 - span_days / 2).clamp(RECENT_START / 86_400, RECENT_START / 86_400 + RECENT_DAYS - span_days);
        let place = Place { first_day, span_days, history_days: history_days.max(1) };
        let events = (0..total).map(|i| generate_event(seed, i, i >= recent, &place)).collect();
        Corpus { seed, recent, span_days, events }
    }

    /// The events of one calendar.
    pub fn in_calendar(&self, calendar: usize) -> impl Iterator<Item = &Event> {
        self.events.iter().filter(move |e| e.calendar == calendar)
    }

    /// How many objects of `calendar` have an instance overlapping [start, end) (RFC 4791
    /// §9.9 for events with an end: start < window end and end > window start).
    pub fn expected_in_range(&self, calendar: usize, start: i64, end: i64) -> usize {
        self.in_calendar(calendar).filter(|e| e.instances.iter().any(|&(s, e)| s < end && e > start)).count()
    }

    /// Seconds of busy time in [start, end) of `calendar`: the union of the opaque instances,
    /// cut to the window. Compared with the union of a free-busy answer's periods, so it does
    /// not matter how a server splits or merges them.
    pub fn expected_busy_seconds(&self, calendar: usize, start: i64, end: i64) -> i64 {
        let spans = self
            .in_calendar(calendar)
            .filter(|e| !e.transparent)
            .flat_map(|e| e.instances.iter().copied())
            .filter(|&(s, e)| s < end && e > start)
            .map(|(s, e)| (s.max(start), e.min(end)))
            .collect();
        union_seconds(spans)
    }

    /// Checks what the generator promises about its own output: every line at most 75 octets
    /// (folded), CRLF endings, one UID per object, instances in order. Returns the first fault.
    pub fn self_check(&self) -> Result<(), String> {
        let mut uids = std::collections::HashSet::new();
        for e in &self.events {
            if !uids.insert(e.uid.as_str()) {
                return Err(format!("{}: UID used twice", e.uid));
            }
            if e.ics.replace("\r\n", "").contains('\n') {
                return Err(format!("{}: a bare LF", e.uid));
            }
            if let Some(line) = e.ics.split("\r\n").find(|l| l.len() > 75) {
                return Err(format!("{}: unfolded line {line:?}", e.uid));
            }
            if e.instances.is_empty() || e.instances.iter().any(|&(s, end)| end <= s) {
                return Err(format!("{}: no instances or an empty one", e.uid));
            }
        }
        Ok(())
    }

    pub fn mix(&self) -> Mix {
        let mut m = Mix::default();
        for e in &self.events {
            // The events only: VTIMEZONE has RRULEs and DTSTARTs of its own.
            let ics = e.ics.find("BEGIN:VEVENT").map_or(e.ics.as_str(), |at| &e.ics[at..]);
            m.recurring += usize::from(ics.contains("RRULE:"));
            m.unbounded += usize::from(ics.lines().any(|l| l.starts_with("RRULE:") && !l.contains("COUNT=") && !l.contains("UNTIL=")));
            m.exdates += usize::from(ics.contains("\r\nEXDATE"));
            m.overrides += usize::from(ics.contains("\r\nRECURRENCE-ID"));
            m.berlin += usize::from(ics.contains("DTSTART;TZID=Europe/Berlin"));
            m.new_york += usize::from(ics.contains("DTSTART;TZID=America/New_York"));
            m.utc += usize::from(ics.lines().any(|l| l.starts_with("DTSTART:") && l.ends_with('Z')));
            m.all_day += usize::from(ics.contains("DTSTART;VALUE=DATE:"));
            m.attendees += usize::from(ics.contains("\r\nATTENDEE"));
            m.alarms += usize::from(ics.contains("BEGIN:VALARM"));
            m.folded += usize::from(ics.contains("\r\n "));
        }
        m
    }
}

/// Length of the union of `spans`.
pub fn union_seconds(mut spans: Vec<(i64, i64)>) -> i64 {
    spans.sort_unstable();
    let mut total = 0;
    let mut current: Option<(i64, i64)> = None;
    for (s, e) in spans {
        match current {
            Some((cs, ce)) if s <= ce => current = Some((cs, ce.max(e))),
            Some((cs, ce)) => {
                total += ce - cs;
                current = Some((s, e));
            }
            None => current = Some((s, e)),
        }
    }
    total + current.map_or(0, |(s, e)| e - s)
}

/// Where the PUT operation's events start: 2100-01-01, past every window asked, including a feed
/// link's (two years ahead of the real today). In 2027 they fell into the feed window, so the
/// feed rows, which come after the PUT rows, measured a calendar grown by however many PUTs the
/// engine had managed (87,000 events on SQLite after group commit, 21,000 on PostgreSQL).
const PUT_START: i64 = 4_102_444_800;

/// A new event for the PUT operation: `k`-th of its run, in 2100 so it lands in no window.
pub fn put_event(seed: u64, k: usize) -> (String, String) {
    let uid = format!("put{seed}-{k}@bench.kalends");
    let start = PUT_START + (k as i64 % 5000) * 600;
    let ics = format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Kalends//kalends-bench//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\n\
         DTSTAMP:20240101T000000Z\r\nDTSTART:{}\r\nDTEND:{}\r\nSUMMARY:Neuer Termin {k} – ünïcödé\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        utc_stamp(start),
        utc_stamp(start + 1800)
    );
    (format!("put{seed}-{k}.ics"), ics)
}

/// The `k`-th invitation: a new event the bench user organizes with every invitee attending
/// (on Kalends each one gets a copy and an inbox message before the PUT returns).
#[allow(dead_code)] // The query_scaling example shares this file and invites nobody.
pub fn invite_event(seed: u64, k: usize, organizer: &str, invitees: &[String]) -> (String, String) {
    let (name, ics) = put_event(seed + 1, k);
    let mut people = format!("ORGANIZER;CN=Bencher:mailto:{organizer}\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:{organizer}\r\n");
    for invitee in invitees {
        people.push_str(&format!("ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:{invitee}\r\n"));
    }
    (format!("invite-{name}"), ics.replace("END:VEVENT\r\n", &format!("{people}END:VEVENT\r\n")))
}

/// splitmix64: small, fast and the same on every machine.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in 0..n (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() % items.len() as u64) as usize]
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Zone {
    Utc,
    Berlin,
    NewYork,
    AllDay,
}

impl Zone {
    fn tz(self) -> Option<Tz> {
        match self {
            Zone::Berlin => Some(chrono_tz::Europe::Berlin),
            Zone::NewYork => Some(chrono_tz::America::New_York),
            Zone::Utc | Zone::AllDay => None,
        }
    }

    fn tzid(self) -> Option<&'static str> {
        match self {
            Zone::Berlin => Some("Europe/Berlin"),
            Zone::NewYork => Some("America/New_York"),
            Zone::Utc | Zone::AllDay => None,
        }
    }
}

#[derive(Clone, PartialEq, Eq)]
enum End {
    Count(u32),
    /// UTC seconds; instances starting at or before it are in.
    Until(i64),
    Unbounded,
}

#[derive(Clone, PartialEq, Eq)]
enum Rule {
    Once,
    /// Days as 0 = Monday; DTSTART's weekday is always one of them.
    WeeklyByDay(Vec<u32>, End),
    Weekly(End),
    Daily(u32),
    Monthly(u32),
    Yearly(End),
}

const SUMMARIES: [&str; 10] = [
    "Réunion d'équipe",
    "Standup",
    "Zahnarzt – Kontrolle",
    "Mittagessen mit Jürgen",
    "Revisión del presupuesto",
    "会議: 四半期レビュー",
    "Kaffee ☕ und Kuchen",
    "Planning, sprint; retro",
    "Встреча с клиентом",
    "Yoga 🧘",
];
const LOCATIONS: [&str; 5] = ["Raum 3.14, Gebäude B", "Café Ünter den Linden", "Zoom", "東京オフィス", "Salle Étoile; 2e étage"];
const PEOPLE: [(&str, &str); 6] = [
    ("Jürgen Müller", "juergen@example.org"),
    ("Zoë Ångström", "zoe@example.org"),
    ("José Núñez", "jose@example.org"),
    ("Ōta Hanako", "hanako@example.org"),
    ("Françoise d'Aubigné", "francoise@example.org"),
    ("Bob Smith", "bob@example.org"),
];

/// Where the generated events' days lie.
struct Place {
    first_day: i64,
    span_days: i64,
    history_days: i64,
}

fn generate_event(seed: u64, i: usize, history: bool, place: &Place) -> Event {
    let mut r = Rng::new(seed ^ (i as u64).wrapping_mul(0xA24B_AED4_963E_E407));
    let recent_day0 = RECENT_START / 86_400;
    let day = if history {
        recent_day0 - HISTORY_MARGIN_DAYS - 1 - r.below(place.history_days as u64) as i64
    } else {
        place.first_day + r.below(place.span_days as u64) as i64
    };
    let mut zone = match r.below(100) {
        0..=9 => Zone::AllDay,
        10..=39 => Zone::Berlin,
        40..=59 => Zone::NewYork,
        _ => Zone::Utc,
    };
    // History stays out of America/New_York: its VTIMEZONE describes the rules since 2007.
    if history && zone == Zone::NewYork {
        zone = Zone::Utc;
    }
    let date = NaiveDate::from_num_days_from_ce_opt(i32::try_from(day + 719_163).unwrap_or(0)).unwrap_or_default();
    let time = NaiveTime::from_hms_opt(7 + r.below(12) as u32, 15 * r.below(4) as u32, 0).unwrap_or_default();
    let minutes = *r.pick(&[30i64, 45, 60, 90, 120]);
    let rule = match r.below(100) {
        0..=3 => Rule::WeeklyByDay(by_days(&mut r, date), End::Count(6 + r.below(20) as u32)),
        4..=6 => {
            let weeks = 4 + r.below(22) as i64;
            let until_day = (date + Duration::days(weeks * 7)).and_hms_opt(23, 59, 59).unwrap_or_default();
            Rule::WeeklyByDay(by_days(&mut r, date), End::Until(until_day.and_utc().timestamp()))
        }
        7..=8 if history => Rule::Weekly(End::Count(10)),
        7..=8 => Rule::Weekly(End::Unbounded),
        9..=10 => Rule::Daily(3 + r.below(8) as u32),
        11..=12 => Rule::Monthly(6 + r.below(7) as u32),
        13..=14 if history => Rule::Yearly(End::Count(3)),
        13..=14 => Rule::Yearly(End::Unbounded),
        _ => Rule::Once,
    };
    // Yearly rules are birthdays (all-day); other rules recur at a time of day.
    let date = match rule {
        Rule::Monthly(_) => date.with_day(date.day().min(28)).unwrap_or(date),
        Rule::Yearly(_) if date.month() == 2 && date.day() == 29 => date.with_day(28).unwrap_or(date),
        _ => date,
    };
    if matches!(rule, Rule::Yearly(_)) {
        zone = Zone::AllDay;
    } else if zone == Zone::AllDay && rule != Rule::Once {
        zone = Zone::Utc;
    }
    let recurring = rule != Rule::Once && !matches!(rule, Rule::Yearly(_));
    let exdate = recurring && r.below(100) < 30;
    let moved = recurring && r.below(100) < 20;
    let attendees = r.below(100) < 25;
    let alarm = r.below(100) < 30;
    let summary = format!("{} #{i}", r.pick(&SUMMARIES));
    let location = (r.below(100) < 40).then(|| *r.pick(&LOCATIONS));
    let long_text = r.below(100) < 20;

    let local_start = NaiveDateTime::new(date, time);
    let starts = expand(&rule, zone, local_start);
    let len = if zone == Zone::AllDay { 86_400 } else { minutes * 60 };
    let exdate_at = exdate.then(|| starts.get(1).copied()).flatten();
    let moved_at = moved.then(|| starts.get(2).copied()).flatten();
    let mut instances = Vec::with_capacity(starts.len());
    for &(local, utc) in &starts {
        if Some((local, utc)) == exdate_at {
            continue;
        }
        if Some((local, utc)) == moved_at {
            let shifted = to_utc(zone, local + Duration::hours(25));
            instances.push((shifted, shifted + len));
        } else {
            instances.push((utc, utc + len));
        }
    }

    let uid = format!("b{seed}-{i}@bench.kalends");
    let name = format!("b{seed}-{i}.ics");
    let mut v = Vec::new();
    v.push("BEGIN:VEVENT".to_owned());
    v.push(format!("UID:{uid}"));
    v.push("DTSTAMP:20240101T000000Z".to_owned());
    v.push(format!("CREATED:{}", utc_stamp(RECENT_START - 86_400 * 30)));
    v.push(format!("DTSTART{}", value_of(zone, local_start)));
    if zone == Zone::AllDay {
        v.push(format!("DTEND{}", value_of(zone, local_start + Duration::days(1))));
    } else {
        v.push(format!("DTEND{}", value_of(zone, local_start + Duration::minutes(minutes))));
    }
    if let Some(rrule) = rrule_text(&rule) {
        v.push(rrule);
    }
    if let Some((local, _)) = exdate_at {
        v.push(format!("EXDATE{}", value_of(zone, local)));
    }
    v.push(format!("SUMMARY:{}", escape(&summary)));
    if let Some(loc) = location {
        v.push(format!("LOCATION:{}", escape(loc)));
    }
    if long_text {
        let text = format!(
            "Agenda:\n1. Rückblick auf die letzte Woche, offene Punkte; Entscheidungen\n2. Présentation des résultats, questions\n3. 次のステップ — {summary}"
        );
        v.push(format!("DESCRIPTION:{}", escape(&text)));
    }
    if zone == Zone::AllDay {
        v.push("TRANSP:TRANSPARENT".to_owned());
    }
    if attendees {
        v.push("ORGANIZER;CN=Bench Organizer:mailto:bench@example.org".to_owned());
        let n = 1 + r.below(3) as usize;
        let first = r.below(PEOPLE.len() as u64) as usize;
        for k in 0..n {
            let (cn, mail) = PEOPLE[(first + k) % PEOPLE.len()];
            v.push(format!("ATTENDEE;CN=\"{cn}\";ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:{mail}"));
        }
    }
    if alarm {
        v.extend(
            ["BEGIN:VALARM", "ACTION:DISPLAY", "DESCRIPTION:Erinnerung", "TRIGGER:-PT15M", "END:VALARM"].map(str::to_owned),
        );
    }
    v.push("END:VEVENT".to_owned());
    if let Some((local, _)) = moved_at {
        let shifted = local + Duration::hours(25);
        v.push("BEGIN:VEVENT".to_owned());
        v.push(format!("UID:{uid}"));
        v.push("DTSTAMP:20240101T000000Z".to_owned());
        v.push(format!("RECURRENCE-ID{}", value_of(zone, local)));
        v.push(format!("DTSTART{}", value_of(zone, shifted)));
        v.push(format!("DTEND{}", value_of(zone, shifted + Duration::minutes(minutes))));
        v.push(format!("SUMMARY:{}", escape(&format!("{summary} (verschoben)"))));
        v.push("END:VEVENT".to_owned());
    }

    let mut ics = String::with_capacity(2048);
    for line in ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Kalends//kalends-bench//EN", "CALSCALE:GREGORIAN"] {
        ics.push_str(line);
        ics.push_str("\r\n");
    }
    match zone {
        Zone::Berlin => ics.push_str(BERLIN),
        Zone::NewYork => ics.push_str(NEW_YORK),
        Zone::Utc | Zone::AllDay => {}
    }
    for line in &v {
        fold_into(&mut ics, line);
    }
    ics.push_str("END:VCALENDAR\r\n");
    Event { uid, name, calendar: i % 2, ics, instances, transparent: zone == Zone::AllDay }
}

/// DTSTART's weekday and one or two others, in week order.
fn by_days(r: &mut Rng, date: NaiveDate) -> Vec<u32> {
    let own = date.weekday().num_days_from_monday();
    let mut days = vec![own];
    for _ in 0..1 + r.below(2) {
        let d = r.below(5) as u32;
        if !days.contains(&d) {
            days.push(d);
        }
    }
    days.sort_unstable();
    days
}

/// The start of every instance as (local wall time, UTC seconds), in order, before EXDATEs.
fn expand(rule: &Rule, zone: Zone, start: NaiveDateTime) -> Vec<(NaiveDateTime, i64)> {
    let mut out = Vec::new();
    let push = |local: NaiveDateTime, end: &End, out: &mut Vec<(NaiveDateTime, i64)>| -> bool {
        let utc = to_utc(zone, local);
        let go_on = match *end {
            End::Count(n) => out.len() < n as usize,
            End::Until(until) => utc <= until,
            End::Unbounded => utc < HORIZON,
        };
        if go_on {
            out.push((local, utc));
        }
        go_on
    };
    match rule {
        Rule::Once => out.push((start, to_utc(zone, start))),
        Rule::WeeklyByDay(days, end) => {
            let monday = start.date() - Duration::days(i64::from(start.date().weekday().num_days_from_monday()));
            'weeks: for week in 0.. {
                for &d in days {
                    let date = monday + Duration::days(week * 7 + i64::from(d));
                    if date < start.date() {
                        continue;
                    }
                    if !push(NaiveDateTime::new(date, start.time()), end, &mut out) {
                        break 'weeks;
                    }
                }
            }
        }
        Rule::Weekly(end) => {
            for k in 0.. {
                if !push(start + Duration::days(7 * k), end, &mut out) {
                    break;
                }
            }
        }
        Rule::Daily(n) => {
            for k in 0..i64::from(*n) {
                push(start + Duration::days(k), &End::Unbounded, &mut out);
            }
        }
        Rule::Monthly(n) => {
            for k in 0..*n {
                let m0 = start.date().month0() + k;
                let date = NaiveDate::from_ymd_opt(start.date().year() + (m0 / 12) as i32, m0 % 12 + 1, start.date().day());
                if let Some(date) = date {
                    push(NaiveDateTime::new(date, start.time()), &End::Unbounded, &mut out);
                }
            }
        }
        Rule::Yearly(end) => {
            for k in 0.. {
                let Some(date) = start.date().with_year(start.date().year() + k) else { break };
                if !push(NaiveDateTime::new(date, start.time()), end, &mut out) {
                    break;
                }
            }
        }
    }
    out
}

fn to_utc(zone: Zone, local: NaiveDateTime) -> i64 {
    match zone.tz() {
        Some(tz) => tz.from_local_datetime(&local).earliest().map_or(local.and_utc().timestamp(), |t| t.timestamp()),
        // All-day dates are floating; UTC is what every server here assumes without a
        // calendar-timezone, and the query windows start at noon UTC so no offset of ±12 h
        // could move a date across their edges.
        None if zone == Zone::AllDay => local.date().and_hms_opt(0, 0, 0).unwrap_or_default().and_utc().timestamp(),
        None => local.and_utc().timestamp(),
    }
}

/// The parameter and value part of a DTSTART-like property for `zone`.
fn value_of(zone: Zone, local: NaiveDateTime) -> String {
    match zone {
        Zone::AllDay => format!(";VALUE=DATE:{}", local.format("%Y%m%d")),
        Zone::Utc => format!(":{}", local.format("%Y%m%dT%H%M%SZ")),
        _ => format!(";TZID={}:{}", zone.tzid().unwrap_or("UTC"), local.format("%Y%m%dT%H%M%S")),
    }
}

fn rrule_text(rule: &Rule) -> Option<String> {
    let end = |e: &End| match *e {
        End::Count(n) => format!(";COUNT={n}"),
        End::Until(t) => format!(";UNTIL={}", utc_stamp(t)),
        End::Unbounded => String::new(),
    };
    const DAYS: [&str; 7] = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"];
    Some(match rule {
        Rule::Once => return None,
        Rule::WeeklyByDay(days, e) => {
            let list: Vec<&str> = days.iter().map(|&d| DAYS[d as usize]).collect();
            format!("RRULE:FREQ=WEEKLY;BYDAY={}{}", list.join(","), end(e))
        }
        Rule::Weekly(e) => format!("RRULE:FREQ=WEEKLY{}", end(e)),
        Rule::Daily(n) => format!("RRULE:FREQ=DAILY;COUNT={n}"),
        Rule::Monthly(n) => format!("RRULE:FREQ=MONTHLY;COUNT={n}"),
        Rule::Yearly(e) => format!("RRULE:FREQ=YEARLY{}", end(e)),
    })
}

pub fn utc_stamp(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0).unwrap_or_default().format("%Y%m%dT%H%M%SZ").to_string()
}

/// RFC 5545 §3.3.11 TEXT escaping.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// Appends `line` folded at 75 octets (RFC 5545 §3.1), never inside a UTF-8 sequence: the
/// server's own folding, since how a line is folded is not what the corpus checks.
pub fn fold_into(out: &mut String, line: &str) {
    kalends::calendar::raw::push_folded(line, out);
}

const BERLIN: &str = "BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:DAYLIGHT\r\nDTSTART:19810329T020000\r\n\
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nTZNAME:CEST\r\nEND:DAYLIGHT\r\n\
BEGIN:STANDARD\r\nDTSTART:19961027T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nTZOFFSETFROM:+0200\r\n\
TZOFFSETTO:+0100\r\nTZNAME:CET\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n";

const NEW_YORK: &str = "BEGIN:VTIMEZONE\r\nTZID:America/New_York\r\nBEGIN:DAYLIGHT\r\nDTSTART:20070311T020000\r\n\
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU\r\nTZOFFSETFROM:-0500\r\nTZOFFSETTO:-0400\r\nTZNAME:EDT\r\nEND:DAYLIGHT\r\n\
BEGIN:STANDARD\r\nDTSTART:20071104T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU\r\nTZOFFSETFROM:-0400\r\n\
TZOFFSETTO:-0500\r\nTZNAME:EST\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n";
