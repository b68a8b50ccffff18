//! The admin page (administrators only; anyone else gets 403): every user, a form to create
//! one with a password (their home is made as `kalends user add` makes it), and deletion after
//! a confirmation. Creation and deletion go through `service::users`, the functions of the CLI
//! and of the API's `POST /users`; the list is the API's `GET /users`. An administrator does
//! not delete their own account here (they would lock themselves out mid-page).

use askama::Template;
use http::{Method, StatusCode};
use serde::Deserialize;

use super::api::{self, Failure};
use super::calendars::ConfirmPage;
use super::feeds::when;
use super::form::Form;
use super::page::{self, Chrome, seg};
use super::WebContext;
use crate::dav::DavResponse;
use crate::service::sessions::Session;
use crate::service::{ServiceError, users};
use crate::store::UserStore;

/// A user as the API lists them.
#[derive(Debug, Clone, Deserialize)]
struct UserJson {
    name: String,
    email: Option<String>,
    admin: bool,
    created: String,
}

struct Row {
    name: String,
    link: String,
    email: String,
    admin: bool,
    created: String,
    is_me: bool,
}

/// The creation form as typed (never the password), and what was wrong with it.
#[derive(Default)]
struct Typed {
    name: String,
    email: String,
    admin: bool,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "admin.html")]
struct AdminPage {
    chrome: Chrome,
    rows: Vec<Row>,
    typed: Typed,
    created: Option<String>,
}

fn refuse_non_admin(ctx: &WebContext<'_>, s: &Session) -> Option<DavResponse> {
    (!s.is_admin).then(|| page::error(ctx, s, StatusCode::FORBIDDEN, "Only administrators manage users."))
}

async fn render(ctx: &WebContext<'_>, s: &Session, status: StatusCode, typed: Typed, created: Option<String>) -> DavResponse {
    let list: Vec<UserJson> = match api::call(ctx, s, Method::GET, "users", None, None).await {
        Ok(l) => l,
        Err(f) => return page::error(ctx, s, f.status, &f.detail),
    };
    let rows = list
        .into_iter()
        .map(|u| Row {
            link: seg(&u.name),
            is_me: u.name == s.principal.name,
            email: u.email.unwrap_or_default(),
            admin: u.admin,
            created: when(&u.created),
            name: u.name,
        })
        .collect();
    page::html_status(status, &AdminPage { chrome: Chrome::new(ctx, s, "admin", "Admin"), rows, typed, created })
}

/// GET `/web/admin`.
pub async fn show(ctx: &WebContext<'_>, s: &Session) -> DavResponse {
    if let Some(refused) = refuse_non_admin(ctx, s) {
        return refused;
    }
    render(ctx, s, StatusCode::OK, Typed::default(), None).await
}

/// POST `/web/admin/users`: a new user with a password, an administrator if ticked.
pub async fn create(ctx: &WebContext<'_>, s: &Session, form: &Form) -> DavResponse {
    if let Some(refused) = refuse_non_admin(ctx, s) {
        return refused;
    }
    let mut typed = Typed { name: form.text("name").trim().to_owned(), email: form.text("email").trim().to_owned(), admin: form.checked("admin"), error: None };
    let email = Some(typed.email.as_str()).filter(|e| !e.is_empty());
    let store = &ctx.dav.store;
    let made = match users::create(store, &typed.name, email, &form.text("password")).await {
        Ok(u) => u,
        Err(ServiceError::BadRequest(why)) => {
            typed.error = Some(why);
            return render(ctx, s, StatusCode::UNPROCESSABLE_ENTITY, typed, None).await;
        }
        Err(ServiceError::AlreadyExists) => {
            typed.error = Some(format!("There is already a user named {}.", typed.name));
            return render(ctx, s, StatusCode::UNPROCESSABLE_ENTITY, typed, None).await;
        }
        Err(e) => return page::service_error(ctx, s, e),
    };
    if typed.admin
        && let Err(e) = store.set_admin(&made.name, true).await
    {
        return page::service_error(ctx, s, ServiceError::from(e));
    }
    render(ctx, s, StatusCode::CREATED, Typed::default(), Some(made.name)).await
}

/// The user `name`, unless it is the administrator themself.
async fn other_user(ctx: &WebContext<'_>, s: &Session, name: &str) -> Result<String, Failure> {
    if name == s.principal.name {
        return Err(Failure { status: StatusCode::UNPROCESSABLE_ENTITY, detail: "You cannot delete your own account here; another administrator can.".into() });
    }
    match ctx.dav.store.user_by_name(name).await {
        Ok(Some(u)) => Ok(u.name),
        Ok(None) => Err(Failure { status: StatusCode::NOT_FOUND, detail: format!("There is no user {name}.") }),
        Err(e) => {
            let (status, _, detail) = crate::error::problem_of(ServiceError::from(e));
            Err(Failure { status, detail })
        }
    }
}

/// GET `/web/admin/users/{name}/delete`: are you sure?
pub async fn confirm_delete(ctx: &WebContext<'_>, s: &Session, name: &str) -> DavResponse {
    if let Some(refused) = refuse_non_admin(ctx, s) {
        return refused;
    }
    match other_user(ctx, s, name).await {
        Ok(name) => {
            let chrome = Chrome::new(ctx, s, "admin", &format!("Delete {name}"));
            let question = format!("Delete the user {name} with all their calendars, events, feed links, shares and app passwords? This cannot be undone.");
            let action = format!("{}admin/users/{}/delete", chrome.root, seg(&name));
            let back = format!("{}admin", chrome.root);
            page::html(&ConfirmPage { chrome, question, action, back })
        }
        Err(f) => page::error(ctx, s, f.status, &f.detail),
    }
}

/// POST `/web/admin/users/{name}/delete`.
pub async fn delete(ctx: &WebContext<'_>, s: &Session, name: &str) -> DavResponse {
    if let Some(refused) = refuse_non_admin(ctx, s) {
        return refused;
    }
    let name = match other_user(ctx, s, name).await {
        Ok(n) => n,
        Err(f) => return page::error(ctx, s, f.status, &f.detail),
    };
    match users::delete(&ctx.dav.store, &name).await {
        Ok(()) => {
            // Their app passwords and password may sit in this node's credential cache.
            ctx.auth.forget_all();
            page::redirect(ctx, "admin")
        }
        Err(ServiceError::NotFound) => page::redirect(ctx, "admin"),
        Err(e) => page::service_error(ctx, s, e),
    }
}
