//! The login step for machines: `GET /authorize` with `Accept:
//! application/json` answers the same pending request as the HTML page —
//! its one-time `request` id, the users to choose from, the method asked
//! for, the permissions to approve — and names the form that decides it.
//! Tests log in with any HTTP client without reading HTML.
//!
//! The decision is the page's own form post (`POST /authorize`,
//! `application/x-www-form-urlencoded`): `request`, `decision`
//! (`approve`/`deny`), `user` (an `id` from `users`), optionally `method`
//! (`BIS`/`BID`, one of the chosen user's `methods`) and `auth_age`
//! (whole seconds, at most [`MAX_AUTH_AGE_SECS`]: the simulator's own
//! field, so that a test can hold a login whose `auth_time` is that much in
//! the past). It answers `303` to the relying party, as for a browser; a
//! refused post answers `400` with an OAuth-style JSON body when the
//! client accepts JSON.

use axum::Json;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::wire::AUTHORIZE_PATH;
use crate::permission::Permission;
use crate::step_up;
use crate::users::{TestUser, Users};

/// The largest `auth_age` the form takes: a year.
pub(crate) const MAX_AUTH_AGE_SECS: u64 = 366 * 24 * 60 * 60;

/// Whether the client asked for JSON rather than the HTML page.
pub(crate) fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(|value| value.split(',').any(|item| item.trim().starts_with("application/json")))
}

/// What the HTML login page shows, as JSON; `no-store` like the page, since
/// it carries a one-time request id.
pub(crate) fn login(
    request_id: &str,
    client_id: &str,
    users: &Users,
    preselected: &TestUser,
    permissions: &[Permission],
    asked_method: Option<&str>,
) -> Response {
    let body = json!({
        "request": request_id,
        "client_id": client_id,
        "users": users.iter().map(|user| user_json(user)).collect::<Vec<_>>(),
        "preselected_user": preselected.id,
        "asked_method": asked_method,
        "permissions": permissions.iter().map(permission_json).collect::<Vec<_>>(),
        "form": {
            "method": "POST",
            "action": AUTHORIZE_PATH,
            "content_type": "application/x-www-form-urlencoded",
            "fields": ["request", "decision", "user", "method", "auth_age"],
            "max_auth_age": MAX_AUTH_AGE_SECS,
        },
    });
    no_store(StatusCode::OK, Json(body))
}

/// A refused request or decision, for a client that accepts JSON.
pub(crate) fn bad_request(description: &str) -> Response {
    let body = json!({ "error": "invalid_request", "error_description": description });
    no_store(StatusCode::BAD_REQUEST, Json(body))
}

fn user_json(user: &TestUser) -> Value {
    let methods: Vec<Value> =
        step_up::methods_of(user).iter().map(|(method, loa)| json!({ "method": method, "loa": loa })).collect();
    json!({ "id": user.id, "name": user.name, "method": user.method, "loa": user.loa, "methods": methods })
}

fn permission_json(permission: &Permission) -> Value {
    json!({ "type": permission.kind, "statement": permission.display_statement() })
}

fn no_store(status: StatusCode, body: impl IntoResponse) -> Response {
    ([(header::CACHE_CONTROL, "no-store")], (status, body)).into_response()
}

/// Parses the form's `auth_age`: absent is a fresh login.
pub(crate) fn auth_age(value: Option<&str>) -> Result<u64, &'static str> {
    let Some(value) = value.filter(|value| !value.is_empty()) else { return Ok(0) };
    let seconds = (value.len() <= 10 && value.bytes().all(|b| b.is_ascii_digit()))
        .then(|| value.parse::<u64>().ok())
        .flatten()
        .filter(|seconds| *seconds <= MAX_AUTH_AGE_SECS);
    seconds.ok_or("auth_age must be a whole number of seconds, at most a year.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_age_is_whole_seconds_up_to_a_year() {
        assert_eq!(auth_age(None), Ok(0));
        assert_eq!(auth_age(Some("")), Ok(0));
        assert_eq!(auth_age(Some("3600")), Ok(3600));
        assert_eq!(auth_age(Some(&MAX_AUTH_AGE_SECS.to_string())), Ok(MAX_AUTH_AGE_SECS));
        for bad in ["-1", "1.5", " 3", "x", "99999999999", &(MAX_AUTH_AGE_SECS + 1).to_string()] {
            assert!(auth_age(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn json_is_asked_for_by_accept() {
        let with = |accept: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::ACCEPT, accept.parse().unwrap());
            wants_json(&headers)
        };
        assert!(with("application/json"));
        assert!(with("text/html;q=0.5, application/json"));
        assert!(!with("text/html"));
        assert!(!wants_json(&HeaderMap::new()));
    }
}
