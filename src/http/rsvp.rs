//! `GET /rsvp/<token>` and `POST /rsvp/<token>`, without authentication: the token is the
//! credential (service::scheduling::rsvp). GET only shows the event and three buttons, since
//! mail security scanners follow every link in an email; only the POST of the form answers.
//! Pages carry nothing but this event's title, time, organizer and the attendee's own
//! address, every value HTML-escaped, and are never cached nor sent on as a Referer.

use bytes::Bytes;
use http::{HeaderValue, Method, StatusCode, header};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;

use crate::dav::DavResponse;
/// Element content and quoted attributes, escaped as the invitation emails escape them.
pub use crate::mail::escape_html as escape;
use crate::service::scheduling::rsvp::{self, Answer, Event, Refusal};

use super::server::HttpState;

/// A form with one field is a few dozen bytes.
const MAX_FORM: usize = 1024;

pub async fn handle(state: &HttpState, req: hyper::Request<Incoming>, token: &str) -> DavResponse {
    let ctx = state.dav.sched();
    let method = req.method().clone();
    let result = if method == Method::GET || method == Method::HEAD {
        rsvp::show(&ctx, token).await.map(|r| r.map(|e| confirm_page(&e)))
    } else if method == Method::POST {
        let Some(answer) = read_answer(req).await else {
            return page(StatusCode::BAD_REQUEST, "Unknown answer", "<p>Choose one of the three buttons.</p>");
        };
        rsvp::answer(&ctx, token, answer).await.map(|r| r.map(|e| thanks_page(&e)))
    } else {
        let mut resp = page(StatusCode::METHOD_NOT_ALLOWED, "Not allowed", "<p>Open the link in a browser.</p>");
        resp.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, HEAD, POST"));
        return resp;
    };
    match result {
        Ok(Ok(resp)) => resp,
        Ok(Err(refusal)) => refused(&refusal),
        Err(e) => {
            if matches!(e, crate::service::ServiceError::Store(_) | crate::service::ServiceError::Unavailable(_)) {
                state.metrics.store_error();
            }
            tracing::warn!(error = %e, "RSVP failed");
            page(StatusCode::SERVICE_UNAVAILABLE, "Try again later", "<p>Your answer could not be recorded just now. Please try again in a few minutes.</p>")
        }
    }
}

/// `answer=accepted|tentative|declined` from an application/x-www-form-urlencoded body.
async fn read_answer(req: hyper::Request<Incoming>) -> Option<Answer> {
    let body = Limited::new(req.into_body(), MAX_FORM).collect().await.ok()?.to_bytes();
    let text = std::str::from_utf8(&body).ok()?;
    text.split('&').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        (name == "answer").then(|| Answer::parse(value)).flatten()
    })
}

fn refused(refusal: &Refusal) -> DavResponse {
    match refusal {
        Refusal::Forged => page(StatusCode::FORBIDDEN, "Invalid link", "<p>This link is not valid. Use the link from the invitation email as it was sent.</p>"),
        Refusal::Expired => page(StatusCode::GONE, "Link expired", "<p>This link has expired: the event is over.</p>"),
        Refusal::Gone(why) => page(StatusCode::GONE, "No longer possible", &format!("<p>{}</p>", escape(why))),
        Refusal::Outdated(event) => page(
            StatusCode::CONFLICT,
            "The invitation has changed",
            &format!(
                "{}<p>This invitation was updated after this email was sent. Please answer from the link in the newest email.</p>",
                details(event)
            ),
        ),
    }
}

fn details(e: &Event) -> String {
    format!(
        "<dl><dt>Event</dt><dd>{}</dd><dt>When</dt><dd>{}</dd><dt>Organizer</dt><dd>{}</dd><dt>Invited</dt><dd>{}</dd></dl>",
        escape(&e.summary),
        escape(&e.when),
        escape(&e.organizer),
        escape(&e.attendee)
    )
}

fn label(partstat: &str) -> &'static str {
    match partstat {
        "ACCEPTED" => "Accepted",
        "TENTATIVE" => "Tentative",
        "DECLINED" => "Declined",
        _ => "No answer yet",
    }
}

fn confirm_page(e: &Event) -> DavResponse {
    let body = format!(
        "{}<p>Your answer so far: <strong>{}</strong></p>\
         <form method=\"post\"><button name=\"answer\" value=\"accepted\">Accept</button> \
         <button name=\"answer\" value=\"tentative\">Maybe</button> \
         <button name=\"answer\" value=\"declined\">Decline</button></form>",
        details(e),
        label(&e.partstat)
    );
    page(StatusCode::OK, "Your answer", &body)
}

fn thanks_page(e: &Event) -> DavResponse {
    let body = format!("{}<p>Thank you. Your answer <strong>{}</strong> was sent to the organizer.</p>", details(e), label(&e.partstat));
    page(StatusCode::OK, "Answer recorded", &body)
}

/// `title` is a constant; `body` is built from escaped values.
pub(super) fn page(status: StatusCode, title: &str, body: &str) -> DavResponse {
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <meta name=\"robots\" content=\"noindex\"><title>{title}</title>\
         <style>body{{font-family:sans-serif;max-width:32em;margin:2em auto;padding:0 1em}}dt{{font-weight:bold}}\
         button{{font-size:1.1em;margin:.3em}}</style></head><body><h1>{title}</h1>{body}</body></html>\n"
    );
    let mut resp = http::Response::new(Bytes::from(html));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    // The token in the URL is a credential: not stored, not passed on, not indexed, not framed.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert("x-robots-tag", HeaderValue::from_static("noindex, nofollow"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"),
    );
    resp
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_markup() {
        assert_eq!(super::escape("<a href=\"x\">'&'</a>"), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    }
}
