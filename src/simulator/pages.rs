//! The simulator's HTML: the login form, error pages and the logout page.
//!
//! Plain server-rendered forms, no JavaScript, so that a test can drive the
//! login with any HTTP client by reading the form and posting it back. Every
//! interpolated value goes through [`escape`].

use std::fmt::Write as _;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use super::users::{TestUser, USERS};

/// Inline styles only: the page must work without fetching anything else.
const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;\
padding:0 1rem;color:#1b1b1b}h1{font-size:1.4rem}label{display:block;margin:.4rem 0}\
fieldset{border:1px solid #ccc;border-radius:.4rem}button{margin:1rem .5rem 0 0;\
padding:.5rem 1.2rem}.note{color:#666;font-size:.85rem}";

/// The login page for a pending authorization request.
pub(crate) fn login(request_id: &str, client_id: &str, preselected: &TestUser) -> Response {
    let mut users = String::new();
    for user in &USERS {
        let checked = if user.id == preselected.id { " checked" } else { "" };
        // Writing to a String cannot fail.
        let _ = writeln!(
            users,
            r#"<label><input type="radio" name="user" value="{}"{checked}> {}</label>"#,
            escape(user.id),
            escape(&user.label()),
        );
    }
    let body = format!(
        r#"<h1>BankID simulator</h1>
<p><strong>{client}</strong> asks you to log in.</p>
<form method="post" action="/authorize">
<input type="hidden" name="request" value="{request}">
<fieldset><legend>Test user</legend>
{users}</fieldset>
<button type="submit" name="decision" value="approve">Log in</button>
<button type="submit" name="decision" value="deny">Cancel</button>
</form>
<p class="note">Test provider with synthetic users. Not BankID.</p>"#,
        client = escape(client_id),
        request = escape(request_id),
    );
    page(StatusCode::OK, "Log in with BankID (simulator)", &body)
}

/// A `400` page for requests that cannot safely be answered with a redirect.
pub(crate) fn bad_request(message: &str) -> Response {
    let body = format!("<h1>Invalid request</h1>\n<p>{}</p>", escape(message));
    page(StatusCode::BAD_REQUEST, "Invalid request (BankID simulator)", &body)
}

/// Shown after logout when there is nowhere safe to send the user back to.
pub(crate) fn logged_out() -> Response {
    page(
        StatusCode::OK,
        "Logged out (BankID simulator)",
        "<h1>You are logged out</h1>\n<p>You may close this window.</p>",
    )
}

/// Wraps `body` in a document and adds headers that keep the page out of
/// frames (clickjacking) and caches (it carries one-time request ids).
fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>{}</title><style>{STYLE}</style></head>\n<body>\n{body}\n</body></html>\n",
        escape(title)
    );
    let mut response = (status, Html(html)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

/// Escapes text for HTML element content and double-quoted attributes.
pub(crate) fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(escape(r#"<a href="x">'&'</a>"#), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    }
}
