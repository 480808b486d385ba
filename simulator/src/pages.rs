//! The simulator's HTML: the login form, the phone of CIBA, error pages and
//! the logout page.
//!
//! Plain server-rendered forms, no JavaScript, so that a test can drive the
//! login with any HTTP client by reading the form and posting it back. Every
//! interpolated value goes through [`escape`].

use std::fmt::Write as _;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use super::permission::Permission;
use super::users::{TestUser, Users};

/// Inline styles only: the page must work without fetching anything else.
/// Styled by element and attribute so the markup (which tests parse) stays
/// exactly as it is: a card on a tinted page, the test users as selectable
/// rows, "approve" as the primary button.
const STYLE: &str = "*{box-sizing:border-box}html{background:#eef0f4}\
body{font:16px/1.5 system-ui,sans-serif;max-width:30rem;margin:2.5rem auto;padding:1.75rem 2rem;\
color:#1b1b1b;background:#fff;border:1px solid #d9dce3;border-radius:.75rem;\
box-shadow:0 6px 24px rgba(20,24,40,.07);border-top:6px solid #141b3d}\
h1{font-size:1.35rem;margin:0 0 .75rem}h2{font-size:1.05rem;margin:1.25rem 0 .5rem}\
fieldset{border:1px solid #d9dce3;border-radius:.5rem;padding:.5rem .75rem .75rem;margin:1rem 0 0}\
legend{font-weight:600;padding:0 .3rem}label{display:block;margin:.35rem 0;padding:.55rem .7rem;\
border:1px solid #e4e6ec;border-radius:.4rem;cursor:pointer}label:hover{background:#f5f6fa}\
input[type=radio]{margin-right:.5rem;accent-color:#141b3d}\
button{font:inherit;font-weight:600;margin:1.1rem .5rem 0 0;padding:.6rem 1.4rem;border-radius:.45rem;\
border:1px solid #141b3d;background:#fff;color:#141b3d;cursor:pointer}\
button[value=approve]{background:#141b3d;color:#fff}button:hover{filter:brightness(1.15)}\
.note{color:#666;font-size:.85rem;margin-top:1.25rem}\
pre{background:#f4f5f8;border:1px solid #e4e6ec;border-radius:.4rem;padding:.6rem .8rem;\
overflow-x:auto;white-space:pre-wrap}.permission{margin:.5rem 0}\
.binding{font-size:1.3rem;letter-spacing:.04em}\
section{border-top:1px solid #e4e6ec;margin-top:1rem;padding-top:.25rem}\
@media(max-width:32rem){body{margin:0;border-radius:0;border-width:6px 0 0}}";

/// The login page for a pending authorization request, listing the
/// permissions the user approves along with the login.
pub(crate) fn login(
    request_id: &str,
    client_id: &str,
    users_list: &Users,
    preselected: &TestUser,
    permissions: &[Permission],
    asked_method: Option<&str>,
) -> Response {
    let mut users = String::new();
    for user in users_list.iter() {
        let checked = if user.id == preselected.id { " checked" } else { "" };
        // With a method to choose, each user says which ones they have.
        let methods = if asked_method.is_some() { user_methods(user) } else { String::new() };
        // Writing to a String cannot fail.
        let _ = writeln!(
            users,
            r#"<label><input type="radio" name="user" value="{}"{checked}> {}{}</label>"#,
            escape(&user.id),
            escape(&user.label()),
            escape(&methods),
        );
    }
    let body = format!(
        r#"<h1>BankID simulator</h1>
<p><strong>{client}</strong> asks you to log in.</p>
{permissions}<form method="post" action="/authorize">
<input type="hidden" name="request" value="{request}">
<fieldset><legend>Test user</legend>
{users}</fieldset>
{methods}<button type="submit" name="decision" value="approve">Log in</button>
<button type="submit" name="decision" value="deny">Cancel</button>
</form>
<p class="note">Test provider with synthetic users. Not BankID.</p>"#,
        client = escape(client_id),
        request = escape(request_id),
        permissions = permission_list(permissions),
        methods = method_choice(asked_method),
    );
    page(StatusCode::OK, "Log in with BankID (simulator)", &body)
}

/// " (methods: BIS LOA 2)": the methods a user has and the level each
/// reaches for them.
fn user_methods(user: &TestUser) -> String {
    let methods: Vec<String> =
        crate::step_up::methods_of(user).iter().map(|(method, loa)| format!("{method} LOA {loa}")).collect();
    format!(" (methods: {})", methods.join(", "))
}

/// When the request asked for a method (step-up), a choice of method, the
/// asked one checked: BIS yields LOA 3 at most (never more than the user's
/// own level), BID LOA 4; a method the chosen user lacks is refused.
/// Nothing otherwise.
fn method_choice(asked_method: Option<&str>) -> String {
    let Some(asked) = asked_method else { return String::new() };
    let mut html = String::from("<fieldset><legend>Method</legend>\n");
    for (method, label) in [("BIS", "BankID with biometrics — up to LOA 3"), ("BID", "BankID High — LOA 4")] {
        let checked = if method == asked { " checked" } else { "" };
        let _ = writeln!(
            html,
            r#"<label><input type="radio" name="method" value="{method}"{checked}> {}</label>"#,
            escape(label)
        );
    }
    html.push_str("</fieldset>\n");
    html
}

/// "You are asked to approve" and each permission's type and statement;
/// nothing when there are none.
fn permission_list(permissions: &[Permission]) -> String {
    if permissions.is_empty() {
        return String::new();
    }
    let mut html = String::from("<h2>You are asked to approve</h2>\n");
    for permission in permissions {
        let _ = writeln!(
            html,
            r#"<div class="permission"><p>Type: <code>{}</code></p><pre tabindex="0">{}</pre></div>"#,
            escape(&permission.kind),
            escape(&permission.display_statement()),
        );
    }
    html
}

/// One CIBA request as the phone shows it.
pub(crate) struct PhoneRequest<'a> {
    pub(crate) auth_req_id: &'a str,
    pub(crate) binding_message: Option<&'a str>,
    pub(crate) permissions: &'a [Permission],
}

/// The simulated BankID app of `user`: its pending CIBA requests, each with
/// an approve and a deny button.
pub(crate) fn phone(client_id: &str, user: &TestUser, requests: &[PhoneRequest<'_>]) -> Response {
    let mut list = String::new();
    for request in requests {
        let binding = request.binding_message.map_or_else(
            || "<p class=\"note\">No binding message.</p>".to_owned(),
            |message| format!("<p>Code: <strong class=\"binding\">{}</strong></p>", escape(message)),
        );
        let _ = writeln!(
            list,
            r#"<section><p><strong>{client}</strong> asks you to log in.</p>
{binding}
{permissions}<form method="post" action="/phone/decide">
<input type="hidden" name="auth_req_id" value="{id}">
<button type="submit" name="decision" value="approve">Approve</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form></section>"#,
            client = escape(client_id),
            permissions = permission_list(request.permissions),
            id = escape(request.auth_req_id),
        );
    }
    if requests.is_empty() {
        list.push_str("<p>No pending requests.</p>\n");
    }
    let body = format!(
        "<h1>BankID app of {name} (simulator)</h1>\n{list}<p class=\"note\">Test provider with synthetic users. Not BankID.</p>",
        name = escape(&user.name),
    );
    page(StatusCode::OK, "BankID app (simulator)", &body)
}

/// Shown after a decision on the phone.
pub(crate) fn phone_decided(approved: bool) -> Response {
    let (title, text) = if approved {
        ("Approved", "You approved the request. You may return to the service.")
    } else {
        ("Denied", "You denied the request.")
    };
    page(StatusCode::OK, "BankID app (simulator)", &format!("<h1>{title}</h1>\n<p>{text}</p>"))
}

/// A `404` page.
pub(crate) fn not_found(message: &str) -> Response {
    let body = format!("<h1>Not found</h1>\n<p>{}</p>", escape(message));
    page(StatusCode::NOT_FOUND, "Not found (BankID simulator)", &body)
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
    html_escape::encode_quoted_attribute(text).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_are_listed_escaped() {
        use base64::Engine as _;
        let statement = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("<b>pay</b>");
        let permission = Permission::new("payment.v1", &statement).expect("valid");
        let html = permission_list(&[permission]);
        assert!(html.contains("You are asked to approve"));
        assert!(html.contains("<code>payment.v1</code>"));
        assert!(html.contains("&lt;b&gt;pay&lt;/b&gt;"));
        assert_eq!(permission_list(&[]), "");
    }

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(escape(r#"<a href="x">'&'</a>"#), "&lt;a href=&quot;x&quot;&gt;&#x27;&amp;&#x27;&lt;/a&gt;");
    }
}
