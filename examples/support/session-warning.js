// Warns before an idle logout (WCAG 2.2.1 "Timing Adjustable"): reads the
// layer's session status, shows a notice two minutes before the idle
// deadline with a button that extends it, and says so once it has passed.
// Reading the status does not extend the login; the button (a POST) does.
(() => {
  const STATUS = "/auth/bankid/session";
  const WARN_SECS = 120;
  const box = document.getElementById("session-warning");
  if (!box) return;
  let wasLoggedIn = false;
  let deadline = null;

  function show(html) { box.innerHTML = html; box.hidden = false; }
  function hide() { box.hidden = true; box.textContent = ""; }

  async function read(method) {
    const response = await fetch(STATUS, { method, credentials: "same-origin", headers: { accept: "application/json" } });
    return response.ok ? response.json() : null;
  }

  function render() {
    if (deadline === null) return hide();
    const left = Math.round(deadline - Date.now() / 1000);
    if (left > WARN_SECS) return hide();
    if (left <= 0) return show("<p>You have been logged out because you were inactive. <a href=\"/\">Log in again</a>.</p>");
    const minutes = Math.floor(left / 60), seconds = String(left % 60).padStart(2, "0");
    show(`<p>You will be logged out in ${minutes}:${seconds} because you have been inactive.</p>` +
         "<button type=\"button\" id=\"stay-logged-in\">Stay logged in</button>");
    document.getElementById("stay-logged-in").onclick = () => poll("POST");
  }

  async function poll(method = "GET") {
    const status = await read(method).catch(() => null);
    if (!status) return;
    if (status.logged_in) {
      wasLoggedIn = true;
      deadline = status.idle_expires_at;
    } else if (wasLoggedIn) {
      deadline = 0;
    }
    render();
  }

  poll();
  setInterval(poll, 15000);
  setInterval(render, 1000);
})();
