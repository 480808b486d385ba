//! A "smart TV" that logs the viewer in with BankID on their phone (CIBA).
//!
//! ```sh
//! cargo run --example ciba      # then open http://127.0.0.1:3000
//! ```
//!
//! The TV page asks for a (test) national identity number, shows the binding
//! message (from the status stream: the start route answers before BankID is
//! asked, so it cannot tell who has BankID with biometrics), and turns into
//! the logged-in view when the user approves on the phone — here the simulator's phone page, linked from the TV page. Every
//! failure shows the backup path: log in with the code flow on the phone.
//!
//! Test numbers: Kari (BankID with biometrics) and Nina (no biometrics, so
//! the pre-check refuses before any push: the page says `ciba_unavailable`)
//! are listed on the page.

mod support;

use axum::Router;
use axum::response::Html;
use axum::routing::get;
use axum_bankid::ciba::{CibaOptions, PublicCibaStart};
use axum_bankid::{AuthenticatedUser, BankIdLayer};
use axum_bankid_simulator::Simulator;
use support::{Locale, escape, fill, page, private_page};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    support::init_tracing();
    let addr = support::listen_addr();
    let base = format!("http://{addr}");
    let (config, simulator) = support::config(&base).await?;
    let phone_url = simulator.as_ref().map(|s| format!("{}/phone", s.issuer()));

    // Memory, or Redis with REDIS_URL so that several instances share logins
    // and pending requests.
    let store = support::session_store().await?;
    // Pending CIBA requests live in the same store as the sessions. The TV
    // belongs to the viewer who approves, so its session is logged in (an
    // explicit opt-in: on a public route, whoever posts a number would
    // otherwise end up logged in as its owner). The crate rate-limits the
    // route per number and per client address.
    let viewers_tv = PublicCibaStart::new().log_in_starting_session();
    let bankid = BankIdLayer::discover(config)
        .await?
        .with_ciba(CibaOptions::new(store.clone()).public_start(viewers_tv))?
        .with_error_handler(support::error_page(APP))
        .with_session_store(store);
    let app = Router::new()
        .route("/", get(move |locale: Locale| tv(phone_url.clone(), locale)))
        .route("/me", get(me))
        .merge(support::assets())
        .layer(axum::middleware::from_fn(support::lang::remember_lang))
        .layer(bankid);

    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!("TV listening on {base}");
    let _simulator = simulator;
    // The public start route rate-limits per client address: the peer of
    // each connection (behind a proxy: PublicCibaStart::client_address).
    axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>()).await?;
    Ok(())
}

/// The app's name in the page header.
const APP: &str = "NordTV";

async fn tv(phone_url: Option<String>, locale: Locale) -> Html<String> {
    let t = &locale.t().tv;
    let test_users: String = Simulator::default_users()
        .iter()
        .map(|u| format!("<li><code>{}</code> — {}</li>", u.nnin(), escape(&u.label())))
        .collect();
    let phone = phone_url
        .map(|url| {
            format!(
                "<p class=\"muted\">{} <a id=\"phone\" href=\"{url}\" target=\"_blank\">{url}</a></p>",
                t.simulator_phone,
                url = escape(&url)
            )
        })
        .unwrap_or_default();
    // The script's texts, in the page's language, for the script to read.
    let script_texts = format!(
        "data-backup=\"{}\" data-could-not-start=\"{}\" data-asking=\"{}\" data-check-binding=\"{}\" \
         data-not-logged-in=\"{}\"",
        escape(t.backup_link),
        escape(t.could_not_start),
        escape(t.asking),
        escape(t.check_binding),
        escape(t.not_logged_in),
    );
    Html(page(
        APP,
        &locale,
        t.title,
        &format!(
            r#"<p class="lead">{lead}</p>
<form id="start"><label for="nnin">{label}</label>
<input id="nnin" name="nnin" inputmode="numeric" maxlength="11" autocomplete="off">
<div class="actions"><button class="bankid">{start}</button></div></form>
<p id="status" class="notice" role="status" {script_texts}></p>
{phone}
<details><summary>{test_users_title}</summary><ul class="users">{test_users}</ul></details>
<script>
const statusLine = document.getElementById('status');
const text = statusLine.dataset;
// A failure always offers the backup path: the code flow on this device.
function showFailure(template, error) {{
  const backup = document.createElement('a');
  backup.href = '/auth/bankid/login?return_to=/me';
  backup.textContent = text.backup;
  statusLine.replaceChildren(template.replace('{{error}}', error) + ' ', backup);
}}
document.getElementById('start').addEventListener('submit', async (event) => {{
  event.preventDefault();
  const nnin = new FormData(event.target).get('nnin');
  const response = await fetch('/auth/bankid/ciba', {{method: 'POST', headers: {{'content-type': 'application/json'}}, body: JSON.stringify({{nnin}})}});
  const body = await response.json();
  if (!response.ok) {{ showFailure(text.couldNotStart, body.error); return; }}
  // The start answers before BankID is asked: the binding message comes
  // with the status, once BankID has made it.
  statusLine.textContent = text.asking;
  // The simulator's phone lists the requests of one user: point the link at this one.
  const phoneLink = document.getElementById('phone');
  if (phoneLink) {{ phoneLink.href = phoneLink.href.split('?')[0] + '?login_hint=' + encodeURIComponent(nnin); }}
  const events = new EventSource('/auth/bankid/ciba/' + body.handle + '/events');
  events.addEventListener('status', (e) => {{
    const s = JSON.parse(e.data);
    if (s.status === 'pending' && s.binding_message && !document.getElementById('binding')) {{
      const binding = document.createElement('span');
      binding.className = 'binding';
      binding.id = 'binding';
      binding.textContent = s.binding_message;
      statusLine.replaceChildren(text.checkBinding + ' ', binding);
    }}
    // The stream only says 'approved'; one normal request logs this TV in.
    if (s.status === 'approved') {{ events.close(); fetch('/auth/bankid/ciba/' + body.handle).then(() => {{ location.href = '/me'; }}); }}
    else if (s.status === 'failed') {{ events.close(); showFailure(text.notLoggedIn, s.error); }}
  }});
}});
</script>"#,
            lead = t.lead,
            label = t.nnin_label,
            start = t.start,
            test_users_title = t.test_users,
        ),
    ))
}

async fn me(user: AuthenticatedUser, headers: axum::http::HeaderMap, locale: Locale) -> axum::response::Response {
    if let Some(json) = support::user_json(&user, &headers) {
        return json;
    }
    let (common, t) = (&locale.t().common, &locale.t().tv);
    let name = user.name.as_deref().unwrap_or(common.unknown_name);
    private_page(
        APP,
        &locale,
        t.welcome,
        &format!(
            "<p class=\"notice ok\">{}</p>\
             <dl class=\"account\" id=\"account\"><dt>{}</dt><dd id=\"name\">{}</dd>\
             <dt>{}</dt><dd><span class=\"loa\" id=\"loa\">{}</span></dd>\
             <dt>acr</dt><dd><code>{}</code></dd></dl>",
            fill(t.logged_in_on_tv, &[("name", name), ("loa", &user.loa.to_string())]),
            common.name,
            escape(name),
            common.level_of_assurance,
            user.loa,
            escape(&user.acr),
        ),
    )
}
