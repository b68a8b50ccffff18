//! The week and month views: the user's events across their own and shared calendars, in the
//! calendars' colours, from the JSON API's whole-schedule listing (`GET /calendar`, the
//! expansion the API's events list uses: recurring instances, all-day and timed). Timed events
//! show in the user's zone (their default calendar's), all-day ones on their own dates.

use std::collections::HashMap;
use std::str::FromStr;

use askama::Template;
use chrono::{NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use http::Method;
use serde::Deserialize;

use super::api::{self, Calendar};
use super::form::Form;
use super::grid::{self, Span};
use super::page::{self, Chrome, seg};
use super::WebContext;
use crate::dav::DavResponse;
use crate::service::sessions::Session;

/// One instance as `GET /api/v1/calendar` lists it (the fields shown).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Item {
    calendar: String,
    uid: String,
    title: String,
    start: String,
    end: Option<String>,
    all_day: bool,
}

/// An event on one day of the view.
pub struct EventView {
    pub title: String,
    pub time: String,
    pub class: String,
    pub href: String,
    /// Sorts all-day events first, then by start.
    key: (bool, NaiveDateTime),
}

pub struct DayView {
    pub date: String,
    pub label: String,
    pub num: String,
    pub today: bool,
    /// Outside the month being shown.
    pub other: bool,
    pub events: Vec<EventView>,
}

#[derive(Template)]
#[template(path = "view.html")]
struct ViewPage {
    chrome: Chrome,
    month: bool,
    heading: String,
    zone: String,
    prev: String,
    next: String,
    today: String,
    week_link: String,
    month_link: String,
    new_link: String,
    weeks: Vec<Vec<DayView>>,
}

/// The zone a calendar's id names, if it is an IANA one.
fn zone(name: Option<&str>) -> Option<Tz> {
    name.and_then(|n| Tz::from_str(n).ok())
}

/// The user's zone: their default calendar's (`calendar`), else their first own calendar's
/// with one, else UTC.
pub fn user_zone(cals: &[Calendar]) -> Tz {
    let own = || cals.iter().filter(|c| c.access == "owner");
    own().find(|c| c.id == "calendar").and_then(|c| zone(c.time_zone.as_deref()))
        .or_else(|| own().find_map(|c| zone(c.time_zone.as_deref())))
        .unwrap_or(chrono_tz::UTC)
}

fn utc(s: &str) -> Option<chrono::DateTime<Utc>> {
    NaiveDateTime::parse_from_str(s.trim_end_matches('Z'), "%Y-%m-%dT%H:%M:%S").ok().map(|t| t.and_utc())
}

/// Where the day `d` begins in `tz`, as an RFC 3339 instant: local midnight (the earlier one
/// when it happens twice), or 01:00 where a DST change skips midnight (Chile, until 2022
/// Brazil), or midnight UTC if the zone has neither.
fn midnight(tz: Tz, d: NaiveDate) -> String {
    let at = |h: u32| d.and_hms_opt(h, 0, 0).and_then(|local| tz.from_local_datetime(&local).earliest());
    let instant = at(0).or_else(|| at(1)).map_or_else(|| d.and_time(chrono::NaiveTime::MIN).and_utc(), |t| t.with_timezone(&Utc));
    instant.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Places each item on the days of the view it covers.
fn place(items: Vec<Item>, cals: &[Calendar], tz: Tz, root: &str, days: &mut HashMap<NaiveDate, Vec<EventView>>) {
    let zones: HashMap<&str, Tz> = cals.iter().map(|c| (c.id.as_str(), zone(c.time_zone.as_deref()).unwrap_or(chrono_tz::UTC))).collect();
    for it in items {
        let Some(start) = utc(&it.start) else { continue };
        let end = it.end.as_deref().and_then(utc);
        // An all-day instance's bounds are its dates' midnights in its calendar's zone.
        let shown_in = if it.all_day { zones.get(it.calendar.as_str()).copied().unwrap_or(chrono_tz::UTC) } else { tz };
        let (s, e) = (start.with_timezone(&shown_in).naive_local(), end.map(|e| e.with_timezone(&shown_in).naive_local()));
        let (first, last) = grid::covered(s, e, it.all_day);
        let time = if it.all_day {
            "All day".to_owned()
        } else {
            match e {
                Some(e) if e.date() == s.date() => format!("{}–{}", s.format("%H:%M"), e.format("%H:%M")),
                Some(e) => format!("{}–{}", s.format("%H:%M"), e.format("%-d %b %H:%M")),
                None => s.format("%H:%M").to_string(),
            }
        };
        let title = if it.title.trim().is_empty() { "(no title)".to_owned() } else { it.title.clone() };
        let href = format!("{root}events/{}/{}", seg(&it.calendar), seg(&it.uid));
        let class = api::colour_class(&it.calendar);
        let mut day = first;
        while day <= last {
            if let Some(list) = days.get_mut(&day) {
                list.push(EventView { title: title.clone(), time: time.clone(), class: class.clone(), href: href.clone(), key: (!it.all_day, s) });
            }
            let Some(next) = day.succ_opt() else { break };
            day = next;
        }
    }
}

/// GET `/web/calendar?view=week|month&date=YYYY-MM-DD`.
pub async fn show(ctx: &WebContext<'_>, s: &Session, q: &Form) -> DavResponse {
    let cals = match api::calendars(ctx, s).await {
        Ok(c) => c,
        Err(f) => return page::error(ctx, s, f.status, &f.detail),
    };
    let tz = user_zone(&cals);
    let today = Utc::now().with_timezone(&tz).date_naive();
    let span = Span::parse(&q.text("view"));
    let anchor = NaiveDate::parse_from_str(&q.text("date"), "%Y-%m-%d").unwrap_or(today);
    let (first, end) = grid::bounds(span, anchor);
    let query = format!("from={}&to={}", midnight(tz, first), midnight(tz, end));
    let items: Vec<Item> = match api::call(ctx, s, Method::GET, "calendar", Some(&query), None).await {
        Ok(items) => items,
        Err(f) => return page::error(ctx, s, f.status, &f.detail),
    };
    let root = page::web_root(ctx);
    let layout = grid::weeks(span, anchor);
    let mut days: HashMap<NaiveDate, Vec<EventView>> = layout.iter().flatten().map(|d| (*d, Vec::new())).collect();
    place(items, &cals, tz, &root, &mut days);
    let month = span == Span::Month;
    let weeks = layout
        .iter()
        .map(|w| {
            w.iter()
                .map(|d| {
                    let mut events = days.remove(d).unwrap_or_default();
                    events.sort_by(|a, b| a.key.cmp(&b.key).then_with(|| a.title.cmp(&b.title)));
                    DayView {
                        date: d.format("%Y-%m-%d").to_string(),
                        label: d.format("%a %-d %b").to_string(),
                        num: d.format("%-d").to_string(),
                        today: *d == today,
                        other: month && chrono::Datelike::month(d) != chrono::Datelike::month(&anchor),
                        events,
                    }
                })
                .collect()
        })
        .collect();
    let link = |span: Span, d: NaiveDate| format!("{root}calendar?view={}&date={}", span.as_str(), d.format("%Y-%m-%d"));
    let t = ViewPage {
        chrome: Chrome::new(ctx, s, "calendar", "Calendar"),
        month,
        heading: grid::title(span, anchor),
        zone: tz.name().to_owned(),
        prev: link(span, grid::step(span, anchor, -1)),
        next: link(span, grid::step(span, anchor, 1)),
        today: link(span, today),
        week_link: link(Span::Week, anchor),
        month_link: link(Span::Month, anchor),
        new_link: format!("{root}events/new?date={}", anchor.format("%Y-%m-%d")),
        weeks,
    };
    page::html(&t)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn cal(id: &str, zone: Option<&str>, access: &str) -> Calendar {
        Calendar {
            id: id.into(),
            name: id.into(),
            color: None,
            time_zone: zone.map(str::to_owned),
            components: vec!["VEVENT".into()],
            owner: "alice".into(),
            access: access.into(),
        }
    }

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn the_users_zone_is_their_default_calendars() {
        let cals = [cal("shared-x", Some("Asia/Tokyo"), "read"), cal("work", Some("America/New_York"), "owner"), cal("calendar", Some("Europe/Berlin"), "owner")];
        assert_eq!(user_zone(&cals), chrono_tz::Europe::Berlin);
        assert_eq!(user_zone(&cals[..2]), chrono_tz::America::New_York);
        assert_eq!(user_zone(&cals[..1]), chrono_tz::UTC, "a shared calendar's zone is its owner's, not the user's");
    }

    #[test]
    fn a_view_starts_at_local_midnight() {
        assert_eq!(midnight(chrono_tz::Europe::Berlin, d("2026-12-07")), "2026-12-06T23:00:00Z");
        assert_eq!(midnight(chrono_tz::Europe::Berlin, d("2026-07-06")), "2026-07-05T22:00:00Z");
        // Santiago's clocks go from 00:00 (-04) to 01:00 (-03) on 6 September 2026: the day
        // begins at 01:00, and the day before it at its own midnight.
        assert_eq!(midnight(chrono_tz::America::Santiago, d("2026-09-06")), "2026-09-06T04:00:00Z");
        assert_eq!(midnight(chrono_tz::America::Santiago, d("2026-09-05")), "2026-09-05T04:00:00Z");
    }

    #[test]
    fn instances_land_on_their_days_in_the_right_zone() {
        let cals = [cal("calendar", Some("Europe/Berlin"), "owner")];
        let tz = user_zone(&cals);
        let days_of = |items: Vec<Item>| {
            let mut days: HashMap<NaiveDate, Vec<EventView>> = (7..=13).map(|n| (d(&format!("2026-12-{n:02}")), Vec::new())).collect();
            place(items, &cals, tz, "/web/", &mut days);
            let mut out: Vec<(NaiveDate, String, String)> =
                days.into_iter().flat_map(|(day, evs)| evs.into_iter().map(move |e| (day, e.title, e.time))).collect();
            out.sort();
            out
        };
        let item = |title: &str, start: &str, end: &str, all_day: bool| Item {
            calendar: "calendar".into(),
            uid: title.into(),
            title: title.into(),
            start: start.into(),
            end: Some(end.into()),
            all_day,
        };
        // 23:30 UTC on the 8th is 00:30 on the 9th in Berlin; an overnight event shows on both days;
        // an all-day event's bounds are Berlin midnights; the 14th is outside the week.
        let out = days_of(vec![
            item("Late", "2026-12-08T23:30:00Z", "2026-12-09T00:30:00Z", false),
            item("Night", "2026-12-10T21:00:00Z", "2026-12-11T03:00:00Z", false),
            item("Off", "2026-12-11T23:00:00Z", "2026-12-12T23:00:00Z", true),
            item("Next week", "2026-12-14T09:00:00Z", "2026-12-14T10:00:00Z", false),
        ]);
        assert_eq!(
            out,
            vec![
                (d("2026-12-09"), "Late".into(), "00:30–01:30".into()),
                (d("2026-12-10"), "Night".into(), "22:00–11 Dec 04:00".into()),
                (d("2026-12-11"), "Night".into(), "22:00–11 Dec 04:00".into()),
                (d("2026-12-12"), "Off".into(), "All day".into()),
            ]
        );
    }
}
