//! `GET /auth/bankid/login?return_to=/path` (optionally `&acr=4`,
//! `&max_age=300`, `&prompt=login`, `&ui_locales=nb`): reads the login's
//! options from the query and starts it ([`crate::login::start::begin`]).

use axum::extract::{RawQuery, Request, State};
use axum::response::Response;

use crate::http::session_of;
use crate::login::options::{QueryOptions, from_query};
use crate::login::start::{LoginOptions, begin};
use crate::state::LayerState;
use crate::step_up::policy::asked_in_query;

pub(crate) async fn start_login(State(ctx): State<LayerState>, RawQuery(query): RawQuery, req: Request) -> Response {
    let return_to = query.as_deref().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(key, _)| key == "return_to")
            .map(|(_, value)| value.into_owned())
    });
    let asked = asked_in_query(query.as_deref()).and_then(|step_up| Ok((step_up, from_query(query.as_deref())?)));
    let result = match (session_of(req.extensions()), asked) {
        (Ok(session), Ok((step_up, QueryOptions { ui_locales, prompt_login }))) => {
            let options = LoginOptions { return_to, step_up, ui_locales, prompt_login, ..LoginOptions::default() };
            begin(&ctx.login_start(), &session, req.headers(), options).await
        }
        (Err(err), _) | (_, Err(err)) => Err(err),
    };
    match result {
        Ok(redirect) => redirect.into_response(),
        Err(err) => ctx.error_response(&err, req.headers()),
    }
}
