//! Simple events from plain forms: new (title, calendar, start/end or all day, location,
//! description), edit and delete, each through the JSON API's event routes, so a write is a
//! CalDAV PUT's (validation, scheduling, reminders) and keeps every property the form does not
//! show. A recurring event opens read-only (decision 0028): the form edits one VEVENT, and
//! changing a series' times from it would move or drop its overrides.

use askama::Template;
use chrono::{NaiveDate, Utc};
use http::{Method, StatusCode};
use serde_json::{Value, json};

use super::api::{self, Calendar, Failure};
use super::event_form::{Errors, Fields, field_of};
use super::form::Form;
use super::page::{self, Chrome, seg};
use super::view::user_zone;
use super::WebContext;
use crate::api::event::{ApiEvent, EventInput};
use crate::dav::DavResponse;
use crate::service::sessions::Session;

pub struct Choice {
    pub id: String,
    pub name: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "event_form.html")]
struct FormPage {
    chrome: Chrome,
    action: String,
    /// The calendars to choose from (a new event), or empty (an edit stays in its calendar).
    choices: Vec<Choice>,
    calendar_name: String,
    f: Fields,
    errors: Errors,
    etag: String,
    zone: String,
    delete_link: Option<String>,
}

#[derive(Template)]
#[template(path = "event_view.html")]
struct ViewPage {
    chrome: Chrome,
    e: ApiEvent,
    calendar_name: String,
    note: String,
    delete_link: Option<String>,
}

fn text_or_null(s: &str) -> Value {
    if s.trim().is_empty() { Value::Null } else { Value::String(s.to_owned()) }
}

fn event_path(cal: &str, uid: &str) -> String {
    format!("calendars/{}/events/{}", seg(cal), seg(uid))
}

/// GET `/web/events/new?date=YYYY-MM-DD&calendar=id`.
pub async fn new_form(ctx: &WebContext<'_>, s: &Session, q: &Form) -> DavResponse {
    let cals = match api::calendars(ctx, s).await {
        Ok(c) => c,
        Err(f) => return page::error(ctx, s, f.status, &f.detail),
    };
    let zone = user_zone(&cals);
    let day = NaiveDate::parse_from_str(&q.text("date"), "%Y-%m-%d").unwrap_or_else(|_| Utc::now().with_timezone(&zone).date_naive());
    new_page(ctx, s, &cals, &q.text("calendar"), Fields::on(day), Errors::default(), StatusCode::OK)
}

fn new_page(ctx: &WebContext<'_>, s: &Session, cals: &[Calendar], chosen: &str, f: Fields, errors: Errors, status: StatusCode) -> DavResponse {
    let writable: Vec<&Calendar> = cals.iter().filter(|c| c.writable()).collect();
    if writable.is_empty() {
        return page::error(ctx, s, StatusCode::CONFLICT, "You have no calendar that takes events: create one on the Calendars page first.");
    }
    let chosen = writable.iter().find(|c| c.id == chosen).or_else(|| writable.iter().find(|c| c.id == "calendar")).or(writable.first()).map(|c| c.id.clone());
    let choices = writable.iter().map(|c| Choice { id: c.id.clone(), name: c.name.clone(), selected: Some(&c.id) == chosen.as_ref() }).collect();
    let chrome = Chrome::new(ctx, s, "calendar", "New event");
    let action = format!("{}events/new", chrome.root);
    let t = FormPage { chrome, action, choices, calendar_name: String::new(), f, errors, etag: String::new(), zone: user_zone(cals).name().to_owned(), delete_link: None };
    page::html_status(status, &t)
}

/// POST `/web/events/new`.
pub async fn create(ctx: &WebContext<'_>, s: &Session, form: &Form) -> DavResponse {
    let cals = match api::calendars(ctx, s).await {
        Ok(c) => c,
        Err(f) => return page::error(ctx, s, f.status, &f.detail),
    };
    let f = Fields::from_form(form);
    let cal = form.text("calendar");
    let refuse = |f: Fields, errors: Errors| new_page(ctx, s, &cals, &cal, f, errors, StatusCode::UNPROCESSABLE_ENTITY);
    if !cals.iter().any(|c| c.id == cal && c.writable()) {
        return refuse(f, Errors(vec![("calendar", "Choose one of your calendars.".into())]));
    }
    let times = match f.times() {
        Ok(t) => t,
        Err(e) => return refuse(f, e),
    };
    let zone = if times.all_day { Value::Null } else { Value::String(user_zone(&cals).name().to_owned()) };
    let body = json!({
        "title": f.title.trim(), "description": text_or_null(&f.description), "location": text_or_null(&f.location),
        "allDay": times.all_day, "start": times.start, "end": times.end, "timeZone": zone,
    });
    match api::raw(ctx, s, Method::POST, &format!("calendars/{}/events", seg(&cal)), None, Some(&body), None).await {
        Ok(_) => page::redirect(ctx, &format!("calendar?view=week&date={}", f.start_date.trim())),
        Err(e) => refuse(f, Errors(vec![(field_of(&e.detail), e.detail)])),
    }
}

/// The event and its calendar, as the API gives them.
async fn load(ctx: &WebContext<'_>, s: &Session, cal: &str, uid: &str) -> Result<(ApiEvent, Calendar), Failure> {
    let c: Calendar = api::call(ctx, s, Method::GET, &format!("calendars/{}", seg(cal)), None, None).await?;
    let e: ApiEvent = api::call(ctx, s, Method::GET, &event_path(cal, uid), None, None).await?;
    Ok((e, c))
}

/// Why the form cannot edit this event, if it cannot.
fn read_only(e: &ApiEvent, c: &Calendar) -> Option<String> {
    if !c.writable() {
        return Some(format!("The calendar “{}” is shared with you read-only.", c.name));
    }
    (!e.recurrence.is_empty()).then(|| {
        "This is a recurring event. The web page shows it but does not change it: edit the series or one occurrence in a calendar app. Deleting it here deletes every occurrence.".to_owned()
    })
}

/// An event being edited: its calendar's id as the URL has it, the event and the calendar.
struct Editing<'a> {
    cal: &'a str,
    e: &'a ApiEvent,
    c: &'a Calendar,
}

fn edit_page(ctx: &WebContext<'_>, s: &Session, ed: &Editing<'_>, f: Fields, errors: Errors, status: StatusCode) -> DavResponse {
    let Editing { cal, e, c } = *ed;
    let chrome = Chrome::new(ctx, s, "calendar", "Edit event");
    let action = format!("{}events/{}/{}", chrome.root, seg(cal), seg(&e.uid));
    let delete_link = Some(format!("{action}/delete"));
    let zone = e.time_zone.clone().unwrap_or_default();
    let t = FormPage { chrome, action, choices: Vec::new(), calendar_name: c.name.clone(), f, errors, etag: e.etag.clone(), zone, delete_link };
    page::html_status(status, &t)
}

/// GET `/web/events/{calendar}/{uid}`: the form, or the event read-only.
pub async fn edit_form(ctx: &WebContext<'_>, s: &Session, cal: &str, uid: &str) -> DavResponse {
    let (e, c) = match load(ctx, s, cal, uid).await {
        Ok(found) => found,
        Err(f) => return page::error(ctx, s, f.status, &f.detail),
    };
    if let Some(note) = read_only(&e, &c) {
        let chrome = Chrome::new(ctx, s, "calendar", if e.title.is_empty() { "Event" } else { &e.title });
        let delete_link = c.writable().then(|| format!("{}events/{}/{}/delete", chrome.root, seg(cal), seg(uid)));
        return page::html(&ViewPage { chrome, calendar_name: c.name.clone(), e, note, delete_link });
    }
    let f = Fields::of(&e);
    edit_page(ctx, s, &Editing { cal, e: &e, c: &c }, f, Errors::default(), StatusCode::OK)
}

/// POST `/web/events/{calendar}/{uid}`: the form's fields replace the event's; everything else
/// it holds stays (the API's update keeps unknown lines byte for byte). `If-Match` is the ETag
/// the form was made from, so a change made meanwhile elsewhere is not overwritten.
pub async fn update(ctx: &WebContext<'_>, s: &Session, cal: &str, uid: &str, form: &Form) -> DavResponse {
    let (e, c) = match load(ctx, s, cal, uid).await {
        Ok(found) => found,
        Err(f) => return page::error(ctx, s, f.status, &f.detail),
    };
    if let Some(note) = read_only(&e, &c) {
        return page::error(ctx, s, StatusCode::FORBIDDEN, &note);
    }
    let ed = Editing { cal, e: &e, c: &c };
    let f = Fields::from_form(form);
    let times = match f.times() {
        Ok(t) => t,
        Err(errors) => return edit_page(ctx, s, &ed, f, errors, StatusCode::UNPROCESSABLE_ENTITY),
    };
    let mut input = EventInput::from(e.clone());
    input.title = f.title.trim().to_owned();
    input.description = Some(f.description.clone()).filter(|d| !d.trim().is_empty());
    input.location = Some(f.location.clone()).filter(|l| !l.trim().is_empty());
    // An all-day event has no zone; a timed one keeps its own, or takes the user's.
    input.time_zone = if times.all_day {
        None
    } else if e.all_day {
        api::calendars(ctx, s).await.ok().map(|cals| user_zone(&cals).name().to_owned())
    } else {
        e.time_zone.clone()
    };
    (input.all_day, input.start, input.end) = (times.all_day, times.start, Some(times.end));
    let body = serde_json::to_value(&input).unwrap_or(Value::Null);
    match api::raw(ctx, s, Method::PUT, &event_path(cal, uid), None, Some(&body), Some(&form.text("etag"))).await {
        Ok(_) => page::redirect(ctx, &format!("calendar?view=week&date={}", f.start_date.trim())),
        Err(err) if err.status == StatusCode::PRECONDITION_FAILED => {
            let msg = "The event was changed elsewhere since this form was opened. Reload it to see the change.".to_owned();
            edit_page(ctx, s, &ed, f, Errors(vec![("form", msg)]), StatusCode::CONFLICT)
        }
        Err(err) => edit_page(ctx, s, &ed, f, Errors(vec![(field_of(&err.detail), err.detail)]), StatusCode::UNPROCESSABLE_ENTITY),
    }
}

/// GET `/web/events/{calendar}/{uid}/delete`: are you sure?
pub async fn confirm_delete(ctx: &WebContext<'_>, s: &Session, cal: &str, uid: &str) -> DavResponse {
    let (e, c) = match load(ctx, s, cal, uid).await {
        Ok(found) => found,
        Err(f) => return page::error(ctx, s, f.status, &f.detail),
    };
    if !c.writable() {
        return page::error(ctx, s, StatusCode::FORBIDDEN, &format!("The calendar “{}” is shared with you read-only.", c.name));
    }
    let chrome = Chrome::new(ctx, s, "calendar", "Delete event");
    let every = if e.recurrence.is_empty() { "" } else { " and every occurrence of it" };
    let question = format!("Delete “{}”{every} from “{}”?", e.title, c.name);
    let action = format!("{}events/{}/{}/delete", chrome.root, seg(cal), seg(uid));
    let back = format!("{}events/{}/{}", chrome.root, seg(cal), seg(uid));
    page::html(&super::calendars::ConfirmPage { chrome, question, action, back })
}

/// POST `/web/events/{calendar}/{uid}/delete`.
pub async fn delete(ctx: &WebContext<'_>, s: &Session, cal: &str, uid: &str, _form: &Form) -> DavResponse {
    match api::raw(ctx, s, Method::DELETE, &event_path(cal, uid), None, None, None).await {
        Ok(_) => page::redirect(ctx, "calendar"),
        Err(f) => page::error(ctx, s, f.status, &f.detail),
    }
}
