//! The event form's fields ↔ the API's event, pure: what the form shows for an event, and the
//! checked start/end (with the error to show beside each field) of what was posted.

use chrono::{Days, NaiveDate, NaiveTime};

use super::form::Form;
use crate::api::event::ApiEvent;

/// The form's values as shown (and shown again, with errors, after a refused post).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fields {
    pub title: String,
    pub all_day: bool,
    pub start_date: String,
    pub start_time: String,
    pub end_date: String,
    pub end_time: String,
    pub location: String,
    pub description: String,
}

/// Errors by field name, shown beside the field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Errors(pub Vec<(&'static str, String)>);

impl Errors {
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.iter().find(|(f, _)| *f == field).map(|(_, m)| m.as_str())
    }
    pub fn has(&self, field: &str) -> bool {
        self.get(field).is_some()
    }
}

/// Start and end as the API's event takes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Times {
    pub all_day: bool,
    pub start: String,
    pub end: String,
}

impl Fields {
    pub fn from_form(f: &Form) -> Fields {
        Fields {
            title: f.text("title"),
            all_day: f.checked("all_day"),
            start_date: f.text("start_date"),
            start_time: f.text("start_time"),
            end_date: f.text("end_date"),
            end_time: f.text("end_time"),
            location: f.text("location"),
            description: f.text("description"),
        }
    }

    /// A new event's form on `day`: 09:00 to 10:00.
    pub fn on(day: NaiveDate) -> Fields {
        let d = day.format("%Y-%m-%d").to_string();
        Fields { start_date: d.clone(), end_date: d, start_time: "09:00".into(), end_time: "10:00".into(), ..Fields::default() }
    }

    /// The form for a stored event: its wall-clock times in its own zone; an all-day event's
    /// exclusive end shown as the last day (RFC 5545 §3.6.1).
    pub fn of(e: &ApiEvent) -> Fields {
        let split = |s: &str| -> (String, String) {
            match s.split_once('T') {
                Some((d, t)) => (d.to_owned(), t.chars().take(5).collect()),
                None => (s.to_owned(), String::new()),
            }
        };
        let (start_date, start_time) = split(&e.start);
        let (mut end_date, end_time) = e.end.as_deref().map(split).unwrap_or_else(|| (start_date.clone(), start_time.clone()));
        if e.all_day
            && let Ok(d) = NaiveDate::parse_from_str(&end_date, "%Y-%m-%d")
            && let Some(last) = d.pred_opt()
        {
            end_date = last.format("%Y-%m-%d").to_string().max(start_date.clone());
        }
        Fields {
            title: e.title.clone(),
            all_day: e.all_day,
            start_date,
            start_time,
            end_date,
            end_time,
            location: e.location.clone().unwrap_or_default(),
            description: e.description.clone().unwrap_or_default(),
        }
    }

    /// The checked times, or the errors to show.
    pub fn times(&self) -> Result<Times, Errors> {
        let mut errors = Vec::new();
        let date = |s: &str| NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok();
        let time = |s: &str| NaiveTime::parse_from_str(s.trim(), "%H:%M").or_else(|_| NaiveTime::parse_from_str(s.trim(), "%H:%M:%S")).ok();
        if self.title.trim().is_empty() {
            errors.push(("title", "Give the event a title.".to_owned()));
        }
        let start_date = date(&self.start_date);
        let end_date = if self.end_date.trim().is_empty() { start_date } else { date(&self.end_date) };
        if start_date.is_none() {
            errors.push(("start_date", "Enter the start date as YYYY-MM-DD.".to_owned()));
        }
        if end_date.is_none() {
            errors.push(("end_date", "Enter the end date as YYYY-MM-DD.".to_owned()));
        }
        let (start_time, end_time) = if self.all_day {
            (Some(NaiveTime::MIN), Some(NaiveTime::MIN))
        } else {
            let (s, e) = (time(&self.start_time), time(&self.end_time));
            if s.is_none() {
                errors.push(("start_time", "Enter the start time as HH:MM.".to_owned()));
            }
            if e.is_none() {
                errors.push(("end_time", "Enter the end time as HH:MM.".to_owned()));
            }
            (s, e)
        };
        let (Some(sd), Some(ed), Some(st), Some(et)) = (start_date, end_date, start_time, end_time) else {
            return Err(Errors(errors));
        };
        if self.all_day {
            if ed < sd {
                errors.push(("end_date", "The end cannot be before the start.".to_owned()));
            }
        } else if ed.and_time(et) <= sd.and_time(st) {
            errors.push(("end_time", "The end must be after the start.".to_owned()));
        }
        if !errors.is_empty() {
            return Err(Errors(errors));
        }
        Ok(if self.all_day {
            // DTEND of an all-day event is the day after its last (RFC 5545 §3.6.1).
            let end = ed.checked_add_days(Days::new(1)).unwrap_or(ed);
            Times { all_day: true, start: sd.format("%Y-%m-%d").to_string(), end: end.format("%Y-%m-%d").to_string() }
        } else {
            Times { all_day: false, start: sd.and_time(st).format("%Y-%m-%dT%H:%M:%S").to_string(), end: ed.and_time(et).format("%Y-%m-%dT%H:%M:%S").to_string() }
        })
    }
}

/// Where an API refusal of a write belongs on the form.
pub fn field_of(detail: &str) -> &'static str {
    let d = detail.to_ascii_lowercase();
    if d.contains("end") {
        "end_time"
    } else if d.contains("start") || d.contains("time zone") || d.contains("timezone") {
        "start_time"
    } else if d.contains("title") || d.contains("summary") {
        "title"
    } else {
        "form"
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn fields(all_day: bool, sd: &str, st: &str, ed: &str, et: &str) -> Fields {
        Fields { title: "T".into(), all_day, start_date: sd.into(), start_time: st.into(), end_date: ed.into(), end_time: et.into(), ..Fields::default() }
    }

    #[test]
    fn timed_and_all_day_times() {
        let t = fields(false, "2026-12-10", "10:00", "2026-12-10", "11:30").times().unwrap();
        assert_eq!((t.start.as_str(), t.end.as_str()), ("2026-12-10T10:00:00", "2026-12-10T11:30:00"));
        let t = fields(true, "2026-12-10", "", "2026-12-12", "").times().unwrap();
        assert_eq!((t.start.as_str(), t.end.as_str(), t.all_day), ("2026-12-10", "2026-12-13", true));
        // An empty end date is the start's.
        let t = fields(true, "2026-12-10", "", "", "").times().unwrap();
        assert_eq!(t.end, "2026-12-11");
    }

    #[test]
    fn errors_name_their_field() {
        let e = fields(false, "2026-12-10", "11:00", "2026-12-10", "10:00").times().unwrap_err();
        assert_eq!(e.get("end_time"), Some("The end must be after the start."));
        let e = fields(false, "10.12.2026", "25:00", "2026-12-10", "10:00").times().unwrap_err();
        assert!(e.has("start_date") && e.has("start_time"));
        let mut f = fields(true, "2026-12-10", "", "2026-12-09", "");
        f.title = "  ".into();
        let e = f.times().unwrap_err();
        assert!(e.has("title") && e.has("end_date"));
    }

    #[test]
    fn a_stored_all_day_event_shows_its_last_day() {
        let e: ApiEvent = serde_json::from_value(serde_json::json!({
            "uid": "u", "etag": "\"e\"", "title": "Trip", "description": null, "location": "Oslo", "status": null,
            "transparency": "opaque", "allDay": true, "start": "2026-12-10", "end": "2026-12-13", "timeZone": null,
            "recurrence": [], "organizer": null, "attendees": [], "alarms": [], "sequence": 0, "created": null, "lastModified": null
        }))
        .unwrap();
        let f = Fields::of(&e);
        assert_eq!((f.start_date.as_str(), f.end_date.as_str(), f.location.as_str()), ("2026-12-10", "2026-12-12", "Oslo"));
        let round = f.times().unwrap();
        assert_eq!(round.end, "2026-12-13");
    }
}
