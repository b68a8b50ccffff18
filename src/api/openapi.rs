//! The API's OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]` attributes and
//! the JSON types' `ToSchema` derives (so it cannot drift from the code), served at
//! `GET /api/v1/openapi.json` without authentication.

use serde::Serialize;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use super::{account, calendars, events, feeds, freebusy, import, shares};

/// An RFC 9457 problem, as every error answer carries it (`application/problem+json`).
#[derive(Debug, Serialize, ToSchema)]
pub struct ProblemJson {
    /// Always "about:blank".
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
}

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
        components.add_security_scheme("basic", SecurityScheme::Http(Http::new(HttpAuthScheme::Basic)));
        // Every operation takes either: an app password as Bearer, or user name and (app)
        // password as Basic.
        let bearer = utoipa::openapi::security::SecurityRequirement::new::<_, _, &str>("bearer", []);
        let basic = utoipa::openapi::security::SecurityRequirement::new::<_, _, &str>("basic", []);
        openapi.security = Some(vec![bearer, basic]);
        problems(openapi);
    }
}

/// Every error answer is `application/problem+json` (RFC 9457), whatever the status: the
/// documented ones say so, and a `default` response covers the rest any request may get (401
/// without credentials, 413, 429 from the rate limiter, 503).
fn problems(openapi: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{ContentBuilder, RefOr, Response, ResponseBuilder};
    let problem_content = || ContentBuilder::new().schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name("ProblemJson")))).build();
    for item in openapi.paths.paths.values_mut() {
        let ops = [&mut item.get, &mut item.post, &mut item.put, &mut item.patch, &mut item.delete];
        for op in ops.into_iter().flatten() {
            for (status, response) in &mut op.responses.responses {
                let is_error = status.parse::<u16>().is_ok_and(|s| s >= 400);
                if let (true, RefOr::T(Response { content, .. })) = (is_error, response) {
                    content.clear();
                    content.insert("application/problem+json".into(), problem_content());
                }
            }
            let default = ResponseBuilder::new().description("An error, as RFC 9457 problem details").content("application/problem+json", problem_content()).build();
            op.responses.responses.insert("default".into(), RefOr::T(default));
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Kalends API", version = "1", description = "Calendars and events as JSON, over the same data as CalDAV (issue 20)."),
    paths(
        account::get_me,
        account::list_app_passwords,
        account::create_app_password,
        account::revoke_app_password,
        account::list_users,
        account::create_user,
        calendars::list,
        calendars::get,
        calendars::create,
        calendars::patch,
        calendars::delete,
        events::list,
        events::create,
        events::get,
        events::put,
        events::delete,
        events::changes,
        events::seed_list,
        events::seed_create,
        events::schedule,
        feeds::list,
        feeds::create,
        feeds::revoke,
        feeds::rotate,
        shares::list,
        shares::add,
        shares::remove,
        freebusy::lookup,
        freebusy::lookup_many,
        import::import,
    ),
    components(schemas(ProblemJson)),
    modifiers(&Security)
)]
pub struct ApiDoc;

/// The document as JSON text.
pub fn document() -> String {
    ApiDoc::openapi().to_pretty_json().unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}
