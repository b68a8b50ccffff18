//! Accounts: `GET /me`, the caller's app passwords (`/me/app-passwords`), and for admins the
//! users (`GET/POST /users`). A new user gets their home (calendar, tasks, boxes) exactly as
//! `kalends user add` makes it, and one app password shown once.

use http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::reply::{self, Problem, Query, Reply, json, no_content};
use super::ApiContext;
use crate::service::{Principal, app_passwords, users};
use crate::store::{AppPassword, User, UserStore};

/// A user as the API shows them.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserJson {
    pub name: String,
    pub email: Option<String>,
    pub admin: bool,
    /// RFC 3339, UTC.
    pub created: String,
}

impl From<&User> for UserJson {
    fn from(u: &User) -> Self {
        UserJson { name: u.name.clone(), email: u.email.clone(), admin: u.is_admin, created: rfc3339(u.created_at) }
    }
}

/// An app password as lists show it (never its secret).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppPasswordJson {
    pub id: i64,
    pub label: String,
    /// Its first characters.
    pub hint: String,
    pub created: String,
    pub last_used: Option<String>,
}

impl From<&AppPassword> for AppPasswordJson {
    fn from(a: &AppPassword) -> Self {
        AppPasswordJson {
            id: a.id,
            label: a.label.clone(),
            hint: a.hint.clone(),
            created: rfc3339(a.created_at),
            last_used: a.last_used_at.map(rfc3339),
        }
    }
}

/// A new app password: the secret is in this answer only.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewAppPasswordJson {
    #[serde(flatten)]
    pub app: AppPasswordJson,
    /// Use as the password of CalDAV clients or as `Authorization: Bearer`; shown once.
    pub secret: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AppPasswordRequest {
    #[serde(default)]
    pub label: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewUserRequest {
    pub name: String,
    #[serde(default)]
    pub email: Option<String>,
    /// None: the user gets no password to log in with, only the app password of the answer.
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub admin: bool,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewUserJson {
    pub user: UserJson,
    pub app_password: NewAppPasswordJson,
}

pub(super) fn rfc3339(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0).map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string()).unwrap_or_default()
}

async fn me_row(ctx: &ApiContext<'_>, user: &Principal) -> Result<User, Problem> {
    ctx.dav.store.user_by_id(user.id).await?.ok_or_else(|| reply::not_found("your account is gone"))
}

/// The signed-in user.
#[utoipa::path(get, path = "/api/v1/me", tag = "account",
    responses((status = 200, body = UserJson), (status = 401, body = super::openapi::ProblemJson)))]
pub async fn get_me(ctx: &ApiContext<'_>, user: &Principal) -> Reply {
    Ok(json(StatusCode::OK, &UserJson::from(&me_row(ctx, user).await?)))
}

/// The caller's app passwords.
#[utoipa::path(get, path = "/api/v1/me/app-passwords", tag = "account",
    responses((status = 200, body = [AppPasswordJson]), (status = 401, body = super::openapi::ProblemJson)))]
pub async fn list_app_passwords(ctx: &ApiContext<'_>, user: &Principal) -> Reply {
    let list = app_passwords::list(&ctx.dav.store, user.id).await?;
    Ok(json(StatusCode::OK, &list.iter().map(AppPasswordJson::from).collect::<Vec<_>>()))
}

/// A new app password for the caller; its secret is shown in this answer only.
#[utoipa::path(post, path = "/api/v1/me/app-passwords", tag = "account", request_body = AppPasswordRequest,
    responses((status = 201, body = NewAppPasswordJson), (status = 400, body = super::openapi::ProblemJson)))]
pub async fn create_app_password(ctx: &ApiContext<'_>, user: &Principal, headers: &http::HeaderMap, body: &[u8]) -> Reply {
    let req: AppPasswordRequest = reply::body(headers, body)?;
    let issued = app_passwords::create(&ctx.dav.store, user.id, &req.label).await?;
    Ok(json(StatusCode::CREATED, &NewAppPasswordJson { app: AppPasswordJson::from(&issued.app), secret: issued.secret }))
}

/// Revokes one of the caller's app passwords; it stops working on this node at once.
#[utoipa::path(delete, path = "/api/v1/me/app-passwords/{id}", tag = "account",
    params(("id" = i64, Path, description = "the app password's id")),
    responses((status = 204), (status = 404, body = super::openapi::ProblemJson)))]
pub async fn revoke_app_password(ctx: &ApiContext<'_>, user: &Principal, id: &str) -> Reply {
    let id = id.parse::<i64>().map_err(|_| reply::not_found("no such app password"))?;
    match app_passwords::revoke(&ctx.dav.store, user.id, id).await {
        Ok(()) => {
            ctx.auth.forget_all();
            Ok(no_content())
        }
        Err(crate::service::ServiceError::NotFound) => Err(reply::not_found("no such app password")),
        Err(e) => Err(e.into()),
    }
}

async fn require_admin(ctx: &ApiContext<'_>, user: &Principal) -> Result<(), Problem> {
    let me = me_row(ctx, user).await?;
    if me.is_admin { Ok(()) } else { Err(reply::forbidden("only administrators manage users")) }
}

/// Every user (administrators only).
#[utoipa::path(get, path = "/api/v1/users", tag = "users",
    responses((status = 200, body = [UserJson]), (status = 403, body = super::openapi::ProblemJson)))]
pub async fn list_users(ctx: &ApiContext<'_>, user: &Principal, _query: &Query) -> Reply {
    require_admin(ctx, user).await?;
    let list = users::list(&ctx.dav.store).await?;
    Ok(json(StatusCode::OK, &list.iter().map(UserJson::from).collect::<Vec<_>>()))
}

/// Creates a user with their home, and one app password (administrators only).
#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = NewUserRequest,
    responses((status = 201, body = NewUserJson), (status = 400, body = super::openapi::ProblemJson),
        (status = 403, body = super::openapi::ProblemJson), (status = 409, body = super::openapi::ProblemJson)))]
pub async fn create_user(ctx: &ApiContext<'_>, user: &Principal, headers: &http::HeaderMap, body: &[u8]) -> Reply {
    require_admin(ctx, user).await?;
    let req: NewUserRequest = reply::body(headers, body)?;
    // Without a password the account has a random one nobody is told: it logs in with app
    // passwords only. The service checks the name, the address and the password.
    let password = req.password.clone().unwrap_or_else(users::random_password);
    let store = &ctx.dav.store;
    let created = users::create(store, &req.name, req.email.as_deref(), &password).await?;
    if req.admin {
        store.set_admin(&created.name, true).await?;
    }
    let issued = app_passwords::create(store, created.id, "created with the account").await?;
    let row = store.user_by_id(created.id).await?.ok_or_else(|| reply::not_found("the user was deleted meanwhile"))?;
    let app_password = NewAppPasswordJson { app: AppPasswordJson::from(&issued.app), secret: issued.secret };
    Ok(json(StatusCode::CREATED, &NewUserJson { user: UserJson::from(&row), app_password }))
}
