//! The calendars page: each calendar with its colour, name and CalDAV URL to copy; create,
//! rename, recolour and delete (after a confirmation page), all through the JSON API's
//! calendar routes. Also `colors.css`, which gives each calendar's class its colour (the CSP
//! allows no inline style).

use askama::Template;
use bytes::Bytes;
use http::{HeaderValue, Method, StatusCode, header};
use serde_json::json;

use super::api::{self, Calendar, Failure};
use super::form::Form;
use super::page::{self, Chrome, seg};
use super::WebContext;
use crate::dav::DavResponse;
use crate::service::sessions::Session;

/// `#rgb`, `#rrggbb` or `#rrggbbaa` as `#rrggbb` (what `<input type=color>` takes), if valid.
pub fn hex_colour(c: Option<&str>) -> Option<String> {
    let c = c?.trim();
    let hex = c.strip_prefix('#')?;
    if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    match hex.len() {
        3 => Some(format!("#{}", hex.chars().flat_map(|ch| [ch, ch]).collect::<String>())),
        6 | 8 => Some(format!("#{}", &hex[..6])),
        _ => None,
    }
    .map(|s| s.to_ascii_lowercase())
}

/// GET `/web/colors.css`: one rule per calendar with a valid colour.
pub async fn colours(ctx: &WebContext<'_>, s: &Session) -> DavResponse {
    let cals = api::calendars(ctx, s).await.unwrap_or_default();
    let css: String = cals
        .iter()
        .filter_map(|c| hex_colour(c.color.as_deref()).map(|hex| format!(".{} {{ --cal: {hex}; }}\n", c.class())))
        .collect();
    let mut resp = http::Response::new(Bytes::from(css));
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8"));
    page::secured(resp)
}

/// A calendar row of the list.
struct Row {
    cal: Calendar,
    url: String,
    /// The id as a link segment.
    link: String,
}

#[derive(Template)]
#[template(path = "calendars.html")]
struct ListPage {
    chrome: Chrome,
    rows: Vec<Row>,
    name: String,
    colour: String,
    name_error: Option<String>,
    colour_error: Option<String>,
}

fn rows(ctx: &WebContext<'_>, s: &Session, cals: Vec<Calendar>) -> Vec<Row> {
    cals.into_iter()
        .map(|cal| {
            let url = format!("{}{}", ctx.origin, ctx.dav.paths.collection(&s.principal.name, &cal.id));
            let link = seg(&cal.id);
            Row { cal, url, link }
        })
        .collect()
}

async fn list_page(ctx: &WebContext<'_>, s: &Session, status: StatusCode, form: Option<(&Form, Failure)>) -> DavResponse {
    let cals = match api::calendars(ctx, s).await {
        Ok(c) => c,
        Err(f) => return page::error(ctx, s, f.status, &f.detail),
    };
    let (name, colour, err) = match form {
        Some((f, err)) => (f.text("name"), f.text("colour"), Some(err.detail)),
        None => (String::new(), "#3f6fd8".to_owned(), None),
    };
    // The API names the field it refused; anything else belongs to the name.
    let (colour_error, name_error) = match err {
        Some(e) if e.contains("color") => (Some(e), None),
        e => (None, e),
    };
    let t = ListPage { chrome: Chrome::new(ctx, s, "calendars", "Calendars"), rows: rows(ctx, s, cals), name, colour, name_error, colour_error };
    page::html_status(status, &t)
}

/// GET `/web/calendars`.
pub async fn list(ctx: &WebContext<'_>, s: &Session) -> DavResponse {
    list_page(ctx, s, StatusCode::OK, None).await
}

/// POST `/web/calendars`: a new calendar from a name and a colour.
pub async fn create(ctx: &WebContext<'_>, s: &Session, form: &Form) -> DavResponse {
    let name = form.text("name");
    if name.trim().is_empty() {
        let f = Failure { status: StatusCode::UNPROCESSABLE_ENTITY, detail: "Give the calendar a name.".into() };
        return list_page(ctx, s, StatusCode::UNPROCESSABLE_ENTITY, Some((form, f))).await;
    }
    let body = json!({ "name": name.trim(), "color": form.text("colour"), "components": ["VEVENT"] });
    match api::raw(ctx, s, Method::POST, "calendars", None, Some(&body), None).await {
        Ok(_) => page::redirect(ctx, "calendars"),
        Err(f) => list_page(ctx, s, StatusCode::UNPROCESSABLE_ENTITY, Some((form, f))).await,
    }
}

#[derive(Template)]
#[template(path = "calendar_edit.html")]
struct EditPage {
    chrome: Chrome,
    link: String,
    name: String,
    colour: String,
    error: Option<String>,
}

/// The caller's own calendar `id` (renaming and deleting are the owner's alone).
async fn owned(ctx: &WebContext<'_>, s: &Session, id: &str) -> Result<Calendar, Failure> {
    let cal: Calendar = api::call(ctx, s, Method::GET, &format!("calendars/{}", seg(id)), None, None).await?;
    if cal.access != "owner" {
        return Err(Failure { status: StatusCode::FORBIDDEN, detail: "This calendar is shared with you; only its owner can change it.".into() });
    }
    Ok(cal)
}

/// GET `/web/calendars/{id}`: rename and recolour.
pub async fn edit_form(ctx: &WebContext<'_>, s: &Session, id: &str) -> DavResponse {
    match owned(ctx, s, id).await {
        Ok(cal) => {
            let colour = hex_colour(cal.color.as_deref()).unwrap_or_else(|| "#3f6fd8".into());
            let title = format!("Edit {}", cal.name);
            page::html(&EditPage { chrome: Chrome::new(ctx, s, "calendars", &title), link: seg(id), name: cal.name, colour, error: None })
        }
        Err(f) => page::error(ctx, s, f.status, &f.detail),
    }
}

/// POST `/web/calendars/{id}`.
pub async fn update(ctx: &WebContext<'_>, s: &Session, id: &str, form: &Form) -> DavResponse {
    let cal = match owned(ctx, s, id).await {
        Ok(c) => c,
        Err(f) => return page::error(ctx, s, f.status, &f.detail),
    };
    let (name, colour) = (form.text("name"), form.text("colour"));
    let refused = |detail: String| {
        let title = format!("Edit {}", cal.name);
        let t = EditPage { chrome: Chrome::new(ctx, s, "calendars", &title), link: seg(id), name: name.clone(), colour: colour.clone(), error: Some(detail) };
        page::html_status(StatusCode::UNPROCESSABLE_ENTITY, &t)
    };
    if name.trim().is_empty() {
        return refused("Give the calendar a name.".into());
    }
    let body = json!({ "name": name.trim(), "color": colour });
    match api::raw(ctx, s, Method::PATCH, &format!("calendars/{}", seg(id)), None, Some(&body), None).await {
        Ok(_) => page::redirect(ctx, "calendars"),
        Err(f) => refused(f.detail),
    }
}

#[derive(Template)]
#[template(path = "confirm.html")]
pub struct ConfirmPage {
    pub chrome: Chrome,
    pub question: String,
    pub action: String,
    pub back: String,
}

/// GET `/web/calendars/{id}/delete`: are you sure?
pub async fn confirm_delete(ctx: &WebContext<'_>, s: &Session, id: &str) -> DavResponse {
    match owned(ctx, s, id).await {
        Ok(cal) => {
            let chrome = Chrome::new(ctx, s, "calendars", &format!("Delete {}", cal.name));
            let question = format!("Delete the calendar “{}” and every event in it? This cannot be undone.", cal.name);
            let action = format!("{}calendars/{}/delete", chrome.root, seg(id));
            let back = format!("{}calendars", chrome.root);
            page::html(&ConfirmPage { chrome, question, action, back })
        }
        Err(f) => page::error(ctx, s, f.status, &f.detail),
    }
}

/// POST `/web/calendars/{id}/delete`.
pub async fn delete(ctx: &WebContext<'_>, s: &Session, id: &str) -> DavResponse {
    if let Err(f) = owned(ctx, s, id).await {
        return page::error(ctx, s, f.status, &f.detail);
    }
    match api::raw(ctx, s, Method::DELETE, &format!("calendars/{}", seg(id)), None, None, None).await {
        Ok(_) => page::redirect(ctx, "calendars"),
        Err(f) => page::error(ctx, s, f.status, &f.detail),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_for_the_colour_input() {
        assert_eq!(hex_colour(Some("#FF2968FF")).as_deref(), Some("#ff2968"));
        assert_eq!(hex_colour(Some("#abc")).as_deref(), Some("#aabbcc"));
        assert_eq!(hex_colour(Some("red; } body { display:none")), None);
        assert_eq!(hex_colour(Some("#12345")), None);
        assert_eq!(hex_colour(None), None);
    }
}
