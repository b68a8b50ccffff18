//! `GET /reminders/<token>` and `POST /reminders/<token>`, without authentication: the token in
//! every emailed DISPLAY/AUDIO reminder (service::reminders::optout) is the credential, and all
//! it can do is switch its user's reminder emails off or on. GET only shows the setting and a
//! button (mail scanners follow links); a POST switches: the RFC 8058 one-click body
//! `List-Unsubscribe=One-Click` (a mail client's unsubscribe button) or the page's form
//! (`emails=off|on`). Pages show the user name and nothing else of theirs.

use http::{HeaderValue, Method, StatusCode, header};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;

use super::rsvp::{escape, page};
use super::server::HttpState;
use crate::dav::DavResponse;
use crate::service::reminders::optout::{self, Setting};

/// A one-field form is a few dozen bytes.
const MAX_FORM: usize = 1024;

pub async fn handle(state: &HttpState, req: hyper::Request<Incoming>, token: &str) -> DavResponse {
    let store = &state.dav.store;
    let now = crate::service::now();
    let method = req.method().clone();
    let result = if method == Method::GET || method == Method::HEAD {
        optout::show(store, token, now).await
    } else if method == Method::POST {
        let Some(on) = read_choice(req).await else {
            return page(StatusCode::BAD_REQUEST, "Unknown choice", "<p>Use the button on the page.</p>");
        };
        optout::set(store, token, on, now).await
    } else {
        let mut resp = page(StatusCode::METHOD_NOT_ALLOWED, "Not allowed", "<p>Open the link in a browser.</p>");
        resp.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, HEAD, POST"));
        return resp;
    };
    match result {
        Ok(Some(setting)) => setting_page(&setting, method == Method::POST),
        Ok(None) => page(
            StatusCode::NOT_FOUND,
            "Invalid link",
            "<p>This link is not valid (any more). Use the link from the newest reminder email.</p>",
        ),
        Err(e) => {
            if matches!(e, crate::service::ServiceError::Store(_) | crate::service::ServiceError::Unavailable(_)) {
                state.metrics.store_error();
            }
            tracing::warn!(error = %e, "reminder setting failed");
            page(StatusCode::SERVICE_UNAVAILABLE, "Try again later", "<p>The setting could not be changed just now. Please try again in a few minutes.</p>")
        }
    }
}

/// Off for RFC 8058's `List-Unsubscribe=One-Click` and `emails=off`, on for `emails=on`.
async fn read_choice(req: hyper::Request<Incoming>) -> Option<bool> {
    let body = Limited::new(req.into_body(), MAX_FORM).collect().await.ok()?.to_bytes();
    let text = std::str::from_utf8(&body).ok()?;
    text.split('&').find_map(|pair| match pair.split_once('=')? {
        ("List-Unsubscribe", "One-Click") | ("emails", "off") => Some(false),
        ("emails", "on") => Some(true),
        _ => None,
    })
}

fn setting_page(s: &Setting, changed: bool) -> DavResponse {
    let (state, button) = if s.emails {
        ("are emailed to you", "<button name=\"emails\" value=\"off\">Stop emailing my reminders</button>")
    } else {
        ("are not emailed to you", "<button name=\"emails\" value=\"on\">Email my reminders again</button>")
    };
    let title = if changed { "Setting saved" } else { "Reminder emails" };
    let body = format!(
        "<p>Account: <strong>{}</strong></p><p>Your calendar alarms (pop-up and sound alerts) {state}. \
         Alerts you set up to send an email are always sent; remove them from the event to stop them.</p>\
         <form method=\"post\">{button}</form>",
        escape(&s.user_name)
    );
    page(StatusCode::OK, title, &body)
}
