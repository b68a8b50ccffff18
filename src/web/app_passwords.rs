//! The app passwords page (decision 0025): make one per device or script with a label (its
//! secret shown once, in the answer to the POST: only its hash is kept), list them with when
//! each was last used, and revoke one after a confirmation. Through the JSON API's
//! `me/app-passwords` routes in process, which also drop the credential cache on a revocation.

use askama::Template;
use http::{Method, StatusCode};
use serde::Deserialize;
use serde_json::json;

use super::api::{self, Failure};
use super::calendars::ConfirmPage;
use super::feeds::when;
use super::form::Form;
use super::page::{self, Chrome, seg};
use super::WebContext;
use crate::dav::DavResponse;
use crate::service::sessions::Session;

/// An app password as the API lists it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AppPassword {
    id: i64,
    label: String,
    hint: String,
    created: String,
    last_used: Option<String>,
}

/// A new one: the only answer with its secret.
#[derive(Debug, Clone, Deserialize)]
pub struct NewAppPassword {
    pub label: String,
    pub secret: String,
}

/// A row of the list.
struct Row {
    id: i64,
    label: String,
    hint: String,
    created: String,
    last_used: String,
}

#[derive(Template)]
#[template(path = "app_passwords.html")]
struct ListPage {
    chrome: Chrome,
    rows: Vec<Row>,
    issued: Option<NewAppPassword>,
    label: String,
    error: Option<String>,
}

async fn listed(ctx: &WebContext<'_>, s: &Session) -> Result<Vec<AppPassword>, Failure> {
    api::call(ctx, s, Method::GET, "me/app-passwords", None, None).await
}

async fn render(ctx: &WebContext<'_>, s: &Session, status: StatusCode, issued: Option<NewAppPassword>, refused: Option<(String, String)>) -> DavResponse {
    let list = match listed(ctx, s).await {
        Ok(l) => l,
        Err(f) => return page::error(ctx, s, f.status, &f.detail),
    };
    let rows = list
        .into_iter()
        .map(|a| Row { id: a.id, label: a.label, hint: a.hint, created: when(&a.created), last_used: a.last_used.as_deref().map_or_else(|| "never".to_owned(), when) })
        .collect();
    let (label, error) = refused.map_or((String::new(), None), |(label, e)| (label, Some(e)));
    page::html_status(status, &ListPage { chrome: Chrome::new(ctx, s, "app-passwords", "App passwords"), rows, issued, label, error })
}

/// GET `/web/app-passwords`.
pub async fn list(ctx: &WebContext<'_>, s: &Session) -> DavResponse {
    render(ctx, s, StatusCode::OK, None, None).await
}

/// A new app password for the session's user, labelled `label`; the device page makes one
/// for a configuration profile this way too.
pub async fn make(ctx: &WebContext<'_>, s: &Session, label: &str) -> Result<NewAppPassword, Failure> {
    api::call(ctx, s, Method::POST, "me/app-passwords", None, Some(&json!({ "label": label }))).await
}

/// POST `/web/app-passwords`.
pub async fn create(ctx: &WebContext<'_>, s: &Session, form: &Form) -> DavResponse {
    let label = form.text("label");
    match make(ctx, s, &label).await {
        Ok(issued) => render(ctx, s, StatusCode::CREATED, Some(issued), None).await,
        Err(f) if f.status == StatusCode::BAD_REQUEST => render(ctx, s, StatusCode::UNPROCESSABLE_ENTITY, None, Some((label, f.detail))).await,
        Err(f) => page::error(ctx, s, f.status, &f.detail),
    }
}

/// GET `/web/app-passwords/{id}/revoke`: are you sure?
pub async fn confirm_revoke(ctx: &WebContext<'_>, s: &Session, id: &str) -> DavResponse {
    let found = match listed(ctx, s).await {
        Ok(l) => l.into_iter().find(|a| a.id.to_string() == id),
        Err(f) => return page::error(ctx, s, f.status, &f.detail),
    };
    let Some(a) = found else {
        return page::error(ctx, s, StatusCode::NOT_FOUND, "There is no such app password.");
    };
    let chrome = Chrome::new(ctx, s, "app-passwords", &format!("Revoke {}", a.label));
    let question = format!("Revoke the app password “{}” ({}…)? Every device or script using it is signed out at once.", a.label, a.hint);
    let action = format!("{}app-passwords/{}/revoke", chrome.root, a.id);
    let back = format!("{}app-passwords", chrome.root);
    page::html(&ConfirmPage { chrome, question, action, back })
}

/// POST `/web/app-passwords/{id}/revoke`.
pub async fn revoke(ctx: &WebContext<'_>, s: &Session, id: &str) -> DavResponse {
    match api::raw(ctx, s, Method::DELETE, &format!("me/app-passwords/{}", seg(id)), None, None, None).await {
        Ok(_) => page::redirect(ctx, "app-passwords"),
        Err(f) => page::error(ctx, s, f.status, &f.detail),
    }
}
