//! Import of an .ics file with a progress bar and a per-event report, and export of a calendar
//! as one .ics. The page's script makes a job id, posts the file with it and polls
//! `import/{job}/progress`, answered from the job's store row (`service::import_jobs`), so the
//! poll may reach any node; without the script the post answers when done and shows the report.

use askama::Template;
use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use serde::Deserialize;

use super::api::{self, Calendar};
use super::form::Form;
use super::page::{self, Chrome};
use super::WebContext;
use crate::api::ApiContext;
use crate::dav::DavResponse;
use crate::dav::method::put::{acting_owner, write_limits};
use crate::service::import::ImportTarget;
use crate::service::import_jobs;
use crate::service::sessions::Session;

#[derive(Template)]
#[template(path = "import.html")]
struct FormPage {
    chrome: Chrome,
    choices: Vec<(String, String, bool)>,
    error: Option<String>,
}

fn writable(cals: Vec<Calendar>) -> Vec<Calendar> {
    cals.into_iter().filter(Calendar::writable).collect()
}

async fn form_with(ctx: &WebContext<'_>, s: &Session, chosen: &str, error: Option<String>, status: StatusCode) -> DavResponse {
    let cals = match api::calendars(ctx, s).await {
        Ok(c) => writable(c),
        Err(f) => return page::error(ctx, s, f.status, &f.detail),
    };
    let chosen = if cals.iter().any(|c| c.id == chosen) { chosen.to_owned() } else { "calendar".to_owned() };
    let choices = cals.into_iter().map(|c| { let sel = c.id == chosen; (c.id, c.name, sel) }).collect();
    page::html_status(status, &FormPage { chrome: Chrome::new(ctx, s, "import", "Import"), choices, error })
}

/// GET `/web/import?calendar=id`.
pub async fn form_page(ctx: &WebContext<'_>, s: &Session, q: &Form) -> DavResponse {
    form_with(ctx, s, &q.text("calendar"), None, StatusCode::OK).await
}

/// POST `/web/import` (multipart: calendar, file, and the page's job id when its script runs):
/// runs the import, then 303 to its report.
pub async fn run(ctx: &WebContext<'_>, s: &Session, form: &Form) -> DavResponse {
    let id = form.text("calendar");
    let data = form.get("file").unwrap_or_default();
    if data.is_empty() {
        return form_with(ctx, s, &id, Some("Choose an iCalendar (.ics) file to import.".into()), StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let job = Some(form.text("job")).filter(|j| !j.is_empty()).unwrap_or_else(import_jobs::new_id);
    let api_ctx = ApiContext { dav: ctx.dav, auth: ctx.auth };
    let c = match crate::api::calendar_for(&api_ctx, &s.principal, &id, true).await {
        Ok(c) => c,
        Err((status, detail)) => return form_with(ctx, s, &id, Some(detail), status).await,
    };
    // A read-write sharee imports as the owner: the owner's UIDs and quota (decision 0023).
    let (owner, collection) = acting_owner(&s.principal, &c);
    let limits = write_limits(ctx.dav);
    let target = ImportTarget { store: &ctx.dav.store, owner: &owner, collection: &collection, limits: &limits, alarm_wake: Some(&ctx.dav.alarm_wake) };
    match import_jobs::run(&target, s.principal.id, &job, &id, data).await {
        Ok(_) => page::redirect(ctx, &format!("import/{job}")),
        // A failure the job recorded is on its report page; one before the job began (a job id
        // in use) is told on the form.
        Err(e) => match import_jobs::get(&ctx.dav.store, s.principal.id, &job).await {
            Ok(Some(j)) if j.state == "failed" => page::redirect(ctx, &format!("import/{job}")),
            _ => {
                let (status, _, detail) = crate::error::problem_of(e);
                form_with(ctx, s, &id, Some(detail), status).await
            }
        },
    }
}

/// GET `/web/import/{job}/progress`: `{"done":…,"total":…,"state":"running|done|failed"}`.
pub async fn progress(ctx: &WebContext<'_>, s: &Session, job: &str) -> DavResponse {
    match import_jobs::get(&ctx.dav.store, s.principal.id, job).await {
        Ok(Some(j)) => {
            let body = serde_json::json!({ "done": j.done, "total": j.total, "state": j.state });
            let mut resp = http::Response::new(Bytes::from(body.to_string()));
            resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            page::secured(resp)
        }
        // The post may not have reached its node yet: nothing started, nothing done.
        Ok(None) => {
            let mut resp = http::Response::new(Bytes::from_static(br#"{"done":0,"total":0,"state":"running"}"#));
            resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            page::secured(resp)
        }
        Err(e) => {
            let (status, _, detail) = crate::error::problem_of(e);
            page::plain(status, &detail)
        }
    }
}

/// The service's report as stored in the job row (the fields shown).
#[derive(Debug, Default, Deserialize)]
struct Report {
    added: usize,
    updated: usize,
    unchanged: usize,
    items: Vec<Item>,
}

#[derive(Debug, Deserialize)]
struct Item {
    uid: String,
    outcome: String,
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Template)]
#[template(path = "import_report.html")]
struct ReportPage {
    chrome: Chrome,
    calendar: String,
    state: String,
    done: i64,
    total: i64,
    error: Option<String>,
    report: Report,
    skipped: usize,
}

/// GET `/web/import/{job}`: the report (or, while it runs, how far it got).
pub async fn report(ctx: &WebContext<'_>, s: &Session, job: &str) -> DavResponse {
    let j = match import_jobs::get(&ctx.dav.store, s.principal.id, job).await {
        Ok(Some(j)) => j,
        Ok(None) => return page::error(ctx, s, StatusCode::NOT_FOUND, "There is no such import."),
        Err(e) => return page::service_error(ctx, s, e),
    };
    let report: Report = j.report.as_deref().and_then(|r| serde_json::from_str(r).ok()).unwrap_or_default();
    let skipped = report.items.iter().filter(|i| i.outcome == "skipped").count();
    let t = ReportPage { chrome: Chrome::new(ctx, s, "import", "Import report"), calendar: j.calendar, state: j.state, done: j.done, total: j.total, error: j.error, report, skipped };
    page::html(&t)
}

/// GET `/web/calendars/{id}/export`: the calendar as one .ics download (`calendar::export`,
/// what a CalDAV GET of the collection answers).
pub async fn export(ctx: &WebContext<'_>, s: &Session, id: &str) -> DavResponse {
    let api_ctx = ApiContext { dav: ctx.dav, auth: ctx.auth };
    let c = match crate::api::calendar_for(&api_ctx, &s.principal, id, false).await {
        Ok(c) => c,
        Err((status, detail)) => return page::error(ctx, s, status, &detail),
    };
    let text = match ctx.dav.listing_permit().await {
        Ok(_permit) => crate::dav::method::get::export(ctx.dav, &c).await,
        Err(e) => Err(e),
    };
    match text {
        Ok(text) => {
            let mut resp = http::Response::new(Bytes::from(text));
            let h = resp.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/calendar; charset=utf-8"));
            let file = format!("attachment; filename=\"{}.ics\"", id.replace(|ch: char| !ch.is_ascii_alphanumeric() && ch != '-' && ch != '_', "_"));
            if let Ok(v) = HeaderValue::from_str(&file) {
                h.insert(header::CONTENT_DISPOSITION, v);
            }
            page::secured(resp)
        }
        Err(crate::dav::DavError::Service(e)) => page::service_error(ctx, s, e),
        Err(e) => {
            tracing::error!(error = %e, "web: an export failed");
            page::error(ctx, s, StatusCode::INTERNAL_SERVER_ERROR, "The export failed.")
        }
    }
}
