//! The "Feeds & shares" page: per calendar of the user's own, its feed links (create with a
//! mode and a label, rotate, revoke; decision 0022) and whom it is shared with (decision 0023,
//! the actions in `shares.rs`). Everything goes through the JSON API's feed and share routes
//! in process, so the owner-only rule, the validation and the wording are the API's. A link's
//! URL exists only in the answer that makes it (the server keeps the token's hash), so the
//! POST that creates or rotates one renders the page with the URL instead of redirecting.

use askama::Template;
use http::{Method, StatusCode};
use serde::Deserialize;
use serde_json::json;

use super::api::{self, Calendar, Failure};
use super::calendars::ConfirmPage;
use super::form::Form;
use super::page::{self, Chrome, seg};
use super::WebContext;
use crate::dav::DavResponse;
use crate::service::sessions::Session;

/// A feed link as the API lists it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FeedLink {
    pub id: i64,
    pub mode: String,
    pub label: String,
    pub created: String,
    pub last_used: Option<String>,
    pub previous_until: Option<String>,
}

/// A new or rotated link: the only answer with its path.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct IssuedLink {
    #[serde(flatten)]
    link: FeedLink,
    path: String,
    url: Option<String>,
}

/// One share as the API lists it.
#[derive(Debug, Clone, Deserialize)]
pub struct ShareRow {
    pub user: String,
    pub access: String,
    pub created: String,
}

impl FeedLink {
    /// What people call it: its label, else its number.
    pub fn name(&self) -> String {
        if self.label.trim().is_empty() { format!("link {}", self.id) } else { self.label.clone() }
    }
    pub fn shows(&self) -> &'static str {
        mode_text(&self.mode)
    }
}

impl ShareRow {
    pub fn access_text(&self) -> &'static str {
        match self.access.as_str() {
            "read-write" => "read and write",
            "free-busy" => "free/busy only",
            _ => "read only",
        }
    }
}

fn mode_text(mode: &str) -> &'static str {
    match mode {
        "masked" => "times only, titled “Busy”",
        "busy" => "busy periods only",
        _ => "the events",
    }
}

/// `2026-12-05T10:00:00Z` as `2026-12-05 10:00 UTC`.
pub fn when(rfc3339: &str) -> String {
    match (rfc3339.get(..10), rfc3339.get(11..16)) {
        (Some(day), Some(time)) => format!("{day} {time} UTC"),
        _ => rfc3339.to_owned(),
    }
}

/// A feed link as the page lists it.
pub struct FeedView {
    pub id: i64,
    pub name: String,
    pub shows: &'static str,
    pub created: String,
    pub last_used: String,
}

/// A share as the page lists it.
pub struct ShareView {
    pub user: String,
    /// The user name as a link segment.
    pub link: String,
    pub access: &'static str,
    pub since: String,
}

impl From<FeedLink> for FeedView {
    fn from(f: FeedLink) -> FeedView {
        FeedView {
            id: f.id,
            name: f.name(),
            shows: f.shows(),
            created: when(&f.created),
            last_used: f.last_used.as_deref().map_or_else(|| "never".to_owned(), when),
        }
    }
}

impl From<ShareRow> for ShareView {
    fn from(s: ShareRow) -> ShareView {
        ShareView { link: seg(&s.user), access: s.access_text(), since: when(&s.created), user: s.user }
    }
}

/// One calendar's part of the page.
pub struct Section {
    pub name: String,
    pub class: String,
    /// The calendar's id as a link segment.
    pub link: String,
    /// Whether it takes events (a task list has nothing a feed would show).
    pub events: bool,
    pub feeds: Vec<FeedView>,
    pub shares: Vec<ShareView>,
    /// A refused form of this calendar, with what was typed.
    pub feed_error: Option<String>,
    pub share_error: Option<String>,
    pub label: String,
    pub sharee: String,
}

/// A URL shown this once.
pub struct Issued {
    pub heading: String,
    pub url: String,
    pub webcal: String,
    pub note: String,
}

#[derive(Template)]
#[template(path = "feeds.html")]
struct FeedsPage {
    chrome: Chrome,
    sections: Vec<Section>,
    issued: Option<Issued>,
}

/// Which calendar's form was refused, and why, to show beside it.
pub enum Refused<'a> {
    Feed { calendar: &'a str, form: &'a Form, detail: String },
    Share { calendar: &'a str, form: &'a Form, detail: String },
}

/// The user's own calendars (only an owner publishes or shares one).
async fn owned(ctx: &WebContext<'_>, s: &Session) -> Result<Vec<Calendar>, Failure> {
    Ok(api::calendars(ctx, s).await?.into_iter().filter(|c| c.access == "owner").collect())
}

async fn section(ctx: &WebContext<'_>, s: &Session, cal: Calendar) -> Result<Section, Failure> {
    let base = format!("calendars/{}", seg(&cal.id));
    let feeds: Vec<FeedLink> = api::call(ctx, s, Method::GET, &format!("{base}/feeds"), None, None).await?;
    let shares: Vec<ShareRow> = api::call(ctx, s, Method::GET, &format!("{base}/shares"), None, None).await?;
    Ok(Section {
        class: cal.class(),
        link: seg(&cal.id),
        events: cal.components.iter().any(|c| c == "VEVENT"),
        name: cal.name,
        feeds: feeds.into_iter().map(FeedView::from).collect(),
        shares: shares.into_iter().map(ShareView::from).collect(),
        feed_error: None,
        share_error: None,
        label: String::new(),
        sharee: String::new(),
    })
}

/// The page, with a URL to show once or a refused form.
pub async fn render(ctx: &WebContext<'_>, s: &Session, status: StatusCode, issued: Option<Issued>, refused: Option<Refused<'_>>) -> DavResponse {
    let cals = match owned(ctx, s).await {
        Ok(c) => c,
        Err(f) => return page::error(ctx, s, f.status, &f.detail),
    };
    let mut sections = Vec::with_capacity(cals.len());
    for cal in cals {
        let id = cal.id.clone();
        let mut sec = match section(ctx, s, cal).await {
            Ok(sec) => sec,
            Err(f) => return page::error(ctx, s, f.status, &f.detail),
        };
        match &refused {
            Some(Refused::Feed { calendar, form, detail }) if *calendar == id => {
                sec.feed_error = Some(detail.clone());
                sec.label = form.text("label");
            }
            Some(Refused::Share { calendar, form, detail }) if *calendar == id => {
                sec.share_error = Some(detail.clone());
                sec.sharee = form.text("user");
            }
            _ => {}
        }
        sections.push(sec);
    }
    page::html_status(status, &FeedsPage { chrome: Chrome::new(ctx, s, "feeds", "Feeds & shares"), sections, issued })
}

/// GET `/web/feeds`.
pub async fn list(ctx: &WebContext<'_>, s: &Session) -> DavResponse {
    render(ctx, s, StatusCode::OK, None, None).await
}

/// The link's whole URL: the API's when a public URL is configured, else its path under the
/// address the browser reached (what a subscriber on the same network would use).
fn issued(ctx: &WebContext<'_>, link: IssuedLink, heading: String, note: String) -> Issued {
    let url = link.url.unwrap_or_else(|| format!("{}{}", ctx.origin, link.path));
    let webcal = crate::service::feeds::webcal_url(&url);
    Issued { heading, url, webcal, note }
}

/// POST `/web/feeds/{calendar}`: a new link with a mode and a label.
pub async fn create(ctx: &WebContext<'_>, s: &Session, calendar: &str, form: &Form) -> DavResponse {
    let mode = form.text("mode");
    let body = json!({ "mode": if mode.is_empty() { "full" } else { mode.as_str() }, "label": form.text("label").trim() });
    let path = format!("calendars/{}/feeds", seg(calendar));
    match api::call::<IssuedLink>(ctx, s, Method::POST, &path, None, Some(&body)).await {
        Ok(link) => {
            let heading = format!("New feed link “{}”", link.link.name());
            let note = format!("It shows {}.", link.link.shows());
            render(ctx, s, StatusCode::CREATED, Some(issued(ctx, link, heading, note)), None).await
        }
        Err(f) if f.status == StatusCode::BAD_REQUEST => {
            render(ctx, s, StatusCode::UNPROCESSABLE_ENTITY, None, Some(Refused::Feed { calendar, form, detail: f.detail })).await
        }
        Err(f) => page::error(ctx, s, f.status, &f.detail),
    }
}

/// POST `/web/feeds/{calendar}/{id}/rotate`: a new URL; the old one works for a day more.
pub async fn rotate(ctx: &WebContext<'_>, s: &Session, calendar: &str, id: &str) -> DavResponse {
    let path = format!("calendars/{}/feeds/{}/rotate", seg(calendar), seg(id));
    match api::call::<IssuedLink>(ctx, s, Method::POST, &path, None, None).await {
        Ok(link) => {
            let heading = format!("New URL for “{}”", link.link.name());
            let until = link.link.previous_until.as_deref().map(when).unwrap_or_default();
            let note = format!("The old URL keeps working until {until}, so subscribers can be moved to this one.");
            render(ctx, s, StatusCode::OK, Some(issued(ctx, link, heading, note)), None).await
        }
        Err(f) => page::error(ctx, s, f.status, &f.detail),
    }
}

/// The link `id` of the caller's calendar `calendar`, or the API's refusal.
async fn link_of(ctx: &WebContext<'_>, s: &Session, calendar: &str, id: &str) -> Result<FeedLink, Failure> {
    let links: Vec<FeedLink> = api::call(ctx, s, Method::GET, &format!("calendars/{}/feeds", seg(calendar)), None, None).await?;
    links
        .into_iter()
        .find(|l| l.id.to_string() == id)
        .ok_or_else(|| Failure { status: StatusCode::NOT_FOUND, detail: "There is no such feed link.".into() })
}

/// GET `/web/feeds/{calendar}/{id}/revoke`: are you sure?
pub async fn confirm_revoke(ctx: &WebContext<'_>, s: &Session, calendar: &str, id: &str) -> DavResponse {
    match link_of(ctx, s, calendar, id).await {
        Ok(link) => {
            let chrome = Chrome::new(ctx, s, "feeds", &format!("Revoke {}", link.name()));
            let question = format!("Revoke the feed link “{}”? Its URL stops working at once, for everyone who has it.", link.name());
            let action = format!("{}feeds/{}/{}/revoke", chrome.root, seg(calendar), link.id);
            let back = format!("{}feeds", chrome.root);
            page::html(&ConfirmPage { chrome, question, action, back })
        }
        Err(f) => page::error(ctx, s, f.status, &f.detail),
    }
}

/// POST `/web/feeds/{calendar}/{id}/revoke`.
pub async fn revoke(ctx: &WebContext<'_>, s: &Session, calendar: &str, id: &str) -> DavResponse {
    let path = format!("calendars/{}/feeds/{}", seg(calendar), seg(id));
    match api::raw(ctx, s, Method::DELETE, &path, None, None, None).await {
        Ok(_) => page::redirect(ctx, "feeds"),
        Err(f) => page::error(ctx, s, f.status, &f.detail),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn times_and_names_for_people() {
        assert_eq!(when("2026-12-05T10:07:00Z"), "2026-12-05 10:07 UTC");
        assert_eq!(when("garbage"), "garbage");
        let link = FeedLink { id: 7, mode: "busy".into(), label: " ".into(), created: String::new(), last_used: None, previous_until: None };
        assert_eq!((link.name().as_str(), link.shows()), ("link 7", "busy periods only"));
        assert_eq!(mode_text("full"), "the events");
    }
}
